//! What is notified ([`Notice`]) and to whom ([`destinations`]).
//!
//! Routing invariant: a sensitive incident is only ever addressed to the
//! Security Team and finance-ops addresses, never to a shared destination
//! (the shared mailbox or the webhook). [`destinations`] is the one place that
//! decides this.

use serde::{Deserialize, Serialize};

use crate::config::NotifyConfig;

/// What happened to the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A new incident was opened.
    Created,
    /// An existing incident changed.
    Updated,
    /// Who may see sensitive incidents changed (a need-to-know role was
    /// asked for, granted or taken away). Goes to the Security Team only.
    AccessChanged,
}

/// A notification about one incident, independent of the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Created or updated.
    pub kind: NoticeKind,
    /// The incident's id.
    pub incident_id: String,
    /// Title.
    pub title: String,
    /// Category (serde name, e.g. `theft`).
    pub category: String,
    /// Severity (`SEV1`..`SEV4`).
    pub severity: String,
    /// Status (e.g. `triage`).
    pub status: String,
    /// Whether the incident is sensitive (decides the destinations).
    pub sensitive: bool,
    /// A one-line description of the change, e.g. `status triage -> investigating`.
    pub change: String,
    /// When the change happened (RFC 3339).
    pub at: String,
}

/// One place a notice can be delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// The Security Team's address.
    SecurityTeam,
    /// The Head of Finance & Operations' address (sensitive incidents only).
    FinanceOps,
    /// A shared mailbox (non-sensitive incidents only).
    SharedMailbox,
    /// The generic signed webhook (non-sensitive incidents only).
    Webhook,
}

impl Destination {
    /// Every destination.
    pub const ALL: [Destination; 4] = [
        Self::SecurityTeam,
        Self::FinanceOps,
        Self::SharedMailbox,
        Self::Webhook,
    ];

    /// Whether the destination is shared (seen by people outside need-to-know).
    pub fn is_shared(self) -> bool {
        matches!(self, Self::SharedMailbox | Self::Webhook)
    }

    /// A stable name for logs and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityTeam => "security_team",
            Self::FinanceOps => "finance_ops",
            Self::SharedMailbox => "shared_mailbox",
            Self::Webhook => "webhook",
        }
    }
}

/// The configured destinations a notice goes to. Sensitive notices go only
/// to the Security Team and finance-ops; others go to the Security Team, the
/// shared mailbox and the webhook.
pub fn destinations(config: &NotifyConfig, sensitive: bool) -> Vec<Destination> {
    let email = config.smtp.is_some();
    let mut out = Vec::new();
    if email && config.security_team.is_some() {
        out.push(Destination::SecurityTeam);
    }
    if sensitive {
        if email && config.finance_ops.is_some() {
            out.push(Destination::FinanceOps);
        }
    } else {
        if email && config.shared_mailbox.is_some() {
            out.push(Destination::SharedMailbox);
        }
        if config.webhook.is_some() {
            out.push(Destination::Webhook);
        }
    }
    debug_assert!(!sensitive || out.iter().all(|d| !d.is_shared()));
    out
}

/// The configured destinations of one notice: access changes go to the
/// Security Team alone; incident notices as [`destinations`] decides.
pub fn destinations_for(config: &NotifyConfig, notice: &Notice) -> Vec<Destination> {
    if notice.kind == NoticeKind::AccessChanged {
        return destinations(config, true)
            .into_iter()
            .filter(|d| *d == Destination::SecurityTeam)
            .collect();
    }
    destinations(config, notice.sensitive)
}

impl Notice {
    /// The email subject.
    pub fn subject(&self) -> String {
        let what = match self.kind {
            NoticeKind::Created => "new incident",
            NoticeKind::Updated => "incident updated",
            NoticeKind::AccessChanged => {
                return format!(
                    "[watchpost] access change [sensitive]: {}",
                    one_line(&self.title)
                );
            }
        };
        let sensitive = if self.sensitive { " [sensitive]" } else { "" };
        format!(
            "[watchpost] {} {what}{sensitive}: {}",
            self.severity,
            one_line(&self.title)
        )
    }

    /// The plain-text email body.
    pub fn text_body(&self) -> String {
        if self.kind == NoticeKind::AccessChanged {
            return format!(
                "Access to sensitive incidents changed\n\
                 Change:   {change}\n\
                 At:       {at}\n",
                change = one_line(&self.change),
                at = self.at,
            );
        }
        format!(
            "Incident {id}\n\
             Title:    {title}\n\
             Severity: {severity}\n\
             Category: {category}\n\
             Status:   {status}\n\
             Change:   {change}\n\
             At:       {at}\n",
            id = self.incident_id,
            title = one_line(&self.title),
            severity = self.severity,
            category = self.category,
            status = self.status,
            change = one_line(&self.change),
            at = self.at,
        )
    }
}

/// Collapses line breaks so user text cannot inject headers or fake lines.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SmtpConfig, SmtpTls, WebhookConfig};

    fn full_config() -> NotifyConfig {
        NotifyConfig {
            security_team: Some("sec@example.test".into()),
            finance_ops: Some("fin@example.test".into()),
            shared_mailbox: Some("it@example.test".into()),
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: 25,
                tls: SmtpTls::None,
                username: None,
                password: None,
            }),
            webhook: Some(WebhookConfig {
                url: "http://127.0.0.1:1/".into(),
                secret: crate::config::Secret::new("s"),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sensitive_notices_never_reach_a_shared_destination() {
        let config = full_config();
        assert_eq!(
            destinations(&config, true),
            [Destination::SecurityTeam, Destination::FinanceOps]
        );
        assert_eq!(
            destinations(&config, false),
            [
                Destination::SecurityTeam,
                Destination::SharedMailbox,
                Destination::Webhook
            ]
        );
        for d in Destination::ALL {
            assert_eq!(
                d.is_shared(),
                matches!(d, Destination::SharedMailbox | Destination::Webhook)
            );
        }
    }

    #[test]
    fn unconfigured_destinations_are_skipped() {
        let config = NotifyConfig::default();
        assert!(destinations(&config, false).is_empty());
        assert!(destinations(&config, true).is_empty());
    }

    #[test]
    fn access_changes_go_to_the_security_team_alone() {
        let mut notice = Notice {
            kind: NoticeKind::AccessChanged,
            incident_id: String::new(),
            title: "sock is now responder (was reporter)".into(),
            category: String::new(),
            severity: String::new(),
            status: String::new(),
            sensitive: true,
            change: "sock is now responder (was reporter)".into(),
            at: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            destinations_for(&full_config(), &notice),
            vec![Destination::SecurityTeam]
        );
        assert_eq!(
            notice.subject(),
            "[watchpost] access change [sensitive]: sock is now responder (was reporter)"
        );
        // The same flags on an incident notice reach finance-ops too.
        notice.kind = NoticeKind::Updated;
        assert_eq!(
            destinations_for(&full_config(), &notice),
            vec![Destination::SecurityTeam, Destination::FinanceOps]
        );
    }

    #[test]
    fn user_text_cannot_break_lines() {
        let notice = Notice {
            kind: NoticeKind::Created,
            incident_id: "i1".into(),
            title: "a\r\nBcc: x@evil".into(),
            category: "theft".into(),
            severity: "SEV2".into(),
            status: "triage".into(),
            sensitive: false,
            change: "opened".into(),
            at: "2026-01-01T00:00:00Z".into(),
        };
        assert!(!notice.subject().contains('\n'));
        assert_eq!(notice.text_body().lines().count(), 7);
    }
}
