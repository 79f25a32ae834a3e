//! Fixtures shared by the scenarios: sandbox repos, configs, a simulated forge, counting wrappers.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::config::Config;
use orchestrator_core::error::Result;
use orchestrator_core::forge::{CiBehaviour, CiSimulation, InMemoryForge, RepoId};
use orchestrator_core::release::{ReleaseRequest, Releaser};
use orchestrator_core::state::StateStore;
use orchestrator_core::vcs::{Head, RemoteRefs, Vcs};
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, SandboxRepo, git};

/// A repo in a scenario: name and dependencies.
pub type Spec<'a> = (&'a str, &'a [&'a str]);

/// The diamond used by several scenarios.
pub const DIAMOND: &[Spec<'static>] = &[
    ("base", &[]),
    ("left", &["base"]),
    ("right", &["base"]),
    ("top", &["left", "right"]),
];

/// Sandbox repos, their config and a simulated forge watching their origins.
pub struct World {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub repos: Vec<SandboxRepo>,
    pub config: Arc<Config>,
}

impl World {
    /// Creates repos and a config with fast polling.
    pub fn new(specs: &[Spec<'_>]) -> Self {
        Self::with_release_section(
            specs,
            "poll_interval = \"10ms\"\ntimeout = \"20s\"\nstable_polls = 1\nconcurrency = 8\n",
        )
    }

    pub fn with_release_section(specs: &[Spec<'_>], release: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        let repos: Vec<SandboxRepo> = specs
            .iter()
            .map(|(name, _)| {
                sandbox
                    .create_repo(name, &[("README.md", "hello\n")])
                    .expect("repo")
            })
            .collect();
        let mut text = format!("[forge]\nowner = \"acme\"\n\n[release]\n{release}\n");
        for (name, deps) in specs {
            let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
            text.push_str(&format!(
                "[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nassets = [\"{name}-v{{version}}.tar.gz\", \"{name}-v{{version}}.sha256\"]\n\n",
                deps.join(", ")
            ));
        }
        let file = dir.path().join("orchestrator.toml");
        std::fs::write(&file, &text).expect("write config");
        let config = Arc::new(Config::load(&file).expect("valid config"));
        Self {
            dir,
            sandbox,
            repos,
            config,
        }
    }

    pub fn repo(&self, name: &str) -> &SandboxRepo {
        self.repos
            .iter()
            .find(|r| r.name == name)
            .expect("known repo")
    }

    pub fn id(name: &str) -> RepoId {
        RepoId::new("acme", name)
    }

    /// A forge whose CI watches every origin; `behaviours` override per repo.
    pub fn forge(&self, behaviours: &[(&str, CiBehaviour)]) -> InMemoryForge {
        self.forge_with_delay(behaviours, Duration::from_millis(60))
    }

    /// As [`World::forge`], with CI taking `delay` before the release appears.
    pub fn forge_with_delay(
        &self,
        behaviours: &[(&str, CiBehaviour)],
        delay: Duration,
    ) -> InMemoryForge {
        let mut ci =
            CiSimulation::for_config(&self.config, delay, Duration::from_millis(20), |repo| {
                Some(self.repo(&repo.name).origin.clone())
            });
        ci.growth_steps = 2;
        for (name, behaviour) in behaviours {
            ci.repos
                .get_mut(&Self::id(name))
                .expect("known repo")
                .behaviour = behaviour.clone();
        }
        InMemoryForge::with_ci(ci)
    }

    pub fn releaser(
        &self,
        forge: &InMemoryForge,
        vcs: Arc<dyn Vcs>,
        store: Arc<dyn StateStore>,
    ) -> Releaser {
        Releaser::new(self.config.clone(), Arc::new(forge.clone()), vcs, store)
    }

    /// Tags on the origin of `name`: tag name → peeled commit.
    pub fn origin_tags(&self, name: &str) -> BTreeMap<String, String> {
        let out = git(
            &self.repo(name).origin,
            &[
                "tag",
                "--list",
                "--format=%(refname:short) %(*objectname)%(objectname)",
            ],
        )
        .expect("git tag");
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(t, c)| (t.to_owned(), c.chars().take(40).collect()))
            .collect()
    }

    pub fn local_tags(&self, name: &str) -> Vec<String> {
        git(&self.repo(name).clone, &["tag", "--list"])
            .expect("git tag")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn head(&self, name: &str) -> String {
        git(&self.repo(name).clone, &["rev-parse", "HEAD"]).expect("rev-parse")
    }
}

pub fn request(version: &str) -> ReleaseRequest {
    ReleaseRequest::new(ReleaseVersion::parse(version).expect("valid version"))
}

/// Counts the mutating calls attempted through it; everything else passes through.
#[derive(Debug, Default)]
pub struct CountingVcs {
    inner: GixVcs,
    pub tags: Mutex<Vec<(PathBuf, String)>>,
    pub pushes: Mutex<Vec<(PathBuf, String)>>,
}

impl CountingVcs {
    pub fn tag_count(&self) -> usize {
        self.tags.lock().expect("lock").len()
    }
    pub fn push_count(&self) -> usize {
        self.pushes.lock().expect("lock").len()
    }
}

#[async_trait]
impl Vcs for CountingVcs {
    fn backend(&self) -> &'static str {
        "counting"
    }
    async fn is_repository(&self, path: &Path) -> Result<bool> {
        self.inner.is_repository(path).await
    }
    async fn head(&self, path: &Path) -> Result<Head> {
        self.inner.head(path).await
    }
    async fn dirty_paths(&self, path: &Path) -> Result<Vec<String>> {
        self.inner.dirty_paths(path).await
    }
    async fn remote_url(&self, path: &Path, remote: &str) -> Result<Option<String>> {
        self.inner.remote_url(path, remote).await
    }
    async fn fetch(&self, path: &Path, remote: &str, branch: &str) -> Result<()> {
        self.inner.fetch(path, remote, branch).await
    }
    async fn remote_tracking(
        &self,
        path: &Path,
        remote: &str,
        branch: &str,
    ) -> Result<Option<String>> {
        self.inner.remote_tracking(path, remote, branch).await
    }
    async fn remote_refs(&self, path: &Path, remote: &str, refs: &[String]) -> Result<RemoteRefs> {
        self.inner.remote_refs(path, remote, refs).await
    }
    async fn local_tag(&self, path: &Path, tag: &str) -> Result<Option<String>> {
        self.inner.local_tag(path, tag).await
    }
    async fn create_tag(&self, path: &Path, tag: &str, commit: &str, message: &str) -> Result<()> {
        // Counted on entry: a call dropped mid-flight (a simulated crash) still counts.
        self.tags
            .lock()
            .expect("lock")
            .push((path.to_owned(), tag.to_owned()));
        self.inner.create_tag(path, tag, commit, message).await
    }
    async fn push_tag(&self, path: &Path, remote: &str, tag: &str) -> Result<()> {
        self.pushes
            .lock()
            .expect("lock")
            .push((path.to_owned(), tag.to_owned()));
        self.inner.push_tag(path, remote, tag).await
    }
}
