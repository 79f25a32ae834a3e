//! [`SqliteJobQueue`]: the queue in its own SQLite file under the state dir, so it survives a
//! crash and several replicas (processes) on one host or volume share it.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction: SQLite's write lock serialises claims across
//! processes, so a job is never handed to two workers. `synchronous=FULL`: a job acknowledged with
//! `202` survives a power loss, not only a killed process. The file has its own schema version
//! (`PRAGMA user_version`), brought forward one numbered step at a time ([`MIGRATIONS`]); a newer
//! file is refused rather than misread.
//!
//! The same file carries what replicas on one host share besides jobs: wakes for each other's
//! release waits ([`SqliteJobQueue::publish_wake`]) and the forge's rate-limit budget.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{EnqueueOutcome, Job, JobKind, JobQueue, JobState, NewJob, QueueStats, lease_end};

/// The schema steps, in order: `MIGRATIONS[n]` takes a file from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[SCHEMA, SHARED];

/// The schema this code reads and writes.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Wakes kept this long: a replica polls them every fraction of a second.
const WAKE_RETENTION_MS: u64 = 10 * 60 * 1000;

/// Delivery ids are kept this long for replay detection (GitHub redelivers within days).
const DELIVERY_RETENTION_MS: u64 = 30 * 24 * 3600 * 1000;

const SCHEMA: &str = "
CREATE TABLE serve_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    triggers    TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    owner       TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    run_after   INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    last_error  TEXT
);
CREATE INDEX serve_jobs_by_state ON serve_jobs (state, run_after);
CREATE INDEX serve_jobs_by_key ON serve_jobs (key, state);
CREATE TABLE serve_deliveries (
    id       TEXT PRIMARY KEY,
    received INTEGER NOT NULL
);
CREATE INDEX serve_deliveries_by_time ON serve_deliveries (received);
";

/// Version 2: what replicas share besides jobs.
const SHARED: &str = "
CREATE TABLE serve_wakes (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    repo   TEXT NOT NULL,
    origin TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE TABLE serve_rate_limits (
    bucket    TEXT PRIMARY KEY,
    remaining INTEGER NOT NULL,
    reset     INTEGER NOT NULL,
    replica   TEXT NOT NULL,
    updated   INTEGER NOT NULL
);
";

const COLUMNS: &str = "id, kind, key, triggers, state, attempts, owner, lease_until, run_after, created, updated, last_error";

/// A [`JobQueue`] in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteJobQueue {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::state(format!("job queue {}: {e}", path.display()))
}

