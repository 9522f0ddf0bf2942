-- jobq's SQLite schema, version 5: counts of finished jobs kept as they change, so
-- stats() reads a few rows however many finished jobs the table keeps. Live states
-- (blocked, scheduled, pending, running) are counted from their partial indexes, which
-- only hold live rows; finished states (the bulk of a busy store) from this table, which
-- the triggers below keep exact through every path a job takes (finish, cancel, retry,
-- reap, workflow failures, purge). SQLite has one writer at a time, so one row per
-- (queue, status) costs no extra waiting. A job never changes queue.
CREATE TABLE jobq_counts (
    queue  TEXT NOT NULL,
    status TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (queue, status)
) WITHOUT ROWID;
INSERT INTO jobq_counts (queue, status, n)
    SELECT queue, status, COUNT(*) FROM jobq_jobs
    WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, status;
CREATE TRIGGER jobq_counts_insert AFTER INSERT ON jobq_jobs
WHEN NEW.status IN ('succeeded', 'failed', 'cancelled')
BEGIN
    INSERT INTO jobq_counts (queue, status, n) VALUES (NEW.queue, NEW.status, 1)
        ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER jobq_counts_update AFTER UPDATE OF status ON jobq_jobs
WHEN OLD.status IS NOT NEW.status
 AND (OLD.status IN ('succeeded', 'failed', 'cancelled')
      OR NEW.status IN ('succeeded', 'failed', 'cancelled'))
BEGIN
    UPDATE jobq_counts SET n = n - 1 WHERE queue = OLD.queue AND status = OLD.status;
    INSERT INTO jobq_counts (queue, status, n)
        SELECT NEW.queue, NEW.status, 1
        WHERE NEW.status IN ('succeeded', 'failed', 'cancelled')
        ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER jobq_counts_delete AFTER DELETE ON jobq_jobs
WHEN OLD.status IN ('succeeded', 'failed', 'cancelled')
BEGIN
    UPDATE jobq_counts SET n = n - 1 WHERE queue = OLD.queue AND status = OLD.status;
END;
-- Attempts that ended, per minute (epoch seconds of its start) and queue, as each worker
-- adds its own counts every few seconds (a row per worker: no row every worker writes).
-- Minute 0 holds the totals of the minutes retention pruned. purge never touches it.
CREATE TABLE jobq_throughput (
    minute    INTEGER NOT NULL,
    queue     TEXT NOT NULL,
    worker    TEXT NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    retried   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, queue, worker)
) WITHOUT ROWID;
