//! Which configured destinations a notice goes to: every configured
//! channel, to each recipient it can reach that
//! [`Recipient::receives`](crate::recipient::Recipient::receives) the
//! notice.

use crate::channel::Destination;
use crate::config::NotifyConfig;
use crate::notice::{Notice, NoticeKind};

/// The configured destinations of a notice about an incident that is (or
/// is not) `sensitive`: every configured channel, to each recipient it can
/// reach that [`Recipient::receives`](crate::recipient::Recipient::receives)
/// the notice.
pub fn destinations(config: &NotifyConfig, sensitive: bool) -> Vec<Destination> {
    routed(config, NoticeKind::Created, sensitive)
}

/// The configured destinations of one notice: access changes go to the
/// Security Team alone; incident notices as [`destinations`] decides.
pub fn destinations_for(config: &NotifyConfig, notice: &Notice) -> Vec<Destination> {
    routed(config, notice.kind, notice.sensitive)
}

fn routed(config: &NotifyConfig, kind: NoticeKind, sensitive: bool) -> Vec<Destination> {
    let email = config
        .email
        .iter()
        .flat_map(|email| email.recipients())
        .map(Destination::Email);
    let webhook = config.webhook.iter().map(|_| Destination::Webhook);
    let slack = config.slack.iter().map(|_| Destination::Slack);
    let out: Vec<Destination> = email
        .chain(webhook)
        .chain(slack)
        .filter(|d| d.recipient().receives(kind, sensitive))
        .collect();
    debug_assert!(!sensitive || out.iter().all(|d| !d.is_shared()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{email, slack, webhook};
    use crate::recipient::Recipient;
    use crate::secret::Secret;

    fn full_config() -> NotifyConfig {
        NotifyConfig {
            email: Some(email::Config {
                from: "watchpost@example.test".into(),
                smtp: email::SmtpConfig {
                    host: "127.0.0.1".into(),
                    port: 25,
                    tls: email::SmtpTls::None,
                    username: None,
                    password: None,
                },
                to: email::Addresses {
                    security_team: Some("sec@example.test".into()),
                    finance_ops: Some("fin@example.test".into()),
                    shared_mailbox: Some("it@example.test".into()),
                },
            }),
            webhook: Some(webhook::Config {
                url: "http://127.0.0.1:1/".into(),
                secret: Secret::new("s"),
            }),
            slack: Some(slack::Config {
                channel: "#incidents".into(),
                posting: slack::Posting::WebApi {
                    api_url: slack::DEFAULT_API_URL.into(),
                    bot_token: Secret::new("xoxb-test"),
                },
                public_url: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sensitive_notices_never_reach_a_shared_destination() {
        let config = full_config();
        assert_eq!(
            destinations(&config, true),
            [
                Destination::Email(Recipient::SecurityTeam),
                Destination::Email(Recipient::FinanceOps)
            ]
        );
        assert_eq!(
            destinations(&config, false),
            [
                Destination::Email(Recipient::SecurityTeam),
                Destination::Email(Recipient::Shared),
                Destination::Webhook,
                Destination::Slack
            ]
        );
        let shared: Vec<Destination> = Destination::ALL
            .into_iter()
            .filter(|d| d.is_shared())
            .collect();
        assert_eq!(
            shared,
            [
                Destination::Email(Recipient::Shared),
                Destination::Webhook,
                Destination::Slack
            ]
        );
    }

    #[test]
    fn a_sensitive_incident_never_yields_a_slack_destination() {
        let config = NotifyConfig {
            slack: full_config().slack,
            ..Default::default()
        };
        assert_eq!(destinations(&config, false), [Destination::Slack]);
        assert_eq!(destinations(&config, true), []);
        for kind in [
            NoticeKind::Created,
            NoticeKind::Updated,
            NoticeKind::AccessChanged,
        ] {
            assert!(!routed(&config, kind, true).contains(&Destination::Slack));
        }
    }

    #[test]
    fn unconfigured_destinations_are_skipped() {
        let config = NotifyConfig::default();
        assert!(destinations(&config, false).is_empty());
        assert!(destinations(&config, true).is_empty());
        // Email without a finance-ops address: only the Security Team.
        let mut config = full_config();
        if let Some(email) = &mut config.email {
            email.to.finance_ops = None;
        }
        assert_eq!(
            destinations(&config, true),
            [Destination::Email(Recipient::SecurityTeam)]
        );
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
            vec![Destination::Email(Recipient::SecurityTeam)]
        );
        // The same flags on an incident notice reach finance-ops too.
        notice.kind = NoticeKind::Updated;
        assert_eq!(
            destinations_for(&full_config(), &notice),
            vec![
                Destination::Email(Recipient::SecurityTeam),
                Destination::Email(Recipient::FinanceOps)
            ]
        );
    }

    #[test]
    fn sla_notices_never_reach_a_shared_destination() {
        let mut notice = Notice {
            kind: NoticeKind::SlaBreached,
            incident_id: "i1".into(),
            title: "phishing report: odd mail".into(),
            category: "phishing".into(),
            severity: "SEV1".into(),
            status: "triage".into(),
            sensitive: false,
            change: "SLA breached".into(),
            at: "2026-01-01T00:00:00Z".into(),
        };
        // Not sensitive, yet neither the shared mailbox nor the webhook.
        assert_eq!(
            destinations_for(&full_config(), &notice),
            vec![Destination::Email(Recipient::SecurityTeam)]
        );
        notice.kind = NoticeKind::SlaEscalated;
        for sensitive in [false, true] {
            notice.sensitive = sensitive;
            assert_eq!(
                destinations_for(&full_config(), &notice),
                vec![
                    Destination::Email(Recipient::SecurityTeam),
                    Destination::Email(Recipient::FinanceOps)
                ],
                "sensitive={sensitive}"
            );
        }
    }
}