impl SqliteJobQueue {
    /// Opens (creating when absent) the queue file at `path`.
    ///
    /// # Errors
    /// [`Error::State`] naming the file when it cannot be opened, or was written by a newer
    /// version of the schema.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let fail = db_error(&path);
        let conn = Connection::open(&path).map_err(&fail)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(&fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&fail)?;
        {
            let mut conn = conn;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&fail)?;
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(&fail)?;
            match version {
                older @ 0..SCHEMA_VERSION => {
                    for step in &MIGRATIONS[usize::try_from(older).unwrap_or(0)..] {
                        tx.execute_batch(step).map_err(&fail)?;
                    }
                    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                        .map_err(&fail)?;
                }
                SCHEMA_VERSION => {}
                newer => {
                    return Err(Error::state(format!(
                        "job queue {}: schema version {newer} is newer than this orchestrator's \
                         ({SCHEMA_VERSION}): upgrade the orchestrator",
                        path.display()
                    )));
                }
            }
            tx.commit().map_err(&fail)?;
            drop(fail);
            Ok(Self {
                conn: Arc::new(Mutex::new(conn)),
                path,
            })
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a wake for the other replicas on this file: `repo` is the wake's payload
    /// (`crate::wake::Wake::encode`: `owner/name`, or JSON with the release); `origin` names this
    /// replica, so it skips its own. Wakes older than a few minutes are dropped.
    ///
    /// # Errors
    /// [`Error::State`] naming the file.
    pub async fn publish_wake(&self, repo: &str, origin: &str, now: u64) -> Result<()> {
        let (repo, origin) = (repo.to_owned(), origin.to_owned());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM serve_wakes WHERE at < ?1",
                params![to_i64(now.saturating_sub(WAKE_RETENTION_MS))],
            )?;
            tx.execute(
                "INSERT INTO serve_wakes (repo, origin, at) VALUES (?1, ?2, ?3)",
                params![repo, origin, to_i64(now)],
            )?;
            Ok(())
        })
        .await
    }

    /// The wakes' payloads after `after` (an id; `None`: none yet, only the newest id) that
    /// another replica than `origin` published, and the newest id seen.
    ///
    /// # Errors
    /// [`Error::State`] naming the file.
    pub async fn wakes_after(
        &self,
        after: Option<u64>,
        origin: &str,
    ) -> Result<(Vec<String>, Option<u64>)> {
        let origin = origin.to_owned();
        self.write(move |tx| {
            let newest: Option<i64> =
                tx.query_row("SELECT MAX(id) FROM serve_wakes", [], |r| r.get(0))?;
            let Some(after) = after else {
                return Ok((Vec::new(), Some(newest.map_or(0, to_u64))));
            };
            let mut stmt = tx.prepare(
                "SELECT repo FROM serve_wakes WHERE id > ?1 AND id <= ?2 AND origin != ?3
                 ORDER BY id",
            )?;
            let repos = stmt
                .query_map(params![to_i64(after), newest.unwrap_or(0), origin], |r| {
                    r.get(0)
                })?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok((repos, Some(newest.map_or(after, to_u64))))
        })
        .await
    }

    /// Runs `f` in one immediate transaction on a blocking thread (SQLite fsyncs; async workers
    /// must not wait on it).
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
        .map_err(|e| Error::state(format!("job queue {}: {e}", path.display())))?
        .map_err(|e: rusqlite::Error| Error::state(format!("job queue {}: {e}", path.display())))
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn corrupt(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

fn row_to_job(row: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let kind: String = row.get(1)?;
    let state: String = row.get(4)?;
    let triggers: String = row.get(3)?;
    Ok(Job {
        id: to_u64(row.get(0)?),
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown job kind {kind}")))?,
        key: row.get(2)?,
        triggers: serde_json::from_str(&triggers)
            .map_err(|e| corrupt(format!("job triggers: {e}")))?,
        state: JobState::parse(&state)
            .ok_or_else(|| corrupt(format!("unknown job state {state}")))?,
        attempts: u32::try_from(row.get::<_, i64>(5)?).unwrap_or(u32::MAX),
        owner: row.get(6)?,
        lease_until: to_u64(row.get(7)?),
        run_after: to_u64(row.get(8)?),
        created: to_u64(row.get(9)?),
        updated: to_u64(row.get(10)?),
        last_error: row.get(11)?,
    })
}

#[async_trait]
impl JobQueue for SqliteJobQueue {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn enqueue(&self, job: NewJob, now: u64) -> Result<EnqueueOutcome> {
        self.write(move |tx| {
            if let Some(delivery) = &job.delivery {
                tx.execute(
                    "DELETE FROM serve_deliveries WHERE received < ?1",
                    params![to_i64(now.saturating_sub(DELIVERY_RETENTION_MS))],
                )?;
                let new = tx.execute(
                    "INSERT OR IGNORE INTO serve_deliveries (id, received) VALUES (?1, ?2)",
                    params![delivery, to_i64(now)],
                )?;
                if new == 0 {
                    return Ok(EnqueueOutcome::Replayed);
                }
            }
            let pending: Option<(i64, String)> = tx
                .query_row(
                    "SELECT id, triggers FROM serve_jobs
                     WHERE key = ?1 AND kind = ?2 AND state = 'pending' ORDER BY id LIMIT 1",
                    params![job.key, job.kind.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, triggers)) = pending {
                let mut list: Vec<serde_json::Value> = serde_json::from_str(&triggers)
                    .map_err(|e| corrupt(format!("job triggers: {e}")))?;
                list.push(job.trigger);
                tx.execute(
                    "UPDATE serve_jobs SET triggers = ?1, updated = ?2 WHERE id = ?3",
                    params![serde_json::Value::from(list).to_string(), to_i64(now), id],
                )?;
                return Ok(EnqueueOutcome::Coalesced(to_u64(id)));
            }
            tx.execute(
                "INSERT INTO serve_jobs (kind, key, triggers, state, run_after, created, updated)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4)",
                params![
                    job.kind.as_str(),
                    job.key,
                    serde_json::Value::from(vec![job.trigger]).to_string(),
                    to_i64(now)
                ],
            )?;
            Ok(EnqueueOutcome::Enqueued(to_u64(tx.last_insert_rowid())))
        })
        .await
    }

    async fn claim(&self, worker: &str, lease: Duration, now: u64) -> Result<Option<Job>> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            let now = to_i64(now);
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM serve_jobs AS j
                     WHERE ((state = 'pending' AND run_after <= ?1)
                            OR (state = 'running' AND lease_until < ?1))
                       AND NOT EXISTS (SELECT 1 FROM serve_jobs AS r
                                       WHERE r.key = j.key AND r.id != j.id
                                         AND r.state = 'running' AND r.lease_until >= ?1)
                     ORDER BY id LIMIT 1",
                    params![now],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE serve_jobs SET state = 'running', owner = ?1, lease_until = ?2,
                        attempts = attempts + 1, updated = ?3 WHERE id = ?4",
                params![worker, to_i64(lease_end(to_u64(now), lease)), now, id],
            )?;
            tx.query_row(
                &format!("SELECT {COLUMNS} FROM serve_jobs WHERE id = ?1"),
                params![id],
                row_to_job,
            )
            .map(Some)
        })
        .await
    }

    async fn renew(&self, id: u64, worker: &str, lease: Duration, now: u64) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE serve_jobs SET lease_until = ?1
                 WHERE id = ?2 AND owner = ?3 AND state = 'running'",
                params![to_i64(lease_end(now, lease)), to_i64(id), worker],
            )? == 1)
        })
        .await
    }

    async fn complete(&self, id: u64, worker: &str, now: u64) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE serve_jobs SET state = 'succeeded', updated = ?1
                 WHERE id = ?2 AND owner = ?3 AND state = 'running'",
                params![to_i64(now), to_i64(id), worker],
            )? == 1)
        })
        .await
    }

    async fn fail(
        &self,
        id: u64,
        worker: &str,
        error: &str,
        retry_at: Option<u64>,
        now: u64,
    ) -> Result<bool> {
        let worker = worker.to_owned();
        let error = error.to_owned();
        self.write(move |tx| {
            let changed = match retry_at {
                Some(at) => tx.execute(
                    "UPDATE serve_jobs SET state = 'pending', owner = NULL, run_after = ?1,
                            last_error = ?2, updated = ?3
                     WHERE id = ?4 AND owner = ?5 AND state = 'running'",
                    params![to_i64(at), error, to_i64(now), to_i64(id), worker],
                )?,
                None => tx.execute(
                    "UPDATE serve_jobs SET state = 'failed', last_error = ?1, updated = ?2
                     WHERE id = ?3 AND owner = ?4 AND state = 'running'",
                    params![error, to_i64(now), to_i64(id), worker],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }

    async fn defer(&self, id: u64, worker: &str, until: u64, now: u64) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE serve_jobs SET state = 'pending', owner = NULL, run_after = ?1,
                        attempts = MAX(attempts - 1, 0), updated = ?2
                 WHERE id = ?3 AND owner = ?4 AND state = 'running'",
                params![to_i64(until), to_i64(now), to_i64(id), worker],
            )? == 1)
        })
        .await
    }

    async fn release(&self, worker: &str, now: u64) -> Result<usize> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE serve_jobs SET state = 'pending', owner = NULL, run_after = ?1,
                        updated = ?1
                 WHERE owner = ?2 AND state = 'running'",
                params![to_i64(now), worker],
            )
        })
        .await
    }

    async fn stats(&self) -> Result<QueueStats> {
        self.write(|tx| {
            let mut stats = QueueStats::default();
            let mut stmt = tx.prepare("SELECT state, COUNT(*) FROM serve_jobs GROUP BY state")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, count) = row?;
                let count = to_u64(count);
                match JobState::parse(&state) {
                    Some(JobState::Pending) => stats.pending = count,
                    Some(JobState::Running) => stats.running = count,
                    Some(JobState::Succeeded) => stats.succeeded = count,
                    Some(JobState::Failed) => stats.failed = count,
                    None => return Err(corrupt(format!("unknown job state {state}"))),
                }
            }
            Ok(stats)
        })
        .await
    }

    async fn recent(&self, limit: usize) -> Result<Vec<Job>> {
        self.write(move |tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM serve_jobs ORDER BY id DESC LIMIT ?1"
            ))?;
            let jobs = stmt
                .query_map(
                    params![i64::try_from(limit).unwrap_or(i64::MAX)],
                    row_to_job,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(jobs)
        })
        .await
    }
}

