-- jobq's SQLite schema: rate limits and concurrency limits (docs/limits.md).
-- A limited job carries its limit key and its limits, an unlimited one none (NULL),
-- and its claim never looks further.
ALTER TABLE jobq_jobs ADD COLUMN limit_key TEXT;
ALTER TABLE jobq_jobs ADD COLUMN limit_concurrency INTEGER;
-- Seconds between two starts of the key (the rate limit's period / its count).
ALTER TABLE jobq_jobs ADD COLUMN limit_interval REAL;
ALTER TABLE jobq_jobs ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 1;
-- Since when claims have been holding the job back for its limit (NULL once it starts).
ALTER TABLE jobq_jobs ADD COLUMN limit_held_since REAL;
-- A key's running jobs are counted, never stored: nothing can leak a slot.
CREATE INDEX jobq_jobs_limit_running ON jobq_jobs (limit_key)
    WHERE status = 'running' AND limit_key IS NOT NULL;
CREATE INDEX jobq_jobs_limit_held ON jobq_jobs (limit_key) WHERE limit_held_since IS NOT NULL;
-- The rate limit's state: one time per key (GCRA's theoretical arrival time, on the
-- store's clock).
CREATE TABLE jobq_limits (
    key TEXT PRIMARY KEY,
    tat REAL
) WITHOUT ROWID;
