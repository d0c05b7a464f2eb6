//! JSON Schemas of the request and response bodies, for the OpenAPI
//! document. Enum values come from the domain's own lists, so the document
//! cannot drift from what the API accepts.
//!
//! A request schema states every constraint the server enforces that JSON
//! Schema can express: lengths (in characters, as the store counts them),
//! ranges, enums, list sizes, "exactly one of", formats. A request that is
//! valid by its schema is never refused as invalid (400 or 422); what
//! depends on the server's state (a time relative to now, a user name that
//! must exist, an illegal status move) is a 409. `tests/schema.rs` checks
//! each schema's fields and required-ness against the type in
//! [`crate::types`], and `scripts/schemathesis` checks the server against
//! the document.

use incidents::enums::{
    AlertLevel, Category, Channel, Disclosure, ImpactLevel, Resolution, Role, Severity, Status,
};
use serde_json::{Value, json};

/// Longest free text (descriptions, notes, impact summaries), in characters:
/// the store's limit.
pub const MAX_TEXT: u32 = 20_000;
/// Longest incident title, in characters (after trimming).
pub const MAX_TITLE: u32 = 300;
/// Longest task title, in characters.
pub const MAX_TASK_TITLE: u32 = 500;
/// Longest report location, in characters.
pub const MAX_LOCATION: u32 = 500;
/// Most entries in each list of an impact assessment, and the longest entry.
pub const MAX_IMPACT_ENTRIES: u32 = 100;
/// Longest impact list entry, in characters.
pub const MAX_IMPACT_ENTRY: u32 = 500;
/// Most participants added at once.
pub const MAX_PARTICIPANTS: u32 = 100;
/// Longest reason (dismissal, suppression), in characters.
pub const MAX_REASON: u32 = 2_000;
/// Longest rule id of a suppression, in characters.
pub const MAX_RULE_ID: u32 = 200;
/// Most entity values a suppression matches on.
pub const MAX_ENTITIES: u32 = 32;
/// Longest entity name of a suppression, in characters.
pub const MAX_ENTITY_NAME: u32 = 200;
/// Longest entity value of a suppression, in characters.
pub const MAX_ENTITY_VALUE: u32 = 1_000;
/// Longest token label, in characters.
pub const MAX_LABEL: u32 = 200;
/// Longest uploaded file name, in characters.
pub const MAX_FILENAME: u32 = 255;
/// A user name: what the store accepts.
pub const USER_NAME: &str = "^[A-Za-z0-9._@-]{1,64}$";
/// Text that is not blank: at least one character that is not white space
/// (`\s`, and U+0085, which ECMAScript's `\s` lacks but Rust trims).
pub const NOT_BLANK: &str = "[^\\s\\u0085]";
/// A file name: not blank, no control characters (`char::is_control`).
pub const FILENAME: &str =
    "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$";

/// A string of `min` to `max` characters.
fn text(min: u32, max: u32) -> Value {
    json!({ "type": "string", "minLength": min, "maxLength": max })
}

/// A string of 1 to `max` characters, not blank.
fn not_blank(max: u32) -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": max, "pattern": NOT_BLANK })
}

/// A user name.
fn user_name() -> Value {
    json!({ "type": "string", "pattern": USER_NAME })
}

/// An advisory id (`WP-YYYY-NNNN`).
pub const ADVISORY_ID: &str = "^WP-[0-9]{4}-[0-9]{4,9}$";

/// The schema of path parameter `name` of the route at `path`: an
/// advisory's `{id}` under `/api/v1/advisories/`, else [`path_param`].
pub fn route_path_param(path: &str, name: &str) -> Value {
    if name == "id" && path.starts_with("/api/v1/advisories/") {
        json!({ "type": "string", "pattern": ADVISORY_ID })
    } else {
        path_param(name)
    }
}

