//! Real publish runs over sandbox git repos (bare origins) and the in-memory forge: dependency
//! order with overlap, correlated waits, failures holding back exactly their dependents, crash and
//! `--resume`, and the CLI over `[forge.simulate]`. Assertions are on the order of journal events
//! and on the forge's request log, never on wall-clock thresholds.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use orchestrator_core::config::Config;
use orchestrator_core::forge::{
    AssetState, CiBehaviour, CiSimulation, ForgeOp, InMemoryForge, ReleaseForge, RepoId,
    WorkflowRun, WorkflowRunStatus, WorkflowSimulation,
};
use orchestrator_core::publish::{
    self, BumpRequest, CHECKOUT_RUN_KIND, CascadeRequest, CascadeTrigger, CascadeWorkflow,
    PackageOutcome, PublishOptions, PublishPlan, PublishRequest, Publisher,
};
use orchestrator_core::state::{
    FaultyStateStore, JournalEntry, JournalRecord, MemoryStateStore, RunStatus, StateStore,
};
use orchestrator_core::workspace::{Outcome, Workspace};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, git};

/// base → left, right → top → tail (a diamond and a chain), plus an independent `solo`.
const DAG: &[(&str, &[&str])] = &[
    ("base", &[]),
    ("left", &["base"]),
    ("right", &["base"]),
    ("top", &["left", "right"]),
    ("tail", &["top"]),
    ("solo", &[]),
];

struct World {
    dir: tempfile::TempDir,
    config: Arc<Config>,
}

fn package_json(name: &str, deps: &[&str]) -> String {
    let deps: Vec<String> = deps
        .iter()
        .map(|d| format!("    \"@acme/{d}\": \"^1.0.0\""))
        .collect();
    format!(
        "{{\n  \"name\": \"@acme/{name}\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {{\n{}\n  }}\n}}\n",
        deps.join(",\n")
    )
}

impl World {
    /// Sandbox repos with `package.json` manifests released through `workflow_dispatch`
    /// (`trigger = "workflow"`) or tag pushes.
    fn new(trigger: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        let mut text = format!(
            "[forge]\nowner = \"acme\"\n{extra}\n[release]\npoll_interval = \"10ms\"\ntimeout = \"20s\"\nstable_polls = 1\n\n[publish]\numbrella_repo = \"acme/ecosystem\"\nconcurrency = 4\n\n"
        );
        for (name, deps) in DAG {
            sandbox
                .create_repo(name, &[("package.json", &package_json(name, deps))])
                .expect("repo");
            git(
                &dir.path().join(name),
                &["tag", "-a", "v1.0.0", "-m", "v1.0.0"],
            )
            .expect("tag");
            let quoted: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
            text.push_str(&format!(
                "[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nmanifest = \"package.json\"\ntrigger = \"{trigger}\"\n\n",
                quoted.join(", ")
            ));
        }
        let file = dir.path().join("orchestrator.toml");
        std::fs::write(&file, text).expect("config");
        let config = Arc::new(Config::load(&file).expect("valid config"));
        Self { dir, config }
    }

    fn id(name: &str) -> RepoId {
        RepoId::new("acme", name)
    }

    /// A forge whose release workflows take a little while and show the correlation id.
    fn forge(&self) -> InMemoryForge {
        let forge = InMemoryForge::new();
        for (name, _) in DAG {
            forge.configure_workflow(
                &Self::id(name),
                "release.yml",
                WorkflowSimulation {
                    run_name: Some(
                        "release ${{ inputs.version }} ${{ inputs.correlation_id }}".into(),
                    ),
                    queued_for: Duration::from_millis(10),
                    runs_for: Duration::from_millis(60),
                    ..WorkflowSimulation::default()
                },
            );
        }
        forge
    }

    async fn plan(&self) -> PublishPlan {
        let vcs = GixVcs::new();
        let observed = publish::observe(&self.config, &vcs, false)
            .await
            .expect("observe");
        publish::plan_publish(
            &self.config,
            &PublishRequest::new(BumpRequest::Minor),
            &observed,
        )
        .expect("plan")
    }

