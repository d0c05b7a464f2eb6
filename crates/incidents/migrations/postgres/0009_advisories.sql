-- Public advisories: what is published about a closed, confirmed,
-- non-sensitive incident. Only the public fields live here; the incident's
-- internal record is never copied. The id is WP-YYYY-NNNN: the year the
-- advisory was created and a per-year sequence (year, seq), allocated in the
-- writing transaction. author_id is who wrote the current text (the last
-- editor); approver_id the responder who published it, never the author.
CREATE TABLE advisories (
    id TEXT PRIMARY KEY,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    incident_id TEXT NOT NULL UNIQUE REFERENCES incidents(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    impact TEXT NOT NULL,
    remediation TEXT NOT NULL,
    status TEXT NOT NULL,
    author_id TEXT NOT NULL,
    approver_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT,
    UNIQUE (year, seq)
);
CREATE INDEX advisories_published ON advisories (status, published_at);
