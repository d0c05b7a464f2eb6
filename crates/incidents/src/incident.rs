//! The [`Incident`] and its lifecycle. Pure domain: no IO, no clock (every
//! time is passed in), so the lifecycle rules are unit-tested here and the
//! store only persists what these methods decided.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::enums::{Category, Disclosure, ImpactLevel, Resolution, Severity, Status};
use crate::ids::{IncidentId, NoteId, TaskId, TimelineId, UserId};

/// A domain rule was broken; the change is refused and nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The status graph does not allow this move.
    #[error("illegal status change from {from} to {to}")]
    IllegalTransition {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
    },
    /// `merged` is reached only through a merge.
    #[error("an incident becomes merged only by merging it into another incident")]
    MergeOnly,
    /// Closing needs an impact assessment.
    #[error("closing requires an impact assessment")]
    CloseRequiresImpact,
    /// Closing needs a resolution.
    #[error("closing requires a resolution")]
    CloseRequiresResolution,
    /// A lifecycle time earlier than the time it must follow (backdating
    /// that would produce a negative duration).
    #[error("{field} ({at}) is earlier than {after_field} ({after})")]
    TimeOrder {
        /// The field being set.
        field: &'static str,
        /// Its requested value.
        at: OffsetDateTime,
        /// The field it must not precede.
        after_field: &'static str,
        /// That field's value.
        after: OffsetDateTime,
    },
    /// The incident is closed, declined or merged and can't change.
    #[error("the incident is {0} and can no longer change")]
    Terminal(Status),
    /// An incident can't be merged into itself, or into a finished incident.
    #[error("invalid merge: {0}")]
    InvalidMerge(&'static str),
    /// A field value is invalid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// Confidentiality / integrity / availability impact assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impact {
    /// Confidentiality impact.
    pub confidentiality: ImpactLevel,
    /// Integrity impact.
    pub integrity: ImpactLevel,
    /// Availability impact.
    pub availability: ImpactLevel,
    /// Affected assets (hosts, services).
    #[serde(default)]
    pub affected_assets: Vec<String>,
    /// Affected users.
    #[serde(default)]
    pub affected_users: Vec<String>,
    /// Affected data (kinds of data).
    #[serde(default)]
    pub affected_data: Vec<String>,
    /// Free-text summary.
    #[serde(default)]
    pub summary: String,
}

/// The lifecycle timestamps of an incident.
///
/// `reported_at` is when the incident entered the system (or the earlier
/// time a responder declared for a manually opened incident) and is always
/// set. `occurred_at` and `detected_at` may be backdated freely: they are
/// informational and never used as the start of a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamps {
    /// When the underlying event happened, if known.
    #[serde(with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
    /// When a detection saw it, if it came from one.
    #[serde(with = "time::serde::rfc3339::option")]
    pub detected_at: Option<OffsetDateTime>,
    /// When it was reported to us (start of TTA and TTR).
    #[serde(with = "time::serde::rfc3339")]
    pub reported_at: OffsetDateTime,
    /// First move out of triage.
    #[serde(with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    /// First time `contained` (or a later phase) was reached.
    #[serde(with = "time::serde::rfc3339::option")]
    pub contained_at: Option<OffsetDateTime>,
    /// First time `recovered` or `closed` was reached.
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// When it was closed or declined.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// An incident: the unit of response work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Id.
    pub id: IncidentId,
    /// Short title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Status; changes only through [`Incident::transition`] and
    /// [`Incident::merge_into`].
    pub status: Status,
    /// Need-to-know: see the crate docs for who can see a sensitive incident.
    pub sensitive: bool,
    /// The responder who owns it.
    pub owner: Option<UserId>,
    /// Impact assessment (required to close).
    pub impact: Option<Impact>,
    /// Resolution (required to close).
    pub resolution: Option<Resolution>,
    /// Disclosure state.
    pub disclosure: Disclosure,
    /// The incident this one was merged into.
    pub merged_into: Option<IncidentId>,
    /// Number of alerts grouped into this incident.
    pub alert_count: i64,
    /// Grouping key (`rule_id` + entity keys) of an alert-opened incident.
    pub group_key: Option<String>,
    /// Detection time of the newest grouped alert.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_alert_at: Option<OffsetDateTime>,
    /// Lifecycle times.
    pub times: Timestamps,
    /// When the row was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the row last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A status change that happened, for the timeline and the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// Previous status.
    pub from: Status,
    /// New status.
    pub to: Status,
    /// Who moved it.
    pub actor: UserId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// What a new incident is opened with. Everything else starts empty: in
