-- The dashboard lists workflows and drafts of one status, newest first.
-- With an index on status alone, the newest-first list walked the
-- created_at index through every row looking for that status (a rare one
-- such as `failed` meant reading them all). These indexes hold each
-- status's rows in list order; they replace the status-only indexes, whose
-- uses (counts by status) they serve as well.
DROP INDEX IF EXISTS idx_workflows_status;
CREATE INDEX idx_workflows_status_created_at ON workflows (status, created_at, id);
DROP INDEX IF EXISTS idx_draft_emails_status;
CREATE INDEX idx_draft_emails_status_created_at ON draft_emails (status, created_at, id);
