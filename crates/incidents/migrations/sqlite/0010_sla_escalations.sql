-- SLA escalations: one row per (incident, clock, step) once that step's
-- notice was queued. Step 1 tells the Security Team a clock is overdue;
-- step 2 tells the second contact (finance-ops and the Security Team). The
-- unique key makes each step happen once, even when two checks race or
-- the server restarts. `at` is when the step was taken (unix
-- microseconds), `due` the deadline that was missed.
CREATE TABLE sla_escalations (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    clock TEXT NOT NULL,
    step INTEGER NOT NULL,
    due INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, clock, step)
);
