//! [`PgJobQueue`] and [`PgWakeBus`] on a real PostgreSQL server (a throwaway cluster from
//! `orchestrator_core::testing::PgCluster`; skipped, or failed in CI, when PostgreSQL is not
//! installed: `.ci/tools/postgres.sh`).
//!
//! One server for the file, one database per behaviour: the whole conformance list runs, and
//! every behaviour that fails is named (one failure does not hide the others).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use orchestrator_core::forge::RepoId;
use orchestrator_core::state::StateUrl;
use orchestrator_core::testing::PgCluster;
use orchestrator_serve::queue::{JobKind, JobQueue, NewJob, PgJobQueue};
use orchestrator_serve::wake::{Heard, OnWake, PgWakeBus, Wake, WakeBus};

async fn fresh_queue(pg: &PgCluster, db: &str) -> PgJobQueue {
    let url = StateUrl::parse(&pg.create_database(db), "test").expect("url");
    PgJobQueue::connect(&url).await.expect("connect")
}

macro_rules! run_each_on {
    ($pg:expr; $($name:ident),* $(,)?) => {{
        let mut failed = Vec::new();
        $(
            let queue = fresh_queue($pg, stringify!($name)).await;
            let outcome = tokio::spawn(async move {
                orchestrator_serve::queue::conformance::$name(&queue).await;
            })
            .await;
            if outcome.is_err() {
                failed.push(stringify!($name));
            }
        )*
        failed
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_queue_keeps_the_contract() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let failed: Vec<&str> =
        orchestrator_serve::queue_conformance_behaviours!((run_each_on) { &pg });
    assert!(
        failed.is_empty(),
        "behaviours broken on PostgreSQL: {failed:?}"
    );
}

fn job(n: usize, key: &str) -> NewJob {
    NewJob {
        kind: JobKind::Cascade,
        key: key.to_owned(),
        trigger: serde_json::json!({"n": n}),
        delivery: Some(format!("d-{n}")),
    }
}

/// Issue 17: two replicas (two sessions, as two processes have) on one database take 50 jobs
/// between them at the same time, and no job is handed out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_take_50_jobs_none_twice() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("fifty"), "test").expect("url");
    let first = PgJobQueue::connect(&url).await.expect("connect");
    for n in 0..50 {
        first
            .enqueue(job(n, &format!("cascade:o/r{n}")), 1)
            .await
            .expect("enqueue");
    }
    let replica = |name: &'static str| {
        let url = url.clone();
        tokio::spawn(async move {
            let queue = PgJobQueue::connect(&url).await.expect("connect");
            let mut taken = Vec::new();
            while let Some(job) = queue
                .claim(name, Duration::from_secs(600), orchestrator_serve::now_ms())
                .await
                .expect("claim")
            {
                assert!(
                    queue
                        .complete(job.id, name, orchestrator_serve::now_ms())
                        .await
                        .expect("done")
                );
                taken.push(job.id);
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
    assert_eq!(first.stats().await.expect("stats").succeeded, 50);
}

/// Two replicas claiming at the same instant never start two jobs with one key, even when one
/// candidate is a job whose lease expired and the other its pending sibling (row locks alone
/// would let both through: the rows differ). Repeated to give the race its chances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_run_one_key_twice() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("one_key"), "test").expect("url");
    let a = Arc::new(PgJobQueue::connect(&url).await.expect("connect"));
    let b = Arc::new(PgJobQueue::connect(&url).await.expect("connect"));
    let lease = Duration::from_millis(10);
    for round in 0..40u64 {
        let key = format!("cascade:o/k{round}");
        let t0 = 1_000_000 * (round + 1);
        a.enqueue(job(2 * round as usize, &key), t0)
            .await
            .expect("enqueue");
        // The first job runs and its worker dies (lease 10 ms); a trigger arrives meanwhile.
        let dead = a
            .claim("dead", lease, t0)
            .await
            .expect("claim")
            .expect("job");
        a.enqueue(job(2 * round as usize + 1, &key), t0 + 1)
            .await
            .expect("enqueue");
        let later = t0 + 1000;
        let (x, y) = tokio::join!(
            a.claim("x", Duration::from_secs(60), later),
            b.claim("y", Duration::from_secs(60), later)
        );
        let started: Vec<_> = [x.expect("claim"), y.expect("claim")]
            .into_iter()
            .flatten()
            .filter(|j| j.key == key)
            .collect();
        // Either may start (the expired one or its sibling), never both.
        assert_eq!(started.len(), 1, "round {round}: {started:?}");
        assert!(
            started[0].id == dead.id || started[0].id == dead.id + 1,
            "{started:?}"
        );
        for j in &started {
            let owner = j.owner.clone().expect("owner");
            a.complete(j.id, &owner, later + 1).await.expect("complete");
        }
        // Drain the sibling so the next round starts clean.
        let next = a
            .claim("x", Duration::from_secs(60), later + 2)
            .await
            .expect("claim")
            .expect("the sibling");
        a.complete(next.id, "x", later + 3).await.expect("complete");
    }
}

/// Issue 17: a wake published by one replica reaches the other's `LISTEN` session at once (the
/// payload is the repo), and a replica does not hear its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_on_one_replica_reaches_the_other_through_listen_notify() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("wakes"), "test").expect("url");
    let a = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let b = Arc::new(PgWakeBus::connect(&url).await.expect("connect"));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let listen = |bus: Arc<PgWakeBus>| {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let record = Arc::clone(&seen);
        // Only what another replica sent: each session's start says "maybe missed" too.
        let on_wake: OnWake = Arc::new(move |heard: &Heard| {
            if let Heard::Wake(wake) = heard {
                record.lock().expect("not poisoned").push(wake.encode());
            }
        });
        let shutdown = shutdown.clone();
        let task = tokio::spawn(async move { bus.listen(on_wake, shutdown).await });
        (seen, task)
    };
    let (seen_a, task_a) = listen(Arc::clone(&a));
    let (seen_b, task_b) = listen(Arc::clone(&b));
    // A listener hears what is sent after its LISTEN: send until heard (bounded).
    for (bus, repo, seen) in [(&a, "acme/base", &seen_b), (&b, "acme/app", &seen_a)] {
        let repo: RepoId = repo.parse().expect("repo");
        let mut heard = false;
        for _ in 0..500 {
            bus.publish(&Wake::repo(repo.clone()))
                .await
                .expect("publish");
            tokio::time::sleep(Duration::from_millis(20)).await;
            if !seen.lock().expect("not poisoned").is_empty() {
                heard = true;
                break;
            }
        }
        assert!(heard, "{repo} never heard");
    }
    stop.send(true).expect("listening");
    task_a.await.expect("no panic").expect("ok");
    task_b.await.expect("no panic").expect("ok");
    let only = |seen: &std::sync::Mutex<Vec<String>>, repo: &str| {
        let seen = seen.lock().expect("not poisoned");
        assert!(
            !seen.is_empty() && seen.iter().all(|r| r == repo),
            "{seen:?}"
        );
    };
    only(&seen_b, "acme/base");
    only(&seen_a, "acme/app");
}

/// Issue 17: the rate-limit budget shared through PostgreSQL: the newest observation of any
/// replica wins, and below the floor every replica defers its polls until the reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_budget_seen_by_one_replica_defers_the_others_polls_on_postgres() {
    use orchestrator_serve::rate::{Observed, share};
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("rate"), "test").expect("url");
    let a = PgJobQueue::connect(&url).await.expect("connect");
    let b = PgJobQueue::connect(&url).await.expect("connect");
    let seen = |remaining, replica: &str, seen_ms| Observed {
        remaining,
        reset: 5000,
        replica: replica.to_owned(),
        seen_ms,
    };
    let (_, until) = share(&a, "t", Some(seen(150, "a", 2000)), 200, 1000)
        .await
        .expect("share");
    assert_eq!(until, Some(5000));
    let (shared, until) = share(&b, "t", Some(seen(4000, "b", 1000)), 200, 1000)
        .await
        .expect("share");
    assert_eq!(until, Some(5000));
    assert_eq!(shared.expect("shared").replica, "a", "the newest wins");
    let (_, until) = share(&b, "t", None, 200, 5000).await.expect("share");
    assert_eq!(until, None, "after the reset");
}

/// A database whose queue schema is newer than this build's is refused, naming the versions and
/// the database but never its password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_queue_schema_is_refused() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = StateUrl::parse(&pg.create_database("newer"), "test").expect("url");
    drop(PgJobQueue::connect(&url).await.expect("connect"));
    let (client, connection) = url.connect().await.expect("session");
    client
        .execute(
            "INSERT INTO serve_schema_history (version, name, applied_on, checksum)
             VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')",
            &[],
        )
        .await
        .expect("future");
    connection.abort();
    let err = PgJobQueue::connect(&url).await.expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("schema version 99"), "{message}");
    assert!(message.contains("/newer"), "{message}");
}
