//! SLA clocks: how long an incident may wait to be acknowledged, triaged
//! and resolved, and whether it is on time. Pure domain: no IO and no clock
//! reads (`now` is always a parameter), so the arithmetic is unit-tested
//! here with hand-computed deadlines.
//!
//! - Three clocks ([`SlaClock`]) start when the incident was reported
//!   (`times.reported_at`):
//!   - `acknowledge` stops at `times.acknowledged_at` (the first move out
//!     of `triage`);
//!   - `triage` stops at `times.contained_at`: the lifecycle has no
//!     "triaged" status, so triage counts as done once the incident is
//!     understood well enough to be contained (`contained` or a later
//!     phase);
//!   - `resolve` stops at `times.resolved_at` (`recovered` or `closed`).
//!
//!   Every clock also stops at `times.closed_at` (closed, declined or
//!   merged): a finished incident has nothing left running.
//! - Targets ([`SlaTarget`]) name a duration per clock for the incidents
//!   they match by source, severity and category. Per clock the most
//!   specific matching target that sets that clock wins (see
//!   [`SlaPolicy::target_for`]).
//! - Durations ([`SlaDuration`]) are wall clock (`"15m"`, `"4h"`,
//!   `"2d"`) or business time (`"4 business hours"`, `"1 business day"`),
//!   counted in [`BusinessHours`] (a time zone, working days, opening
//!   hours and holidays; daylight-saving changes follow the zone).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::civil;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::enums::{Category, Severity, Source};
use crate::incident::Incident;