/// The schema of a path parameter, by name: ids are UUIDs, `name` a user
/// name.
pub fn path_param(name: &str) -> Value {
    match name {
        "name" => user_name(),
        _ => json!({ "type": "string", "format": "uuid" }),
    }
}

/// The schema of a documented query parameter, by name.
pub fn query_param(name: &str) -> Value {
    match name {
        "filename" => {
            json!({ "type": "string", "minLength": 1, "maxLength": MAX_FILENAME, "pattern": FILENAME })
        }
        "overdue" => json!({ "type": "boolean" }),
        _ => json!({ "type": "string" }),
    }
}

/// A named body schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Schema {
    Object,
    Binary,
    Health,
    Stats,
    Error,
    User,
    UserList,
    NewUser,
    CreatedUser,
    Token,
    TokenList,
    NewToken,
    CreatedToken,
    NewReport,
    Report,
    ReportList,
    Attachment,
    Incident,
    Times,
    IncidentList,
    IncidentDetail,
    Timeline,
    IncidentUpdate,
    StatusChange,
    Assign,
    NewNote,
    Note,
    NewTask,
    Task,
    TaskUpdate,
    Link,
    Merge,
    Impact,
    Close,
    Alert,
    AlertList,
    Dismiss,
    Suppression,
    SuppressionList,
    NewSuppression,
    MetricRow,
    Metrics,
    AuditEntry,
    AuditList,
    AuditVerify,
    RoleChange,
    NewRoleGrant,
    RoleGrant,
    RoleGrantList,
    EventLines,
    EventReceipt,
    Prometheus,
    NewAlerts,
    AlertOutcomes,
    Otlp,
    RulesReloaded,
    SourceList,
    LogSource,
    LogGap,
    SourceStream,
    RuleSummary,
    CoverageSource,
    CoverageRule,
    Coverage,
    AdvisoryDraft,
    Advisory,
    AdvisoryList,
    MailReply,
    MailReplySent,
}

fn names<T: std::fmt::Display>(all: &[T]) -> Value {
    Value::from(all.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn reference(schema: Schema) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", schema.name()) })
}

/// An enum's values and `null`.
fn nullable<T: std::fmt::Display>(all: &[T]) -> Value {
    let mut values = names(all);
    if let Value::Array(values) = &mut values {
        values.push(Value::Null);
    }
    values
}

/// Roles set directly (`PUT /api/v1/users/{name}/role`).
const APPROVAL_FREE: [Role; 3] = [Role::Reporter, Role::Admin, Role::Ingest];
/// Roles given through role grants.
const NEED_TO_KNOW: [Role; 2] = [Role::Responder, Role::FinanceOps];

fn page(item: Schema) -> Value {
    record(
        json!({
            "items": { "type": "array", "items": reference(item) },
            "next_cursor": { "type": ["string", "null"] },
            "total": { "type": "integer", "minimum": 0 },
        }),
        &["total"],
    )
}

/// A request body: these properties, `required` ones, no others.
fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
}

/// A response body: every property is always present but `optional`.
fn record(properties: Value, optional: &[&str]) -> Value {
    let required: Vec<&str> = properties
        .as_object()
        .map(|p| {
            p.keys()
                .map(String::as_str)
                .filter(|k| !optional.contains(k))
                .collect()
        })
        .unwrap_or_default();
    json!({ "type": "object", "required": required, "properties": properties })
}

