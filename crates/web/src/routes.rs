//! The route table: the single source of truth for what the API serves and
//! who may call it.
//!
//! The router is built from [`ROUTES`] and nothing else ([`crate::router`]),
//! so a route cannot exist without an entry. The authorisation middleware
//! ([`crate::auth`]) looks the matched route up in this table and refuses
//! callers whose role is not listed. The OpenAPI document
//! ([`crate::openapi`]) is generated from it, and the route × role matrix
//! test walks it. Each route also states how large a body it accepts
//! ([`BodyLimit`]): file uploads take the store's attachment cap, everything
//! else the router's general limit.

use axum::http::{Method, StatusCode};
use axum::routing::MethodRouter;
use incidents::enums::Role;

use crate::handlers::{
    advisories, alerts, attachments, audit, events, incidents as inc, mail, meta, metrics, reports,
    suppressions, tokens, users,
};
use crate::schema::Schema;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Callers with a valid token and one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a caller with `role` may call the route.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
        }
    }
}

/// How large a request body a route accepts; larger is 413.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// [`crate::RouterOptions::max_body_bytes`] (1 MiB by default).
    Standard,
    /// The store's attachment cap ([`incidents::Store::max_attachment_bytes`],
    /// 10 MiB by default): for routes whose body is an uploaded file.
    Attachment,
    /// The event sink's cap ([`crate::events::EventSink::max_body_bytes`],
    /// 16 MiB compressed by default): for batches of log events.
    Events,
}

/// A query parameter of a route, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParam {
    /// The name.
    pub name: &'static str,
    /// Whether the route refuses a request without it.
    pub required: bool,
    /// What it means and what values it takes.
    pub description: &'static str,
}

/// One entry of the route table.
#[derive(Clone)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path in axum syntax (`/api/v1/incidents/{id}`).
    pub path: &'static str,
    /// Stable operation id (`verb_noun`, also the handler's name).
    pub operation: &'static str,
    /// One-line summary for the OpenAPI document.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The request body schema, if the route takes one.
    pub request: Option<Schema>,
    /// The success response schema.
    pub response: Schema,
    /// The status of a successful answer (201 where the route creates).
    pub status: StatusCode,
    /// The largest request body.
    pub body_limit: BodyLimit,
    /// Documented query parameters (only those the OpenAPI document lists).
    pub query: &'static [QueryParam],
    /// The handler.
    pub handler: fn() -> MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("access", &self.access)
            .finish()
    }
}

/// Every role of a person: everyone but `ingest` (a log shipper's account,
/// which may only send events).
const ALL: &[Role] = &[
    Role::Reporter,
    Role::Responder,
    Role::FinanceOps,
    Role::Admin,
];
const MANAGERS: &[Role] = &[Role::Responder, Role::Admin];
const NOTE_WRITERS: &[Role] = &[Role::Responder, Role::FinanceOps, Role::Admin];
const STAFF: &[Role] = &[Role::Responder, Role::FinanceOps, Role::Admin];
const ADMINS: &[Role] = &[Role::Admin];
const AUDITORS: &[Role] = &[Role::Responder, Role::Admin];
const RESPONDERS: &[Role] = &[Role::Responder];
const SHIPPERS: &[Role] = &[Role::Ingest];

macro_rules! route {
    (@ $method:ident $path:literal, $access:expr, $op:ident => $module:ident, $summary:literal, $req:expr, $resp:expr,
        $status:ident, $limit:expr, $query:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            operation: stringify!($op),
            summary: $summary,
            access: $access,
            request: $req,
            response: $resp,
            status: StatusCode::$status,
            body_limit: $limit,
            query: $query,
            handler: || axum::routing::on(method_filter(&Method::$method), $module::$op),
        }
    };
    ($method:ident $path:literal, $access:expr, $op:ident => $module:ident, $summary:literal, $req:expr, $resp:expr) => {
        route!(@ $method $path, $access, $op => $module, $summary, $req, $resp, OK, BodyLimit::Standard, &[])
    };
    ($method:ident $path:literal, $access:expr, $op:ident => $module:ident, $summary:literal, $req:expr, $resp:expr,
        status: $status:ident) => {
        route!(@ $method $path, $access, $op => $module, $summary, $req, $resp, $status, BodyLimit::Standard, &[])
    };
    ($method:ident $path:literal, $access:expr, $op:ident => $module:ident, $summary:literal, $req:expr, $resp:expr,
        status: $status:ident, body_limit: $limit:expr, query: $query:expr) => {
        route!(@ $method $path, $access, $op => $module, $summary, $req, $resp, $status, $limit, $query)
    };
}

