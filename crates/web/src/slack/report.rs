//! What `/incident` means and what it answers: the command's words
//! (`[sensitive] [category] text`), the short-lived drafts behind the
//! category buttons, the reporter's watchpost user, filing the report, and
//! the ephemeral messages sent back. Text from input that goes back to
//! Slack is escaped as Slack documents (`&`, `<`, `>`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use incidents::{
    Category, Channel, NewReport, NewUser, ReportId, Role, StoreError, UserId, Viewer,
};
use rand::RngCore;
use serde_json::{Value, json};

use crate::AppState;

/// How long a draft waits for its category button.
const DRAFT_TTL: Duration = Duration::from_secs(15 * 60);
/// The most drafts kept at once (the oldest goes first).
const MAX_DRAFTS: usize = 1000;
/// The prefix of a category button's `action_id`.
pub(crate) const ACTION_PREFIX: &str = "watchpost_category:";

/// What the command's text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// No text: answer how to use the command.
    Help,
    /// File a report now.
    File(Draft),
    /// Ask for the category with buttons, then file.
    Choose {
        /// Whether `sensitive` was given.
        sensitive: bool,
        /// What happened.
        text: String,
    },
}

/// A report waiting to be filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft {
    pub(crate) category: Category,
    pub(crate) sensitive: bool,
    pub(crate) text: String,
}

/// A category name as typed: `theft`, `denial_of_service` or
/// `denial-of-service`, in any case.
pub(crate) fn category(word: &str) -> Option<Category> {
    word.to_ascii_lowercase().replace('-', "_").parse().ok()
}

/// Reads `/incident [sensitive] [category] text`. A first word that is not
/// a category is part of the text.
pub(crate) fn parse(text: &str) -> Command {
    let mut rest = text.trim();
    let mut sensitive = false;
    let (first, after) = split_word(rest);
    if first.eq_ignore_ascii_case("sensitive") {
        sensitive = true;
        rest = after;
    }
    let (word, after) = split_word(rest);
    let chosen = category(word);
    if chosen.is_some() {
        rest = after;
    }
    if rest.is_empty() {
        return Command::Help;
    }
    let text = rest.to_owned();
    match chosen {
        Some(category) => Command::File(Draft {
            category,
            sensitive,
            text,
        }),
        None => Command::Choose { sensitive, text },
    }
}

/// The first word of `text` and the trimmed rest.
fn split_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    }
}

/// `text` with Slack's control characters escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The usage help.
pub(crate) fn help() -> Value {
    ephemeral(
        "Usage: `/incident [sensitive] [category] what happened`\n\
         For example `/incident theft my laptop is gone from desk 4`. Without a category you \
         choose one from buttons. Add `sensitive` first to have it handled on a need-to-know \
         basis: it is never posted to a channel.\n\
         Categories: security_incident, physical_injury, theft, property_damage, \
         denial_of_service, threats, harassment, account_abuse, forgery, misrepresentation, other.",
    )
}

/// An ephemeral answer (seen by the caller alone).
pub(crate) fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": text})
}

/// The buttons, one per category, each carrying the draft's id.
pub(crate) fn buttons(draft_id: &str) -> Value {
    let elements: Vec<Value> = Category::ALL
        .iter()
        .map(|c| {
            json!({
                "type": "button",
                "action_id": format!("{ACTION_PREFIX}{}", c.as_str()),
                "text": {"type": "plain_text", "text": label(*c)},
                "value": draft_id,
            })
        })
        .collect();
    let question = "What kind of event is this? Your report is filed when you choose.";
    json!({
        "response_type": "ephemeral",
        "text": question,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": question}},
            {"type": "actions", "block_id": "watchpost_category", "elements": elements},
        ],
    })
}

/// A category's button text.
fn label(c: Category) -> &'static str {
    match c {
        Category::SecurityIncident => "Security incident",
        Category::PhysicalInjury => "Physical injury",
        Category::Theft => "Theft",
        Category::PropertyDamage => "Property damage",
        Category::DenialOfService => "Service down or slow",
        Category::Threats => "Threats",
        Category::Harassment => "Harassment",
        Category::AccountAbuse => "Account misuse",
        Category::Forgery => "Forgery",
        Category::Misrepresentation => "Misrepresentation",
        Category::Other => "Something else",
    }
}

