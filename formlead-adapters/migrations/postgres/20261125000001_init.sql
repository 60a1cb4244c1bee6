-- formlead schema (PostgreSQL).

CREATE TABLE form_submissions (
    id                 UUID PRIMARY KEY,
    form_submission_id TEXT NOT NULL UNIQUE,
    portal_id          BIGINT,
    form_id            TEXT,
    submitted_at       TIMESTAMPTZ,
    page_url           TEXT,
    fields             JSONB NOT NULL,
    -- the body exactly as received, and the same as JSONB for querying
    raw_body           TEXT NOT NULL,
    raw_payload        JSONB GENERATED ALWAYS AS (raw_body::jsonb) STORED,
    source             TEXT NOT NULL,
    prospect_email     TEXT NOT NULL,
    received_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_form_submissions_email ON form_submissions (prospect_email);
CREATE INDEX idx_form_submissions_received_at ON form_submissions (received_at);

CREATE TABLE workflows (
    id             UUID PRIMARY KEY,
    submission_id  UUID NOT NULL UNIQUE REFERENCES form_submissions (id),
    status         TEXT NOT NULL CHECK (status IN ('triggered', 'processing', 'completed', 'awaiting_approval', 'retrying', 'failed')),
    prospect_email TEXT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ,
    next_retry_at  TIMESTAMPTZ,
    last_error     TEXT,
    lease_owner    TEXT,
    lease_until    TIMESTAMPTZ
);
CREATE INDEX idx_workflows_status ON workflows (status);
CREATE INDEX idx_workflows_created_at ON workflows (created_at);
CREATE INDEX idx_workflows_prospect_email ON workflows (prospect_email);
CREATE INDEX idx_workflows_next_retry_at ON workflows (next_retry_at);
CREATE INDEX idx_workflows_lease_until ON workflows (lease_until) WHERE status = 'processing';

CREATE TABLE workflow_steps (
    workflow_id UUID NOT NULL REFERENCES workflows (id),
    step        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    attempt     BIGINT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    summary     TEXT,
    output      JSONB,
    error       TEXT,
    PRIMARY KEY (workflow_id, step)
);

CREATE TABLE draft_emails (
    id              UUID PRIMARY KEY,
    workflow_id     UUID NOT NULL REFERENCES workflows (id),
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
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    decided_by      TEXT,
    decided_at      TIMESTAMPTZ,
    reject_reason   TEXT,
    sent_message_id TEXT,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX idx_draft_emails_workflow ON draft_emails (workflow_id);
CREATE INDEX idx_draft_emails_status ON draft_emails (status);
CREATE INDEX idx_draft_emails_created_at ON draft_emails (created_at);
CREATE INDEX idx_draft_emails_to_email ON draft_emails (to_email);

CREATE TABLE hubspot_tasks (
    id          UUID PRIMARY KEY,
    workflow_id UUID NOT NULL REFERENCES workflows (id),
    contact_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    priority    TEXT NOT NULL,
    task_type   TEXT NOT NULL,
    owner_id    TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_hubspot_tasks_workflow ON hubspot_tasks (workflow_id);
CREATE INDEX idx_hubspot_tasks_created_at ON hubspot_tasks (created_at);

CREATE TABLE workflow_errors (
    id          UUID PRIMARY KEY,
    workflow_id UUID NOT NULL REFERENCES workflows (id),
    attempt     BIGINT NOT NULL,
    step        TEXT,
    kind        TEXT NOT NULL CHECK (kind IN ('transient', 'permanent')),
    message     TEXT NOT NULL,
    retry_at    TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_workflow_errors_workflow ON workflow_errors (workflow_id);
CREATE INDEX idx_workflow_errors_created_at ON workflow_errors (created_at);

CREATE TABLE audit_events (
    id          UUID PRIMARY KEY,
    workflow_id UUID REFERENCES workflows (id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_audit_events_workflow ON audit_events (workflow_id);
CREATE INDEX idx_audit_events_created_at ON audit_events (created_at);
