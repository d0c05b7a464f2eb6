//! The OpenAPI schemas ([`web::schema::Schema`]) against the types that
//! carry the bodies ([`web::types`]): for each schema, a full sample of the
//! type must have exactly the schema's properties, and the schema's
//! `required` must be exactly what the type demands (requests: the fields
//! deserialisation cannot do without; responses: the fields always
//! written). A field added to a type and not to its schema, or made
//! optional in one and not the other, fails here.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use watchpost_web as web;
use web::schema::Schema;
use web::stats::{RefusedCounts, StatsSnapshot};
use web::types::*;

type RoundTrip = fn(Value) -> Result<Value, String>;

/// Deserialises `value` as `T` and serialises it back.
fn rt<T: DeserializeOwned + Serialize>(value: Value) -> Result<Value, String> {
    let t: T = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(t).expect("serialise"))
}

/// A serialise-only type: the sample is what it writes, every field.
fn as_is(value: Value) -> Result<Value, String> {
    Ok(value)
}

const ID: &str = "0190a4a0-0000-7000-8000-000000000001";
const AT: &str = "2026-01-01T00:00:00Z";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A request body type.
    Request,
    /// A response body type that also deserialises.
    Response,
    /// A response body type that only serialises ([`as_is`]): it writes
    /// every field.
    Written,
}

struct Case {
    schema: Schema,
    kind: Kind,
    sample: Value,
    rt: RoundTrip,
}

