//! Slack: the `/incident` slash command (`POST /slack/commands`) and its
//! category buttons (`POST /slack/interactions`). Posting about incidents
//! to a channel is the notify crate's Slack channel, not this module.
//!
//! These two routes sit outside the API route table: Slack's request
//! signature ([`verify`]) is their access check. A request without a valid
//! signature, with a timestamp more than five minutes from now, or seen
//! before is answered 401 and logged (without the body); every answer is
//! counted with the other requests ([`crate::stats`]). Without a [`Slack`]
//! in the router's extensions (the server's `[slack]` table) both routes
//! answer the same 404 as an unknown path.
//!
//! A report is filed by the Slack user's own watchpost user
//! (`slack-<team>-<user>`, a reporter created at their first report; see
//! [`report`]) and acknowledged privately (an ephemeral message): a
//! sensitive one is never posted anywhere.

mod report;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use incidents::Category;
use serde::Deserialize;
use serde_json::Value;
use tower_http::limit::RequestBodyLimitLayer;

use crate::{ApiError, AppState};
use report::{Command, Drafts, NotFiled};
use verify::ReplayGuard;

/// The largest body Slack's requests are read up to (they are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long posting an answer to a `response_url` may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Slack intake: the signing secret, the replay guard, the drafts waiting
/// for a category button, and the HTTP client that answers interactions.
/// Put it in the router's extensions (`router.layer(Extension(Arc<Slack>))`)
/// to turn the routes on.
pub struct Slack {
    signing_secret: Vec<u8>,
    replays: ReplayGuard,
    drafts: Drafts,
    http: reqwest::Client,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the signing secret.
        f.debug_struct("Slack").finish_non_exhaustive()
    }
}

impl Slack {
    /// Slack intake verifying requests with the app's `signing_secret`.
    pub fn new(signing_secret: &str) -> Result<Self, String> {
        if signing_secret.is_empty() {
            return Err("the slack signing secret is empty".into());
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(RESPONSE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(Self {
            signing_secret: signing_secret.as_bytes().to_vec(),
            replays: ReplayGuard::default(),
            drafts: Drafts::default(),
            http,
        })
    }

    /// Verifies a request; a refusal is logged and answered 401.
    fn check(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        verify::verify(&self.signing_secret, headers, body, now)
            .and_then(|signed| self.replays.first_time(&signed, now))
            .map_err(|refusal| {
                tracing::warn!(path, reason = refusal.as_str(), "slack request refused");
                ApiError::Unauthorized
            })
    }
}

/// The two Slack routes, with their small body limit.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/slack/commands",
            post(slack_command).fallback(other_method),
        )
        .route(
            "/slack/interactions",
            post(slack_interaction).fallback(other_method),
        )
        .route_layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
}

/// Another method than POST: 405, or 404 like every Slack path when Slack
/// is not configured.
async fn other_method(slack: Option<Extension<Arc<Slack>>>) -> Response {
    match slack {
        Some(_) => ApiError::MethodNotAllowed.into_response(),
        None => ApiError::NotFound.into_response(),
    }
}

/// The fields of a slash command that are used.
#[derive(Debug, Default)]
struct CommandForm {
    team_id: String,
    user_id: String,
    text: String,
}

fn command_form(body: &[u8]) -> CommandForm {
    let mut form = CommandForm::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "team_id" => form.team_id = value.into_owned(),
            "user_id" => form.user_id = value.into_owned(),
            "text" => form.text = value.into_owned(),
            _ => {}
        }
    }
    form
}

