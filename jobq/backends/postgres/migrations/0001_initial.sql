-- jobq's PostgreSQL schema, version 1. "{schema}" is replaced by the configured schema
-- (quoted); the migration runs in one transaction together with its jobq_schema row.
-- Arguments, kwargs and results stay JSON *text*: they come back byte for byte, and a
-- damaged value can still be read and quarantined.
CREATE TABLE {schema}.jobq_jobs (
    seq              bigserial PRIMARY KEY,     -- insertion order: "oldest first"
    id               text NOT NULL UNIQUE,
    task             text NOT NULL,
    queue            text NOT NULL,
    args             text NOT NULL,
    kwargs           text NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    status           text NOT NULL CHECK (status IN ('blocked', 'scheduled', 'pending',
                         'running', 'succeeded', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    run_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    lease_expires_at timestamptz,
    lease_token      text,
    worker_id        text,
    key              text,
    result           text,
    error_type       text,
    error_message    text,
    error_traceback  text,
    timeout          double precision,
    cancel_requested boolean NOT NULL DEFAULT false
);

-- Partial indexes cover only live rows, so claiming, promoting and reaping stay fast
-- however many finished jobs the table keeps. Queries repeat these predicates literally
-- so that even a generic (prepared) plan can use them.
CREATE INDEX jobq_jobs_ready ON {schema}.jobq_jobs (queue, priority DESC, seq)
    WHERE status = 'pending';
CREATE INDEX jobq_jobs_due ON {schema}.jobq_jobs (run_at) WHERE status = 'scheduled';
CREATE INDEX jobq_jobs_leases ON {schema}.jobq_jobs (lease_expires_at)
    WHERE status = 'running';
CREATE INDEX jobq_jobs_finished ON {schema}.jobq_jobs (finished_at)
    WHERE status IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX jobq_jobs_status ON {schema}.jobq_jobs (status, seq);
-- An idempotency key is unique while its job is not finished.
CREATE UNIQUE INDEX jobq_jobs_live_key ON {schema}.jobq_jobs (key)
    WHERE key IS NOT NULL AND status IN ('blocked', 'scheduled', 'pending', 'running');