/// A bad SLA setting, with the value and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    /// A duration that does not parse.
    #[error(
        "invalid SLA duration {value:?}: {reason} (write e.g. \"15m\", \"4h\", \"2d\", \"4 business hours\" or \"1 business day\")"
    )]
    Duration {
        /// The text given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A business-hours setting that does not parse or does not fit.
    #[error("invalid business hours {field} {value:?}: {reason}")]
    BusinessHours {
        /// The setting (`time_zone`, `days`, `start`, `end`, `holidays`).
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// One of the three SLA clocks of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaClock {
    /// From reported to acknowledged.
    Acknowledge,
    /// From reported to contained (triage done).
    Triage,
    /// From reported to resolved.
    Resolve,
}

impl SlaClock {
    /// Every clock, in lifecycle order.
    pub const ALL: [SlaClock; 3] = [Self::Acknowledge, Self::Triage, Self::Resolve];

    /// The stable name (stored in `sla_escalations.clock`, used in the API
    /// and the metrics' labels).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Triage => "triage",
            Self::Resolve => "resolve",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// When this clock stopped for `incident`, if it has.
    pub fn stopped_at(self, incident: &Incident) -> Option<OffsetDateTime> {
        let t = &incident.times;
        let own = match self {
            Self::Acknowledge => t.acknowledged_at,
            Self::Triage => t.contained_at,
            Self::Resolve => t.resolved_at,
        };
        match (own, t.closed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl fmt::Display for SlaClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most units a duration may have (about 27 years of minutes is far
/// past any target; this only keeps arithmetic in range).
const MAX_UNITS: u32 = 100_000;

/// How long a clock may run: wall-clock time, or time counted only in
/// [`BusinessHours`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SlaDuration {
    /// Wall-clock minutes (`"15m"`, `"4h"` and `"2d"` are all minutes).
    Minutes(u32),
    /// Business hours (`"4 business hours"`).
    BusinessHours(u32),
    /// Business days (`"1 business day"`): each is one working day's
    /// opening hours (`end − start`), so a Friday 16:00 report plus one
    /// business day of 09:00–17:00 is due Monday 16:00.
    BusinessDays(u32),
}

impl SlaDuration {
    /// The deadline of a clock started at `start` with this duration, or
    /// `None` when business time never comes (see [`BusinessHours::add`]).
    pub fn deadline(self, start: OffsetDateTime, hours: &BusinessHours) -> Option<OffsetDateTime> {
        match self {
            Self::Minutes(m) => Some(start + Duration::minutes(i64::from(m))),
            Self::BusinessHours(h) => hours.add(start, Duration::hours(i64::from(h))),
            Self::BusinessDays(d) => hours.add(
                start,
                hours.day_length() * i32::try_from(d).unwrap_or(i32::MAX),
            ),
        }
    }
}

impl FromStr for SlaDuration {
    type Err = SlaError;

    fn from_str(s: &str) -> Result<Self, SlaError> {
        let err = |reason| SlaError::Duration {
            value: s.to_owned(),
            reason,
        };
        let text = s.trim().to_ascii_lowercase();
        let words: Vec<&str> = text.split_whitespace().collect();
        let (number, unit): (&str, String) = match words.as_slice() {
            [] => return Err(err("it is empty")),
            [one] => {
                let split = one
                    .find(|c: char| !c.is_ascii_digit())
                    .ok_or_else(|| err("it has no unit"))?;
                (&one[..split], one[split..].to_owned())
            }
            [n, unit] => (n, (*unit).to_owned()),
            [n, "business", unit] => (n, format!("business {unit}")),
            _ => return Err(err("it is not a number and a unit")),
        };
        if number.is_empty() {
            return Err(err("it does not start with a number"));
        }
        let n: u32 = number
            .parse()
            .map_err(|_| err("the number is not a whole number"))?;
        if n == 0 {
            return Err(err("the number must be at least 1"));
        }
        let scaled = |per: u32| {
            n.checked_mul(per)
                .filter(|m| *m <= MAX_UNITS * 60)
                .ok_or_else(|| err("it is too long"))
        };
        if n > MAX_UNITS {
            return Err(err("it is too long"));
        }
        match unit.as_str() {
            "m" | "min" | "mins" | "minute" | "minutes" => Ok(Self::Minutes(n)),
            "h" | "hour" | "hours" => Ok(Self::Minutes(scaled(60)?)),
            "d" | "day" | "days" => Ok(Self::Minutes(scaled(24 * 60)?)),
            "business hour" | "business hours" => Ok(Self::BusinessHours(n)),
            "business day" | "business days" => Ok(Self::BusinessDays(n)),
            _ => Err(err("the unit is unknown")),
        }
    }
}

impl TryFrom<String> for SlaDuration {
    type Error = SlaError;
    fn try_from(s: String) -> Result<Self, SlaError> {
        s.parse()
    }
}

impl From<SlaDuration> for String {
    fn from(d: SlaDuration) -> String {
        d.to_string()
    }
}

impl fmt::Display for SlaDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u32| if n == 1 { "" } else { "s" };
        match *self {
            Self::Minutes(m) if m % (24 * 60) == 0 => write!(f, "{}d", m / (24 * 60)),
            Self::Minutes(m) if m % 60 == 0 => write!(f, "{}h", m / 60),
            Self::Minutes(m) => write!(f, "{m}m"),
            Self::BusinessHours(h) => write!(f, "{h} business hour{}", plural(h)),
            Self::BusinessDays(d) => write!(f, "{d} business day{}", plural(d)),
        }
    }
}

/// The most days [`BusinessHours::add`] looks ahead for working time.
const MAX_DAYS_AHEAD: u32 = 3660;

/// When business time runs: working days, opening hours in a time zone,
/// and holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    zone: TimeZone,
    /// Working weekdays, Monday first.
    days: [bool; 7],
    start: civil::Time,
    end: civil::Time,
    holidays: BTreeSet<civil::Date>,
}

impl Default for BusinessHours {
    /// Monday to Friday, 09:00 to 17:00 UTC, no holidays.
    fn default() -> Self {
        BusinessHours {
            zone: TimeZone::UTC,
            days: [true, true, true, true, true, false, false],
            start: civil::time(9, 0, 0, 0),
            end: civil::time(17, 0, 0, 0),
            holidays: BTreeSet::new(),
        }
    }
}

/// The short day names, Monday first.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses `HH:MM` (24-hour clock).
fn parse_hhmm(field: &'static str, value: &str) -> Result<civil::Time, SlaError> {
    let err = |reason| SlaError::BusinessHours {
        field,
        value: value.to_owned(),
        reason,
    };
    let (h, m) = value
        .split_once(':')
        .ok_or_else(|| err("write the time as HH:MM, e.g. 09:00"))?;
    let h: i8 = h.parse().map_err(|_| err("the hour is not a number"))?;
    let m: i8 = m.parse().map_err(|_| err("the minute is not a number"))?;
    if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
        return Err(err("the hour must be 00-23 and the minute 00-59"));
    }
    Ok(civil::time(h, m, 0, 0))
}

