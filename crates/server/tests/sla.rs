//! SLA escalation end to end: a real store in a temporary directory, the
//! server's SLA checker driven by an injected clock, and the notices it
//! queues routed with the notify crate's rules. Every expected value is
//! written by hand.

use std::path::Path;
use std::sync::{Arc, Mutex};

use incidents::access::Viewer;
use incidents::{
    Category, Channel, EscalationStep, IncidentId, NewIncident, NewReport, OutboxKind,
    OutboxMessage, Severity, SlaClock, SlaDuration, Status, Store,
};
use notify::{Destination, Notice, Recipient};
use time::{Duration, OffsetDateTime};
use watchpost_server::sla::{CheckSummary, Checker, Clock, SlaConfig};
use watchpost_server::{Config, StoreLocation};

/// A clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<Mutex<OffsetDateTime>>);

impl TestClock {
    fn new(at: OffsetDateTime) -> Self {
        TestClock(Arc::new(Mutex::new(at)))
    }
    fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap() = at;
    }
    fn clock(&self) -> Clock {
        let me = self.0.clone();
        Arc::new(move || *me.lock().unwrap())
    }
}

async fn store_in(dir: &Path) -> Arc<dyn Store> {
    watchpost_server::open_store(&StoreLocation::new(Some(dir.join("data")), None))
        .await
        .unwrap()
}

/// Whole seconds (the store keeps microseconds; the test's times need no
/// more).
fn now_s() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap()
}

async fn sev1(store: &dyn Store, title: &str, reported_at: OffsetDateTime) -> IncidentId {
    store
        .create_incident(
            &Viewer::system(),
            NewIncident {
                title: title.into(),
                description: String::new(),
                category: Category::SecurityIncident,
                severity: Severity::Sev1,
                sensitive: false,
                occurred_at: None,
                detected_at: None,
                reported_at: Some(reported_at),
            },
        )
        .await
        .unwrap()
        .id
}

/// Every SLA notice queued (the parents, as the store enqueued them).
async fn sla_messages(store: &dyn Store) -> Vec<OutboxMessage> {
    store
        .list_outbox(&Viewer::system(), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| matches!(m.kind, OutboxKind::SlaBreached | OutboxKind::SlaEscalated))
        .collect()
}

/// A notify configuration with every destination: the Security Team,
/// finance-ops and a shared mailbox by email, and a webhook.
fn every_destination() -> notify::NotifyConfig {
    let text = r#"
[notify]
from = "watchpost@example.test"
security_team = "sec@example.test"
finance_ops = "fin@example.test"
shared_mailbox = "it@example.test"
[notify.smtp]
host = "127.0.0.1"
port = 2525
tls = "none"
[notify.webhook]
url = "http://127.0.0.1:9/hook"
secret = "s3cret"
"#;
    Config::parse(Path::new("test.toml"), text).unwrap().notify
}

fn destinations(m: &OutboxMessage) -> Vec<Destination> {
    notify::destinations_for(&every_destination(), &Notice::from_message(m))
}

fn checker(store: &Arc<dyn Store>, clock: &TestClock) -> Checker {
    let settings = SlaConfig::default().settings().unwrap();
    Checker::new(store.clone(), &settings, clock.clock())
}

