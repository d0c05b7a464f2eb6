//! Need-to-know as a property: random sequences of operations (file, link,
//! merge, move, dismiss, edit, role change, ...) by random actors, on
//! SQLite and PostgreSQL. The cast includes an `ingest` token (a log
//! shipper's), which is named as a participant like anyone else, and the
//! user whose role changes is sometimes made `ingest` too: either must see
//! nothing at all. After every step, for every user, everything the
//! store answers them (lists, totals, single reads, search hits and totals,
//! metrics, the audit feed) and every notice that may reach a shared
//! destination is checked against a model of the access rules written here
//! by hand:
//!
//! - what they can open, list and count is exactly what the model says
//!   they see, and a text search finds exactly the incidents whose readable
//!   text holds the term;
//! - no text they may not read, and no id of an incident they may not see,
//!   appears anywhere in any answer. Every piece of text the test writes
//!   carries a unique marker, so "appears" is a substring test. What a user
//!   once could read stays known to them (an audit entry may repeat it), so
//!   the check is against everything they were ever allowed.
//!
//! The number of sequences and steps: `WATCHPOST_PROP_CASES` (default 16 on
//! SQLite, 6 on PostgreSQL) and `WATCHPOST_PROP_STEPS` (default 24). The
//! seed of a failing sequence is in the panic message; rerun it with
//! `WATCHPOST_PROP_SEED`.

use watchpost_incidents as incidents;

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Ctx, user};
use incidents::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Where a piece of marked text lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// An incident's title or description.
    Incident(IncidentId),
    /// A report's description.
    Report(ReportId),
    /// An alert's rule title.
    Alert(AlertId),
}

#[derive(Debug, Clone)]
struct MIncident {
    sensitive: bool,
    always_sensitive: bool,
    participants: BTreeSet<UserId>,
    open: bool,
    /// Markers in the current title and description.
    text: Vec<String>,
}

#[derive(Debug, Clone)]
struct MReport {
    reporter: UserId,
    incident: IncidentId,
    sensitive: bool,
}

#[derive(Debug, Clone)]
struct MAlert {
    incident: Option<IncidentId>,
    sensitive: bool,
}

/// The model: the access rules of `crates/incidents/src/access.rs`, written
/// again from their description.
#[derive(Default)]
struct Model {
    roles: BTreeMap<UserId, Role>,
    incidents: BTreeMap<IncidentId, MIncident>,
    reports: BTreeMap<ReportId, MReport>,
    alerts: BTreeMap<AlertId, MAlert>,
    markers: Vec<(String, Place)>,
    next_marker: u32,
    /// Markers and incidents each user was ever allowed to read.
    known_text: BTreeMap<UserId, BTreeSet<String>>,
    known_incidents: BTreeMap<UserId, BTreeSet<IncidentId>>,
}

impl Model {
    fn marker(&mut self, place: Place) -> String {
        self.next_marker += 1;
        let m = format!("zq{:05}zq", self.next_marker);
        self.markers.push((m.clone(), place));
        m
    }

    fn reporters(&self, i: IncidentId) -> BTreeSet<UserId> {
        self.reports
            .values()
            .filter(|r| r.incident == i)
            .map(|r| r.reporter)
            .collect()
    }

    fn sees_all(&self, u: UserId) -> bool {
        matches!(self.roles[&u], Role::Responder | Role::FinanceOps)
    }

    fn sees_incident(&self, u: UserId, i: IncidentId) -> bool {
        let inc = &self.incidents[&i];
        let named = inc.participants.contains(&u) || self.reporters(i).contains(&u);
        match self.roles[&u] {
            Role::Responder | Role::FinanceOps => true,
            Role::Admin => !inc.sensitive || named,
            Role::Reporter => named,
            Role::Ingest => false,
        }
    }

    fn reads_incident(&self, u: UserId, i: IncidentId) -> bool {
        self.sees_incident(u, i)
            && (self.roles[&u] != Role::Reporter || self.incidents[&i].participants.contains(&u))
    }

