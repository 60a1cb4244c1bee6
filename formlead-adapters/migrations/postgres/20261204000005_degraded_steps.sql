-- An enrichment step (3-6) that failed can be recorded as `degraded`: the
-- workflow went on without its context instead of dead-lettering the lead.
ALTER TABLE workflow_steps DROP CONSTRAINT IF EXISTS workflow_steps_status_check;
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_status_check
    CHECK (status IN ('running', 'completed', 'failed', 'degraded'));