/// The answer to a filed report: its tracking number (the report's id, as
/// the web confirmation shows it).
pub(crate) fn filed_text(id: ReportId, draft: &Draft) -> String {
    let mut text = format!(
        "Thank you. Your {} report was filed. Its tracking number is {id}.",
        draft.category.as_str()
    );
    if draft.sensitive || draft.category.always_sensitive() {
        text.push_str(
            " It is handled as sensitive: only the people who need to know see it, and it is \
             not posted to any channel.",
        );
    }
    text
}

/// Drafts waiting for their category button, by random id, each for the
/// Slack user who typed it.
#[derive(Debug, Default)]
pub(crate) struct Drafts {
    waiting: Mutex<HashMap<String, Waiting>>,
}

#[derive(Debug)]
struct Waiting {
    team: String,
    user: String,
    sensitive: bool,
    text: String,
    since: Instant,
}

impl Drafts {
    /// Keeps the text until a button is pressed; answers the draft's id.
    pub(crate) fn keep(&self, team: &str, user: &str, sensitive: bool, text: String) -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.retain(|_, d| d.since.elapsed() < DRAFT_TTL);
        if waiting.len() >= MAX_DRAFTS
            && let Some(oldest) = waiting
                .iter()
                .min_by_key(|(_, d)| d.since)
                .map(|(k, _)| k.clone())
        {
            waiting.remove(&oldest);
        }
        waiting.insert(
            id.clone(),
            Waiting {
                team: team.to_owned(),
                user: user.to_owned(),
                sensitive,
                text,
                since: Instant::now(),
            },
        );
        id
    }

    /// Takes the draft `id` for `category`, when it is unexpired and was
    /// typed by the same Slack user; it can be taken once.
    pub(crate) fn take(
        &self,
        id: &str,
        team: &str,
        user: &str,
        category: Category,
    ) -> Option<Draft> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let found = waiting.get(id)?;
        if found.team != team || found.user != user {
            return None;
        }
        let found = waiting.remove(id)?;
        (found.since.elapsed() < DRAFT_TTL).then_some(Draft {
            category,
            sensitive: found.sensitive,
            text: found.text,
        })
    }
}

/// Why a report from Slack was not filed; each is told to the caller.
#[derive(Debug)]
pub(crate) enum NotFiled {
    /// The Slack ids cannot make a user name.
    BadIdentity,
    /// The user is disabled.
    Disabled,
    /// The store refused or failed.
    Store(StoreError),
}

impl NotFiled {
    /// The ephemeral text for the caller.
    pub(crate) fn text(&self) -> String {
        match self {
            NotFiled::BadIdentity => "Your Slack account could not be identified, so nothing was filed.".into(),
            NotFiled::Disabled => "Your watchpost account is disabled, so nothing was filed. Ask the Security Team if you need it.".into(),
            NotFiled::Store(StoreError::RateLimited { .. }) => "You have filed many reports in the last hour, so this one was not filed. Please try again later.".into(),
            NotFiled::Store(StoreError::Invalid(why)) => format!("The report was not filed: {}.", escape(why)),
            NotFiled::Store(_) => "Something went wrong on our side and the report was not filed. Please try again.".into(),
        }
    }
}

/// Whether a Slack team and user id can name a watchpost user.
pub(crate) fn valid_identity(team: &str, user: &str) -> bool {
    valid_id(team) && valid_id(user)
}

