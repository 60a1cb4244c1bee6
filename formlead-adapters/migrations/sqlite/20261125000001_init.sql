-- formlead schema (SQLite). Timestamps are INTEGER milliseconds since the
-- Unix epoch (UTC); ids are UUID text; JSON is text.

CREATE TABLE form_submissions (
    id                 TEXT PRIMARY KEY NOT NULL,
    form_submission_id TEXT NOT NULL UNIQUE,
    portal_id          INTEGER,
    form_id            TEXT,
    submitted_at       INTEGER,
    page_url           TEXT,
    fields             TEXT NOT NULL CHECK (json_valid(fields)),
    -- the body exactly as received
    raw_body           TEXT NOT NULL,
    raw_payload        TEXT GENERATED ALWAYS AS (json(raw_body)) VIRTUAL,
    source             TEXT NOT NULL,
    prospect_email     TEXT NOT NULL,
    received_at        INTEGER NOT NULL
);
CREATE INDEX idx_form_submissions_email ON form_submissions (prospect_email);
CREATE INDEX idx_form_submissions_received_at ON form_submissions (received_at);

CREATE TABLE workflows (
    id             TEXT PRIMARY KEY NOT NULL,
    submission_id  TEXT NOT NULL UNIQUE REFERENCES form_submissions (id),
    status         TEXT NOT NULL CHECK (status IN ('triggered', 'processing', 'completed', 'awaiting_approval', 'retrying', 'failed')),
    prospect_email TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    started_at     INTEGER,
    completed_at   INTEGER,
    next_retry_at  INTEGER,
    last_error     TEXT,
    lease_owner    TEXT,
    lease_until    INTEGER
);
CREATE INDEX idx_workflows_status ON workflows (status);
CREATE INDEX idx_workflows_created_at ON workflows (created_at);
CREATE INDEX idx_workflows_prospect_email ON workflows (prospect_email);
CREATE INDEX idx_workflows_next_retry_at ON workflows (next_retry_at);
CREATE INDEX idx_workflows_lease_until ON workflows (lease_until) WHERE status = 'processing';

CREATE TABLE workflow_steps (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    step        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    summary     TEXT,
    output      TEXT,
    error       TEXT,
    PRIMARY KEY (workflow_id, step)
);

CREATE TABLE draft_emails (
    id              TEXT PRIMARY KEY NOT NULL,
    workflow_id     TEXT NOT NULL REFERENCES workflows (id),
    to_email        TEXT NOT NULL,
    to_name         TEXT,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    thread_id       TEXT,
    in_reply_to     TEXT,
    external_id     TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending_approval', 'approved', 'rejected', 'sent')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    decided_by      TEXT,
    decided_at      INTEGER,
    reject_reason   TEXT,
    sent_message_id TEXT,
    sent_at         INTEGER
);
CREATE INDEX idx_draft_emails_workflow ON draft_emails (workflow_id);
CREATE INDEX idx_draft_emails_status ON draft_emails (status);
CREATE INDEX idx_draft_emails_created_at ON draft_emails (created_at);
CREATE INDEX idx_draft_emails_to_email ON draft_emails (to_email);

CREATE TABLE hubspot_tasks (
    id          TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    contact_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    priority    TEXT NOT NULL,
    task_type   TEXT NOT NULL,
    owner_id    TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_hubspot_tasks_workflow ON hubspot_tasks (workflow_id);
CREATE INDEX idx_hubspot_tasks_created_at ON hubspot_tasks (created_at);

CREATE TABLE workflow_errors (
    id          TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    attempt     INTEGER NOT NULL,
    step        TEXT,
    kind        TEXT NOT NULL CHECK (kind IN ('transient', 'permanent')),
    message     TEXT NOT NULL,
    retry_at    INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_workflow_errors_workflow ON workflow_errors (workflow_id);
CREATE INDEX idx_workflow_errors_created_at ON workflow_errors (created_at);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT REFERENCES workflows (id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_audit_events_workflow ON audit_events (workflow_id);
CREATE INDEX idx_audit_events_created_at ON audit_events (created_at);
