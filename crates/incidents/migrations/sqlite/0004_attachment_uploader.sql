-- Who uploaded each attachment, so that attachment bytes can be limited per
-- user. Attachments stored before this migration have no uploader: they
-- count towards the total only.
ALTER TABLE attachments ADD COLUMN uploaded_by TEXT;
CREATE INDEX attachments_uploader ON attachments (uploaded_by);
