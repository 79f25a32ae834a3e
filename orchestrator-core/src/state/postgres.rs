//! The shared state store: PostgreSQL, for many runners (CI jobs, Kubernetes CronJobs) on one
//! database.
//!
//! Durability is the server's (a commit is durable when it returns). Coordination uses session
//! advisory locks, which PostgreSQL releases the moment the holding session ends, also when its
//! process is killed or its machine vanishes (once the server sees the connection drop):
//! - the workspace lock is `pg_try_advisory_lock(NS_LOCK, 0)` on a session of its own, held by
//!   the [`LockGuard`]; the `workspace_lock` row names the holder (host, pid, run);
//! - a run's claim is `pg_try_advisory_lock(NS_CLAIM, run)` on the store's session; the `claims`
//!   row names the holder, and `pg_locks` tells whether the claim is still held, which is how a
//!   killed runner's run reads as interrupted.

use std::str::FromStr;

use async_trait::async_trait;
use tokio_postgres::{Client, NoTls};

use super::holder::GuardKind;
use super::{
    Holder, JournalEntry, JournalRecord, LockGuard, RunId, RunStatus, RunSummary, StateStore,
    TaskRecord, now_ms,
};
use crate::error::{Error, Result};

/// Advisory-lock namespace (first key) of migrations.
pub(crate) const NS_MIGRATE: i32 = 0x6f72_6301;
/// Advisory-lock namespace of the workspace lock.
const NS_LOCK: i32 = 0x6f72_6302;
/// Advisory-lock namespace of run claims (second key: the run id).
const NS_CLAIM: i32 = 0x6f72_6303;

/// A PostgreSQL connection URL (`postgres://user:password@host:port/db?sslmode=disable`, or the
/// key=value form). The password is a secret: `Debug` and `Display` show the URL without it, and
/// no error quotes the URL as given.
#[derive(Clone)]
pub struct StateUrl {
    config: tokio_postgres::Config,
    shown: String,
}

impl StateUrl {
    /// Parses a URL; `origin` names where it came from (a config key or an environment variable)
    /// in the error, which never repeats the URL (it may hold a password).
    pub fn parse(url: &str, origin: &str) -> Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::invalid_input(format!(
                "{origin}: expected a postgres:// or postgresql:// URL"
            )));
        }
        let config = tokio_postgres::Config::from_str(url).map_err(|e| {
            Error::invalid_input(format!("{origin}: not a valid PostgreSQL URL: {e}"))
        })?;
        if matches!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        ) {
            return Err(Error::invalid_input(format!(
                "{origin}: sslmode=require is not supported (this build has no TLS); use sslmode=disable on a trusted network or a local socket"
            )));
        }
        let shown = shown(&config);
        Ok(Self { config, shown })
    }

    /// The URL without its password, for messages.
    pub fn redacted(&self) -> &str {
        &self.shown
    }

    /// Opens a session of its own on this database (no migration): the client, and the task
    /// that drives its connection (abort it to end the session). For the state's other users
    /// on the same database, e.g. `serve`'s job queue and its `LISTEN` session.
    ///
    /// # Errors
    /// [`Error::State`] naming the database (never its password) when it cannot be reached.
    pub async fn connect(&self) -> Result<(Client, tokio::task::JoinHandle<()>)> {
        session(self).await
    }

    /// [`StateUrl::connect`], and the session's `NOTIFY` deliveries (after a `LISTEN` on it) on
    /// a channel: a plain session drops them. For `serve`'s replicas, which wake each other's
    /// waits through `LISTEN`/`NOTIFY`. The channel closes when the session ends.
    ///
    /// # Errors
    /// [`Error::State`] naming the database (never its password) when it cannot be reached.
    pub async fn connect_listening(
        &self,
    ) -> Result<(
        Client,
        tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
        tokio::task::JoinHandle<()>,
    )> {
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| Error::state(format!("{self}: {}", pg_error(&e))))?;
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                        if sender.send(n).is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!("state database connection ended: {e}");
                        return;
                    }
                    None => return,
                }
            }
        });
        Ok((client, receiver, task))
    }
}

/// A PostgreSQL error as one line: the server's code and message when there is one (`db error`
/// alone says nothing). Never holds a password: the server does not echo it.
pub fn describe_pg_error(e: &tokio_postgres::Error) -> String {
    pg_error(e)
}

/// `postgres://user@host:port/db`, never the password.
fn shown(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{host}{port}/{db}")
}

impl std::fmt::Debug for StateUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StateUrl").field(&self.shown).finish()
    }
}

