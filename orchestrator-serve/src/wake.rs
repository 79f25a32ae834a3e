//! Wakes across replicas: a `release` or `workflow_run` webhook reaches one replica, but the
//! wait it should wake may run on another (the one whose worker took the cascade). The
//! receiving replica wakes its own waits at once and tells the others through the shared state:
//!
//! - [`PgWakeBus`]: PostgreSQL `LISTEN`/`NOTIFY` on one channel of the database
//!   ([`CHANNEL`]), payload `owner/name`; a replica skips the notifications its own session sent
//!   (it already woke its waits). Delivery is immediate; a notification sent while a replica's
//!   listening session was down is lost, which only means that wait polls (the fallback).
//! - [`SqliteWakeBus`]: a small table in the queue file, polled by each replica at a short
//!   interval (SQLite has no notifications).
//!
//! Either way a lost wake costs one poll interval, never correctness: polling stays on.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::forge::RepoId;
use orchestrator_core::state::{StateUrl, describe_pg_error};
use orchestrator_core::{Error, Result};
use tokio::sync::watch;
use tokio_postgres::Client;

use crate::queue::SqliteJobQueue;

/// The `NOTIFY` channel (one per database: channels are scoped to it).
pub const CHANNEL: &str = "orchestrator_wake";

/// What a replica does with a repo another replica published (the service calls
/// `orchestrator_core::release::wake_waits`).
pub type OnWake = Arc<dyn Fn(&RepoId) + Send + Sync>;

/// Tells the other replicas that a repo changed, and hears them.
#[async_trait]
pub trait WakeBus: Send + Sync + std::fmt::Debug {
    /// The backend's name (`postgres`, `sqlite`).
    fn backend(&self) -> &'static str;

    /// Tells every other replica that `repo` changed.
    async fn publish(&self, repo: &RepoId) -> Result<()>;

    /// Calls `on_wake` for each repo another replica publishes, until `shutdown` turns true.
    /// A lost connection is opened again (a wake missed meanwhile costs one poll interval).
    async fn listen(&self, on_wake: OnWake, shutdown: watch::Receiver<bool>) -> Result<()>;
}

/// A pause between reconnection attempts of a listener whose session ended.
const RECONNECT: Duration = Duration::from_secs(1);

/// [`WakeBus`] over PostgreSQL `LISTEN`/`NOTIFY`.
pub struct PgWakeBus {
    url: StateUrl,
    /// The session that sends (its backend pid marks this replica's own notifications).
    sender: tokio::sync::Mutex<Sender>,
}

struct Sender {
    client: Client,
    pid: i32,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl std::fmt::Debug for PgWakeBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWakeBus")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn pg_fail(url: &StateUrl) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| Error::state(format!("wakes {url}: {}", describe_pg_error(&e)))
}

async fn sender(url: &StateUrl) -> Result<Sender> {
    let (client, connection) = url.connect().await?;
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .map_err(pg_fail(url))?
        .get(0);
    Ok(Sender {
        client,
        pid,
        connection,
    })
}

impl PgWakeBus {
    /// Connects the sending session to the state database `url`.
    ///
    /// # Errors
    /// [`Error::State`] naming the database (never its password) when it cannot be reached.
    pub async fn connect(url: &StateUrl) -> Result<Self> {
        Ok(Self {
            url: url.clone(),
            sender: tokio::sync::Mutex::new(sender(url).await?),
        })
    }

