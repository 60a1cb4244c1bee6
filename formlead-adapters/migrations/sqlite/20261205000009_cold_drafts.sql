-- When a draft waiting for approval was found going cold (waiting longer
-- than FORMLEAD_COLD_AFTER_MS): its task was raised to high priority once.
ALTER TABLE draft_emails ADD COLUMN cold_at INTEGER;
