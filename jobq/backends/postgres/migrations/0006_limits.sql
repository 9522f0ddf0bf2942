-- jobq's PostgreSQL schema: rate limits and concurrency limits (docs/limits.md).
-- A limited job carries its limit key and its limits, an unlimited one none (NULL), and
-- its claim never looks further. limit_interval: seconds between two starts of the key.
-- limit_held_since: since when claims have been holding the job back for its limit.
ALTER TABLE {schema}.jobq_jobs
    ADD COLUMN limit_key text,
    ADD COLUMN limit_concurrency integer,
    ADD COLUMN limit_interval float8,
    ADD COLUMN limit_burst integer NOT NULL DEFAULT 1,
    ADD COLUMN limit_held_since timestamptz;
-- A key's running jobs are counted, never stored: nothing can leak a slot.
CREATE INDEX jobq_jobs_limit_running ON {schema}.jobq_jobs (limit_key)
    WHERE status = 'running' AND limit_key IS NOT NULL;
CREATE INDEX jobq_jobs_limit_held ON {schema}.jobq_jobs (limit_key)
    WHERE limit_held_since IS NOT NULL;
-- One row per limit key: claims lock it (in key order) to decide on the key's jobs one
-- at a time; tat is the rate limit's state (GCRA's theoretical arrival time, epoch
-- seconds on the server's clock).
CREATE TABLE {schema}.jobq_limits (
    key text PRIMARY KEY,
    tat float8
);
