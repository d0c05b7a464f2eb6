//! `GET/POST /security/report`: the public vulnerability-report form. A
//! filing becomes a third-party report ([`incidents::Channel::ThirdParty`],
//! anonymous: no account files it), which opens an incident in triage like
//! any report; the sender is shown its tracking id (the report's id).
//!
//! There is no session, so the form's CSRF token is signed instead of
//! stored: `{issued}.{nonce}.{mac}`, the MAC an HMAC-SHA256 of
//! `{issued}.{nonce}` under a key the server draws at start, valid for
//! [`TOKEN_TTL`]. Besides the token, the POST must come from this site
//! ([`crate::ui::session::same_origin`]). No cookie is set.
//!
//! Field limits are checked here and shown next to each field, with what
//! was typed kept; the per-IP limit of filings is [`super::REPORTS_PER_HOUR`].

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use hmac::{Hmac, Mac};
use incidents::{Category, Channel, NewReport, Viewer};
use serde::Deserialize;
use sha2::Sha256;

use super::{Shared, message_page, render};
use crate::state::AppState;

/// The largest form body accepted (a larger one is the 413 page).
pub(crate) const BODY_LIMIT: usize = 256 * 1024;
/// How long a form stays valid after it is shown.
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(2 * 3600);

/// Longest name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest email address, in characters.
pub const MAX_EMAIL: usize = 254;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 10_000;

/// What the form sends (and shows again after an error).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReportFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    csrf: String,
}

/// A problem with each field, if any.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors {
    form: Option<String>,
    name: Option<String>,
    email: Option<String>,
    title: Option<String>,
    description: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.form.is_some()
            || self.name.is_some()
            || self.email.is_some()
            || self.title.is_some()
            || self.description.is_some()
    }
}

#[derive(Template)]
#[template(path = "public/report.html")]
struct ReportPage<'a> {
    csrf: String,
    form: &'a ReportFields,
    errors: FieldErrors,
    max_title: usize,
    max_description: usize,
}

#[derive(Template)]
#[template(path = "public/report_filed.html")]
struct FiledPage {
    tracking_id: String,
}

pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(key: &[u8; 32], message: &str) -> String {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    m.update(message.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// A fresh token issued at `issued` (unix seconds).
pub(super) fn token(key: &[u8; 32], issued: u64) -> String {
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let message = format!("{issued}.{}", hex::encode(nonce));
    let mac = mac(key, &message);
    format!("{message}.{mac}")
}

/// Whether `token` was issued by this server within [`TOKEN_TTL`] of `now`.
pub(super) fn token_ok(key: &[u8; 32], token: &str, now: u64) -> bool {
    let Some((message, given)) = token.rsplit_once('.') else {
        return false;
    };
    let Some((issued, _nonce)) = message.split_once('.') else {
        return false;
    };
    let Ok(issued) = issued.parse::<u64>() else {
        return false;
    };
    let fresh = issued <= now + 60 && now.saturating_sub(issued) <= TOKEN_TTL.as_secs();
    fresh && crate::ui::same_secret(&mac(key, message), given)
}

fn page(shared: &Shared, status: StatusCode, form: &ReportFields, errors: FieldErrors) -> Response {
    render(
        status,
        &ReportPage {
            csrf: token(&shared.form_key, now_secs()),
            form,
            errors,
            max_title: MAX_TITLE,
            max_description: MAX_DESCRIPTION,
        },
    )
}

/// `GET /security/report`.
pub(crate) async fn report_form(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
) -> Response {
    if state.disclosure.is_none() {
        return super::not_found();
    }
    page(
        &shared,
        StatusCode::OK,
        &ReportFields::default(),
        FieldErrors::default(),
    )
}

fn too_long(what: &str, max: usize, got: usize) -> String {
    format!("{what} must be at most {max} characters (it has {got}).")
}

/// The problems of the fields, each in words for the sender.
fn check(f: &ReportFields) -> FieldErrors {
    let mut e = FieldErrors::default();
    let count = |s: &str| s.chars().count();
    if count(&f.name) > MAX_NAME {
        e.name = Some(too_long("Your name", MAX_NAME, count(&f.name)));
    } else if f.name.chars().any(char::is_control) {
        e.name = Some("Your name must be one line.".into());
    }
    let email = f.email.trim();
    if count(email) > MAX_EMAIL {
        e.email = Some(too_long("The email address", MAX_EMAIL, count(email)));
    } else if !email.is_empty()
        && (!email.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        e.email = Some("Enter an email address like name@example.com, or leave it empty.".into());
    }
    if f.title.trim().is_empty() {
        e.title = Some("Enter a title: what is vulnerable, in a few words.".into());
    } else if count(&f.title) > MAX_TITLE {
        e.title = Some(too_long("The title", MAX_TITLE, count(&f.title)));
    } else if f.title.chars().any(char::is_control) {
        e.title = Some("The title must be one line.".into());
    }
    if f.description.trim().is_empty() {
        e.description =
            Some("Describe the vulnerability: where it is and how to reproduce it.".into());
    } else if count(&f.description) > MAX_DESCRIPTION {
        e.description = Some(too_long(
            "The description",
            MAX_DESCRIPTION,
            count(&f.description),
        ));
    }
    e
}

/// The report's text: the title on the first line (the incident's title
/// quotes it), the description, and who sent it when they said.
fn report_text(f: &ReportFields) -> String {
    let mut text = format!("{}\n\n{}", f.title.trim(), f.description.trim());
    let name = f.name.trim();
    let email = f.email.trim();
    if !name.is_empty() || !email.is_empty() {
        text.push_str("\n\nSent through the public report form by: ");
        match (name.is_empty(), email.is_empty()) {
            (false, false) => text.push_str(&format!("{name} <{email}>")),
            (false, true) => text.push_str(name),
            _ => text.push_str(email),
        }
    } else {
        text.push_str("\n\nSent anonymously through the public report form.");
    }
    text
}

/// `POST /security/report`.
pub(crate) async fn file_report(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<ReportFields>, FormRejection>,
) -> Response {
    if state.disclosure.is_none() {
        return super::not_found();
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return message_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large to send",
                &format!(
                    "Your report was not sent: it was larger than {} KiB. The description may be at most {MAX_DESCRIPTION} characters: go back, shorten it and send it again.",
                    BODY_LIMIT / 1024
                ),
            );
        }
        Err(_) => {
            return message_page(
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "Your report was not sent: the form could not be read. Go back and send it again.",
            );
        }
    };
    if !crate::ui::session::same_origin(&headers) {
        return message_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was sent from another site, and was refused. Nothing was filed.",
        );
    }
    if !token_ok(&shared.form_key, &form.csrf, now_secs()) {
        let errors = FieldErrors {
            form: Some("The form had expired. Check what you typed and send it again.".into()),
            ..FieldErrors::default()
        };
        return page(&shared, StatusCode::FORBIDDEN, &form, errors);
    }
    let errors = check(&form);
    if errors.any() {
        return page(&shared, StatusCode::UNPROCESSABLE_ENTITY, &form, errors);
    }
    let new = NewReport {
        channel: Channel::ThirdParty,
        category: Category::SecurityIncident,
        description: report_text(&form),
        occurred_at: None,
        location: None,
        sensitive: false,
        anonymous: true,
        attachments: vec![],
    };
    match state.store.file_report(&Viewer::system(), new).await {
        Ok(report) => render(
            StatusCode::OK,
            &FiledPage {
                tracking_id: report.id.to_string(),
            },
        ),
        Err(error) => {
            tracing::error!(%error, "cannot file a public vulnerability report");
            super::unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_are_bound_to_the_key() {
        let key = [7u8; 32];
        let t = token(&key, 1_000_000);
        assert!(token_ok(&key, &t, 1_000_000));
        assert!(token_ok(&key, &t, 1_000_000 + 7200));
        assert!(!token_ok(&key, &t, 1_000_000 + 7201), "expired");
        assert!(!token_ok(&[8u8; 32], &t, 1_000_000), "another key");
        let forged = t.replacen("1000000", "1000001", 1);
        assert!(!token_ok(&key, &forged, 1_000_001));
        assert!(!token_ok(&key, "", 1_000_000));
        assert!(!token_ok(&key, "x.y.z", 1_000_000));
    }

    #[test]
    fn the_report_text_names_the_sender_only_when_given() {
        let f = ReportFields {
            name: "Ada".into(),
            email: "ada@example.org".into(),
            title: " SQL injection in /search ".into(),
            description: "Send ' OR 1=1".into(),
            csrf: String::new(),
        };
        assert_eq!(
            report_text(&f),
            "SQL injection in /search\n\nSend ' OR 1=1\n\nSent through the public report form by: Ada <ada@example.org>"
        );
        let anon = ReportFields {
            name: String::new(),
            email: String::new(),
            ..f
        };
        assert_eq!(
            report_text(&anon),
            "SQL injection in /search\n\nSend ' OR 1=1\n\nSent anonymously through the public report form."
        );
    }
}
