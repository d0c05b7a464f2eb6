//! SLA escalation: a periodic check of the open incidents' SLA clocks
//! (`[sla]`), run by `watchpost serve` like the monitors.
//!
//! Each check reads the time from its [`Clock`] (the system clock in
//! production; tests drive it), evaluates every open incident's clocks
//! with the configured [`SlaPolicy`] and, for each clock running past its
//! deadline, takes escalation step 1 (an `sla_breached` notice to the
//! Security Team) and, once `second_after` has passed since the deadline
//! with the clock still running, step 2 (`sla_escalated` to finance-ops and
//! the Security Team). The store takes each step of each clock at most
//! once (`sla_escalations` has a unique key), so two checks racing, or a
//! restart, never send a notice twice.
//!
//! Must not: decide who is told (the notify crate's recipients do), or
//! read the wall clock other than through its [`Clock`].

use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use incidents::access::Viewer;
use incidents::{
    BusinessHours, ClockState, EscalationStep, IncidentFilter, PageRequest, SlaDuration, SlaPolicy,
    SlaTarget, Status, Store,
};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where a check reads the time.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// `[sla]`: SLA targets, business hours and escalation. Every key has a
/// default; see docs/sla.md.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// How often the open incidents' clocks are checked (`30s`, `1m`, ...;
    /// default `60s`, more than 0).
    pub check_every: Option<String>,
    /// How long after a clock's deadline, with the clock still running, the
    /// second contact is told (same forms as a target: `"1h"`,
    /// `"1 business day"`; default `"1h"`).
    pub second_after: Option<SlaDuration>,
    /// When business time runs, for business-hours and business-day
    /// durations (default Monday to Friday, 09:00 to 17:00 UTC).
    pub business_hours: Option<BusinessHoursConfig>,
    /// The targets (`[[sla.target]]`); none configured means the built-in
    /// defaults (see docs/sla.md).
    #[serde(default)]
    pub target: Vec<SlaTarget>,
}

/// `[sla.business_hours]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursConfig {
    /// An IANA time zone name, e.g. `Europe/London` (default `UTC`).
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// Working days: `mon` .. `sun` (default Monday to Friday).
    #[serde(default = "default_days")]
    pub days: Vec<String>,
    /// Opening time, `HH:MM` (default `09:00`).
    #[serde(default = "default_start")]
    pub start: String,
    /// Closing time, `HH:MM`, after `start` (default `17:00`).
    #[serde(default = "default_end")]
    pub end: String,
    /// Dates with no business time, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

fn default_zone() -> String {
    "UTC".to_owned()
}
fn default_days() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"]
        .map(str::to_owned)
        .to_vec()
}
fn default_start() -> String {
    "09:00".to_owned()
}
fn default_end() -> String {
    "17:00".to_owned()
}

/// The default check interval.
pub const DEFAULT_CHECK_EVERY: StdDuration = StdDuration::from_secs(60);

/// `[sla]` checked and ready to use.
#[derive(Debug, Clone)]
pub struct SlaSettings {
    /// Targets and business hours.
    pub policy: SlaPolicy,
    /// Time between checks.
    pub check_every: StdDuration,
    /// Time from a deadline to step 2.
    pub second_after: SlaDuration,
}

impl SlaConfig {
    /// Checks the table: the interval, the business hours, and the targets
    /// (the defaults when none are configured). Errors name the key.
    pub fn settings(&self) -> anyhow::Result<SlaSettings> {
        let check_every = match &self.check_every {
            None => DEFAULT_CHECK_EVERY,
            Some(text) => monitor::duration::parse_duration(text).context("sla.check_every")?,
        };
        if check_every.is_zero() {
            anyhow::bail!("sla.check_every must be more than 0");
        }
        let hours = match &self.business_hours {
            None => BusinessHours::default(),
            Some(h) => BusinessHours::new(&h.time_zone, &h.days, &h.start, &h.end, &h.holidays)
                .context("sla.business_hours")?,
        };
        let targets = if self.target.is_empty() {
            incidents::sla::default_targets()
        } else {
            self.target.clone()
        };
        Ok(SlaSettings {
            policy: SlaPolicy { targets, hours },
            check_every,
            second_after: self.second_after.unwrap_or(SlaDuration::Minutes(60)),
        })
    }
}

