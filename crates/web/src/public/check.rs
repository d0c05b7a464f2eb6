//! `GET/POST /check/{token}`: the "I didn't do this" page. A user mailed
//! about a password or MFA change (a `password_reset` alert, see the
//! server's `user_check`) follows the link and answers: "Yes, it was me"
//! ends the check; "No, I didn't do this" files an anonymous account-abuse
//! report ([`Channel::ThirdParty`]: no account files it) prefilled with the
//! event, links the alert to the report's incident and shows the tracking
//! id. Each link is answered once.
//!
//! Served only when the server puts a [`UserCheckPages`] in the router's
//! extensions (`[user_check]` configured); else 404. Like the other public
//! routes: no session, no cookie, the pages' CSP, the per-IP limits (a
//! POST counts as a report), a signed CSRF token and the same-origin
//! check. An unknown, expired or answered link gets the same 404 page.
//! The store is read and written as the system viewer, only through the
//! check found by the link's token.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use incidents::user_check::{not_mine_text, one_line, utc_text};
use incidents::{
    Alert, Category, Channel, CheckAnswer, NewReport, StoreError, TokenHash, UserCheck, Viewer,
};
use serde::Deserialize;
use time::OffsetDateTime;

use super::report::{now_secs, token, token_ok};
use super::{Shared, message_page, not_found, render, unavailable};
use crate::state::AppState;

/// Longest "anything else?" text, in characters.
pub const MAX_NOTE: usize = 2_000;
/// The largest form body accepted.
pub(crate) const BODY_LIMIT: usize = 32 * 1024;
/// Longest link token accepted (a longer one is not looked up).
const MAX_TOKEN: usize = 128;

/// Turns on `/check/{token}` when put in the router's extensions.
#[derive(Debug, Clone, Default)]
pub struct UserCheckPages;

/// What the form sends.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AnswerFields {
    #[serde(default)]
    answer: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    csrf: String,
}

/// The event as the page shows it.
struct EventView {
    rule_title: String,
    user: String,
    at: String,
    source_ip: Option<String>,
}

impl EventView {
    fn of(alert: &Alert) -> Self {
        EventView {
            rule_title: one_line(&alert.rule_title),
            user: alert
                .entities
                .get("user")
                .map(|u| one_line(u))
                .unwrap_or_default(),
            at: utc_text(alert.detected_at),
            source_ip: source_ip(alert).map(one_line),
        }
    }
}

/// The source address entity of an alert, if any.
pub(crate) fn source_ip(alert: &Alert) -> Option<&str> {
    ["src_ip", "source_ip", "ip"]
        .iter()
        .find_map(|k| alert.entities.get(*k))
        .map(String::as_str)
}

#[derive(Template)]
#[template(path = "public/check.html")]
struct CheckPage<'a> {
    token: &'a str,
    csrf: String,
    event: EventView,
    expires: String,
    max_note: usize,
    error: Option<String>,
    note: &'a str,
}

#[derive(Template)]
#[template(path = "public/check_filed.html")]
struct FiledPage {
    tracking_id: String,
}

/// The unanswered, unexpired check of `token` with its alert; else the 404
/// (or 503) answer.
async fn lookup(state: &AppState, token: &str) -> Result<(UserCheck, Alert), Box<Response>> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(Box::new(not_found()));
    }
    let system = Viewer::system();
    let found = state
        .store
        .find_user_check(&system, TokenHash::of(token), OffsetDateTime::now_utc())
        .await;
    let check = match found {
        Ok(Some(check)) => check,
        Ok(None) => return Err(Box::new(not_found())),
        Err(error) => {
            tracing::error!(%error, "cannot read a user check");
            return Err(Box::new(unavailable()));
        }
    };
    match state.store.get_alert(&system, check.alert).await {
        Ok(alert) => Ok((check, alert)),
        Err(StoreError::NotFound(_)) => Err(Box::new(not_found())),
        Err(error) => {
            tracing::error!(%error, "cannot read the alert of a user check");
            Err(Box::new(unavailable()))
        }
    }
}

