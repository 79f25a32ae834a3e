//! Wakes across replicas: a `release` or `workflow_run` webhook reaches one replica, but the
//! wait it should wake may run on another (the one whose worker took the cascade). The
//! receiving replica wakes its own waits at once and tells the others through the shared state:
//!
//! - [`PgWakeBus`]: PostgreSQL `LISTEN`/`NOTIFY` on one channel of the database
//!   ([`CHANNEL`]); a replica skips the notifications its own session sent (it already woke its
//!   waits). Delivery is immediate, but PostgreSQL keeps nothing for a session that is not
//!   listening: a notification sent while a replica's listening session was down is gone. So
//!   each time a listening session is (re-)established the listener reports
//!   [`Heard::MaybeMissed`], and the replica wakes every wait it has once ([`wake_waits_here`]):
//!   each reads the forge before it acts, so the gap costs one read per wait instead of a whole
//!   fallback poll interval.
//! - [`SqliteWakeBus`]: a small table in the queue file, polled by each replica at a short
//!   interval (SQLite has no notifications). Rows carry ids, so a failed read resumes where the
//!   last good one ended and loses nothing.
//!
//! What is passed ([`Wake`]) is the repo and, for a `release` event, the release facts the local
//! wake uses (tag, draft, each asset's name, size and upload state), so the receiving replica
//! wakes only the waits that release could settle, as the receiving one did. The payload is
//! bounded ([`MAX_PAYLOAD`], under PostgreSQL's 8000-byte `NOTIFY` limit); a release too large
//! for it is passed as the repo alone, which wakes every wait on the repo. A repo alone is sent
//! as the previous builds sent it (`owner/name`), and read from them the same way.
//!
//! Either way a lost wake costs one poll interval, never correctness: polling stays on.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::forge::{AssetState, Release, ReleaseAsset, RepoId};
use orchestrator_core::state::{StateUrl, describe_pg_error};
use orchestrator_core::{Error, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_postgres::Client;

use crate::queue::SqliteJobQueue;

/// The `NOTIFY` channel (one per database: channels are scoped to it).
pub const CHANNEL: &str = "orchestrator_wake";

/// The longest payload a [`Wake`] encodes to, in bytes. PostgreSQL refuses a `NOTIFY` payload of
/// 8000 bytes or more (in a default build); the SQLite table keeps the same bound so both buses
/// carry the same wakes.
pub const MAX_PAYLOAD: usize = 7999;

/// What one replica passes to the others: a repo changed, and how, when a `release` event said.
#[derive(Debug, Clone, PartialEq)]
pub struct Wake {
    /// The repository the event was about.
    pub repo: RepoId,
    /// The release the event described, when it described one: the receiving replica wakes
    /// only the waits it could settle. `None` wakes every wait on the repo.
    pub release: Option<Release>,
}

/// The JSON form of a wake that carries a release (a repo alone is plain `owner/name`).
#[derive(Serialize, Deserialize)]
struct WireWake {
    repo: String,
    release: WireRelease,
}

/// The release facts a wait's assessment reads (`release::assess`): nothing else is sent.
#[derive(Serialize, Deserialize)]
struct WireRelease {
    tag: String,
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    assets: Vec<WireAsset>,
}

#[derive(Serialize, Deserialize)]
struct WireAsset {
    name: String,
    size: u64,
    uploaded: bool,
}

impl Wake {
    /// A wake for every wait on `repo` (a `workflow_run` event, or a release not described).
    pub fn repo(repo: RepoId) -> Self {
        Self {
            repo,
            release: None,
        }
    }

    /// The payload: `owner/name` for a repo alone (what previous builds send and read), else a
    /// JSON object with the release facts. Never longer than [`MAX_PAYLOAD`]: a release that
    /// does not fit is sent as the repo alone (a spurious wake costs a read; a refused payload
    /// would cost the wake).
    pub fn encode(&self) -> String {
        let repo = self.repo.to_string();
        let Some(release) = &self.release else {
            return repo;
        };
        let wire = WireWake {
            repo: repo.clone(),
            release: WireRelease {
                tag: release.tag.clone(),
                draft: release.draft,
                prerelease: release.prerelease,
                assets: release
                    .assets
                    .iter()
                    .map(|a| WireAsset {
                        name: a.name.clone(),
                        size: a.size,
                        uploaded: a.state == AssetState::Uploaded,
                    })
                    .collect(),
            },
        };
        match serde_json::to_string(&wire) {
            Ok(json) if json.len() <= MAX_PAYLOAD => json,
            _ => repo,
        }
    }

    /// Reads a payload [`Wake::encode`] wrote, or a previous build's `owner/name`. `None` when
    /// it names no repo. A JSON payload whose release cannot be read is a wake for the whole repo
    /// (an unexpected shape costs a read, never a missed wake).
    pub fn decode(payload: &str) -> Option<Self> {
        if !payload.starts_with('{') {
            return payload.parse().ok().map(Self::repo);
        }
        let value: serde_json::Value = serde_json::from_str(payload).ok()?;
        let repo: RepoId = value.get("repo")?.as_str()?.parse().ok()?;
        let release = value
            .get("release")
            .and_then(|r| WireRelease::deserialize(r).ok())
            .map(|r| Release {
                id: 0,
                tag: r.tag,
                name: None,
                body: None,
                draft: r.draft,
                prerelease: r.prerelease,
                html_url: String::new(),
                assets: r
                    .assets
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| ReleaseAsset {
                        id: u64::try_from(i).unwrap_or(u64::MAX),
                        name: a.name,
                        size: a.size,
                        state: if a.uploaded {
                            AssetState::Uploaded
                        } else {
                            AssetState::Uploading
                        },
                        download_url: String::new(),
                    })
                    .collect(),
                published_at_ms: None,
            });
        Some(Self { repo, release })
    }
}

