//! Rules: loads Sigma detection, correlation and filter rules, and the
//! bundled policy rule pack, into a catalogue with per-file load errors.
//!
//! Must not depend on IO-free matching code in `detect`; it only parses.