#[tokio::test]
async fn overdue_clocks_escalate_once_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path()).await;
    let system = Viewer::system();
    let t0 = now_s() - Duration::minutes(1);

    // A: SEV1, never acknowledged. B: SEV1, acknowledged within its 15
    // minutes. C: a third-party report (SEV3; acknowledge within 1
    // business day, not SEV3's 4 hours).
    let a = sev1(store.as_ref(), "ransomware on the file server", t0).await;
    let b = sev1(store.as_ref(), "beaconing from a laptop", t0).await;
    store
        .transition_incident(
            &system,
            b,
            Status::Investigating,
            Some(t0 + Duration::minutes(1)),
        )
        .await
        .unwrap();
    let report = store
        .file_report(
            &system,
            NewReport {
                channel: Channel::ThirdParty,
                category: Category::SecurityIncident,
                description: "your bucket is public".into(),
                occurred_at: None,
                location: None,
                sensitive: false,
                anonymous: true,
                attachments: vec![],
            },
        )
        .await
        .unwrap();
    let c = report.incident_id;
    let reported_c = store
        .get_incident(&system, c)
        .await
        .unwrap()
        .incident
        .times
        .reported_at;

    let clock = TestClock::new(t0 + Duration::minutes(10));
    let check = checker(&store, &clock);

    // Before any deadline: nothing.
    let s = check.check().await.unwrap();
    assert_eq!(
        (s.incidents, s.overdue, s.breached, s.escalated),
        (3, 0, 0, 0)
    );
    assert!(sla_messages(store.as_ref()).await.is_empty());

    // A minute past A's acknowledge deadline (t0 + 15m): one breach.
    clock.set(t0 + Duration::minutes(16));
    let s = check.check().await.unwrap();
    assert_eq!(
        s,
        CheckSummary {
            incidents: 3,
            overdue: 1,
            breached: 1,
            escalated: 0
        }
    );
    let messages = sla_messages(store.as_ref()).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.kind, OutboxKind::SlaBreached);
    assert_eq!(m.incident_id, Some(a));
    assert!(!m.sensitive);
    assert!(
        m.payload
            .change()
            .starts_with("SLA breached: the acknowledge clock (15m) was due "),
        "{}",
        m.payload.change()
    );
    assert_eq!(m.payload.action(), "sla.breached");
    // To the Security Team alone: not sensitive, yet no shared mailbox and
    // no webhook.
    assert_eq!(
        destinations(m),
        [Destination::Email(Recipient::SecurityTeam)]
    );

    // Checked again: no duplicate.
    clock.set(t0 + Duration::minutes(17));
    let s = check.check().await.unwrap();
    assert_eq!((s.overdue, s.breached, s.escalated), (1, 0, 0));
    // A restart: a new checker over the same store takes nothing again.
    let restarted = checker(&store, &clock);
    let s = restarted.check().await.unwrap();
    assert_eq!((s.breached, s.escalated), (0, 0));
    // Two checks at once: still one row and one message per step.
    let (x, y) = tokio::join!(check.check(), restarted.check());
    assert_eq!(x.unwrap().breached + y.unwrap().breached, 0);
    assert_eq!(sla_messages(store.as_ref()).await.len(), 1);

    // An hour past A's acknowledge deadline, still unacknowledged: step 2
    // to finance-ops and the Security Team; and A's triage clock (1h) has
    // breached too, and so has B's (acknowledged, never contained).
    clock.set(t0 + Duration::minutes(75));
    let s = check.check().await.unwrap();
    assert_eq!((s.overdue, s.breached, s.escalated), (2, 2, 1));
    let messages = sla_messages(store.as_ref()).await;
    assert_eq!(messages.len(), 4);
    let escalated: Vec<&OutboxMessage> = messages
        .iter()
        .filter(|m| m.kind == OutboxKind::SlaEscalated)
        .collect();
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0].incident_id, Some(a));
    assert!(
        escalated[0]
            .payload
            .change()
            .starts_with("SLA escalated: the acknowledge clock (15m) was due "),
        "{}",
        escalated[0].payload.change()
    );
    assert_eq!(
        destinations(escalated[0]),
        [
            Destination::Email(Recipient::SecurityTeam),
            Destination::Email(Recipient::FinanceOps)
        ]
    );
    let taken: Vec<(IncidentId, SlaClock, EscalationStep)> = store
        .list_sla_escalations(&system, Some(a))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.incident_id, e.clock, e.step))
        .collect();
    assert_eq!(
        taken,
        [
            (a, SlaClock::Acknowledge, EscalationStep::Breached),
            (a, SlaClock::Acknowledge, EscalationStep::Escalated),
            (a, SlaClock::Triage, EscalationStep::Breached),
        ]
    );

    // Six days on, the third-party report's acknowledge clock (1 business
    // day, at most three calendar days) has breached; B, acknowledged in
    // time, never breaches its acknowledge clock.
    clock.set(reported_c + Duration::days(6));
    check.check().await.unwrap();
    let of_c: Vec<(SlaClock, EscalationStep)> = store
        .list_sla_escalations(&system, Some(c))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.clock, e.step))
        .collect();
    assert!(
        of_c.contains(&(SlaClock::Acknowledge, EscalationStep::Breached)),
        "{of_c:?}"
    );
    let of_b: Vec<SlaClock> = store
        .list_sla_escalations(&system, Some(b))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.clock)
        .collect();
    assert!(!of_b.contains(&SlaClock::Acknowledge), "{of_b:?}");
    assert!(of_b.contains(&SlaClock::Triage), "{of_b:?}");
    // No SLA notice ever reached a shared destination.
    for m in sla_messages(store.as_ref()).await {
        assert!(destinations(&m).iter().all(|d| !d.is_shared()), "{m:?}");
    }
}

