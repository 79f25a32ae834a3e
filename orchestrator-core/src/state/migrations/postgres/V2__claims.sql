-- Who holds the workspace lock and each run's claim. The locks themselves are advisory locks held
-- by the holder's session (released when it ends); these rows only name the holder.
CREATE TABLE claims (
    run_id BIGINT PRIMARY KEY REFERENCES runs (id),
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    what TEXT NOT NULL,
    claimed_at_ms BIGINT NOT NULL
);
CREATE TABLE workspace_lock (
    id INT PRIMARY KEY CHECK (id = 1),
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    what TEXT NOT NULL,
    taken_at_ms BIGINT NOT NULL
);
