//! Active monitors for two items of the incident response policy's watch
//! list that no log carries on its own:
//!
//! - **New open network ports** ([`ports`]): snapshots of listening ports
//!   from nmap XML (`-oX`), `ss -ltnp`/`-lunp`, `netstat -ltn`/`-lun` and
//!   osquery `listening_ports` results are compared with an approved
//!   baseline. A first-seen `(host, protocol, port)`, or a changed service,
//!   product or version on a known port, becomes a [`detect::Detection`]
//!   with policy `new_port`.
//! - **Website modification or defacement** ([`web`]): configured URLs are
//!   fetched (same-site redirects only, capped in size and time) and
//!   compared with an approved baseline: normalised content hash,
//!   similarity, title, script sources, redirect chain, HTTP status and TLS
//!   certificate. A change becomes a detection with policy `web_change` and
//!   a readable summary; a URL that cannot be fetched is "unreachable",
//!   which is not a change.
//!
//! Decision logic is pure and takes `now` as an argument
//! ([`ports::baseline`], [`web::compare`]); file and network IO live in
//! their own modules ([`state`], [`ports::read`], [`web::fetch`]), so the
//! live server can schedule the same checks that the CLI runs once
//! ([`ports::check`], [`ports::folder`], [`web::fetch_url`] and
//! [`web::judge`]).
//!
//! This crate depends on `events` and `detect` (for the shared
//! [`detect::Detection`] shape) and on nothing above them.

pub mod duration;
pub mod ports;
pub mod state;
pub mod web;

/// An error and its sources, `: `-separated (a source whose text the
/// previous message already holds is left out): the one-line reason shown
/// for an unreachable URL or a skipped snapshot file.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The `file` of a detection that is about a monitored URL, not a log.
pub(crate) fn source_id(s: &str) -> events::SourceId {
    std::sync::Arc::from(s)
}
