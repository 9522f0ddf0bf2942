-- jobq's named PostgreSQL queries. Every write about a job names the state it expects.
--
-- "{schema}" is replaced by the configured schema, quoted. Parameters use psycopg's
-- %(name)s style; batches travel as parallel arrays and are unnested server-side, so a
-- batch costs one statement. Times come from the server's clock (now()) wherever jobq
-- decides something by time: due checks, lease expiry, reaping, retention; machines with
-- skewed clocks then still agree. Rows a statement may have to wait for are locked in
-- seq order everywhere, and the rest skip locked rows, so statements never deadlock.
-- The live-state predicates are written out literally so that even a generic
-- (prepared) plan can use the partial indexes.

-- name: insert
-- Stores a batch in one statement and notifies the store's channel once if any of the
-- jobs is ready to run. Returns one row, a count nobody needs.
WITH stored AS (
    INSERT INTO {schema}.jobq_jobs
        (id, task, queue, args, kwargs, priority, status, max_attempts, run_at, created_at,
         key, timeout, max_lost, limit_key, limit_concurrency, limit_interval, limit_burst)
    SELECT * FROM unnest(
        %(ids)b::text[], %(tasks)b::text[], %(queues)b::text[], %(args)b::text[],
        %(kwargs)b::text[], %(priorities)b::int[], %(statuses)b::text[],
        %(max_attempts)b::int[], %(run_ats)b::timestamptz[], %(created_ats)b::timestamptz[],
        %(keys)b::text[], %(timeouts)b::float8[], %(max_losts)b::int[],
        %(limit_keys)b::text[], %(limit_concurrencies)b::int[],
        %(limit_intervals)b::float8[], %(limit_bursts)b::int[])
    RETURNING status
)
SELECT count(*) FROM (
    SELECT pg_notify(%(channel)s, '') FROM stored WHERE status = 'pending' LIMIT 1
) AS notified;

-- name: insert_one
-- As insert, for the most common batch of all: one job (plain parameters, no arrays).
WITH stored AS (
    INSERT INTO {schema}.jobq_jobs
        (id, task, queue, args, kwargs, priority, status, max_attempts, run_at, created_at,
         key, timeout, max_lost, limit_key, limit_concurrency, limit_interval, limit_burst)
    VALUES (%(id)s, %(task)s, %(queue)s, %(args)s, %(kwargs)s, %(priority)s, %(status)s,
            %(max_attempts)s, %(run_at)s, %(created_at)s, NULL, %(timeout)s, %(max_lost)s,
            %(limit_key)s, %(limit_concurrency)s, %(limit_interval)s, %(limit_burst)s)
    RETURNING status
)
SELECT count(*) FROM (
    SELECT pg_notify(%(channel)s, '') FROM stored WHERE status = 'pending' LIMIT 1
) AS notified;

-- name: insert_keyed
-- As insert, but a job whose idempotency key a live job holds is skipped (the live-key
-- unique index); returns the jobs actually stored.
INSERT INTO {schema}.jobq_jobs
    (id, task, queue, args, kwargs, priority, status, max_attempts, run_at, created_at,
     key, timeout, max_lost, limit_key, limit_concurrency, limit_interval, limit_burst)
SELECT * FROM unnest(
    %(ids)b::text[], %(tasks)b::text[], %(queues)b::text[], %(args)b::text[],
    %(kwargs)b::text[], %(priorities)b::int[], %(statuses)b::text[],
    %(max_attempts)b::int[], %(run_ats)b::timestamptz[], %(created_ats)b::timestamptz[],
    %(keys)b::text[], %(timeouts)b::float8[], %(max_losts)b::int[],
    %(limit_keys)b::text[], %(limit_concurrencies)b::int[], %(limit_intervals)b::float8[],
    %(limit_bursts)b::int[])
ON CONFLICT DO NOTHING
RETURNING id, status;

-- name: copy_jobs
-- Bulk enqueue of jobs without keys: COPY streams the rows (binary), then "notify".
COPY {schema}.jobq_jobs
    (id, task, queue, args, kwargs, priority, status, max_attempts, run_at, created_at,
     key, timeout, max_lost, limit_key, limit_concurrency, limit_interval, limit_burst)
FROM STDIN (FORMAT BINARY);

-- name: existing_ids
SELECT id FROM {schema}.jobq_jobs WHERE id = ANY(%(ids)b::text[]);

