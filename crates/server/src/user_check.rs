//! "I didn't do this" mail (`[user_check]`). When live detection stores a
//! new alert of the `password_reset` policy item (a password reset or an
//! MFA change) whose `user` entity maps to an address, the affected user
//! is mailed a link, `{public_url}/check/{token}`, where they say whether
//! it was them (`web`'s `/check` page). The token is 32 random bytes; the
//! store keeps only its SHA-256 (`Store::create_user_check`), and the token
//! is never logged.
//!
//! Sending happens in a spawned task, off the detection thread: the check
//! is stored, then the mail is sent through the notify crate's SMTP
//! transport, retried with backoff a few times. Failures are logged and
//! counted ([`UserCheckStats`]). One mail per alert: a repeated or grouped
//! alert sends none, and the store keeps one check per alert.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use incidents::user_check::{one_line, utc_text};
use incidents::{AlertDisposition, AlertOutcome, NewAlert, NewUserCheck, Store, TokenHash, Viewer};
use serde::Deserialize;
use time::OffsetDateTime;

/// The policy item whose alerts are mailed.
pub const POLICY: &str = "password_reset";
/// How long a link works by default.
pub const DEFAULT_VALID_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// Attempts to send one mail.
const ATTEMPTS: u32 = 4;

/// `[user_check]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCheckConfig {
    /// The domain of bare user names: `alice` is mailed at
    /// `alice@<email_domain>`. Without it only `user` entities that are
    /// email addresses are mailed.
    pub email_domain: Option<String>,
    /// How long a link works (`12h`, `7d`, ...; default `7d`, more than 0).
    pub valid_for: Option<String>,
}

/// `[user_check]`, checked.
#[derive(Debug, Clone)]
pub struct UserCheckSettings {
    /// See [`UserCheckConfig::email_domain`].
    pub email_domain: Option<String>,
    /// See [`UserCheckConfig::valid_for`].
    pub valid_for: Duration,
}

impl UserCheckConfig {
    /// Checks the table; errors name the key.
    pub fn settings(&self) -> anyhow::Result<UserCheckSettings> {
        let valid_for = match &self.valid_for {
            None => DEFAULT_VALID_FOR,
            Some(text) => {
                monitor::duration::parse_duration(text).context("user_check.valid_for")?
            }
        };
        if valid_for.is_zero() {
            anyhow::bail!("user_check.valid_for must be more than 0");
        }
        let email_domain = match &self.email_domain {
            None => None,
            Some(d) => {
                let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
                let ok = !d.is_empty()
                    && d.len() <= 253
                    && d.contains('.')
                    && d.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if !ok {
                    anyhow::bail!(
                        "user_check.email_domain {d:?} is not a domain name like example.com"
                    );
                }
                Some(d)
            }
        };
        Ok(UserCheckSettings {
            email_domain,
            valid_for,
        })
    }
}

/// Where the mail about `user` goes: the entity itself when it is an email
/// address, else `user@email_domain` for a bare name when a domain is
/// set; `None` otherwise.
pub fn address_of(user: &str, email_domain: Option<&str>) -> Option<String> {
    let user = user.trim();
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
    };
    if let Some((local, domain)) = user.split_once('@') {
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        return (plain(local) && domain_ok).then(|| user.to_owned());
    }
    let domain = email_domain?;
    plain(user).then(|| format!("{user}@{domain}"))
}

/// Who is mailed about `alert`, stored with `outcome`: its `user` entity
/// and the address, when it is a new (not a repeat, grouped or suppressed)
/// `password_reset` alert whose user maps to an address.
pub fn recipient(
    alert: &NewAlert,
    outcome: &AlertOutcome,
    email_domain: Option<&str>,
) -> Option<(String, String)> {
    let new = !outcome.duplicate
        && matches!(
            outcome.disposition,
            AlertDisposition::Opened | AlertDisposition::Queued
        );
    if !new || alert.policy.as_deref() != Some(POLICY) {
        return None;
    }
    let user = alert.entities.get("user")?;
    let address = address_of(user, email_domain)?;
    Some((user.clone(), address))
}

/// The mail's subject (one line).
pub fn subject(user: &str) -> String {
    format!(
        "Was this you? A password or MFA change on {}",
        one_line(user)
    )
}

/// The mail's text.
pub fn body(alert: &NewAlert, user: &str, link: &str, expires: OffsetDateTime) -> String {
    let mut text = format!(
        "We saw a password or MFA change on your account {}.\n\n  What: {}\n  When: {}\n",
        one_line(user),
        one_line(&alert.rule_title),
        utc_text(alert.detected_at)
    );
    if let Some(ip) = ["src_ip", "source_ip", "ip"]
        .iter()
        .find_map(|k| alert.entities.get(*k))
    {
        text.push_str(&format!("  From address: {}\n", one_line(ip)));
    }
    text.push_str(&format!(
        "\nIf it was not you, tell us here:\n{link}\n\nThis link works once, until {}.\n\nIf it was you, nothing to do.\n",
        utc_text(expires)
    ));
    text
}

