-- "I didn't do this" checks: one per alert mailed to the affected user.
-- Only the SHA-256 of the link's token is stored (hex); the token lives
-- only in the mail. A check is answered once (used_at, answer: 'mine' or
-- 'not_mine') and only before expires_at. Times are unix microseconds.
CREATE TABLE user_checks (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL UNIQUE REFERENCES alerts (id),
    address TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    answer TEXT
);
