-- jobq's PostgreSQL schema, version 2: workflows (chain, group, chord, depends_on).
--
-- One row per dependency of a job: which job it waits for, at which position (the order
-- of the results it gets), whether that dependency has succeeded, and then a copy of its
-- result, so a chord's results outlive its members' own rows.
CREATE TABLE {schema}.jobq_deps (
    job_id   text NOT NULL REFERENCES {schema}.jobq_jobs (id) ON DELETE CASCADE,
    position integer NOT NULL,
    dep_id   text NOT NULL,
    met      boolean NOT NULL DEFAULT false,
    result   text,
    PRIMARY KEY (job_id, position)
);
CREATE INDEX jobq_deps_dep ON {schema}.jobq_deps (dep_id);

-- One row per job not released yet (blocked, or failed or cancelled while blocked): how
-- many of its dependencies have not succeeded, and how their results become its first
-- argument (JSON, see jobq.backends.base.Waits; NULL: none). Deleted at its release. The
-- count is what concurrent finishes of a chord's members change: an UPDATE of one row,
-- which PostgreSQL serialises and re-reads, so the last member to finish sees zero.
CREATE TABLE {schema}.jobq_waits (
    job_id text PRIMARY KEY REFERENCES {schema}.jobq_jobs (id) ON DELETE CASCADE,
    open   integer NOT NULL,
    shape  text
);

