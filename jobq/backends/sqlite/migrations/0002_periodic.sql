-- jobq's SQLite schema, version 2: periodic tasks. Times are UTC epoch seconds (REAL),
-- ticks epoch milliseconds (INTEGER).

-- The leader lease: one row per lease name ("periodic"). The term grows by one at each
-- change of hands and fences a deposed leader's writes.
CREATE TABLE jobq_leader (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    term       INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    elected_at REAL NOT NULL
);

-- Every version of every periodic task a worker registered: (name, hash) names a
-- version, spec is its JSON. first_seen and seen_at are on the periodic timeline (the
-- store's clock as the workers read it).
CREATE TABLE jobq_periodic (
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    first_seen REAL NOT NULL,
    seen_at    REAL NOT NULL,
    PRIMARY KEY (name, hash)
);

-- The tick identity: a tick is admitted once, in the transaction that stores its job.
-- The newest few per task are kept.
CREATE TABLE jobq_ticks (
    name     TEXT NOT NULL,
    tick     INTEGER NOT NULL,
    job_id   TEXT NOT NULL,
    holder   TEXT NOT NULL,
    term     INTEGER NOT NULL,
    fired_at REAL NOT NULL,
    PRIMARY KEY (name, tick)
)
