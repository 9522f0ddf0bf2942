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
-- A claim's admission, in one call (docs/limits.md): the limited jobs the claim under
-- lease token tok took, best first, each admitted (it starts now) or held (back to
-- scheduled at its next allowed time, its attempt given back), under its key's row,
-- locked in key order, on the server's clock. The same rule as jobq/limits.py admit():
-- a count for concurrency, GCRA for the rate. Returns the held jobs' ids and times, and
-- the clock it read.
CREATE FUNCTION {schema}.jobq_admit(tok text, recheck float8)
RETURNS TABLE (held_id text, held_until float8, clock float8)
LANGUAGE plpgsql AS $$
DECLARE
    now_s float8;
    job record;
    tat_s float8;
    base float8;
    allowed float8;
    running integer;
    admitted text[] := '{}';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM {schema}.jobq_jobs
                   WHERE status = 'running' AND limit_key IS NOT NULL AND lease_token = tok) THEN
        RETURN;  -- the claim took no limited job
    END IF;
    INSERT INTO {schema}.jobq_limits (key)
    SELECT DISTINCT limit_key FROM {schema}.jobq_jobs
    WHERE status = 'running' AND limit_key IS NOT NULL AND lease_token = tok
    ORDER BY 1
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM {schema}.jobq_limits
    WHERE key IN (SELECT limit_key FROM {schema}.jobq_jobs
                  WHERE status = 'running' AND limit_key IS NOT NULL AND lease_token = tok)
    ORDER BY key FOR UPDATE;
    now_s := extract(epoch FROM clock_timestamp());
    clock := now_s;
    FOR job IN
        SELECT id, limit_key, limit_concurrency, limit_interval, limit_burst
        FROM {schema}.jobq_jobs
        WHERE status = 'running' AND limit_key IS NOT NULL AND lease_token = tok
        ORDER BY priority DESC, seq
    LOOP
        held_id := NULL;
        IF job.limit_concurrency IS NOT NULL THEN
            SELECT count(*) INTO running FROM {schema}.jobq_jobs
            WHERE status = 'running' AND limit_key = job.limit_key
              AND (lease_token <> tok OR id = ANY(admitted));
            IF running >= job.limit_concurrency THEN
                held_id := job.id;
                held_until := now_s + recheck;
            END IF;
        END IF;
        IF held_id IS NULL AND job.limit_interval IS NOT NULL THEN
            SELECT tat INTO tat_s FROM {schema}.jobq_limits WHERE key = job.limit_key;
            base := CASE WHEN tat_s > now_s - job.limit_interval THEN tat_s ELSE now_s END;
            allowed := base - (job.limit_burst - 1) * job.limit_interval;
            IF allowed > now_s THEN
                held_id := job.id;
                held_until := allowed;
            ELSE
                UPDATE {schema}.jobq_limits SET tat = base + job.limit_interval
                WHERE key = job.limit_key;
            END IF;
        END IF;
        IF held_id IS NULL THEN
            admitted := admitted || job.id;
        ELSE
            UPDATE {schema}.jobq_jobs
            SET status = 'scheduled', run_at = to_timestamp(held_until),
                attempts = greatest(attempts - 1, 0), worker_id = NULL, lease_token = NULL,
                lease_expires_at = NULL, limit_held_since = coalesce(limit_held_since, now())
            WHERE id = job.id;
            RETURN NEXT;
        END IF;
    END LOOP;
    UPDATE {schema}.jobq_jobs SET started_at = now(), limit_held_since = NULL
    WHERE id = ANY(admitted);
END $$;
