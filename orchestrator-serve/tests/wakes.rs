//! Wakes between replicas, end to end on each bus: real release waits (core's
//! `wait_for_assets`, hour-long fallback polls) in this process, woken by what another replica
//! publishes on SQLite or on a real PostgreSQL (a throwaway cluster from
//! `orchestrator_core::testing::PgCluster`; skipped, or failed in CI, when PostgreSQL is not
//! installed: `.ci/tools/postgres.sh`).
//!
//! Every check counts events (what the listener heard, how many waits each wake woke, how many
//! times each wait read the forge); the only clock is a generous "does not hang" bound, far below
//! the waits' hour-long fallback poll.
//!
//! The waits' wake registry is one per process, and a (re)established `LISTEN` session wakes
//! every wait in it: the tests here take [`SERIAL`] so no test's wake adds a poll another counts.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orchestrator_core::engine::{CancelToken, SilentObserver};
use orchestrator_core::forge::{
    AssetState, ForgeBackend, Release, ReleaseAsset, ReleaseForge, RepoId, RequestStats,
};
use orchestrator_core::release::{AssetPattern, WaitReport, WaitSpec, wait_for_assets};
use orchestrator_core::state::StateUrl;
use orchestrator_core::step::StepContext;
use orchestrator_core::testing::PgCluster;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_serve::queue::SqliteJobQueue;
use orchestrator_serve::wake::{
    CHANNEL, Heard, MAX_PAYLOAD, OnWake, PgWakeBus, SqliteWakeBus, Wake, WakeBus, wake_waits_here,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One test at a time in this process (see the module docs).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The "does not hang" bound on anything a wake should cause (the fallback poll is an hour).
const BOUND: Duration = Duration::from_secs(60);

/// A forge serving releases by tag, counting each wait's reads.
#[derive(Debug, Default)]
struct CountingForge {
    releases: Mutex<HashMap<String, Release>>,
    reads: Mutex<HashMap<String, u32>>,
}

impl CountingForge {
    fn reads(&self, tag: &str) -> u32 {
        self.reads
            .lock()
            .expect("not poisoned")
            .get(tag)
            .copied()
            .unwrap_or(0)
    }

    fn publish(&self, release: Release) {
        self.releases
            .lock()
            .expect("not poisoned")
            .insert(release.tag.clone(), release);
    }
}

impl ForgeBackend for CountingForge {
    fn backend(&self) -> &'static str {
        "counting"
    }
    fn request_stats(&self) -> RequestStats {
        let reads: u32 = self.reads.lock().expect("not poisoned").values().sum();
        RequestStats {
            requests: u64::from(reads),
            rate_limited: u64::from(reads),
            ..RequestStats::default()
        }
    }
}

#[async_trait::async_trait]
impl ReleaseForge for CountingForge {
    async fn release_by_tag(
        &self,
        _: &RepoId,
        tag: &str,
    ) -> orchestrator_core::Result<Option<Release>> {
        *self
            .reads
            .lock()
            .expect("not poisoned")
            .entry(tag.to_owned())
            .or_default() += 1;
        Ok(self
            .releases
            .lock()
            .expect("not poisoned")
            .get(tag)
            .cloned())
    }
    async fn list_releases(&self, _: &RepoId) -> orchestrator_core::Result<Vec<Release>> {
        Ok(self
            .releases
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect())
    }
    async fn latest_release(&self, _: &RepoId) -> orchestrator_core::Result<Option<Release>> {
        Ok(None)
    }
}

/// Release `tag` published with `a.iso` uploaded: what settles a wait for it.
fn published(tag: &str) -> Release {
    Release {
        id: 1,
        tag: tag.to_owned(),
        name: None,
        body: None,
        draft: false,
        prerelease: false,
        html_url: String::new(),
        assets: vec![ReleaseAsset {
            id: 1,
            name: "a.iso".to_owned(),
            size: 10,
            state: AssetState::Uploaded,
            download_url: String::new(),
        }],
        published_at_ms: None,
    }
}