impl std::fmt::Display for StateUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Runs, journals and claims in a PostgreSQL database shared by many runners.
pub struct PgStateStore {
    client: Client,
    url: StateUrl,
    /// Locks held for as long as this store lives ([`PgStateStore::hold`]).
    held: std::sync::Mutex<Vec<LockGuard>>,
    /// Drives the connection; aborting it ends the session (and every claim it holds).
    connection: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PgStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStateStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for PgStateStore {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Opens a session: the client, and the task that drives its connection.
async fn session(url: &StateUrl) -> Result<(Client, tokio::task::JoinHandle<()>)> {
    let (client, connection) = url
        .config
        .connect(NoTls)
        .await
        .map_err(|e| Error::state(format!("{url}: {}", pg_error(&e))))?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("state database connection ended: {e}");
        }
    });
    Ok((client, task))
}

/// The server's own message when there is one (`db error` alone says nothing). Never holds the
/// password: the server does not echo it.
pub(crate) fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The reported status: `running` whose claim no session holds is `interrupted`.
const STATUS: &str = "CASE WHEN r.status = 'running' AND NOT EXISTS (
        SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = 1869767427 AND l.objid::bigint = r.id)
    THEN 'interrupted' ELSE r.status END";

fn summary_row(row: &tokio_postgres::Row) -> RunSummary {
    let status: String = row.get(3);
    let params: String = row.get(4);
    RunSummary {
        id: row.get(0),
        kind: row.get(1),
        key: row.get(2),
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
        params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
        started_at_ms: row.get(5),
        finished_at_ms: row.get(6),
    }
}

fn claim_key(run: RunId) -> Result<i32> {
    i32::try_from(run).map_err(|_| Error::state(format!("run {run}: id too large to claim")))
}

impl PgStateStore {
    /// Connects and brings the schema to [`super::SCHEMA_VERSION`].
    pub async fn connect(url: &StateUrl) -> Result<Self> {
        let (mut client, connection) = session(url).await?;
        super::migrate::postgres(&mut client, url.redacted()).await?;
        Ok(Self {
            client,
            url: url.clone(),
            held: std::sync::Mutex::new(Vec::new()),
            connection,
        })
    }

    /// Connects for reading only (dry runs, `runs`): changes nothing, not even the schema.
    /// `None` when the database holds no state yet.
    pub async fn connect_read_only(url: &StateUrl) -> Result<Option<Self>> {
        let (client, connection) = session(url).await?;
        let fail = |e: tokio_postgres::Error| Error::state(format!("{url}: {}", pg_error(&e)));
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
                &[],
            )
            .await
            .map_err(fail)?
            .get(0);
        let version: Option<i32> = if exists {
            client
                .query_one("SELECT MAX(version) FROM refinery_schema_history", &[])
                .await
                .map_err(fail)?
                .get(0)
        } else {
            None
        };
        match version {
            None => {
                connection.abort();
                Ok(None)
            }
            Some(v) if v != super::SCHEMA_VERSION => {
                connection.abort();
                Err(Error::state(format!(
                    "{url}: schema version {v}, this orchestrator reads {}; run a command that writes (it migrates) or upgrade",
                    super::SCHEMA_VERSION
                )))
            }
            Some(_) => Ok(Some(Self {
                client,
                url: url.clone(),
                held: std::sync::Mutex::new(Vec::new()),
                connection,
            })),
        }
    }

    /// The session's client, for tests that tamper with the database.
    #[cfg(test)]
    pub(crate) fn client_for_tests(&self) -> &Client {
        &self.client
    }

    /// Who holds the workspace lock now, if anyone (the recorded holder of a lock some session
    /// holds).
    pub async fn workspace_lock_holder(&self) -> Result<Option<Holder>> {
        let row = self
            .client
            .query_opt(
                "SELECT w.host, w.pid, w.what FROM workspace_lock w WHERE w.id = 1 AND EXISTS (
                    SELECT 1 FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND l.classid::bigint = $1::bigint AND l.objid = 0)",
                &[&i64::from(NS_LOCK)],
            )
            .await
            .map_err(self.fail())?;
        Ok(row.map(|row| Holder {
            host: row.get(0),
            pid: u32::try_from(row.get::<_, i64>(1)).unwrap_or(0),
            what: row.get(2),
        }))
    }

    /// Keeps `guard` (e.g. this runner's workspace lock) held until this store is dropped.
    pub fn hold(&self, guard: LockGuard) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(guard);
    }

    /// The database, without its password.
    pub fn url(&self) -> &StateUrl {
        &self.url
    }

    fn fail(&self) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
        move |e| Error::state(format!("{}: {}", self.url, pg_error(&e)))
    }

    /// Takes the claim lock on this session; true when held (also when already ours).
    async fn try_claim(&self, run: RunId) -> Result<bool> {
        let key = claim_key(run)?;
        Ok(self
            .client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&NS_CLAIM, &key])
            .await
            .map_err(self.fail())?
            .get(0))
    }

    async fn write_claim(&self, run: RunId, holder: &Holder) -> Result<()> {
        self.client
            .execute(
                "INSERT INTO claims (run_id, host, pid, what, claimed_at_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (run_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                     what = excluded.what, claimed_at_ms = excluded.claimed_at_ms",
                &[&run, &holder.host, &i64::from(holder.pid), &holder.what, &now_ms()],
            )
            .await
            .map_err(self.fail())?;
        Ok(())
    }

    async fn recorded_claim(&self, run: RunId) -> Result<Option<Holder>> {
        Ok(self
            .client
            .query_opt(
                "SELECT host, pid, what FROM claims WHERE run_id = $1",
                &[&run],
            )
            .await
            .map_err(self.fail())?
            .map(|row| Holder {
                host: row.get(0),
                pid: u32::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                what: row.get(2),
            }))
    }
}