#[tokio::test]
async fn a_third_party_report_waits_for_business_time_not_sev3_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path()).await;
    let system = Viewer::system();
    let web = store
        .file_report(
            &system,
            NewReport {
                channel: Channel::Email,
                category: Category::AccountAbuse,
                description: "odd mail".into(),
                occurred_at: None,
                location: None,
                sensitive: false,
                anonymous: true,
                attachments: vec![],
            },
        )
        .await
        .unwrap();
    let third = store
        .file_report(
            &system,
            NewReport {
                channel: Channel::ThirdParty,
                category: Category::AccountAbuse,
                description: "your domain sends phish".into(),
                occurred_at: None,
                location: None,
                sensitive: false,
                anonymous: true,
                attachments: vec![],
            },
        )
        .await
        .unwrap();
    let reported = store
        .get_incident(&system, third.incident_id)
        .await
        .unwrap()
        .incident
        .times
        .reported_at;
    // Four hours and a minute later: the email report's SEV3 acknowledge
    // target (4h) has passed; one business day (8 business hours) cannot
    // have.
    let clock = TestClock::new(reported + Duration::minutes(4 * 60 + 1));
    let s = checker(&store, &clock).check().await.unwrap();
    assert_eq!((s.overdue, s.breached), (1, 1));
    let messages = sla_messages(store.as_ref()).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].incident_id, Some(web.incident_id));
}

#[test]
fn the_sla_table_is_read_and_checked() {
    let text = r#"
[sla]
check_every = "30s"
second_after = "2 business hours"

[sla.business_hours]
time_zone = "America/New_York"
days = ["mon", "tue", "wed", "thu"]
start = "08:30"
end = "16:00"
holidays = ["2026-12-24"]

[[sla.target]]
source = "third-party"
acknowledge = "1 business day"
triage = "5 business days"

[[sla.target]]
severity = "SEV1"
category = "security_incident"
acknowledge = "10m"
"#;
    let config = Config::parse(Path::new("watchpost.toml"), text).unwrap();
    let settings = config.sla.unwrap().settings().unwrap();
    assert_eq!(settings.check_every, std::time::Duration::from_secs(30));
    assert_eq!(settings.second_after, SlaDuration::BusinessHours(2));
    assert_eq!(settings.policy.targets.len(), 2);
    assert_eq!(
        settings.policy.target_for(
            SlaClock::Acknowledge,
            &[],
            Severity::Sev1,
            Category::SecurityIncident
        ),
        Some(SlaDuration::Minutes(10))
    );
    // Configured targets replace the defaults: no SEV2 target now.
    assert_eq!(
        settings.policy.target_for(
            SlaClock::Acknowledge,
            &[],
            Severity::Sev2,
            Category::SecurityIncident
        ),
        None
    );
    // 07:30 day length: 1 business day = 7h30.
    assert_eq!(settings.policy.hours.day_length(), Duration::minutes(450));

    // No table at all: the defaults.
    let settings = SlaConfig::default().settings().unwrap();
    assert_eq!(settings.check_every, std::time::Duration::from_secs(60));
    assert_eq!(settings.second_after, SlaDuration::Minutes(60));
    assert_eq!(
        settings.policy.target_for(
            SlaClock::Acknowledge,
            &[],
            Severity::Sev2,
            Category::SecurityIncident
        ),
        Some(SlaDuration::Minutes(60))
    );
}

#[test]
fn bad_sla_settings_are_refused_with_their_key() {
    let bad_duration = "[[sla.target]]\nseverity = \"SEV1\"\nacknowledge = \"15 fortnights\"\n";
    let error = Config::parse(Path::new("watchpost.toml"), bad_duration)
        .unwrap_err()
        .to_string();
    assert!(error.contains("watchpost.toml"), "{error}");
    assert!(error.contains("watchpost.toml:3:"), "{error}");
    assert!(error.contains("the unit is unknown"), "{error}");

    let unknown_key = "[sla]\ncheck_evry = \"1m\"\n";
    let error = Config::parse(Path::new("watchpost.toml"), unknown_key)
        .unwrap_err()
        .to_string();
    assert!(error.contains("check_evry"), "{error}");

    let bad_zone = "[sla.business_hours]\ntime_zone = \"Mars/Olympus\"\n";
    let config = Config::parse(Path::new("watchpost.toml"), bad_zone).unwrap();
    let error = format!("{:#}", config.sla.unwrap().settings().unwrap_err());
    assert_eq!(
        error,
        "sla.business_hours: invalid business hours time_zone \"Mars/Olympus\": not a known IANA time zone name (e.g. Europe/London)"
    );

    let zero = "[sla]\ncheck_every = \"0s\"\n";
    let config = Config::parse(Path::new("watchpost.toml"), zero).unwrap();
    let error = format!("{:#}", config.sla.unwrap().settings().unwrap_err());
    assert_eq!(error, "sla.check_every must be more than 0");
}
