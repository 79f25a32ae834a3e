//! The default state store: SQLite in WAL mode, one file beside the config.
//!
//! `synchronous=FULL` makes every journal append durable before the engine performs the side
//! effect it announces; a journal entry costs well under a millisecond on an SSD, nothing next to
//! a git push or a forge request.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::holder::{GuardKind, host_name, process_alive};
use super::{
    Holder, JournalEntry, JournalRecord, LockGuard, RunId, RunStatus, RunSummary, StateStore,
    TaskRecord, WorkspaceLock, now_ms,
};
use crate::error::{Error, Result};

/// Runs and journals in a SQLite database; inspect it with the `sqlite3` shell.
///
/// Every call runs on tokio's blocking pool (an fsync must not stall an async worker), so the
/// async methods need a tokio runtime. Coordination is local: the workspace lock is `flock` on
/// `<dir>/lock`, and a run's claim is live while its process is (same host, pid and process start
/// time); a claim from another host counts as gone, as a SQLite workspace is one machine's.
#[derive(Debug)]
pub struct SqliteStateStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// This store's runner, among the stores of this process (see [`live_sessions`]).
    session: String,
}

/// The sessions of the SQLite stores alive in this process: a claim recorded by this process
/// is live while the store that made it is.
fn live_sessions() -> MutexGuard<'static, HashSet<String>> {
    static LIVE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn new_session() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let session = format!(
        "{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        now_ms()
    );
    live_sessions().insert(session.clone());
    session
}

/// When process `pid` started (clock ticks since boot, `/proc/<pid>/stat` field 22): with the
/// pid, it tells a live holder from a new process that reuses a dead one's pid.
fn process_start(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

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
        let mut conn = conn;
        super::migrate::sqlite(&mut conn, &path.display().to_string())?;
        Ok(Self::with_conn(conn, path))
    }

    fn with_conn(conn: Connection, path: &Path) -> Self {
        Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
            session: new_session(),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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
            return Ok(Self::with_conn(conn, path));
        }
        drop(conn);
        let uri = format!("file:{}?immutable=1", uri_path(path));
        let conn = Connection::open_with_flags(&uri, flags).map_err(fail)?;
        probe(&conn).map_err(fail)?;
        Ok(Self::with_conn(conn, path))
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| Error::state(format!("state store task failed: {e}")))?
    }

    /// The directory of the database, where the workspace lock lives.
    fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned)
    }
}

impl Drop for SqliteStateStore {
    fn drop(&mut self) {
        // Claims this store made read as gone from now on, as after its process's death.
        live_sessions().remove(&self.session);
    }
}

/// A claim row: who, and whether they are alive.
struct ClaimRow {
    holder: Holder,
    proc_start: Option<i64>,
    session: String,
}

impl ClaimRow {
    fn alive(&self) -> bool {
        if self.holder.host != host_name() {
            // One machine's workspace: a claim from another host (a replaced pod or runner
            // sharing the volume) cannot be checked and is treated as gone.
            return false;
        }
        if self.holder.pid == std::process::id() {
            return live_sessions().contains(&self.session);
        }
        process_alive(self.holder.pid)
            && (self.proc_start.is_none() || process_start(self.holder.pid) == self.proc_start)
    }
}

/// Whether the table exists (a read-only database from before claims has none).
fn has_claims(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'claims'",
        [],
        |_| Ok(()),
    )
    .optional()
    .ok()
    .flatten()
    .is_some()
}

