-- apalis-sqlite leaves `lock_by` set on a job after it has finished, and
-- acknowledges finished jobs with a query that finds them through the
-- `lock_by` index first (the planner has no statistics to know better).
-- Every acknowledgement then read every job its worker had ever run: on
-- the single SQLite writer, 50 ms per acknowledgement after 7,000 jobs, so
-- a long-running server slowed down the longer it ran. A finished job
-- needs no lock: it is released as the job finishes, so a worker's
-- `lock_by` rows are only the jobs it is running.
UPDATE Jobs SET lock_by = NULL
WHERE status IN ('Done', 'Failed', 'Killed') AND lock_by IS NOT NULL;

CREATE TRIGGER formlead_release_finished_job_lock
AFTER UPDATE OF status ON Jobs
WHEN NEW.status IN ('Done', 'Failed', 'Killed') AND NEW.lock_by IS NOT NULL
BEGIN
    UPDATE Jobs SET lock_by = NULL WHERE rowid = NEW.rowid;
END;