/// `triage`, no owner, impact, resolution or alerts, not disclosed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Whether need-to-know was asked for (a category that is always
    /// sensitive makes it so anyway).
    pub sensitive: bool,
    /// When it happened, if known.
    pub occurred_at: Option<OffsetDateTime>,
    /// When a detection saw it, if one did.
    pub detected_at: Option<OffsetDateTime>,
    /// When it was reported (the start of TTA and TTR).
    pub reported_at: OffsetDateTime,
}

impl Incident {
    /// A new incident in `triage`, created at `now`. It is sensitive when
    /// asked for or when its category is always sensitive.
    pub fn open(opening: Opening, now: OffsetDateTime) -> Incident {
        Incident {
            id: IncidentId::new(),
            title: opening.title,
            description: opening.description,
            category: opening.category,
            severity: opening.severity,
            status: Status::Triage,
            sensitive: opening.sensitive || opening.category.always_sensitive(),
            owner: None,
            impact: None,
            resolution: None,
            disclosure: Disclosure::None,
            merged_into: None,
            alert_count: 0,
            group_key: None,
            last_alert_at: None,
            times: Timestamps {
                occurred_at: opening.occurred_at,
                detected_at: opening.detected_at,
                reported_at: opening.reported_at,
                acknowledged_at: None,
                contained_at: None,
                resolved_at: None,
                closed_at: None,
            },
            created_at: now,
            updated_at: now,
        }
    }
}

impl Incident {
    /// Time to acknowledge: `acknowledged_at − reported_at`, never negative.
    pub fn tta(&self) -> Option<Duration> {
        self.times
            .acknowledged_at
            .map(|a| (a - self.times.reported_at).max(Duration::ZERO))
    }

    /// Time to resolve: `resolved_at − reported_at`, never negative.
    pub fn ttr(&self) -> Option<Duration> {
        self.times
            .resolved_at
            .map(|r| (r - self.times.reported_at).max(Duration::ZERO))
    }

    /// Whether `from → to` is in the status graph (ignoring preconditions).
    ///
    /// The graph:
    /// - from an open phase (`triage`, `investigating`, `contained`,
    ///   `eradicated`, `recovered`) to any LATER phase: skipping forward is
    ///   allowed, because small incidents often go straight from triage to
    ///   recovered;
    /// - from `contained`, `eradicated` or `recovered` back to
    ///   `investigating` (containment failed, re-investigate); no other
    ///   backward move;
    /// - from any open phase to `closed` (needs impact and resolution);
    /// - from `triage` or `investigating` to `declined` (not an incident);
    /// - `merged` only through [`Incident::merge_into`];
    /// - `closed`, `declined` and `merged` are terminal; a same-status move is
    ///   refused.
    pub fn can_move(from: Status, to: Status) -> bool {
        match (from.phase(), to) {
            (None, _) => false,
            (Some(_), Status::Merged) => false,
            (Some(_), Status::Closed) => true,
            (Some(f), Status::Declined) => f <= 1,
            (Some(f), Status::Investigating) => f != 1,
            (Some(f), t) => t.phase().is_some_and(|t| t > f),
        }
    }

    /// The statuses [`Incident::transition`] may move an incident in `from`
    /// to, in [`Status::ALL`] order: the graph of [`Incident::can_move`]
    /// (preconditions such as closing's impact and resolution aside). Empty
    /// for a terminal status.
    pub fn next_statuses(from: Status) -> Vec<Status> {
        Status::ALL
            .iter()
            .copied()
            .filter(|&to| Self::can_move(from, to))
            .collect()
    }

