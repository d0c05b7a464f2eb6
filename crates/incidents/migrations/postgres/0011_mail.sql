-- The security@ mailbox. Every mail taken in or sent out about a report,
-- once: `message_id` is its Message-ID (without the angle brackets), unique,
-- so a message seen twice is recognised. `direction` is `in` or `out`;
-- `address` the sender (in) or recipient (out); `in_reply_to` and
-- `refs` (space-separated) are the threading headers it carried.
-- `created_at` is unix microseconds.
CREATE TABLE mail_messages (
    message_id TEXT PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports (id),
    direction TEXT NOT NULL,
    address TEXT NOT NULL,
    subject TEXT NOT NULL,
    in_reply_to TEXT,
    refs TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_messages_report ON mail_messages (report_id, created_at);

-- Where the poller is in each IMAP folder: the folder's UIDVALIDITY and
-- the last UID taken, so a restart neither re-imports nor skips mail.
CREATE TABLE mailbox_positions (
    mailbox TEXT PRIMARY KEY,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL
);
