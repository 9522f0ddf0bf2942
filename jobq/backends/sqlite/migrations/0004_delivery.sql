-- jobq's SQLite schema, version 2: what a killed worker, a rolling deploy and a cut-off
-- worker leave on a job, and the registry of running workers.
-- A lease that ran out is not a failed attempt: it is counted in lost_leases, and a job
-- fails with WorkerLost once it has lost max_lost of them.
ALTER TABLE jobq_jobs ADD COLUMN lost_leases INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobq_jobs ADD COLUMN max_lost INTEGER NOT NULL DEFAULT 3;
-- Since when workers that lack the job's task have been handing it back.
ALTER TABLE jobq_jobs ADD COLUMN unknown_task_since REAL;
-- Pending jobs that lost a lease before: a claim takes at most one of them per worker,
-- from this small index, so it never scans the whole ready index to find none.
CREATE INDEX jobq_jobs_suspects ON jobq_jobs (queue, priority DESC, seq)
    WHERE status = 'pending' AND lost_leases > 0;
CREATE INDEX jobq_jobs_unknown_task ON jobq_jobs (task) WHERE unknown_task_since IS NOT NULL;
-- Running workers: each writes its row at start and refreshes last_seen while it runs.
-- queues and tasks are JSON lists.
CREATE TABLE jobq_workers (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    started_at REAL NOT NULL,
    last_seen  REAL NOT NULL,
    queues     TEXT NOT NULL,
    tasks      TEXT NOT NULL
);
CREATE INDEX jobq_workers_seen ON jobq_workers (last_seen);