impl BusinessHours {
    /// Business hours from their settings: an IANA time zone name (e.g.
    /// `America/New_York`), working days (`mon`..`sun`), opening and
    /// closing times (`HH:MM`, closing after opening) and holidays
    /// (`YYYY-MM-DD`).
    pub fn new(
        time_zone: &str,
        days: &[String],
        start: &str,
        end: &str,
        holidays: &[String],
    ) -> Result<Self, SlaError> {
        let zone = TimeZone::get(time_zone.trim()).map_err(|_| SlaError::BusinessHours {
            field: "time_zone",
            value: time_zone.to_owned(),
            reason: "not a known IANA time zone name (e.g. Europe/London)",
        })?;
        let mut working = [false; 7];
        for day in days {
            let i = DAY_NAMES
                .iter()
                .position(|d| d.eq_ignore_ascii_case(day.trim()))
                .ok_or_else(|| SlaError::BusinessHours {
                    field: "days",
                    value: day.clone(),
                    reason: "not a day name (mon, tue, wed, thu, fri, sat, sun)",
                })?;
            working[i] = true;
        }
        if !working.contains(&true) {
            return Err(SlaError::BusinessHours {
                field: "days",
                value: days.join(","),
                reason: "at least one working day is needed",
            });
        }
        let start_t = parse_hhmm("start", start)?;
        let end_t = parse_hhmm("end", end)?;
        if end_t <= start_t {
            return Err(SlaError::BusinessHours {
                field: "end",
                value: end.to_owned(),
                reason: "closing time must be after opening time",
            });
        }
        let mut set = BTreeSet::new();
        for h in holidays {
            let date: civil::Date = h.trim().parse().map_err(|_| SlaError::BusinessHours {
                field: "holidays",
                value: h.clone(),
                reason: "not a date (YYYY-MM-DD)",
            })?;
            set.insert(date);
        }
        Ok(BusinessHours {
            zone,
            days: working,
            start: start_t,
            end: end_t,
            holidays: set,
        })
    }

    /// One working day's opening hours (`end − start`): one business day.
    pub fn day_length(&self) -> Duration {
        let secs = |t: civil::Time| {
            i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second())
        };
        Duration::seconds(secs(self.end) - secs(self.start))
    }

    /// Whether `date` is a working day (a working weekday, not a holiday).
    fn is_working(&self, date: civil::Date) -> bool {
        let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        self.days[weekday] && !self.holidays.contains(&date)
    }

    /// The instant `date` at `time` in the zone (a time skipped by a
    /// daylight-saving change moves forward by the gap).
    fn instant(&self, date: civil::Date, time: civil::Time) -> Option<OffsetDateTime> {
        let zoned = date.to_datetime(time).to_zoned(self.zone.clone()).ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(zoned.timestamp().as_nanosecond()).ok()
    }

    /// `from` plus `amount` of business time: only the opening hours of
    /// working days count (nights, closed weekdays and holidays are
    /// skipped). `from` outside opening hours starts at the next opening.
    /// `None` when no working time is found within ten years (every
    /// working day a holiday).
    pub fn add(&self, from: OffsetDateTime, amount: Duration) -> Option<OffsetDateTime> {
        if amount <= Duration::ZERO {
            return Some(from);
        }
        let ts = jiff::Timestamp::from_nanosecond(from.unix_timestamp_nanos()).ok()?;
        let mut date = ts.to_zoned(self.zone.clone()).date();
        let mut remaining = amount;
        for _ in 0..MAX_DAYS_AHEAD {
            if self.is_working(date) {
                let open = self.instant(date, self.start)?;
                let close = self.instant(date, self.end)?;
                let begin = from.max(open);
                if begin < close {
                    let available = close - begin;
                    if remaining <= available {
                        return Some(begin + remaining);
                    }
                    remaining -= available;
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// SLA durations for the incidents that match it. An unset `source`,
/// `severity` or `category` matches any; an unset clock leaves that clock
/// to other targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTarget {
    /// Matches incidents with a report from this source (e.g.
    /// `third-party`), or opened by a detection (`detection`).
    #[serde(default)]
    pub source: Option<Source>,
    /// Matches incidents of this severity (`SEV1`..`SEV4`).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Matches incidents of this category (e.g. `malware`).
    #[serde(default)]
    pub category: Option<Category>,
    /// Time to acknowledge (e.g. `"15m"`, `"1 business day"`).
    #[serde(default)]
    pub acknowledge: Option<SlaDuration>,
    /// Time to triage, i.e. to containment.
    #[serde(default)]
    pub triage: Option<SlaDuration>,
    /// Time to resolve.
    #[serde(default)]
    pub resolve: Option<SlaDuration>,
}

impl SlaTarget {
    /// The duration this target sets for `clock`.
    pub fn duration(&self, clock: SlaClock) -> Option<SlaDuration> {
        match clock {
            SlaClock::Acknowledge => self.acknowledge,
            SlaClock::Triage => self.triage,
            SlaClock::Resolve => self.resolve,
        }
    }

    /// Whether the target matches an incident with these sources, severity
    /// and category.
    fn matches(&self, sources: &[Source], severity: Severity, category: Category) -> bool {
        self.source.is_none_or(|s| sources.contains(&s))
            && self.severity.is_none_or(|s| s == severity)
            && self.category.is_none_or(|c| c == category)
    }

    /// How specific the target is: source counts 4, severity 2, category 1,
    /// so more fields always win and, between targets of as many fields,
    /// source beats severity beats category.
    fn specificity(&self) -> u8 {
        u8::from(self.source.is_some()) * 4
            + u8::from(self.severity.is_some()) * 2
            + u8::from(self.category.is_some())
    }
}

/// Whether a clock is on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Still running, before its deadline.
    Running,
    /// Still running, past its deadline: overdue.
    Breached,
    /// Stopped by its deadline.
    Met,
    /// Stopped, after its deadline.
    Missed,
}

impl ClockState {
    /// The stable name (API, pages).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Breached => "breached",
            Self::Met => "met",
            Self::Missed => "missed",
        }
    }
}