    /// The latest lifecycle time set so far; a new lifecycle time must not
    /// precede it.
    fn latest_lifecycle_time(&self) -> (&'static str, OffsetDateTime) {
        let t = &self.times;
        let mut latest = ("reported_at", t.reported_at);
        for (name, v) in [
            ("acknowledged_at", t.acknowledged_at),
            ("contained_at", t.contained_at),
            ("resolved_at", t.resolved_at),
            ("closed_at", t.closed_at),
        ] {
            if let Some(v) = v
                && v > latest.1
            {
                latest = (name, v);
            }
        }
        latest
    }

    /// Moves the incident to `to` at time `at`, refusing illegal moves.
    ///
    /// Sets the lifecycle times: leaving triage sets `acknowledged_at`;
    /// reaching contained or a later phase sets `contained_at`; reaching
    /// recovered or closed sets `resolved_at`; closed and declined set
    /// `closed_at` (each only if unset). `at` earlier than the latest
    /// lifecycle time already recorded is refused with
    /// [`DomainError::TimeOrder`], so durations can't become negative.
    /// Closing requires [`Incident::impact`] and [`Incident::resolution`].
    pub fn transition(
        &mut self,
        to: Status,
        actor: UserId,
        at: OffsetDateTime,
    ) -> Result<Transition, DomainError> {
        let from = self.status;
        if from.is_terminal() {
            return Err(DomainError::Terminal(from));
        }
        if to == Status::Merged {
            return Err(DomainError::MergeOnly);
        }
        if !Self::can_move(from, to) {
            return Err(DomainError::IllegalTransition { from, to });
        }
        if to == Status::Closed {
            if self.impact.is_none() {
                return Err(DomainError::CloseRequiresImpact);
            }
            if self.resolution.is_none() {
                return Err(DomainError::CloseRequiresResolution);
            }
        }
        let (after_field, after) = self.latest_lifecycle_time();
        if at < after {
            return Err(DomainError::TimeOrder {
                field: "status change time",
                at,
                after_field,
                after,
            });
        }
        let t = &mut self.times;
        if from == Status::Triage && to != Status::Declined {
            t.acknowledged_at.get_or_insert(at);
        }
        if to.phase().is_some_and(|p| p >= 2) || to == Status::Closed {
            t.acknowledged_at.get_or_insert(at);
            if to != Status::Closed {
                t.contained_at.get_or_insert(at);
            }
        }
        if matches!(to, Status::Recovered | Status::Closed) {
            t.resolved_at.get_or_insert(at);
        }
        if matches!(to, Status::Closed | Status::Declined) {
            t.closed_at = Some(at);
        }
        self.status = to;
        self.updated_at = at;
        Ok(Transition {
            from,
            to,
            actor,
            at,
        })
    }

    /// Marks this incident as merged into `target` (which must be open and
    /// different). The caller moves links and participants.
    pub fn merge_into(
        &mut self,
        target: &Incident,
        actor: UserId,
        at: OffsetDateTime,
    ) -> Result<Transition, DomainError> {
        if target.id == self.id {
            return Err(DomainError::InvalidMerge(
                "an incident can't be merged into itself",
            ));
        }
        if self.status.is_terminal() {
            return Err(DomainError::Terminal(self.status));
        }
        if target.status.is_terminal() {
            return Err(DomainError::InvalidMerge("the target incident is not open"));
        }
        let from = self.status;
        let at = at.max(self.latest_lifecycle_time().1);
        self.status = Status::Merged;
        self.merged_into = Some(target.id);
        self.times.closed_at = Some(at);
        self.updated_at = at;
        Ok(Transition {
            from,
            to: Status::Merged,
            actor,
            at,
        })
    }

    /// Refuses any change to a finished incident.
    pub fn ensure_open(&self) -> Result<(), DomainError> {
        if self.status.is_terminal() {
            Err(DomainError::Terminal(self.status))
        } else {
            Ok(())
        }
    }
}

/// Validates a title: 1..=300 characters after trimming.
pub fn validate_title(title: &str) -> Result<String, DomainError> {
    let t = title.trim();
    if t.is_empty() || t.chars().count() > 300 {
        return Err(DomainError::Invalid {
            field: "title",
            reason: "must be 1 to 300 characters".into(),
        });
    }
    Ok(t.to_owned())
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Id.
    pub id: TimelineId,
    /// The incident.
    pub incident_id: IncidentId,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who did it (the system actor for automatic entries).
    pub actor: UserId,
    /// Machine-readable kind (`opened`, `status`, `note`, `alert`, ...).
    pub kind: String,
    /// Human-readable message.
    pub message: String,
}

