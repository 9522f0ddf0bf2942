-- jobq's SQLite schema, version 1. Times are UTC epoch seconds (REAL).
CREATE TABLE jobq_jobs (
    seq              INTEGER PRIMARY KEY,          -- insertion order: "oldest first"
    id               TEXT NOT NULL UNIQUE,
    task             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    args             TEXT NOT NULL,
    kwargs           TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL CHECK (status IN ('blocked', 'scheduled', 'pending',
                         'running', 'succeeded', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_at           REAL NOT NULL,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    lease_expires_at REAL,
    lease_token      TEXT,
    worker_id        TEXT,
    key              TEXT,
    result           TEXT,
    error_type       TEXT,
    error_message    TEXT,
    error_traceback  TEXT,
    timeout          REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);

-- Partial indexes cover only live rows, so a claim stays fast however many finished
-- jobs the table keeps.
CREATE INDEX jobq_jobs_ready ON jobq_jobs (queue, priority DESC, seq) WHERE status = 'pending';
CREATE INDEX jobq_jobs_due ON jobq_jobs (run_at) WHERE status = 'scheduled';
CREATE INDEX jobq_jobs_leases ON jobq_jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobq_jobs_finished ON jobq_jobs (finished_at)
    WHERE status IN ('succeeded', 'failed', 'cancelled');
-- Listing by status, newest first: the live states use the indexes above, the rarely
-- written states get one small index each. Succeeded rows, the bulk of a busy store,
-- carry no such index (a table scan from the newest row finds them at once), so
-- finishing a job moves it between two small indexes, not through one on every row.
CREATE INDEX jobq_jobs_blocked ON jobq_jobs (seq) WHERE status = 'blocked';
CREATE INDEX jobq_jobs_failed ON jobq_jobs (seq) WHERE status = 'failed';
CREATE INDEX jobq_jobs_cancelled ON jobq_jobs (seq) WHERE status = 'cancelled';
-- An idempotency key is unique while its job is not finished.
CREATE UNIQUE INDEX jobq_jobs_live_key ON jobq_jobs (key)
    WHERE key IS NOT NULL AND status IN ('blocked', 'scheduled', 'pending', 'running');
