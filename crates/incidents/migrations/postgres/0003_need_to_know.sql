-- Need-to-know: search only what a caller can read, sticky sensitivity,
-- audit entries that name two incidents, and two-person role grants.

-- Lower-cased copies of the searchable text, written by the store (in Rust,
-- so both databases fold letters alike, non-ASCII included). NULL until the
-- store fills them in at open, for rows written before this migration.
-- Trigram indexes serve substring search (pg_trgm ships with PostgreSQL and
-- is a trusted extension: a database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE incidents ADD COLUMN title_lc TEXT;
ALTER TABLE incidents ADD COLUMN description_lc TEXT;
ALTER TABLE reports ADD COLUMN description_lc TEXT;
CREATE INDEX incidents_title_trgm ON incidents USING gin (title_lc gin_trgm_ops);
CREATE INDEX incidents_description_trgm ON incidents USING gin (description_lc gin_trgm_ops);

-- An alert dismissed from (or linked away from) a sensitive incident stays
-- sensitive.
ALTER TABLE alerts ADD COLUMN sensitive BIGINT NOT NULL DEFAULT 0;

-- The second incident an entry names (link, merge): the entry is visible
-- only to callers who see both.
ALTER TABLE audit_log ADD COLUMN related_incident_id TEXT;
-- Written while an incident it names was sensitive (or about a sensitive
-- report or alert): stays hidden from those who see the incident only
-- because it is no longer sensitive.
ALTER TABLE audit_log ADD COLUMN sensitive BIGINT NOT NULL DEFAULT 0;
CREATE INDEX audit_log_related ON audit_log (related_incident_id);

-- Requests to grant a need-to-know role (responder, finance-ops), decided
-- by a current responder other than the requester.
CREATE TABLE role_grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT
);
CREATE INDEX role_grants_status ON role_grants (status, requested_at);

-- Notifications that concern no incident (role grants).
ALTER TABLE outbox ALTER COLUMN incident_id DROP NOT NULL;