/// One clock of one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStatus {
    /// Which clock.
    pub clock: SlaClock,
    /// The target duration.
    pub target: SlaDuration,
    /// When the clock started (`reported_at`).
    pub started_at: OffsetDateTime,
    /// Its deadline.
    pub due: OffsetDateTime,
    /// When it stopped, if it has.
    pub stopped_at: Option<OffsetDateTime>,
    /// Its state at the time asked about.
    pub state: ClockState,
}

impl ClockStatus {
    /// When the deadline was passed (the deadline itself), for a breached
    /// or missed clock.
    pub fn breached_at(&self) -> Option<OffsetDateTime> {
        matches!(self.state, ClockState::Breached | ClockState::Missed).then_some(self.due)
    }
}

/// The SLA of one incident: each clock that has a target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncidentSla {
    /// The clocks with a target, in [`SlaClock::ALL`] order.
    pub clocks: Vec<ClockStatus>,
}

impl IncidentSla {
    /// The status of `clock`, if it has a target.
    pub fn clock(&self, clock: SlaClock) -> Option<&ClockStatus> {
        self.clocks.iter().find(|c| c.clock == clock)
    }

    /// Whether any clock is running past its deadline.
    pub fn is_overdue(&self) -> bool {
        self.clocks.iter().any(|c| c.state == ClockState::Breached)
    }
}

/// The SLA targets and the business hours they are counted in.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    /// The targets, in configured order.
    pub targets: Vec<SlaTarget>,
    /// Business hours for business-time durations.
    pub hours: BusinessHours,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            targets: default_targets(),
            hours: BusinessHours::default(),
        }
    }
}

/// The targets used when none are configured:
///
/// | matches | acknowledge | triage | resolve |
/// |---|---|---|---|
/// | SEV1 | 15m | 1h | 1d |
/// | SEV2 | 1h | 4h | 3 business days |
/// | SEV3 | 4h | 1 business day | 10 business days |
/// | SEV4 | 1 business day | 5 business days | 20 business days |
/// | third-party | 1 business day | 5 business days | |
/// | third-party, SEV1 | 15m | 1h | |
/// | third-party, SEV2 | 1h | 4h | |
pub fn default_targets() -> Vec<SlaTarget> {
    let d = |s: &str| s.parse::<SlaDuration>().ok();
    let t = |source, severity, ack, triage, resolve| SlaTarget {
        source,
        severity,
        category: None,
        acknowledge: d(ack),
        triage: d(triage),
        resolve: d(resolve),
    };
    let third = Some(Source::ThirdParty);
    vec![
        t(None, Some(Severity::Sev1), "15m", "1h", "1d"),
        t(None, Some(Severity::Sev2), "1h", "4h", "3 business days"),
        t(
            None,
            Some(Severity::Sev3),
            "4h",
            "1 business day",
            "10 business days",
        ),
        t(
            None,
            Some(Severity::Sev4),
            "1 business day",
            "5 business days",
            "20 business days",
        ),
        t(third, None, "1 business day", "5 business days", ""),
        t(third, Some(Severity::Sev1), "15m", "1h", ""),
        t(third, Some(Severity::Sev2), "1h", "4h", ""),
    ]
}