fn cases() -> Vec<Case> {
    let user = json!({ "id": ID, "name": "alice", "role": "responder", "disabled": false, "created_at": AT });
    let token = json!({ "id": ID, "user_id": ID, "label": "api", "created_at": AT,
        "expires_at": AT, "expired": false, "revoked": false });
    let impact = json!({ "confidentiality": "low", "integrity": "low", "availability": "low",
        "affected_assets": ["a"], "affected_users": ["u"], "affected_data": ["d"], "summary": "s" });
    let times = json!({ "occurred_at": AT, "detected_at": AT, "reported_at": AT,
        "acknowledged_at": AT, "contained_at": AT, "resolved_at": AT, "closed_at": AT });
    let incident = json!({ "id": ID, "title": "t", "description": "d", "category": "theft",
        "severity": "SEV3", "status": "triage", "sensitive": false, "owner_id": ID,
        "impact": impact, "resolution": null, "disclosure": "none", "merged_into": ID,
        "alert_count": 0, "times": times, "created_at": AT, "updated_at": AT,
        "sla": { "acknowledge": { "target": "15m", "due": AT, "state": "breached",
            "breached_at": AT, "stopped_at": null } } });
    let attachment = json!({ "id": ID, "filename": "f", "content_type": "text/plain",
        "size": 1, "sha256": "00", "url": "/x" });
    let report = json!({ "id": ID, "reporter_id": ID, "channel": "api", "category": "theft",
        "description": "d", "occurred_at": AT, "location": "l", "sensitive": false,
        "incident_id": ID, "incident_status": "triage", "attachments": [attachment],
        "created_at": AT });
    let alert = json!({ "id": ID, "rule_id": "r", "rule_title": "t", "level": "high",
        "entities": { "host": "h" }, "evidence": [{}], "policy": "p", "detected_at": AT,
        "incident_id": ID, "disposition": "opened", "created_at": AT });
    let advisory = json!({ "id": "WP-2026-0001", "incident_id": ID, "title": "t",
        "summary": "s", "impact": "i", "remediation": "r", "status": "published",
        "author_id": ID, "approver_id": ID, "created_at": AT, "updated_at": AT,
        "published_at": AT });
    let note = json!({ "id": ID, "author_id": ID, "body": "b", "created_at": AT });
    let task = json!({ "id": ID, "title": "t", "owner_id": ID, "due_at": AT, "done": false,
        "created_at": AT });
    let timeline = json!({ "id": ID, "at": AT, "actor_id": ID, "kind": "status", "message": "m" });
    let row = json!({ "key": "all", "count": 1, "acknowledged": 1, "tta_mean_secs": 1.0,
        "tta_p50_secs": 1.0, "resolved": 1, "ttr_mean_secs": 1.0, "ttr_p50_secs": 1.0 });
    let audit = json!({ "seq": 1, "at": AT, "actor_id": ID, "action": "a", "entity": "e",
        "entity_id": ID, "incident_id": ID, "related_incident_id": ID, "before": {},
        "after": {}, "hash": "h" });
    let grant = json!({ "id": ID, "user_id": ID, "role": "responder", "status": "pending",
        "requested_by": ID, "requested_at": AT, "decided_by": ID, "decided_at": AT });
    let suppression = json!({ "id": ID, "rule_id": "r", "entities": {}, "reason": "r",
        "expires_at": AT, "active": true, "created_by": ID, "created_at": AT });
    let stats = serde_json::to_value(StatsSnapshot {
        requests: 0,
        refused: RefusedCounts {
            bad_request: 0,
            unauthorized: 0,
            forbidden: 0,
            not_found: 0,
            method_not_allowed: 0,
            request_timeout: 0,
            payload_too_large: 0,
            unprocessable: 0,
            too_many_requests: 0,
            server_error: 0,
            over_capacity: 0,
        },
        ingest: Some(web::events::IngestStatus::default()),
    })
    .unwrap();
    let logsource = json!({ "product": "linux", "service": "sshd", "category": null });
    let gap = json!({ "from": AT, "to": AT, "seconds": 61.5 });
    let stream = json!({ "name": "s/auth.log", "host": "bastion", "logsource": logsource,
        "events": 12, "first_event": AT, "last_event": AT, "last_received": AT,
        "events_per_minute": 12.0, "silent": true, "silent_since": AT, "gaps": [gap],
        "rules": 3 });
    let rule = json!({ "id": "r", "title": "t", "level": "high", "kind": "detection",
        "logsource": logsource });
    let covered = json!({ "name": "s/auth.log", "host": "bastion", "logsource": logsource,
        "events": 12, "rules": [rule] });
    let rule_coverage = json!({ "id": "r", "title": "t", "level": "high", "kind": "correlation",
        "logsource": null, "events_seen": 12, "streams": 1 });
    let page = |item: Value| json!({ "items": [item], "next_cursor": "c", "total": 1 });
    let response = |schema: Schema, sample: Value, rt: RoundTrip| Case {
        schema,
        kind: Kind::Response,
        sample,
        rt,
    };
    let request = |schema: Schema, sample: Value, rt: RoundTrip| Case {
        schema,
        kind: Kind::Request,
        sample,
        rt,
    };
    vec![
        response(
            Schema::Health,
            json!({ "status": "ok", "version": "1", "database": "up", "jetstream": "up" }),
            rt::<HealthResponse>,
        ),
        Case {
            schema: Schema::Stats,
            kind: Kind::Written,
            sample: stats,
            rt: as_is,
        },
        response(
            Schema::EventReceipt,
            json!({ "accepted": 3, "rejected": 1,
                    "rejected_lines": [{ "line": 2, "reason": "invalid JSON" }] }),
            rt::<web::events::Receipt>,
        ),
        request(
            Schema::NewAlerts,
            json!({ "alerts": [{ "rule_id": "r", "rule_title": "t", "level": "high",
                "entities": { "host": "h" }, "evidence": [{}], "policy": "p",
                "detected_at": AT, "key": "k", "queue_only": false, "group": "g" }] }),
            rt::<NewAlertsRequest>,
        ),
        response(
            Schema::AlertOutcomes,
            json!({ "outcomes": [{ "alert_id": ID, "disposition": "opened",
                "incident_id": ID, "duplicate": false }] }),
            rt::<AlertOutcomesResponse>,
        ),
        response(
            Schema::RulesReloaded,
            json!({ "rules_loaded": 3, "rule_errors": ["a.yml: bad"] }),
            rt::<web::events::RulesReloaded>,
        ),
        response(
            Schema::SourceList,
            json!({ "sources": [{ "name": "s/auth.log", "accepted": 3, "rejected": 1,
                "first_seen": AT, "last_seen": AT, "lines_per_minute": 4.0 }],
                "streams": [stream.clone()], "untracked_events": 0 }),
            rt::<web::events::SourceList>,
        ),
        response(
            Schema::LogSource,
            logsource.clone(),
            rt::<web::events::LogSourceBody>,
        ),
        response(Schema::LogGap, gap, rt::<web::events::LogGap>),
        response(
            Schema::SourceStream,
            stream,
            rt::<web::events::SourceStream>,
        ),
        response(
            Schema::RuleSummary,
            rule.clone(),
            rt::<web::events::RuleSummary>,
        ),
        response(
            Schema::CoverageSource,
            covered.clone(),
            rt::<web::events::CoverageSource>,
        ),
        response(
            Schema::CoverageRule,
            rule_coverage.clone(),
            rt::<web::events::CoverageRule>,
        ),
        response(
            Schema::Coverage,
            json!({ "sources": [covered], "rules": [rule_coverage],
                "rules_without_events": [rule], "untracked_events": 2 }),
            rt::<web::events::Coverage>,
        ),
        response(Schema::User, user.clone(), rt::<UserResponse>),
        request(
            Schema::NewUser,
            json!({ "name": "a", "role": "reporter" }),
            rt::<NewUserRequest>,
        ),
        response(
            Schema::CreatedUser,
            json!({ "user": user, "token": "t" }),
            rt::<CreatedUserResponse>,
        ),
        response(Schema::Token, token.clone(), rt::<TokenResponse>),
        request(
            Schema::NewToken,
            json!({ "label": "l", "expires_at": AT, "expires_in_days": 1 }),
            rt::<NewTokenRequest>,
        ),
        response(
            Schema::CreatedToken,
            json!({ "api_token": token, "token": "t" }),
            rt::<CreatedTokenResponse>,
        ),
        request(
            Schema::NewReport,
            json!({ "category": "theft", "description": "d", "sensitive": true,
            "occurred_at": AT, "location": "l", "channel": "api" }),
            rt::<NewReportRequest>,
        ),
        response(Schema::Report, report.clone(), rt::<ReportResponse>),
        response(
            Schema::ReportList,
            page(report.clone()),
            rt::<Page<ReportResponse>>,
        ),
        response(Schema::Attachment, attachment, rt::<AttachmentResponse>),
        response(Schema::Incident, incident.clone(), rt::<IncidentResponse>),
        response(Schema::Times, times, rt::<TimesBody>),
        response(
            Schema::IncidentList,
            page(incident.clone()),
            rt::<Page<IncidentResponse>>,
        ),
        response(
            Schema::IncidentDetail,
            json!({ "incident": incident, "participant_ids": [ID],
            "reports": [report], "alerts": [alert.clone()], "timeline": [timeline.clone()],
            "notes": [note.clone()], "tasks": [task.clone()] }),
            rt::<IncidentDetailResponse>,
        ),
        response(Schema::Timeline, timeline, rt::<TimelineResponse>),
        request(
            Schema::IncidentUpdate,
            json!({ "title": "t", "description": "d", "category": "theft",
            "severity": "SEV3", "disclosure": "none" }),
            rt::<IncidentUpdateRequest>,
        ),
        request(
            Schema::StatusChange,
            json!({ "status": "triage", "at": AT }),
            rt::<StatusChangeRequest>,
        ),
        request(
            Schema::Assign,
            json!({ "owner": "a", "participants": ["b"] }),
            rt::<AssignRequest>,
        ),
        request(
            Schema::NewNote,
            json!({ "body": "b" }),
            rt::<NewNoteRequest>,
        ),
        response(Schema::Note, note, rt::<NoteResponse>),
        request(
            Schema::MailReply,
            json!({ "text": "thanks" }),
            rt::<MailReplyRequest>,
        ),
        response(
            Schema::MailReplySent,
            json!({ "message_id": "m@example.com", "to": "r@example.org", "subject": "Re: x" }),
            rt::<MailReplyResponse>,
        ),
        request(
            Schema::NewTask,
            json!({ "title": "t", "owner": "a", "due_at": AT }),
            rt::<NewTaskRequest>,
        ),
        response(Schema::Task, task, rt::<TaskResponse>),
        request(
            Schema::TaskUpdate,
            json!({ "title": "t", "owner": "a", "due_at": AT, "done": true }),
            rt::<TaskUpdateRequest>,
        ),
        request(
            Schema::Link,
            json!({ "report_id": ID, "alert_id": ID }),
            rt::<LinkRequest>,
        ),
        request(Schema::Merge, json!({ "into": ID }), rt::<MergeRequest>),
        request(Schema::Impact, impact, rt::<ImpactBody>),
        request(
            Schema::Close,
            json!({ "resolution": "false_positive", "at": AT }),
            rt::<CloseRequest>,
        ),
        response(Schema::Alert, alert.clone(), rt::<AlertResponse>),
        response(Schema::AlertList, page(alert), rt::<Page<AlertResponse>>),
        request(
            Schema::Dismiss,
            json!({ "reason": "r" }),
            rt::<DismissRequest>,
        ),
        response(Schema::Suppression, suppression, rt::<SuppressionResponse>),
        request(
            Schema::NewSuppression,
            json!({ "rule_id": "r", "entities": { "host": "h" },
            "reason": "r", "expires_at": AT }),
            rt::<NewSuppressionRequest>,
        ),
        request(
            Schema::AdvisoryDraft,
            json!({ "title": "t", "summary": "s", "impact": "i", "remediation": "r" }),
            rt::<AdvisoryRequest>,
        ),
        response(Schema::Advisory, advisory, rt::<AdvisoryResponse>),
        response(Schema::MetricRow, row.clone(), rt::<MetricRowResponse>),
        response(
            Schema::Metrics,
            json!({ "from": AT, "to": AT, "total": row.clone(),
            "by_severity": [row.clone()], "by_category": [row] }),
            rt::<MetricsResponse>,
        ),
        response(Schema::AuditEntry, audit.clone(), rt::<AuditEntryResponse>),
        response(
            Schema::AuditList,
            json!({ "items": [audit], "next_after": 1 }),
            rt::<AuditPage>,
        ),
        response(
            Schema::AuditVerify,
            json!({ "ok": true, "entries": 1, "first_bad_seq": 1,
            "reason": "r" }),
            rt::<AuditVerifyResponse>,
        ),
        request(
            Schema::RoleChange,
            json!({ "role": "admin" }),
            rt::<RoleChangeRequest>,
        ),
        request(
            Schema::NewRoleGrant,
            json!({ "user": "a", "role": "responder" }),
            rt::<RoleGrantRequest>,
        ),
        response(Schema::RoleGrant, grant, rt::<RoleGrantResponse>),
    ]
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `value` has one of the schema's JSON types and, if it lists
/// values, is one of them (no `$ref`s followed).
fn fits(schema: &Value, value: &Value) -> bool {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    let typed = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    let listed = schema["enum"]
        .as_array()
        .is_none_or(|values| values.contains(value));
    typed && listed
}

#[test]
fn schemas_match_the_types() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let schema = case.schema.json();
        let name = case.schema.name();
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let full = match (case.rt)(case.sample.clone()) {
            Ok(full) => full,
            Err(e) => {
                failures.push(format!("{name}: the sample does not fit the type: {e}"));
                continue;
            }
        };
        // The type's fields are the schema's properties.
        let declared: BTreeSet<String> = properties.keys().cloned().collect();
        if keys(&full) != declared {
            failures.push(format!(
                "{name}: the type has fields {:?}, the schema {:?}",
                keys(&full),
                declared
            ));
        }
        for (key, value) in full.as_object().unwrap() {
            if let Some(property) = properties.get(key)
                && !fits(property, value)
            {
                failures.push(format!("{name}.{key}: {value} does not fit {property}"));
            }
        }
        // The fields the type cannot do without.
        let mut minimal: Map<String, Value> = case.sample.as_object().unwrap().clone();
        for key in keys(&case.sample) {
            let mut fewer = minimal.clone();
            fewer.remove(&key);
            if (case.rt)(Value::Object(fewer.clone())).is_ok() {
                minimal = fewer;
            }
        }
        let required = strings(&schema["required"]);
        let expected = match case.kind {
            Kind::Request => minimal.keys().cloned().collect(),
            Kind::Response => keys(&(case.rt)(Value::Object(minimal)).unwrap()),
            Kind::Written => keys(&full),
        };
        if required != expected {
            failures.push(format!(
                "{name}: `required` is {required:?}, the type demands {expected:?}"
            ));
        }
        if case.kind == Kind::Request {
            // Requests refuse unknown fields, as the schema says.
            if schema["additionalProperties"] != json!(false) {
                failures.push(format!(
                    "{name}: a request schema must refuse other properties"
                ));
            }
            let mut extra = case.sample.clone();
            extra["no_such_field"] = json!(1);
            if (case.rt)(extra).is_ok() {
                failures.push(format!("{name}: the type accepts unknown fields"));
            }
        }
    }
    // Every object schema of the document has a case.
    let covered: BTreeSet<Schema> = cases.iter().map(|c| c.schema).collect();
    for schema in Schema::ALL {
        let json = schema.json();
        let is_record = json["type"] == "object" && json.get("properties").is_some();
        if is_record && *schema != Schema::Error && !covered.contains(schema) {
            failures.push(format!(
                "{}: no case checks it against its type",
                schema.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