    /// One listening session until it ends (`Ok(false)`) or `shutdown` (`Ok(true)`).
    async fn listen_once(
        &self,
        on_wake: &OnWake,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool> {
        let (client, mut notifications, connection) = self.url.connect_listening().await?;
        let _end = AbortOnDrop(connection);
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(pg_fail(&self.url))?;
        loop {
            tokio::select! {
                notification = notifications.recv() => {
                    let Some(notification) = notification else { return Ok(false) };
                    let own = self.sender.lock().await.pid;
                    if notification.process_id() == own {
                        continue;
                    }
                    match notification.payload().parse::<RepoId>() {
                        Ok(repo) => on_wake(&repo),
                        Err(_) => tracing::warn!(
                            payload = notification.payload(),
                            "wake: a notification that names no repo, ignored"
                        ),
                    }
                }
                _ = shutdown.changed() => return Ok(true),
            }
        }
    }
}

/// Ends a session's connection task when the listener returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl WakeBus for PgWakeBus {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn publish(&self, repo: &RepoId) -> Result<()> {
        let mut sender = self.sender.lock().await;
        if sender.client.is_closed() {
            *sender = self::sender(&self.url).await?;
        }
        sender
            .client
            .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &repo.to_string()])
            .await
            .map_err(pg_fail(&self.url))?;
        Ok(())
    }

    async fn listen(&self, on_wake: OnWake, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            match self.listen_once(&on_wake, &mut shutdown).await {
                Ok(true) => return Ok(()),
                Ok(false) => tracing::warn!("wake listener: session ended, listening again"),
                Err(e) => tracing::warn!(error = %e, "wake listener: cannot listen, retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(RECONNECT) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}

/// [`WakeBus`] over a table in the SQLite queue file, polled every `interval`.
#[derive(Debug, Clone)]
pub struct SqliteWakeBus {
    queue: SqliteJobQueue,
    origin: String,
    interval: Duration,
}

impl SqliteWakeBus {
    /// Wakes in `queue`'s file; `origin` names this replica (unique per process), `interval` is
    /// how often it looks for the others' wakes.
    pub fn new(queue: SqliteJobQueue, origin: impl Into<String>, interval: Duration) -> Self {
        Self {
            queue,
            origin: origin.into(),
            interval,
        }
    }
}

#[async_trait]
impl WakeBus for SqliteWakeBus {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn publish(&self, repo: &RepoId) -> Result<()> {
        self.queue
            .publish_wake(&repo.to_string(), &self.origin, crate::now_ms())
            .await
    }

    async fn listen(&self, on_wake: OnWake, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        // Only wakes published from now on: older ones woke waits that have polled since.
        let mut seen = None;
        loop {
            match self.queue.wakes_after(seen, &self.origin).await {
                Ok((repos, newest)) => {
                    seen = newest;
                    for repo in repos {
                        match repo.parse::<RepoId>() {
                            Ok(repo) => on_wake(&repo),
                            Err(_) => tracing::warn!(%repo, "wake: not a repo, ignored"),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "wake listener: cannot read wakes"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Publishes `repo` on `bus` until `seen` holds something (bounded: a hang fails): a
    /// listener hears only what is published after it started, and the test cannot see when
    /// that is.
    async fn publish_until_heard(bus: &dyn WakeBus, repo: &RepoId, seen: &Mutex<Vec<String>>) {
        for _ in 0..1000 {
            bus.publish(repo).await.expect("publish");
            tokio::time::sleep(Duration::from_millis(20)).await;
            if !seen.lock().expect("not poisoned").is_empty() {
                return;
            }
        }
        panic!("{repo} never heard");
    }

    /// Two replicas on one SQLite file: a wake published by one reaches the other's listener,
    /// and not its own.
    #[tokio::test]
    async fn a_wake_on_one_replica_reaches_the_other_on_sqlite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("queue.db");
        let a = SqliteWakeBus::new(
            SqliteJobQueue::open(&file).expect("open"),
            "a",
            Duration::from_millis(10),
        );
        let b = SqliteWakeBus::new(
            SqliteJobQueue::open(&file).expect("open"),
            "b",
            Duration::from_millis(10),
        );
        let (stop, shutdown) = watch::channel(false);
        let heard = |bus: SqliteWakeBus| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let record = Arc::clone(&seen);
            let on_wake: OnWake = Arc::new(move |repo: &RepoId| {
                record.lock().expect("not poisoned").push(repo.to_string());
            });
            let shutdown = shutdown.clone();
            let task = tokio::spawn(async move { bus.listen(on_wake, shutdown).await });
            (seen, task)
        };
        // A wake from before the listener started is not replayed to it.
        b.publish(&RepoId::new("acme", "old"))
            .await
            .expect("publish");
        let (seen_a, task_a) = heard(a.clone());
        let (seen_b, task_b) = heard(b.clone());
        publish_until_heard(&a, &RepoId::new("acme", "base"), &seen_b).await;
        publish_until_heard(&b, &RepoId::new("acme", "app"), &seen_a).await;
        stop.send(true).expect("listening");
        task_a.await.expect("no panic").expect("ok");
        task_b.await.expect("no panic").expect("ok");
        // Each heard the other's repo only: never its own, never the one from before it listened.
        let only = |seen: &Mutex<Vec<String>>, repo: &str| {
            let seen = seen.lock().expect("not poisoned");
            assert!(
                !seen.is_empty() && seen.iter().all(|r| r == repo),
                "{seen:?}"
            );
        };
        only(&seen_b, "acme/base");
        only(&seen_a, "acme/app");
    }
}
