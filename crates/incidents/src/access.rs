//! Who may see and do what. Visibility is enforced inside the SQL of every
//! query through the predicates built here (one helper per kind of row), so
//! a row a viewer may not see is never read, counted or returned: it is
//! "not found", never "forbidden".
//!
//! Visibility rules:
//! - **incidents**: `responder` and `finance-ops` see all. `admin` sees
//!   non-sensitive incidents, plus sensitive ones where they are a named
//!   participant or a reporter. `reporter` sees only incidents they reported
//!   or are a named participant in; to a reporter who is not a named
//!   participant the incident is redacted ([`redact_for_reporter`]): status,
//!   category, severity and times only, under a title made from the
//!   category (never the stored title, which may quote another reporter).
//!   Text search matches only what the caller reads.
//! - **reports**: everyone sees their own; `responder`/`finance-ops` see all;
//!   `admin` sees reports of incidents they can see; a `reporter` sees
//!   nothing else, even as a participant.
//! - **alerts**: not visible to `reporter`; otherwise visible when linked
//!   to a visible incident, or unlinked and never part of a sensitive one
//!   (an alert dismissed from a sensitive incident stays sensitive).
//! - **timeline, notes, tasks**: visible when the incident is, except to a
//!   `reporter` who is not a named participant.
//! - **audit log**: `admin` and `responder` only; entries about an incident
//!   only when that incident is visible to them, and entries that name a
//!   second incident (links, merges) only when both are. Entries written
//!   while the incident was sensitive stay hidden from an admin who is not
//!   named on it, even after its sensitivity is cleared.
//! - **`ingest`** (a log shipper's token): nothing at all. It sees no
//!   incident, report, alert, note, task, timeline line, audit entry, user
//!   (not even itself) or token, even when named as a participant or
//!   owner, and every write is `Forbidden` before anything is looked up.
//!   It may only send events, which the server turns into alerts as the
//!   system actor.
//!
//! Architecture invariant: capabilities are granted by naming the roles
//! that have them ([`Viewer::is_staff`], [`Viewer::is_person`], ...), never
//! as "every role but `reporter`", so that a new role starts with nothing.

use serde::Serialize;

use crate::enums::Role;
use crate::ids::UserId;
use crate::query::Sql;

/// Who is asking. Passed to every store call (reads and writes).
///
/// Deliberately not `Deserialize`: a viewer is built from an authenticated
/// user ([`crate::Store::authenticate`]) or is [`Viewer::system`], never
/// parsed from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Viewer {
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
}

impl Viewer {
    /// A viewer for a user with a role.
    pub const fn new(user_id: UserId, role: Role) -> Self {
        Viewer { user_id, role }
    }

    /// The system actor (detection pipeline, notifier, first-start
    /// bootstrap, CLI administration with direct database access). It sees
    /// and may do everything. Never build it from a request: the web layer
    /// only builds viewers from authenticated users.
    pub const fn system() -> Self {
        Viewer {
            user_id: UserId::SYSTEM,
            role: Role::Admin,
        }
    }

    /// Whether this is [`Viewer::system`].
    pub fn is_system(&self) -> bool {
        self.user_id == UserId::SYSTEM
    }

    /// The staff: `responder`, `finance-ops`, `admin`, and the system.
    /// They see alerts and metrics, and read in full every incident they
    /// see; a `reporter` reads only what they are named on, and an
    /// `ingest` token reads nothing.
    pub fn is_staff(&self) -> bool {
        self.is_system() || matches!(self.role, Role::Responder | Role::FinanceOps | Role::Admin)
    }

    /// A person's account (every role but `ingest`), or the system actor,
    /// which acts for the people who run the server. Everything the store
    /// offers needs it: an `ingest` token is a machine's, sees nothing and
    /// is refused every write (`Forbidden`).
    pub fn is_person(&self) -> bool {
        self.is_system()
            || matches!(
                self.role,
                Role::Reporter | Role::Responder | Role::FinanceOps | Role::Admin
            )
    }

    /// May send log events to the server's intake (an `ingest` token, and
    /// only that). The system actor runs the detection pipeline itself and
    /// doesn't need it; people send reports, not events.
    pub fn can_send_events(&self) -> bool {
        !self.is_system() && self.role == Role::Ingest
    }

