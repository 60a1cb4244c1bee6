//! Column lists shared by queries (macros, so they can be `concat!`ed into
//! static query text).

macro_rules! workflow_cols {
    () => {
        "id, submission_id, status, prospect_email, attempts, created_at, updated_at, started_at, completed_at, next_retry_at, last_error"
    };
}

macro_rules! submission_cols {
    () => {
        "id, form_submission_id, portal_id, form_id, submitted_at, page_url, fields, raw_body, source, received_at"
    };
}

macro_rules! step_cols {
    () => {
        "workflow_id, step, status, attempt, started_at, finished_at, summary, output, error"
    };
}

macro_rules! draft_cols {
    () => {
        "id, workflow_id, to_email, to_name, subject, body_text, body_html, message_id, thread_id, in_reply_to, external_id, status, created_at, updated_at, decided_by, decided_at, reject_reason, sent_message_id, sent_at"
    };
}

macro_rules! task_cols {
    () => {
        "id, workflow_id, contact_id, external_id, subject, body, due_at, priority, task_type, owner_id, created_at"
    };
}

macro_rules! error_cols {
    () => {
        "id, workflow_id, attempt, step, kind, message, retry_at, created_at"
    };
}

macro_rules! audit_cols {
    () => {
        "id, workflow_id, actor, action, detail, created_at"
    };
}

pub(crate) use {
    audit_cols, draft_cols, error_cols, step_cols, submission_cols, task_cols, workflow_cols,
};
