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
-- transition: running -> scheduled
CREATE FUNCTION {schema}.jobq_admit(tok text, recheck float8)
RETURNS TABLE (held_id text, held_until float8, clock float8)
LANGUAGE plpgsql AS $$
DECLARE
    now_s float8;
    job record;
    keys text[];
    tats float8[];
    counts integer[];
    moved boolean[];
    k integer;
    base float8;
    allowed float8;
    admitted text[] := '{}';
    held_ids text[] := '{}';
    held_times float8[] := '{}';
BEGIN
    SELECT array_agg(DISTINCT limit_key ORDER BY limit_key) INTO keys
    FROM {schema}.jobq_jobs
    WHERE status = 'running' AND limit_key IS NOT NULL AND lease_token = tok;
    IF keys IS NULL THEN
        RETURN;  -- the claim took no limited job
    END IF;
    INSERT INTO {schema}.jobq_limits (key)
    SELECT unnest(keys) ORDER BY 1
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM {schema}.jobq_limits WHERE key = ANY(keys) ORDER BY key FOR UPDATE;
    now_s := extract(epoch FROM clock_timestamp());
    -- Each key's state once, into arrays in key order; written back once at the end.
    SELECT array_agg(l.tat ORDER BY l.key) INTO tats
    FROM {schema}.jobq_limits AS l WHERE l.key = ANY(keys);
    SELECT array_agg(coalesce(r.n, 0)::integer ORDER BY u.key) INTO counts
    FROM unnest(keys) AS u(key)
    LEFT JOIN (SELECT limit_key, count(*) AS n FROM {schema}.jobq_jobs
               WHERE status = 'running' AND limit_key = ANY(keys) AND lease_token <> tok
               GROUP BY limit_key) AS r ON r.limit_key = u.key;
    moved := array_fill(false, ARRAY[cardinality(keys)]);
    FOR job IN
        SELECT id, limit_key, limit_concurrency, limit_interval, limit_burst
        FROM {schema}.jobq_jobs
        WHERE status = 'running' AND limit_key IS NOT NULL AND lease_token = tok
        ORDER BY priority DESC, seq
    LOOP
        k := array_position(keys, job.limit_key);
        allowed := NULL;
        IF job.limit_concurrency IS NOT NULL AND counts[k] >= job.limit_concurrency THEN
            allowed := now_s + recheck;
        ELSIF job.limit_interval IS NOT NULL THEN
            base := CASE WHEN tats[k] > now_s - job.limit_interval THEN tats[k] ELSE now_s END;
            IF base - (job.limit_burst - 1) * job.limit_interval > now_s THEN
                allowed := base - (job.limit_burst - 1) * job.limit_interval;
            ELSE
                tats[k] := base + job.limit_interval;
                moved[k] := true;
            END IF;
        END IF;
        IF allowed IS NULL THEN
            admitted := admitted || job.id;
            counts[k] := counts[k] + 1;
        ELSE
            held_ids := held_ids || job.id;
            held_times := held_times || allowed;
        END IF;
    END LOOP;
    UPDATE {schema}.jobq_limits AS l SET tat = t.tat
    FROM unnest(keys, tats, moved) AS t(key, tat, moved)
    WHERE l.key = t.key AND t.moved;
    UPDATE {schema}.jobq_jobs AS j
    SET status = 'scheduled', run_at = to_timestamp(h.until),
        attempts = greatest(j.attempts - 1, 0), worker_id = NULL, lease_token = NULL,
        lease_expires_at = NULL, limit_held_since = coalesce(j.limit_held_since, now())
    FROM unnest(held_ids, held_times) AS h(id, until)
    WHERE j.id = h.id;
    UPDATE {schema}.jobq_jobs SET started_at = now(), limit_held_since = NULL
    WHERE id = ANY(admitted);
    RETURN QUERY SELECT h.id, h.until, now_s FROM unnest(held_ids, held_times) AS h(id, until);
END $$;
