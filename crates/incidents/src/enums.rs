//! Closed vocabularies of the domain (channels, categories, severities,
//! statuses, ...). Each one has a stable wire name used in JSON, in the
//! database and on the command line; [`ParseEnumError`] lists the allowed
//! values so the API can answer an unknown value with a helpful message.
//!
//! [`Category`] is defined in `events` (the policy catalogue uses it too)
//! and re-exported here; the store encodes it, like every enum here, as its
//! wire name (`as_str` to write, `FromStr` to read).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An unknown name for one of the domain's enums (shared with
/// [`Category`], which lives in `events`).
pub use events::ParseEnumError;

/// Report and incident categories, from the policy's list plus `other`.
/// The one category type of the workspace: it lives in `events` so that the
/// policy catalogue uses it too.
pub use events::Category;

macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            /// The allowed wire names, comma separated.
            pub fn allowed() -> String {
                [$($wire),+].join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(ParseEnumError { kind: $kind, value: s.to_owned(), allowed: $name::allowed() }),
                }
            }
        }
    };
}

str_enum!(
    /// How a report reached us.
    Channel, "channel" {
        /// The web form.
        Web => "web",
        /// The REST API.
        Api => "api",
        /// The `watchpost report` command.
        Cli => "cli",
        /// A Slack command.
        Slack => "slack",
        /// The security mailbox.
        Email => "email",
        /// A third party (customer, vendor, researcher).
        ThirdParty => "third-party",
    }
);

impl Channel {
    /// Whether a report on this channel may be anonymous. Only channels where
    /// the sender may legitimately be outside the company (mail, third
    /// parties) accept reports without a reporter.
    pub const fn allows_anonymous(self) -> bool {
        matches!(self, Channel::Email | Channel::ThirdParty)
    }
}

str_enum!(
    /// Where an incident came from, as the incident queue filters it: a
    /// report on one of the [`Channel`]s, or a detection (alerts).
    Source, "source" {
        /// Opened or joined by a detection's alerts.
        Detection => "detection",
        /// A report from the web form.
        Web => "web",
        /// A report through the REST API.
        Api => "api",
        /// A report from the `watchpost report` command.
        Cli => "cli",
        /// A report from Slack.
        Slack => "slack",
        /// A report from the security mailbox.
        Email => "email",
        /// A report from a third party.
        ThirdParty => "third-party",
    }
);

impl Source {
    /// The report channel this source names, or `None` for a detection.
    pub const fn channel(self) -> Option<Channel> {
        match self {
            Source::Detection => None,
            Source::Web => Some(Channel::Web),
            Source::Api => Some(Channel::Api),
            Source::Cli => Some(Channel::Cli),
            Source::Slack => Some(Channel::Slack),
            Source::Email => Some(Channel::Email),
            Source::ThirdParty => Some(Channel::ThirdParty),
        }
    }
}

str_enum!(
    /// Incident severity; `SEV1` is the most severe.
    Severity, "severity" {
        /// Critical.
        Sev1 => "SEV1",
        /// High.
        Sev2 => "SEV2",
        /// Medium.
        Sev3 => "SEV3",
        /// Low.
        Sev4 => "SEV4",
    }
);

str_enum!(
    /// Severity of a detection (Sigma levels).
    AlertLevel, "level" {
        /// Sigma `informational`.
        Informational => "informational",
        /// Sigma `low`.
        Low => "low",
        /// Sigma `medium`.
        Medium => "medium",
        /// Sigma `high`.
        High => "high",
        /// Sigma `critical`.
        Critical => "critical",
    }
);

impl AlertLevel {
    /// The severity of an incident opened by an alert of this level.
    pub const fn severity(self) -> Severity {
        match self {
            AlertLevel::Critical => Severity::Sev1,
            AlertLevel::High => Severity::Sev2,
            AlertLevel::Medium => Severity::Sev3,
            AlertLevel::Low | AlertLevel::Informational => Severity::Sev4,
        }
    }
}

