-- The Slack thread of an incident: the channel and `ts` of the first
-- message posted about it (its "opened" notice). Later notices about the
-- incident are posted as replies in that thread. Written and read by the
-- notification worker (the system viewer) only.
CREATE TABLE slack_threads (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id),
    channel TEXT NOT NULL,
    ts TEXT NOT NULL
);
