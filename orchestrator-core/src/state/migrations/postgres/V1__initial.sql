-- Runs, journals and task records: the same tables as SQLite's baseline.
CREATE TABLE runs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT
);
CREATE INDEX runs_kind_key ON runs (kind, key, id);
CREATE TABLE journal (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE agents_tasks (
    id BIGSERIAL PRIMARY KEY,
    task TEXT NOT NULL,
    run_id BIGINT NOT NULL REFERENCES runs (id),
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    outputs_uri TEXT,
    approval_state TEXT,
    log_excerpt TEXT NOT NULL
);
CREATE INDEX agents_tasks_run ON agents_tasks (run_id, id);
