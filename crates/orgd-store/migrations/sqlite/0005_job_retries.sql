-- A job whose node died is queued again (up to a limit of attempts); an import job's outcome is kept in
-- the transaction that applies it, so a job taken again after that commit does not apply it twice.
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE job_outcomes (
    job_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
