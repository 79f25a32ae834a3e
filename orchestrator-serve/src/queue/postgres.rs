//! [`PgJobQueue`]: the queue in the PostgreSQL database that holds the shared state, so replicas
//! on different machines share the work.
//!
//! - A claim is one transaction: `SELECT … FOR UPDATE SKIP LOCKED` picks the oldest claimable row
//!   no other replica is claiming at that moment (replicas never wait on each other's candidate),
//!   then a transaction-scoped advisory lock on the job's key and a re-check that no other job
//!   with that key runs. The key lock is what keeps two jobs with one key from starting together
//!   (row locks alone cannot: the two rows differ).
//! - An enqueue takes the same key lock, so a trigger either joins the pending job or, when a
//!   claim just took it, becomes the next pending one; the delivery id is a primary key, so a
//!   replay delivered to two replicas at once is stored once.
//! - The schema is versioned by refinery in a history table of its own
//!   (`serve_schema_history`): the queue's tables change with this crate, not with the state's.
//!
//! One session per queue, behind a lock (a transaction needs the session to itself); a session the
//! server dropped is opened again on the next call.

use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::state::{StateUrl, describe_pg_error};
use orchestrator_core::{Error, Result};
use tokio_postgres::Client;

use super::{EnqueueOutcome, Job, JobKind, JobQueue, JobState, NewJob, QueueStats, lease_end};

/// Advisory-lock namespace (first key) of the queue's migrations; core uses `0x6f72_63xx`.
const NS_MIGRATE: i32 = 0x6f72_7301;
/// Advisory-lock namespace of a job key (second key: `hashtext(key)`).
const NS_KEY: i32 = 0x6f72_7302;

/// The history table of the queue's migrations (the state's own is `refinery_schema_history`).
pub(crate) const HISTORY: &str = "serve_schema_history";

/// The queue's migrations, in order; the last one's number is the schema this build writes.
const MIGRATIONS: &[(&str, &str)] = &[
    ("V1__jobs", include_str!("migrations/postgres/V1__jobs.sql")),
    (
        "V2__rate_limits",
        include_str!("migrations/postgres/V2__rate_limits.sql"),
    ),
];

/// Delivery ids are kept this long for replay detection (GitHub redelivers within days).
const DELIVERY_RETENTION_MS: u64 = 30 * 24 * 3600 * 1000;

/// Keys found busy are skipped; after this many the claim answers "nothing" and the worker polls.
const CLAIM_TRIES: usize = 8;

const COLUMNS: &str = "id, kind, key, triggers, state, attempts, owner, lease_until, run_after, created, updated, last_error";

/// A [`JobQueue`] in PostgreSQL, shared by every replica that uses the database.
pub struct PgJobQueue {
    url: StateUrl,
    session: tokio::sync::Mutex<Session>,
}

struct Session {
    client: Client,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl std::fmt::Debug for PgJobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL shows without its password.
        f.debug_struct("PgJobQueue")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Brings the queue's tables to this build's schema, one replica at a time.
async fn migrate(client: &mut Client, url: &StateUrl) -> Result<()> {
    let fail = |e: tokio_postgres::Error| {
        Error::state(format!("job queue {url}: {}", describe_pg_error(&e)))
    };
    client
        .execute("SELECT pg_advisory_lock($1, 0)", &[&NS_MIGRATE])
        .await
        .map_err(fail)?;
    let result = async {
        let newest = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&HISTORY])
            .await
            .map_err(fail)?
            .get(0);
        if exists {
            let applied: Option<i32> = client
                .query_one(&format!("SELECT MAX(version) FROM {HISTORY}"), &[])
                .await
                .map_err(fail)?
                .get(0);
            if let Some(v) = applied.filter(|v| *v > newest) {
                return Err(Error::state(format!(
                    "job queue {url}: schema version {v} is newer than this orchestrator's \
                     ({newest}): upgrade the orchestrator (every replica must know schema {v})"
                )));
            }
        }
        let migrations = MIGRATIONS
            .iter()
            .map(|(name, sql)| refinery_core::Migration::unapplied(name, sql))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::state(format!("embedded queue migration: {e}")))?;
        refinery_core::Runner::new(&migrations)
            .set_abort_divergent(true)
            .set_abort_missing(true)
            .set_migration_table_name(HISTORY)
            .run_async(client)
            .await
            .map(|_| ())
            .map_err(|e| Error::state(format!("job queue {url}: migrating: {e}")))
    }
    .await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1, 0)", &[&NS_MIGRATE])
        .await
        .map_err(fail);
    result.and(unlock.map(|_| ()))
}