    fn sees_report(&self, u: UserId, r: ReportId) -> bool {
        let rep = &self.reports[&r];
        if self.roles[&u] == Role::Ingest {
            return false;
        }
        rep.reporter == u
            || self.sees_all(u)
            || (self.roles[&u] == Role::Admin && self.sees_incident(u, rep.incident))
    }

    fn sees_alert(&self, u: UserId, a: AlertId) -> bool {
        let al = &self.alerts[&a];
        match self.roles[&u] {
            Role::Reporter | Role::Ingest => false,
            Role::Responder | Role::FinanceOps => true,
            Role::Admin => match al.incident {
                Some(i) => self.sees_incident(u, i),
                None => !al.sensitive,
            },
        }
    }

    fn reads_marker(&self, u: UserId, marker: &str) -> bool {
        self.markers
            .iter()
            .filter(|(m, _)| m == marker)
            .any(|(_, place)| match *place {
                Place::Incident(i) => {
                    self.reads_incident(u, i) && self.incidents[&i].text.iter().any(|t| t == marker)
                }
                Place::Report(r) => self.sees_report(u, r),
                Place::Alert(a) => self.sees_alert(u, a),
            })
    }

    /// Adds what each user may read now to what they know.
    fn learn(&mut self) {
        let users: Vec<UserId> = self.roles.keys().copied().collect();
        for u in users {
            let text: Vec<String> = self
                .markers
                .iter()
                .map(|(m, _)| m.clone())
                .filter(|m| self.reads_marker(u, m))
                .collect();
            self.known_text.entry(u).or_default().extend(text);
            let seen: Vec<IncidentId> = self
                .incidents
                .keys()
                .copied()
                .filter(|i| self.sees_incident(u, *i))
                .collect();
            self.known_incidents.entry(u).or_default().extend(seen);
        }
    }
}

struct World {
    store: std::sync::Arc<dyn Store>,
    model: Model,
    reporters: Vec<UserId>,
    responder: UserId,
    admin: UserId,
    /// The user whose role changes.
    mover: UserId,
    seen_outbox: BTreeSet<OutboxId>,
    alerts_made: u32,
}

impl World {
    fn viewer(&self, u: UserId) -> Viewer {
        Viewer::new(u, self.model.roles[&u])
    }

    fn open_incidents(&self) -> Vec<IncidentId> {
        self.model
            .incidents
            .iter()
            .filter(|(_, i)| i.open)
            .map(|(id, _)| *id)
            .collect()
    }

    /// A responder, or the admin when the admin sees every incident named.
    fn actor(&self, rng: &mut StdRng, incidents: &[IncidentId]) -> Viewer {
        if rng.random_bool(0.3)
            && incidents
                .iter()
                .all(|i| self.model.sees_incident(self.admin, *i))
        {
            self.viewer(self.admin)
        } else {
            self.viewer(self.responder)
        }
    }