/// Polls `done` until it holds (bounded by [`BOUND`]: a hang fails naming `what`).
async fn until(what: &str, done: impl Fn() -> bool) {
    let give_up = tokio::time::Instant::now() + BOUND;
    while !done() {
        assert!(tokio::time::Instant::now() < give_up, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A wait for `a.iso` of `tag` on `repo` with an hour between fallback polls, started and past
/// its first read of the forge.
async fn wait_for(
    forge: &Arc<CountingForge>,
    repo: &RepoId,
    tag: &str,
) -> JoinHandle<orchestrator_core::Result<WaitReport>> {
    let version = ReleaseVersion::parse(tag.trim_start_matches('v')).expect("version");
    let spec = WaitSpec {
        repo: repo.clone(),
        tag: tag.to_owned(),
        patterns: vec![
            AssetPattern::parse("a.iso")
                .expect("pattern")
                .for_version(&version),
        ],
        poll_interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(4 * 3600),
        stable_polls: 0,
        fresh_tag: false,
    };
    let ctx = StepContext::new("wait", Arc::new(SilentObserver), CancelToken::new());
    let before = forge.reads(tag);
    let waiting = tokio::spawn({
        let forge = Arc::clone(forge);
        async move { wait_for_assets(forge.as_ref(), &spec, &ctx).await }
    });
    until(&format!("the first read of {tag}"), || {
        forge.reads(tag) > before
    })
    .await;
    waiting
}

/// What a listener heard, each with how many waits it woke here.
type Log = Arc<Mutex<Vec<(Heard, usize)>>>;

/// Listens on `bus` as the service does (`wake_waits_here`), logging what it hears.
fn listen(
    bus: Arc<dyn WakeBus>,
    shutdown: watch::Receiver<bool>,
) -> (Log, JoinHandle<orchestrator_core::Result<()>>) {
    let log: Log = Arc::default();
    let record = Arc::clone(&log);
    let on_wake: OnWake = Arc::new(move |heard: &Heard| {
        let woken = wake_waits_here(heard);
        record
            .lock()
            .expect("not poisoned")
            .push((heard.clone(), woken));
    });
    let task = tokio::spawn(async move { bus.listen(on_wake, shutdown).await });
    (log, task)
}

/// The wakes for `repo` in `log`, with how many waits each woke.
fn heard_for(log: &Log, repo: &RepoId) -> Vec<(Wake, usize)> {
    log.lock()
        .expect("not poisoned")
        .iter()
        .filter_map(|(heard, woken)| match heard {
            Heard::Wake(wake) if &wake.repo == repo => Some((wake.clone(), *woken)),
            _ => None,
        })
        .collect()
}

/// Publishes a wake for `probe` from `sender` until `log` has it: a listener hears only what is
/// published after it started, and the test cannot see when that is.
async fn probe_until_heard(sender: &dyn WakeBus, log: &Log, probe: &RepoId) {
    let give_up = tokio::time::Instant::now() + BOUND;
    while heard_for(log, probe).is_empty() {
        assert!(tokio::time::Instant::now() < give_up, "{probe} never heard");
        sender
            .publish(&Wake::repo(probe.clone()))
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Issue 17 follow-up, on either bus: replica `a` passes a `release` webhook for v2 to replica
/// `b`, which wakes its wait for v2 and leaves the one for v3 on the same repo asleep (no read
/// spent). A repo-only payload, as `send_old` writes it the way the previous build did, still
/// reaches `b` and wakes both.
async fn a_release_wakes_only_its_waits_and_a_repo_alone_wakes_all<F, Fut>(
    a: Arc<dyn WakeBus>,
    b: Arc<dyn WakeBus>,
    send_old: F,
) where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let (stop, shutdown) = watch::channel(false);
    let (log, listening) = listen(Arc::clone(&b), shutdown);
    let backend = a.backend();
    probe_until_heard(a.as_ref(), &log, &RepoId::new("probe", backend)).await;

    let repo = RepoId::new("remote", format!("release-aware-{backend}"));
    let forge = Arc::new(CountingForge::default());
    let v2 = wait_for(&forge, &repo, "v2.0.0").await;
    let v3 = wait_for(&forge, &repo, "v3.0.0").await;

    // The forge does not show v2 yet (an eventually consistent read): the woken wait reads it,
    // finds nothing, and sleeps again, so both waits stay registered for the repo-only wake.
    a.publish(&Wake {
        repo: repo.clone(),
        release: Some(published("v2.0.0")),
    })
    .await
    .expect("publish");
    until("the v2 wake heard", || !heard_for(&log, &repo).is_empty()).await;
    let heard = heard_for(&log, &repo);
    assert_eq!(heard.len(), 1, "{heard:?}");
    let (wake, woken) = &heard[0];
    assert_eq!(
        wake.release.as_ref().map(|r| r.tag.as_str()),
        Some("v2.0.0"),
        "the release travelled: {wake:?}"
    );
    assert_eq!(*woken, 1, "only the wait for v2 woke");
    until("the v2 wait read again", || forge.reads("v2.0.0") == 2).await;
    assert_eq!(forge.reads("v3.0.0"), 1, "the v3 wait slept through it");

    // A previous build passes the repo alone: both waits look.
    send_old(repo.to_string()).await;
    until("the repo-only wake heard", || {
        heard_for(&log, &repo).len() == 2
    })
    .await;
    let (wake, woken) = heard_for(&log, &repo).pop().expect("heard");
    assert_eq!(wake, Wake::repo(repo.clone()));
    assert_eq!(woken, 2, "both waits woke");
    until("both waits read again", || {
        forge.reads("v2.0.0") == 3 && forge.reads("v3.0.0") == 2
    })
    .await;

    v2.abort();
    v3.abort();
    stop.send(true).expect("listening");
    listening.await.expect("no panic").expect("ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_remote_wake_for_v2_leaves_v3_asleep_and_a_repo_alone_wakes_both() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("queue.db");
    let bus = |origin: &str| {
        Arc::new(SqliteWakeBus::new(
            SqliteJobQueue::open(&file).expect("open"),
            origin,
            Duration::from_millis(10),
        )) as Arc<dyn WakeBus>
    };
    let old = SqliteJobQueue::open(&file).expect("open");
    a_release_wakes_only_its_waits_and_a_repo_alone_wakes_all(
        bus("a"),
        bus("b"),
        |repo| async move {
            // The row a previous build writes: the repo's name in the `repo` column.
            old.publish_wake(&repo, "previous-build", orchestrator_serve::now_ms())
                .await
                .expect("publish");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_remote_wake_for_v2_leaves_v3_asleep_and_a_repo_alone_wakes_both() {
    let _serial = SERIAL.lock().await;
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("release_aware"), "test").expect("url");
    let a = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let b = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let (old, connection) = url.connect().await.expect("a previous build's session");
    a_release_wakes_only_its_waits_and_a_repo_alone_wakes_all(a, b, |repo| async move {
        // What a previous build sends: the repo's name as the payload.
        old.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &repo])
            .await
            .expect("notify");
    })
    .await;
    connection.abort();
}

/// A session on the cluster's `postgres` database, to act on the test's database as an operator
/// would (end a backend, refuse connections).
async fn admin(pg: &PgCluster) -> (tokio_postgres::Client, JoinHandle<()>) {
    StateUrl::parse(&pg.url("postgres"), "test")
        .expect("url")
        .connect()
        .await
        .expect("admin session")
}

/// The backend pids of `db`'s sessions whose last statement was `query`.
async fn backends(admin: &tokio_postgres::Client, db: &str, query: &str) -> Vec<i32> {
    admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query = $2",
            &[&db, &query],
        )
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Ends backend `pid` and returns once it has exited (PostgreSQL 14+ waits up to the timeout).
async fn terminate(admin: &tokio_postgres::Client, pid: i32) {
    let ended: bool = admin
        .query_one("SELECT pg_terminate_backend($1, 30000)", &[&pid])
        .await
        .expect("pg_terminate_backend")
        .get(0);
    assert!(ended, "backend {pid} did not exit");
}

/// Issue 17 follow-up: a `NOTIFY` sent while the listener's session is down is lost by
/// PostgreSQL, yet the wait it was for still wakes, long before its hour-long fallback poll:
/// the re-established session reports that wakes may have been missed, and every wait looks
/// once. The gap is made certain, not raced: the database refuses new sessions from the moment
/// the listener's backend is ended until after the wake is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_sent_while_the_listener_reconnects_still_wakes_the_wait() {
    let _serial = SERIAL.lock().await;
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("gap"), "test").expect("url");
    let (admin, admin_connection) = admin(&pg).await;
    let sender = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let listener = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let (stop, shutdown) = watch::channel(false);
    let (log, listening) = listen(listener, shutdown);
    let maybe_missed = |log: &[(Heard, usize)]| {
        log.iter()
            .filter(|(heard, _)| *heard == Heard::MaybeMissed)
            .count()
    };
    until("the first session listens", || {
        maybe_missed(&log.lock().expect("not poisoned")) == 1
    })
    .await;
    let listening_backends = backends(&admin, "gap", &format!("LISTEN {CHANNEL}")).await;
    assert_eq!(listening_backends.len(), 1, "{listening_backends:?}");

    let repo = RepoId::new("gap", "app");
    let forge = Arc::new(CountingForge::default());
    let waiting = wait_for(&forge, &repo, "v2.0.0").await;

    admin
        .batch_execute("ALTER DATABASE gap ALLOW_CONNECTIONS false")
        .await
        .expect("refuse new sessions");
    terminate(&admin, listening_backends[0]).await;
    // CI has published v2 and a replica passes its webhook on: nobody is listening.
    forge.publish(published("v2.0.0"));
    sender
        .publish(&Wake {
            repo: repo.clone(),
            release: Some(published("v2.0.0")),
        })
        .await
        .expect("publish on the sender's open session");
    admin
        .batch_execute("ALTER DATABASE gap ALLOW_CONNECTIONS true")
        .await
        .expect("allow sessions again");

    let report = tokio::time::timeout(BOUND, waiting)
        .await
        .expect("woken long before the hour-long fallback poll")
        .expect("no panic")
        .expect("ready");
    assert_eq!(
        report.polls, 2,
        "the first read, then the one the reconnect caused"
    );
    let log = log.lock().expect("not poisoned").clone();
    assert!(
        log.iter()
            .all(|(heard, _)| !matches!(heard, Heard::Wake(_))),
        "the notification itself was lost, as PostgreSQL does: {log:?}"
    );
    assert_eq!(maybe_missed(&log), 2, "{log:?}");
    assert!(
        log[1].1 >= 1,
        "the re-established session woke the wait: {log:?}"
    );
    stop.send(true).expect("listening");
    listening.await.expect("no panic").expect("ok");
    admin_connection.abort();
}

/// Issue 17 follow-up: [`MAX_PAYLOAD`] is PostgreSQL's own limit. The server refuses a
/// notification of 8000 bytes; a wake whose release encodes to exactly [`MAX_PAYLOAD`] bytes
/// passes whole, and one byte more passes as the repo alone, which still reaches the other
/// replica (a refused payload would have been no wake at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_at_the_notify_limit_passes_whole_and_one_past_it_passes_as_its_repo() {
    let _serial = SERIAL.lock().await;
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("limit"), "test").expect("url");
    let (raw, connection) = url.connect().await.expect("session");
    let refused = raw
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&CHANNEL, &"x".repeat(MAX_PAYLOAD + 1)],
        )
        .await
        .expect_err("PostgreSQL refuses 8000 bytes");
    assert!(
        refused.to_string().contains("too long")
            || refused
                .as_db_error()
                .is_some_and(|e| e.message().contains("too long")),
        "{refused:?}"
    );
    connection.abort();

    let a = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let b = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let (stop, shutdown) = watch::channel(false);
    let (log, listening) = listen(b, shutdown);
    probe_until_heard(a.as_ref(), &log, &RepoId::new("probe", "limit")).await;
    let repo = RepoId::new("limit", "app");
    let sized = |name_len: usize| {
        let mut release = published("v2.0.0");
        release.assets[0].name = "x".repeat(name_len);
        Wake {
            repo: repo.clone(),
            release: Some(release),
        }
    };
    let overhead = sized(0).encode().len();
    let whole = sized(MAX_PAYLOAD - overhead);
    assert_eq!(whole.encode().len(), MAX_PAYLOAD);
    let too_large = sized(MAX_PAYLOAD - overhead + 1);
    a.publish(&whole)
        .await
        .expect("the largest payload is sent");
    a.publish(&too_large)
        .await
        .expect("a larger one is sent as its repo");
    until("both heard", || heard_for(&log, &repo).len() == 2).await;
    let heard: Vec<Wake> = heard_for(&log, &repo).into_iter().map(|(w, _)| w).collect();
    let asset = |wake: &Wake| wake.release.as_ref().map(|r| r.assets[0].name.len());
    assert_eq!(asset(&heard[0]), Some(MAX_PAYLOAD - overhead), "whole");
    assert_eq!(heard[1], Wake::repo(repo.clone()), "the repo alone");
    stop.send(true).expect("listening");
    listening.await.expect("no panic").expect("ok");
}

