-- Local passwords and browser sessions for the web pages.

-- A user's password, as a PHC string (Argon2id, hashed by the caller; never
-- the password). NULL: the user has no password and signs in to no page.
-- Users from before this migration have none.
ALTER TABLE users ADD COLUMN password_hash TEXT;

-- A browser session. Only the SHA-256 of the session id is stored (the id
-- lives only in the browser's cookie), with the CSRF token its forms carry.
-- It ends at expires_at, or when unused for longer than the idle limit
-- since last_seen; changing the user's password or role, or disabling the
-- user, deletes all of the user's sessions.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
