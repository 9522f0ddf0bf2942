-- jobq's PostgreSQL schema, version 5: counts of finished jobs kept as they change, so
-- stats() reads a few rows however many finished jobs the table keeps. Live states
-- (blocked, scheduled, pending, running) are counted through their indexes, which hold
-- live rows only; finished states (the bulk of a busy store) come from jobq_counts plus
-- the changes not yet folded into it.
-- Every finish only appends a row to jobq_count_changes: one shared counter row per
-- (queue, status) would be locked by every worker's finish until its commit, and so
-- serialise them. The workers' reapers and purge fold the changes into jobq_counts.
-- A job never changes queue.
CREATE TABLE {schema}.jobq_counts (
    queue  text NOT NULL,
    status text NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (queue, status)
);
CREATE TABLE {schema}.jobq_count_changes (
    queue  text NOT NULL,
    status text NOT NULL,
    n      bigint NOT NULL
);
INSERT INTO {schema}.jobq_counts (queue, status, n)
    SELECT queue, status, count(*) FROM {schema}.jobq_jobs
    WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, status;

CREATE FUNCTION {schema}.jobq_count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO {schema}.jobq_count_changes VALUES (OLD.queue, OLD.status, -1);
    END IF;
    IF NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO {schema}.jobq_count_changes VALUES (NEW.queue, NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobq_counts_insert AFTER INSERT ON {schema}.jobq_jobs
    FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION {schema}.jobq_count_row();
CREATE TRIGGER jobq_counts_update AFTER UPDATE OF status ON {schema}.jobq_jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
        AND (OLD.status IN ('succeeded', 'failed', 'cancelled')
             OR NEW.status IN ('succeeded', 'failed', 'cancelled')))
    EXECUTE FUNCTION {schema}.jobq_count_row();

-- A purge deletes thousands of rows: one change per (queue, status) per statement.
CREATE FUNCTION {schema}.jobq_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {schema}.jobq_count_changes
        SELECT queue, status, -count(*) FROM gone
        WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, status;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobq_counts_delete AFTER DELETE ON {schema}.jobq_jobs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION {schema}.jobq_count_deleted();

-- Attempts that ended, per minute and queue, as each worker adds its own counts every
-- few seconds (a row per worker: no row every worker writes). Minute 0 (the epoch) holds
-- the totals of the minutes retention pruned. purge never touches it.
CREATE TABLE {schema}.jobq_throughput (
    minute    timestamptz NOT NULL,
    queue     text NOT NULL,
    worker    text NOT NULL,
    succeeded bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0,
    retried   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, queue, worker)
);
