-- Need-to-know: search only what a caller can read, sticky sensitivity,
-- audit entries that name two incidents, and two-person role grants.

-- Lower-cased copies of the searchable text, written by the store (in Rust,
-- so both databases fold letters alike, non-ASCII included). NULL until the
-- store fills them in at open, for rows written before this migration.
ALTER TABLE incidents ADD COLUMN title_lc TEXT;
ALTER TABLE incidents ADD COLUMN description_lc TEXT;
ALTER TABLE reports ADD COLUMN description_lc TEXT;

-- An alert dismissed from (or linked away from) a sensitive incident stays
-- sensitive.
ALTER TABLE alerts ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;

-- The second incident an entry names (link, merge): the entry is visible
-- only to callers who see both.
ALTER TABLE audit_log ADD COLUMN related_incident_id TEXT;
-- Written while an incident it names was sensitive (or about a sensitive
-- report or alert): stays hidden from those who see the incident only
-- because it is no longer sensitive.
ALTER TABLE audit_log ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
CREATE INDEX audit_log_related ON audit_log (related_incident_id);

-- Requests to grant a need-to-know role (responder, finance-ops), decided
-- by a current responder other than the requester.
CREATE TABLE role_grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER
);
CREATE INDEX role_grants_status ON role_grants (status, requested_at);

-- Notifications that concern no incident (role grants): incident_id becomes
-- optional. SQLite cannot drop NOT NULL in place, so the table is rebuilt.
CREATE TABLE outbox_new (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    incident_id TEXT,
    sensitive INTEGER NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    destination TEXT,
    parent_id TEXT
);
INSERT INTO outbox_new (id, kind, incident_id, sensitive, payload, status, attempts, next_attempt_at, lease_until, last_error, created_at, sent_at, destination, parent_id)
SELECT id, kind, incident_id, sensitive, payload, status, attempts, next_attempt_at, lease_until, last_error, created_at, sent_at, destination, parent_id FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
