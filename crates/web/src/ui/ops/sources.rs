//! `GET /sources`: every log source live detection has heard from since
//! start, and every stream (source, host, log type) with its gaps; silent
//! ones say so in words. Mirrors `GET /api/v1/sources`.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::{duration_text, logsource_text, rate};
use crate::state::AppState;
use crate::ui::Nav;
use crate::ui::pages::{self, render};
use crate::ui::responder::Stamp;
use crate::ui::session::Session;

/// How many of a stream's most recent gaps are listed.
const GAPS_SHOWN: usize = 3;

/// One source.
struct SourceRow {
    name: String,
    accepted: u64,
    rejected: u64,
    first_seen: Option<Stamp>,
    last_seen: Option<Stamp>,
    rate: String,
    /// Some stream of this source is silent now.
    silent: bool,
}

/// One gap of a stream.
struct GapRow {
    from: Stamp,
    to: Option<Stamp>,
    length: String,
}

/// One stream.
struct StreamRow {
    name: String,
    host: Option<String>,
    logsource: String,
    events: u64,
    last_received: Stamp,
    rate: String,
    silent: bool,
    silent_since: Option<Stamp>,
    gaps: usize,
    recent_gaps: Vec<GapRow>,
    rules: u64,
}

#[derive(Template)]
#[template(path = "ops_sources.html")]
struct SourcesPage {
    nav: Nav,
    /// False when the server runs no live detection.
    live: bool,
    sources: Vec<SourceRow>,
    streams: Vec<StreamRow>,
    silent: usize,
    untracked_events: u64,
}

/// `GET /sources`.
pub(crate) async fn show_sources(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
) -> Response {
    let Some(Extension(s)) = session else {
        return pages::to_login();
    };
    if !crate::ui::api_allows(s.caller.user.role, Method::GET, "/api/v1/sources") {
        return pages::not_found_page();
    }
    let nav = Nav::new(&s, "/sources");
    let Some(sink) = state.events.as_ref() else {
        return render(
            StatusCode::OK,
            &SourcesPage {
                nav,
                live: false,
                sources: Vec::new(),
                streams: Vec::new(),
                silent: 0,
                untracked_events: 0,
            },
        );
    };
    let listed = sink.streams();
    let streams: Vec<StreamRow> = listed
        .streams
        .into_iter()
        .map(|st| {
            let gaps = st.gaps.len();
            let recent_gaps = st
                .gaps
                .iter()
                .rev()
                .take(GAPS_SHOWN)
                .map(|g| GapRow {
                    from: Stamp::of(g.from),
                    to: g.to.map(Stamp::of),
                    length: duration_text(g.seconds),
                })
                .collect();
            StreamRow {
                name: st.name,
                host: st.host,
                logsource: logsource_text(&st.logsource),
                events: st.events,
                last_received: Stamp::of(st.last_received),
                rate: rate(st.events_per_minute),
                silent: st.silent,
                silent_since: st.silent_since.map(Stamp::of),
                gaps,
                recent_gaps,
                rules: st.rules,
            }
        })
        .collect();
    let sources: Vec<SourceRow> = sink
        .sources()
        .into_iter()
        .map(|h| SourceRow {
            silent: streams.iter().any(|st| st.silent && st.name == h.name),
            name: h.name,
            accepted: h.accepted,
            rejected: h.rejected,
            first_seen: h.first_seen.map(Stamp::of),
            last_seen: h.last_seen.map(Stamp::of),
            rate: rate(h.lines_per_minute),
        })
        .collect();
    let silent = streams.iter().filter(|st| st.silent).count();
    render(
        StatusCode::OK,
        &SourcesPage {
            nav,
            live: true,
            sources,
            streams,
            silent,
            untracked_events: listed.untracked_events,
        },
    )
}
