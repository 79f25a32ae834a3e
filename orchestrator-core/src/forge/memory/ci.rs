//! The simulated CI of [`InMemoryForge`](super::InMemoryForge): what a repository's release
//! workflow produces after a tag is pushed, as a pure function of the time since the push, and
//! how CI sees pushed tags in a bare origin. Shared with the mock GitHub server, which serves the
//! same story over HTTP.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::{Config, RepoConfig};
use crate::forge::types::{AssetState, Release, ReleaseAsset, RepoId};
use crate::version::{TagFormat, VERSION_PLACEHOLDER};

/// How a simulated CI pipeline behaves for one repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CiBehaviour {
    /// Release, assets one by one, settle.
    #[default]
    Normal,
    /// The last asset keeps growing and never finishes uploading.
    NeverSettles,
    /// This asset (pattern as configured) is never uploaded.
    MissingAsset(String),
    /// Everything happens this much later.
    Slow(Duration),
    /// The pipeline fails: no release ever appears.
    Fails,
}

/// What CI produces for one repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CiRepo {
    /// Asset names, with `{version}` (no `v`) filled from the tag.
    pub assets: Vec<String>,
    /// A bare origin to watch for pushed tags (`refs/tags/*`, loose or packed).
    pub origin: Option<PathBuf>,
    /// How the pipeline behaves.
    pub behaviour: CiBehaviour,
}

/// The simulated CI of an [`InMemoryForge`](super::InMemoryForge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiSimulation {
    /// Tags that start a release; others are ignored.
    pub tag_format: TagFormat,
    /// Nightly tags (`[publish] nightly_tag`, see [`crate::publish::is_nightly_tag`]) also start
    /// a build: a prerelease whose assets carry the tag where `{version}` stands.
    pub nightly_tag: Option<String>,
    /// From push to the (draft) release.
    pub delay: Duration,
    /// Time each asset takes to upload; assets upload one after another.
    pub asset_interval: Duration,
    /// Visible intermediate sizes of an uploading asset.
    pub growth_steps: u32,
    /// Per repository.
    pub repos: BTreeMap<RepoId, CiRepo>,
}

impl Default for CiSimulation {
    fn default() -> Self {
        Self {
            tag_format: TagFormat::default(),
            nightly_tag: None,
            delay: Duration::from_millis(200),
            asset_interval: Duration::from_millis(100),
            growth_steps: 3,
            repos: BTreeMap::new(),
        }
    }
}

impl CiSimulation {
    /// CI for every repo of `config`: it uploads each configured asset (globs made concrete by
    /// replacing `*` and `?` with `x`) for tags in the config's format, watching the bare origin
    /// `origin_of` gives for the repo.
    pub fn for_config(
        config: &Config,
        delay: Duration,
        asset_interval: Duration,
        origin_of: impl Fn(&RepoConfig) -> Option<PathBuf>,
    ) -> Self {
        let repos = config
            .repos
            .iter()
            .map(|repo| {
                let assets = repo
                    .assets
                    .iter()
                    .map(|a| a.as_str().replace(['*', '?'], "x"))
                    .collect();
                let ci = CiRepo {
                    assets,
                    origin: origin_of(repo),
                    behaviour: CiBehaviour::Normal,
                };
                (repo.github.clone(), ci)
            })
            .collect();
        Self {
            tag_format: config.release.tag.clone(),
            nightly_tag: Some(config.publish.nightly_tag.clone()),
            delay,
            asset_interval,
            repos,
            ..Self::default()
        }
    }
}

impl CiSimulation {
    /// Whether pushing `tag` starts a build, and if so what stands for `{version}` in its asset
    /// names and whether its release is a prerelease.
    pub fn builds(&self, tag: &str) -> Option<(String, bool)> {
        if let Some(version) = self.tag_format.parse_tag(tag) {
            return Some((version.to_string(), version.is_prerelease()));
        }
        self.nightly_tag
            .as_deref()
            .filter(|format| crate::publish::is_nightly_tag(format, tag))
            .map(|_| (tag.to_owned(), true))
    }

    /// From a tag's push to its release being published (no longer a draft), for `repo`.
    pub fn publish_delay(&self, repo: &RepoId) -> Duration {
        let start = match self.repos.get(repo).map(|r| &r.behaviour) {
            Some(CiBehaviour::Slow(extra)) => self.delay + *extra,
            _ => self.delay,
        };
        start + self.asset_interval.max(Duration::from_millis(1)) / 2
    }

