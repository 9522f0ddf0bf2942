-- jobq's PostgreSQL schema, version 2: what a killed worker, a rolling deploy and a
-- cut-off worker leave on a job, and the registry of running workers.
-- A lease that ran out is not a failed attempt: it is counted in lost_leases, and a job
-- fails with WorkerLost once it has lost max_lost of them. unknown_task_since: since when
-- workers that lack the job's task have been handing it back. Adding columns with a
-- constant default rewrites no row.
ALTER TABLE {schema}.jobq_jobs
    ADD COLUMN lost_leases integer NOT NULL DEFAULT 0,
    ADD COLUMN max_lost integer NOT NULL DEFAULT 3,
    ADD COLUMN unknown_task_since timestamptz;
-- Pending jobs that lost a lease before: a claim takes at most one of them per worker,
-- from this small index, so it never scans the whole ready index to find none.
CREATE INDEX jobq_jobs_suspects ON {schema}.jobq_jobs (queue, priority DESC, seq)
    WHERE status = 'pending' AND lost_leases > 0;
CREATE INDEX jobq_jobs_unknown_task ON {schema}.jobq_jobs (task)
    WHERE unknown_task_since IS NOT NULL;
-- Running workers: each writes its row at start and refreshes last_seen (the server's
-- clock) while it runs.
CREATE TABLE {schema}.jobq_workers (
    id         text PRIMARY KEY,
    host       text NOT NULL,
    pid        integer NOT NULL,
    started_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    queues     text[] NOT NULL,
    tasks      text[] NOT NULL
);
CREATE INDEX jobq_workers_seen ON {schema}.jobq_workers (last_seen);
