-- jobq's PostgreSQL queries for workflows (chain, group, chord, depends_on); the tables
-- and the functions jobq_settle and jobq_release are in migrations/0003_workflows.sql.
-- "{schema}" is replaced by the configured schema. Queries run by Statements.many take
-- one array per column. They run inside the transaction of the store method that calls
-- them (jobq/backends/sqlflow.py, jobq/backends/postgres/workflows.py).

-- name: deps_state
-- The dependencies outside the batch, locked (FOR SHARE, in seq order) until the enqueue
-- commits: a finish, cancel or reap of one of them waits, then finds the new edges; one
-- that changed first is read as it ended up.
SELECT id, status, task, result, error_type, error_message FROM {schema}.jobq_jobs
WHERE id = ANY(%(ids)s::text[])
ORDER BY seq
FOR SHARE;

-- name: insert_edge
INSERT INTO {schema}.jobq_deps (job_id, position, dep_id, met, result)
SELECT * FROM unnest(%(job_id)s::text[], %(position)s::int[], %(dep_id)s::text[],
                     %(met)s::bool[], %(result)s::text[]);

-- name: insert_wait
INSERT INTO {schema}.jobq_waits (job_id, open, shape)
SELECT * FROM unnest(%(job_id)s::text[], %(open)s::int[], %(shape)s::text[]);

-- name: settle
-- Sent in the same transaction (one pipeline) as a finish or cancel of the jobs of :ids.
-- Most finished jobs have no dependents: the function is called only for those that do.
SELECT {schema}.jobq_settle(%(ids)s::text[], %(channel)s)
WHERE EXISTS (SELECT 1 FROM {schema}.jobq_deps WHERE dep_id = ANY(%(ids)s::text[]));

-- name: settle_reaped
-- Sent in the reap's pipeline: the jobs it failed or cancelled are those it stamped
-- with the transaction's time.
SELECT {schema}.jobq_settle(ARRAY(
    SELECT id FROM {schema}.jobq_jobs
    WHERE status IN ('failed', 'cancelled') AND finished_at = now()
), %(channel)s);

-- name: release
SELECT {schema}.jobq_release(%(ids)s::text[], %(channel)s);

-- name: unreleased
-- The job's state and whether it has not been released since it was enqueued; locks it.
SELECT j.status, w.job_id IS NOT NULL AS unreleased FROM {schema}.jobq_jobs AS j
LEFT JOIN {schema}.jobq_waits AS w ON w.job_id = j.id
WHERE j.id = %(id)s
FOR UPDATE OF j;

-- name: open_deps
-- The dependencies of :ids that have not succeeded, with their state (NULL: gone),
-- locked so that none fails unseen while the retry decides.
SELECT d.job_id, d.dep_id, x.status, x.task, x.result, x.error_type, x.error_message
FROM {schema}.jobq_deps AS d
LEFT JOIN LATERAL (
    SELECT status, task, result, error_type, error_message FROM {schema}.jobq_jobs
    WHERE id = d.dep_id
    FOR SHARE
) AS x ON true
WHERE d.job_id = ANY(%(ids)s::text[]) AND NOT d.met
ORDER BY d.position;

-- name: retry_blocked
-- transition: failed, cancelled -> blocked
UPDATE {schema}.jobq_jobs
SET status = 'blocked', attempts = 0, finished_at = NULL, result = NULL, error_type = NULL,
    error_message = NULL, error_traceback = NULL, worker_id = NULL, cancel_requested = false
WHERE id = ANY(%(id)s::text[]) AND status IN ('failed', 'cancelled');

-- name: set_open
UPDATE {schema}.jobq_waits AS w SET open = v.open
FROM unnest(%(id)s::text[], %(open)s::int[]) AS v(id, open)
WHERE w.job_id = v.id;

-- name: failed_by
-- The jobs the failure of :id failed while they waited, transitively (through such jobs
-- only), in insertion order: each comes after the jobs it waits for.
WITH RECURSIVE down (id) AS (
    SELECT job_id FROM {schema}.jobq_deps WHERE dep_id = %(id)s
    UNION
    SELECT d.job_id FROM down
    JOIN {schema}.jobq_jobs AS j ON j.id = down.id
    JOIN {schema}.jobq_deps AS d ON d.dep_id = down.id
    WHERE j.status = 'failed' AND j.error_type = 'DependencyFailed'
)
SELECT j.id FROM down
JOIN {schema}.jobq_jobs AS j ON j.id = down.id
JOIN {schema}.jobq_waits AS w ON w.job_id = j.id
WHERE j.status = 'failed' AND j.error_type = 'DependencyFailed'
ORDER BY j.seq;

-- name: dependencies
SELECT dep_id FROM {schema}.jobq_deps WHERE job_id = %(id)s ORDER BY position;

-- name: dependents
SELECT d.job_id FROM {schema}.jobq_deps AS d
JOIN {schema}.jobq_jobs AS j ON j.id = d.job_id
WHERE d.dep_id = %(id)s
ORDER BY j.seq;