/// Counts of mails, for logs and tests.
#[derive(Debug, Default)]
pub struct UserCheckStats {
    /// Mails sent.
    pub sent: AtomicU64,
    /// Mails given up on (after every attempt) or checks not stored.
    pub failed: AtomicU64,
}

impl UserCheckStats {
    /// The counters in the Prometheus text format (appended to the
    /// server's `/metrics`).
    pub fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write as _;
        let counters = [
            (
                "watchpost_user_check_mails_sent_total",
                &self.sent,
                "\"I didn't do this\" mails sent.",
            ),
            (
                "watchpost_user_check_mails_failed_total",
                &self.failed,
                "\"I didn't do this\" mails given up on (or whose check could not be stored).",
            ),
        ];
        for (name, counter, help) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
    }
}

/// Mails users about their password-reset and MFA-change alerts.
pub struct UserCheckMailer {
    store: Arc<dyn Store>,
    email: Arc<notify::channel::email::Email>,
    public_url: web::PublicUrl,
    settings: UserCheckSettings,
    runtime: tokio::runtime::Handle,
    stats: Arc<UserCheckStats>,
    /// The wait before the second attempt (doubled after each).
    first_retry: Duration,
}

impl std::fmt::Debug for UserCheckMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCheckMailer")
            .field("public_url", &self.public_url.as_str())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl UserCheckMailer {
    /// The mailer of `[user_check]`, which needs `public_url` and an SMTP
    /// relay (`[notify.smtp]`). Call inside the runtime it spawns on.
    pub fn new(
        config: &UserCheckConfig,
        public_url: Option<&web::PublicUrl>,
        email: Option<&notify::channel::email::Config>,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Self> {
        let settings = config.settings()?;
        let public_url = public_url.cloned().ok_or_else(|| {
            anyhow::anyhow!("[user_check] needs public_url: the mailed link is made from it")
        })?;
        let email = email.cloned().ok_or_else(|| {
            anyhow::anyhow!("[user_check] needs [notify.smtp]: the link is sent by email")
        })?;
        let email = notify::channel::email::Email::new(email)
            .context("[user_check]: cannot set up the SMTP relay")?;
        Ok(UserCheckMailer {
            store,
            email: Arc::new(email),
            public_url,
            settings,
            runtime: tokio::runtime::Handle::current(),
            stats: Arc::default(),
            first_retry: Duration::from_secs(2),
        })
    }

    /// The counts of mails.
    pub fn stats(&self) -> Arc<UserCheckStats> {
        Arc::clone(&self.stats)
    }

    /// Called for every stored alert (from the detection thread): mails
    /// the user when it is a new `password_reset` alert with an address.
    /// Returns at once; the mail is sent by a spawned task.
    pub fn on_alert(&self, alert: &NewAlert, outcome: &AlertOutcome) {
        let Some((user, address)) =
            recipient(alert, outcome, self.settings.email_domain.as_deref())
        else {
            return;
        };
        let job = Job {
            store: Arc::clone(&self.store),
            email: Arc::clone(&self.email),
            stats: Arc::clone(&self.stats),
            public_url: self.public_url.clone(),
            valid_for: self.settings.valid_for,
            first_retry: self.first_retry,
            alert: alert.clone(),
            user,
            address,
            outcome: *outcome,
        };
        self.runtime.spawn(job.run());
    }
}

/// One mail to send.
struct Job {
    store: Arc<dyn Store>,
    email: Arc<notify::channel::email::Email>,
    stats: Arc<UserCheckStats>,
    public_url: web::PublicUrl,
    valid_for: Duration,
    first_retry: Duration,
    alert: NewAlert,
    user: String,
    address: String,
    outcome: AlertOutcome,
}

impl Job {
    async fn run(self) {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let token = hex::encode(bytes);
        let now = OffsetDateTime::now_utc();
        let expires_at = now + self.valid_for;
        let stored = self
            .store
            .create_user_check(
                &Viewer::system(),
                NewUserCheck {
                    alert: self.outcome.alert_id,
                    address: self.address.clone(),
                    token_hash: TokenHash::of(&token),
                    created_at: now,
                    expires_at,
                },
            )
            .await;
        let check = match stored {
            Ok(check) => check,
            Err(incidents::StoreError::Conflict(_)) => return,
            Err(error) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, alert = %self.outcome.alert_id, "cannot store a user check; no mail sent");
                return;
            }
        };
        let link = self.public_url.join(&format!("/check/{token}"));
        let subject = subject(&self.user);
        let text = body(&self.alert, &self.user, &link, check.expires_at);
        let mut wait = self.first_retry;
        for attempt in 1..=ATTEMPTS {
            match self
                .email
                .send_text(&self.address, &subject, text.clone())
                .await
            {
                Ok(()) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(alert = %self.outcome.alert_id, "user check mailed");
                    return;
                }
                Err(error) => {
                    tracing::warn!(
                        error = %error,
                        attempt,
                        alert = %self.outcome.alert_id,
                        "cannot send a user check mail"
                    );
                    if attempt < ATTEMPTS {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
            }
        }
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        tracing::error!(alert = %self.outcome.alert_id, "gave up sending a user check mail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_from_emails_or_bare_names_with_a_domain() {
        assert_eq!(
            address_of("alice@example.com", None).as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(address_of("alice", None), None);
        assert_eq!(
            address_of("alice", Some("corp.example")).as_deref(),
            Some("alice@corp.example")
        );
        assert_eq!(address_of("CORP\\alice", Some("corp.example")), None);
        assert_eq!(address_of("a b@example.com", None), None);
        assert_eq!(address_of("alice@example.com\r\nBcc: x@y.z", None), None);
    }

    fn alert(policy: &str, user: &str) -> NewAlert {
        NewAlert {
            rule_id: "r".into(),
            rule_title: "Okta password reset or MFA factor change".into(),
            level: incidents::AlertLevel::Medium,
            entities: std::collections::BTreeMap::from([("user".to_owned(), user.to_owned())]),
            evidence: vec![],
            policy: Some(policy.into()),
            detected_at: time::macros::datetime!(2026-03-01 10:00 UTC),
            key: None,
            queue_only: false,
            group: None,
        }
    }

    fn outcome(disposition: AlertDisposition, duplicate: bool) -> AlertOutcome {
        AlertOutcome {
            alert_id: incidents::AlertId::new(),
            disposition,
            incident_id: None,
            duplicate,
        }
    }

    #[test]
    fn only_new_password_reset_alerts_with_an_address_are_mailed() {
        let reset = alert("password_reset", "alice@example.com");
        let opened = outcome(AlertDisposition::Opened, false);
        assert_eq!(
            recipient(&reset, &opened, None),
            Some(("alice@example.com".into(), "alice@example.com".into()))
        );
        let queued = outcome(AlertDisposition::Queued, false);
        assert!(recipient(&reset, &queued, None).is_some());
        for repeat in [
            outcome(AlertDisposition::Opened, true),
            outcome(AlertDisposition::Grouped, false),
            outcome(AlertDisposition::Suppressed, false),
        ] {
            assert_eq!(recipient(&reset, &repeat, None), None, "{repeat:?}");
        }
        assert_eq!(
            recipient(&alert("brute_force", "alice@example.com"), &opened, None),
            None
        );
        let bare = alert("password_reset", "bob");
        assert_eq!(recipient(&bare, &opened, None), None);
        assert_eq!(
            recipient(&bare, &opened, Some("corp.example")),
            Some(("bob".into(), "bob@corp.example".into()))
        );
    }

    #[test]
    fn the_mailer_needs_public_url_and_smtp() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("w.db").display());
            let store = incidents::open(&url).await.unwrap();
            let config = UserCheckConfig::default();
            let no_url = UserCheckMailer::new(&config, None, None, store.clone()).unwrap_err();
            assert_eq!(
                no_url.to_string(),
                "[user_check] needs public_url: the mailed link is made from it"
            );
            let url = web::PublicUrl::parse("https://wp.example.com").unwrap();
            let no_smtp =
                UserCheckMailer::new(&config, Some(&url), None, store.clone()).unwrap_err();
            assert_eq!(
                no_smtp.to_string(),
                "[user_check] needs [notify.smtp]: the link is sent by email"
            );
            store.close().await;
        });
    }

    #[test]
    fn the_mail_says_what_happened_and_when_the_link_expires() {
        let mut reset = alert("password_reset", "alice@example.com");
        reset
            .entities
            .insert("source_ip".into(), "203.0.113.9".into());
        assert_eq!(
            body(
                &reset,
                "alice@example.com",
                "https://wp.example.com/check/abc",
                time::macros::datetime!(2026-03-08 10:00 UTC)
            ),
            "We saw a password or MFA change on your account alice@example.com.\n\n  What: Okta password reset or MFA factor change\n  When: 2026-03-01 10:00:00 UTC\n  From address: 203.0.113.9\n\nIf it was not you, tell us here:\nhttps://wp.example.com/check/abc\n\nThis link works once, until 2026-03-08 10:00:00 UTC.\n\nIf it was you, nothing to do.\n"
        );
    }

    #[test]
    fn the_subject_is_one_line() {
        assert_eq!(
            subject("alice@example.com\r\nBcc: eve@example.com"),
            "Was this you? A password or MFA change on alice@example.com  Bcc: eve@example.com"
        );
    }

    #[test]
    fn settings_default_to_seven_days_and_check_the_domain() {
        let s = UserCheckConfig::default().settings().unwrap();
        assert_eq!(s.valid_for, Duration::from_secs(604_800));
        assert_eq!(s.email_domain, None);
        let bad = UserCheckConfig {
            email_domain: Some("not a domain".into()),
            valid_for: None,
        };
        assert_eq!(
            bad.settings().unwrap_err().to_string(),
            "user_check.email_domain \"not a domain\" is not a domain name like example.com"
        );
        let zero = UserCheckConfig {
            email_domain: None,
            valid_for: Some("0s".into()),
        };
        assert_eq!(
            zero.settings().unwrap_err().to_string(),
            "user_check.valid_for must be more than 0"
        );
    }
}