fn claim_row(conn: &Connection, run: RunId) -> rusqlite::Result<Option<ClaimRow>> {
    if !has_claims(conn) {
        return Ok(None);
    }
    conn.query_row(
        "SELECT host, pid, proc_start, session, what FROM claims WHERE run_id = ?1",
        [run],
        |r| {
            Ok(ClaimRow {
                holder: Holder {
                    host: r.get(0)?,
                    pid: r.get(1)?,
                    what: r.get(4)?,
                },
                proc_start: r.get(2)?,
                session: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Whether somebody holds the workspace lock in `dir` (a shared lock attempt; nothing written).
fn workspace_lock_held(dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(dir.join("lock")) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

/// A stored-running run whose holder is gone reads as interrupted. A run without a claim (made
/// before claims existed) is live only while somebody holds the workspace lock.
fn report(conn: &Connection, dir: &Path, mut summary: RunSummary) -> rusqlite::Result<RunSummary> {
    if summary.status == RunStatus::Running {
        let alive = match claim_row(conn, summary.id)? {
            Some(claim) => claim.alive(),
            None => workspace_lock_held(dir),
        };
        if !alive {
            summary.status = RunStatus::Interrupted;
        }
    }
    Ok(summary)
}

fn write_claim(
    conn: &Connection,
    run: RunId,
    holder: &Holder,
    session: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO claims (run_id, host, pid, proc_start, session, what, claimed_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (run_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
             proc_start = excluded.proc_start, session = excluded.session, what = excluded.what,
             claimed_at_ms = excluded.claimed_at_ms",
        params![
            run,
            holder.host,
            holder.pid,
            process_start(holder.pid),
            session,
            holder.what,
            now_ms()
        ],
    )
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

#[async_trait]
impl StateStore for SqliteStateStore {
    async fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId> {
        let (kind, key, params) = (kind.to_owned(), key.to_owned(), params.to_string());
        let session = self.session.clone();
        self.blocking(move |conn| {
            let tx = conn.transaction().map_err(db_error)?;
            tx.execute(
                "INSERT INTO runs (kind, key, status, params, started_at_ms) VALUES (?1, ?2, 'running', ?3, ?4)",
                params![kind, key, params, now_ms()],
            )
            .map_err(db_error)?;
            let run = tx.last_insert_rowid();
            write_claim(&tx, run, &Holder::current(format!("{kind} {key}")), &session)
                .map_err(db_error)?;
            tx.commit().map_err(db_error)?;
            Ok(run)
        })
        .await
    }

    async fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()> {
        let json = serde_json::to_string(entry).map_err(Error::state)?;
        self.blocking(move |conn| {
            conn.execute(
                "INSERT INTO journal (run_id, seq, at_ms, entry)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = ?1), ?2, ?3)",
                params![run, now_ms(), json],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>> {
        self.blocking(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, at_ms, entry FROM journal WHERE run_id = ?1 ORDER BY seq",
                )
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
                records.push(decode_record(run, seq, at_ms, &entry)?);
            }
            Ok(records)
        })
        .await
    }

    async fn set_status(&self, run: RunId, status: RunStatus) -> Result<()> {
        let session = self.session.clone();
        self.blocking(move |conn| {
            let finished = (status != RunStatus::Running).then(now_ms);
            let tx = conn.transaction().map_err(db_error)?;
            let changed = tx
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
            if status != RunStatus::Running && has_claims(&tx) {
                tx.execute(
                    "DELETE FROM claims WHERE run_id = ?1 AND session = ?2",
                    params![run, session],
                )
                .map_err(db_error)?;
            }
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn runs(
        &self,
        kind: Option<&str>,
        key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunSummary>> {
        let (kind, key) = (kind.map(str::to_owned), key.map(str::to_owned));
        let dir = self.dir();
        self.blocking(move |conn| {
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
                .map_err(db_error)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_error)?;
            rows.into_iter()
                .map(|r| report(conn, &dir, r).map_err(db_error))
                .collect()
        })
        .await
    }

    async fn run(&self, run: RunId) -> Result<Option<RunSummary>> {
        let dir = self.dir();
        self.blocking(move |conn| {
            let summary = conn
                .query_row(
                    "SELECT id, kind, key, status, params, started_at_ms, finished_at_ms FROM runs WHERE id = ?1",
                    [run],
                    row_to_summary,
                )
                .optional()
                .map_err(db_error)?;
            summary
                .map(|s| report(conn, &dir, s).map_err(db_error))
                .transpose()
        })
        .await
    }

    async fn record_task(&self, r: &TaskRecord) -> Result<()> {
        let r = r.clone();
        self.blocking(move |conn| {
            conn.execute(
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
        })
        .await
    }

    async fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>> {
        self.blocking(move |conn| {
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
        })
        .await
    }

    async fn claim_run(&self, run: RunId, holder: &Holder) -> Result<()> {
        let holder = holder.clone();
        let session = self.session.clone();
        self.blocking(move |conn| {
            // IMMEDIATE: two runners claiming at once are serialised by SQLite's write lock.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let exists = tx
                .query_row("SELECT 1 FROM runs WHERE id = ?1", [run], |_| Ok(()))
                .optional()
                .map_err(db_error)?
                .is_some();
            if !exists {
                return Err(Error::NotFound {
                    what: format!("run {run}"),
                });
            }
            if let Some(current) = claim_row(&tx, run).map_err(db_error)?
                && current.session != session
                && current.alive()
            {
                return Err(Error::Busy {
                    what: format!("run {run}"),
                    holder: current.holder.to_string(),
                });
            }
            write_claim(&tx, run, &holder, &session).map_err(db_error)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn claim_holder(&self, run: RunId) -> Result<Option<Holder>> {
        self.blocking(move |conn| {
            Ok(claim_row(conn, run)
                .map_err(db_error)?
                .filter(ClaimRow::alive)
                .map(|c| c.holder))
        })
        .await
    }

    async fn lock_workspace(&self, holder: &Holder) -> Result<LockGuard> {
        let dir = self.dir();
        let what = holder.what.clone();
        let lock = tokio::task::spawn_blocking(move || WorkspaceLock::acquire(&dir, &what))
            .await
            .map_err(|e| Error::state(format!("state store task failed: {e}")))??;
        Ok(LockGuard::new(GuardKind::File(lock)))
    }
}

fn decode_record(run: RunId, seq: i64, at_ms: i64, entry: &str) -> Result<JournalRecord> {
    let entry = serde_json::from_str(entry)
        .map_err(|e| Error::state(format!("run {run} journal entry {seq} is unreadable: {e}")))?;
    Ok(JournalRecord {
        seq: seq as u64,
        at_ms,
        entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_only_opening_reads_runs_and_refuses_writes_and_creates_nothing() {
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
            .await
            .expect("run");
        drop(store);
        let reader = SqliteStateStore::open_read_only(&db).expect("read-only");
        let runs = reader.runs(None, None, 10).await.expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].id, run);
        assert!(
            reader
                .begin_run("release", "2.0.0", &serde_json::Value::Null)
                .await
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