/// A Slack id (team or user): letters and digits.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 24 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The watchpost user of Slack user `user` in workspace `team`:
/// `slack-<team>-<user>`, created as a reporter at their first report (the
/// system acts, as for single sign-on: Slack vouches for the person). A
/// role given to that user later is kept; a disabled user is refused.
async fn reporter(state: &AppState, team: &str, user: &str) -> Result<(UserId, Role), NotFiled> {
    if !valid_identity(team, user) {
        return Err(NotFiled::BadIdentity);
    }
    let name = format!("slack-{team}-{user}");
    let system = Viewer::system();
    match state.store.get_user_by_name(&system, &name).await {
        Ok(found) if found.disabled => Err(NotFiled::Disabled),
        Ok(found) => Ok((found.id, found.role)),
        Err(StoreError::NotFound(_)) => {
            let created = state
                .store
                .create_user(
                    &system,
                    NewUser {
                        name: name.clone(),
                        role: Role::Reporter,
                    },
                )
                .await
                .map_err(NotFiled::Store)?;
            tracing::info!(user = %name, "slack reporter created");
            Ok((created.id, created.role))
        }
        Err(error) => Err(NotFiled::Store(error)),
    }
}

/// Files `draft` as Slack user `user` of workspace `team`.
pub(crate) async fn file(
    state: &AppState,
    team: &str,
    user: &str,
    draft: &Draft,
) -> Result<ReportId, NotFiled> {
    let (id, role) = reporter(state, team, user).await?;
    let viewer = Viewer::new(id, role);
    let report = state
        .store
        .file_report(
            &viewer,
            NewReport {
                channel: Channel::Slack,
                category: draft.category,
                description: draft.text.clone(),
                occurred_at: None,
                location: None,
                sensitive: draft.sensitive,
                anonymous: false,
                attachments: Vec::new(),
            },
        )
        .await
        .map_err(NotFiled::Store)?;
    tracing::info!(report = %report.id, category = draft.category.as_str(), "report filed from slack");
    Ok(report.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(category: Category, sensitive: bool, text: &str) -> Command {
        Command::File(Draft {
            category,
            sensitive,
            text: text.into(),
        })
    }

    #[test]
    fn the_command_words() {
        let cases = [
            ("", Command::Help),
            ("   ", Command::Help),
            ("theft", Command::Help),
            ("sensitive", Command::Help),
            ("sensitive theft ", Command::Help),
            (
                "theft laptop gone",
                file(Category::Theft, false, "laptop gone"),
            ),
            (
                " Denial-Of-Service  site down\nsince 9",
                file(Category::DenialOfService, false, "site down\nsince 9"),
            ),
            (
                "sensitive harassment  in the canteen",
                file(Category::Harassment, true, "in the canteen"),
            ),
            (
                "SENSITIVE account_abuse x",
                file(Category::AccountAbuse, true, "x"),
            ),
            (
                "laptop stolen",
                Command::Choose {
                    sensitive: false,
                    text: "laptop stolen".into(),
                },
            ),
            (
                "sensitive my manager shouts",
                Command::Choose {
                    sensitive: true,
                    text: "my manager shouts".into(),
                },
            ),
            (
                "thefts happen",
                Command::Choose {
                    sensitive: false,
                    text: "thefts happen".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), expected, "{text:?}");
        }
    }

    #[test]
    fn slack_control_characters_are_escaped() {
        assert_eq!(escape("<@U1> & <!here>"), "&lt;@U1&gt; &amp; &lt;!here&gt;");
    }

    #[test]
    fn a_draft_is_taken_once_and_only_by_its_author() {
        let drafts = Drafts::default();
        let id = drafts.keep("T1", "U1", true, "text".into());
        assert_eq!(id.len(), 32);
        assert_eq!(drafts.take(&id, "T1", "U2", Category::Theft), None);
        assert_eq!(drafts.take(&id, "T2", "U1", Category::Theft), None);
        assert_eq!(
            drafts.take(&id, "T1", "U1", Category::Theft),
            Some(Draft {
                category: Category::Theft,
                sensitive: true,
                text: "text".into()
            })
        );
        assert_eq!(drafts.take(&id, "T1", "U1", Category::Theft), None);
        assert_eq!(drafts.take("unknown", "T1", "U1", Category::Theft), None);
    }

    #[test]
    fn slack_ids_make_valid_user_names() {
        assert!(valid_id("T0123ABC"));
        for bad in ["", "T-1", "U 1", "Ü", &"A".repeat(25)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