    /// Sees every incident, sensitive or not.
    pub(crate) fn sees_everything(&self) -> bool {
        self.is_system() || matches!(self.role, Role::Responder | Role::FinanceOps)
    }

    /// May change incidents (fields, status, owner, tasks, links, merges).
    pub fn can_manage_incidents(&self) -> bool {
        self.is_system() || matches!(self.role, Role::Responder | Role::Admin)
    }

    /// May add notes to a visible incident.
    pub fn can_add_notes(&self) -> bool {
        self.can_manage_incidents() || self.role == Role::FinanceOps
    }

    /// May add attachments to `report`, which they can see: its reporter,
    /// and the roles that may add notes (responders, admins, finance-ops).
    /// Since a reporter sees no report but their own, everyone who sees a
    /// report may add to it; the check keeps that explicit.
    pub fn can_add_attachments(&self, report: &crate::Report) -> bool {
        self.is_person() && (report.reporter == Some(self.user_id) || self.can_add_notes())
    }

    /// May see alerts at all (which ones is the SQL visibility rule's part):
    /// the staff ([`Viewer::is_staff`]), not a `reporter` or an `ingest`
    /// token.
    pub fn can_see_alerts(&self) -> bool {
        self.is_staff()
    }

    /// May ingest, promote and dismiss alerts and manage suppressions.
    pub fn can_handle_alerts(&self) -> bool {
        self.can_manage_incidents()
    }

    /// May read the response metrics (time to acknowledge and to resolve):
    /// the staff ([`Viewer::is_staff`]), not a `reporter` or an `ingest`
    /// token. The store computes metrics over what any viewer sees; the API
    /// offers them to these roles.
    pub fn can_read_metrics(&self) -> bool {
        self.is_staff()
    }

    /// May ask for a need-to-know role for someone, read the requests, and
    /// reject one: admins and responders.
    pub fn can_ask_for_roles(&self) -> bool {
        self.can_admin_users() || self.role == Role::Responder
    }

    /// May approve a need-to-know role request (the second person of the
    /// two): a responder only (and the system, on the server host).
    pub fn can_approve_roles(&self) -> bool {
        self.is_system() || self.role == Role::Responder
    }

    /// May write and approve public advisories: a responder only (and the
    /// system). Approval also needs another responder than the author, which
    /// the store checks.
    pub fn can_disclose(&self) -> bool {
        self.is_system() || self.role == Role::Responder
    }

    /// May reply by mail to a mailed report (`POST
    /// /api/v1/reports/{id}/reply`): a responder only (and the system).
    pub fn can_reply_by_mail(&self) -> bool {
        self.is_system() || self.role == Role::Responder
    }

    /// May manage users and tokens of others.
    pub fn can_admin_users(&self) -> bool {
        self.is_system() || self.role == Role::Admin
    }

    /// May read the audit log and verify it.
    pub fn can_read_audit(&self) -> bool {
        self.is_system() || matches!(self.role, Role::Admin | Role::Responder)
    }

    /// May claim and settle outbox messages.
    pub fn can_deliver(&self) -> bool {
        self.is_system()
    }
}

/// SQL predicate: incident row `alias` is visible to `v`.
pub(crate) fn incident_visible(q: &mut Sql, v: &Viewer, alias: &str) {
    if v.sees_everything() {
        q.push("1 = 1");
        return;
    }
    if !v.is_person() {
        // An ingest token sees nothing, even where it is named.
        q.push("1 = 0");
        return;
    }
    q.push("(");
    if v.role == Role::Admin {
        q.push(alias).push(".sensitive = 0 OR ");
    }
    q.push(alias)
        .push(".id IN (SELECT p.incident_id FROM incident_participants p WHERE p.user_id = ")
        .bind(v.user_id.to_string())
        .push(") OR ")
        .push(alias)
        .push(".id IN (SELECT rr.incident_id FROM reports rr WHERE rr.reporter_id = ")
        .bind(v.user_id.to_string())
        .push("))");
}

