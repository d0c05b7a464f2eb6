//! The email channel's configuration.

use serde::Deserialize;

use crate::recipient::Recipient;
use crate::secret::Secret;

/// Email: the relay, the sender, and one address per recipient.
#[derive(Debug, Clone)]
pub struct Config {
    /// The sender address (`from`, default `watchpost@localhost`).
    pub from: String,
    /// The SMTP relay (`[notify.smtp]`).
    pub smtp: SmtpConfig,
    /// The recipients' addresses.
    pub to: Addresses,
}

impl Config {
    /// The recipients with an address, in routing order.
    pub fn recipients(&self) -> impl Iterator<Item = Recipient> + '_ {
        Recipient::ALL
            .into_iter()
            .filter(|r| self.to.of(*r).is_some())
    }
}

/// The address of each recipient; a recipient without one gets no email.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// The Security Team (`security_team`): every incident, sensitive or not.
    pub security_team: Option<String>,
    /// The Head of Finance & Operations (`finance_ops`): sensitive
    /// incidents only.
    pub finance_ops: Option<String>,
    /// A shared mailbox such as an IT list (`shared_mailbox`): non-sensitive
    /// incidents only. Sensitive incidents are never sent here.
    pub shared_mailbox: Option<String>,
}

impl Addresses {
    /// The address of `recipient`, if configured.
    pub fn of(&self, recipient: Recipient) -> Option<&str> {
        match recipient {
            Recipient::SecurityTeam => self.security_team.as_deref(),
            Recipient::FinanceOps => self.finance_ops.as_deref(),
            Recipient::Shared => self.shared_mailbox.as_deref(),
        }
    }
}

/// The default sender address.
pub fn default_from() -> String {
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

/// An SMTP relay (`[notify.smtp]`).
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
