-- The job queue of `orchestrator serve` on PostgreSQL: the same columns as the SQLite queue.
-- `triggers` is a JSON array (appended to when a trigger coalesces into a pending job).
CREATE TABLE serve_jobs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    triggers    JSONB NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    owner       TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    run_after   BIGINT NOT NULL,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    last_error  TEXT
);
CREATE INDEX serve_jobs_by_state ON serve_jobs (state, run_after);
CREATE INDEX serve_jobs_by_key ON serve_jobs (key, state);
-- Delivery ids seen (replays are recognised by the primary key).
CREATE TABLE serve_deliveries (
    id       TEXT PRIMARY KEY,
    received BIGINT NOT NULL
);
CREATE INDEX serve_deliveries_by_time ON serve_deliveries (received);
