//! Web: the HTTP JSON API and pages. The only crate that knows status codes.
