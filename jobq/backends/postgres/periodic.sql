-- jobq's PostgreSQL queries for periodic tasks (see jobq/backends/postgres/periodic.py).
-- "{schema}" is replaced by the configured schema, quoted. Every decision by time uses
-- the server's clock.

-- name: lead
-- Renews the lease for its holder under its term, or hands a free or run-out lease to
-- the caller under the next term; then returns the lease as it stands. A racing
-- candidate that lost sees the lease as it was when its statement began.
WITH clock AS (
    SELECT clock_timestamp() AS now
), taken AS (
    INSERT INTO {schema}.jobq_leader AS l (name, holder, term, expires_at, elected_at)
    SELECT 'periodic', %(holder)s, 1, now + make_interval(secs => %(ttl)s), now FROM clock
    ON CONFLICT (name) DO UPDATE
    SET holder = excluded.holder,
        term = CASE WHEN l.expires_at > excluded.elected_at THEN l.term ELSE l.term + 1 END,
        elected_at = CASE WHEN l.expires_at > excluded.elected_at THEN l.elected_at
                          ELSE excluded.elected_at END,
        expires_at = excluded.expires_at
    WHERE (l.holder = excluded.holder AND l.term = %(term)s
           AND l.expires_at > excluded.elected_at)
       OR l.expires_at <= excluded.elected_at
    RETURNING holder, term, expires_at, elected_at
), lease AS (
    SELECT * FROM taken
    UNION ALL
    SELECT holder, term, expires_at, elected_at FROM {schema}.jobq_leader
    WHERE name = 'periodic' AND NOT EXISTS (SELECT 1 FROM taken)
)
SELECT lease.holder, lease.term, extract(epoch FROM lease.expires_at),
       extract(epoch FROM lease.elected_at), extract(epoch FROM clock.now)
FROM clock LEFT JOIN lease ON true;

-- name: resign
UPDATE {schema}.jobq_leader SET expires_at = clock_timestamp()
WHERE name = 'periodic' AND holder = %(holder)s AND term = %(term)s
  AND expires_at > clock_timestamp();

-- name: register
INSERT INTO {schema}.jobq_periodic AS p (name, hash, spec, first_seen, seen_at)
VALUES (%(name)s, %(hash)s, %(spec)s, %(now)s, %(now)s)
ON CONFLICT (name, hash) DO UPDATE
SET seen_at = GREATEST(p.seen_at, excluded.seen_at),
    first_seen = LEAST(p.first_seen, excluded.first_seen);

-- name: forget
DELETE FROM {schema}.jobq_periodic WHERE seen_at < %(before)s;

-- name: leader
SELECT holder, term, extract(epoch FROM expires_at), extract(epoch FROM elected_at),
       extract(epoch FROM clock_timestamp())
FROM (SELECT 1) AS one
LEFT JOIN {schema}.jobq_leader ON name = 'periodic';

-- name: definitions
SELECT name, hash, spec, first_seen, seen_at FROM {schema}.jobq_periodic
ORDER BY name, first_seen;

-- name: last_ticks
SELECT name, max(tick) FROM {schema}.jobq_ticks GROUP BY name;

-- name: fire_tick
-- One statement: the lease row is locked and checked (holder, term, not run out), the
-- tick is admitted only if it is due and no tick at or after it was admitted for the
-- task, and the job is stored only if the tick was, with its max_lost and its limits, as
-- an enqueue's insert stores them. Only a lease holder admits ticks and each admission
-- holds the lease row's lock until it commits, so a new term begins after every
-- admission of the old one is visible.
WITH lease AS (
    SELECT extract(epoch FROM clock_timestamp()) AS now FROM {schema}.jobq_leader
    WHERE name = 'periodic' AND holder = %(holder)s AND term = %(term)s
      AND expires_at > clock_timestamp()
    FOR UPDATE
), admitted AS (
    INSERT INTO {schema}.jobq_ticks (name, tick, job_id, holder, term, fired_at)
    SELECT %(name)s, %(tick)s, %(id)s, %(holder)s, %(term)s, to_timestamp(lease.now)
    FROM lease
    WHERE %(tick)s <= lease.now * 1000
      AND NOT EXISTS (SELECT 1 FROM {schema}.jobq_ticks
                      WHERE name = %(name)s AND tick >= %(tick)s)
    ON CONFLICT DO NOTHING
    RETURNING job_id, fired_at
), stored AS (
    INSERT INTO {schema}.jobq_jobs
        (id, task, queue, args, kwargs, priority, status, max_attempts, run_at, created_at,
         timeout, max_lost, limit_key, limit_concurrency, limit_interval, limit_burst)
    SELECT job_id, %(task)s, %(queue)s, %(args)s, %(kwargs)s, %(priority)s, 'pending',
           %(max_attempts)s, %(run_at)s, fired_at, %(timeout)s, %(max_lost)s,
           %(limit_key)s::text, %(limit_concurrency)s::int, %(limit_interval)s::float8,
           %(limit_burst)s
    FROM admitted
    RETURNING id
), pruned AS (
    DELETE FROM {schema}.jobq_ticks
    WHERE name = %(name)s AND EXISTS (SELECT 1 FROM admitted) AND tick <= (
        SELECT tick FROM {schema}.jobq_ticks WHERE name = %(name)s
        ORDER BY tick DESC OFFSET %(keep)s LIMIT 1)
)
SELECT (SELECT now FROM lease),
       (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '') FROM stored) AS notified);