-- name: live_ids_by_key
SELECT key, id FROM {schema}.jobq_jobs
WHERE key = ANY(%(keys)b::text[])
  AND status IN ('blocked', 'scheduled', 'pending', 'running');

-- name: notify
SELECT pg_notify(%(channel)s, '');

-- name: relaxed_commit
-- Sent first in the round trip of a claim, a heartbeat or a reap: their commits do not
-- wait for the WAL to reach the disk. A server crash can forget the last few of them,
-- which costs at most a second run of a job (delivery is at least once), never a job;
-- enqueues and outcomes stay fully durable.
SELECT set_config('synchronous_commit', 'off', true);

-- name: promote_due
-- transition: scheduled -> pending
-- Runs just before each claim, in the same round trip. Notifies when it promoted
-- anything, since one claim may not take all of them.
WITH due AS (
    SELECT seq FROM {schema}.jobq_jobs
    WHERE status = 'scheduled' AND run_at <= now()
    ORDER BY run_at
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
), promoted AS (
    UPDATE {schema}.jobq_jobs AS j SET status = 'pending'
    FROM due WHERE j.seq = due.seq
    RETURNING j.seq
)
SELECT count(*) FROM (
    SELECT pg_notify(%(channel)s, '') FROM promoted LIMIT 1
) AS notified;