impl Schema {
    /// Every schema, for the document's `components`.
    pub const ALL: &'static [Schema] = &[
        Schema::Object,
        Schema::Binary,
        Schema::Health,
        Schema::Stats,
        Schema::Error,
        Schema::User,
        Schema::UserList,
        Schema::NewUser,
        Schema::CreatedUser,
        Schema::Token,
        Schema::TokenList,
        Schema::NewToken,
        Schema::CreatedToken,
        Schema::NewReport,
        Schema::Report,
        Schema::ReportList,
        Schema::Attachment,
        Schema::Incident,
        Schema::Times,
        Schema::IncidentList,
        Schema::IncidentDetail,
        Schema::Timeline,
        Schema::IncidentUpdate,
        Schema::StatusChange,
        Schema::Assign,
        Schema::NewNote,
        Schema::Note,
        Schema::NewTask,
        Schema::Task,
        Schema::TaskUpdate,
        Schema::Link,
        Schema::Merge,
        Schema::Impact,
        Schema::Close,
        Schema::Alert,
        Schema::AlertList,
        Schema::Dismiss,
        Schema::Suppression,
        Schema::SuppressionList,
        Schema::NewSuppression,
        Schema::MetricRow,
        Schema::Metrics,
        Schema::AuditEntry,
        Schema::AuditList,
        Schema::AuditVerify,
        Schema::RoleChange,
        Schema::NewRoleGrant,
        Schema::RoleGrant,
        Schema::RoleGrantList,
        Schema::EventLines,
        Schema::EventReceipt,
        Schema::Prometheus,
        Schema::NewAlerts,
        Schema::AlertOutcomes,
        Schema::Otlp,
        Schema::RulesReloaded,
        Schema::SourceList,
        Schema::LogSource,
        Schema::LogGap,
        Schema::SourceStream,
        Schema::RuleSummary,
        Schema::CoverageSource,
        Schema::CoverageRule,
        Schema::Coverage,
        Schema::AdvisoryDraft,
        Schema::Advisory,
        Schema::AdvisoryList,
        Schema::MailReply,
        Schema::MailReplySent,
    ];

    /// The component name.
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// The media type of a body with this schema: the file's own type
    /// (described as `application/octet-stream`) for [`Schema::Binary`],
    /// JSON otherwise.
    pub fn media_type(self) -> &'static str {
        match self {
            Schema::Binary => "application/octet-stream",
            // NDJSON and raw log lines are text (the route also takes
            // application/x-ndjson and application/json: it reads the
            // body whatever its declared type).
            Schema::EventLines => "text/plain",
            Schema::Prometheus => "text/plain",
            // application/x-protobuf or application/json, as OTLP/HTTP
            // sends them; described as bytes.
            Schema::Otlp => "application/octet-stream",
            _ => "application/json",
        }
    }

    /// A `$ref` to this schema.
    pub fn reference(self) -> Value {
        reference(self)
    }

    /// The JSON Schema.
    pub fn json(self) -> Value {
        let time = json!({ "type": "string", "format": "date-time" });
        let opt_time = json!({ "type": ["string", "null"], "format": "date-time" });
        let sla_clock = json!({
            "type": "object",
            "required": ["target", "due", "state", "breached_at", "stopped_at"],
            "properties": {
                "target": { "type": "string" },
                "due": { "type": "string", "format": "date-time" },
                "state": { "type": "string", "enum": ["running", "breached", "met", "missed"] },
                "breached_at": opt_time, "stopped_at": opt_time } });
        let sla = json!({
            "type": "object", "required": [],
            "properties": { "acknowledge": sla_clock, "triage": sla_clock, "resolve": sla_clock } });
        let id = json!({ "type": "string", "format": "uuid" });
        let opt_id = json!({ "type": ["string", "null"], "format": "uuid" });
        let opt_str = json!({ "type": ["string", "null"] });
        let string = json!({ "type": "string" });
        let boolean = json!({ "type": "boolean" });
        let integer = json!({ "type": "integer" });
        let category = json!({ "type": "string", "enum": names(Category::ALL) });
        let severity = json!({ "type": "string", "enum": names(Severity::ALL) });
        let status = json!({ "type": "string", "enum": names(Status::ALL) });
        let role = json!({ "type": "string", "enum": names(Role::ALL) });
        let impact = json!({ "type": "string", "enum": names(ImpactLevel::ALL) });
        let disclosure = json!({ "type": "string", "enum": names(Disclosure::ALL) });
        let channel = json!({ "type": "string", "enum": names(Channel::ALL) });
        let entities = json!({ "type": "object", "additionalProperties": { "type": "string" } });
        match self {
            Schema::Object => json!({ "type": "object" }),
            // Uploads are refused empty, so no stored file is empty either.
            Schema::Binary => {
                json!({ "type": "string", "format": "binary", "minLength": 1,
                        "contentMediaType": "application/octet-stream" })
            }
            // NDJSON, a JSON array, or raw log lines: text the sink splits
            // and reads line by line.
            Schema::EventLines => {
                json!({ "type": "string" })
            }
            Schema::Prometheus => json!({ "type": "string" }),
            // OTLP's protobuf messages (or their OTLP/JSON form).
            Schema::Otlp => json!({ "type": "string", "format": "binary" }),
            Schema::SourceList => {
                let count = json!({ "type": "integer", "minimum": 0 });
                let source = record(
                    json!({ "name": string, "accepted": count, "rejected": count,
                            "first_seen": opt_time, "last_seen": opt_time,
                            "lines_per_minute": { "type": "number", "minimum": 0 } }),
                    &[],
                );
                record(
                    json!({ "sources": { "type": "array", "items": source },
                            "streams": { "type": "array",
                                         "items": reference(Schema::SourceStream) },
                            "untracked_events": count }),
                    &[],
                )
            }
            Schema::LogSource => record(
                json!({ "product": opt_str, "service": opt_str, "category": opt_str }),
                &[],
            ),
            Schema::LogGap => record(
                json!({ "from": time, "to": opt_time,
                        "seconds": { "type": "number", "minimum": 0 } }),
                &[],
            ),
            Schema::SourceStream => {
                let count = json!({ "type": "integer", "minimum": 0 });
                record(
                    json!({ "name": string, "host": opt_str,
                            "logsource": reference(Schema::LogSource), "events": count,
                            "first_event": opt_time, "last_event": opt_time,
                            "last_received": time,
                            "events_per_minute": { "type": "number", "minimum": 0 },
                            "silent": boolean, "silent_since": opt_time,
                            "gaps": { "type": "array", "maxItems": 32,
                                      "items": reference(Schema::LogGap) },
                            "rules": count }),
                    &[],
                )
            }
            Schema::RuleSummary => record(
                json!({ "id": opt_str, "title": string,
                        "level": { "type": "string", "enum": names(AlertLevel::ALL) },
                        "kind": { "type": "string", "enum": crate::events::RuleKind::ALL },
                        "logsource": { "oneOf": [reference(Schema::LogSource), { "type": "null" }] } }),
                &[],
            ),
            Schema::CoverageSource => record(
                json!({ "name": string, "host": opt_str,
                        "logsource": reference(Schema::LogSource),
                        "events": { "type": "integer", "minimum": 0 },
                        "rules": { "type": "array", "items": reference(Schema::RuleSummary) } }),
                &[],
            ),
            Schema::CoverageRule => {
                let count = json!({ "type": "integer", "minimum": 0 });
                record(
                    json!({ "id": opt_str, "title": string,
                            "level": { "type": "string", "enum": names(AlertLevel::ALL) },
                            "kind": { "type": "string", "enum": crate::events::RuleKind::ALL },
                            "logsource": { "oneOf": [reference(Schema::LogSource), { "type": "null" }] },
                            "events_seen": count, "streams": count }),
                    &[],
                )
            }
            Schema::Coverage => record(
                json!({
                    "sources": { "type": "array", "items": reference(Schema::CoverageSource) },
                    "rules": { "type": "array", "items": reference(Schema::CoverageRule) },
                    "rules_without_events": { "type": "array",
                                              "items": reference(Schema::RuleSummary) },
                    "untracked_events": { "type": "integer", "minimum": 0 } }),
                &[],
            ),
            Schema::RulesReloaded => record(
                json!({ "rules_loaded": { "type": "integer", "minimum": 0 },
                        "rule_errors": { "type": "array", "items": string } }),
                &[],
            ),
            // The store's limits: entity names of 1 to 64 bytes (ASCII
            // here), values of at most 1024 bytes (256 characters here),
            // keys of printable ASCII, groups of at most 1000 bytes.
            Schema::NewAlerts => {
                let alert = object(
                    &["rule_id", "rule_title", "level", "detected_at"],
                    json!({
                        "rule_id": not_blank(200), "rule_title": not_blank(500),
                        "level": { "type": "string", "enum": names(AlertLevel::ALL) },
                        "entities": { "type": "object", "maxProperties": 32,
                            "propertyNames": { "pattern": "^[A-Za-z0-9_.@-]{1,64}$" },
                            "additionalProperties": { "type": "string", "maxLength": 256 } },
                        "evidence": { "type": "array", "maxItems": 100,
                            "items": { "type": "object" } },
                        "policy": { "type": ["string", "null"], "maxLength": 64 },
                        "detected_at": time,
                        "key": { "type": ["string", "null"], "pattern": "^[ -~]{1,200}$" },
                        "queue_only": boolean,
                        "group": { "type": ["string", "null"], "minLength": 1, "maxLength": 250 } }),
                );
                object(
                    &["alerts"],
                    json!({ "alerts": { "type": "array", "minItems": 1, "maxItems": 500,
                                        "items": alert } }),
                )
            }
            Schema::AlertOutcomes => {
                let outcome = record(
                    json!({ "alert_id": id, "disposition": string, "incident_id": opt_id,
                            "duplicate": boolean }),
                    &[],
                );
                record(
                    json!({ "outcomes": { "type": "array", "items": outcome } }),
                    &[],
                )
            }
            Schema::EventReceipt => {
                let count = json!({ "type": "integer", "minimum": 0 });
                let line = record(json!({ "line": count, "reason": string }), &[]);
                record(
                    json!({ "accepted": count, "rejected": count,
                            "rejected_lines": { "type": "array", "items": line } }),
                    &[],
                )
            }
            Schema::Health => {
                let up = json!({ "type": "string", "enum": ["up", "down"] });
                record(
                    json!({
                        "status": { "type": "string", "enum": ["ok", "unavailable"] },
                        "version": string, "database": up, "jetstream": up }),
                    &["jetstream"],
                )
            }
            Schema::Stats => {
                let count = json!({ "type": "integer", "minimum": 0 });
                let refused = record(
                    json!({
                        "bad_request": count, "unauthorized": count, "forbidden": count,
                        "not_found": count, "method_not_allowed": count,
                        "request_timeout": count, "payload_too_large": count,
                        "unprocessable": count, "too_many_requests": count,
                        "server_error": count, "over_capacity": count }),
                    &[],
                );
                let mut ingest = record(
                    json!({
                        "accepted": count, "rejected": count, "spooled": count,
                        "processed": count, "reordering": count, "detections": count,
                        "alerts": count, "duplicate_alerts": count }),
                    &[],
                );
                // Null when the server runs no live detection.
                ingest["type"] = json!(["object", "null"]);
                record(
                    json!({ "requests": count, "refused": refused, "ingest": ingest }),
                    &[],
                )
            }
            Schema::Error => json!({ "type": "object", "required": ["error"], "properties": {
                "error": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string" }, "message": { "type": "string" } } } } }),
            Schema::User => record(
                json!({ "id": id, "name": string, "role": role, "disabled": boolean,
                        "created_at": time }),
                &[],
            ),
            Schema::UserList => json!({ "type": "array", "items": reference(Schema::User) }),
            Schema::NewUser => object(
                &["name", "role"],
                json!({ "name": user_name(), "role": role }),
            ),
            Schema::CreatedUser => record(
                json!({ "user": reference(Schema::User), "token": string }),
                &[],
            ),
            Schema::Token => record(
                json!({
                    "id": id, "user_id": id, "label": string, "created_at": time,
                    "expires_at": opt_time, "expired": boolean, "revoked": boolean }),
                &[],
            ),
            Schema::TokenList => json!({ "type": "array", "items": reference(Schema::Token) }),
            // At most one of the two expiries.
            Schema::NewToken => {
                let mut schema = object(
                    &[],
                    json!({
                        "label": { "type": ["string", "null"], "maxLength": MAX_LABEL },
                        "expires_at": opt_time,
                        "expires_in_days": { "type": ["integer", "null"], "minimum": 1,
                                             "maximum": crate::token::MAX_EXPIRES_IN_DAYS } }),
                );
                schema["not"] = json!({ "required": ["expires_at", "expires_in_days"] });
                schema
            }
            Schema::CreatedToken => record(
                json!({ "api_token": reference(Schema::Token), "token": string }),
                &[],
            ),
            Schema::NewReport => object(
                &["category", "description"],
                json!({
                    "category": category, "description": not_blank(MAX_TEXT),
                    "sensitive": boolean, "occurred_at": opt_time,
                    "location": { "type": ["string", "null"], "maxLength": MAX_LOCATION },
                    "channel": { "type": ["string", "null"], "enum": nullable(Channel::ALL) } }),
            ),
            Schema::Report => record(
                json!({
                    "id": id, "reporter_id": opt_id, "channel": channel,
                    "category": category, "description": string,
                    "occurred_at": opt_time, "location": opt_str, "sensitive": boolean,
                    "incident_id": id, "incident_status": status,
                    "attachments": { "type": "array", "items": reference(Schema::Attachment) },
                    "created_at": time }),
                &[],
            ),
            Schema::ReportList => page(Schema::Report),
            Schema::Attachment => record(
                json!({
                    "id": id, "filename": string, "content_type": string,
                    "size": { "type": "integer", "minimum": 1 }, "sha256": string,
                    "url": string }),
                &[],
            ),
            Schema::Incident => record(
                json!({
                    "id": id, "title": string, "description": string,
                    "category": category, "severity": severity, "status": status,
                    "sensitive": boolean, "owner_id": opt_id,
                    "impact": { "oneOf": [reference(Schema::Impact), { "type": "null" }] },
                    "resolution": { "type": ["string", "null"], "enum": nullable(Resolution::ALL) },
                    "disclosure": disclosure,
                    "merged_into": opt_id, "alert_count": integer,
                    "times": reference(Schema::Times), "created_at": time, "updated_at": time,
                    "sla": sla }),
                &["sla"],
            ),
            Schema::Times => record(
                json!({
                    "occurred_at": opt_time, "detected_at": opt_time, "reported_at": time,
                    "acknowledged_at": opt_time, "contained_at": opt_time,
                    "resolved_at": opt_time, "closed_at": opt_time }),
                &[],
            ),
            Schema::IncidentList => page(Schema::Incident),
            Schema::IncidentDetail => record(
                json!({
                    "incident": reference(Schema::Incident),
                    "notes": { "type": "array", "items": reference(Schema::Note) },
                    "tasks": { "type": "array", "items": reference(Schema::Task) },
                    "timeline": { "type": "array", "items": reference(Schema::Timeline) },
                    "reports": { "type": "array", "items": reference(Schema::Report) },
                    "alerts": { "type": "array", "items": reference(Schema::Alert) },
                    "participant_ids": { "type": "array", "items": id } }),
                &[],
            ),
            Schema::Timeline => record(
                json!({ "id": id, "at": time, "actor_id": id, "kind": string, "message": string }),
                &[],
            ),
            Schema::IncidentUpdate => object(
                &[],
                json!({
                    "title": { "type": ["string", "null"], "minLength": 1, "maxLength": MAX_TITLE,
                               "pattern": NOT_BLANK },
                    "description": { "type": ["string", "null"], "maxLength": MAX_TEXT },
                    "category": { "type": ["string", "null"], "enum": nullable(Category::ALL) },
                    "severity": { "type": ["string", "null"], "enum": nullable(Severity::ALL) },
                    "disclosure": { "type": ["string", "null"], "enum": nullable(Disclosure::ALL) } }),
            ),
            Schema::StatusChange => {
                object(&["status"], json!({ "status": status, "at": opt_time }))
            }
            // An empty owner clears it.
            Schema::Assign => object(
                &[],
                json!({
                    "owner": { "type": ["string", "null"], "pattern": "^[A-Za-z0-9._@-]{0,64}$" },
                    "participants": { "type": "array", "maxItems": MAX_PARTICIPANTS,
                                      "items": user_name() } }),
            ),
            Schema::NewNote => object(&["body"], json!({ "body": not_blank(MAX_TEXT) })),
            Schema::Note => record(
                json!({ "id": id, "author_id": id, "body": string, "created_at": time }),
                &[],
            ),
            Schema::NewTask => object(
                &["title"],
                json!({
                    "title": text(1, MAX_TASK_TITLE),
                    "owner": { "type": ["string", "null"], "pattern": USER_NAME },
                    "due_at": opt_time }),
            ),
            Schema::Task => record(
                json!({
                    "id": id, "title": string, "owner_id": opt_id, "due_at": opt_time,
                    "done": boolean, "created_at": time }),
                &[],
            ),
            Schema::TaskUpdate => object(
                &[],
                json!({
                    "title": { "type": ["string", "null"], "minLength": 1, "maxLength": MAX_TASK_TITLE },
                    "owner": { "type": ["string", "null"], "pattern": USER_NAME },
                    "due_at": opt_time,
                    "done": { "type": ["boolean", "null"] } }),
            ),
            // Exactly one of the two.
            Schema::Link => {
                let mut schema = object(&[], json!({ "report_id": id, "alert_id": id }));
                schema["minProperties"] = json!(1);
                schema["maxProperties"] = json!(1);
                schema
            }
            Schema::Merge => object(&["into"], json!({ "into": id })),
            Schema::Impact => {
                let list = json!({ "type": "array", "maxItems": MAX_IMPACT_ENTRIES,
                                   "items": text(1, MAX_IMPACT_ENTRY) });
                object(
                    &["confidentiality", "integrity", "availability"],
                    json!({
                        "confidentiality": impact, "integrity": impact, "availability": impact,
                        "affected_assets": list, "affected_users": list, "affected_data": list,
                        "summary": text(0, MAX_TEXT) }),
                )
            }
            Schema::Close => object(
                &["resolution"],
                json!({
                    "resolution": { "type": "string", "enum": names(Resolution::ALL) },
                    "at": opt_time }),
            ),
            Schema::Alert => record(
                json!({
                    "id": id, "rule_id": string, "rule_title": string,
                    "level": { "type": "string", "enum": names(AlertLevel::ALL) },
                    "entities": entities, "evidence": { "type": "array" }, "policy": opt_str,
                    "detected_at": time, "incident_id": opt_id, "disposition": string,
                    "created_at": time }),
                &[],
            ),
            Schema::AlertList => page(Schema::Alert),
            Schema::Dismiss => object(
                &[],
                json!({ "reason": { "type": ["string", "null"], "maxLength": MAX_REASON } }),
            ),
            Schema::Suppression => record(
                json!({
                    "id": id, "rule_id": string, "entities": entities, "reason": string,
                    "expires_at": opt_time, "active": boolean, "created_by": id,
                    "created_at": time }),
                &[],
            ),
            Schema::SuppressionList => {
                json!({ "type": "array", "items": reference(Schema::Suppression) })
            }
            Schema::NewSuppression => object(
                &["rule_id", "reason"],
                json!({
                    "rule_id": text(1, MAX_RULE_ID),
                    "entities": { "type": "object", "maxProperties": MAX_ENTITIES,
                                  "propertyNames": not_blank(MAX_ENTITY_NAME),
                                  "additionalProperties": text(0, MAX_ENTITY_VALUE) },
                    "reason": text(1, MAX_REASON),
                    "expires_at": opt_time }),
            ),
            Schema::MetricRow => {
                let secs = json!({ "type": ["number", "null"], "minimum": 0 });
                let count = json!({ "type": "integer", "minimum": 0 });
                record(
                    json!({
                        "key": string, "count": count, "acknowledged": count,
                        "resolved": count, "tta_mean_secs": secs, "tta_p50_secs": secs,
                        "ttr_mean_secs": secs, "ttr_p50_secs": secs }),
                    &[],
                )
            }
            Schema::Metrics => {
                let row = reference(Schema::MetricRow);
                let rows = json!({ "type": "array", "items": row });
                record(
                    json!({ "from": time, "to": time, "total": row,
                            "by_severity": rows, "by_category": rows }),
                    &[],
                )
            }
            Schema::AuditEntry => record(
                json!({
                    "seq": { "type": "integer", "minimum": 1 }, "at": time, "actor_id": id,
                    "action": string, "entity": string, "entity_id": string,
                    "incident_id": opt_id, "related_incident_id": id,
                    "before": {}, "after": {}, "hash": string }),
                &["related_incident_id"],
            ),
            Schema::AuditList => record(
                json!({
                    "items": { "type": "array", "items": reference(Schema::AuditEntry) },
                    "next_after": { "type": ["integer", "null"] } }),
                &[],
            ),
            Schema::AuditVerify => record(
                json!({
                    "ok": boolean, "entries": integer,
                    "first_bad_seq": { "type": ["integer", "null"] }, "reason": opt_str }),
                &[],
            ),
            // Only roles that need no approval; the others go through role
            // grants (403 here).
            Schema::RoleChange => object(
                &["role"],
                json!({ "role": { "type": "string", "enum": names(&APPROVAL_FREE) } }),
            ),
            Schema::NewRoleGrant => object(
                &["user", "role"],
                json!({ "user": user_name(),
                        "role": { "type": "string", "enum": names(&NEED_TO_KNOW) } }),
            ),
            Schema::RoleGrant => record(
                json!({
                    "id": id, "user_id": id, "role": role,
                    "status": { "type": "string", "enum": ["pending", "approved", "rejected"] },
                    "requested_by": id, "requested_at": time,
                    "decided_by": opt_id, "decided_at": opt_time }),
                &[],
            ),
            Schema::RoleGrantList => {
                json!({ "type": "array", "items": reference(Schema::RoleGrant) })
            }
            Schema::AdvisoryDraft => {
                let body = not_blank(incidents::AdvisoryText::MAX_BODY as u32);
                object(
                    &["title", "summary", "impact", "remediation"],
                    json!({
                        "title": not_blank(incidents::AdvisoryText::MAX_TITLE as u32),
                        "summary": body, "impact": body, "remediation": body }),
                )
            }
            Schema::Advisory => record(
                json!({
                    "id": { "type": "string", "pattern": ADVISORY_ID }, "incident_id": id,
                    "title": string, "summary": string, "impact": string,
                    "remediation": string,
                    "status": { "type": "string", "enum": ["draft", "published"] },
                    "author_id": id, "approver_id": opt_id, "created_at": time,
                    "updated_at": time, "published_at": opt_time }),
                &[],
            ),
            Schema::AdvisoryList => {
                json!({ "type": "array", "items": reference(Schema::Advisory) })
            }
            Schema::MailReply => object(&["text"], json!({ "text": not_blank(MAX_TEXT) })),
            Schema::MailReplySent => record(
                json!({ "message_id": string, "to": string, "subject": string }),
                &[],
            ),
        }
    }
}