/// `POST /slack/commands`: `/incident [sensitive] [category] text`.
async fn slack_command(
    slack: Option<Extension<Arc<Slack>>>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(Extension(slack)) = slack else {
        return ApiError::NotFound.into_response();
    };
    if let Err(refused) = slack.check("/slack/commands", &headers, &body) {
        return refused.into_response();
    }
    let form = command_form(&body);
    let answer = match report::parse(&form.text) {
        Command::Help => report::help(),
        Command::Choose { .. } if !report::valid_identity(&form.team_id, &form.user_id) => {
            refused(&NotFiled::BadIdentity)
        }
        Command::Choose { sensitive, text } => {
            let id = slack
                .drafts
                .keep(&form.team_id, &form.user_id, sensitive, text);
            report::buttons(&id)
        }
        Command::File(draft) => {
            match report::file(&state, &form.team_id, &form.user_id, &draft).await {
                Ok(id) => report::ephemeral(&report::filed_text(id, &draft)),
                Err(not_filed) => refused(&not_filed),
            }
        }
    };
    Json(answer).into_response()
}

fn refused(not_filed: &NotFiled) -> Value {
    if let NotFiled::Store(error) = not_filed {
        tracing::warn!(%error, "report from slack not filed");
    }
    report::ephemeral(&not_filed.text())
}

/// An interaction payload (only what is used).
#[derive(Debug, Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user: Option<SlackUser>,
    #[serde(default)]
    team: Option<SlackTeam>,
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    response_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SlackUser {
    id: String,
    #[serde(default)]
    team_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SlackTeam {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Action {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// `POST /slack/interactions`: a category button was pressed. The report
/// is filed and the buttons are replaced (a POST to the interaction's
/// `response_url`, as Slack requires for `block_actions`).
async fn slack_interaction(
    slack: Option<Extension<Arc<Slack>>>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(Extension(slack)) = slack else {
        return ApiError::NotFound.into_response();
    };
    if let Err(refused) = slack.check("/slack/interactions", &headers, &body) {
        return refused.into_response();
    }
    let payload = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "payload")
        .map(|(_, value)| value.into_owned());
    let Some(interaction) = payload.and_then(|p| serde_json::from_str::<Interaction>(&p).ok())
    else {
        return ApiError::BadRequest("expected a form field `payload` holding JSON".into())
            .into_response();
    };
    if interaction.kind != "block_actions" {
        // Nothing else is asked of this app; Slack only needs a 200.
        return axum::http::StatusCode::OK.into_response();
    }
    let (Some(user), Some(response_url)) = (interaction.user, interaction.response_url) else {
        return ApiError::BadRequest("the interaction has no user or response_url".into())
            .into_response();
    };
    let team = interaction
        .team
        .map(|t| t.id)
        .or(user.team_id)
        .unwrap_or_default();
    let chosen = interaction.actions.iter().find_map(|a| {
        let name = a.action_id.strip_prefix(report::ACTION_PREFIX)?;
        Some((name.parse::<Category>().ok()?, a.value.clone()?))
    });
    let Some((category, draft_id)) = chosen else {
        return axum::http::StatusCode::OK.into_response();
    };
    let text = match slack.drafts.take(&draft_id, &team, &user.id, category) {
        None => "This report form has expired or was already used. Run /incident again.".into(),
        Some(draft) => match report::file(&state, &team, &user.id, &draft).await {
            Ok(id) => report::filed_text(id, &draft),
            Err(not_filed) => {
                if let NotFiled::Store(error) = &not_filed {
                    tracing::warn!(%error, "report from slack not filed");
                }
                not_filed.text()
            }
        },
    };
    // Answer Slack at once; the message is replaced right after.
    let http = slack.http.clone();
    tokio::spawn(async move {
        let answer = serde_json::json!({
            "response_type": "ephemeral",
            "replace_original": true,
            "text": text,
        });
        let sent = http
            .post(&response_url)
            .header("content-type", "application/json; charset=utf-8")
            .body(answer.to_string())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                tracing::warn!(
                    status = response.status().as_u16(),
                    "slack refused the interaction answer"
                );
            }
            Err(error) => {
                tracing::warn!(error = %error.without_url(), "cannot answer the slack interaction");
            }
        }
    });
    axum::http::StatusCode::OK.into_response()
}
