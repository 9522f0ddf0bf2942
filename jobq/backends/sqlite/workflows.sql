-- jobq's SQLite queries for workflows (chain, group, chord, depends_on); the tables are
-- in migrations/0003_workflows.sql. A list parameter (:ids) is a JSON array, read with
-- json_each. Every write about a job names the state it expects. They run inside the
-- transaction of the store method that calls them (jobq/backends/sqlflow.py,
-- jobq/backends/sqlite/workflows.py).

-- name: deps_state
-- The dependencies in :ids that exist, with what an enqueue needs to know of them.
SELECT id, status, task, result, error_type, error_message FROM jobq_jobs
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: insert_edge
INSERT INTO jobq_deps (job_id, position, dep_id, met, result)
VALUES (:job_id, :position, :dep_id, :met, :result);

-- name: insert_wait
INSERT INTO jobq_waits (job_id, open, shape) VALUES (:job_id, :open, :shape);

-- name: waited_on
-- Whether any job waits for one of the ids: most finished jobs have no dependents. Run
-- after every finish, so {ids} is replaced by one "?" per id (cheaper than json_each).
SELECT 1 FROM jobq_deps WHERE dep_id IN ({ids}) LIMIT 1;

-- name: meet
-- The edges from those of :ids that succeeded are met, once each, with a copy of the
-- result. Returns the waiting job of each edge met now.
UPDATE jobq_deps SET met = 1,
    result = (SELECT result FROM jobq_jobs WHERE id = jobq_deps.dep_id)
WHERE met = 0 AND dep_id IN (
    SELECT id FROM jobq_jobs
    WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'succeeded'
)
RETURNING job_id;

-- name: count_down
UPDATE jobq_waits SET open = open - :n WHERE job_id = :id RETURNING open;

-- name: to_release
-- A blocked job none of whose dependencies is open, with what its release needs.
SELECT j.args, w.shape FROM jobq_jobs AS j JOIN jobq_waits AS w ON w.job_id = j.id
WHERE j.id = :id AND j.status = 'blocked' AND w.open <= 0;

-- name: results
SELECT position, result FROM jobq_deps WHERE job_id = :id AND met = 1;

-- name: release
-- transition: blocked -> pending
-- transition: blocked -> scheduled
-- Scheduled when its own run_at (a delay given at enqueue) is still ahead.
UPDATE jobq_jobs
SET status = CASE WHEN run_at > :now THEN 'scheduled' ELSE 'pending' END, args = :args
WHERE id = :id AND status = 'blocked';

-- name: released
DELETE FROM jobq_waits WHERE job_id = :id;

-- name: failed_roots
-- Those of :ids that failed or were cancelled: where a cascade starts.
SELECT id, task, status, error_type, error_message, error_traceback FROM jobq_jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND status IN ('failed', 'cancelled');

-- name: blocked_dependents
-- The blocked jobs waiting for one of :ids, with the dependency and its task.
SELECT d.job_id, d.dep_id, x.task FROM jobq_deps AS d
JOIN jobq_jobs AS v ON v.id = d.job_id
JOIN jobq_jobs AS x ON x.id = d.dep_id
WHERE d.dep_id IN (SELECT value FROM json_each(:ids)) AND v.status = 'blocked'
ORDER BY v.seq;

-- name: fail
-- transition: blocked -> failed
UPDATE jobq_jobs
SET status = 'failed', finished_at = :now, error_type = 'DependencyFailed',
    error_message = :message, error_traceback = :traceback
WHERE id = :id AND status = 'blocked';

-- name: unreleased
-- The job's state and whether it has not been released since it was enqueued.
SELECT j.status, w.job_id IS NOT NULL AS unreleased FROM jobq_jobs AS j
LEFT JOIN jobq_waits AS w ON w.job_id = j.id WHERE j.id = :id;

-- name: open_deps
-- The dependencies of :ids that have not succeeded, with their state (NULL: gone).
SELECT d.job_id, d.dep_id, x.status, x.task, x.result, x.error_type, x.error_message
FROM jobq_deps AS d LEFT JOIN jobq_jobs AS x ON x.id = d.dep_id
WHERE d.job_id IN (SELECT value FROM json_each(:ids)) AND d.met = 0
ORDER BY d.position;

-- name: retry_blocked
-- transition: failed, cancelled -> blocked
UPDATE jobq_jobs
SET status = 'blocked', attempts = 0, finished_at = NULL, result = NULL, error_type = NULL,
    error_message = NULL, error_traceback = NULL, worker_id = NULL, cancel_requested = 0
WHERE id = :id AND status IN ('failed', 'cancelled');

-- name: set_open
UPDATE jobq_waits SET open = :open WHERE job_id = :id;

-- name: failed_by
-- The jobs the failure of :id failed while they waited, transitively (through such jobs
-- only), in insertion order: each comes after the jobs it waits for.
WITH RECURSIVE down (id) AS (
    SELECT job_id FROM jobq_deps WHERE dep_id = :id
    UNION
    SELECT d.job_id FROM down
    JOIN jobq_jobs AS j ON j.id = down.id
    JOIN jobq_deps AS d ON d.dep_id = down.id
    WHERE j.status = 'failed' AND j.error_type = 'DependencyFailed'
)
SELECT j.id FROM down
JOIN jobq_jobs AS j ON j.id = down.id
JOIN jobq_waits AS w ON w.job_id = j.id
WHERE j.status = 'failed' AND j.error_type = 'DependencyFailed'
ORDER BY j.seq;

-- name: dependencies
SELECT dep_id FROM jobq_deps WHERE job_id = :id ORDER BY position;

-- name: dependents
SELECT d.job_id FROM jobq_deps AS d JOIN jobq_jobs AS j ON j.id = d.job_id
WHERE d.dep_id = :id ORDER BY j.seq;
