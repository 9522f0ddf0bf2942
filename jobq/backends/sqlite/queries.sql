-- jobq's named SQLite queries. Every write about a job names the state it expects.

-- name: insert
INSERT OR IGNORE INTO jobq_jobs
    (id, task, queue, args, kwargs, priority, status, max_attempts, run_at, created_at, key,
     timeout)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: live_id_by_key
SELECT id FROM jobq_jobs
WHERE key = ? AND status IN ('blocked', 'scheduled', 'pending', 'running');

-- name: promote_due
-- transition: scheduled -> pending
UPDATE jobq_jobs SET status = 'pending' WHERE status = 'scheduled' AND run_at <= ?;

-- name: claim
-- transition: pending -> running
-- Parameters: now, worker id, lease token, lease expiry, the queue names, the limit;
-- {queues} is replaced by one "?" per queue name.
UPDATE jobq_jobs
SET status = 'running', attempts = attempts + 1, started_at = ?, worker_id = ?,
    lease_token = ?, lease_expires_at = ?, cancel_requested = 0
WHERE seq IN (
    SELECT seq FROM jobq_jobs
    WHERE status = 'pending' AND queue IN ({queues})
    ORDER BY priority DESC, seq
    LIMIT ?
)
RETURNING seq, priority, id, task, queue, args, kwargs, attempts, max_attempts, timeout;

-- name: heartbeat
UPDATE jobq_jobs SET lease_expires_at = ?
WHERE id = ? AND lease_token = ? AND status = 'running'
RETURNING cancel_requested;

-- name: finish_succeeded
-- transition: running -> succeeded
UPDATE jobq_jobs
SET status = 'succeeded', result = :result, finished_at = :now, lease_token = NULL,
    lease_expires_at = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: finish_failed
-- transition: running -> failed
UPDATE jobq_jobs
SET status = 'failed', error_type = :etype, error_message = :emessage,
    error_traceback = :etraceback, finished_at = :now, lease_token = NULL,
    lease_expires_at = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: finish_scheduled
-- transition: running -> scheduled
-- transition: running -> cancelled
-- A job someone asked to cancel does not run again: its retry ends it as cancelled.
UPDATE jobq_jobs
SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'scheduled' END,
    finished_at = CASE WHEN cancel_requested THEN :now END,
    run_at = :run_at, error_type = :etype, error_message = :emessage,
    error_traceback = :etraceback, lease_token = NULL, lease_expires_at = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: finish_cancelled
-- transition: running -> cancelled
UPDATE jobq_jobs
SET status = 'cancelled', finished_at = :now, lease_token = NULL, lease_expires_at = NULL
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
    worker_id = NULL
WHERE id = :id AND lease_token = :token AND status = 'running';

-- name: cancel_waiting
-- transition: blocked, scheduled, pending -> cancelled
UPDATE jobq_jobs SET status = 'cancelled', finished_at = ?
WHERE id = ? AND status IN ('blocked', 'scheduled', 'pending');

-- name: cancel_running
UPDATE jobq_jobs SET cancel_requested = 1
WHERE id = ? AND status = 'running' AND cancel_requested = 0;

-- name: retry
-- transition: failed, cancelled -> pending
UPDATE jobq_jobs
SET status = 'pending', attempts = 0, run_at = :now, finished_at = NULL, result = NULL,
    error_type = NULL, error_message = NULL, error_traceback = NULL, worker_id = NULL,
    cancel_requested = 0
WHERE id = :id AND status IN ('failed', 'cancelled');

-- name: reap_to_cancelled
-- transition: running -> cancelled
-- Its worker died after cancel() was asked: the job must not run again.
UPDATE jobq_jobs
SET status = 'cancelled', finished_at = :now, lease_token = NULL, lease_expires_at = NULL
WHERE status = 'running' AND lease_expires_at < :now AND cancel_requested = 1
RETURNING id, task, worker_id;

-- name: reap_to_pending
-- transition: running -> pending
UPDATE jobq_jobs
SET status = 'pending', lease_token = NULL, lease_expires_at = NULL
WHERE status = 'running' AND lease_expires_at < :now AND attempts < max_attempts
RETURNING id, task, worker_id;

-- name: reap_to_failed
-- transition: running -> failed
UPDATE jobq_jobs
SET status = 'failed', finished_at = :now, lease_token = NULL, lease_expires_at = NULL,
    error_type = 'WorkerLost',
    error_message = 'the worker running this job stopped heartbeating (killed or lost) on '
        || 'its last allowed attempt',
    error_traceback = ''
WHERE status = 'running' AND lease_expires_at < :now AND attempts >= max_attempts
RETURNING id, task, worker_id;

-- name: get
SELECT * FROM jobq_jobs WHERE id = ?;

-- name: stats
SELECT queue, status, COUNT(*) FROM jobq_jobs GROUP BY queue, status;

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
