-- apalis-postgres leaves `lock_by` set on a job after it has finished, and
-- acknowledges finished jobs with a query that finds them through the
-- `lock_by` index first. Every acknowledgement then read every job its
-- worker had ever run (10 ms per acknowledgement after 8,000 jobs), so a
-- long-running worker slowed down the longer it ran. A finished job needs
-- no lock: it is released as the job finishes, so a worker's `lock_by`
-- rows are only the jobs it is running.
UPDATE apalis.jobs SET lock_by = NULL
WHERE status IN ('Done', 'Failed', 'Killed') AND lock_by IS NOT NULL;

CREATE FUNCTION formlead_release_finished_job_lock() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.lock_by := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER formlead_release_finished_job_lock
BEFORE UPDATE OF status ON apalis.jobs
FOR EACH ROW
WHEN (NEW.status IN ('Done', 'Failed', 'Killed') AND NEW.lock_by IS NOT NULL)
EXECUTE FUNCTION formlead_release_finished_job_lock();