#[async_trait]
impl crate::rate::SharedRateLimit for SqliteJobQueue {
    async fn record(&self, bucket: &str, seen: &crate::rate::Observed) -> Result<()> {
        let (bucket, seen) = (bucket.to_owned(), seen.clone());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO serve_rate_limits (bucket, remaining, reset, replica, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (bucket) DO UPDATE SET remaining = excluded.remaining,
                     reset = excluded.reset, replica = excluded.replica, updated = excluded.updated
                 WHERE serve_rate_limits.updated < excluded.updated",
                params![
                    bucket,
                    to_i64(seen.remaining),
                    to_i64(seen.reset),
                    seen.replica,
                    to_i64(seen.seen_ms)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn read(&self, bucket: &str) -> Result<Option<crate::rate::Observed>> {
        let bucket = bucket.to_owned();
        self.write(move |tx| {
            tx.query_row(
                "SELECT remaining, reset, replica, updated FROM serve_rate_limits WHERE bucket = ?1",
                params![bucket],
                |r| {
                    Ok(crate::rate::Observed {
                        remaining: to_u64(r.get(0)?),
                        reset: to_u64(r.get(1)?),
                        replica: r.get(2)?,
                        seen_ms: to_u64(r.get(3)?),
                    })
                },
            )
            .optional()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn fresh() -> (SqliteJobQueue, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let queue = SqliteJobQueue::open(dir.path().join("queue.db")).expect("open");
        (queue, dir)
    }

    crate::queue_conformance_tests!(fresh());

    /// Jobs survive closing and reopening the file (a restarted service finds them).
    #[tokio::test]
    async fn jobs_survive_a_reopen() {
        let (queue, dir) = fresh();
        let job = NewJob {
            kind: JobKind::Cascade,
            key: "cascade:o/a".into(),
            trigger: serde_json::json!({"repo": "o/a"}),
            delivery: Some("d-1".into()),
        };
        queue.enqueue(job.clone(), 1).await.expect("enqueue");
        drop(queue);
        let reopened = SqliteJobQueue::open(dir.path().join("queue.db")).expect("reopen");
        assert_eq!(
            reopened.enqueue(job, 2).await.expect("enqueue"),
            EnqueueOutcome::Replayed
        );
        let claimed = reopened
            .claim("w", Duration::from_secs(1), 3)
            .await
            .expect("claim")
            .expect("the stored job");
        assert_eq!(claimed.key, "cascade:o/a");
    }

    /// Issue 17: two replicas (two connections, as two processes have) on one file take 50 jobs
    /// between them at the same time, and no job is handed out twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_on_one_file_take_50_jobs_none_twice() {
        let (queue, dir) = fresh();
        for n in 0..50 {
            let job = NewJob {
                kind: JobKind::Cascade,
                key: format!("cascade:o/r{n}"),
                trigger: serde_json::json!({"n": n}),
                delivery: Some(format!("d-{n}")),
            };
            queue.enqueue(job, 1).await.expect("enqueue");
        }
        let replica = |name: &'static str| {
            let queue = SqliteJobQueue::open(dir.path().join("queue.db")).expect("open");
            tokio::spawn(async move {
                let mut taken = Vec::new();
                while let Some(job) = queue
                    .claim(name, Duration::from_secs(600), crate::now_ms())
                    .await
                    .expect("claim")
                {
                    assert!(
                        queue
                            .complete(job.id, name, crate::now_ms())
                            .await
                            .expect("done")
                    );
                    taken.push(job.id);
                    tokio::task::yield_now().await;
                }
                taken
            })
        };
        let (a, b) = (replica("replica-a"), replica("replica-b"));
        let (a, b) = (a.await.expect("a"), b.await.expect("b"));
        let all: BTreeSet<u64> = a.iter().chain(&b).copied().collect();
        assert_eq!(
            a.len() + b.len(),
            50,
            "a took {}, b took {}",
            a.len(),
            b.len()
        );
        assert_eq!(all.len(), 50, "no job twice");
        assert_eq!(queue.stats().await.expect("stats").succeeded, 50);
    }

    /// A queue file written by the previous version (schema 1: jobs only) is brought to the
    /// current schema on open, its jobs kept, and gains the tables replicas share.
    #[tokio::test]
    async fn a_version_1_file_is_migrated_keeping_its_jobs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("queue.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(SCHEMA).expect("v1");
        conn.pragma_update(None, "user_version", 1).expect("v1");
        conn.execute(
            "INSERT INTO serve_jobs (kind, key, triggers, state, run_after, created, updated)
             VALUES ('cascade', 'cascade:o/a', '[{\"n\":1}]', 'pending', 1, 1, 1)",
            [],
        )
        .expect("a job");
        drop(conn);
        let queue = SqliteJobQueue::open(&path).expect("migrated");
        let job = queue
            .claim("w", Duration::from_secs(1), 2)
            .await
            .expect("claim")
            .expect("the old job");
        assert_eq!(job.key, "cascade:o/a");
        queue
            .publish_wake("o/a", "w", 3)
            .await
            .expect("the wakes table");
        drop(queue);
        let conn = Connection::open(&path).expect("open");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("queue.db");
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 99).expect("set");
        drop(conn);
        let err = SqliteJobQueue::open(&path).expect_err("refused");
        assert!(err.to_string().contains("queue.db"), "{err}");
        assert!(err.to_string().contains("99"), "{err}");
    }
}
