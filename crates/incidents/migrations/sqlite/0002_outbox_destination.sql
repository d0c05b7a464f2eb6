-- A notifier fans one message out into one child message per destination,
-- so a failure at one destination retries only that destination.
ALTER TABLE outbox ADD COLUMN destination TEXT;
ALTER TABLE outbox ADD COLUMN parent_id TEXT;
