-- jobq's SQLite schema, version 2: workflows (chain, group, chord, depends_on).
-- One row per dependency of a job: which job it waits for, at which position (the
-- order of the results it gets), whether that dependency has succeeded, and then a copy
-- of its result, so a chord's results outlive its members' own rows.
CREATE TABLE jobq_deps (
    job_id   TEXT NOT NULL REFERENCES jobq_jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    dep_id   TEXT NOT NULL,
    met      INTEGER NOT NULL DEFAULT 0,
    result   TEXT,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
CREATE INDEX jobq_deps_dep ON jobq_deps (dep_id);

-- One row per job that has not been released yet (blocked, or failed or cancelled while
-- blocked): how many of its dependencies have not succeeded, and how their results
-- become its first argument (JSON as jobq.backends.base.Waits says, NULL for none). Deleted
-- when the job is released to run.
CREATE TABLE jobq_waits (
    job_id TEXT PRIMARY KEY REFERENCES jobq_jobs (id) ON DELETE CASCADE,
    open   INTEGER NOT NULL,
    shape  TEXT
) WITHOUT ROWID;
