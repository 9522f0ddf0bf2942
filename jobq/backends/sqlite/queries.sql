-- jobq's named SQLite queries. Every write about a job names the state it expects.

-- name: insert
INSERT OR IGNORE INTO jobq_jobs
    (id, task, queue, args, kwargs, priority, status, max_attempts, run_at, created_at, key,
     timeout, max_lost, limit_key, limit_concurrency, limit_interval, limit_burst)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: exists
SELECT 1 FROM jobq_jobs WHERE id = ?;

-- name: live_id_by_key
SELECT id FROM jobq_jobs
WHERE key = ? AND status IN ('blocked', 'scheduled', 'pending', 'running');

-- name: promote_due
-- transition: scheduled -> pending
UPDATE jobq_jobs SET status = 'pending' WHERE status = 'scheduled' AND run_at <= ?;

-- name: claim
-- transition: pending -> running
-- Parameters: now, worker id, lease token, lease expiry, the queue names, the tasks to
-- skip, the limit, the queue names, the tasks to skip, how many jobs that lost a lease
-- before may be taken, the limit; {queues} is replaced by one "?" per queue name, {skip}
-- by "AND task NOT IN (?, ...)" or nothing. The best jobs that never lost a lease, and
-- the best of those that did (their own small index), then the best of both. A limited
-- job keeps its started_at until its limit admits it (limit_admit).
UPDATE jobq_jobs
SET status = 'running', attempts = attempts + 1,
    started_at = CASE WHEN limit_key IS NULL THEN ? ELSE started_at END, worker_id = ?,
    lease_token = ?, lease_expires_at = ?, cancel_requested = 0
WHERE seq IN (
    SELECT seq FROM (
        SELECT * FROM (
            SELECT seq, priority FROM jobq_jobs
            WHERE status = 'pending' AND queue IN ({queues}) AND lost_leases = 0 {skip}
            ORDER BY priority DESC, seq
            LIMIT ?)
        UNION ALL
        SELECT * FROM (
            SELECT seq, priority FROM jobq_jobs
            WHERE status = 'pending' AND queue IN ({queues}) AND lost_leases > 0 {skip}
            ORDER BY priority DESC, seq
            LIMIT ?)
    )
    ORDER BY priority DESC, seq
    LIMIT ?
)
RETURNING seq, priority, id, task, queue, args, kwargs, attempts, max_attempts, timeout,
    lost_leases, limit_key, limit_concurrency, limit_interval, limit_burst, lease_token;

-- name: limit_state
-- Per key (the JSON list given): its rate state, its running jobs besides the ones this
-- claim (its lease token) is deciding on, and the store's clock for limits: SQLite's own
-- reading of the system clock, which no process's time source can skew.
SELECT k.value, (SELECT tat FROM jobq_limits WHERE key = k.value),
    (SELECT COUNT(*) FROM jobq_jobs INDEXED BY jobq_jobs_limit_running
     WHERE status = 'running' AND limit_key = k.value AND lease_token <> :token),
    (julianday('now') - 2440587.5) * 86400.0
FROM json_each(:keys) AS k;

-- name: limit_tat
INSERT INTO jobq_limits (key, tat) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET tat = excluded.tat;

-- name: limit_admit
-- The claim's limited jobs that admission let through start now.
UPDATE jobq_jobs SET started_at = :now, limit_held_since = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND lease_token = :token
  AND status = 'running';

-- name: limit_hold
-- transition: running -> scheduled
-- Over its limit: back to waiting until :run_at, its attempt given back (it never ran).
UPDATE jobq_jobs
SET status = 'scheduled', run_at = :run_at, attempts = MAX(attempts - 1, 0),
    worker_id = NULL, lease_token = NULL, lease_expires_at = NULL,
    limit_held_since = COALESCE(limit_held_since, :now)
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: limit_held
-- Waiting jobs that a claim held back for their limit; {queues} is replaced by "" or by
-- "AND queue IN (?, ...)".
SELECT COUNT(*) FROM jobq_jobs INDEXED BY jobq_jobs_limit_held
WHERE limit_held_since IS NOT NULL AND status IN ('scheduled', 'pending') {queues};

-- name: heartbeat
UPDATE jobq_jobs SET lease_expires_at = ?
WHERE id = ? AND lease_token = ? AND status = 'running'
RETURNING cancel_requested;

-- name: finish_succeeded
-- transition: running -> succeeded
UPDATE jobq_jobs
SET status = 'succeeded', result = :result, finished_at = :now, lease_token = NULL,
    lease_expires_at = NULL, unknown_task_since = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: finish_failed
-- transition: running -> failed
UPDATE jobq_jobs
SET status = 'failed', error_type = :etype, error_message = :emessage,
    error_traceback = :etraceback, finished_at = :now, lease_token = NULL,
    lease_expires_at = NULL, unknown_task_since = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: finish_scheduled