-- name: claim
-- transition: pending -> running
-- One queue. One lease token fences the whole batch; the lease runs on the server's
-- clock. The rows are picked in a CTE, which runs exactly once ("seq IN (subquery …
-- LIMIT n SKIP LOCKED)" may be re-run by the planner and take more than n), by a scan
-- of the ready index in its own order that stops after n rows. At most %(suspects)s of
-- them may be jobs that lost a lease before (their own small index); rows locked but not
-- taken are released when the statement commits. Jobs of the tasks in %(skip)s (ones
-- this worker lacks and another running worker has) are left for others.
WITH fresh AS (
    SELECT seq, priority FROM {schema}.jobq_jobs
    WHERE status = 'pending' AND queue = %(queue)s AND lost_leases = 0
      AND task <> ALL(%(skip)b::text[])
    ORDER BY priority DESC, seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), suspect AS (
    SELECT seq, priority FROM {schema}.jobq_jobs
    WHERE status = 'pending' AND queue = %(queue)s AND lost_leases > 0
      AND task <> ALL(%(skip)b::text[])
    ORDER BY priority DESC, seq
    LIMIT %(suspects)s
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT seq FROM (SELECT * FROM fresh UNION ALL SELECT * FROM suspect) AS c
    ORDER BY priority DESC, seq
    LIMIT %(limit)s
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'running', attempts = j.attempts + 1,
    started_at = CASE WHEN j.limit_key IS NULL THEN now() ELSE j.started_at END,
    worker_id = %(worker)s, lease_token = %(token)s,
    lease_expires_at = now() + %(lease)s::float8 * interval '1 second',
    cancel_requested = false
FROM picked WHERE j.seq = picked.seq
RETURNING j.seq, j.priority, j.id, j.task, j.queue, j.args, j.kwargs, j.attempts,
    j.max_attempts, j.timeout, j.lost_leases, j.limit_key, j.limit_concurrency,
    j.limit_interval, j.limit_burst, j.lease_token;

-- name: claim_queues
-- transition: pending -> running
-- Several queues: the best n of each queue's own ordered scan, then the best n of
-- those. ("queue = ANY(…)" would read and sort every pending job of the queues.) The
-- rows locked but not taken are released when the statement commits.
WITH fresh AS (
    SELECT c.seq, c.priority FROM unnest(%(queues)b::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT seq, priority FROM {schema}.jobq_jobs
        WHERE status = 'pending' AND queue = q.name AND lost_leases = 0
          AND task <> ALL(%(skip)b::text[])
        ORDER BY priority DESC, seq
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) AS c
), suspect AS (
    SELECT seq, priority FROM {schema}.jobq_jobs
    WHERE status = 'pending' AND queue = ANY(%(queues)b::text[]) AND lost_leases > 0
      AND task <> ALL(%(skip)b::text[])
    ORDER BY priority DESC, seq
    LIMIT %(suspects)s
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT seq FROM (SELECT * FROM fresh UNION ALL SELECT * FROM suspect) AS c
    ORDER BY priority DESC, seq
    LIMIT %(limit)s
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'running', attempts = j.attempts + 1,
    started_at = CASE WHEN j.limit_key IS NULL THEN now() ELSE j.started_at END,
    worker_id = %(worker)s, lease_token = %(token)s,
    lease_expires_at = now() + %(lease)s::float8 * interval '1 second',
    cancel_requested = false
FROM picked WHERE j.seq = picked.seq
RETURNING j.seq, j.priority, j.id, j.task, j.queue, j.args, j.kwargs, j.attempts,
    j.max_attempts, j.timeout, j.lost_leases, j.limit_key, j.limit_concurrency,
    j.limit_interval, j.limit_burst, j.lease_token;

-- name: heartbeat
-- Renews the leases still held; a job missing from the result has lost its lease.
WITH held AS (
    SELECT j.seq FROM {schema}.jobq_jobs AS j
    JOIN unnest(%(ids)b::text[], %(tokens)b::text[]) AS h(id, token)
      ON j.id = h.id AND j.lease_token = h.token
    WHERE j.status = 'running'
    ORDER BY j.seq
    FOR UPDATE OF j
)
UPDATE {schema}.jobq_jobs AS j
SET lease_expires_at = now() + %(lease)s::float8 * interval '1 second'
FROM held WHERE j.seq = held.seq
RETURNING j.id, j.cancel_requested;

-- name: finish
-- transition: running -> succeeded
-- transition: running -> failed
-- transition: running -> scheduled
-- transition: running -> cancelled
-- transition: running -> pending
-- Records a batch of outcomes, each fenced by its lease token; returns the ids applied
-- and the status each job now has. succeeded stores the result; failed and scheduled (a
-- retry) store the error, scheduled also the time of the next attempt; pending is a
-- stopping worker handing the job back unfinished, so its attempt is not counted. A job
-- someone asked to cancel is never retried nor handed back: it ends cancelled.
WITH outcome AS (
    SELECT * FROM unnest(
        %(ids)b::text[], %(tokens)b::text[], %(statuses)b::text[], %(results)b::text[],
        %(run_ats)b::timestamptz[], %(etypes)b::text[], %(emessages)b::text[],
        %(etracebacks)b::text[])
        AS o(id, token, status, result, run_at, etype, emessage, etraceback)
), held AS (
    -- Locking re-reads a row that changed meanwhile, so cancel_requested is current.
    SELECT j.seq, j.cancel_requested, o.* FROM {schema}.jobq_jobs AS j
    JOIN outcome AS o ON j.id = o.id AND j.lease_token = o.token
    WHERE j.status = 'running'
      AND o.status IN ('succeeded', 'failed', 'scheduled', 'cancelled', 'pending')
    ORDER BY j.seq
    FOR UPDATE OF j
), decided AS (
    SELECT held.*, CASE WHEN status IN ('scheduled', 'pending') AND cancel_requested
                        THEN 'cancelled' ELSE status END AS final
    FROM held
)
UPDATE {schema}.jobq_jobs AS j SET
    status = d.final,
    result = CASE WHEN d.status = 'succeeded' THEN d.result ELSE j.result END,
    error_type = CASE WHEN d.status IN ('failed', 'scheduled') THEN d.etype
                      ELSE j.error_type END,
    error_message = CASE WHEN d.status IN ('failed', 'scheduled') THEN d.emessage
                         ELSE j.error_message END,
    error_traceback = CASE WHEN d.status IN ('failed', 'scheduled') THEN d.etraceback
                           ELSE j.error_traceback END,
    run_at = CASE WHEN d.status = 'scheduled' THEN d.run_at ELSE j.run_at END,
    finished_at = CASE WHEN d.final IN ('succeeded', 'failed', 'cancelled') THEN now()
                       ELSE j.finished_at END,
    attempts = CASE WHEN d.status = 'pending' THEN greatest(j.attempts - 1, 0)
                    ELSE j.attempts END,
    worker_id = CASE WHEN d.status = 'pending' THEN NULL ELSE j.worker_id END,
    lease_token = NULL,
    lease_expires_at = NULL,
    unknown_task_since = NULL
FROM decided AS d WHERE j.seq = d.seq
RETURNING j.id, j.status;

-- name: cancel_waiting
-- transition: blocked, scheduled, pending -> cancelled
UPDATE {schema}.jobq_jobs
SET status = 'cancelled', finished_at = now(), unknown_task_since = NULL
WHERE id = %(id)s AND status IN ('blocked', 'scheduled', 'pending');

-- name: cancel_running
UPDATE {schema}.jobq_jobs SET cancel_requested = true
WHERE id = %(id)s AND status = 'running' AND NOT cancel_requested;

-- name: retry
-- transition: failed, cancelled -> pending
UPDATE {schema}.jobq_jobs
SET status = 'pending', attempts = 0, lost_leases = 0, unknown_task_since = NULL,
    run_at = now(), finished_at = NULL, result = NULL, error_type = NULL,
    error_message = NULL, error_traceback = NULL, worker_id = NULL, cancel_requested = false
WHERE id = %(id)s AND status IN ('failed', 'cancelled');

-- name: reap_to_cancelled
-- transition: running -> cancelled
-- Its worker died after cancel() was asked: the job must not run again. Runs first, in
-- the same transaction as the two below. %(now)s is NULL to use the server's clock (it
-- is only given to simulate the future). A lease that ran out is not a failed attempt:
-- each gives the attempt back and counts a lost lease.
WITH expired AS (
    SELECT seq FROM {schema}.jobq_jobs
    WHERE status = 'running'
      AND lease_expires_at < coalesce(to_timestamp(%(now)s::float8), now())
      AND cancel_requested
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL,
    attempts = greatest(j.attempts - 1, 0), lost_leases = j.lost_leases + 1,
    unknown_task_since = NULL
FROM expired WHERE j.seq = expired.seq
RETURNING j.id, j.task, j.worker_id, j.lost_leases;

-- name: reap_to_pending
-- transition: running -> pending
WITH expired AS (
    SELECT seq FROM {schema}.jobq_jobs
    WHERE status = 'running'
      AND lease_expires_at < coalesce(to_timestamp(%(now)s::float8), now())
      AND lost_leases + 1 < max_lost AND NOT cancel_requested
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'pending', lease_token = NULL, lease_expires_at = NULL,
    attempts = greatest(j.attempts - 1, 0), lost_leases = j.lost_leases + 1
FROM expired WHERE j.seq = expired.seq
RETURNING j.id, j.task, j.worker_id, j.lost_leases;

-- name: reap_to_failed
-- transition: running -> failed
WITH expired AS (
    SELECT seq FROM {schema}.jobq_jobs
    WHERE status = 'running'
      AND lease_expires_at < coalesce(to_timestamp(%(now)s::float8), now())
      AND lost_leases + 1 >= max_lost AND NOT cancel_requested
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'failed', finished_at = now(), lease_token = NULL, lease_expires_at = NULL,
    attempts = greatest(j.attempts - 1, 0), lost_leases = j.lost_leases + 1,
    unknown_task_since = NULL, error_type = 'WorkerLost',
    error_message = 'its worker was lost ' || (j.lost_leases + 1) || ' times while running '
        || 'it (killed, frozen or cut off from the store until the lease ran out); a job '
        || 'stops after max_lost=' || j.max_lost || ' lost leases. If the task itself kills '
        || 'its worker (a crash, out of memory), fix it, then retry the job',
    error_traceback = ''
FROM expired WHERE j.seq = expired.seq
RETURNING j.id, j.task, j.worker_id, j.lost_leases;

-- name: postpone_cancelled
-- transition: running -> cancelled
-- Claimed jobs whose task the worker lacks go back without using an attempt. These three
-- run in turn, in one transaction; each takes the jobs the ones before left running.
WITH given AS (
    SELECT * FROM unnest(%(ids)b::text[], %(tokens)b::text[]) AS g(id, token)
), held AS (
    SELECT j.seq FROM {schema}.jobq_jobs AS j JOIN given AS g
      ON j.id = g.id AND j.lease_token = g.token
    WHERE j.status = 'running' AND j.cancel_requested
    ORDER BY j.seq
    FOR UPDATE OF j
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'cancelled', finished_at = now(), attempts = greatest(j.attempts - 1, 0),
    lease_token = NULL, lease_expires_at = NULL, unknown_task_since = NULL
FROM held WHERE j.seq = held.seq
RETURNING j.id;

-- name: postpone_failed
-- transition: running -> failed
-- It has waited %(give_up_after)s seconds (NULL: never) for a worker that has its task.
WITH given AS (
    SELECT * FROM unnest(%(ids)b::text[], %(tokens)b::text[], %(give_ups)b::text[])
        AS g(id, token, give_up)
), held AS (
    SELECT j.seq, g.give_up FROM {schema}.jobq_jobs AS j JOIN given AS g
      ON j.id = g.id AND j.lease_token = g.token
    WHERE j.status = 'running'
      AND coalesce(j.unknown_task_since, now())
          <= now() - %(give_up_after)s::float8 * interval '1 second'
    ORDER BY j.seq
    FOR UPDATE OF j
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'failed', finished_at = now(), attempts = greatest(j.attempts - 1, 0),
    lease_token = NULL, lease_expires_at = NULL, unknown_task_since = NULL,
    error_type = 'UnknownTask', error_message = held.give_up, error_traceback = ''
FROM held WHERE j.seq = held.seq
RETURNING j.id;

-- name: postpone_scheduled
-- transition: running -> scheduled
-- Offered again after half the time it has waited so far, within [low, high] seconds.
WITH given AS (
    SELECT * FROM unnest(%(ids)b::text[], %(tokens)b::text[], %(waitings)b::text[])
        AS g(id, token, waiting)
), held AS (
    SELECT j.seq, g.waiting, extract(epoch FROM now() - coalesce(j.unknown_task_since, now()))
        AS waited
    FROM {schema}.jobq_jobs AS j JOIN given AS g ON j.id = g.id AND j.lease_token = g.token
    WHERE j.status = 'running'
    ORDER BY j.seq
    FOR UPDATE OF j
)
UPDATE {schema}.jobq_jobs AS j
SET status = 'scheduled',
    run_at = now() + least(%(high)s::float8, greatest(%(low)s::float8, held.waited / 2))
        * interval '1 second',
    unknown_task_since = coalesce(j.unknown_task_since, now()),
    attempts = greatest(j.attempts - 1, 0), lease_token = NULL, lease_expires_at = NULL,
    worker_id = NULL, error_type = 'UnknownTask', error_message = held.waiting,
    error_traceback = ''
FROM held WHERE j.seq = held.seq
RETURNING j.id;

-- name: waiting_tasks
SELECT task, count(*), extract(epoch FROM min(unknown_task_since))::float8
FROM {schema}.jobq_jobs
WHERE unknown_task_since IS NOT NULL
  AND status IN ('blocked', 'scheduled', 'pending', 'running')
GROUP BY task ORDER BY task;

-- name: register_worker
-- Also drops the rows of workers not seen for %(forget_after)s seconds (killed without a
-- goodbye).
WITH gone AS (
    DELETE FROM {schema}.jobq_workers
    WHERE last_seen < now() - %(forget_after)s::float8 * interval '1 second'
)
INSERT INTO {schema}.jobq_workers (id, host, pid, started_at, last_seen, queues, tasks)
VALUES (%(id)s, %(host)s, %(pid)s, to_timestamp(%(started_at)s::float8), now(),
        %(queues)s::text[], %(tasks)s::text[])
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
    last_seen = excluded.last_seen, queues = excluded.queues, tasks = excluded.tasks;

-- name: unregister_worker
DELETE FROM {schema}.jobq_workers WHERE id = %(id)s;

-- name: workers
SELECT id, host, pid, extract(epoch FROM started_at)::float8, queues, tasks,
    extract(epoch FROM last_seen)::float8
FROM {schema}.jobq_workers
WHERE last_seen >= now() - %(stale_after)s::float8 * interval '1 second'
ORDER BY started_at, id;

-- name: get
SELECT * FROM {schema}.jobq_jobs WHERE id = %(id)s;

-- name: list
-- {where} is replaced by fixed conditions on status, task and queue (or nothing).
SELECT * FROM {schema}.jobq_jobs {where}
ORDER BY seq DESC LIMIT %(limit)s OFFSET %(offset)s;

-- name: fold_counts
-- The finished counts' pending changes, added to jobq_counts (sorted, so that two folds
-- lock the counter rows in the same order); returns how many changes it folded. A fold
-- that runs meanwhile skips the changes this one deleted.
WITH moved AS (DELETE FROM {schema}.jobq_count_changes RETURNING queue, status, n),
added AS (
    INSERT INTO {schema}.jobq_counts AS c (queue, status, n)
    SELECT queue, status, sum(n) FROM moved GROUP BY queue, status ORDER BY queue, status
    ON CONFLICT (queue, status) DO UPDATE SET n = c.n + excluded.n
)
SELECT count(*) FROM moved;

-- name: vacuum_count_changes
-- The folded changes leave dead rows that every read of the table would step over until
-- autovacuum comes; a fold of many clears them at once (another's vacuum: skipped).
VACUUM (SKIP_LOCKED) {schema}.jobq_count_changes;

-- name: stats
-- One statement, one snapshot: the finished counts with their unfolded changes, and the
-- live states through their partial indexes (never a scan of the finished rows).
SELECT queue, status, sum(n)::bigint FROM (
    SELECT queue, status, n FROM {schema}.jobq_counts
    UNION ALL
    SELECT queue, status, n FROM {schema}.jobq_count_changes
) finished GROUP BY queue, status HAVING sum(n) > 0
UNION ALL
SELECT queue, 'pending', count(*) FROM {schema}.jobq_jobs WHERE status = 'pending'
    GROUP BY queue
UNION ALL
SELECT queue, 'scheduled', count(*) FROM {schema}.jobq_jobs WHERE status = 'scheduled'
    GROUP BY queue
UNION ALL
SELECT queue, 'running', count(*) FROM {schema}.jobq_jobs WHERE status = 'running'
    GROUP BY queue
UNION ALL
SELECT queue, 'blocked', count(*) FROM {schema}.jobq_jobs WHERE status = 'blocked'
    GROUP BY queue;

-- name: oldest_pending
-- Per queue, since when its longest-waiting pending job has been due.
SELECT queue, extract(epoch FROM min(run_at))::float8 FROM {schema}.jobq_jobs
    WHERE status = 'pending' GROUP BY queue;

-- name: purge
-- One small batch; the caller repeats until a batch comes back short.
WITH old AS (
    SELECT seq FROM {schema}.jobq_jobs
    WHERE status IN ('succeeded', 'failed', 'cancelled')
      AND status = ANY(%(statuses)b::text[])
      AND finished_at < now() - %(older_than)s::float8 * interval '1 second'
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM {schema}.jobq_jobs AS j USING old WHERE j.seq = old.seq;

-- name: next_due
SELECT extract(epoch FROM min(run_at))::float8 FROM {schema}.jobq_jobs
WHERE status = 'scheduled' AND queue = ANY(%(queues)b::text[]);

-- name: has_work
-- Asked after (re)connecting the LISTEN connection: is anything already waiting?
SELECT EXISTS (SELECT 1 FROM {schema}.jobq_jobs WHERE status = 'pending')
    OR EXISTS (SELECT 1 FROM {schema}.jobq_jobs
               WHERE status = 'scheduled' AND run_at <= now());

-- name: add_throughput
-- One worker's counts, as arrays (minutes in epoch seconds); rows of its own only.
INSERT INTO {schema}.jobq_throughput AS t (minute, queue, worker, succeeded, failed, retried)
SELECT to_timestamp(m), q, %(worker)s, s, f, r
FROM unnest(%(minutes)s::bigint[], %(queues)s::text[], %(succeeded)s::bigint[],
            %(failed)s::bigint[], %(retried)s::bigint[]) AS u(m, q, s, f, r)
ON CONFLICT (minute, queue, worker) DO UPDATE SET
    succeeded = t.succeeded + excluded.succeeded,
    failed = t.failed + excluded.failed,
    retried = t.retried + excluded.retried;

-- name: throughput
SELECT extract(epoch FROM minute)::bigint, queue, sum(succeeded)::bigint,
       sum(failed)::bigint, sum(retried)::bigint
FROM {schema}.jobq_throughput WHERE minute >= to_timestamp(%(since)s)
GROUP BY minute, queue ORDER BY minute, queue;

-- name: prune_throughput
-- Minutes before the cut, folded into the totals (minute 0) and deleted, in one statement.
WITH gone AS (
    DELETE FROM {schema}.jobq_throughput
    WHERE minute > to_timestamp(0) AND minute < to_timestamp(%(before)s)
    RETURNING queue, succeeded, failed, retried
)
INSERT INTO {schema}.jobq_throughput AS t (minute, queue, worker, succeeded, failed, retried)
SELECT to_timestamp(0), queue, '', sum(succeeded), sum(failed), sum(retried) FROM gone
GROUP BY queue ORDER BY queue
ON CONFLICT (minute, queue, worker) DO UPDATE SET
    succeeded = t.succeeded + excluded.succeeded,
    failed = t.failed + excluded.failed,
    retried = t.retried + excluded.retried;


-- name: limit_admit
-- Admission of the limited jobs a claim took (the function is in
-- migrations/0006_limits.sql): the held ones' ids and times, and the server's clock.
SELECT held_id, held_until, clock FROM {schema}.jobq_admit(%(token)s, %(recheck)s);

-- name: limit_held
-- Waiting jobs that a claim held back for their limit.
-- %(queues)s: the queues to count, or NULL for all.
SELECT count(*) FROM {schema}.jobq_jobs
WHERE limit_held_since IS NOT NULL AND status IN ('scheduled', 'pending')
  AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]));