/// Issue 17 follow-up, the sending side of a reconnect: the replica's sending session ended
/// (an operator ended its backend, the server restarted). The next wake goes out on a new
/// session and reaches the other replica, round after round, instead of failing (the others'
/// waits would then learn of the release only at their fallback poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_sent_after_the_senders_session_ended_still_arrives() {
    let _serial = SERIAL.lock().await;
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("resend"), "test").expect("url");
    let (admin, admin_connection) = admin(&pg).await;
    let a = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let b = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let (stop, shutdown) = watch::channel(false);
    let (log, listening) = listen(b, shutdown);
    probe_until_heard(a.as_ref(), &log, &RepoId::new("probe", "resend")).await;
    // Only `a` has sent a notification: its session is the one whose last statement is it.
    let senders = backends(&admin, "resend", "SELECT pg_notify($1, $2)").await;
    assert_eq!(senders.len(), 1, "{senders:?}");
    let repo = RepoId::new("resend", "app");
    for round in 0..3 {
        let senders = backends(&admin, "resend", "SELECT pg_notify($1, $2)").await;
        terminate(&admin, senders[0]).await;
        a.publish(&Wake::repo(repo.clone()))
            .await
            .unwrap_or_else(|e| panic!("round {round}: sent on a new session: {e}"));
        until("heard", || heard_for(&log, &repo).len() == round + 1).await;
    }
    stop.send(true).expect("listening");
    listening.await.expect("no panic").expect("ok");
    admin_connection.abort();
}
