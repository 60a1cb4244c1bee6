-- The dashboard counts failed attempts per step over the last 24 hours
-- (`WorkflowStats::failures_by_step`). Errors are rare beside the other
-- writes, so this index costs little, and the count must not scan a table
-- that grows with every failed attempt.
CREATE INDEX IF NOT EXISTS idx_workflow_errors_created_at ON workflow_errors (created_at);