/// For viewers whose visible set is small and explicit (reporters: the
/// incidents they reported or are named in), starts the query with
/// `WITH vis AS MATERIALIZED (...)` holding those incident ids and returns
/// true; the query must then use [`incident_visible_scoped`] with `true`.
/// This keeps a reporter's list cost proportional to their own incidents,
/// whatever the planner estimates for the table.
pub(crate) fn visible_cte(q: &mut Sql, v: &Viewer) -> bool {
    // Only a reporter's set is small and explicit: the staff see by role,
    // and an ingest token sees nothing.
    let reporter = v.role == Role::Reporter && !v.is_system();
    if !reporter {
        return false;
    }
    q.push("WITH vis AS MATERIALIZED (SELECT p.incident_id AS id FROM incident_participants p WHERE p.user_id = ")
        .bind(v.user_id.to_string())
        .push(" UNION SELECT rr.incident_id FROM reports rr WHERE rr.reporter_id = ")
        .bind(v.user_id.to_string())
        .push(") ");
    true
}

/// [`incident_visible`], or membership in the `vis` CTE started by
/// [`visible_cte`] (same rows).
pub(crate) fn incident_visible_scoped(q: &mut Sql, v: &Viewer, alias: &str, cte: bool) {
    if cte {
        q.push(alias).push(".id IN (SELECT id FROM vis)");
    } else {
        incident_visible(q, v, alias);
    }
}

/// SQL predicate: report row `alias` is visible to `v`.
pub(crate) fn report_visible(q: &mut Sql, v: &Viewer, alias: &str) {
    if v.sees_everything() {
        q.push("1 = 1");
        return;
    }
    if !v.is_person() {
        q.push("1 = 0");
        return;
    }
    q.push("(")
        .push(alias)
        .push(".reporter_id = ")
        .bind(v.user_id.to_string());
    if v.is_staff() {
        q.push(" OR ");
        in_visible_incident(q, v, alias);
    }
    q.push(")");
}

/// SQL predicate: row `alias` belongs to an incident visible to `v`.
fn in_visible_incident(q: &mut Sql, v: &Viewer, alias: &str) {
    q.push(alias)
        .push(".incident_id IN (SELECT vi.id FROM incidents vi WHERE ");
    incident_visible(q, v, "vi");
    q.push(")");
}

/// SQL predicate: row `alias` belongs to no incident, or to one visible to
/// `v`.
fn unlinked_or_in_visible_incident(q: &mut Sql, v: &Viewer, alias: &str) {
    q.push("(").push(alias).push(".incident_id IS NULL OR ");
    in_visible_incident(q, v, alias);
    q.push(")");
}

/// SQL predicate: alert row `alias` is visible to `v`. An unlinked alert
/// that was once part of a sensitive incident (`sensitive`) stays visible
/// only to those who see every incident.
pub(crate) fn alert_visible(q: &mut Sql, v: &Viewer, alias: &str) {
    if v.sees_everything() {
        q.push("1 = 1");
    } else if !v.can_see_alerts() {
        q.push("1 = 0");
    } else {
        q.push("(").push(alias).push(".incident_id IS NULL AND ");
        q.push(alias).push(".sensitive = 0 OR ");
        in_visible_incident(q, v, alias);
        q.push(")");
    }
}

/// SQL predicate: audit row `alias` is visible to `v`: both incidents it
/// names (its own and, for links and merges, the related one) must be.
pub(crate) fn audit_visible(q: &mut Sql, v: &Viewer, alias: &str) {
    if !v.can_read_audit() {
        q.push("1 = 0");
    } else if v.sees_everything() {
        q.push("1 = 1");
    } else {
        unlinked_or_in_visible_incident(q, v, alias);
        // What was written while it was sensitive stays with those who were
        // named on it.
        q.push(" AND (").push(alias).push(".sensitive = 0 OR ");
        q.push(alias)
            .push(".incident_id IN (SELECT sp.incident_id FROM incident_participants sp WHERE sp.user_id = ")
            .bind(v.user_id.to_string())
            .push(") OR ")
            .push(alias)
            .push(".incident_id IN (SELECT sr.incident_id FROM reports sr WHERE sr.reporter_id = ")
            .bind(v.user_id.to_string())
            .push("))");
        q.push(" AND (")
            .push(alias)
            .push(".related_incident_id IS NULL OR ");
        q.push(alias)
            .push(".related_incident_id IN (SELECT ri.id FROM incidents ri WHERE ");
        incident_visible(q, v, "ri");
        q.push("))");
    }
}

