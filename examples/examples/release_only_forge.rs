//! Bringing your own forge: a backend that serves only releases runs the release wait.
//!
//! The forge is split into capability traits (`ReleaseForge`, `WorkflowForge`, `IssueForge`...),
//! each with every method required. A backend implements the ones it can serve; a feature takes
//! the one it needs. Here the backend is a release mirror: a directory where an artifact sync job
//! drops one JSON file per release (`<owner>/<repo>/<tag>.json`). It implements `ForgeBackend` and
//! `ReleaseForge` (three read methods) and nothing else, with no stub answering `NotSupported`,
//! and `wait_for_assets` (which takes a `&dyn ReleaseForge`) waits on it until the release's
//! assets have settled, while a task playing the sync job publishes the release in two steps.
//!
//! Handing the mirror to something that needs more (a `Workspace`, which holds a full
//! `Arc<dyn Forge>`; `publish`, which dispatches workflows) does not compile: the gap shows where
//! it is used, not at run time. Takes well under a second.
//!
//! ```text
//! cargo run -p orchestrator-examples --example release_only_forge
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use orchestrator_core::engine::{CancelToken, SilentObserver};
use orchestrator_core::forge::{
    AssetState, ForgeBackend, Release, ReleaseAsset, ReleaseForge, RepoId, RequestStats,
};
use orchestrator_core::release::AssetPattern;
use orchestrator_core::release::{WaitSpec, wait_for_assets};
use orchestrator_core::step::StepContext;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_core::{Error, Result};

/// Releases as JSON files under `root/<owner>/<repo>/<tag>.json`, as a sync job mirrors them.
#[derive(Debug)]
struct ReleaseMirror {
    root: PathBuf,
    reads: AtomicU64,
}

impl ReleaseMirror {
    fn dir(&self, repo: &RepoId) -> PathBuf {
        self.root.join(&repo.owner).join(&repo.name)
    }

    /// One release file; `None` when the sync job has not written it yet.
    fn read(&self, path: &Path) -> Result<Option<Release>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // A mirror on a network share comes and goes: let the wait retry.
            Err(e) => {
                return Err(Error::Transient {
                    message: format!("reading {}: {e}", path.display()),
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Transient {
                message: format!("{} is not a release: {e}", path.display()),
            })
    }
}

impl ForgeBackend for ReleaseMirror {
    fn backend(&self) -> &'static str {
        "release-mirror"
    }

    fn request_stats(&self) -> RequestStats {
        let reads = self.reads.load(Ordering::Relaxed);
        RequestStats {
            requests: reads,
            ..RequestStats::default()
        }
    }
}

#[async_trait]
impl ReleaseForge for ReleaseMirror {
    async fn release_by_tag(&self, repo: &RepoId, tag: &str) -> Result<Option<Release>> {
        self.read(&self.dir(repo).join(format!("{tag}.json")))
    }

    async fn list_releases(&self, repo: &RepoId) -> Result<Vec<Release>> {
        let Ok(entries) = std::fs::read_dir(self.dir(repo)) else {
            return Ok(Vec::new());
        };
        let mut releases = Vec::new();
        for entry in entries.flatten() {
            releases.extend(self.read(&entry.path())?);
        }
        releases.sort_by_key(|r| std::cmp::Reverse(r.id));
        Ok(releases)
    }

    async fn latest_release(&self, repo: &RepoId) -> Result<Option<Release>> {
        let releases = self.list_releases(repo).await?;
        Ok(releases.into_iter().find(|r| !r.draft && !r.prerelease))
    }
}

/// What the sync job writes: the release of `tag`, a draft until it has every asset.
fn release(tag: &str, assets: &[&str]) -> Release {
    Release {
        id: 7,
        tag: tag.to_owned(),
        name: Some(tag.to_owned()),
        body: None,
        draft: assets.len() < 2,
        prerelease: false,
        html_url: format!("https://mirror.example/acme/engine/{tag}"),
        assets: assets
            .iter()
            .enumerate()
            .map(|(i, name)| ReleaseAsset {
                id: 70 + i as u64,
                name: (*name).to_owned(),
                size: 4096,
                state: AssetState::Uploaded,
                download_url: format!("https://mirror.example/acme/engine/{tag}/{name}"),
            })
            .collect(),
        published_at_ms: None,
    }
}

/// Writes a release file whole (write, then rename), as a careful sync job does.
fn publish(dir: &Path, release: &Release) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let partial = dir.join(format!(".{}.json.partial", release.tag));
    std::fs::write(&partial, serde_json::to_vec_pretty(release)?)?;
    std::fs::rename(partial, dir.join(format!("{}.json", release.tag)))?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let mirror = Arc::new(ReleaseMirror {
        root: root.path().to_owned(),
        reads: AtomicU64::new(0),
    });
    let repo = RepoId::new("acme", "engine");
    let version = ReleaseVersion::parse("2.1.0")?;
    let spec = WaitSpec {
        repo: repo.clone(),
        tag: "v2.1.0".into(),
        patterns: ["engine-v{version}.tar.gz", "engine-v{version}.sha256"]
            .iter()
            .map(|p| Ok(AssetPattern::parse(p)?.for_version(&version)))
            .collect::<Result<_>>()?,
        poll_interval: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
        stable_polls: 1,
        fresh_tag: false,
    };

    // The sync job: first a draft with one asset, then the published release with both.
    let dir = mirror.dir(&repo);
    let sync = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        publish(&dir, &release("v2.1.0", &["engine-v2.1.0.tar.gz"]))?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let both = ["engine-v2.1.0.tar.gz", "engine-v2.1.0.sha256"];
        publish(&dir, &release("v2.1.0", &both))
    });

    let ctx = StepContext::new("wait", Arc::new(SilentObserver), CancelToken::new());
    // `&ReleaseMirror` coerces to `&dyn ReleaseForge`: all the wait asks of a forge.
    let report = wait_for_assets(mirror.as_ref(), &spec, &ctx).await?;
    sync.await??;

    println!(
        "release {} of {repo} settled on the {} backend:",
        spec.tag,
        mirror.backend()
    );
    for (name, size) in &report.assets {
        println!("  {name} ({size} bytes)");
    }
    println!(
        "{} polls, {} file reads",
        report.polls,
        mirror.request_stats().requests
    );
    let latest = mirror.latest_release(&repo).await?;
    println!(
        "latest published release: {}",
        latest.map_or_else(|| "none".to_owned(), |r| r.tag)
    );
    Ok(())
}
