//! Seed 004's bllvm ecosystem (two independent chains) cascaded for real over sandbox git repos
//! and the in-memory forge's simulated CI, which builds pushed tags from the bare origins:
//! - a change in consensus-proof releases exactly consensus-proof, protocol-engine and
//!   reference-node, in dependency order, and records them in `versions.toml`;
//! - a nightly cascade from developer-sdk tags developer-sdk and governance-app
//!   `nightly-YYYYMMDD-<sha>` at their HEADs, as prereleases with their assets, and changes no
//!   manifest, branch or coordination manifest.
//!
//! Each runs twice: on the in-memory forge, and through `GitHubForge` over HTTP against the mock
//! GitHub server (same simulated CI), so the adapter's release and dispatch paths are covered.
//!
//! Asserted on the order of journal events and on the repos' and forge's end state, never on
//! wall-clock time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orchestrator_core::config::Config;
use orchestrator_core::forge::{CiSimulation, Forge, InMemoryForge, RepoId};
use orchestrator_core::publish::{self, PackageOutcome, PublishOptions, Publisher};
use orchestrator_core::secret::SecretString;
use orchestrator_core::seeds::SEED_004;
use orchestrator_core::state::{
    JournalEntry, JournalRecord, MemoryStateStore, RunStatus, StateStore,
};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, git};
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions};

/// 2026-11-25T02:00:00Z, the seed's nightly schedule.
const NIGHT_MS: i64 = 1_795_572_000_000;

fn cargo_toml(name: &str, deps: &[&str]) -> String {
    let deps: Vec<String> = deps
        .iter()
        .map(|d| format!("{d} = {{ version = \"0.4.0\", path = \"../{d}\" }}"))
        .collect();
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.4.0\" # bumped by the orchestrator\nedition = \"2024\"\n\n[dependencies]\n{}\n",
        deps.join("\n")
    )
}

/// Which forge the ecosystem runs against.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Memory,
    Http,
}

struct Ecosystem {
    dir: tempfile::TempDir,
    config: Arc<Config>,
    forge: Arc<dyn Forge>,
    /// Kept alive for the HTTP backend.
    _server: Option<MockGitHub>,
}

impl Ecosystem {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        // The orchestrator's own repo holds versions.toml, as bllvm's does; publish commits and
        // pushes it there.
        sandbox
            .create_repo("bllvm", &[("versions.toml", "# bllvm ecosystem\n")])
            .expect("repo");
        let mut text = String::from(
            "[forge]\nowner = \"bllvm\"\n[release]\npoll_interval = \"10ms\"\ntimeout = \"60s\"\nstable_polls = 1\n\
             [publish]\ncoordination = \"bllvm/versions.toml\"\ncoordination_commit = \"push\"\n\n",
        );
        for (name, deps) in SEED_004 {
            sandbox
                .create_repo(name, &[("Cargo.toml", &cargo_toml(name, deps))])
                .expect("repo");
            git(
                &dir.path().join(name),
                &["tag", "-a", "v0.4.0", "-m", "v0.4.0"],
            )
            .expect("tag");
            let quoted: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
            text.push_str(&format!(
                "[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nmanifest = \"Cargo.toml\"\n\
                 assets = [\"{name}-{{version}}-x86_64-linux.tar.gz\", \"SHA256SUMS\"]\n\n",
                quoted.join(", ")
            ));
        }
        let file = dir.path().join("orchestrator.toml");
        std::fs::write(&file, text).expect("config");
        let config = Config::load(&file).expect("valid config");
        let origins = dir.path().join("origins");
        let ci = CiSimulation::for_config(
            &config,
            Duration::from_millis(30),
            Duration::from_millis(10),
            |repo| Some(origins.join(format!("{}.git", repo.name))),
        );
        let (forge, server): (Arc<dyn Forge>, _) = match backend {
            Backend::Memory => (Arc::new(InMemoryForge::with_ci(ci)), None),
            Backend::Http => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let server = MockGitHub::start(MockOptions::default().ci(ci))
                    .await
                    .expect("mock server starts");
                let forge = GitHubForge::builder()
                    .api_url(server.url())
                    .token(Some(SecretString::new("ghp_seed004")))
                    .build()
                    .expect("forge builds");
                (Arc::new(forge), Some(server))
            }
        };
        Self {
            dir,
            config: Arc::new(config),
            forge,
            _server: server,
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn origin(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(format!("origins/{name}.git"))
    }

    fn origin_tags(&self, name: &str) -> Vec<String> {
        let mut tags: Vec<String> = git(&self.origin(name), &["tag", "--list"])
            .expect("tags")
            .lines()
            .map(str::to_owned)
            .collect();
        tags.sort();
        tags
    }

    async fn cascade(
        &self,
        from: Option<&str>,
        nightly: bool,
    ) -> (publish::PublishReport, Vec<JournalRecord>) {
        let vcs = GixVcs::new();
        let observed = publish::observe(&self.config, &vcs, false)
            .await
            .expect("observe");
        let plan = publish::plan_cascade(&self.config, &vcs, &observed, from, nightly, NIGHT_MS)
            .await
            .expect("plan");
        let store = Arc::new(MemoryStateStore::default());
        let publisher = Publisher::new(
            self.config.clone(),
            self.forge.clone(),
            Arc::new(GixVcs::new()),
            store.clone(),
        );
        let options = PublishOptions {
            nightly,
            kind: Some(publish::CASCADE_RUN_KIND.to_owned()),
            ..PublishOptions::default()
        };
        let report = publisher.execute_with(&plan, &options).await.expect("runs");
        let journal = store.journal(report.run_id).await.expect("journal");
        (report, journal)
    }
}

