//! Notification configuration: the `[notify]` table of the server config.
//!
//! Every struct refuses unknown keys. Nothing is sent unless a destination is
//! configured.

use serde::Deserialize;

/// Where and how notifications are delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The Security Team's address. Receives every incident, sensitive or not.
    pub security_team: Option<String>,
    /// The Head of Finance & Operations' address. Receives sensitive
    /// incidents only.
    pub finance_ops: Option<String>,
    /// A shared mailbox (e.g. an IT list) that receives non-sensitive
    /// incidents only. Sensitive incidents are never sent here.
    pub shared_mailbox: Option<String>,
    /// The sender address of emails.
    #[serde(default = "default_from")]
    pub from: String,
    /// The SMTP relay. Without it no email is sent.
    pub smtp: Option<SmtpConfig>,
    /// The generic signed webhook (a shared destination: it never receives
    /// sensitive incidents).
    pub webhook: Option<WebhookConfig>,
    /// How often the worker looks for due messages, in milliseconds
    /// (default 1000). Retries back off exponentially (see the store's
    /// outbox).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
}

fn default_poll_ms() -> u64 {
    1_000
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            security_team: None,
            finance_ops: None,
            shared_mailbox: None,
            from: default_from(),
            smtp: None,
            webhook: None,
            poll_interval_ms: default_poll_ms(),
        }
    }
}

fn default_from() -> String {
    "watchpost@localhost".to_owned()
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (only for a relay on loopback).
    None,
    /// STARTTLS, required.
    #[default]
    Starttls,
    /// Implicit TLS (SMTPS).
    Tls,
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name or IP address.
    pub host: String,
    /// Port (587 for STARTTLS, 465 for TLS, 25 for plain).
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// Transport security.
    #[serde(default)]
    pub tls: SmtpTls,
    /// User name for authentication, if the relay needs it.
    pub username: Option<String>,
    /// Password for authentication. Never logged.
    pub password: Option<Secret>,
}

fn default_smtp_port() -> u16 {
    587
}

/// The generic webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL that receives a signed JSON POST.
    pub url: String,
    /// The HMAC-SHA256 key. Never logged.
    pub secret: Secret,
}

/// A secret string (password, signing key): its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