#[async_trait]
impl StateStore for PgStateStore {
    async fn begin_run(&self, kind: &str, key: &str, params: &serde_json::Value) -> Result<RunId> {
        let run: i64 = self
            .client
            .query_one(
                "INSERT INTO runs (kind, key, status, params, started_at_ms)
                 VALUES ($1, $2, 'running', $3, $4) RETURNING id",
                &[&kind, &key, &params.to_string(), &now_ms()],
            )
            .await
            .map_err(self.fail())?
            .get(0);
        // A new id: nobody else can hold its claim.
        self.try_claim(run).await?;
        self.write_claim(run, &Holder::current(format!("{kind} {key}")))
            .await?;
        Ok(run)
    }

    async fn append(&self, run: RunId, entry: &JournalEntry) -> Result<()> {
        let json = serde_json::to_string(entry).map_err(Error::state)?;
        self.client
            .execute(
                "INSERT INTO journal (run_id, seq, at_ms, entry)
                 VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = $1), $2, $3)",
                &[&run, &now_ms(), &json],
            )
            .await
            .map_err(self.fail())?;
        Ok(())
    }

    async fn journal(&self, run: RunId) -> Result<Vec<JournalRecord>> {
        let rows = self
            .client
            .query(
                "SELECT seq, at_ms, entry FROM journal WHERE run_id = $1 ORDER BY seq",
                &[&run],
            )
            .await
            .map_err(self.fail())?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.get(0);
                let entry: String = row.get(2);
                let entry = serde_json::from_str(&entry).map_err(|e| {
                    Error::state(format!("run {run} journal entry {seq} is unreadable: {e}"))
                })?;
                Ok(JournalRecord {
                    seq: seq as u64,
                    at_ms: row.get(1),
                    entry,
                })
            })
            .collect()
    }

    async fn set_status(&self, run: RunId, status: RunStatus) -> Result<()> {
        let finished = (status != RunStatus::Running).then(now_ms);
        let changed = self
            .client
            .execute(
                "UPDATE runs SET status = $2, finished_at_ms = $3 WHERE id = $1",
                &[&run, &status.as_str(), &finished],
            )
            .await
            .map_err(self.fail())?;
        if changed == 0 {
            return Err(Error::NotFound {
                what: format!("run {run}"),
            });
        }
        if status != RunStatus::Running {
            // Session advisory locks count re-entries: unlock until this session holds none.
            let key = claim_key(run)?;
            for _ in 0..64 {
                let released: bool = self
                    .client
                    .query_one("SELECT pg_advisory_unlock($1, $2)", &[&NS_CLAIM, &key])
                    .await
                    .map_err(self.fail())?
                    .get(0);
                if !released {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn runs(
        &self,
        kind: Option<&str>,
        key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunSummary>> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT r.id, r.kind, r.key, {STATUS}, r.params, r.started_at_ms, r.finished_at_ms
                     FROM runs r
                     WHERE ($1::text IS NULL OR r.kind = $1) AND ($2::text IS NULL OR r.key = $2)
                     ORDER BY r.id DESC LIMIT $3"
                ),
                &[&kind, &key, &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(self.fail())?;
        Ok(rows.iter().map(summary_row).collect())
    }

    async fn run(&self, run: RunId) -> Result<Option<RunSummary>> {
        let row = self
            .client
            .query_opt(
                &format!(
                    "SELECT r.id, r.kind, r.key, {STATUS}, r.params, r.started_at_ms, r.finished_at_ms
                     FROM runs r WHERE r.id = $1"
                ),
                &[&run],
            )
            .await
            .map_err(self.fail())?;
        Ok(row.as_ref().map(summary_row))
    }

    async fn record_task(&self, r: &TaskRecord) -> Result<()> {
        self.client
            .execute(
                "INSERT INTO agents_tasks (task, run_id, status, started_at, finished_at, duration_ms,
                     outputs_uri, approval_state, log_excerpt)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &r.task,
                    &r.run_id,
                    &r.status,
                    &r.started_at,
                    &r.finished_at,
                    &r.duration_ms,
                    &r.outputs_uri,
                    &r.approval_state,
                    &r.log_excerpt,
                ],
            )
            .await
            .map_err(self.fail())?;
        Ok(())
    }

    async fn task_records(&self, run: Option<RunId>, limit: usize) -> Result<Vec<TaskRecord>> {
        let rows = self
            .client
            .query(
                "SELECT task, run_id, status, started_at, finished_at, duration_ms, outputs_uri,
                        approval_state, log_excerpt
                 FROM agents_tasks WHERE ($1::bigint IS NULL OR run_id = $1)
                 ORDER BY run_id DESC, id LIMIT $2",
                &[&run, &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(self.fail())?;
        Ok(rows
            .iter()
            .map(|row| TaskRecord {
                task: row.get(0),
                run_id: row.get(1),
                status: row.get(2),
                started_at: row.get(3),
                finished_at: row.get(4),
                duration_ms: row.get(5),
                outputs_uri: row.get(6),
                approval_state: row.get(7),
                log_excerpt: row.get(8),
            })
            .collect())
    }

    async fn claim_run(&self, run: RunId, holder: &Holder) -> Result<()> {
        if self.run(run).await?.is_none() {
            return Err(Error::NotFound {
                what: format!("run {run}"),
            });
        }
        if !self.try_claim(run).await? {
            let holder = self
                .recorded_claim(run)
                .await?
                .map_or_else(|| "another runner".to_owned(), |h| h.to_string());
            return Err(Error::Busy {
                what: format!("run {run}"),
                holder,
            });
        }
        self.write_claim(run, holder).await
    }

    async fn claim_holder(&self, run: RunId) -> Result<Option<Holder>> {
        let held: bool = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND l.classid::bigint = $1::bigint AND l.objid::bigint = $2)",
                &[&i64::from(NS_CLAIM), &run],
            )
            .await
            .map_err(self.fail())?
            .get(0);
        if !held {
            return Ok(None);
        }
        self.recorded_claim(run).await
    }

    async fn lock_workspace(&self, holder: &Holder) -> Result<LockGuard> {
        let (client, connection) = session(&self.url).await?;
        let fail =
            |e: tokio_postgres::Error| Error::state(format!("{}: {}", self.url, pg_error(&e)));
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, 0)", &[&NS_LOCK])
            .await
            .map_err(fail)?
            .get(0);
        if !taken {
            connection.abort();
            let current = self
                .client
                .query_opt(
                    "SELECT host, pid, what FROM workspace_lock WHERE id = 1",
                    &[],
                )
                .await
                .map_err(fail)?
                .map_or_else(
                    || "another runner".to_owned(),
                    |row| {
                        Holder {
                            host: row.get(0),
                            pid: u32::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                            what: row.get(2),
                        }
                        .to_string()
                    },
                );
            return Err(Error::Busy {
                what: format!("the workspace lock on {}", self.url),
                holder: current,
            });
        }
        client
            .execute(
                "INSERT INTO workspace_lock (id, host, pid, what, taken_at_ms) VALUES (1, $1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                     what = excluded.what, taken_at_ms = excluded.taken_at_ms",
                &[&holder.host, &i64::from(holder.pid), &holder.what, &now_ms()],
            )
            .await
            .map_err(fail)?;
        // The session lives in one task with its client; aborting the task closes it.
        let keeper = tokio::spawn(async move {
            let _client = client;
            let _ = connection.await;
        });
        Ok(LockGuard::new(GuardKind::Session(keeper)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_show_their_password() {
        let url = StateUrl::parse(
            "postgres://ci:hunter2-secret@db.internal:5433/orchestrator?sslmode=disable",
            "ORCHESTRATOR_STATE_URL",
        )
        .expect("valid");
        assert_eq!(
            url.to_string(),
            "postgres://ci@db.internal:5433/orchestrator"
        );
        assert!(!format!("{url:?}").contains("hunter2"));
        let plain = StateUrl::parse(
            "postgres://postgres@127.0.0.1:5/shared?sslmode=disable",
            "x",
        )
        .expect("valid");
        assert_eq!(plain.to_string(), "postgres://postgres@127.0.0.1:5/shared");
        let err = StateUrl::parse("postgres://ci:hunter2@db:notaport/x", "[state] url")
            .expect_err("bad port");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().starts_with("[state] url:"), "{err}");
        let err = StateUrl::parse("mysql://ci:hunter2@db/x", "[state] url").expect_err("scheme");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn the_claim_namespace_in_the_status_query_is_ns_claim() {
        assert!(STATUS.contains(&format!("= {NS_CLAIM} AND")));
    }
}
