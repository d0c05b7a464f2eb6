//! How notices travel: one folder per channel (transport), each with its
//! own `Config` (its part of the `[notify]` table), its transport and its
//! errors. Who may be told what is not decided here but by
//! [`Recipient::receives`]; a channel only says which recipients it can
//! reach.
//!
//! - [`email`]: SMTP (lettre), one address per recipient;
//! - [`webhook`]: a signed JSON POST, read by people outside need-to-know
//!   (the [`Recipient::Shared`] recipient);
//! - [`slack`]: a post to a Slack channel (Web API or incoming webhook),
//!   read by people outside need-to-know too.
//!
//! A [`Destination`] is one recipient reached through one channel. The
//! outbox fans each message out into one message per destination
//! ([`crate::routing`] decides which), and stores the destination's
//! [`Destination::as_str`] name, so names never change.

pub mod email;
pub mod slack;
pub mod webhook;

use crate::recipient::Recipient;

/// One recipient on one channel: where one delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// An email to the recipient's configured address.
    Email(Recipient),
    /// The webhook (its readers are [`Recipient::Shared`]).
    Webhook,
    /// The Slack channel (its readers are [`Recipient::Shared`]).
    Slack,
}

impl Destination {
    /// Every destination, in routing order.
    pub const ALL: [Destination; 5] = [
        Self::Email(Recipient::SecurityTeam),
        Self::Email(Recipient::FinanceOps),
        Self::Email(Recipient::Shared),
        Self::Webhook,
        Self::Slack,
    ];

    /// Who this destination reaches.
    pub const fn recipient(self) -> Recipient {
        match self {
            Self::Email(recipient) => recipient,
            Self::Webhook => webhook::RECIPIENT,
            Self::Slack => slack::RECIPIENT,
        }
    }

    /// Whether the destination is shared (seen by people outside need-to-know).
    pub const fn is_shared(self) -> bool {
        self.recipient().is_shared()
    }

    /// The stable name, for logs and the outbox (also the configuration key
    /// of the recipient's address, for email).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email(Recipient::SecurityTeam) => "security_team",
            Self::Email(Recipient::FinanceOps) => "finance_ops",
            Self::Email(Recipient::Shared) => "shared_mailbox",
            Self::Webhook => "webhook",
            Self::Slack => "slack",
        }
    }

    /// The destination named `name` ([`Destination::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable() {
        let names: Vec<&str> = Destination::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(
            names,
            [
                "security_team",
                "finance_ops",
                "shared_mailbox",
                "webhook",
                "slack"
            ]
        );
        for d in Destination::ALL {
            assert_eq!(Destination::parse(d.as_str()), Some(d));
        }
        assert_eq!(Destination::parse("teams"), None);
        assert!(Destination::Slack.is_shared());
    }
}