/// What a listener hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// Another replica passed a wake.
    Wake(Wake),
    /// The listener has just started hearing (its session was opened, or re-established after
    /// it ended): wakes sent before may be lost, and nobody knows which.
    MaybeMissed,
}

/// What a replica does with what it hears (the service calls [`wake_waits_here`]).
pub type OnWake = Arc<dyn Fn(&Heard) + Send + Sync>;

/// Wakes this process's waits for what another replica passed, as the replica that received
/// the webhook woke its own: a release wakes only the waits it could settle, a repo alone every
/// wait on it, and [`Heard::MaybeMissed`] every wait of the process. Returns how many were woken.
pub fn wake_waits_here(heard: &Heard) -> usize {
    use orchestrator_core::release::{wake_all_waits, wake_waits, wake_waits_for_release};
    match heard {
        Heard::Wake(Wake {
            repo,
            release: Some(release),
        }) => wake_waits_for_release(repo, release),
        Heard::Wake(Wake {
            repo,
            release: None,
        }) => wake_waits(repo),
        Heard::MaybeMissed => wake_all_waits(),
    }
}

/// Tells the other replicas that a repo changed, and hears them.
#[async_trait]
pub trait WakeBus: Send + Sync + std::fmt::Debug {
    /// The backend's name (`postgres`, `sqlite`).
    fn backend(&self) -> &'static str;

    /// Tells every other replica about `wake`.
    async fn publish(&self, wake: &Wake) -> Result<()>;

    /// Calls `on_wake` for each wake another replica publishes, until `shutdown` turns true.
    /// A lost connection is opened again. A bus that may have missed wakes (its session was
    /// opened again) says so with [`Heard::MaybeMissed`]; one that cannot miss any (SQLite's
    /// rows, read by id) never does.
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