fn row_to_job(row: &tokio_postgres::Row) -> Result<Job> {
    let kind: String = row.get(1);
    let state: String = row.get(4);
    let triggers: serde_json::Value = row.get(3);
    let corrupt = |what: String| Error::state(format!("job queue: {what}"));
    Ok(Job {
        id: to_u64(row.get(0)),
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown job kind {kind}")))?,
        key: row.get(2),
        triggers: match triggers {
            serde_json::Value::Array(list) => list,
            other => return Err(corrupt(format!("job triggers are not a list: {other}"))),
        },
        state: JobState::parse(&state)
            .ok_or_else(|| corrupt(format!("unknown job state {state}")))?,
        attempts: u32::try_from(row.get::<_, i32>(5)).unwrap_or(0),
        owner: row.get(6),
        lease_until: to_u64(row.get(7)),
        run_after: to_u64(row.get(8)),
        created: to_u64(row.get(9)),
        updated: to_u64(row.get(10)),
        last_error: row.get(11),
    })
}

impl PgJobQueue {
    /// Connects to the state database `url` and brings the queue's tables to this build's
    /// schema (creating them the first time).
    ///
    /// # Errors
    /// [`Error::State`] naming the database (never its password) when it cannot be reached or
    /// holds a newer queue schema than this build knows.
    pub async fn connect(url: &StateUrl) -> Result<Self> {
        let (client, connection) = url.connect().await?;
        let mut session = Session { client, connection };
        migrate(&mut session.client, url).await?;
        Ok(Self {
            url: url.clone(),
            session: tokio::sync::Mutex::new(session),
        })
    }

    fn fail(&self) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
        move |e| Error::state(format!("job queue {}: {}", self.url, describe_pg_error(&e)))
    }

    /// The session, opened again when the server closed it (a restarted database, a network
    /// cut): the queue recovers without restarting the service.
    async fn session(&self) -> Result<tokio::sync::MutexGuard<'_, Session>> {
        let mut session = self.session.lock().await;
        if session.client.is_closed() {
            let (client, connection) = self.url.connect().await?;
            *session = Session { client, connection };
            tracing::info!(url = %self.url, "job queue: reconnected to the database");
        }
        Ok(session)
    }
}