    async fn step(&mut self, rng: &mut StdRng) -> String {
        let open = self.open_incidents();
        let pick = |rng: &mut StdRng, xs: &[IncidentId]| xs[rng.random_range(0..xs.len())];
        match rng.random_range(0..100) {
            0..=17 => {
                let who = self.reporters[rng.random_range(0..self.reporters.len())];
                let (category, always) = match rng.random_range(0..5) {
                    0 => (Category::Harassment, true),
                    1 => (Category::PhysicalInjury, true),
                    _ => (Category::Theft, false),
                };
                let sensitive = rng.random_bool(0.3);
                let marker = format!("zq{:05}zq", self.model.next_marker + 1);
                let r = self
                    .store
                    .file_report(
                        &self.viewer(who),
                        NewReport {
                            channel: Channel::Web,
                            category,
                            description: format!("saw {marker} near the lifts"),
                            occurred_at: None,
                            location: None,
                            sensitive,
                            anonymous: false,
                            attachments: vec![],
                        },
                    )
                    .await
                    .unwrap();
                self.model.next_marker += 1;
                self.model
                    .markers
                    .push((marker.clone(), Place::Report(r.id)));
                self.model
                    .markers
                    .push((marker.clone(), Place::Incident(r.incident_id)));
                self.model.incidents.insert(
                    r.incident_id,
                    MIncident {
                        sensitive: sensitive || always,
                        always_sensitive: always,
                        participants: BTreeSet::new(),
                        open: true,
                        text: vec![marker],
                    },
                );
                self.model.reports.insert(
                    r.id,
                    MReport {
                        reporter: who,
                        incident: r.incident_id,
                        sensitive: sensitive || always,
                    },
                );
                format!("file {category} sensitive={sensitive} by {who}")
            }
            18..=29 if !open.is_empty() => {
                let i = pick(rng, &open);
                let v = self.actor(rng, &[i]);
                let marker = self.model.marker(Place::Incident(i));
                let inc = &self.model.incidents[&i];
                let make_sensitive = match rng.random_range(0..5) {
                    0 | 2 | 3 => Some(true),
                    1 if !inc.always_sensitive && v.role == Role::Responder => Some(false),
                    _ => None,
                };
                self.store
                    .update_incident(
                        &v,
                        i,
                        IncidentPatch {
                            description: Some(format!("notes {marker}")),
                            sensitive: make_sensitive,
                            ..IncidentPatch::default()
                        },
                    )
                    .await
                    .unwrap();
                let inc = self.model.incidents.get_mut(&i).unwrap();
                // The title keeps its markers; the description is replaced.
                inc.text.truncate(1);
                inc.text.push(marker);
                if let Some(s) = make_sensitive {
                    inc.sensitive = s;
                }
                format!("edit {i} sensitive={make_sensitive:?} by {:?}", v.role)
            }
            30..=41 if !open.is_empty() && !self.model.reports.is_empty() => {
                let target = pick(rng, &open);
                // Half the time, a report whose incident is stricter than
                // the report itself: the case where moving could lower it.
                let stricter: Vec<ReportId> = self
                    .model
                    .reports
                    .iter()
                    .filter(|(_, r)| !r.sensitive && self.model.incidents[&r.incident].sensitive)
                    .map(|(id, _)| *id)
                    .collect();
                let ids: Vec<ReportId> = if !stricter.is_empty() && rng.random_bool(0.5) {
                    stricter
                } else {
                    self.model.reports.keys().copied().collect()
                };
                let r = ids[rng.random_range(0..ids.len())];
                let from = self.model.reports[&r].incident;
                let v = self.actor(rng, &[target, from]);
                if !self.model.sees_report(v.user_id, r) {
                    return "skip link".into();
                }
                self.store.link_report(&v, target, r).await.unwrap();
                if from != target {
                    let moved =
                        self.model.reports[&r].sensitive || self.model.incidents[&from].sensitive;
                    let rep = self.model.reports.get_mut(&r).unwrap();
                    rep.incident = target;
                    rep.sensitive = moved;
                    self.model.incidents.get_mut(&target).unwrap().sensitive |= moved;
                }
                format!("link report {r} from {from} to {target} by {:?}", v.role)
            }
            42..=54 if open.len() >= 2 => {
                let source = pick(rng, &open);
                let target = pick(rng, &open);
                if source == target {
                    return "skip merge".into();
                }
                let v = self.actor(rng, &[source, target]);
                self.store
                    .merge_incidents(&v, source, target)
                    .await
                    .unwrap();
                let src_sensitive = self.model.incidents[&source].sensitive;
                let both = src_sensitive || self.model.incidents[&target].sensitive;
                for rep in self.model.reports.values_mut() {
                    if rep.incident == source {
                        rep.incident = target;
                        rep.sensitive |= src_sensitive;
                    }
                }
                for al in self.model.alerts.values_mut() {
                    if al.incident == Some(source) {
                        al.incident = Some(target);
                        al.sensitive |= src_sensitive;
                    }
                }
                let moving = self.model.incidents[&source].participants.clone();
                let src = self.model.incidents.get_mut(&source).unwrap();
                src.open = false;
                src.sensitive = both;
                let tgt = self.model.incidents.get_mut(&target).unwrap();
                tgt.sensitive = both;
                if !both {
                    tgt.participants.extend(moving);
                }
                format!("merge {source} into {target} by {:?}", v.role)
            }
            55..=69 if !open.is_empty() => {
                let i = pick(rng, &open);
                // Mostly people without need-to-know: naming them is what
                // widens access.
                let users: Vec<UserId> = self
                    .model
                    .roles
                    .keys()
                    .copied()
                    .filter(|u| rng.random_bool(0.15) || !self.model.sees_all(*u))
                    .collect();
                if users.is_empty() {
                    return "skip participant".into();
                }
                let p = users[rng.random_range(0..users.len())];
                let v = self.actor(rng, &[i]);
                self.store.add_participant(&v, i, p).await.unwrap();
                self.model
                    .incidents
                    .get_mut(&i)
                    .unwrap()
                    .participants
                    .insert(p);
                format!("participant {p} on {i} by {:?}", v.role)
            }
            70..=78 => {
                self.alerts_made += 1;
                let marker = format!("zq{:05}zq", self.model.next_marker + 1);
                let out = self
                    .store
                    .ingest_alert(
                        &Viewer::system(),
                        NewAlert {
                            rule_id: format!("rule-{}", self.alerts_made),
                            rule_title: format!("rule {marker}"),
                            level: AlertLevel::High,
                            entities: BTreeMap::from([(
                                "host".to_owned(),
                                format!("h{}", self.alerts_made),
                            )]),
                            evidence: vec![serde_json::json!({ "EventID": 4625 })],
                            policy: None,
                            detected_at: time::OffsetDateTime::now_utc(),
                            key: None,
                            queue_only: false,
                            group: None,
                        },
                    )
                    .await
                    .unwrap();
                let i = out.incident_id.expect("a new rule opens an incident");
                self.model.next_marker += 1;
                self.model
                    .markers
                    .push((marker.clone(), Place::Alert(out.alert_id)));
                self.model
                    .markers
                    .push((marker.clone(), Place::Incident(i)));
                self.model.incidents.insert(
                    i,
                    MIncident {
                        sensitive: false,
                        always_sensitive: false,
                        participants: BTreeSet::new(),
                        open: true,
                        text: vec![marker],
                    },
                );
                self.model.alerts.insert(
                    out.alert_id,
                    MAlert {
                        incident: Some(i),
                        sensitive: false,
                    },
                );
                "alert".into()
            }
            79..=84 if !open.is_empty() && !self.model.alerts.is_empty() => {
                let target = pick(rng, &open);
                let ids: Vec<AlertId> = self.model.alerts.keys().copied().collect();
                let a = ids[rng.random_range(0..ids.len())];
                let al = self.model.alerts[&a].clone();
                let v = self.viewer(self.responder);
                self.store.link_alert(&v, target, a).await.unwrap();
                if al.incident != Some(target) {
                    let s = al.sensitive
                        || al
                            .incident
                            .is_some_and(|i| self.model.incidents[&i].sensitive);
                    let m = self.model.alerts.get_mut(&a).unwrap();
                    m.incident = Some(target);
                    m.sensitive = s;
                    self.model.incidents.get_mut(&target).unwrap().sensitive |= s;
                }
                format!("link alert {a} to {target}")
            }
            85..=91 => {
                let linked: Vec<AlertId> = self
                    .model
                    .alerts
                    .iter()
                    .filter(|(_, a)| a.incident.is_some())
                    .map(|(id, _)| *id)
                    .collect();
                if linked.is_empty() {
                    return "skip dismiss".into();
                }
                let a = linked[rng.random_range(0..linked.len())];
                let v = self.viewer(self.responder);
                self.store.dismiss_alert(&v, a, "noise").await.unwrap();
                let i = self.model.alerts[&a].incident.unwrap();
                let s = self.model.incidents[&i].sensitive;
                let m = self.model.alerts.get_mut(&a).unwrap();
                m.incident = None;
                m.sensitive |= s;
                format!("dismiss alert {a}")
            }
            92..=99 => {
                let admin = self.viewer(self.admin);
                if self.model.roles[&self.mover] == Role::Reporter {
                    let grant = self
                        .store
                        .request_role(&admin, self.mover, Role::FinanceOps)
                        .await
                        .unwrap();
                    self.store
                        .approve_role(
                            &self.viewer(self.responder),
                            grant.id,
                            TokenHash::of(&grant.id.to_string()),
                        )
                        .await
                        .unwrap();
                    self.model.roles.insert(self.mover, Role::FinanceOps);
                    "grant finance-ops".into()
                } else {
                    // From finance-ops, sometimes to a machine's role; from
                    // that, back to reporter.
                    let role = if self.model.roles[&self.mover] == Role::FinanceOps
                        && rng.random_bool(0.5)
                    {
                        Role::Ingest
                    } else {
                        Role::Reporter
                    };
                    self.store
                        .set_user_role(&admin, self.mover, role)
                        .await
                        .unwrap();
                    self.model.roles.insert(self.mover, role);
                    format!("mover to {role}")
                }
            }
            _ => "skip".into(),
        }
    }

