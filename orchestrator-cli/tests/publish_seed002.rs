//! Seed 002's 16-package ecosystem published for real over sandbox git repos and the in-memory
//! forge's workflow runs: 10 waves (its longest chain), every package after its dependencies,
//! packages of one wave at the same time, one dispatch each. Asserted on the order of journal
//! events, never on wall-clock time. Runs on the in-memory forge and, through `GitHubForge`, over
//! HTTP against the mock GitHub server (whose workflow runs are the same simulation).

use std::sync::Arc;
use std::time::Duration;

use orchestrator_core::config::Config;
use orchestrator_core::forge::{Forge, ForgeOp, InMemoryForge, RepoId, WorkflowSimulation};
use orchestrator_core::publish::{self, BumpRequest, PackageOutcome, PublishRequest, Publisher};
use orchestrator_core::secret::SecretString;
use orchestrator_core::seeds::SEED_002;
use orchestrator_core::state::{
    JournalEntry, JournalRecord, MemoryStateStore, RunStatus, StateStore,
};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, git};
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions};

fn package_json(name: &str, deps: &[&str]) -> String {
    let deps: Vec<String> = deps
        .iter()
        .map(|d| format!("    \"@eco/{d}\": \"^0.1.0\""))
        .collect();
    format!(
        "{{\n  \"name\": \"@eco/{name}\",\n  \"version\": \"0.1.0\",\n  \"dependencies\": {{\n{}\n  }}\n}}\n",
        deps.join(",\n")
    )
}

/// Where in the journal `step` first `started` or `succeeded`.
fn at(journal: &[JournalRecord], started: bool, step: &str) -> usize {
    journal
        .iter()
        .position(|r| {
            r.entry.step() == Some(step)
                && matches!(r.entry, JournalEntry::StepStarted { .. }) == started
                && (started || matches!(r.entry, JournalEntry::StepSucceeded { .. }))
        })
        .unwrap_or_else(|| panic!("no entry for {step} (started: {started})"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seed_002_ecosystem_publishes_wave_by_wave_at_the_speed_of_its_longest_chain() {
    let forge = InMemoryForge::new();
    publish_seed_002(Arc::new(forge.clone()), &forge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seed_002_ecosystem_publishes_over_http_through_the_github_adapter() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockGitHub::start(MockOptions::default())
        .await
        .expect("mock server starts");
    for (name, _) in SEED_002 {
        server.create_repo("eco", name);
        // As on GitHub, only a workflow the repository has can be dispatched.
        server.add_workflow("eco", name, "release.yml");
    }
    let forge = GitHubForge::builder()
        .api_url(server.url())
        .token(Some(SecretString::new("ghp_seed002")))
        .build()
        .expect("forge builds");
    publish_seed_002(Arc::new(forge), server.forge()).await;
    server.shutdown().await;
}

/// The packages on top of wb-core, and the three on top of cb-core: each set must wait for its
/// runs at the same moment.
const OVERLAPPING_WAVES: [&[&str]; 2] = [
    &[
        "wb-nodejs-server",
        "wb-browser-extension",
        "wb-google-buddy",
        "gb-client",
    ],
    &["cb-server", "cb-extension", "cb-client-ts"],
];

/// Publishes the ecosystem through `forge`; `actions` is the in-memory forge whose workflow
/// runs answer the dispatches (the forge itself, or the one behind the mock server).
async fn publish_seed_002(forge: Arc<dyn Forge>, actions: &InMemoryForge) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let mut text = String::from(
        "[forge]\nowner = \"eco\"\n[release]\npoll_interval = \"10ms\"\ntimeout = \"60s\"\n[publish]\nconcurrency = 16\n\n",
    );
    for (name, deps) in SEED_002 {
        sandbox
            .create_repo(name, &[("package.json", &package_json(name, deps))])
            .expect("repo");
        git(
            &dir.path().join(name),
            &["tag", "-a", "v0.1.0", "-m", "v0.1.0"],
        )
        .expect("tag");
        let quoted: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        text.push_str(&format!(
            "[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nmanifest = \"package.json\"\ntrigger = \"workflow\"\n\n",
            quoted.join(", ")
        ));
    }
    let file = dir.path().join("orchestrator.toml");
    std::fs::write(&file, text).expect("config");
    let config = Arc::new(Config::load(&file).expect("valid config"));
    for (name, _) in SEED_002 {
        // The two waves the overlap assertion below checks run long enough that their runs
        // overlap however far apart a loaded machine finishes their concurrent bumps and pushes;
        // the other eight waves stay quick, so the test does not grow.
        let in_checked_wave = OVERLAPPING_WAVES.iter().any(|w| w.contains(name));
        actions.configure_workflow(
            &RepoId::new("eco", *name),
            "release.yml",
            WorkflowSimulation {
                run_name: Some("release ${{ inputs.version }} ${{ inputs.correlation_id }}".into()),
                queued_for: Duration::from_millis(10),
                runs_for: Duration::from_millis(if in_checked_wave { 1500 } else { 100 }),
                ..WorkflowSimulation::default()
            },
        );
    }
    let observed = publish::observe(&config, &GixVcs::new(), false)
        .await
        .expect("observe");
    let plan = publish::plan_publish(&config, &PublishRequest::new(BumpRequest::Minor), &observed)
        .expect("plan");
    assert_eq!(plan.waves.len(), 10, "the longest chain: {:?}", plan.waves);
    let store = Arc::new(MemoryStateStore::default());
    let publisher = Publisher::new(
        config.clone(),
        forge,
        Arc::new(GixVcs::new()),
        store.clone(),
    );
    let report = publisher.execute(&plan).await.expect("runs");
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert_eq!(report.with_outcome(PackageOutcome::Released).len(), 16);

    let journal = store.journal(report.run_id).await.expect("journal");
    for (name, deps) in SEED_002 {
        assert_eq!(
            actions.count(ForgeOp::DispatchWorkflow, &RepoId::new("eco", *name)),
            1,
            "{name}: one dispatch"
        );
        for dep in *deps {
            assert!(
                at(&journal, false, &format!("notes:{dep}"))
                    < at(&journal, true, &format!("bump:{name}")),
                "{name} started before {dep} finished"
            );
        }
    }
    // Waves, not a queue: the four packages on top of wb-core, and the three on top of cb-core,
    // were all waiting for their runs at the same moment (each started before any finished).
    for wave in OVERLAPPING_WAVES {
        let last_start = wave
            .iter()
            .map(|p| at(&journal, true, &format!("wait:{p}")))
            .max()
            .expect("wave");
        let first_end = wave
            .iter()
            .map(|p| at(&journal, false, &format!("wait:{p}")))
            .min()
            .expect("wave");
        assert!(last_start < first_end, "{wave:?} ran one after another");
    }
    // The manifests carry the new versions and requirements on the origins.
    let top = git(
        &dir.path().join("origins/chatgpt-buddy.git"),
        &["show", "main:package.json"],
    )
    .expect("show");
    assert!(
        top.contains("\"version\": \"0.2.0\"") && top.contains("\"@eco/cb-core\": \"^0.2.0\""),
        "{top}"
    );
}
