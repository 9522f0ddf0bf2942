-- jobq's PostgreSQL schema, version 2: periodic tasks. "{schema}" is replaced by the
-- configured schema (quoted). Ticks are epoch milliseconds.

-- The leader lease: one row per lease name ('periodic'), on the server's clock. The term
-- grows by one at each change of hands and fences a deposed leader's writes.
CREATE TABLE {schema}.jobq_leader (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    term       bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    elected_at timestamptz NOT NULL
);

-- Every version of every periodic task a worker registered: (name, hash) names a
-- version, spec is its JSON. first_seen and seen_at are epoch seconds on the periodic
-- timeline (the server's clock as the workers read it).
CREATE TABLE {schema}.jobq_periodic (
    name       text NOT NULL,
    hash       text NOT NULL,
    spec       text NOT NULL,
    first_seen double precision NOT NULL,
    seen_at    double precision NOT NULL,
    PRIMARY KEY (name, hash)
);

-- The tick identity: a tick is admitted once, in the statement that stores its job. The
-- newest few per task are kept.
CREATE TABLE {schema}.jobq_ticks (
    name     text NOT NULL,
    tick     bigint NOT NULL,
    job_id   text NOT NULL,
    holder   text NOT NULL,
    term     bigint NOT NULL,
    fired_at timestamptz NOT NULL,
    PRIMARY KEY (name, tick)
);
