//! `orchestrator release` through the library: real git repos with bare origins, the in-memory
//! forge's simulated CI, the journaling engine.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CountingVcs, DIAMOND, World, request};
use orchestrator_core::Error;
use orchestrator_core::engine::{CancelToken, Event, Observer};
use orchestrator_core::forge::{CiBehaviour, Fault, FaultRule, ForgeOp};
use orchestrator_core::release::RepoOutcome;
use orchestrator_core::state::{JournalEntry, MemoryStateStore, RunStatus, StateStore};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{commit_file, git, write_file};

/// Cancels the run when `wait:a` first reports progress.
#[derive(Debug)]
struct CancelOnWait(CancelToken);

impl Observer for CancelOnWait {
    fn event(&self, event: &Event<'_>) {
        if let Event::Progress { step: "wait:a", .. } = event {
            self.0.cancel();
        }
    }
}

fn store() -> Arc<MemoryStateStore> {
    Arc::new(MemoryStateStore::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diamond_release_respects_order_and_overlaps_independent_repos() {
    let world = World::new(DIAMOND);
    // Left's and right's CI slow enough that their waits overlap however far apart a loaded
    // machine's two concurrent git pushes finish (the waits overlap while the pushes' end times
    // differ by less than 1.5 s); base and top quick, so the test stays short.
    let slow = CiBehaviour::Slow(Duration::from_millis(1500));
    let forge = world.forge_with_delay(
        &[("left", slow.clone()), ("right", slow)],
        Duration::from_millis(50),
    );
    let store = store();
    let report = world
        .releaser(&forge, Arc::new(GixVcs::new()), store.clone())
        .run(&request("1.2.3"))
        .await
        .expect("release runs");
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    for (name, _) in DIAMOND {
        assert_eq!(
            world.origin_tags(name).get("v1.2.3"),
            Some(&world.head(name)),
            "{name} tagged at HEAD on origin"
        );
        let repo = report
            .repos
            .iter()
            .find(|r| r.name == *name)
            .expect("reported");
        assert_eq!(repo.outcome, RepoOutcome::Released);
        assert_eq!(repo.assets.len(), 2);
    }
    // Order and overlap, from the journal's timestamps.
    let journal = store.journal(report.run_id).await.expect("journal");
    let at = |want: &str, started: bool| {
        journal
            .iter()
            .find(|r| {
                r.entry.step() == Some(want)
                    && matches!(r.entry, JournalEntry::StepStarted { .. }) == started
            })
            .map(|r| r.at_ms)
            .unwrap_or_else(|| panic!("{want} started={started} in journal"))
    };
    assert!(
        at("tag:left", true) >= at("wait:base", false),
        "left waits for base's assets"
    );
    assert!(at("tag:top", true) >= at("wait:left", false).max(at("wait:right", false)));
    assert!(
        at("wait:left", true) < at("wait:right", false)
            && at("wait:right", true) < at("wait:left", false),
        "left and right wait at the same time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_preflight_failure_alone_and_all_together_changes_nothing() {
    let world = World::new(&[
        ("clean", &[]),
        ("dirty", &[]),
        ("detached", &[]),
        ("behind", &[]),
        ("ahead", &[]),
        ("tagged", &[]),
        ("remote-tagged", &[]),
        ("wrong-origin", &[]),
        ("missing", &[]),
    ]);
    write_file(&world.repo("dirty").clone, "notes.txt", "untracked\n").expect("write");
    let head = world.head("detached");
    git(
        &world.repo("detached").clone,
        &["checkout", "--detach", &head],
    )
    .expect("detach");
    world
        .sandbox
        .advance_origin(world.repo("behind"))
        .expect("advance");
    commit_file(&world.repo("ahead").clone, "x.txt", "x\n", "local only").expect("commit");
    git(&world.repo("tagged").clone, &["tag", "v2.0.0"]).expect("tag");
    world
        .sandbox
        .tag_origin_elsewhere(world.repo("remote-tagged"), "v2.0.0")
        .expect("remote tag");
    git(
        &world.repo("wrong-origin").clone,
        &[
            "remote",
            "set-url",
            "origin",
            "https://github.com/evil/other.git",
        ],
    )
    .expect("set-url");
    std::fs::remove_dir_all(&world.repo("missing").clone).expect("remove clone");

    let expected = [
        ("dirty", "working tree is not clean: notes.txt"),
        ("detached", "HEAD is detached"),
        ("behind", "is not origin/main"),
        ("ahead", "is not origin/main"),
        ("tagged", "tag v2.0.0 already exists locally"),
        ("remote-tagged", "tag v2.0.0 already exists on origin"),
        (
            "wrong-origin",
            "origin is https://github.com/evil/other.git, which is not acme/wrong-origin",
        ),
        ("missing", "clone not found at"),
    ];
    let forge = world.forge(&[]);
    let vcs = Arc::new(CountingVcs::default());
    // All at once: every failure reported, in config order.
    let err = world
        .releaser(&forge, vcs.clone(), store())
        .run(&request("2.0.0"))
        .await
        .expect_err("preflight fails");
    let Error::Preflight { failures } = &err else {
        panic!("expected preflight error, got {err:?}")
    };
    for (repo, reason) in expected {
        assert!(
            failures
                .iter()
                .any(|f| f.repo == repo && f.reason.contains(reason)),
            "{repo}: {reason:?} missing from {failures:#?}"
        );
    }
    assert!(
        failures.iter().all(|f| f.repo != "clean"),
        "the clean repo passes"
    );
    assert_eq!(err.exit_code(), 2);
    // Alone: each failing repo selected with the clean one.
    for (repo, reason) in expected {
        let mut req = request("2.0.0");
        req.only = vec!["clean".into(), repo.into()];
        let err = world
            .releaser(&forge, vcs.clone(), store())
            .run(&req)
            .await
            .expect_err(repo);
        let Error::Preflight { failures } = &err else {
            panic!("{repo}: {err:?}")
        };
        assert!(failures.iter().all(|f| f.repo == repo), "{failures:?}");
        assert!(
            failures[0].reason.contains(reason),
            "{repo}: {}",
            failures[0].reason
        );
    }
    assert_eq!(
        vcs.tag_count() + vcs.push_count(),
        0,
        "nothing was tagged or pushed"
    );
    assert!(world.local_tags("clean").is_empty() && world.origin_tags("clean").is_empty());
    assert!(forge.requests().is_empty(), "the forge was not even asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_at_every_journal_write_then_resume_converges_without_duplicates() {
    let specs: &[common::Spec<'_>] = &[("a", &[]), ("b", &["a"]), ("c", &[])];
    // An uninterrupted run writes 3 repos x 3 steps x 2 entries + RunFinished.
    let total_writes = 19;
    let repeats = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut cases = tokio::task::JoinSet::new();
    for crash_at in 1..=total_writes {
        let repeats = repeats.clone();
        cases.spawn(async move {
            let world = World::new(specs);
            let forge = world.forge(&[]);
            let vcs = Arc::new(CountingVcs::default());
            let memory = store();
            let crashing = Arc::new(orchestrator_core::state::FaultyStateStore::crash_at_append(
                memory.clone(),
                crash_at,
            ));
            let first = world
                .releaser(&forge, vcs.clone(), crashing)
                .run(&request("0.3.0"))
                .await;
            // Steps whose outcome the crash left unknown (started, never finished): only these
            // may be attempted again, and git makes the repeat a no-op.
            let journal = memory.journal(1).await.unwrap_or_default();
            let unknown = |prefix: &str| {
                journal
                    .iter()
                    .filter_map(|r| match &r.entry {
                        JournalEntry::StepStarted { step } if step.starts_with(prefix) => {
                            Some(step)
                        }
                        _ => None,
                    })
                    .filter(|step| {
                        !journal.iter().any(|r| {
                            r.entry.step() == Some(step.as_str())
                                && !matches!(r.entry, JournalEntry::StepStarted { .. })
                        })
                    })
                    .count()
            };
            let (unknown_tags, unknown_pushes) = (unknown("tag:"), unknown("push:"));
            let mut resume = request("0.3.0");
            resume.resume = true;
            let report = world
                .releaser(&forge, vcs.clone(), memory)
                .run(&resume)
                .await;
            let report =
                report.unwrap_or_else(|e| panic!("crash at write {crash_at}: resume failed: {e}"));
            assert_eq!(
                report.status,
                RunStatus::Succeeded,
                "crash at write {crash_at}: {report:#?}"
            );
            for (name, _) in specs {
                assert_eq!(
                    world.origin_tags(name),
                    [("v0.3.0".to_string(), world.head(name))]
                        .into_iter()
                        .collect(),
                    "crash at {crash_at}: {name} has exactly the release tag, at HEAD"
                );
            }
            assert!(
                (3..=3 + unknown_tags).contains(&vcs.tag_count()),
                "crash at {crash_at}: tags created {} times, {unknown_tags} in doubt",
                vcs.tag_count()
            );
            assert!(
                (3..=3 + unknown_pushes).contains(&vcs.push_count()),
                "crash at {crash_at}: tags pushed {} times, {unknown_pushes} in doubt",
                vcs.push_count()
            );
            repeats.fetch_add(
                vcs.tag_count() + vcs.push_count() - 6,
                std::sync::atomic::Ordering::SeqCst,
            );
            (crash_at, first.is_err())
        });
    }
    let mut converged = 0;
    while let Some(done) = cases.join_next().await {
        let (crash_at, crashed) = done.expect("case ran");
        assert!(
            crashed || crash_at == total_writes,
            "crash at {crash_at} must stop the first run"
        );
        converged += 1;
    }
    assert_eq!(converged, total_writes);
    // Visible with --nocapture: how often an in-doubt effect was attempted again.
    println!(
        "{converged} of {total_writes} crash points converged; {} in-doubt git operations repeated as no-ops",
        repeats.load(std::sync::atomic::Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_during_a_wait_is_journaled_and_resume_finishes() {
    let world = World::new(&[("a", &[]), ("b", &["a"])]);
    // Slow CI so the run is surely waiting when cancelled.
    let forge = world.forge(&[("a", CiBehaviour::Slow(Duration::from_millis(400)))]);
    let vcs = Arc::new(CountingVcs::default());
    let memory = store();
    let cancel = CancelToken::new();
    // Ctrl-C arrives while `a` is surely waiting: on its first progress report.
    let stopper = Arc::new(CancelOnWait(cancel.clone()));
    let report = world
        .releaser(&forge, vcs.clone(), memory.clone())
        .with_cancel(cancel)
        .with_observer(stopper)
        .run(&request("1.0.0"))
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(report.repos[0].outcome, RepoOutcome::Interrupted);
    assert_eq!(report.repos[1].outcome, RepoOutcome::Blocked);
    let journal = memory.journal(report.run_id).await.expect("journal");
    assert!(journal.iter().any(|r| r.entry
        == JournalEntry::StepInterrupted {
            step: "wait:a".into()
        }));
    let mut resume = request("1.0.0");
    resume.resume = true;
    let report = world
        .releaser(&forge, vcs.clone(), memory)
        .run(&resume)
        .await
        .expect("resume");
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!((vcs.tag_count(), vcs.push_count()), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transient_errors_and_rate_limits_are_retried_and_counted() {
    let world = World::new(&[("a", &[])]);
    let forge = world.forge(&[]);
    forge.inject(FaultRule {
        op: Some(ForgeOp::ReleaseByTag),
        repo: None,
        times: 3,
        fault: Fault::Transient,
    });
    forge.inject(FaultRule {
        op: Some(ForgeOp::ReleaseByTag),
        repo: None,
        times: 1,
        fault: Fault::RateLimited {
            retry_after: Duration::from_millis(30),
        },
    });
    let report = world
        .releaser(&forge, Arc::new(GixVcs::new()), store())
        .run(&request("1.0.0"))
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(report.repos[0].retries, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authentication_failures_fail_the_repo_and_block_dependents() {
    let world = World::new(&[("a", &[]), ("b", &["a"]), ("c", &[])]);
    let forge = world.forge(&[]);
    forge.inject(FaultRule {
        op: None,
        repo: Some(World::id("a")),
        times: u32::MAX,
        fault: Fault::Unauthenticated,
    });
    let report = world
        .releaser(&forge, Arc::new(GixVcs::new()), store())
        .run(&request("1.0.0"))
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Failed);
    let outcome = |n: &str| {
        report
            .repos
            .iter()
            .find(|r| r.name == n)
            .expect("reported")
            .clone()
    };
    assert_eq!(outcome("a").outcome, RepoOutcome::Failed);
    assert!(
        outcome("a")
            .error
            .expect("error")
            .contains("not authenticated")
    );
    assert_eq!(outcome("b").outcome, RepoOutcome::Blocked);
    assert!(world.origin_tags("b").is_empty(), "b was never tagged");
    assert_eq!(
        outcome("c").outcome,
        RepoOutcome::Released,
        "independent repos finish"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assets_that_never_settle_or_never_appear_time_out_naming_them() {
    let world = World::with_release_section(
        &[("growing", &[]), ("partial", &[]), ("broken", &[])],
        "poll_interval = \"10ms\"\ntimeout = \"700ms\"\n",
    );
    let forge = world.forge(&[
        ("growing", CiBehaviour::NeverSettles),
        (
            "partial",
            CiBehaviour::MissingAsset("partial-v{version}.sha256".into()),
        ),
        ("broken", CiBehaviour::Fails),
    ]);
    let report = world
        .releaser(&forge, Arc::new(GixVcs::new()), store())
        .run(&request("1.0.0"))
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Failed);
    let error = |n: &str| {
        report
            .repos
            .iter()
            .find(|r| r.name == n)
            .and_then(|r| r.error.clone())
            .expect("an error")
    };
    assert!(
        error("growing").contains("timed out")
            && error("growing").contains("growing-v1.0.0.sha256 (uploading"),
        "{}",
        error("growing")
    );
    assert!(
        error("partial").contains("still missing: partial-v1.0.0.sha256"),
        "{}",
        error("partial")
    );
    assert!(
        error("broken").contains("release v1.0.0 (not created yet)"),
        "{}",
        error("broken")
    );
    assert!(
        report
            .repos
            .iter()
            .all(|r| r.outcome == RepoOutcome::Failed),
        "never a false success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resume_refuses_a_tag_on_origin_at_another_commit() {
    let world = World::new(&[("a", &[])]);
    world
        .sandbox
        .tag_origin_elsewhere(world.repo("a"), "v1.0.0")
        .expect("remote tag");
    let mut req = request("1.0.0");
    req.resume = true;
    let err = world
        .releaser(&world.forge(&[]), Arc::new(GixVcs::new()), store())
        .run(&req)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not at HEAD"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_only_names_are_rejected_before_anything() {
    let world = World::new(&[("a", &[])]);
    let mut req = request("1.0.0");
    req.only = vec!["nope".into()];
    let err = world
        .releaser(&world.forge(&[]), Arc::new(GixVcs::new()), store())
        .run(&req)
        .await
        .expect_err("rejected");
    assert_eq!(
        err.to_string(),
        "unknown repo \"nope\" in --only (configured: a)"
    );
    assert_eq!(err.exit_code(), 2);
}
