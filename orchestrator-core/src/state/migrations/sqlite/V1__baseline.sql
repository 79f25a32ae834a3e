-- The schema every state.db had before the schema was versioned. `IF NOT EXISTS` here only: this
-- baseline adopts databases made by those versions (their tables exist, their history does not).
-- Every later change is a new migration.
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    finished_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS runs_kind_key ON runs (kind, key, id);
CREATE TABLE IF NOT EXISTS journal (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS agents_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    outputs_uri TEXT,
    approval_state TEXT,
    log_excerpt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agents_tasks_run ON agents_tasks (run_id, id);