/// What one check found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Open incidents looked at.
    pub incidents: u64,
    /// Of them, with a clock running past its deadline.
    pub overdue: u64,
    /// Step 1 escalations taken now.
    pub breached: u64,
    /// Step 2 escalations taken now.
    pub escalated: u64,
}

/// Checks the open incidents' clocks and takes the escalation steps due.
#[derive(Clone)]
pub struct Checker {
    store: Arc<dyn Store>,
    policy: SlaPolicy,
    second_after: SlaDuration,
    clock: Clock,
}

/// Open incidents read per page.
const PAGE: u32 = 500;

impl Checker {
    /// A checker over `store` with `settings`, reading the time from `clock`.
    pub fn new(store: Arc<dyn Store>, settings: &SlaSettings, clock: Clock) -> Self {
        Checker {
            store,
            policy: settings.policy.clone(),
            second_after: settings.second_after,
            clock,
        }
    }

    /// One check at the clock's time.
    pub async fn check(&self) -> anyhow::Result<CheckSummary> {
        let now = (self.clock)();
        let system = Viewer::system();
        let filter = IncidentFilter {
            status: Status::ALL
                .iter()
                .copied()
                .filter(|s| s.is_open())
                .collect(),
            ..IncidentFilter::default()
        };
        let mut summary = CheckSummary::default();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_incidents(
                    &system,
                    &filter,
                    &PageRequest {
                        limit: Some(PAGE),
                        cursor: cursor.take(),
                    },
                )
                .await
                .context("listing open incidents")?;
            let ids: Vec<_> = page.items.iter().map(|i| i.id).collect();
            let sources = self
                .store
                .incident_sources(&system, &ids)
                .await
                .context("reading incident sources")?;
            for incident in &page.items {
                summary.incidents += 1;
                let from = sources
                    .iter()
                    .find(|(id, _)| *id == incident.id)
                    .map(|(_, s)| s.as_slice())
                    .unwrap_or_default();
                let sla = self.policy.evaluate(incident, from, now);
                if sla.is_overdue() {
                    summary.overdue += 1;
                }
                for clock in sla
                    .clocks
                    .iter()
                    .filter(|c| c.state == ClockState::Breached)
                {
                    if self
                        .store
                        .record_sla_escalation(
                            &system,
                            incident.id,
                            clock,
                            EscalationStep::Breached,
                            now,
                        )
                        .await
                        .context("recording an SLA breach")?
                    {
                        summary.breached += 1;
                        tracing::info!(incident = %incident.id, clock = %clock.clock, "SLA breached");
                    }
                    let second = self.second_after.deadline(clock.due, &self.policy.hours);
                    if second.is_some_and(|at| now >= at)
                        && self
                            .store
                            .record_sla_escalation(
                                &system,
                                incident.id,
                                clock,
                                EscalationStep::Escalated,
                                now,
                            )
                            .await
                            .context("recording an SLA escalation")?
                    {
                        summary.escalated += 1;
                        tracing::info!(incident = %incident.id, clock = %clock.clock, "SLA escalated");
                    }
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(summary)
    }
}

/// The running SLA check.
pub struct SlaTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SlaTask {
    /// Starts checking every `every` (the first check at once). Must be
    /// called inside a Tokio runtime.
    pub fn start(checker: Checker, every: StdDuration) -> SlaTask {
        let (stop, mut stopping) = watch::channel(false);
        tracing::info!(?every, "SLA check started");
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopping.wait_for(|s| *s) => break,
                }
                if let Err(error) = checker.check().await {
                    tracing::warn!(error = format!("{error:#}"), "SLA check failed");
                }
            }
        });
        SlaTask { stop, task }
    }

    /// Stops the task (a check in progress ends first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the SLA task failed");
        }
    }
}
