-- Who drives each run: a claim is live while its process is (same host, same pid, same process
-- start time), so a killed run reads as interrupted and its claim can be taken over.
CREATE TABLE claims (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id),
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    proc_start INTEGER,
    session TEXT NOT NULL,
    what TEXT NOT NULL,
    claimed_at_ms INTEGER NOT NULL
);
