//! JSON Schemas of the request and response bodies, for the OpenAPI
//! document. Enum values come from the domain's own lists, so the document
//! cannot drift from what the API accepts.

use incidents::enums::{
    AlertLevel, Category, Channel, Disclosure, ImpactLevel, Resolution, Role, Severity, Status,
};
use serde_json::{Value, json};

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
    IncidentList,
    IncidentDetail,
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
    Metrics,
    AuditList,
    AuditVerify,
    RoleChange,
    NewRoleGrant,
    RoleGrant,
    RoleGrantList,
}

fn names<T: std::fmt::Display>(all: &[T]) -> Value {
    Value::from(all.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn reference(schema: Schema) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", schema.name()) })
}

fn page(item: Schema) -> Value {
    json!({
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": { "type": "array", "items": reference(item) },
            "next_cursor": { "type": ["string", "null"] },
            "total": { "type": "integer" },
        }
    })
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
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
        Schema::IncidentList,
        Schema::IncidentDetail,
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
        Schema::Metrics,
        Schema::AuditList,
        Schema::AuditVerify,
        Schema::RoleChange,
        Schema::NewRoleGrant,
        Schema::RoleGrant,
        Schema::RoleGrantList,
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
        let id = json!({ "type": "string", "format": "uuid" });
        let opt_str = json!({ "type": ["string", "null"] });
        let strs = json!({ "type": "array", "items": { "type": "string" } });
        let category = json!({ "type": "string", "enum": names(Category::ALL) });
        let severity = json!({ "type": "string", "enum": names(Severity::ALL) });
        let status = json!({ "type": "string", "enum": names(Status::ALL) });
        let role = json!({ "type": "string", "enum": names(Role::ALL) });
        let impact = json!({ "type": "string", "enum": names(ImpactLevel::ALL) });
        match self {
            Schema::Object => json!({ "type": "object" }),
            Schema::Binary => {
                json!({ "type": "string", "contentMediaType": "application/octet-stream" })
            }
            Schema::Health => json!({ "type": "object", "properties": {
                "status": { "type": "string" }, "version": { "type": "string" } } }),
            Schema::Stats => {
                let count = json!({ "type": "integer", "minimum": 0 });
                json!({ "type": "object", "properties": {
                    "requests": count,
                    "refused": { "type": "object", "properties": {
                        "bad_request": count, "unauthorized": count, "forbidden": count,
                        "not_found": count, "method_not_allowed": count,
                        "request_timeout": count, "payload_too_large": count,
                        "unprocessable": count, "too_many_requests": count,
                        "server_error": count, "over_capacity": count } } } })
            }
            Schema::Error => json!({ "type": "object", "required": ["error"], "properties": {
                "error": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string" }, "message": { "type": "string" } } } } }),
            Schema::User => json!({ "type": "object", "properties": {
                "id": id, "name": { "type": "string" }, "role": role,
                "disabled": { "type": "boolean" }, "created_at": time } }),
            Schema::UserList => json!({ "type": "array", "items": reference(Schema::User) }),
            Schema::NewUser => object(
                &["name", "role"],
                json!({
                "name": { "type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$" }, "role": role }),
            ),
            Schema::CreatedUser => json!({ "type": "object", "properties": {
                "user": reference(Schema::User), "token": { "type": "string" } } }),
            Schema::Token => json!({ "type": "object", "properties": {
                "id": id, "user_id": id, "label": { "type": "string" }, "created_at": time,
                "expires_at": opt_time, "expired": { "type": "boolean" },
                "revoked": { "type": "boolean" } } }),
            Schema::TokenList => json!({ "type": "array", "items": reference(Schema::Token) }),
            Schema::NewToken => object(
                &[],
                json!({
                "label": { "type": "string", "maxLength": 200 }, "expires_at": opt_time,
                "expires_in_days": { "type": "integer", "minimum": 1, "maximum": 3650 } }),
            ),
            Schema::CreatedToken => json!({ "type": "object", "properties": {
                "api_token": reference(Schema::Token), "token": { "type": "string" } } }),
            Schema::NewReport => object(
                &["category", "description"],
                json!({
                "category": category, "description": { "type": "string" },
                "sensitive": { "type": "boolean" }, "occurred_at": opt_time,
                "location": opt_str,
                "channel": { "type": "string", "enum": names(Channel::ALL) } }),
            ),
            Schema::Report => json!({ "type": "object", "properties": {
                "id": id, "reporter_id": opt_str, "channel": { "type": "string" },
                "category": category, "description": { "type": "string" },
                "occurred_at": opt_time, "location": opt_str, "sensitive": { "type": "boolean" },
                "incident_id": id, "incident_status": status,
                "attachments": { "type": "array", "items": reference(Schema::Attachment) },
                "created_at": time } }),
            Schema::ReportList => page(Schema::Report),
            Schema::Attachment => json!({ "type": "object", "properties": {
                "id": id, "filename": { "type": "string" }, "content_type": { "type": "string" },
                "size": { "type": "integer" }, "sha256": { "type": "string" },
                "url": { "type": "string" } } }),
            Schema::Incident => json!({ "type": "object", "properties": {
                "id": id, "title": { "type": "string" }, "description": { "type": "string" },
                "category": category, "severity": severity, "status": status,
                "sensitive": { "type": "boolean" }, "owner_id": opt_str,
                "impact": { "oneOf": [reference(Schema::Impact), { "type": "null" }] },
                "resolution": { "type": ["string", "null"], "enum": names(Resolution::ALL) },
                "disclosure": { "type": "string", "enum": names(Disclosure::ALL) },
                "merged_into": opt_str, "alert_count": { "type": "integer" },
                "times": { "type": "object" }, "created_at": time, "updated_at": time } }),
            Schema::IncidentList => page(Schema::Incident),
            Schema::IncidentDetail => json!({ "type": "object", "properties": {
                "incident": reference(Schema::Incident),
                "notes": { "type": "array", "items": reference(Schema::Note) },
                "tasks": { "type": "array", "items": reference(Schema::Task) },
                "timeline": { "type": "array", "items": { "type": "object" } },
                "reports": { "type": "array", "items": reference(Schema::Report) },
                "alerts": { "type": "array", "items": reference(Schema::Alert) },
                "participant_ids": strs } }),
            Schema::IncidentUpdate => object(
                &[],
                json!({
                "title": { "type": "string" }, "description": { "type": "string" },
                "category": category, "severity": severity,
                "disclosure": { "type": "string", "enum": names(Disclosure::ALL) } }),
            ),
            Schema::StatusChange => {
                object(&["status"], json!({ "status": status, "at": opt_time }))
            }
            Schema::Assign => object(&[], json!({ "owner": opt_str, "participants": strs })),
            Schema::NewNote => object(&["body"], json!({ "body": { "type": "string" } })),
            Schema::Note => json!({ "type": "object", "properties": {
                "id": id, "author_id": id, "body": { "type": "string" }, "created_at": time } }),
            Schema::NewTask => object(
                &["title"],
                json!({
                "title": { "type": "string" }, "owner": opt_str, "due_at": opt_time }),
            ),
            Schema::Task => json!({ "type": "object", "properties": {
                "id": id, "title": { "type": "string" }, "owner_id": opt_str, "due_at": opt_time,
                "done": { "type": "boolean" }, "created_at": time } }),
            Schema::TaskUpdate => object(
                &[],
                json!({
                "title": { "type": "string" }, "owner": opt_str, "due_at": opt_time,
                "done": { "type": "boolean" } }),
            ),
            Schema::Link => object(&[], json!({ "report_id": opt_str, "alert_id": opt_str })),
            Schema::Merge => object(&["into"], json!({ "into": id })),
            Schema::Impact => object(
                &["confidentiality", "integrity", "availability"],
                json!({
                "confidentiality": impact, "integrity": impact, "availability": impact,
                "affected_assets": strs, "affected_users": strs, "affected_data": strs,
                "summary": { "type": "string" } }),
            ),
            Schema::Close => object(
                &["resolution"],
                json!({
                "resolution": { "type": "string", "enum": names(Resolution::ALL) }, "at": opt_time }),
            ),
            Schema::Alert => json!({ "type": "object", "properties": {
                "id": id, "rule_id": { "type": "string" }, "rule_title": { "type": "string" },
                "level": { "type": "string", "enum": names(AlertLevel::ALL) },
                "entities": { "type": "object", "additionalProperties": { "type": "string" } },
                "evidence": { "type": "array" }, "policy": opt_str, "detected_at": time,
                "incident_id": opt_str, "disposition": { "type": "string" }, "created_at": time } }),
            Schema::AlertList => page(Schema::Alert),
            Schema::Dismiss => object(&[], json!({ "reason": opt_str })),
            Schema::Suppression => json!({ "type": "object", "properties": {
                "id": id, "rule_id": { "type": "string" },
                "entities": { "type": "object", "additionalProperties": { "type": "string" } },
                "reason": { "type": "string" }, "expires_at": opt_time,
                "active": { "type": "boolean" }, "created_by": id, "created_at": time } }),
            Schema::SuppressionList => {
                json!({ "type": "array", "items": reference(Schema::Suppression) })
            }
            Schema::NewSuppression => object(
                &["rule_id", "reason"],
                json!({
                "rule_id": { "type": "string", "minLength": 1, "maxLength": 200 },
                "entities": { "type": "object", "maxProperties": 32, "additionalProperties": { "type": "string" } },
                "reason": { "type": "string", "minLength": 1, "maxLength": 2000 },
                "expires_at": opt_time }),
            ),
            Schema::Metrics => {
                let row = json!({ "type": "object", "properties": {
                    "key": { "type": "string" }, "count": { "type": "integer" },
                    "acknowledged": { "type": "integer" }, "resolved": { "type": "integer" },
                    "tta_mean_secs": { "type": ["number", "null"] },
                    "tta_p50_secs": { "type": ["number", "null"] },
                    "ttr_mean_secs": { "type": ["number", "null"] },
                    "ttr_p50_secs": { "type": ["number", "null"] } } });
                json!({ "type": "object", "properties": {
                    "from": time, "to": time, "total": row,
                    "by_severity": { "type": "array", "items": row },
                    "by_category": { "type": "array", "items": row } } })
            }
            Schema::AuditList => json!({ "type": "object", "properties": {
                "items": { "type": "array", "items": { "type": "object" } },
                "next_after": { "type": ["integer", "null"] } } }),
            Schema::AuditVerify => json!({ "type": "object", "properties": {
                "ok": { "type": "boolean" }, "entries": { "type": "integer" },
                "first_bad_seq": { "type": ["integer", "null"] }, "reason": opt_str } }),
            Schema::RoleChange => object(&["role"], json!({ "role": role })),
            Schema::NewRoleGrant => object(
                &["user", "role"],
                json!({ "user": { "type": "string" }, "role": role }),
            ),
            Schema::RoleGrant => json!({ "type": "object", "properties": {
                "id": id, "user_id": id, "role": role,
                "status": { "type": "string", "enum": ["pending", "approved", "rejected"] },
                "requested_by": id, "requested_at": time,
                "decided_by": opt_str, "decided_at": opt_time } }),
            Schema::RoleGrantList => {
                json!({ "type": "array", "items": reference(Schema::RoleGrant) })
            }
        }
    }
}