/// Every route of the API.
pub static ROUTES: &[Route] = &[
    route!(GET "/api/v1/health", Access::Public, get_health => meta,
        "Liveness and database check.", None, Schema::Health),
    route!(GET "/api/v1/openapi.json", Access::Public, get_openapi => meta,
        "This API's OpenAPI 3.1 document.", None, Schema::Object),
    route!(GET "/api/v1/me", Access::Roles(ALL), get_me => meta,
        "The caller's own user.", None, Schema::User),
    route!(GET "/api/v1/stats", Access::Roles(ADMINS), get_stats => meta,
        "Requests answered and refused (by kind) since the server started.", None, Schema::Stats),
    // Reports.
    route!(POST "/api/v1/reports", Access::Roles(ALL), create_report => reports,
        "File a report; opens an incident in triage.", Some(Schema::NewReport), Schema::Report,
        status: CREATED),
    route!(GET "/api/v1/reports", Access::Roles(ALL), list_reports => reports,
        "Reports visible to the caller (a reporter sees only their own).", None, Schema::ReportList),
    route!(GET "/api/v1/reports/{id}", Access::Roles(ALL), get_report => reports,
        "One report, if visible to the caller.", None, Schema::Report),
    // Whoever sees a report may add to it (a reporter sees only their own);
    // the store decides per report.
    route!(POST "/api/v1/reports/{id}/attachments", Access::Roles(ALL), upload_attachment => attachments,
    "Attach a file to a report visible to the caller: the body is the file (at most the store's attachment limit, 10 MiB by default; larger is 413), its Content-Type the file's type; answers 201 with the attachment.",
    Some(Schema::Binary), Schema::Attachment,
    status: CREATED,
    body_limit: BodyLimit::Attachment,
    query: &[QueryParam {
        name: "filename",
        required: true,
        description: "The file's name (display only): 1 to 255 characters, no control characters.",
    }]),
    route!(GET "/api/v1/reports/{id}/attachments/{attachment_id}", Access::Roles(ALL), get_attachment => attachments,
        "Download an attachment of a report visible to the caller (sent as a download, never rendered).", None, Schema::Binary),
    route!(POST "/api/v1/reports/{id}/reply", Access::Roles(RESPONDERS), reply_by_mail => mail,
        "Reply by mail to a report that came from the security@ mailbox: sent to its sender, threaded to the last message of its thread, and kept in the incident's timeline. 404 for a report that is not a mail report (or any report when no mailbox is configured); 503 when the mail could not be sent (the relay refused or is unreachable).",
        Some(Schema::MailReply), Schema::MailReplySent,
        status: CREATED),
    // Incidents.
    route!(GET "/api/v1/incidents", Access::Roles(ALL), list_incidents => inc,
        "Incidents visible to the caller, filtered and paginated, with the total count; for staff, each with its SLA clocks (`sla`).", None, Schema::IncidentList,
    status: OK,
    body_limit: BodyLimit::Standard,
    query: &[QueryParam {
        name: "overdue",
        required: false,
        description: "`true`: only incidents with an SLA clock running past its deadline (staff only: 403 for others).",
    }]),
    route!(GET "/api/v1/incidents/{id}", Access::Roles(ALL), get_incident => inc,
        "One incident with its notes, tasks, timeline and links.", None, Schema::IncidentDetail),
    route!(PATCH "/api/v1/incidents/{id}", Access::Roles(MANAGERS), update_incident => inc,
        "Update title, description, category, severity or disclosure.", Some(Schema::IncidentUpdate), Schema::Incident),
    route!(POST "/api/v1/incidents/{id}/status", Access::Roles(MANAGERS), change_status => inc,
        "Move the incident to another status (illegal moves are refused).", Some(Schema::StatusChange), Schema::Incident),
    route!(POST "/api/v1/incidents/{id}/assign", Access::Roles(MANAGERS), assign_incident => inc,
        "Set the owner and add participants.", Some(Schema::Assign), Schema::Incident),
    route!(POST "/api/v1/incidents/{id}/notes", Access::Roles(NOTE_WRITERS), add_note => inc,
        "Add a note.", Some(Schema::NewNote), Schema::Note,
        status: CREATED),
    route!(POST "/api/v1/incidents/{id}/tasks", Access::Roles(MANAGERS), create_task => inc,
        "Add a remediation task.", Some(Schema::NewTask), Schema::Task,
        status: CREATED),
    route!(PATCH "/api/v1/incidents/{id}/tasks/{task_id}", Access::Roles(MANAGERS), update_task => inc,
        "Update a task (title, owner, due date, done).", Some(Schema::TaskUpdate), Schema::Task),
    route!(POST "/api/v1/incidents/{id}/links", Access::Roles(MANAGERS), link_incident => inc,
        "Link a report or an alert to the incident.", Some(Schema::Link), Schema::Incident),
    route!(POST "/api/v1/incidents/{id}/merge", Access::Roles(MANAGERS), merge_incident => inc,
        "Merge this incident into another one.", Some(Schema::Merge), Schema::Incident),
    route!(PUT "/api/v1/incidents/{id}/impact", Access::Roles(MANAGERS), set_impact => inc,
        "Set the impact assessment.", Some(Schema::Impact), Schema::Incident),
    route!(POST "/api/v1/incidents/{id}/close", Access::Roles(MANAGERS), close_incident => inc,
        "Close with a resolution (needs an impact assessment).", Some(Schema::Close), Schema::Incident),
    // Public advisories: a responder writes the draft, another approves it.
    route!(POST "/api/v1/incidents/{id}/advisory", Access::Roles(RESPONDERS), save_advisory => advisories,
        "Write the public advisory of a closed, confirmed, non-sensitive incident (creates its draft, or replaces the draft's text; the caller becomes its author). A published advisory no longer changes (409).",
        Some(Schema::AdvisoryDraft), Schema::Advisory),
    route!(POST "/api/v1/advisories/{id}/approve", Access::Roles(RESPONDERS), approve_advisory => advisories,
        "Approve a draft advisory: it is published on /advisories, in the Atom feed and as CSAF. Its author may not approve it (403).",
        None, Schema::Advisory),
    route!(GET "/api/v1/advisories", Access::Roles(RESPONDERS), list_advisories => advisories,
        "Every advisory, drafts and published, newest first.", None, Schema::AdvisoryList),
    // Alerts.
    route!(POST "/api/v1/alerts", Access::Roles(MANAGERS), create_alerts => alerts,
        "Store detections found elsewhere (watchpost hunt --submit) as alerts, in order: each is suppressed, grouped into an open incident, opens one, or is queued (queue_only), as live detections are; one whose key is already stored is answered as a duplicate and not stored again.",
        Some(Schema::NewAlerts), Schema::AlertOutcomes),
    route!(GET "/api/v1/alerts", Access::Roles(STAFF), list_alerts => alerts,
        "Alerts visible to the caller.", None, Schema::AlertList),
    route!(GET "/api/v1/alerts/{id}", Access::Roles(STAFF), get_alert => alerts,
        "One alert with its evidence.", None, Schema::Alert),
    route!(POST "/api/v1/alerts/{id}/promote", Access::Roles(MANAGERS), promote_alert => alerts,
        "Open an incident from the alert (or return the one it joined).", None, Schema::Incident),
    route!(POST "/api/v1/alerts/{id}/dismiss", Access::Roles(MANAGERS), dismiss_alert => alerts,
        "Dismiss the alert.", Some(Schema::Dismiss), Schema::Alert),
    // Suppression rules.
    route!(GET "/api/v1/suppressions", Access::Roles(MANAGERS), list_suppressions => suppressions,
        "Alert suppression rules, expired ones included, oldest first.", None, Schema::SuppressionList),
    route!(POST "/api/v1/suppressions", Access::Roles(MANAGERS), create_suppression => suppressions,
        "Suppress a rule's alerts (optionally only for some entity values) until an expiry.", Some(Schema::NewSuppression), Schema::Suppression,
        status: CREATED),
    route!(DELETE "/api/v1/suppressions/{id}", Access::Roles(MANAGERS), delete_suppression => suppressions,
        "Delete a suppression rule; answers the deleted rule.", None, Schema::Suppression),
    // Users.
    route!(GET "/api/v1/users", Access::Roles(ADMINS), list_users => users,
        "Every user.", None, Schema::UserList),
    route!(POST "/api/v1/users", Access::Roles(ADMINS), create_user => users,
        "Create a user and their first API token (shown once).", Some(Schema::NewUser), Schema::CreatedUser,
        status: CREATED),
    route!(POST "/api/v1/users/{name}/disable", Access::Roles(ADMINS), disable_user => users,
        "Disable a user: their tokens stop working.", None, Schema::User),
    route!(PUT "/api/v1/users/{name}/role", Access::Roles(ADMINS), set_user_role => users,
        "Set a role that needs no approval (reporter, admin); the need-to-know roles are granted through role grants.",
        Some(Schema::RoleChange), Schema::User),
    // Need-to-know roles: two people (an admin or responder asks, another
    // responder approves).
    route!(GET "/api/v1/role-grants", Access::Roles(AUDITORS), list_role_grants => users,
        "Requests for the responder and finance-ops roles, pending first.", None, Schema::RoleGrantList),
    route!(POST "/api/v1/role-grants", Access::Roles(AUDITORS), create_role_grant => users,
        "Ask for a user to get the responder or finance-ops role; a responder other than the asker and the user must approve.",
        Some(Schema::NewRoleGrant), Schema::RoleGrant,
        status: CREATED),
    route!(POST "/api/v1/role-grants/{id}/approve", Access::Roles(RESPONDERS), approve_role_grant => users,
        "Approve a pending role grant: the role is given, the user's old tokens are revoked, and their one new token is in the answer (shown once).",
        None, Schema::CreatedUser),
    route!(POST "/api/v1/role-grants/{id}/reject", Access::Roles(AUDITORS), reject_role_grant => users,
        "Reject a pending role grant.", None, Schema::RoleGrant),
    // API tokens. Everyone manages their own; admins also list and revoke
    // anyone's; only the owner issues or rotates (the store decides).
    route!(GET "/api/v1/users/{name}/tokens", Access::Roles(ALL), list_tokens => tokens,
        "A user's API tokens (metadata only, revoked and expired included): the caller's own, or anyone's for admins.", None, Schema::TokenList),
    route!(POST "/api/v1/users/{name}/tokens", Access::Roles(ALL), create_token => tokens,
        "Issue an API token for yourself, optionally expiring (expires_at or expires_in_days); the token is shown once.", Some(Schema::NewToken), Schema::CreatedToken,
        status: CREATED),
    route!(DELETE "/api/v1/tokens/{id}", Access::Roles(ALL), revoke_token => tokens,
        "Revoke an API token (your own, or anyone's for admins); answers the revoked token.", None, Schema::Token),
    route!(POST "/api/v1/tokens/{id}/rotate", Access::Roles(ALL), rotate_token => tokens,
        "Rotate your API token: revokes it and answers a new one with the same label and lifetime (shown once).", None, Schema::CreatedToken,
        status: CREATED),
    // Events from log shippers.
    route!(POST "/api/v1/events", Access::Roles(SHIPPERS), post_events => events,
    "Send log events: NDJSON or a JSON array (default), or raw lines of another format (format=syslog, access, auditd), optionally gzip-compressed (Content-Encoding: gzip). Answered only once the accepted lines are stored durably, with the numbers of the refused lines and why; 429 or 503 with Retry-After when the server cannot take them now.",
    Some(Schema::EventLines), Schema::EventReceipt,
    status: OK,
    body_limit: BodyLimit::Events,
    query: &[QueryParam {
        name: "format",
        required: false,
        description: "json (default: NDJSON or a JSON array), syslog (RFC 3164 or 5424 lines), access (web server access log lines) or auditd (audit.log lines).",
    }, QueryParam {
        name: "source",
        required: false,
        description: "The source type, e.g. auth.log or cloudtrail (the X-Watchpost-Source header wins): 1 to 63 characters of letters, digits and ._/-.",
    }]),
    route!(POST "/v1/logs", Access::Roles(SHIPPERS), post_otlp_logs => events,
    "OTLP/HTTP logs export (OpenTelemetry): an ExportLogsServiceRequest as application/x-protobuf or application/json, optionally gzip-compressed; each log record becomes an event. Answered, once the records are stored durably, with an ExportLogsServiceResponse (partial_success counts refused records) in the request's encoding; errors are google.rpc.Status bodies (429 and 503 with Retry-After).",
    Some(Schema::Otlp), Schema::Otlp,
    status: OK,
    body_limit: BodyLimit::Events,
    query: &[]),
    route!(GET "/api/v1/sources", Access::Roles(MANAGERS), list_sources => meta,
        "Log sources heard from since the server started (SENDER/TYPE, syslog/PEER/TYPE, tail/TYPE/FILE, SENDER/otlp): lines accepted and refused, first and last seen, lines a minute; and each stream (source, host and log type) detection read: events, first and last event, last received, rate, whether it is silent, its recent gaps, and how many rules it feeds.",
        None, Schema::SourceList),
    route!(GET "/api/v1/coverage", Access::Roles(MANAGERS), get_coverage => meta,
        "Detection coverage since the server started: each stream (source, host and log type) with the rules its events feed, every rule that runs with the events of its logsource, and the rules that never saw one.",
        None, Schema::Coverage),
    route!(POST "/api/v1/rules/reload", Access::Roles(ADMINS), reload_rules => meta,
        "Load the detection rules again (as SIGHUP does), without losing events in flight: detection restarts on the new rules from the spool's committed offset. A reload that would make rule files fail that load now is refused (422, naming them) and the running rules stay.",
        None, Schema::RulesReloaded),
    route!(GET "/metrics", Access::Roles(ADMINS), get_prometheus => meta,
        "The server's own metrics in the Prometheus text format: requests by status, events in and rejected per source, detections, alerts, spool size and queue depth, and the spooled-to-detected latency histogram.",
        None, Schema::Prometheus),
    // Metrics.
    route!(GET "/api/v1/metrics", Access::Roles(STAFF), get_metrics => metrics,
        "Time to acknowledge and to resolve per severity and category over a period.", None, Schema::Metrics),
    // Audit.
    route!(GET "/api/v1/audit", Access::Roles(AUDITORS), list_audit => audit,
        "Audit entries visible to the caller, oldest first.", None, Schema::AuditList),
    route!(GET "/api/v1/audit/verify", Access::Roles(AUDITORS), verify_audit => audit,
        "Verify the hash chain; names the first bad entry.", None, Schema::AuditVerify),
];