fn page(
    shared: &Shared,
    status: StatusCode,
    token_text: &str,
    check: &UserCheck,
    alert: &Alert,
    note: &str,
    error: Option<String>,
) -> Response {
    render(
        status,
        &CheckPage {
            token: token_text,
            csrf: token(&shared.form_key, now_secs()),
            event: EventView::of(alert),
            expires: utc_text(check.expires_at),
            max_note: MAX_NOTE,
            error,
            note,
        },
    )
}

/// `GET /check/{token}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    pages: Option<Extension<UserCheckPages>>,
    Path(link): Path<String>,
) -> Response {
    if pages.is_none() {
        return not_found();
    }
    match lookup(&state, &link).await {
        Ok((check, alert)) => page(&shared, StatusCode::OK, &link, &check, &alert, "", None),
        Err(r) => *r,
    }
}

/// `POST /check/{token}`.
pub(crate) async fn answer(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    pages: Option<Extension<UserCheckPages>>,
    Path(link): Path<String>,
    headers: HeaderMap,
    form: Result<Form<AnswerFields>, FormRejection>,
) -> Response {
    if pages.is_none() {
        return not_found();
    }
    if !crate::ui::session::same_origin(&headers) {
        return message_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was sent from another site, and was refused. Nothing was recorded.",
        );
    }
    let Ok(Form(form)) = form else {
        return message_page(
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Your answer was not recorded: the form could not be read. Go back and send it again.",
        );
    };
    let (check, alert) = match lookup(&state, &link).await {
        Ok(found) => found,
        Err(r) => return *r,
    };
    if !token_ok(&shared.form_key, &form.csrf, now_secs()) {
        return page(
            &shared,
            StatusCode::FORBIDDEN,
            &link,
            &check,
            &alert,
            &form.note,
            Some("The form had expired. Choose your answer again.".into()),
        );
    }
    let Ok(answer) = form.answer.parse::<CheckAnswer>() else {
        return page(
            &shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            &link,
            &check,
            &alert,
            &form.note,
            Some("Choose \"Yes, it was me\" or \"No, I didn't do this\".".into()),
        );
    };
    let note_chars = form.note.chars().count();
    if note_chars > MAX_NOTE {
        return page(
            &shared,
            StatusCode::UNPROCESSABLE_ENTITY,
            &link,
            &check,
            &alert,
            &form.note,
            Some(format!(
                "What you added must be at most {MAX_NOTE} characters (it has {note_chars})."
            )),
        );
    }
    let system = Viewer::system();
    // The answer is recorded first, so a link files at most one report.
    match state
        .store
        .answer_user_check(
            &system,
            TokenHash::of(&link),
            answer,
            OffsetDateTime::now_utc(),
        )
        .await
    {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => return not_found(),
        Err(error) => {
            tracing::error!(%error, "cannot record a user check's answer");
            return unavailable();
        }
    }
    if answer == CheckAnswer::Mine {
        return message_page(
            StatusCode::OK,
            "Thank you",
            "Thank you for confirming it was you. There is nothing else to do.",
        );
    }
    let user = alert.entities.get("user").map_or("", String::as_str);
    let mut description = not_mine_text(&alert.rule_title, user, alert.detected_at, alert.id);
    let note = form.note.trim();
    if !note.is_empty() {
        description.push_str("\n\n");
        description.push_str(note);
    }
    let new = NewReport {
        channel: Channel::ThirdParty,
        category: Category::AccountAbuse,
        description,
        occurred_at: Some(alert.detected_at),
        location: None,
        sensitive: false,
        anonymous: true,
        attachments: vec![],
    };
    let report = match state.store.file_report(&system, new).await {
        Ok(report) => report,
        Err(error) => {
            tracing::error!(%error, alert = %alert.id, "a user answered \"not mine\" but the report could not be filed");
            return unavailable();
        }
    };
    if let Err(error) = state
        .store
        .link_alert(&system, report.incident_id, alert.id)
        .await
    {
        tracing::error!(%error, alert = %alert.id, report = %report.id, "cannot link the alert to the \"not mine\" report's incident");
    }
    render(
        StatusCode::OK,
        &FiledPage {
            tracking_id: report.id.to_string(),
        },
    )
}