impl SlaPolicy {
    /// The duration of `clock` for an incident with these sources (the
    /// channels of its reports, and `detection` when alerts opened or
    /// joined it), severity and category: among the targets that match and
    /// set this clock, the most specific ([`SlaTarget`]'s specificity:
    /// source 4, severity 2, category 1, added up); between equally
    /// specific ones, the first configured.
    pub fn target_for(
        &self,
        clock: SlaClock,
        sources: &[Source],
        severity: Severity,
        category: Category,
    ) -> Option<SlaDuration> {
        let mut best: Option<(u8, SlaDuration)> = None;
        for target in &self.targets {
            let Some(d) = target.duration(clock) else {
                continue;
            };
            if !target.matches(sources, severity, category) {
                continue;
            }
            let s = target.specificity();
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, d));
            }
        }
        best.map(|(_, d)| d)
    }

    /// The duration of `clock` for an incident of `severity` that no
    /// source or category target matches: what the targets say for the
    /// severity alone (as [`SlaPolicy::target_for`] picks among the
    /// targets that name no source and no category).
    pub fn severity_target(&self, clock: SlaClock, severity: Severity) -> Option<SlaDuration> {
        let plain = SlaPolicy {
            targets: self
                .targets
                .iter()
                .filter(|t| t.source.is_none() && t.category.is_none())
                .cloned()
                .collect(),
            hours: BusinessHours::default(),
        };
        plain.target_for(clock, &[], severity, Category::Other)
    }

    /// The clocks of `incident` (whose reports came from `sources`) at
    /// `now`.
    pub fn evaluate(
        &self,
        incident: &Incident,
        sources: &[Source],
        now: OffsetDateTime,
    ) -> IncidentSla {
        let started_at = incident.times.reported_at;
        let clocks = SlaClock::ALL
            .into_iter()
            .filter_map(|clock| {
                let target =
                    self.target_for(clock, sources, incident.severity, incident.category)?;
                let due = target.deadline(started_at, &self.hours)?;
                let stopped_at = clock.stopped_at(incident);
                let state = match stopped_at {
                    Some(s) if s <= due => ClockState::Met,
                    Some(_) => ClockState::Missed,
                    None if now > due => ClockState::Breached,
                    None => ClockState::Running,
                };
                Some(ClockStatus {
                    clock,
                    target,
                    started_at,
                    due,
                    stopped_at,
                    state,
                })
            })
            .collect();
        IncidentSla { clocks }
    }
}

/// An escalation step of an overdue clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStep {
    /// Step 1: the clock breached; the Security Team is told
    /// ([`crate::OutboxKind::SlaBreached`]).
    Breached,
    /// Step 2: still overdue a while after the breach; the second contact
    /// (finance-ops and the Security Team) is told
    /// ([`crate::OutboxKind::SlaEscalated`]).
    Escalated,
}

impl EscalationStep {
    /// Both steps, in order.
    pub const ALL: [EscalationStep; 2] = [Self::Breached, Self::Escalated];

    /// The stored step number (1 or 2), also the metrics' `step` label.
    pub const fn number(self) -> i64 {
        match self {
            Self::Breached => 1,
            Self::Escalated => 2,
        }
    }

    /// The step of a stored number.
    pub fn from_number(n: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.number() == n)
    }

    /// The outbox kind of the notice this step sends.
    pub const fn outbox_kind(self) -> crate::outbox::OutboxKind {
        match self {
            Self::Breached => crate::outbox::OutboxKind::SlaBreached,
            Self::Escalated => crate::outbox::OutboxKind::SlaEscalated,
        }
    }

    /// The audit action (and notice action) of this step.
    pub const fn action(self) -> &'static str {
        match self {
            Self::Breached => "sla.breached",
            Self::Escalated => "sla.escalated",
        }
    }
}