fn method_filter(method: &Method) -> axum::routing::MethodFilter {
    match *method {
        Method::POST => axum::routing::MethodFilter::POST,
        Method::PUT => axum::routing::MethodFilter::PUT,
        Method::PATCH => axum::routing::MethodFilter::PATCH,
        Method::DELETE => axum::routing::MethodFilter::DELETE,
        _ => axum::routing::MethodFilter::GET,
    }
}

/// The table entry for a request's method and matched path. `HEAD` matches
/// the `GET` entry, as axum routes it.
pub fn find(method: &Method, matched_path: &str) -> Option<&'static Route> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    ROUTES
        .iter()
        .find(|r| r.method == *method && r.path == matched_path)
}

#[cfg(test)]
mod tests {
    use incidents::UserId;
    use incidents::access::Viewer;

    use super::*;

    /// The rule of the incident store's [`Viewer`] that each route's roles
    /// follow, by operation, written out by hand.
    #[derive(Clone, Copy)]
    enum Rule {
        /// No token needed.
        Public,
        /// Any authenticated user: the store decides row by row what they
        /// see and may change.
        Anyone,
        /// Exactly the roles whose viewer passes this check.
        Viewer(fn(&Viewer) -> bool),
    }

    const RULES: &[(&str, Rule)] = &[
        ("get_health", Rule::Public),
        ("get_openapi", Rule::Public),
        ("get_me", Rule::Anyone),
        ("get_stats", Rule::Viewer(Viewer::can_admin_users)),
        ("create_report", Rule::Anyone),
        ("list_reports", Rule::Anyone),
        ("get_report", Rule::Anyone),
        ("upload_attachment", Rule::Anyone),
        ("get_attachment", Rule::Anyone),
        ("reply_by_mail", Rule::Viewer(Viewer::can_reply_by_mail)),
        ("list_incidents", Rule::Anyone),
        ("get_incident", Rule::Anyone),
        (
            "update_incident",
            Rule::Viewer(Viewer::can_manage_incidents),
        ),
        ("change_status", Rule::Viewer(Viewer::can_manage_incidents)),
        (
            "assign_incident",
            Rule::Viewer(Viewer::can_manage_incidents),
        ),
        ("add_note", Rule::Viewer(Viewer::can_add_notes)),
        ("create_task", Rule::Viewer(Viewer::can_manage_incidents)),
        ("update_task", Rule::Viewer(Viewer::can_manage_incidents)),
        ("link_incident", Rule::Viewer(Viewer::can_manage_incidents)),
        ("merge_incident", Rule::Viewer(Viewer::can_manage_incidents)),
        ("set_impact", Rule::Viewer(Viewer::can_manage_incidents)),
        ("close_incident", Rule::Viewer(Viewer::can_manage_incidents)),
        ("save_advisory", Rule::Viewer(Viewer::can_disclose)),
        ("approve_advisory", Rule::Viewer(Viewer::can_disclose)),
        ("list_advisories", Rule::Viewer(Viewer::can_disclose)),
        ("create_alerts", Rule::Viewer(Viewer::can_handle_alerts)),
        ("list_alerts", Rule::Viewer(Viewer::can_see_alerts)),
        ("get_alert", Rule::Viewer(Viewer::can_see_alerts)),
        ("promote_alert", Rule::Viewer(Viewer::can_handle_alerts)),
        ("dismiss_alert", Rule::Viewer(Viewer::can_handle_alerts)),
        ("list_suppressions", Rule::Viewer(Viewer::can_handle_alerts)),
        (
            "create_suppression",
            Rule::Viewer(Viewer::can_handle_alerts),
        ),
        (
            "delete_suppression",
            Rule::Viewer(Viewer::can_handle_alerts),
        ),
        ("list_users", Rule::Viewer(Viewer::can_admin_users)),
        ("create_user", Rule::Viewer(Viewer::can_admin_users)),
        ("disable_user", Rule::Viewer(Viewer::can_admin_users)),
        ("set_user_role", Rule::Viewer(Viewer::can_admin_users)),
        ("list_role_grants", Rule::Viewer(Viewer::can_ask_for_roles)),
        ("create_role_grant", Rule::Viewer(Viewer::can_ask_for_roles)),
        (
            "approve_role_grant",
            Rule::Viewer(Viewer::can_approve_roles),
        ),
        ("reject_role_grant", Rule::Viewer(Viewer::can_ask_for_roles)),
        ("list_tokens", Rule::Anyone),
        ("create_token", Rule::Anyone),
        ("revoke_token", Rule::Anyone),
        ("rotate_token", Rule::Anyone),
        ("post_events", Rule::Viewer(Viewer::can_send_events)),
        ("post_otlp_logs", Rule::Viewer(Viewer::can_send_events)),
        ("get_prometheus", Rule::Viewer(Viewer::can_admin_users)),
        ("reload_rules", Rule::Viewer(Viewer::can_admin_users)),
        ("list_sources", Rule::Viewer(Viewer::can_manage_incidents)),
        ("get_coverage", Rule::Viewer(Viewer::can_manage_incidents)),
        ("get_metrics", Rule::Viewer(Viewer::can_read_metrics)),
        ("list_audit", Rule::Viewer(Viewer::can_read_audit)),
        ("verify_audit", Rule::Viewer(Viewer::can_read_audit)),
    ];

