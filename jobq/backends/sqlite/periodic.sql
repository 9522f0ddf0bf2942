-- jobq's SQLite queries for periodic tasks (see jobq/backends/sqlite/periodic.py). Each
-- runs inside the caller's IMMEDIATE transaction, so a check and the write after it are
-- one atomic step.

-- name: renew_lead
UPDATE jobq_leader SET expires_at = :expires
WHERE name = 'periodic' AND holder = :holder AND term = :term AND expires_at > :now;

-- name: take_lead
-- A free lease, or one that has run out, changes hands under the next term.
INSERT INTO jobq_leader (name, holder, term, expires_at, elected_at)
VALUES ('periodic', :holder, 1, :expires, :now)
ON CONFLICT (name) DO UPDATE
SET holder = excluded.holder, term = term + 1, expires_at = excluded.expires_at,
    elected_at = excluded.elected_at
WHERE expires_at <= :now;

-- name: leader
SELECT holder, term, expires_at, elected_at FROM jobq_leader WHERE name = 'periodic';

-- name: resign
UPDATE jobq_leader SET expires_at = :now
WHERE name = 'periodic' AND holder = :holder AND term = :term AND expires_at > :now;

-- name: register
INSERT INTO jobq_periodic (name, hash, spec, first_seen, seen_at)
VALUES (:name, :hash, :spec, :now, :now)
ON CONFLICT (name, hash) DO UPDATE
SET seen_at = MAX(seen_at, excluded.seen_at), first_seen = MIN(first_seen, excluded.first_seen);

-- name: forget
DELETE FROM jobq_periodic WHERE seen_at < :before;

-- name: definitions
SELECT name, hash, spec, first_seen, seen_at FROM jobq_periodic ORDER BY name, first_seen;

-- name: last_ticks
SELECT name, MAX(tick) FROM jobq_ticks GROUP BY name;

-- name: later_tick
SELECT 1 FROM jobq_ticks WHERE name = :name AND tick >= :tick LIMIT 1;

-- name: admit_tick
INSERT INTO jobq_ticks (name, tick, job_id, holder, term, fired_at)
VALUES (:name, :tick, :job_id, :holder, :term, :now);

-- name: prune_ticks
-- Keeps the newest :keep ticks of the task.
DELETE FROM jobq_ticks
WHERE name = :name AND tick <= (
    SELECT tick FROM jobq_ticks WHERE name = :name ORDER BY tick DESC LIMIT 1 OFFSET :keep
);