-- transition: running -> scheduled
-- transition: running -> cancelled
-- A job someone asked to cancel does not run again: its retry ends it as cancelled.
UPDATE jobq_jobs
SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'scheduled' END,
    finished_at = CASE WHEN cancel_requested THEN :now END,
    run_at = :run_at, error_type = :etype, error_message = :emessage,
    error_traceback = :etraceback, lease_token = NULL, lease_expires_at = NULL,
    unknown_task_since = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: finish_cancelled
-- transition: running -> cancelled
UPDATE jobq_jobs
SET status = 'cancelled', finished_at = :now, lease_token = NULL, lease_expires_at = NULL,
    unknown_task_since = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: finish_pending
-- transition: running -> pending
-- transition: running -> cancelled
-- A stopping worker hands the job back unfinished: its attempt is not counted. A job
-- someone asked to cancel is not handed to another worker: it ends cancelled.
UPDATE jobq_jobs
SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END,
    finished_at = CASE WHEN cancel_requested THEN :now END,
    attempts = MAX(attempts - 1, 0), lease_token = NULL, lease_expires_at = NULL,
    worker_id = NULL, unknown_task_since = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: cancel_waiting
-- transition: blocked, scheduled, pending -> cancelled
UPDATE jobq_jobs SET status = 'cancelled', finished_at = ?, unknown_task_since = NULL
WHERE id = ? AND status IN ('blocked', 'scheduled', 'pending');

-- name: cancel_running
UPDATE jobq_jobs SET cancel_requested = 1
WHERE id = ? AND status = 'running' AND cancel_requested = 0;

-- name: retry
-- transition: failed, cancelled -> pending
UPDATE jobq_jobs
SET status = 'pending', attempts = 0, lost_leases = 0, unknown_task_since = NULL,
    run_at = :now, finished_at = NULL, result = NULL, error_type = NULL,
    error_message = NULL, error_traceback = NULL, worker_id = NULL, cancel_requested = 0
WHERE id = :id AND status IN ('failed', 'cancelled');

-- name: reap_to_cancelled
-- transition: running -> cancelled
-- Its worker died after cancel() was asked: the job must not run again. Runs first, then
-- the two below, in one transaction. A lease that ran out is not a failed attempt: each
-- gives the attempt back and counts a lost lease.
UPDATE jobq_jobs
SET status = 'cancelled', finished_at = :now, lease_token = NULL, lease_expires_at = NULL,
    attempts = MAX(attempts - 1, 0), lost_leases = lost_leases + 1,
    unknown_task_since = NULL
WHERE status = 'running' AND lease_expires_at < :now AND cancel_requested = 1
RETURNING id, task, worker_id, lost_leases;

-- name: reap_to_pending
-- transition: running -> pending
UPDATE jobq_jobs
SET status = 'pending', lease_token = NULL, lease_expires_at = NULL,
    attempts = MAX(attempts - 1, 0), lost_leases = lost_leases + 1
WHERE status = 'running' AND lease_expires_at < :now AND lost_leases + 1 < max_lost
RETURNING id, task, worker_id, lost_leases;

-- name: reap_to_failed
-- transition: running -> failed
UPDATE jobq_jobs
SET status = 'failed', finished_at = :now, lease_token = NULL, lease_expires_at = NULL,
    attempts = MAX(attempts - 1, 0), lost_leases = lost_leases + 1,
    unknown_task_since = NULL, error_type = 'WorkerLost',
    error_message = 'its worker was lost ' || (lost_leases + 1) || ' times while running '
        || 'it (killed, frozen or cut off from the store until the lease ran out); a job '
        || 'stops after max_lost=' || max_lost || ' lost leases. If the task itself kills '
        || 'its worker (a crash, out of memory), fix it, then retry the job',
    error_traceback = ''
WHERE status = 'running' AND lease_expires_at < :now AND lost_leases + 1 >= max_lost
RETURNING id, task, worker_id, lost_leases;

-- name: postpone_cancelled
-- transition: running -> cancelled
-- A claimed job whose task the worker lacks goes back without using an attempt. These
-- three run in turn, in one transaction, with :id and :token of one job each time.
UPDATE jobq_jobs
SET status = 'cancelled', finished_at = :now, attempts = MAX(attempts - 1, 0),
    lease_token = NULL, lease_expires_at = NULL, unknown_task_since = NULL
WHERE id = :id AND lease_token = :token AND status = 'running' AND cancel_requested = 1;

-- name: postpone_failed
-- transition: running -> failed
-- It has waited :give_up_after seconds (NULL: never) for a worker that has its task.
UPDATE jobq_jobs
SET status = 'failed', finished_at = :now, attempts = MAX(attempts - 1, 0),
    lease_token = NULL, lease_expires_at = NULL, unknown_task_since = NULL,
    error_type = 'UnknownTask', error_message = :give_up, error_traceback = ''
