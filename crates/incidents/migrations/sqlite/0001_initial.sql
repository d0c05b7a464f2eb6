-- Initial schema (SQLite). Times are unix microseconds (INTEGER); ids are
-- UUID text; JSON is text; booleans are 0/1. Only INTEGER and TEXT column
-- types are used so the same queries run through sqlx's Any driver.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    sensitive INTEGER NOT NULL,
    owner_id TEXT,
    impact TEXT,
    resolution TEXT,
    disclosure TEXT NOT NULL,
    merged_into TEXT REFERENCES incidents(id),
    alert_count INTEGER NOT NULL DEFAULT 0,
    group_key TEXT,
    last_alert_at INTEGER,
    occurred_at INTEGER,
    detected_at INTEGER,
    reported_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    contained_at INTEGER,
    resolved_at INTEGER,
    closed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX incidents_created ON incidents (created_at, id);
CREATE INDEX incidents_status_severity ON incidents (status, severity, created_at, id);
CREATE INDEX incidents_severity ON incidents (severity, created_at, id);
CREATE INDEX incidents_category ON incidents (category, created_at, id);
CREATE INDEX incidents_owner ON incidents (owner_id, created_at);
CREATE INDEX incidents_group ON incidents (group_key, status);
CREATE INDEX incidents_reported ON incidents (reported_at);

CREATE TABLE incident_participants (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);
CREATE INDEX incident_participants_user ON incident_participants (user_id, incident_id);

CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    reporter_id TEXT,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    occurred_at INTEGER,
    location TEXT,
    sensitive INTEGER NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX reports_reporter ON reports (reporter_id, incident_id);
CREATE INDEX reports_incident ON reports (incident_id);
CREATE INDEX reports_created ON reports (created_at, id);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports(id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX attachments_report ON attachments (report_id);

CREATE TABLE suppressions (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    entities TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX suppressions_rule ON suppressions (rule_id);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    level TEXT NOT NULL,
    entities TEXT NOT NULL,
    evidence TEXT NOT NULL,
    policy TEXT,
    detected_at INTEGER NOT NULL,
    incident_id TEXT REFERENCES incidents(id),
    disposition TEXT NOT NULL,
    suppressed_by TEXT REFERENCES suppressions(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id, created_at);
CREATE INDEX alerts_created ON alerts (created_at, id);
CREATE INDEX alerts_rule ON alerts (rule_id, created_at);

CREATE TABLE timeline (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX timeline_incident ON timeline (incident_id, at);

CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX notes_incident ON notes (incident_id, created_at);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    title TEXT NOT NULL,
    owner_id TEXT,
    due_at INTEGER,
    done INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX tasks_incident ON tasks (incident_id, created_at);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    incident_id TEXT,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_incident ON audit_log (incident_id, seq);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    sensitive INTEGER NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
