-- No query filters submissions by email or by receipt time (workflows
-- carry both); these indexes only slowed every accept down.
DROP INDEX IF EXISTS idx_form_submissions_email;
DROP INDEX IF EXISTS idx_form_submissions_received_at;