/// Whether `v` reads an incident they see in full (description, title,
/// timeline): the staff who see it, and a `reporter` who is a named
/// participant; any other reporter reads the redacted form
/// ([`redact_for_reporter`]), and an `ingest` token nothing. The SQL form
/// for incident row `alias`; pair it with visibility.
pub(crate) fn reads_in_full(q: &mut Sql, v: &Viewer, alias: &str) {
    if v.is_staff() {
        q.push("1 = 1");
        return;
    }
    if !v.is_person() {
        q.push("1 = 0");
        return;
    }
    q.push(alias)
        .push(".id IN (SELECT np.incident_id FROM incident_participants np WHERE np.user_id = ")
        .bind(v.user_id.to_string())
        .push(")");
}

/// The title a reporter who is not a named participant reads: the
/// category alone. Titles of report-opened incidents quote the first
/// reporter's words, and staff titles may name people or other reports,
/// so no part of the stored title is shown.
pub fn redacted_title(category: crate::enums::Category) -> String {
    format!("{category} report")
}

/// What a reporter who is not a named participant may know about an
/// incident they reported: its status, category, severity and times, under
/// a title made from the category ([`redacted_title`]). Description, owner,
/// impact, resolution, grouping and merge target are cleared.
pub fn redact_for_reporter(i: &mut crate::Incident) {
    i.title = redacted_title(i.category);
    i.description.clear();
    i.owner = None;
    i.impact = None;
    i.resolution = None;
    i.group_key = None;
    i.merged_into = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every capability for every role, written out by hand: (role,
    /// manage incidents, add notes, see alerts, handle alerts, read
    /// metrics, admin users, read audit, ask for roles, approve roles,
    /// staff, person, send events).
    #[allow(clippy::type_complexity)]
    const CAPABILITIES: &[(Role, [bool; 12])] = &[
        (
            Role::Reporter,
            [
                false, false, false, false, false, false, false, false, false, false, true, false,
            ],
        ),
        (
            Role::Responder,
            [
                true, true, true, true, true, false, true, true, true, true, true, false,
            ],
        ),
        (
            Role::FinanceOps,
            [
                false, true, true, false, true, false, false, false, false, true, true, false,
            ],
        ),
        (
            Role::Admin,
            [
                true, true, true, true, true, true, true, true, false, true, true, false,
            ],
        ),
        (
            Role::Ingest,
            [
                false, false, false, false, false, false, false, false, false, false, false, true,
            ],
        ),
    ];

    fn capabilities(v: &Viewer) -> [bool; 12] {
        [
            v.can_manage_incidents(),
            v.can_add_notes(),
            v.can_see_alerts(),
            v.can_handle_alerts(),
            v.can_read_metrics(),
            v.can_admin_users(),
            v.can_read_audit(),
            v.can_ask_for_roles(),
            v.can_approve_roles(),
            v.is_staff(),
            v.is_person(),
            v.can_send_events(),
        ]
    }

    #[test]
    fn capabilities_by_role() {
        assert_eq!(CAPABILITIES.len(), Role::ALL.len(), "a role is missing");
        for (role, expected) in CAPABILITIES {
            let v = Viewer::new(UserId::new(), *role);
            assert_eq!(capabilities(&v), *expected, "{role}");
            assert!(!v.can_deliver(), "{role} delivers");
            assert!(!v.sees_everything() || role.has_need_to_know(), "{role}");
        }
        let system = Viewer::system();
        let mut expected = [true; 12];
        expected[11] = false;
        assert_eq!(capabilities(&system), expected);
        assert!(system.can_deliver());
    }

    /// An ingest token's predicates match no row, whatever it is named on.
    #[test]
    fn ingest_predicates_match_nothing() {
        let v = Viewer::new(UserId::new(), Role::Ingest);
        type Predicate = fn(&mut Sql, &Viewer, &str);
        let cases: [(&str, Predicate); 5] = [
            ("incident", incident_visible),
            ("report", report_visible),
            ("alert", alert_visible),
            ("audit", audit_visible),
            ("full", reads_in_full),
        ];
        for (what, predicate) in cases {
            let mut q = Sql::default();
            predicate(&mut q, &v, "x");
            assert_eq!(q.text, "1 = 0", "{what}");
            assert!(q.args.is_empty(), "{what}");
        }
        let mut q = Sql::default();
        assert!(!visible_cte(&mut q, &v));
        assert!(q.text.is_empty());
    }
}
