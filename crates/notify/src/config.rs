//! Notification configuration: the `[notify]` table of the server config.
//!
//! The file's shape is fixed (the keys are documented in the crate's
//! README): the recipients' email addresses, `from` and `poll_interval_ms`
//! at the top of `[notify]`, then `[notify.smtp]` and `[notify.webhook]`.
//! It is read into one `Config` per channel ([`email::Config`],
//! [`webhook::Config`]); a channel without its table is off.
//!
//! Every table refuses unknown keys. Nothing is sent unless a destination is
//! configured.

use serde::Deserialize;

use crate::channel::{email, slack, webhook};
pub use crate::secret::Secret;

/// Where and how notifications are delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "NotifyTable")]
pub struct NotifyConfig {
    /// Email: on when `[notify.smtp]` is set.
    pub email: Option<email::Config>,
    /// The generic signed webhook (`[notify.webhook]`).
    pub webhook: Option<webhook::Config>,
    /// Slack: not part of `[notify]`; the server sets it from its `[slack]`
    /// table.
    pub slack: Option<slack::Config>,
    /// How often the worker looks for due messages, in milliseconds
    /// (default 1000). Retries back off exponentially (see the store's
    /// outbox).
    pub poll_interval_ms: u64,
}

impl Default for NotifyConfig {
    /// What an absent `[notify]` table means: no channel, the default poll
    /// interval.
    fn default() -> Self {
        Self {
            email: None,
            webhook: None,
            slack: None,
            poll_interval_ms: default_poll_ms(),
        }
    }
}

/// The `[notify]` table as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyTable {
    /// The Security Team's address.
    security_team: Option<String>,
    /// The Head of Finance & Operations' address.
    finance_ops: Option<String>,
    /// A shared mailbox (non-sensitive incidents only).
    shared_mailbox: Option<String>,
    /// The sender address of emails.
    #[serde(default = "email::default_from")]
    from: String,
    /// The SMTP relay. Without it no email is sent.
    smtp: Option<email::SmtpConfig>,
    /// The webhook.
    webhook: Option<webhook::Config>,
    /// The worker's poll interval.
    #[serde(default = "default_poll_ms")]
    poll_interval_ms: u64,
}

fn default_poll_ms() -> u64 {
    1_000
}

impl From<NotifyTable> for NotifyConfig {
    fn from(table: NotifyTable) -> Self {
        let email = table.smtp.map(|smtp| email::Config {
            from: table.from,
            smtp,
            to: email::Addresses {
                security_team: table.security_team,
                finance_ops: table.finance_ops,
                shared_mailbox: table.shared_mailbox,
            },
        });
        Self {
            email,
            webhook: table.webhook,
            slack: None,
            poll_interval_ms: table.poll_interval_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::email::SmtpTls;

    #[test]
    fn secrets_are_not_shown_by_debug() {
        let config: NotifyConfig = toml::from_str(
            "[smtp]\nhost = \"h\"\npassword = \"hunter2\"\n[webhook]\nurl = \"http://x\"\nsecret = \"s3cr3t\"\n",
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert_eq!(config.webhook.unwrap().secret.expose(), "s3cr3t");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            toml::from_str::<NotifyConfig>("security_team = \"a@b\"\nwebhok = 1\n").unwrap_err();
        assert!(err.to_string().contains("webhok"), "{err}");
        let err = toml::from_str::<NotifyConfig>("[smtp]\nhost = \"h\"\nhots = 1\n").unwrap_err();
        assert!(err.to_string().contains("hots"), "{err}");
        let err =
            toml::from_str::<NotifyConfig>("[webhook]\nurl = \"u\"\nsecret = \"s\"\nsecrit = 1\n")
                .unwrap_err();
        assert!(err.to_string().contains("secrit"), "{err}");
    }

    /// The documented file (crates/notify/README.md) reads into one config
    /// per channel, every key where it belongs.
    #[test]
    fn the_documented_keys_reach_their_channel() {
        let config: NotifyConfig = toml::from_str(
            r#"
security_team = "security@example.com"
finance_ops = "finance-ops@example.com"
shared_mailbox = "it@example.com"
from = "watchpost@example.com"
poll_interval_ms = 250

[smtp]
host = "smtp.example.com"
port = 465
tls = "tls"
username = "watchpost"
password = "pw"

[webhook]
url = "https://hooks.example.com/watchpost"
secret = "a long random string"
"#,
        )
        .unwrap();
        assert_eq!(config.poll_interval_ms, 250);
        let email = config.email.expect("email is on");
        assert_eq!(email.from, "watchpost@example.com");
        assert_eq!(
            email.to.security_team.as_deref(),
            Some("security@example.com")
        );
        assert_eq!(
            email.to.finance_ops.as_deref(),
            Some("finance-ops@example.com")
        );
        assert_eq!(email.to.shared_mailbox.as_deref(), Some("it@example.com"));
        assert_eq!(email.smtp.host, "smtp.example.com");
        assert_eq!(email.smtp.port, 465);
        assert_eq!(email.smtp.tls, SmtpTls::Tls);
        assert_eq!(email.smtp.username.as_deref(), Some("watchpost"));
        assert_eq!(
            email
                .smtp
                .password
                .map(|p| p.expose().to_owned())
                .as_deref(),
            Some("pw")
        );
        let webhook = config.webhook.expect("webhook is on");
        assert_eq!(webhook.url, "https://hooks.example.com/watchpost");
        assert_eq!(webhook.secret.expose(), "a long random string");
    }

    #[test]
    fn defaults_and_channels_off() {
        let config: NotifyConfig = toml::from_str("security_team = \"a@b\"\n").unwrap();
        assert!(config.email.is_none(), "no [smtp]: no email");
        assert!(config.webhook.is_none());
        assert_eq!(config.poll_interval_ms, 1000);
        let config: NotifyConfig = toml::from_str("[smtp]\nhost = \"h\"\n").unwrap();
        let email = config.email.unwrap();
        assert_eq!(email.from, "watchpost@localhost");
        assert_eq!((email.smtp.port, email.smtp.tls), (587, SmtpTls::Starttls));
        assert_eq!(email.to, email::Addresses::default());
        let config = NotifyConfig::default();
        assert!(config.email.is_none() && config.webhook.is_none());
        assert_eq!(config.poll_interval_ms, 1000);
    }
}
