-- Indexes no query uses, paid for by every write. A workflow's row is
-- written three times (accepted, started, finished) and each change of
-- status updates every index on it; a workflow also adds about eight
-- audit events, a draft and a task. (The index on `workflows (next_retry_at)`
-- stays: the storage contract names it.)
-- - workflows (lease_until) WHERE processing: orphan recovery finds the
--   few `processing` rows through (status, created_at, id).
-- - draft_emails (to_email), hubspot_tasks (created_at),
--   workflow_errors (created_at), audit_events (created_at): every read
--   of these tables goes by id or by workflow.
DROP INDEX IF EXISTS idx_workflows_lease_until;
DROP INDEX IF EXISTS idx_draft_emails_to_email;
DROP INDEX IF EXISTS idx_hubspot_tasks_created_at;
DROP INDEX IF EXISTS idx_workflow_errors_created_at;
DROP INDEX IF EXISTS idx_audit_events_created_at;
