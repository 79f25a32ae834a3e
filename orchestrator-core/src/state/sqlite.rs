//! The default state store: SQLite in WAL mode, one file beside the config.
//!
//! `synchronous=FULL` makes every journal append durable before the engine performs the side
//! effect it announces; a journal entry costs well under a millisecond on an SSD, nothing next to
//! a git push or a forge request.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    JournalEntry, JournalRecord, RunId, RunStatus, RunSummary, StateStore, TaskRecord, now_ms,
};
use crate::error::{Error, Result};

/// Runs and journals in a SQLite database; inspect it with the `sqlite3` shell.
#[derive(Debug)]
pub struct SqliteStateStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
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
";

impl SqliteStateStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let fail = |e: rusqlite::Error| Error::state(format!("{}: {e}", path.display()));
        let conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Opens the existing database at `path` for reading only, for commands that change nothing
    /// (`runs`, dry runs): it never creates the file, the schema or the state directory, and
    /// works where the directory is read-only (a CI cache, another user's workspace). Writes
    /// through it fail.
    ///
    /// A read-only connection to a WAL database still needs the `-shm` index beside it; where
    /// that cannot be created (read-only directory, no earlier writer left one), the file is
    /// read as immutable, which is sound because nobody can be writing into that directory.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        use rusqlite::OpenFlags;
        let fail = |e: rusqlite::Error| Error::state(format!("{}: {e}", path.display()));
        if !path.is_file() {
            return Err(Error::state(format!(
                "{}: no state database here",
                path.display()
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let probe = |conn: &Connection| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
        };
        let conn = Connection::open_with_flags(path, flags).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        if probe(&conn).is_ok() {
            return Ok(Self {
                conn: Mutex::new(conn),
            });
        }
        drop(conn);
        let uri = format!("file:{}?immutable=1", uri_path(path));
        let conn = Connection::open_with_flags(&uri, flags).map_err(fail)?;
        probe(&conn).map_err(fail)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `path` as the path of a `file:` URI: absolute, and with the characters a URI gives meaning
/// to (`%`, `?`, `#`) and anything outside printable ASCII percent-encoded.
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = String::new();
    for byte in absolute.as_os_str().as_encoded_bytes() {
        match byte {
            b'%' | b'?' | b'#' => out.push_str(&format!("%{byte:02X}")),
            0x21..=0x7e => out.push(char::from(*byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn db_error(e: rusqlite::Error) -> Error {
    Error::state(e)
}

fn row_to_summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    let status: String = row.get(3)?;
    let params: String = row.get(4)?;
    Ok(RunSummary {
        id: row.get(0)?,
        kind: row.get(1)?,
        key: row.get(2)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
        params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
        started_at_ms: row.get(5)?,
        finished_at_ms: row.get(6)?,
    })
}

impl StateStore for SqliteStateStore {
    fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (kind, key, status, params, started_at_ms) VALUES (?1, ?2, 'running', ?3, ?4)",
            params![kind, key, params.to_string(), now_ms()],
        )
        .map_err(db_error)?;
        Ok(conn.last_insert_rowid())
    }

    fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()> {
        let json = serde_json::to_string(entry).map_err(Error::state)?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO journal (run_id, seq, at_ms, entry)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = ?1), ?2, ?3)",
            params![run, now_ms(), json],
        )
        .map_err(db_error)?;
        Ok(())
    }

    fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT seq, at_ms, entry FROM journal WHERE run_id = ?1 ORDER BY seq")
            .map_err(db_error)?;
        let rows = stmt
            .query_map([run], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(db_error)?;
        let mut records = Vec::new();
        for row in rows {
            let (seq, at_ms, entry) = row.map_err(db_error)?;
            let entry = serde_json::from_str(&entry).map_err(|e| {
                Error::state(format!("run {run} journal entry {seq} is unreadable: {e}"))
            })?;
            records.push(JournalRecord {
                seq: seq as u64,
                at_ms,
                entry,
            });
        }
        Ok(records)
    }

    fn set_status(&self, run: RunId, status: RunStatus) -> Result<()> {
        let finished = (status != RunStatus::Running).then(now_ms);
        let changed = self
            .conn()
            .execute(
                "UPDATE runs SET status = ?2, finished_at_ms = ?3 WHERE id = ?1",
                params![run, status.as_str(), finished],
            )
            .map_err(db_error)?;
        if changed == 0 {
            return Err(Error::NotFound {
                what: format!("run {run}"),
            });
        }
        Ok(())
    }

    fn runs(&self, kind: Option<&str>, key: Option<&str>, limit: usize) -> Result<Vec<RunSummary>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, kind, key, status, params, started_at_ms, finished_at_ms FROM runs
                 WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR key = ?2)
                 ORDER BY id DESC LIMIT ?3",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map(
                params![kind, key, i64::try_from(limit).unwrap_or(i64::MAX)],
                row_to_summary,
            )
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }

    fn run(&self, run: RunId) -> Result<Option<RunSummary>> {
        self.conn()
            .query_row(
                "SELECT id, kind, key, status, params, started_at_ms, finished_at_ms FROM runs WHERE id = ?1",
                [run],
                row_to_summary,
            )
            .optional()
            .map_err(db_error)
    }

    fn record_task(&self, r: &TaskRecord) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO agents_tasks (task, run_id, status, started_at, finished_at, duration_ms,
                     outputs_uri, approval_state, log_excerpt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.task,
                    r.run_id,
                    r.status,
                    r.started_at,
                    r.finished_at,
                    r.duration_ms,
                    r.outputs_uri,
                    r.approval_state,
                    r.log_excerpt
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT task, run_id, status, started_at, finished_at, duration_ms, outputs_uri,
                        approval_state, log_excerpt
                 FROM agents_tasks WHERE (?1 IS NULL OR run_id = ?1)
                 ORDER BY run_id DESC, id LIMIT ?2",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map(
                params![run, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| {
                    Ok(TaskRecord {
                        task: row.get(0)?,
                        run_id: row.get(1)?,
                        status: row.get(2)?,
                        started_at: row.get(3)?,
                        finished_at: row.get(4)?,
                        duration_ms: row.get(5)?,
                        outputs_uri: row.get(6)?,
                        approval_state: row.get(7)?,
                        log_excerpt: row.get(8)?,
                    })
                },
            )
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_opening_reads_runs_and_refuses_writes_and_creates_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("state # 100%?.db");
        assert!(
            SqliteStateStore::open_read_only(&db).is_err(),
            "no database, no file made"
        );
        assert!(!db.exists());
        let store = SqliteStateStore::open(&db).expect("open");
        let run = store
            .begin_run("release", "1.0.0", &serde_json::Value::Null)
            .expect("run");
        drop(store);
        let reader = SqliteStateStore::open_read_only(&db).expect("read-only");
        let runs = reader.runs(None, None, 10).expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].id, run);
        assert!(
            reader
                .begin_run("release", "2.0.0", &serde_json::Value::Null)
                .is_err(),
            "a read-only store refuses writes"
        );
    }

    #[test]
    fn uri_paths_escape_what_a_uri_gives_meaning_to() {
        assert_eq!(
            uri_path(Path::new("/a b/c?d#e%f.db")),
            "/a%20b/c%3Fd%23e%25f.db"
        );
    }
}