    const ROLES: [Role; 5] = [
        Role::Reporter,
        Role::Responder,
        Role::FinanceOps,
        Role::Admin,
        Role::Ingest,
    ];

    #[test]
    fn every_route_has_one_rule() {
        let mut ops: Vec<&str> = ROUTES.iter().map(|r| r.operation).collect();
        ops.sort_unstable();
        let mut ruled: Vec<&str> = RULES.iter().map(|(op, _)| *op).collect();
        ruled.sort_unstable();
        assert_eq!(
            ops, ruled,
            "a route was added or removed: name the Viewer rule it follows in RULES"
        );
    }

    /// The route table's roles and the store's `Viewer` rules agree: a role
    /// the table lets through is one the store lets act, and the other way
    /// round.
    #[test]
    fn route_roles_agree_with_the_viewer_rules() {
        for route in ROUTES {
            let (_, rule) = RULES
                .iter()
                .find(|(op, _)| *op == route.operation)
                .unwrap_or_else(|| panic!("{} has no rule", route.operation));
            for role in ROLES {
                let viewer = Viewer::new(UserId::new(), role);
                let (table, rules) = match (*rule, route.access) {
                    (Rule::Public, access) => (access == Access::Public, true),
                    (_, Access::Public) => (false, true),
                    // Anyone who is a person: an ingest account only sends
                    // events.
                    (Rule::Anyone, access) => (access.allows(role), role != Role::Ingest),
                    (Rule::Viewer(allows), access) => (access.allows(role), allows(&viewer)),
                };
                assert_eq!(
                    table, rules,
                    "{} {} ({}): the route table and the Viewer rules disagree for {role}",
                    route.method, route.path, route.operation
                );
            }
        }
    }
}