-- The first argument a released job gets: the result at a position for a number, a JSON
-- list of them for a (nested) list. Results are JSON text, joined as text.
CREATE FUNCTION {schema}.jobq_first_argument(shape jsonb, results text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    body text := '';
    item jsonb;
    n integer := 0;
BEGIN
    IF jsonb_typeof(shape) = 'number' THEN
        RETURN coalesce(results[(shape #>> '{}')::integer + 1], 'null');
    END IF;
    FOR item IN SELECT e FROM jsonb_array_elements(shape) WITH ORDINALITY AS t(e, i)
                ORDER BY i LOOP
        body := body || CASE WHEN n > 0 THEN ',' ELSE '' END
                || {schema}.jobq_first_argument(item, results);
        n := n + 1;
    END LOOP;
    RETURN '[' || body || ']';
END $$;

-- A job's arguments (a JSON list) with that first argument put in front.
CREATE FUNCTION {schema}.jobq_with_results(args text, shape text, results text[])
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '[' || {schema}.jobq_first_argument(shape::jsonb, results)
        || CASE WHEN left(ltrim(substr(ltrim(args), 2)), 1) = ']' THEN ']'
                ELSE ',' || ltrim(substr(ltrim(args), 2)) END
$$;

-- transition: blocked -> pending
-- transition: blocked -> scheduled
-- Releases the blocked jobs of ids that have no open dependency: pending (scheduled when
-- their own run_at is still ahead), with the results in front of their arguments.
-- Notifies the store's channel when one became pending. Returns how many it released.
CREATE FUNCTION {schema}.jobq_release(ids text[], channel text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    released integer;
    ready boolean;
BEGIN
    WITH candidate AS (
        SELECT j.seq, w.shape FROM {schema}.jobq_jobs AS j
        JOIN {schema}.jobq_waits AS w ON w.job_id = j.id
        WHERE j.id = ANY(ids) AND j.status = 'blocked' AND w.open <= 0
        ORDER BY j.seq
        FOR UPDATE OF j
    ), done AS (
        UPDATE {schema}.jobq_jobs AS j
        SET status = CASE WHEN j.run_at > now() THEN 'scheduled' ELSE 'pending' END,
            args = CASE WHEN c.shape IS NULL THEN j.args ELSE {schema}.jobq_with_results(
                j.args, c.shape, ARRAY(SELECT d.result FROM {schema}.jobq_deps AS d
                                       WHERE d.job_id = j.id ORDER BY d.position)) END
        FROM candidate AS c WHERE j.seq = c.seq
        RETURNING j.id, j.status
    ), gone AS (
        DELETE FROM {schema}.jobq_waits AS w USING done WHERE w.job_id = done.id
    )
    SELECT count(*), bool_or(status = 'pending') INTO released, ready FROM done;
    IF ready THEN
        PERFORM pg_notify(channel, '');
    END IF;
    RETURN released;
END $$;

-- transition: blocked -> failed
-- The resolution a finish, cancel or reap runs in its own transaction, right after its
-- change to the jobs of ids (each statement here reads what committed before it began,
-- so a dependent enqueued while a dependency was finishing is seen). The edges from a
-- job that succeeded are met once each (a second finish finds them met), their waiting
-- jobs counted down and released at zero; the blocked jobs waiting for one that failed
-- or was cancelled fail with DependencyFailed, level by level down the graph.
CREATE FUNCTION {schema}.jobq_settle(ids text[], channel text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    touched text[];
    level text[];
    roots text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM {schema}.jobq_deps WHERE dep_id = ANY(ids)) THEN
        RETURN;
    END IF;
    WITH met AS (
        UPDATE {schema}.jobq_deps AS d SET met = true, result = x.result
        FROM {schema}.jobq_jobs AS x
        WHERE x.id = ANY(ids) AND x.status = 'succeeded' AND d.dep_id = x.id AND NOT d.met
        RETURNING d.job_id
    ), counted AS (
        SELECT job_id, count(*)::integer AS n FROM met GROUP BY job_id
    ), locked AS (
        -- In one order everywhere: two finishes counting down the same jobs never
        -- wait for each other in a circle.
        SELECT w.job_id, c.n FROM {schema}.jobq_waits AS w
        JOIN counted AS c ON c.job_id = w.job_id
        ORDER BY w.job_id
        FOR UPDATE OF w
    ), down AS (
        UPDATE {schema}.jobq_waits AS w SET open = w.open - l.n
        FROM locked AS l WHERE w.job_id = l.job_id
        RETURNING w.job_id, w.open
    )
    SELECT array_agg(job_id) INTO touched FROM down WHERE open <= 0;
    IF touched IS NOT NULL THEN
        PERFORM {schema}.jobq_release(touched, channel);
    END IF;

    SELECT coalesce(array_agg(id), '{}') INTO level FROM {schema}.jobq_jobs
    WHERE id = ANY(ids) AND status IN ('failed', 'cancelled');
    roots := level;
    WHILE cardinality(level) > 0 LOOP
        WITH parent AS (
            SELECT * FROM unnest(level, roots) AS p(id, root)
        ), victim AS (
            SELECT DISTINCT ON (d.job_id) d.job_id, p.id AS dep, p.root
            FROM parent AS p JOIN {schema}.jobq_deps AS d ON d.dep_id = p.id
            ORDER BY d.job_id, p.id
        ), locked AS (
            SELECT v.seq, victim.dep, victim.root FROM {schema}.jobq_jobs AS v
            JOIN victim ON v.id = victim.job_id
            WHERE v.status = 'blocked'
            ORDER BY v.seq
            FOR UPDATE OF v
        ), failed AS (
            UPDATE {schema}.jobq_jobs AS v
            SET status = 'failed', finished_at = now(), error_type = 'DependencyFailed',
                error_message = 'dependency ' || x.id || ' (' || x.task || ') '
                    || CASE WHEN x.id = r.id THEN ''
                            ELSE 'failed because job ' || r.id || ' (' || r.task || ') ' END
                    || CASE WHEN r.status = 'cancelled' THEN 'was cancelled'
                            ELSE 'failed: ' || coalesce(nullif(r.error_type, ''), 'Error')
                                 || CASE WHEN coalesce(r.error_message, '') = '' THEN ''
                                         ELSE ': ' || r.error_message END END,
                error_traceback = coalesce(r.error_traceback, '')
            FROM locked AS l, {schema}.jobq_jobs AS x, {schema}.jobq_jobs AS r
            WHERE v.seq = l.seq AND x.id = l.dep AND r.id = l.root AND v.status = 'blocked'
            RETURNING v.id, l.root
        )
        SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(root), '{}')
        INTO level, roots FROM failed;
    END LOOP;
END $$;
