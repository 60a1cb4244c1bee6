-- One reply per prospect: a repeat submission from a prospect whose
-- earlier reply is neither sent nor approved (within the merge window) is
-- stored and linked to that workflow instead of starting a second one.
-- The reply is updated to answer it; `applied_at` and the CRM note's id
-- record that it was.
CREATE TABLE linked_submissions (
    submission_id TEXT PRIMARY KEY NOT NULL REFERENCES form_submissions (id),
    workflow_id   TEXT NOT NULL REFERENCES workflows (id),
    linked_at     INTEGER NOT NULL,
    applied_at    INTEGER,
    note_id       TEXT
);
CREATE INDEX idx_linked_submissions_workflow ON linked_submissions (workflow_id);