/// A note on an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Id.
    pub id: NoteId,
    /// The incident.
    pub incident_id: IncidentId,
    /// Author.
    pub author: UserId,
    /// Text.
    pub body: String,
    /// When written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A remediation task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// The incident.
    pub incident_id: IncidentId,
    /// What to do.
    pub title: String,
    /// Who does it.
    pub owner: Option<UserId>,
    /// Due date.
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    /// Done?
    pub done: bool,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn incident(at: OffsetDateTime) -> Incident {
        Incident {
            id: IncidentId::new(),
            title: "t".into(),
            description: String::new(),
            category: Category::Theft,
            severity: Severity::Sev3,
            status: Status::Triage,
            sensitive: false,
            owner: None,
            impact: None,
            resolution: None,
            disclosure: Disclosure::None,
            merged_into: None,
            alert_count: 0,
            group_key: None,
            last_alert_at: None,
            times: Timestamps {
                occurred_at: None,
                detected_at: None,
                reported_at: at,
                acknowledged_at: None,
                contained_at: None,
                resolved_at: None,
                closed_at: None,
            },
            created_at: at,
            updated_at: at,
        }
    }

    fn impact() -> Impact {
        Impact {
            confidentiality: ImpactLevel::Low,
            integrity: ImpactLevel::None,
            availability: ImpactLevel::None,
            affected_assets: vec![],
            affected_users: vec![],
            affected_data: vec![],
            summary: "s".into(),
        }
    }

    /// Every (from, to) pair of statuses, checked against the documented
    /// graph, with preconditions satisfied so only the graph decides.
    #[test]
    fn an_opened_incident_starts_in_triage_and_sensitive_categories_stay_sensitive() {
        let at = datetime!(2026-11-30 12:00 UTC);
        let opening = |category, sensitive| Opening {
            title: "t".into(),
            description: "d".into(),
            category,
            severity: Severity::Sev2,
            sensitive,
            occurred_at: None,
            detected_at: Some(at),
            reported_at: at,
        };
        // (category, sensitive asked for, sensitive), by hand.
        for (category, asked, expected) in [
            (Category::Theft, false, false),
            (Category::Theft, true, true),
            (Category::Harassment, false, true),
            (Category::PhysicalInjury, false, true),
            (Category::SecurityIncident, false, false),
        ] {
            let i = Incident::open(opening(category, asked), at);
            assert_eq!(i.sensitive, expected, "{category}");
            assert_eq!(i.status, Status::Triage);
            assert_eq!(i.severity, Severity::Sev2);
            assert_eq!(
                (i.owner, i.alert_count, i.disclosure),
                (None, 0, Disclosure::None)
            );
            assert_eq!(i.times.detected_at, Some(at));
            assert_eq!(i.times.acknowledged_at, None);
            assert_eq!((i.created_at, i.updated_at), (at, at));
        }
    }

    #[test]
    fn every_status_pair_follows_the_graph() {
        use Status::*;
        let legal: &[(Status, Status)] = &[
            (Triage, Investigating),
            (Triage, Contained),
            (Triage, Eradicated),
            (Triage, Recovered),
            (Triage, Closed),
            (Triage, Declined),
            (Investigating, Contained),
            (Investigating, Eradicated),
            (Investigating, Recovered),
            (Investigating, Closed),
            (Investigating, Declined),
            (Contained, Investigating),
            (Contained, Eradicated),
            (Contained, Recovered),
            (Contained, Closed),
            (Eradicated, Investigating),
            (Eradicated, Recovered),
            (Eradicated, Closed),
            (Recovered, Investigating),
            (Recovered, Closed),
        ];
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        for &from in Status::ALL {
            for &to in Status::ALL {
                let mut i = incident(t0);
                i.status = from;
                i.impact = Some(impact());
                i.resolution = Some(Resolution::FalsePositive);
                let r = i.transition(to, UserId::SYSTEM, t0 + Duration::hours(1));
                assert_eq!(
                    r.is_ok(),
                    legal.contains(&(from, to)),
                    "{from} -> {to}: {r:?}"
                );
                if r.is_ok() {
                    assert_eq!(i.status, to);
                } else {
                    assert_eq!(i.status, from, "a refused move must not change status");
                }
            }
        }
    }

    /// The moves offered from each status, written out by hand.
    #[test]
    fn next_statuses_from_each_status() {
        use Status::*;
        let table: &[(Status, &[Status])] = &[
            (
                Triage,
                &[
                    Investigating,
                    Contained,
                    Eradicated,
                    Recovered,
                    Closed,
                    Declined,
                ],
            ),
            (
                Investigating,
                &[Contained, Eradicated, Recovered, Closed, Declined],
            ),
            (Contained, &[Investigating, Eradicated, Recovered, Closed]),
            (Eradicated, &[Investigating, Recovered, Closed]),
            (Recovered, &[Investigating, Closed]),
            (Closed, &[]),
            (Declined, &[]),
            (Merged, &[]),
        ];
        assert_eq!(table.len(), Status::ALL.len());
        for (from, expected) in table {
            assert_eq!(Incident::next_statuses(*from), *expected, "from {from}");
        }
    }

    #[test]
    fn closing_needs_impact_then_resolution() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut i = incident(t0);
        assert_eq!(
            i.transition(Status::Closed, UserId::SYSTEM, t0),
            Err(DomainError::CloseRequiresImpact)
        );
        i.impact = Some(impact());
        assert_eq!(
            i.transition(Status::Closed, UserId::SYSTEM, t0),
            Err(DomainError::CloseRequiresResolution)
        );
        i.resolution = Some(Resolution::TruePositiveNoImpact);
        i.transition(Status::Closed, UserId::SYSTEM, t0 + Duration::minutes(5))
            .unwrap();
        assert_eq!(i.ttr(), Some(Duration::minutes(5)));
        assert_eq!(i.tta(), Some(Duration::minutes(5)));
        assert_eq!(i.times.closed_at, Some(t0 + Duration::minutes(5)));
    }

    #[test]
    fn backdated_status_change_is_refused_and_metrics_never_negative() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut i = incident(t0);
        let err = i
            .transition(
                Status::Investigating,
                UserId::SYSTEM,
                t0 - Duration::hours(2),
            )
            .unwrap_err();
        assert!(matches!(err, DomainError::TimeOrder { .. }), "{err}");
        assert_eq!(i.times.acknowledged_at, None);
        i.transition(
            Status::Investigating,
            UserId::SYSTEM,
            t0 + Duration::hours(1),
        )
        .unwrap();
        let err = i
            .transition(
                Status::Contained,
                UserId::SYSTEM,
                t0 + Duration::minutes(30),
            )
            .unwrap_err();
        assert!(matches!(err, DomainError::TimeOrder { .. }), "{err}");
        // Occurred long before: does not affect durations.
        i.times.occurred_at = Some(t0 - Duration::days(30));
        assert_eq!(i.tta(), Some(Duration::hours(1)));
        // Even a row edited behind our back gives a clamped duration.
        i.times.acknowledged_at = Some(t0 - Duration::days(1));
        assert_eq!(i.tta(), Some(Duration::ZERO));
    }

    #[test]
    fn merge_rules() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut a = incident(t0);
        let b = incident(t0);
        assert!(
            a.clone()
                .merge_into(&a.clone(), UserId::SYSTEM, t0)
                .is_err()
        );
        assert_eq!(
            a.transition(Status::Merged, UserId::SYSTEM, t0),
            Err(DomainError::MergeOnly)
        );
        a.merge_into(&b, UserId::SYSTEM, t0).unwrap();
        assert_eq!(a.status, Status::Merged);
        assert_eq!(a.merged_into, Some(b.id));
        assert!(matches!(
            a.transition(Status::Investigating, UserId::SYSTEM, t0),
            Err(DomainError::Terminal(Status::Merged))
        ));
    }
}