str_enum!(
    /// Incident status: the NIST phases plus two exits. See
    /// [`crate::Incident::transition`] for the legal moves.
    Status, "status" {
        /// New, not yet looked at.
        Triage => "triage",
        /// Being investigated.
        Investigating => "investigating",
        /// Contained.
        Contained => "contained",
        /// Cause removed.
        Eradicated => "eradicated",
        /// Service restored.
        Recovered => "recovered",
        /// Closed with impact and resolution.
        Closed => "closed",
        /// Declined at triage or investigation (not an incident).
        Declined => "declined",
        /// Merged into another incident.
        Merged => "merged",
    }
);

impl Status {
    /// Whether the incident is still being worked on.
    pub const fn is_open(self) -> bool {
        !self.is_terminal()
    }

    /// Whether this status is an end state (closed, declined, merged).
    pub const fn is_terminal(self) -> bool {
        matches!(self, Status::Closed | Status::Declined | Status::Merged)
    }

    /// The rank of an open NIST phase (triage = 0 ... recovered = 4).
    pub const fn phase(self) -> Option<u8> {
        match self {
            Status::Triage => Some(0),
            Status::Investigating => Some(1),
            Status::Contained => Some(2),
            Status::Eradicated => Some(3),
            Status::Recovered => Some(4),
            _ => None,
        }
    }
}

str_enum!(
    /// How an incident ended.
    Resolution, "resolution" {
        /// A real incident that had impact.
        TruePositiveImpact => "true_positive_impact",
        /// A real incident without impact.
        TruePositiveNoImpact => "true_positive_no_impact",
        /// Not an incident.
        FalsePositive => "false_positive",
        /// A duplicate of another incident.
        Duplicate => "duplicate",
        /// Not applicable.
        NotApplicable => "not_applicable",
    }
);

str_enum!(
    /// Public disclosure state.
    Disclosure, "disclosure" {
        /// Not disclosed.
        None => "none",
        /// A disclosure is being drafted.
        Draft => "draft",
        /// Disclosed.
        Published => "published",
    }
);

str_enum!(
    /// A confidentiality/integrity/availability rating.
    ImpactLevel, "impact level" {
        /// No impact.
        None => "none",
        /// Low.
        Low => "low",
        /// Medium.
        Medium => "medium",
        /// High.
        High => "high",
    }
);

str_enum!(
    /// A user's role.
    Role, "role" {
        /// Every employee: files reports and sees their own.
        Reporter => "reporter",
        /// The Security Team: sees and handles every incident.
        Responder => "responder",
        /// The Head of Finance & Operations: sees every incident, may add notes.
        FinanceOps => "finance-ops",
        /// Administers users; sees non-sensitive incidents only.
        Admin => "admin",
        /// A machine that sends log events (a log shipper's token): may
        /// only send events; sees and changes nothing else.
        Ingest => "ingest",
    }
);

impl Role {
    /// Whether the role sees every incident, sensitive ones included
    /// (`responder`, `finance-ops`). Granting it needs two people: see
    /// [`crate::RoleGrant`]. Every other role (`reporter`, `admin`,
    /// `ingest`) is set directly.
    pub const fn has_need_to_know(self) -> bool {
        matches!(self, Role::Responder | Role::FinanceOps)
    }
}

str_enum!(
    /// Where a request for a need-to-know role stands.
    GrantStatus, "grant status" {
        /// Waiting for a responder's decision.
        Pending => "pending",
        /// Approved: the role was given.
        Approved => "approved",
        /// Rejected: nothing changed.
        Rejected => "rejected",
    }
);

str_enum!(
    /// Status of an outbox message.
    OutboxStatus, "outbox status" {
        /// Waiting for delivery (or for its next attempt).
        Pending => "pending",
        /// Delivered.
        Sent => "sent",
        /// Given up after too many attempts.
        Dead => "dead",
    }
);