    /// Checks everything every user can read against the model.
    async fn check(&mut self, context: &str) {
        let users: Vec<UserId> = self.model.roles.keys().copied().collect();
        for u in users {
            self.check_user(u, context).await;
        }
        self.check_shared_notices(context).await;
    }

    async fn check_user(&self, u: UserId, context: &str) {
        let s = &*self.store;
        let v = self.viewer(u);
        let m = &self.model;
        let who = format!("{context} / user {u} ({:?})", v.role);
        let mut seen = String::new();

        // Incidents: list, total, single reads, metrics.
        let want: BTreeSet<IncidentId> = m
            .incidents
            .keys()
            .copied()
            .filter(|i| m.sees_incident(u, *i))
            .collect();
        let listed = list_all(s, &v, &IncidentFilter::default()).await;
        assert_eq!(listed, want, "{who}: incident list");
        let total = s
            .count_incidents(&v, &IncidentFilter::default())
            .await
            .unwrap();
        assert_eq!(total, want.len() as i64, "{who}: incident total");
        for &i in m.incidents.keys() {
            match s.get_incident(&v, i).await {
                Ok(d) => {
                    assert!(want.contains(&i), "{who}: opened hidden incident {i}");
                    seen.push_str(&serde_json::to_string(&d).unwrap());
                }
                Err(StoreError::NotFound(_)) => {
                    assert!(!want.contains(&i), "{who}: cannot open visible {i}")
                }
                Err(e) => panic!("{who}: get_incident {i}: {e}"),
            }
        }
        let page = s
            .list_incidents(&v, &IncidentFilter::default(), &PageRequest::default())
            .await
            .unwrap();
        seen.push_str(&serde_json::to_string(&page).unwrap());
        if v.role != Role::Reporter {
            let now = time::OffsetDateTime::now_utc();
            let metrics = s
                .metrics(
                    &v,
                    MetricsQuery {
                        from: now - time::Duration::days(1),
                        to: now + time::Duration::days(1),
                    },
                )
                .await
                .unwrap();
            let open_visible = want.iter().filter(|i| m.incidents[i].open).count();
            assert_eq!(metrics.total.count, open_visible as i64, "{who}: metrics");
        }

        // Search: each marker finds exactly what the user reads.
        for (marker, _) in &m.markers {
            let filter = IncidentFilter {
                text: Some(marker.clone()),
                ..IncidentFilter::default()
            };
            // A reporter also finds incidents through their own reports.
            let own: BTreeSet<IncidentId> = if v.role == Role::Reporter {
                m.markers
                    .iter()
                    .filter(|(k, _)| k == marker)
                    .filter_map(|(_, place)| match *place {
                        Place::Report(r) if m.reports[&r].reporter == u => {
                            Some(m.reports[&r].incident)
                        }
                        _ => None,
                    })
                    .collect()
            } else {
                BTreeSet::new()
            };
            let want: BTreeSet<IncidentId> = m
                .incidents
                .iter()
                .filter(|(id, inc)| {
                    (inc.text.contains(marker) && m.reads_incident(u, **id)) || own.contains(id)
                })
                .map(|(id, _)| *id)
                .collect();
            let got = list_all(s, &v, &filter).await;
            assert_eq!(got, want, "{who}: search {marker}");
            let total = s.count_incidents(&v, &filter).await.unwrap();
            assert_eq!(total, want.len() as i64, "{who}: search total {marker}");
        }

        // Reports.
        let want: BTreeSet<ReportId> = m
            .reports
            .keys()
            .copied()
            .filter(|r| m.sees_report(u, *r))
            .collect();
        let mut got = BTreeSet::new();
        let mut page = PageRequest {
            limit: Some(100),
            cursor: None,
        };
        loop {
            let p = s
                .list_reports(&v, &ReportFilter::default(), &page)
                .await
                .unwrap();
            seen.push_str(&serde_json::to_string(&p).unwrap());
            got.extend(p.items.iter().map(|r| r.id));
            match p.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, want, "{who}: report list");
        for &r in m.reports.keys() {
            match s.get_report(&v, r).await {
                Ok(rep) => {
                    assert!(want.contains(&r), "{who}: opened hidden report {r}");
                    seen.push_str(&serde_json::to_string(&rep).unwrap());
                }
                Err(StoreError::NotFound(_)) => {
                    assert!(!want.contains(&r), "{who}: cannot open visible report {r}")
                }
                Err(e) => panic!("{who}: get_report {r}: {e}"),
            }
        }

        // Alerts.
        let want: BTreeSet<AlertId> = m
            .alerts
            .keys()
            .copied()
            .filter(|a| m.sees_alert(u, *a))
            .collect();
        let p = s
            .list_alerts(
                &v,
                &AlertFilter::default(),
                &PageRequest {
                    limit: Some(200),
                    cursor: None,
                },
            )
            .await
            .unwrap();
        seen.push_str(&serde_json::to_string(&p).unwrap());
        let got: BTreeSet<AlertId> = p.items.iter().map(|a| a.id).collect();
        assert_eq!(got, want, "{who}: alert list");
        for &a in m.alerts.keys() {
            match s.get_alert(&v, a).await {
                Ok(al) => {
                    assert!(want.contains(&a), "{who}: opened hidden alert {a}");
                    seen.push_str(&serde_json::to_string(&al).unwrap());
                }
                Err(StoreError::NotFound(_)) => {
                    assert!(!want.contains(&a), "{who}: cannot open visible alert {a}")
                }
                Err(e) => panic!("{who}: get_alert {a}: {e}"),
            }
        }

        // An ingest token sees no user (not even itself) and no audit entry.
        if v.role == Role::Ingest {
            assert_eq!(s.list_users(&v).await.unwrap(), vec![], "{who}: users");
            assert!(
                matches!(
                    s.list_audit(&v, 0, 1000).await,
                    Err(StoreError::Forbidden(_))
                ),
                "{who}: audit"
            );
        }

        // The audit feed.
        if matches!(v.role, Role::Admin | Role::Responder) {
            let mut after = 0;
            loop {
                let page = s.list_audit(&v, after, 1000).await.unwrap();
                let Some(last) = page.last() else { break };
                after = last.seq;
                seen.push_str(&serde_json::to_string(&page).unwrap());
            }
        }

        // Nothing in any answer they may not read.
        let known_text = &m.known_text[&u];
        for (marker, _) in &m.markers {
            if seen.contains(marker.as_str()) {
                assert!(
                    known_text.contains(marker),
                    "{who}: read {marker}, which they may not"
                );
            }
        }
        let known = &m.known_incidents[&u];
        for i in m.incidents.keys() {
            if seen.contains(&i.to_string()) {
                assert!(
                    known.contains(i),
                    "{who}: an answer names hidden incident {i}"
                );
            }
        }
    }