/// An escalation that was taken (a row of `sla_escalations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEscalation {
    /// The incident.
    pub incident_id: crate::ids::IncidentId,
    /// The overdue clock.
    pub clock: SlaClock,
    /// The step taken.
    pub step: EscalationStep,
    /// The deadline that was missed.
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
    /// When the step was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A number of escalations of one clock and step (visible to the viewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EscalationCount {
    /// The clock.
    pub clock: SlaClock,
    /// The step.
    pub step: EscalationStep,
    /// How many.
    pub count: i64,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::incident::Opening;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn weekdays() -> Vec<String> {
        strings(&["mon", "tue", "wed", "thu", "fri"])
    }

    #[test]
    fn durations_parse_from_their_written_forms() {
        let table = [
            ("15m", SlaDuration::Minutes(15)),
            ("15 minutes", SlaDuration::Minutes(15)),
            ("4h", SlaDuration::Minutes(240)),
            ("1 hour", SlaDuration::Minutes(60)),
            ("2d", SlaDuration::Minutes(2880)),
            ("1 business day", SlaDuration::BusinessDays(1)),
            ("5 business days", SlaDuration::BusinessDays(5)),
            ("  5 Business Days ", SlaDuration::BusinessDays(5)),
            ("4 business hours", SlaDuration::BusinessHours(4)),
        ];
        for (text, expected) in table {
            assert_eq!(text.parse::<SlaDuration>(), Ok(expected), "{text}");
        }
        assert_eq!(SlaDuration::Minutes(240).to_string(), "4h");
        assert_eq!(SlaDuration::Minutes(15).to_string(), "15m");
        assert_eq!(SlaDuration::BusinessDays(1).to_string(), "1 business day");
        assert_eq!(SlaDuration::BusinessDays(5).to_string(), "5 business days");
    }

    #[test]
    fn bad_durations_are_refused_with_the_reason() {
        let table = [
            ("", "it is empty"),
            ("15", "it has no unit"),
            ("m", "it does not start with a number"),
            ("0m", "the number must be at least 1"),
            ("15 fortnights", "the unit is unknown"),
            ("1 business week", "the unit is unknown"),
            ("1.5h", "the unit is unknown"),
            ("-1h", "it does not start with a number"),
            ("99999999h", "it is too long"),
            ("a b c d", "it is not a number and a unit"),
        ];
        for (text, reason) in table {
            match text.parse::<SlaDuration>() {
                Err(SlaError::Duration { value, reason: r }) => {
                    assert_eq!(value, text);
                    assert_eq!(r, reason, "{text}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let message = "3 weeks".parse::<SlaDuration>().unwrap_err().to_string();
        assert!(message.starts_with("invalid SLA duration \"3 weeks\": the unit is unknown"));
    }

    #[test]
    fn a_friday_afternoon_report_plus_one_business_day_is_due_monday_afternoon() {
        let h = BusinessHours::default();
        // Friday 2026-12-04 16:00 UTC.
        let due = SlaDuration::BusinessDays(1).deadline(datetime!(2026-12-04 16:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-12-07 16:00 UTC)));
        // Saturday starts at Monday's opening.
        let due = SlaDuration::BusinessHours(2).deadline(datetime!(2026-12-05 10:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-12-07 11:00 UTC)));
        // After closing on a Wednesday: Thursday morning.
        let due = SlaDuration::BusinessHours(1).deadline(datetime!(2026-12-02 20:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-12-03 10:00 UTC)));
        // Exactly the rest of the day ends at closing.
        let due = SlaDuration::BusinessHours(8).deadline(datetime!(2026-12-02 09:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-12-02 17:00 UTC)));
        // Five business days from a Tuesday noon: next Tuesday noon.
        let due = SlaDuration::BusinessDays(5).deadline(datetime!(2026-12-01 12:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-12-08 12:00 UTC)));
        // Wall-clock time ignores business hours.
        let due = SlaDuration::Minutes(15).deadline(datetime!(2026-12-05 23:50 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-12-06 00:05 UTC)));
    }

    #[test]
    fn business_days_cross_the_us_daylight_saving_change() {
        let h = BusinessHours::new("America/New_York", &weekdays(), "09:00", "17:00", &[]).unwrap();
        // Friday 2026-03-06 16:00 EST (UTC-5) is 21:00 UTC; clocks go
        // forward on Sunday 2026-03-08; Monday 16:00 EDT (UTC-4) is 20:00
        // UTC.
        let due = SlaDuration::BusinessDays(1).deadline(datetime!(2026-03-06 21:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-03-09 20:00 UTC)));
        // And back in autumn: Friday 2026-10-30 16:00 EDT = 20:00 UTC;
        // clocks go back on Sunday 2026-11-01; Monday 16:00 EST = 21:00 UTC.
        let due = SlaDuration::BusinessDays(1).deadline(datetime!(2026-10-30 20:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-11-02 21:00 UTC)));
    }

    #[test]
    fn holidays_are_skipped() {
        let h = BusinessHours::new(
            "Europe/London",
            &weekdays(),
            "09:00",
            "17:30",
            &strings(&["2026-12-25", "2026-12-28"]),
        )
        .unwrap();
        // Thursday 2026-12-24 17:00 GMT (UTC+0), 30 minutes before closing;
        // Friday 25 and Monday 28 are holidays; one business day is 8h30,
        // so 8h remain on Tuesday 29th from 09:00: 17:00.
        let due = SlaDuration::BusinessDays(1).deadline(datetime!(2026-12-24 17:00 UTC), &h);
        assert_eq!(due, Some(datetime!(2026-12-29 17:00 UTC)));
    }

    #[test]
    fn bad_business_hours_are_refused_by_field() {
        let wd = weekdays();
        let table: [(Result<BusinessHours, SlaError>, &str, &str); 6] = [
            (
                BusinessHours::new("Mars/Olympus", &wd, "09:00", "17:00", &[]),
                "time_zone",
                "Mars/Olympus",
            ),
            (
                BusinessHours::new("UTC", &strings(&["mon", "funday"]), "09:00", "17:00", &[]),
                "days",
                "funday",
            ),
            (
                BusinessHours::new("UTC", &[], "09:00", "17:00", &[]),
                "days",
                "",
            ),
            (
                BusinessHours::new("UTC", &wd, "9am", "17:00", &[]),
                "start",
                "9am",
            ),
            (
                BusinessHours::new("UTC", &wd, "09:00", "08:00", &[]),
                "end",
                "08:00",
            ),
            (
                BusinessHours::new("UTC", &wd, "09:00", "17:00", &strings(&["25/12/2026"])),
                "holidays",
                "25/12/2026",
            ),
        ];
        for (result, field, value) in table {
            match result {
                Err(SlaError::BusinessHours {
                    field: f, value: v, ..
                }) => {
                    assert_eq!((f, v.as_str()), (field, value));
                }
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_most_specific_matching_target_wins_per_clock() {
        use Category::{SecurityIncident as Malware, Theft};
        use Severity::{Sev1, Sev3};
        use Source::{ThirdParty, Web};
        let policy = SlaPolicy::default();
        let m = |n| Some(SlaDuration::Minutes(n));
        let bd = |n| Some(SlaDuration::BusinessDays(n));
        // (clock, sources, severity, category, expected), by hand from the
        // default table.
        let table = [
            (SlaClock::Acknowledge, vec![Web], Sev1, Theft, m(15)),
            (SlaClock::Acknowledge, vec![Web], Sev3, Theft, m(240)),
            (SlaClock::Acknowledge, vec![ThirdParty], Sev3, Theft, bd(1)),
            (SlaClock::Triage, vec![ThirdParty], Sev3, Theft, bd(5)),
            (SlaClock::Acknowledge, vec![ThirdParty], Sev1, Theft, m(15)),
            (
                SlaClock::Triage,
                vec![Web, ThirdParty],
                Sev1,
                Malware,
                m(60),
            ),
            // No third-party resolve target: the severity's applies.
            (SlaClock::Resolve, vec![ThirdParty], Sev3, Theft, bd(10)),
            (SlaClock::Resolve, vec![], Sev1, Theft, m(24 * 60)),
        ];
        for (clock, sources, severity, category, expected) in table {
            assert_eq!(
                policy.target_for(clock, &sources, severity, category),
                expected,
                "{clock} {sources:?} {severity} {category}"
            );
        }

        // Configured targets: category alone loses to severity alone, two
        // fields beat one, and between equals the first listed wins.
        let t = |source, severity, category, ack: &str| SlaTarget {
            source,
            severity,
            category,
            acknowledge: ack.parse().ok(),
            triage: None,
            resolve: None,
        };
        let policy = SlaPolicy {
            targets: vec![
                t(None, None, None, "8h"),
                t(None, None, Some(Malware), "2h"),
                t(None, Some(Sev3), None, "3h"),
                t(None, Some(Sev3), None, "9h"),
                t(None, Some(Sev3), Some(Malware), "30m"),
                t(Some(ThirdParty), None, None, "1 business day"),
            ],
            hours: BusinessHours::default(),
        };
        let table = [
            (vec![Web], Severity::Sev4, Theft, m(480)),
            (vec![Web], Severity::Sev4, Malware, m(120)),
            (vec![Web], Sev3, Theft, m(180)),
            (vec![Web], Sev3, Malware, m(30)),
            (vec![ThirdParty], Sev3, Malware, bd(1)),
        ];
        for (sources, severity, category, expected) in table {
            assert_eq!(
                policy.target_for(SlaClock::Acknowledge, &sources, severity, category),
                expected,
                "{sources:?} {severity} {category}"
            );
        }
        assert_eq!(
            policy.target_for(SlaClock::Resolve, &[Web], Sev3, Theft),
            None
        );
        // The severity alone: category and source targets left out.
        assert_eq!(policy.severity_target(SlaClock::Acknowledge, Sev3), m(180));
        assert_eq!(
            policy.severity_target(SlaClock::Acknowledge, Severity::Sev4),
            m(480)
        );
        assert_eq!(
            SlaPolicy::default().severity_target(SlaClock::Acknowledge, Severity::Sev4),
            bd(1)
        );
    }

    fn incident(severity: Severity, reported_at: OffsetDateTime) -> Incident {
        Incident::open(
            Opening {
                title: "t".into(),
                description: String::new(),
                category: Category::Theft,
                severity,
                sensitive: false,
                occurred_at: None,
                detected_at: None,
                reported_at,
            },
            reported_at,
        )
    }

    #[test]
    fn clocks_run_breach_and_stop() {
        let policy = SlaPolicy::default();
        let reported = datetime!(2026-12-02 10:00 UTC);
        let mut i = incident(Severity::Sev1, reported);

        let sla = policy.evaluate(&i, &[], datetime!(2026-12-02 10:10 UTC));
        let ack = sla.clock(SlaClock::Acknowledge).unwrap();
        assert_eq!(ack.due, datetime!(2026-12-02 10:15 UTC));
        assert_eq!(ack.state, ClockState::Running);
        assert!(!sla.is_overdue());

        // Exactly at the deadline is still on time; a minute later is not.
        let sla = policy.evaluate(&i, &[], datetime!(2026-12-02 10:15 UTC));
        assert_eq!(
            sla.clock(SlaClock::Acknowledge).unwrap().state,
            ClockState::Running
        );
        let sla = policy.evaluate(&i, &[], datetime!(2026-12-02 10:16 UTC));
        let ack = sla.clock(SlaClock::Acknowledge).unwrap();
        assert_eq!(ack.state, ClockState::Breached);
        assert_eq!(ack.breached_at(), Some(datetime!(2026-12-02 10:15 UTC)));
        assert!(sla.is_overdue());

        // Acknowledged late: missed, no longer overdue; triage still runs.
        i.transition(
            Status::Investigating,
            crate::ids::UserId::SYSTEM,
            datetime!(2026-12-02 10:20 UTC),
        )
        .unwrap();
        let sla = policy.evaluate(&i, &[], datetime!(2026-12-02 10:30 UTC));
        let ack = sla.clock(SlaClock::Acknowledge).unwrap();
        assert_eq!(ack.state, ClockState::Missed);
        assert_eq!(ack.stopped_at, Some(datetime!(2026-12-02 10:20 UTC)));
        let triage = sla.clock(SlaClock::Triage).unwrap();
        assert_eq!(triage.due, datetime!(2026-12-02 11:00 UTC));
        assert_eq!(triage.state, ClockState::Running);
        assert!(!sla.is_overdue());

        // Contained in time: triage met.
        i.transition(
            Status::Contained,
            crate::ids::UserId::SYSTEM,
            datetime!(2026-12-02 10:50 UTC),
        )
        .unwrap();
        let sla = policy.evaluate(&i, &[], datetime!(2026-12-02 12:00 UTC));
        assert_eq!(sla.clock(SlaClock::Triage).unwrap().state, ClockState::Met);
        assert_eq!(
            sla.clock(SlaClock::Resolve).unwrap().state,
            ClockState::Running
        );
    }

    #[test]
    fn a_declined_incident_stops_every_clock() {
        let policy = SlaPolicy::default();
        let mut i = incident(Severity::Sev1, datetime!(2026-12-02 10:00 UTC));
        i.transition(
            Status::Declined,
            crate::ids::UserId::SYSTEM,
            datetime!(2026-12-02 10:05 UTC),
        )
        .unwrap();
        let sla = policy.evaluate(&i, &[], datetime!(2026-12-09 10:00 UTC));
        for c in &sla.clocks {
            assert_eq!(c.state, ClockState::Met, "{}", c.clock);
        }
        assert_eq!(sla.clocks.len(), 3);
    }

    #[test]
    fn clock_names_round_trip() {
        assert_eq!(SlaClock::parse("acknowledge"), Some(SlaClock::Acknowledge));
        assert_eq!(SlaClock::parse("triage"), Some(SlaClock::Triage));
        assert_eq!(SlaClock::parse("resolve"), Some(SlaClock::Resolve));
        assert_eq!(SlaClock::parse("ack"), None);
    }

    use crate::enums::Status;
}
