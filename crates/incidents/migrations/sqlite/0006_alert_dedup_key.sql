-- Deterministic alert identities: the caller's key of a detection (rule,
-- entity keys, time bucket). An alert with a key is stored once; ingesting
-- the same key again answers the first alert. The unique index settles two
-- concurrent ingests of one key; alerts without a key (NULL) are not
-- constrained.
ALTER TABLE alerts ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX alerts_dedup_key ON alerts (dedup_key);