/// Where in the journal `step` first started (`started`) or succeeded.
fn at(journal: &[JournalRecord], started: bool, step: &str) -> usize {
    journal
        .iter()
        .position(|r| {
            r.entry.step() == Some(step)
                && if started {
                    matches!(r.entry, JournalEntry::StepStarted { .. })
                } else {
                    matches!(r.entry, JournalEntry::StepSucceeded { .. })
                }
        })
        .unwrap_or_else(|| panic!("no entry for {step} (started: {started})"))
}

fn show(path: &Path, what: &str) -> String {
    git(path, &["show", what]).expect("git show")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_in_consensus_proof_releases_exactly_its_chain_in_order() {
    chain_cascade(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_in_consensus_proof_releases_exactly_its_chain_over_http() {
    chain_cascade(Backend::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nightly_cascade_tags_heads_as_prereleases_and_bumps_nothing() {
    nightly_cascade(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nightly_cascade_over_http_tags_heads_as_prereleases() {
    nightly_cascade(Backend::Http).await;
}

async fn chain_cascade(backend: Backend) {
    let eco = Ecosystem::new(backend).await;
    let (report, journal) = eco.cascade(Some("consensus-proof"), false).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    let released = report.with_outcome(PackageOutcome::Released);
    assert_eq!(
        released,
        ["consensus-proof", "protocol-engine", "reference-node"],
        "exactly the chain, in dependency order"
    );
    for (name, deps) in SEED_004 {
        let pushed = eco.origin_tags(name);
        if released.contains(name) {
            assert_eq!(pushed, ["v0.4.1"], "{name}");
            let release = eco
                .forge
                .release_by_tag(&RepoId::new("bllvm", *name), "v0.4.1")
                .await
                .expect("lookup")
                .expect("CI built it");
            assert!(!release.draft && !release.prerelease);
            assert_eq!(release.assets.len(), 2, "{name}: {release:?}");
            for dep in *deps {
                assert!(
                    at(&journal, false, &format!("notes:{dep}"))
                        < at(&journal, true, &format!("bump:{name}")),
                    "{name} started before {dep} settled"
                );
            }
        } else {
            assert!(pushed.is_empty(), "{name} is not downstream: untouched");
        }
    }
    // reference-node was built against the new versions of both of its dependencies.
    let manifest = show(&eco.origin("reference-node"), "main:Cargo.toml");
    assert!(
        manifest.contains("version = \"0.4.1\" # bumped by the orchestrator")
            && manifest.contains(
                "protocol-engine = { version = \"0.4.1\", path = \"../protocol-engine\" }"
            )
            && manifest.contains(
                "consensus-proof = { version = \"0.4.1\", path = \"../consensus-proof\" }"
            ),
        "{manifest}"
    );
    // Recorded, committed alone and pushed in the orchestrator's repo.
    let versions = show(&eco.origin("bllvm"), "main:versions.toml");
    assert!(versions.starts_with("# bllvm ecosystem\n"), "{versions}");
    assert_eq!(
        git(&eco.origin("bllvm"), &["log", "--format=%s", "main"])
            .expect("log")
            .lines()
            .next(),
        Some("chore(release): record ecosystem-v0.4.1 in versions.toml")
    );
    assert_eq!(
        git(&eco.path("bllvm"), &["status", "--porcelain"]).expect("status"),
        ""
    );
    let recorded = publish::read_coordination(&versions).expect("valid");
    assert_eq!(
        recorded.keys().map(String::as_str).collect::<Vec<_>>(),
        ["consensus-proof", "protocol-engine", "reference-node"]
    );
    assert_eq!(
        recorded["reference-node"].requires,
        ["protocol-engine=0.4.1", "consensus-proof=0.4.1"]
    );
    assert_eq!(
        recorded["protocol-engine"].git_commit,
        git(&eco.path("protocol-engine"), &["rev-list", "-n1", "v0.4.1"])
            .expect("rev-list")
            .trim()
    );
}

async fn nightly_cascade(backend: Backend) {
    let eco = Ecosystem::new(backend).await;
    let heads: Vec<(String, String)> = ["developer-sdk", "governance-app"]
        .iter()
        .map(|n| {
            let head = git(&eco.path(n), &["rev-parse", "HEAD"]).expect("head");
            ((*n).to_owned(), head.trim().to_owned())
        })
        .collect();
    let (report, journal) = eco.cascade(Some("developer-sdk"), true).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert_eq!(
        report.with_outcome(PackageOutcome::Released),
        ["developer-sdk", "governance-app"]
    );
    assert!(
        at(&journal, false, "notes:developer-sdk") < at(&journal, true, "tag:governance-app"),
        "governance-app built before developer-sdk settled"
    );
    assert!(
        !journal.iter().any(|r| r
            .entry
            .step()
            .is_some_and(|s| s.starts_with("bump:") || s == "coordination" || s == "umbrella")),
        "a nightly bumps, records and umbrellas nothing"
    );
    for (name, head) in &heads {
        let tag = format!("nightly-20261125-{}", &head[..7]);
        assert_eq!(eco.origin_tags(name), std::slice::from_ref(&tag), "{name}");
        assert_eq!(
            git(&eco.origin(name), &["rev-list", "-n1", &tag])
                .expect("rev-list")
                .trim(),
            head,
            "{name}: the nightly tag is at HEAD"
        );
        assert_eq!(
            git(&eco.origin(name), &["rev-parse", "main"])
                .expect("main")
                .trim(),
            head,
            "{name}: no release commit"
        );
        let release = eco
            .forge
            .release_by_tag(&RepoId::new("bllvm", name.as_str()), &tag)
            .await
            .expect("lookup")
            .expect("CI built the nightly");
        assert!(release.prerelease && !release.draft, "{release:?}");
        assert!(
            release
                .assets
                .iter()
                .any(|a| a.name == format!("{name}-{tag}-x86_64-linux.tar.gz")),
            "{release:?}"
        );
    }
    for untouched in ["consensus-proof", "protocol-engine", "reference-node"] {
        assert!(eco.origin_tags(untouched).is_empty(), "{untouched}");
    }
    assert!(
        std::fs::read_to_string(&eco.config.publish.coordination).expect("versions.toml")
            == "# bllvm ecosystem\n",
        "a nightly records nothing"
    );
    assert_eq!(
        git(&eco.origin("bllvm"), &["rev-list", "--count", "main"])
            .expect("count")
            .trim(),
        "1",
        "nor commits anything"
    );
}

/// Seed 004's nightly: `build_all` (`cascade --all --nightly`) tags every repo's HEAD as a
/// prerelease, the two independent chains side by side (each chain's root started before either
/// finished).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nightly_of_everything_tags_every_repo_with_both_chains_side_by_side() {
    let eco = Ecosystem::new(Backend::Memory).await;
    let (report, journal) = eco.cascade(None, true).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert_eq!(report.with_outcome(PackageOutcome::Released).len(), 5);
    for (name, _) in SEED_004 {
        let tags = eco.origin_tags(name);
        assert!(
            tags.len() == 1 && tags[0].starts_with("nightly-20261125-"),
            "{name}: {tags:?}"
        );
    }
    let roots = ["consensus-proof", "developer-sdk"];
    let last_start = roots
        .iter()
        .map(|r| at(&journal, true, &format!("tag:{r}")))
        .max()
        .expect("roots");
    let first_end = roots
        .iter()
        .map(|r| at(&journal, false, &format!("notes:{r}")))
        .min()
        .expect("roots");
    assert!(last_start < first_end, "the chains ran one after the other");
}