    /// One listening session until it ends (`Ok(false)`) or `shutdown` (`Ok(true)`). Once it
    /// listens it reports [`Heard::MaybeMissed`] before anything else: whatever was sent before
    /// its `LISTEN` (while an earlier session was down, or before the first one) is gone.
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
        // From the LISTEN on every wake is heard; before it anything may have been sent, and
        // PostgreSQL kept none of it. The waits look now, after the LISTEN, so what they read
        // covers the gap and what comes next is heard. (On the first session of a replica that
        // has just started there is usually no wait yet, and this wakes none.)
        on_wake(&Heard::MaybeMissed);
        loop {
            tokio::select! {
                notification = notifications.recv() => {
                    let Some(notification) = notification else { return Ok(false) };
                    let own = self.sender.lock().await.pid;
                    if notification.process_id() == own {
                        continue;
                    }
                    match Wake::decode(notification.payload()) {
                        Some(wake) => on_wake(&Heard::Wake(wake)),
                        None => tracing::warn!(
                            payload = notification.payload(),
                            "wake: a notification that names no repo, ignored"
                        ),
                    }
                }
                _ = shutdown.changed() => return Ok(true),
            }
        }
    }

    /// Sends `payload` on the sending session, first opening a new session when the old one
    /// ended (the server restarted, an operator ended its backend): the client notices that as
    /// soon as the server says so, so the next wake goes out instead of failing.
    async fn notify(&self, sender: &mut Sender, payload: &str) -> Result<()> {
        if sender.client.is_closed() {
            *sender = self::sender(&self.url).await?;
        }
        sender
            .client
            .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
            .await
            .map_err(pg_fail(&self.url))?;
        Ok(())
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

    async fn publish(&self, wake: &Wake) -> Result<()> {
        let mut sender = self.sender.lock().await;
        self.notify(&mut sender, &wake.encode()).await
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

    async fn publish(&self, wake: &Wake) -> Result<()> {
        // The table's `repo` column holds the payload: `owner/name` as previous builds wrote
        // it, or the JSON form with the release (no schema change, so a replica of the previous
        // build still opens the file).
        self.queue
            .publish_wake(&wake.encode(), &self.origin, crate::now_ms())
            .await
    }

    async fn listen(&self, on_wake: OnWake, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        // Only wakes published from now on: older ones woke waits that have polled since.
        let mut seen = None;
        loop {
            match self.queue.wakes_after(seen, &self.origin).await {
                Ok((payloads, newest)) => {
                    seen = newest;
                    for payload in payloads {
                        match Wake::decode(&payload) {
                            Some(wake) => on_wake(&Heard::Wake(wake)),
                            None => tracing::warn!(%payload, "wake: names no repo, ignored"),
                        }
                    }
                }
                // `seen` stays: the next read resumes after the last wake heard.
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
            bus.publish(&Wake::repo(repo.clone()))
                .await
                .expect("publish");
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
            let on_wake: OnWake = Arc::new(move |heard: &Heard| {
                let shown = match heard {
                    Heard::Wake(wake) => wake.encode(),
                    Heard::MaybeMissed => "maybe missed".to_owned(),
                };
                record.lock().expect("not poisoned").push(shown);
            });
            let shutdown = shutdown.clone();
            let task = tokio::spawn(async move { bus.listen(on_wake, shutdown).await });
            (seen, task)
        };
        // A wake from before the listener started is not replayed to it.
        b.publish(&Wake::repo(RepoId::new("acme", "old")))
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

    fn release(tag: &str, draft: bool, assets: &[(&str, u64, AssetState)]) -> Release {
        Release {
            id: 7,
            tag: tag.to_owned(),
            name: Some("a title".to_owned()),
            body: Some("notes".to_owned()),
            draft,
            prerelease: false,
            html_url: "https://example.test/r".to_owned(),
            assets: assets
                .iter()
                .enumerate()
                .map(|(i, (name, size, state))| ReleaseAsset {
                    id: i as u64,
                    name: (*name).to_owned(),
                    size: *size,
                    state: *state,
                    download_url: "https://example.test/a".to_owned(),
                })
                .collect(),
            published_at_ms: Some(1),
        }
    }

    /// A wake without a release is the payload previous builds send and read (`owner/name`),
    /// so a replica of the previous build still hears it; and theirs are read as before.
    #[test]
    fn a_repo_alone_travels_as_previous_builds_send_it() {
        let wake = Wake::repo(RepoId::new("acme", "app"));
        assert_eq!(wake.encode(), "acme/app");
        assert_eq!(Wake::decode("acme/app"), Some(wake));
    }

    /// A release travels with what a wait's assessment reads (tag, draft, prerelease, each
    /// asset's name, size and upload state) and nothing else: no notes, no URLs.
    #[test]
    fn a_release_travels_with_the_facts_a_wait_reads() {
        let up = AssetState::Uploaded;
        let sent = release(
            "v2",
            false,
            &[("a.iso", 10, up), ("b.iso", 3, AssetState::Uploading)],
        );
        let payload = Wake {
            repo: RepoId::new("acme", "app"),
            release: Some(sent.clone()),
        }
        .encode();
        assert!(
            !payload.contains("notes") && !payload.contains("example.test"),
            "{payload}"
        );
        let heard = Wake::decode(&payload).expect("a wake");
        assert_eq!(heard.repo, RepoId::new("acme", "app"));
        let got = heard.release.expect("the release");
        assert_eq!(
            (got.tag.as_str(), got.draft, got.prerelease),
            ("v2", false, false)
        );
        let facts = |r: &Release| -> Vec<(String, u64, AssetState)> {
            r.assets
                .iter()
                .map(|a| (a.name.clone(), a.size, a.state))
                .collect()
        };
        assert_eq!(facts(&got), facts(&sent));
        let draft = Wake {
            repo: RepoId::new("acme", "app"),
            release: Some(release("v3", true, &[])),
        };
        let got = Wake::decode(&draft.encode()).expect("a wake");
        assert!(got.release.expect("the release").draft);
    }

    /// The payload never exceeds [`MAX_PAYLOAD`] (PostgreSQL refuses 8000 bytes): a release that
    /// fits exactly travels whole; one byte more and the repo alone is sent, which wakes every
    /// wait on it rather than none.
    #[test]
    fn a_release_too_large_for_a_notification_travels_as_its_repo() {
        let repo = RepoId::new("acme", "app");
        let sized = |name_len: usize| Wake {
            repo: repo.clone(),
            release: Some(release(
                "v1",
                false,
                &[(&"x".repeat(name_len), 1, AssetState::Uploaded)],
            )),
        };
        let overhead = sized(0).encode().len();
        let fits = sized(MAX_PAYLOAD - overhead).encode();
        assert_eq!(fits.len(), MAX_PAYLOAD);
        assert!(Wake::decode(&fits).expect("a wake").release.is_some());
        let too_large = sized(MAX_PAYLOAD - overhead + 1).encode();
        assert_eq!(too_large, "acme/app");
        assert_eq!(Wake::decode(&too_large), Some(Wake::repo(repo)));
    }

    /// A payload that names no repo is ignored; one whose release cannot be read wakes the whole
    /// repo (an unexpected shape costs a read, never a missed wake).
    #[test]
    fn an_unreadable_release_wakes_the_repo_and_no_repo_wakes_nothing() {
        for nothing in ["", "not a repo", "{}", "{broken", r#"{"repo":"../x"}"#] {
            assert_eq!(Wake::decode(nothing), None, "{nothing}");
        }
        let odd = r#"{"repo":"acme/app","release":{"tag":1},"from":"a newer build"}"#;
        assert_eq!(
            Wake::decode(odd),
            Some(Wake::repo(RepoId::new("acme", "app")))
        );
    }
}