    /// A forge whose simulated CI builds every pushed tag from the origins, `repo`'s with
    /// `behaviour`.
    fn ci_forge(&self, repo: &RepoId, behaviour: CiBehaviour) -> InMemoryForge {
        let origins = self.dir.path().join("origins");
        let mut ci = CiSimulation::for_config(
            &self.config,
            Duration::from_millis(20),
            Duration::from_millis(10),
            |r| Some(origins.join(format!("{}.git", r.name))),
        );
        ci.repos.get_mut(repo).expect("a configured repo").behaviour = behaviour;
        InMemoryForge::with_ci(ci)
    }

    fn publisher(&self, forge: &InMemoryForge, store: Arc<dyn StateStore>) -> Publisher {
        Publisher::new(
            self.config.clone(),
            Arc::new(forge.clone()),
            Arc::new(GixVcs::new()),
            store,
        )
    }

    fn git(&self, repo: &str, args: &[&str]) -> String {
        git(&self.dir.path().join(repo), args).expect("git")
    }

    fn origin_git(&self, repo: &str, args: &[&str]) -> String {
        git(
            &self.dir.path().join("origins").join(format!("{repo}.git")),
            args,
        )
        .expect("git")
    }
}

/// Index in the journal of the first entry matching `what` for `step`.
fn at(journal: &[JournalRecord], what: &str, step: &str) -> usize {
    journal
        .iter()
        .position(|r| {
            r.entry.step() == Some(step)
                && matches!(
                    (&r.entry, what),
                    (JournalEntry::StepStarted { .. }, "started")
                        | (JournalEntry::StepSucceeded { .. }, "succeeded")
                )
        })
        .unwrap_or_else(|| panic!("no {what} entry for {step}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publishes_in_dependency_order_with_independent_packages_overlapping() {
    let world = World::new("workflow", "");
    let forge = world.forge();
    let store = Arc::new(MemoryStateStore::default());
    let plan = world.plan().await;
    assert_eq!(plan.waves.len(), 4, "{:?}", plan.waves);
    let report = world
        .publisher(&forge, store.clone())
        .execute(&plan)
        .await
        .expect("runs");
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert_eq!(
        report.with_outcome(PackageOutcome::Released).len(),
        DAG.len()
    );
    assert_eq!(report.umbrella.as_deref(), Some("ecosystem-v1.1.0"));

    let journal = store.journal(report.run_id).await.expect("journal");
    for (name, deps) in DAG {
        for dep in *deps {
            assert!(
                at(&journal, "succeeded", &format!("notes:{dep}"))
                    < at(&journal, "started", &format!("bump:{name}")),
                "{name} started before {dep} finished"
            );
        }
    }
    // Independent packages overlap: each of left/right (and solo with base) starts before the
    // other finishes.
    for (a, b) in [("left", "right"), ("base", "solo")] {
        assert!(
            at(&journal, "started", &format!("bump:{a}"))
                < at(&journal, "succeeded", &format!("notes:{b}"))
        );
        assert!(
            at(&journal, "started", &format!("bump:{b}"))
                < at(&journal, "succeeded", &format!("notes:{a}"))
        );
    }
    assert!(
        at(&journal, "started", "umbrella") > at(&journal, "succeeded", "notes:tail"),
        "the umbrella comes last"
    );

    // The real effects: manifests rewritten and committed, tags and branches on the origins.
    let top = world.origin_git("top", &["show", "main:package.json"]);
    assert!(top.contains("\"version\": \"1.1.0\""), "{top}");
    assert!(top.contains("\"@acme/left\": \"^1.1.0\""), "{top}");
    assert_eq!(
        world.origin_git("top", &["log", "-1", "--format=%s", "v1.1.0"]),
        "chore(release): top 1.1.0"
    );
    for (name, _) in DAG {
        assert_eq!(forge.count(ForgeOp::DispatchWorkflow, &World::id(name)), 1);
        let release = forge.requests();
        assert!(release.iter().any(|r| r.op == ForgeOp::CreateRelease
            && r.repo == World::id(name)
            && r.detail == "v1.1.0"));
    }
    let coordination = std::fs::read_to_string(world.dir.path().join("versions.toml"))
        .expect("coordination manifest");
    let recorded = publish::read_coordination(&coordination).expect("valid");
    assert_eq!(recorded["top"].version, "1.1.0");
    assert_eq!(
        recorded["top"].requires,
        vec!["left=1.1.0".to_owned(), "right=1.1.0".to_owned()]
    );
}

fn stored_run(id: u64, title: &str, conclusion: &str, at_ms: i64) -> WorkflowRun {
    WorkflowRun {
        id,
        workflow: "release.yml".into(),
        display_title: title.into(),
        event: "workflow_dispatch".into(),
        head_sha: "1111111111111111111111111111111111111111".into(),
        head_branch: Some("main".into()),
        status: WorkflowRunStatus::Completed,
        conclusion: Some(conclusion.into()),
        created_at_ms: at_ms,
        html_url: format!("memory://acme/left/actions/runs/{id}"),
    }
}

/// Seed 002's bug and the hold-back rule: `left` has an older successful run and a stranger's
/// fresh successful one; the run publish dispatched fails. `left` fails with that run's URL;
/// exactly its dependents (top, tail) are held back; the others are released.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dispatched_run_decides_and_a_failure_holds_back_exactly_its_dependents() {
    let world = World::new("workflow", "");
    let forge = world.forge();
    let left = World::id("left");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    forge.add_workflow_run(
        &left,
        stored_run(900, "release 1.0.0 old", "success", now - 86_400_000),
    );
    forge.add_workflow_run(
        &left,
        stored_run(901, "release 1.1.0 someone-else", "success", now),
    );
    forge.script_runs_with_input(&left, "-left", "failure");
    let store = Arc::new(MemoryStateStore::default());
    let report = world
        .publisher(&forge, store)
        .execute(&world.plan().await)
        .await
        .expect("runs");
    assert_eq!(report.status, RunStatus::Failed);
    let failed = report
        .packages
        .iter()
        .find(|p| p.name == "left")
        .expect("left");
    assert_eq!(failed.outcome, PackageOutcome::Failed);
    let url = failed.run_url.clone().expect("the run is linked");
    assert!(!url.ends_with("/900") && !url.ends_with("/901"), "{url}");
    assert!(failed.error.as_deref().unwrap_or_default().contains(&url));
    assert_eq!(report.with_outcome(PackageOutcome::Failed), vec!["left"]);
    assert_eq!(
        report.with_outcome(PackageOutcome::HeldBack),
        vec!["top", "tail"]
    );
    assert_eq!(
        report.with_outcome(PackageOutcome::Released),
        vec!["base", "right", "solo"]
    );
    assert_eq!(
        report.umbrella, None,
        "no umbrella release for a partial set"
    );
    assert_eq!(forge.count(ForgeOp::DispatchWorkflow, &World::id("top")), 0);
}

/// Tag-push releases: `left`'s CI never makes a release, and the run of its release workflow on
/// the pushed tag fails. `left` fails as soon as that run concludes, linking it (not at the
/// timeout), and a stranger's successful run on the same commit but another tag is not taken
/// for it; its dependents are held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_run_on_a_pushed_tag_fails_the_package_without_waiting_for_the_timeout() {
    let world = World::new("tag", "");
    let origins = world.dir.path().join("origins");
    let left = World::id("left");
    let forge = world.ci_forge(&left, CiBehaviour::Fails);
    // Plays GitHub Actions for left: once v1.1.0 reaches the origin, its release run fails, and
    // a stranger's run on the same commit (another tag) succeeds.
    let actions = {
        let forge = forge.clone();
        let origin = origins.join("left.git");
        tokio::spawn(async move {
            loop {
                if let Ok(sha) = git(&origin, &["rev-list", "-n1", "v1.1.0"]) {
                    let run = |id: u64, tag: &str, conclusion: &str| WorkflowRun {
                        event: "push".into(),
                        head_sha: sha.trim().to_owned(),
                        head_branch: Some(tag.into()),
                        ..stored_run(id, &format!("release {tag}"), conclusion, 0)
                    };
                    forge.add_workflow_run(&left, run(700, "v1.1.0-other", "success"));
                    forge.add_workflow_run(&left, run(701, "v1.1.0", "failure"));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let store = Arc::new(MemoryStateStore::default());
    let report = world
        .publisher(&forge, store)
        .execute(&world.plan().await)
        .await
        .expect("runs");
    actions.await.expect("actions");
    let failed = report
        .packages
        .iter()
        .find(|p| p.name == "left")
        .expect("left");
    assert_eq!(failed.outcome, PackageOutcome::Failed, "{report:#?}");
    assert_eq!(
        failed.run_url.as_deref(),
        Some("memory://acme/left/actions/runs/701")
    );
    let error = failed.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("runs/701") && error.contains("failure"),
        "{error}"
    );
    assert_eq!(
        report.with_outcome(PackageOutcome::HeldBack),
        vec!["top", "tail"]
    );
    assert_eq!(
        report.with_outcome(PackageOutcome::Released),
        vec!["base", "right", "solo"]
    );
}

/// A release workflow may fail in a job after its release is out (docs, an announcement). The run
/// on `left`'s tag fails while its slow CI has not published yet, so the first publish fails
/// `left`; once the release and its assets are there, `--resume` finishes: a failed run does not
/// fail a package whose release is complete, so it cannot block every resume after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_tag_run_does_not_block_a_resume_once_the_release_is_complete() {
    let world = World::new("tag", "");
    let origins = world.dir.path().join("origins");
    let left = World::id("left");
    let forge = world.ci_forge(&left, CiBehaviour::Slow(Duration::from_millis(400)));
    let actions = {
        let forge = forge.clone();
        let origin = origins.join("left.git");
        tokio::spawn(async move {
            loop {
                if let Ok(sha) = git(&origin, &["rev-list", "-n1", "v1.1.0"]) {
                    forge.add_workflow_run(
                        &left,
                        WorkflowRun {
                            event: "push".into(),
                            head_sha: sha.trim().to_owned(),
                            head_branch: Some("v1.1.0".into()),
                            ..stored_run(702, "release v1.1.0", "failure", 0)
                        },
                    );
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let plan = world.plan().await;
    let first = world
        .publisher(&forge, store.clone())
        .execute(&plan)
        .await
        .expect("runs");
    actions.await.expect("actions");
    assert_eq!(first.with_outcome(PackageOutcome::Failed), vec!["left"]);
    // The slow CI publishes left's release and its assets meanwhile.
    loop {
        let release = forge
            .release_by_tag(&World::id("left"), "v1.1.0")
            .await
            .expect("lookup");
        if release
            .is_some_and(|r| !r.draft && r.assets.iter().all(|a| a.state == AssetState::Uploaded))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resumed = world
        .publisher(&forge, store)
        .execute_with(
            &plan,
            &PublishOptions {
                resume: true,
                ..PublishOptions::default()
            },
        )
        .await
        .expect("resumes");
    assert_eq!(resumed.status, RunStatus::Succeeded, "{resumed:#?}");
    assert_eq!(resumed.with_outcome(PackageOutcome::Released).len(), 6);
}

/// A new publish checks every clone first, as `release` does, and reports every problem of every
/// package at once before anything happens: here a dirty work tree, a clone on another branch,
/// and a tag that already exists on origin.
#[tokio::test]
async fn preflight_reports_every_problem_at_once_and_changes_nothing() {
    let world = World::new("tag", "");
    let plan = world.plan().await;
    std::fs::write(world.dir.path().join("left/notes.txt"), "wip").expect("dirty");
    world.git("solo", &["checkout", "-q", "-b", "experiment"]);
    world.git("right", &["tag", "v1.1.0"]);
    world.git("right", &["push", "-q", "origin", "v1.1.0"]);
    let store = Arc::new(MemoryStateStore::default());
    let err = world
        .publisher(&InMemoryForge::new(), store.clone())
        .execute(&plan)
        .await
        .expect_err("refused");
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    for want in [
        "left: working tree is not clean: notes.txt",
        "right: tag v1.1.0 already exists on origin",
        "solo: HEAD is on experiment, but its releases are committed to main",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        store.runs(None, None, 10).await.expect("runs").is_empty(),
        "no run began"
    );
    for name in ["base", "left", "top"] {
        assert_eq!(
            world.origin_git(name, &["tag", "--list"]),
            "",
            "{name}: nothing pushed"
        );
    }
}

/// `coordination_commit` for a manifest outside any work tree is refused before anything happens:
/// the last step could not do what the config asks.
#[tokio::test]
async fn committing_a_coordination_manifest_outside_a_work_tree_is_refused_up_front() {
    let world = World::new("tag", "");
    let mut config = (*world.config).clone();
    config.publish.coordination_commit =
        orchestrator_core::publish::config::CoordinationCommit::Push;
    assert!(
        publish::config::work_tree_of(&config.publish.coordination).is_none(),
        "the sandbox root is no work tree"
    );
    let store = Arc::new(MemoryStateStore::default());
    let publisher = Publisher::new(
        Arc::new(config),
        Arc::new(InMemoryForge::new()),
        Arc::new(GixVcs::new()),
        store.clone(),
    );
    let err = publisher
        .execute(&world.plan().await)
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("is not inside a git work tree"),
        "{err}"
    );
    assert!(
        store.runs(None, None, 10).await.expect("runs").is_empty(),
        "no run began"
    );
    assert_eq!(
        world.origin_git("base", &["tag", "--list"]),
        "",
        "nothing pushed"
    );
}

/// Crash at several points during the waves, then resume from the recorded plan: every package
/// is released once; no commit, tag or dispatch is repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_then_resume_publishes_nothing_twice() {
    for crash_at in [4, 11, 19, 30] {
        let world = World::new("workflow", "");
        let forge = world.forge();
        let inner = Arc::new(MemoryStateStore::default());
        let crashing = Arc::new(FaultyStateStore::crash_at_append(inner.clone(), crash_at));
        let plan = world.plan().await;
        let crashed = world.publisher(&forge, crashing).execute(&plan).await;
        assert!(crashed.is_err(), "crash at {crash_at}: {crashed:?}");
        // Let effects that were in flight when the "process died" land, as they would.
        tokio::time::sleep(Duration::from_millis(200)).await;

        // The resumed process re-plans nothing: it continues the recorded plan.
        let recorded = publish::resumable_plan(inner.as_ref(), publish::RUN_KIND)
            .await
            .expect("store")
            .expect("an unfinished publish");
        assert_eq!(recorded, plan);
        let report = world
            .publisher(&forge, inner.clone())
            .execute_with(
                &recorded,
                &PublishOptions {
                    resume: true,
                    ..PublishOptions::default()
                },
            )
            .await
            .expect("resumes");
        assert_eq!(
            report.status,
            RunStatus::Succeeded,
            "crash at {crash_at}: {report:#?}"
        );
        assert_eq!(
            inner.runs(None, None, 10).await.expect("runs").len(),
            1,
            "same run resumed"
        );
        for (name, _) in DAG {
            assert_eq!(
                forge.count(ForgeOp::DispatchWorkflow, &World::id(name)),
                1,
                "crash at {crash_at}: {name} dispatched twice"
            );
            let releases = world.git(
                name,
                &[
                    "log",
                    "--format=%s",
                    "--grep=chore(release)",
                    "--fixed-strings",
                ],
            );
            assert_eq!(
                releases.lines().count(),
                1,
                "crash at {crash_at}: {name}: {releases}"
            );
            assert_eq!(
                world.origin_git(name, &["tag", "--list", "v1.1.0"]),
                "v1.1.0"
            );
        }
    }
}

/// `orchestrator publish` over sandbox repos and `[forge.simulate]` (tag-push releases).
#[test]
fn cli_publish_runs_for_real_over_the_simulated_forge() {
    let world = World::new(
        "tag",
        "\n[forge.simulate]\nci_delay = \"30ms\"\nasset_interval = \"10ms\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(world.dir.path())
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env("GITHUB_STEP_SUMMARY", world.dir.path().join("summary.md"))
        .env("GITHUB_OUTPUT", world.dir.path().join("outputs.txt"))
        .args(["--output", "json", "publish", "--bump", "patch"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8");
    common::schema::check("publish", &text, "publish-report.schema.json");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["status"], "succeeded", "{report:#}");
    let outcomes: BTreeMap<String, String> = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(outcomes.values().all(|o| o == "released"), "{outcomes:?}");
    assert_eq!(outcomes.len(), DAG.len());
    let tail = world.origin_git("tail", &["show", "v1.0.1:package.json"]);
    assert!(tail.contains("\"@acme/top\": \"^1.0.1\""), "{tail}");
    assert!(world.dir.path().join("versions.toml").exists());
    // In a GitHub Actions job: the graph and table in the step summary, key results as outputs.
    let summary = std::fs::read_to_string(world.dir.path().join("summary.md")).expect("summary");
    assert!(
        summary.contains("```mermaid") && summary.contains("| tail | 1.0.1 |"),
        "{summary}"
    );
    let outputs = std::fs::read_to_string(world.dir.path().join("outputs.txt")).expect("outputs");
    assert!(
        outputs.contains("status=succeeded\n") && outputs.contains("failed=\n"),
        "{outputs}"
    );
    assert!(
        outputs
            .lines()
            .any(|l| l.starts_with("released=") && l.contains("tail")),
        "{outputs}"
    );
    // A second run finds nothing to resume and plans the next versions.
    let again = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(world.dir.path())
        .args(["publish", "--bump", "patch", "--dry-run"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&again.stdout).contains("1.0.1 -> 1.0.2"));
    let plan = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(world.dir.path())
        .args([
            "--output",
            "json",
            "publish",
            "--bump",
            "patch",
            "--dry-run",
        ])
        .output()
        .expect("runs");
    assert!(plan.status.success(), "{plan:?}");
    let text = String::from_utf8(plan.stdout).expect("UTF-8");
    common::schema::check("publish --dry-run", &text, "publish-plan.schema.json");
    let plan: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(plan["packages"][0]["next"], "1.0.2", "{plan:#}");
    assert!(
        plan["manifest_rewrites"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{plan:#}"
    );
}

/// `orchestrator cascade --from left` releases exactly left and what is downstream of it.
#[test]
fn cli_cascade_runs_the_repo_and_its_downstream_only() {
    let world = World::new(
        "tag",
        "\n[forge.simulate]\nci_delay = \"30ms\"\nasset_interval = \"10ms\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(world.dir.path())
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .args(["--output", "json", "cascade", "--from", "left"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8");
    common::schema::check("cascade", &text, "publish-report.schema.json");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["outcome"] == "released")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, vec!["left", "top", "tail"], "{report:#}");
    assert_eq!(report["kind"], "cascade");
    assert_eq!(world.origin_git("right", &["tag", "--list", "v1.0.1"]), "");
}

/// A cascade over the simulated forge: `top`'s requirements on `left` admit its new version in
/// the author's style (`~` stays `~`, a bounded devDependency is widened), and `versions.toml`
/// updates the released entries while keeping every other entry and the requirement on the
/// unreleased `right`.
#[test]
fn cli_cascade_keeps_range_styles_and_unrelated_coordination_entries() {
    let world = World::new(
        "tag",
        "\n[forge.simulate]\nci_delay = \"30ms\"\nasset_interval = \"10ms\"\n",
    );
    let top = world.dir.path().join("top/package.json");
    let manifest = std::fs::read_to_string(&top)
        .expect("read")
        .replace("\"@acme/left\": \"^1.0.0\"", "\"@acme/left\": \"~1.0.0\"")
        .replace(
            "\n  }\n}\n",
            "\n  },\n  \"devDependencies\": {\n    \"@acme/left\": \">=1.0.0 <1.0.1\"\n  }\n}\n",
        );
    std::fs::write(&top, &manifest).expect("write");
    world.git("top", &["commit", "-q", "-am", "chore: tilde on left"]);
    world.git("top", &["push", "-q", "origin", "main"]);
    let solo = "solo = { version = \"1.0.0\", git_tag = \"v1.0.0\", git_commit = \"s0\", requires = [\"base=1.0.0\"] } # kept\n";
    let coordination = format!(
        "# ecosystem\nright = {{ version = \"1.0.0\", git_tag = \"v1.0.0\", git_commit = \"r0\", requires = [\"base=1.0.0\"] }}\ntop = {{ version = \"1.0.0\", git_tag = \"v1.0.0\", git_commit = \"t0\", requires = [\"left=1.0.0\", \"right=1.0.0\"] }}\n{solo}"
    );
    let file = world.dir.path().join("versions.toml");
    std::fs::write(&file, &coordination).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(world.dir.path())
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .args(["cascade", "--from", "left"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let released = world.origin_git("top", &["show", "v1.0.1:package.json"]);
    assert!(
        released.contains("\"@acme/left\": \"~1.0.1\""),
        "{released}"
    );
    assert!(
        released.contains("\"@acme/left\": \">=1.0.1 <2.0.0\""),
        "{released}"
    );
    let written = std::fs::read_to_string(&file).expect("read");
    let back = publish::read_coordination(&written).expect("valid");
    assert_eq!(back["top"].version, "1.0.1");
    assert_eq!(back["top"].requires, vec!["left=1.0.1", "right=1.0.0"]);
    assert_eq!(back["tail"].requires, vec!["top=1.0.1"]);
    assert_eq!(back["right"].requires, vec!["base=1.0.0"]);
    assert!(written.contains(solo), "{written}");
}

/// A push's cascade, as `serve` runs it through the library: a clone that has not pulled the
/// pushed commit is fetched and fast-forwarded to it in a journaled `checkout` run, and the
/// cascade releases from that commit. Without `checkout` the same request is refused (the
/// clone is not at the event's commit) before any state is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_cascade_checks_out_the_pushed_commit_first() {
    let world = World::new(
        "tag",
        "\n[forge.simulate]\nci_delay = \"30ms\"\nasset_interval = \"10ms\"\n",
    );
    // Someone pushes to left's origin; the clone has not pulled it.
    let before = world.git("left", &["rev-parse", "HEAD"]).trim().to_owned();
    std::fs::write(world.dir.path().join("left/README.md"), "pushed\n").expect("write");
    world.git("left", &["add", "README.md"]);
    world.git("left", &["commit", "-q", "-m", "docs: a readme"]);
    world.git("left", &["push", "-q", "origin", "main"]);
    let pushed = world.git("left", &["rev-parse", "HEAD"]).trim().to_owned();
    world.git("left", &["reset", "-q", "--hard", &before]);
    let state = world.dir.path().join("state");
    let workspace = Workspace::builder((*world.config).clone())
        .state_dir(&state)
        .expect("state dir")
        .vcs(Arc::new(GixVcs::new()))
        .build();
    let push = |checkout| CascadeWorkflow {
        request: CascadeRequest {
            trigger: Some(CascadeTrigger {
                repo: Some("left".into()),
                git_ref: Some("refs/heads/main".into()),
                sha: Some(pushed.clone()),
                event_type: Some("push".into()),
            }),
            checkout,
            ..CascadeRequest::default()
        },
    };

    let refused = workspace
        .run(&push(false))
        .await
        .expect_err("the clone is not at the pushed commit")
        .to_string();
    assert!(refused.contains("is not HEAD of left"), "{refused}");
    assert!(!state.exists(), "a refused cascade writes no state");

    let finished = workspace.run(&push(true)).await.expect("cascades");
    assert_eq!(
        finished.outcome,
        Outcome::Succeeded,
        "{:#?}",
        finished.report
    );
    let report = finished.report.expect("something to cascade");
    assert_eq!(
        report.with_outcome(PackageOutcome::Released),
        ["left", "top", "tail"]
    );
    // left's release commit (its bump) sits on the pushed commit.
    assert_eq!(world.git("left", &["rev-parse", "v1.0.1^"]).trim(), pushed);
    let store = workspace.read_only_store().await.expect("store");
    let checkouts = store
        .runs(Some(CHECKOUT_RUN_KIND), None, 10)
        .await
        .expect("runs");
    assert_eq!(checkouts.len(), 1, "{checkouts:#?}");
    assert_eq!(checkouts[0].status, RunStatus::Succeeded);
    assert_eq!(checkouts[0].key, format!("left@{pushed}"));
    let journal = store.journal(checkouts[0].id).await.expect("journal");
    at(&journal, "succeeded", "checkout:left");
}

/// Runs the real binary in the world's directory.
fn cli(world: &World, args: &[&str], kill_at: Option<usize>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(world.dir.path())
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("ORCHESTRATOR_STATE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .args(args);
    match kill_at {
        Some(k) => cmd.env("ORCHESTRATOR_FAULT_KILL_AT_JOURNAL_WRITE", k.to_string()),
        None => cmd.env_remove("ORCHESTRATOR_FAULT_KILL_AT_JOURNAL_WRITE"),
    };
    cmd.output().expect("runs")
}

fn newest_run(world: &World) -> serde_json::Value {
    let out = cli(world, &["--output", "json", "runs"], None);
    assert!(out.status.success(), "{out:?}");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    runs[0].clone()
}

/// No orphaned runs (#13): a killed cascade shows `interrupted` (never `running`), a new cascade
/// is refused (exit 2) naming it and both ways out, `--resume` finishes it, and `--abandon RUN`
/// gives one up for good (recorded in its journal) so the next cascade can start.
#[test]
fn cli_a_killed_cascade_is_interrupted_blocks_a_new_one_and_is_resumed_or_abandoned() {
    let world = World::new(
        "tag",
        "\n[forge.simulate]\nci_delay = \"30ms\"\nasset_interval = \"10ms\"\n",
    );
    let killed = cli(&world, &["cascade", "--from", "left"], Some(3));
    assert!(!killed.status.success(), "killed: {killed:?}");
    let run = newest_run(&world);
    assert_eq!(run["kind"], "cascade");
    assert_eq!(run["status"], "interrupted", "{run:#}");
    let id = run["id"].as_i64().expect("id");

    let refused = cli(&world, &["cascade", "--from", "right"], None);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let message = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(message.contains(&format!("cascade run {id}")), "{message}");
    assert!(message.contains("interrupted"), "{message}");
    assert!(message.contains("cascade --resume"), "{message}");
    assert!(
        message.contains(&format!("cascade --abandon {id}")),
        "{message}"
    );
    assert_eq!(newest_run(&world)["id"], id, "nothing started");

    let resumed = cli(&world, &["cascade", "--resume"], None);
    assert!(resumed.status.success(), "{resumed:?}");
    let run = newest_run(&world);
    assert_eq!(
        (run["id"].as_i64(), run["status"].as_str()),
        (Some(id), Some("succeeded"))
    );

    // Killed again; this time given up, and the next cascade starts.
    let killed = cli(&world, &["cascade", "--from", "right"], Some(3));
    assert!(!killed.status.success(), "killed: {killed:?}");
    let second = newest_run(&world)["id"].as_i64().expect("id");
    assert_ne!(second, id);
    let abandoned = cli(&world, &["cascade", "--abandon", &second.to_string()], None);
    assert!(abandoned.status.success(), "{abandoned:?}");
    let shown = cli(
        &world,
        &["--output", "json", "runs", "show", &second.to_string()],
        None,
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(shown["run"]["status"], "abandoned", "{shown:#}");
    let last = shown["journal"].as_array().and_then(|j| j.last()).cloned();
    assert_eq!(
        last.map(|l| l["entry"].clone()),
        Some(serde_json::json!({"event": "run_finished", "status": "abandoned"})),
        "{shown:#}"
    );
    let again = cli(&world, &["cascade", "--abandon", &second.to_string()], None);
    assert_eq!(again.status.code(), Some(2), "already abandoned: {again:?}");
    // No longer refused for the abandoned run: the next cascade gets to its own preflight, which
    // finds what the abandoned run left in the clone (its bump commit, never pushed).
    let next = cli(&world, &["cascade", "--from", "right"], None);
    let message = String::from_utf8_lossy(&next.stderr).into_owned();
    assert!(!message.contains("did not finish"), "{message}");
    assert!(message.contains("preflight"), "{message}");
}