    /// Notices written since the last step that may reach a shared
    /// destination name no sensitive incident and carry no text of one.
    async fn check_shared_notices(&mut self, context: &str) {
        let m = &self.model;
        for msg in self
            .store
            .list_outbox(&Viewer::system(), None)
            .await
            .unwrap()
        {
            if !self.seen_outbox.insert(msg.id) || msg.sensitive {
                continue;
            }
            let text = msg.payload.to_json().to_string();
            for (id, inc) in &m.incidents {
                if inc.sensitive {
                    assert!(
                        !text.contains(&id.to_string()),
                        "{context}: shared notice names sensitive {id}: {text}"
                    );
                    for marker in &inc.text {
                        assert!(
                            !text.contains(marker.as_str()),
                            "{context}: shared notice carries {marker}"
                        );
                    }
                }
            }
        }
    }
}

async fn list_all(store: &dyn Store, v: &Viewer, filter: &IncidentFilter) -> BTreeSet<IncidentId> {
    let mut out = BTreeSet::new();
    let mut page = PageRequest {
        limit: Some(100),
        cursor: None,
    };
    loop {
        let p = store.list_incidents(v, filter, &page).await.unwrap();
        out.extend(p.items.iter().map(|i| i.id));
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return out,
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(make: impl AsyncFn() -> Ctx, default_cases: u64) {
    let cases = env_number("WATCHPOST_PROP_CASES", default_cases);
    let steps = env_number("WATCHPOST_PROP_STEPS", 24);
    let seeds: Vec<u64> = match std::env::var("WATCHPOST_PROP_SEED") {
        Ok(seed) => vec![seed.parse().expect("WATCHPOST_PROP_SEED is a number")],
        Err(_) => (0..cases).map(|c| 0x5eed_0000 + c).collect(),
    };
    let mut total_steps = 0;
    for seed in seeds {
        let ctx = make().await;
        let store = ctx.store.clone();
        let mut model = Model::default();
        let mut reporters = Vec::new();
        for name in ["r1", "r2", "r3"] {
            let u = user(&*store, name, Role::Reporter).await;
            model.roles.insert(u.id, Role::Reporter);
            reporters.push(u.id);
        }
        let mover = user(&*store, "mover", Role::Reporter).await.id;
        model.roles.insert(mover, Role::Reporter);
        let responder = user(&*store, "sam", Role::Responder).await.id;
        model.roles.insert(responder, Role::Responder);
        let finance = user(&*store, "fran", Role::FinanceOps).await.id;
        model.roles.insert(finance, Role::FinanceOps);
        let admin = user(&*store, "ada", Role::Admin).await.id;
        model.roles.insert(admin, Role::Admin);
        let shipper = user(&*store, "shipper", Role::Ingest).await.id;
        model.roles.insert(shipper, Role::Ingest);
        let mut world = World {
            store,
            model,
            reporters,
            responder,
            admin,
            mover,
            seen_outbox: BTreeSet::new(),
            alerts_made: 0,
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let mut log = Vec::new();
        for n in 0..steps {
            let what = world.step(&mut rng).await;
            log.push(what);
            world.model.learn();
            let context = format!(
                "seed {seed} step {n}; steps so far:\n  {}\n",
                log.join("\n  ")
            );
            world.check(&context).await;
            total_steps += 1;
        }
        drop(world);
        ctx.finish().await;
    }
    eprintln!("need-to-know property: {total_steps} steps checked");
    assert!(total_steps > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_nothing_readable_depends_on_hidden_data() {
    run(async || common::sqlite(StoreOptions::default()).await, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nothing_readable_depends_on_hidden_data() {
    run(async || common::postgres(StoreOptions::default()).await, 6).await;
}