WHERE id = :id AND lease_token = :token AND status = 'running'
  AND COALESCE(unknown_task_since, :now) <= :now - :give_up_after;

-- name: postpone_scheduled
-- transition: running -> scheduled
-- Offered again after half the time it has waited so far, within [:low, :high] seconds.
UPDATE jobq_jobs
SET status = 'scheduled',
    run_at = :now + MIN(:high, MAX(:low, (:now - COALESCE(unknown_task_since, :now)) / 2)),
    unknown_task_since = COALESCE(unknown_task_since, :now),
    attempts = MAX(attempts - 1, 0), lease_token = NULL, lease_expires_at = NULL,
    worker_id = NULL, error_type = 'UnknownTask', error_message = :waiting,
    error_traceback = ''
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: waiting_tasks
SELECT task, COUNT(*), MIN(unknown_task_since) FROM jobq_jobs
WHERE unknown_task_since IS NOT NULL
  AND status IN ('blocked', 'scheduled', 'pending', 'running')
GROUP BY task ORDER BY task;

-- name: register_worker
INSERT INTO jobq_workers (id, host, pid, started_at, last_seen, queues, tasks)
VALUES (:id, :host, :pid, :started_at, :now, :queues, :tasks)
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
    last_seen = excluded.last_seen, queues = excluded.queues, tasks = excluded.tasks;

-- name: forget_workers
DELETE FROM jobq_workers WHERE last_seen < ?;

-- name: unregister_worker
DELETE FROM jobq_workers WHERE id = ?;

-- name: workers
SELECT * FROM jobq_workers WHERE last_seen >= ? ORDER BY started_at, id;

-- name: get
SELECT * FROM jobq_jobs WHERE id = ?;

-- name: stats
-- Finished states from the counts the triggers keep; live states from their partial
-- indexes (INDEXED BY: a plan that scanned the table would read every finished row).
SELECT queue, status, n FROM jobq_counts WHERE n > 0
UNION ALL
SELECT queue, 'pending', COUNT(*) FROM jobq_jobs INDEXED BY jobq_jobs_ready
    WHERE status = 'pending' GROUP BY queue
UNION ALL
SELECT queue, 'scheduled', COUNT(*) FROM jobq_jobs INDEXED BY jobq_jobs_due
    WHERE status = 'scheduled' GROUP BY queue
UNION ALL
SELECT queue, 'running', COUNT(*) FROM jobq_jobs INDEXED BY jobq_jobs_leases
    WHERE status = 'running' GROUP BY queue
UNION ALL
SELECT queue, 'blocked', COUNT(*) FROM jobq_jobs INDEXED BY jobq_jobs_blocked
    WHERE status = 'blocked' GROUP BY queue;

-- name: oldest_pending
-- Per queue, since when its longest-waiting pending job has been due.
SELECT queue, MIN(run_at) FROM jobq_jobs INDEXED BY jobq_jobs_ready
    WHERE status = 'pending' GROUP BY queue;

-- name: purge
-- {statuses} is replaced by one "?" per status. The literal list lets SQLite use the
-- partial index jobq_jobs_finished.
DELETE FROM jobq_jobs WHERE seq IN (
    SELECT seq FROM jobq_jobs
    WHERE status IN ({statuses}) AND status IN ('succeeded', 'failed', 'cancelled')
        AND finished_at < ?
    LIMIT ?
);

-- name: next_due
SELECT MIN(run_at) FROM jobq_jobs WHERE status = 'scheduled' AND queue IN ({queues});

-- name: add_throughput
INSERT INTO jobq_throughput (minute, queue, worker, succeeded, failed, retried)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (minute, queue, worker) DO UPDATE SET
    succeeded = succeeded + excluded.succeeded,
    failed = failed + excluded.failed,
    retried = retried + excluded.retried;

-- name: throughput
SELECT minute, queue, SUM(succeeded), SUM(failed), SUM(retried) FROM jobq_throughput
WHERE minute >= ? GROUP BY minute, queue ORDER BY minute, queue;

-- name: fold_throughput
INSERT INTO jobq_throughput (minute, queue, worker, succeeded, failed, retried)
SELECT 0, queue, '', SUM(succeeded), SUM(failed), SUM(retried) FROM jobq_throughput
WHERE minute > 0 AND minute < ? GROUP BY queue
ON CONFLICT (minute, queue, worker) DO UPDATE SET
    succeeded = succeeded + excluded.succeeded,
    failed = failed + excluded.failed,
    retried = retried + excluded.retried;

-- name: prune_throughput
DELETE FROM jobq_throughput WHERE minute > 0 AND minute < ?;
