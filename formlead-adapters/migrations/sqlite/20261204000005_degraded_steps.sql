-- An enrichment step (3-6) that failed can be recorded as `degraded`: the
-- workflow went on without its context instead of dead-lettering the lead.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- (nothing references it; its rows are copied as they are).
CREATE TABLE workflow_steps_new (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    step        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'degraded')),
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    summary     TEXT,
    output      TEXT,
    error       TEXT,
    PRIMARY KEY (workflow_id, step)
);
INSERT INTO workflow_steps_new
    SELECT workflow_id, step, status, attempt, started_at, finished_at, summary, output, error
    FROM workflow_steps;
DROP TABLE workflow_steps;
ALTER TABLE workflow_steps_new RENAME TO workflow_steps;
