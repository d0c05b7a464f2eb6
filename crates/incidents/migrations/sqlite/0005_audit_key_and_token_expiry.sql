-- The audit chain is keyed (HMAC-SHA256, the key kept outside the
-- database): the head names the key the chain was written with. NULL means
-- a chain written before keys existed, which the store re-keys once.
ALTER TABLE audit_head ADD COLUMN key_id TEXT;

-- API tokens may expire; an expired token authenticates as nobody.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