#[async_trait]
impl JobQueue for PgJobQueue {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn enqueue(&self, job: NewJob, now: u64) -> Result<EnqueueOutcome> {
        let fail = self.fail();
        let mut session = self.session().await?;
        let tx = session.client.transaction().await.map_err(&fail)?;
        if let Some(delivery) = &job.delivery {
            tx.execute(
                "DELETE FROM serve_deliveries WHERE received < $1",
                &[&to_i64(now.saturating_sub(DELIVERY_RETENTION_MS))],
            )
            .await
            .map_err(&fail)?;
            let new = tx
                .execute(
                    "INSERT INTO serve_deliveries (id, received) VALUES ($1, $2)
                     ON CONFLICT (id) DO NOTHING",
                    &[delivery, &to_i64(now)],
                )
                .await
                .map_err(&fail)?;
            if new == 0 {
                tx.rollback().await.map_err(&fail)?;
                return Ok(EnqueueOutcome::Replayed);
            }
        }
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&NS_KEY, &job.key],
        )
        .await
        .map_err(&fail)?;
        let pending = tx
            .query_opt(
                "SELECT id FROM serve_jobs WHERE key = $1 AND kind = $2 AND state = 'pending'
                 ORDER BY id LIMIT 1 FOR UPDATE",
                &[&job.key, &job.kind.as_str()],
            )
            .await
            .map_err(&fail)?;
        let outcome = if let Some(row) = pending {
            let id: i64 = row.get(0);
            tx.execute(
                "UPDATE serve_jobs SET triggers = triggers || jsonb_build_array($1::jsonb),
                        updated = $2 WHERE id = $3",
                &[&job.trigger, &to_i64(now), &id],
            )
            .await
            .map_err(&fail)?;
            EnqueueOutcome::Coalesced(to_u64(id))
        } else {
            let row = tx
                .query_one(
                    "INSERT INTO serve_jobs (kind, key, triggers, state, run_after, created, updated)
                     VALUES ($1, $2, jsonb_build_array($3::jsonb), 'pending', $4, $4, $4)
                     RETURNING id",
                    &[&job.kind.as_str(), &job.key, &job.trigger, &to_i64(now)],
                )
                .await
                .map_err(&fail)?;
            EnqueueOutcome::Enqueued(to_u64(row.get(0)))
        };
        tx.commit().await.map_err(&fail)?;
        Ok(outcome)
    }

    async fn claim(&self, worker: &str, lease: Duration, now: u64) -> Result<Option<Job>> {
        let fail = self.fail();
        let now_i = to_i64(now);
        let mut busy: Vec<String> = Vec::new();
        let mut session = self.session().await?;
        for _ in 0..CLAIM_TRIES {
            let tx = session.client.transaction().await.map_err(&fail)?;
            // Rows another replica is claiming right now are skipped, not waited for.
            let candidate = tx
                .query_opt(
                    "SELECT id, key FROM serve_jobs AS j
                     WHERE ((state = 'pending' AND run_after <= $1)
                            OR (state = 'running' AND lease_until < $1))
                       AND j.key <> ALL($2)
                       AND NOT EXISTS (SELECT 1 FROM serve_jobs AS r
                                       WHERE r.key = j.key AND r.id <> j.id
                                         AND r.state = 'running' AND r.lease_until >= $1)
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                    &[&now_i, &busy],
                )
                .await
                .map_err(&fail)?;
            let Some(candidate) = candidate else {
                tx.rollback().await.map_err(&fail)?;
                return Ok(None);
            };
            let (id, key): (i64, String) = (candidate.get(0), candidate.get(1));
            // Serialise with other claims and enqueues of this key, then look again with what
            // they committed: the candidate's sibling may have started meanwhile.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&NS_KEY, &key],
            )
            .await
            .map_err(&fail)?;
            let sibling_runs: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM serve_jobs WHERE key = $1 AND id <> $2
                                    AND state = 'running' AND lease_until >= $3)",
                    &[&key, &id, &now_i],
                )
                .await
                .map_err(&fail)?
                .get(0);
            if sibling_runs {
                tx.rollback().await.map_err(&fail)?;
                busy.push(key);
                continue;
            }
            let row = tx
                .query_one(
                    &format!(
                        "UPDATE serve_jobs SET state = 'running', owner = $1, lease_until = $2,
                                attempts = attempts + 1, updated = $3
                         WHERE id = $4 RETURNING {COLUMNS}"
                    ),
                    &[&worker, &to_i64(lease_end(now, lease)), &now_i, &id],
                )
                .await
                .map_err(&fail)?;
            let job = row_to_job(&row)?;
            tx.commit().await.map_err(&fail)?;
            return Ok(Some(job));
        }
        Ok(None)
    }

    async fn renew(&self, id: u64, worker: &str, lease: Duration, now: u64) -> Result<bool> {
        let session = self.session().await?;
        Ok(session
            .client
            .execute(
                "UPDATE serve_jobs SET lease_until = $1
                 WHERE id = $2 AND owner = $3 AND state = 'running'",
                &[&to_i64(lease_end(now, lease)), &to_i64(id), &worker],
            )
            .await
            .map_err(self.fail())?
            == 1)
    }

    async fn complete(&self, id: u64, worker: &str, now: u64) -> Result<bool> {
        let session = self.session().await?;
        Ok(session
            .client
            .execute(
                "UPDATE serve_jobs SET state = 'succeeded', updated = $1
                 WHERE id = $2 AND owner = $3 AND state = 'running'",
                &[&to_i64(now), &to_i64(id), &worker],
            )
            .await
            .map_err(self.fail())?
            == 1)
    }

    async fn fail(
        &self,
        id: u64,
        worker: &str,
        error: &str,
        retry_at: Option<u64>,
        now: u64,
    ) -> Result<bool> {
        let session = self.session().await?;
        let changed = match retry_at {
            Some(at) => {
                session
                    .client
                    .execute(
                        "UPDATE serve_jobs SET state = 'pending', owner = NULL, run_after = $1,
                            last_error = $2, updated = $3
                     WHERE id = $4 AND owner = $5 AND state = 'running'",
                        &[&to_i64(at), &error, &to_i64(now), &to_i64(id), &worker],
                    )
                    .await
            }
            None => {
                session
                    .client
                    .execute(
                        "UPDATE serve_jobs SET state = 'failed', last_error = $1, updated = $2
                     WHERE id = $3 AND owner = $4 AND state = 'running'",
                        &[&error, &to_i64(now), &to_i64(id), &worker],
                    )
                    .await
            }
        }
        .map_err(self.fail())?;
        Ok(changed == 1)
    }

    async fn defer(&self, id: u64, worker: &str, until: u64, now: u64) -> Result<bool> {
        let session = self.session().await?;
        Ok(session
            .client
            .execute(
                "UPDATE serve_jobs SET state = 'pending', owner = NULL, run_after = $1,
                        attempts = GREATEST(attempts - 1, 0), updated = $2
                 WHERE id = $3 AND owner = $4 AND state = 'running'",
                &[&to_i64(until), &to_i64(now), &to_i64(id), &worker],
            )
            .await
            .map_err(self.fail())?
            == 1)
    }

    async fn release(&self, worker: &str, now: u64) -> Result<usize> {
        let session = self.session().await?;
        let changed = session
            .client
            .execute(
                "UPDATE serve_jobs SET state = 'pending', owner = NULL, run_after = $1, updated = $1
                 WHERE owner = $2 AND state = 'running'",
                &[&to_i64(now), &worker],
            )
            .await
            .map_err(self.fail())?;
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    async fn stats(&self) -> Result<QueueStats> {
        let session = self.session().await?;
        let rows = session
            .client
            .query("SELECT state, COUNT(*) FROM serve_jobs GROUP BY state", &[])
            .await
            .map_err(self.fail())?;
        let mut stats = QueueStats::default();
        for row in rows {
            let state: String = row.get(0);
            let count = to_u64(row.get(1));
            match JobState::parse(&state) {
                Some(JobState::Pending) => stats.pending = count,
                Some(JobState::Running) => stats.running = count,
                Some(JobState::Succeeded) => stats.succeeded = count,
                Some(JobState::Failed) => stats.failed = count,
                None => {
                    return Err(Error::state(format!(
                        "job queue: unknown job state {state}"
                    )));
                }
            }
        }
        Ok(stats)
    }

    async fn recent(&self, limit: usize) -> Result<Vec<Job>> {
        let session = self.session().await?;
        let rows = session
            .client
            .query(
                &format!("SELECT {COLUMNS} FROM serve_jobs ORDER BY id DESC LIMIT $1"),
                &[&i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(self.fail())?;
        rows.iter().map(row_to_job).collect()
    }
}

#[async_trait]
impl crate::rate::SharedRateLimit for PgJobQueue {
    async fn record(&self, bucket: &str, seen: &crate::rate::Observed) -> Result<()> {
        let session = self.session().await?;
        session
            .client
            .execute(
                "INSERT INTO serve_rate_limits (bucket, remaining, reset, replica, updated)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (bucket) DO UPDATE SET remaining = excluded.remaining,
                     reset = excluded.reset, replica = excluded.replica, updated = excluded.updated
                 WHERE serve_rate_limits.updated < excluded.updated",
                &[
                    &bucket,
                    &to_i64(seen.remaining),
                    &to_i64(seen.reset),
                    &seen.replica,
                    &to_i64(seen.seen_ms),
                ],
            )
            .await
            .map_err(self.fail())?;
        Ok(())
    }

    async fn read(&self, bucket: &str) -> Result<Option<crate::rate::Observed>> {
        let session = self.session().await?;
        let row = session
            .client
            .query_opt(
                "SELECT remaining, reset, replica, updated FROM serve_rate_limits WHERE bucket = $1",
                &[&bucket],
            )
            .await
            .map_err(self.fail())?;
        Ok(row.map(|row| crate::rate::Observed {
            remaining: to_u64(row.get(0)),
            reset: to_u64(row.get(1)),
            replica: row.get(2),
            seen_ms: to_u64(row.get(3)),
        }))
    }
}