    /// [`CiSimulation::release_after`] for a tag pushed at `pushed` (monotonic) or `pushed_ms`
    /// (wall clock), now: with its publication date.
    pub fn release_at(
        &self,
        repo: &RepoId,
        tag: &str,
        pushed: Instant,
        pushed_ms: i64,
        id: u64,
    ) -> Option<Release> {
        let mut release = self.release_after(repo, tag, pushed.elapsed(), id)?;
        if !release.draft {
            let delay = i64::try_from(self.publish_delay(repo).as_millis()).unwrap_or(i64::MAX);
            release.published_at_ms = Some(pushed_ms.saturating_add(delay));
        }
        Some(release)
    }

    /// The release CI has produced for `tag` of `repo` when `since_push` has passed since the tag
    /// was pushed: `None` before `delay` (or for a tag not in [`CiSimulation::tag_format`], a repo
    /// CI does not know, or a failing pipeline); then a draft for half an asset interval; then
    /// the assets appear one by one, each growing while `Uploading` for one interval before it
    /// settles. A pure function of the elapsed time, so every observer sees the same story.
    ///
    /// The release has id `id`; asset `i` (from 0) has id `id * 1000 + i + 1`. URLs use the
    /// `memory://` scheme: HTTP front ends (the mock GitHub server) build their own.
    pub fn release_after(
        &self,
        repo: &RepoId,
        tag: &str,
        since_push: Duration,
        id: u64,
    ) -> Option<Release> {
        let ci_repo = self.repos.get(repo)?;
        let (version, prerelease) = self.builds(tag)?;
        let start = match &ci_repo.behaviour {
            CiBehaviour::Fails => return None,
            CiBehaviour::Slow(extra) => self.delay + *extra,
            _ => self.delay,
        };
        let since_release = since_push.checked_sub(start)?;
        let interval = self.asset_interval.max(Duration::from_millis(1));
        let mut assets = Vec::new();
        for (i, pattern) in ci_repo.assets.iter().enumerate() {
            if ci_repo.behaviour == CiBehaviour::MissingAsset(pattern.clone()) {
                continue;
            }
            let begins = interval * u32::try_from(i + 1).unwrap_or(u32::MAX);
            let Some(uploading_for) = since_release.checked_sub(begins) else {
                break;
            };
            let name = pattern.replace(VERSION_PLACEHOLDER, &version);
            let final_size = 1024 * (i as u64 + 1) + name.len() as u64;
            let last = i + 1 == ci_repo.assets.len();
            let (size, state) = if last && ci_repo.behaviour == CiBehaviour::NeverSettles {
                let grown = uploading_for.as_millis() as u64 / interval.as_millis().max(1) as u64;
                (final_size / 4 + grown * 97 + 1, AssetState::Uploading)
            } else if uploading_for >= interval {
                (final_size, AssetState::Uploaded)
            } else {
                let steps = u64::from(self.growth_steps.max(1));
                let step =
                    (uploading_for.as_nanos() * u128::from(steps) / interval.as_nanos()) as u64;
                (final_size * (step + 1) / (steps + 1), AssetState::Uploading)
            };
            assets.push(ReleaseAsset {
                id: id * 1000 + i as u64 + 1,
                name: name.clone(),
                size,
                state,
                download_url: format!("memory://{repo}/releases/download/{tag}/{name}"),
            });
        }
        Some(Release {
            id,
            tag: tag.to_owned(),
            name: Some(tag.to_owned()),
            body: Some("Built by simulated CI.".into()),
            // A draft for the first half interval: waiters must not accept drafts.
            draft: since_release < interval / 2,
            prerelease,
            html_url: format!("memory://{repo}/releases/tag/{tag}"),
            assets,
            // Filled by the forge that knows when the tag was pushed.
            published_at_ms: None,
        })
    }
}

/// Tag names in a bare repository (`refs/tags/*`, loose and packed), read without running git;
/// empty when `origin` is not a repository. What the simulated CI watches.
pub fn origin_tags(origin: &std::path::Path) -> Vec<String> {
    let mut tags = Vec::new();
    let loose = origin.join("refs").join("tags");
    let mut stack = vec![loose.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(&loose) {
                tags.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    if let Ok(packed) = std::fs::read_to_string(origin.join("packed-refs")) {
        tags.extend(
            packed
                .lines()
                .filter_map(|line| line.split_once(' '))
                .filter_map(|(_, name)| name.strip_prefix("refs/tags/"))
                .map(str::to_owned),
        );
    }
    tags
}
