//! The mock's simulated CI: it watches bare origins for pushed tags and derives each release from
//! the time since the tag was first seen, with the same rules as `InMemoryForge`
//! ([`CiSimulation::release_after`]): after the delay a draft, then the assets one by one, each
//! growing while uploading before it settles.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use orchestrator_core::forge::{AssetState, CiRepo, CiSimulation, Release, RepoId, origin_tags};

/// CI state: when each tag was first seen, and the ids its release got.
#[derive(Debug)]
pub(crate) struct Ci {
    sim: CiSimulation,
    /// Where `DIR/<name>.git` origins live, for repos the simulation does not name.
    origins: Option<PathBuf>,
    /// When each tag was first seen: monotonic for the simulation, wall clock for dates.
    pushes: HashMap<(RepoId, String), (Instant, i64)>,
    ids: HashMap<(RepoId, String), u64>,
    /// Tags first seen since the webhook sender last looked, when it looks at all (`None`: the
    /// mock sends no webhooks, nothing is kept).
    fresh: Option<Vec<(RepoId, String, Instant)>>,
}

/// A moment of a CI-made release that GitHub announces (see [`Ci::transitions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CiTransition {
    /// The draft release appears (`release` / `created`).
    Created,
    /// It is no longer a draft (`release` / `published`).
    Published,
    /// This asset finished uploading (`release` / `edited`); the last one makes the release
    /// ready.
    AssetSettled(String),
}

impl Ci {
    pub(crate) fn new(sim: CiSimulation, origins: Option<PathBuf>) -> Self {
        Self {
            sim,
            origins,
            pushes: HashMap::new(),
            ids: HashMap::new(),
            fresh: None,
        }
    }

    /// Keeps the tags first seen from now on for [`Ci::take_fresh`] (the webhook sender).
    pub(crate) fn keep_fresh(&mut self) {
        self.fresh.get_or_insert_with(Vec::new);
    }

    /// The tags first seen since the last call, with the moment each was seen.
    pub(crate) fn take_fresh(&mut self) -> Vec<(RepoId, String, Instant)> {
        self.fresh.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// When, after `tag` of `repo` was first seen, each announced moment of its release comes:
    /// the same story [`CiSimulation::release_after`] tells when read (nothing for a tag CI does
    /// not build or a pipeline that fails; no settling for an asset that never settles).
    pub(crate) fn transitions(&self, repo: &RepoId, tag: &str) -> Vec<(Duration, CiTransition)> {
        // Far enough ahead that every asset that ever settles has.
        let end = Duration::from_secs(10 * 365 * 24 * 3600);
        let Some(done) = self.sim.release_after(repo, tag, end, 0) else {
            return Vec::new();
        };
        let interval = self.sim.asset_interval.max(Duration::from_millis(1));
        let published = self.sim.publish_delay(repo);
        let start = published.saturating_sub(interval / 2);
        let mut moments = vec![
            (start, CiTransition::Created),
            (published, CiTransition::Published),
        ];
        for asset in done
            .assets
            .iter()
            .filter(|a| a.state == AssetState::Uploaded)
        {
            // Asset `i` has id `i + 1` at release id 0, and settles two intervals after CI began.
            let i = u32::try_from(asset.id.saturating_sub(1)).unwrap_or(u32::MAX);
            let settled = start + interval * i.saturating_add(2);
            moments.push((settled, CiTransition::AssetSettled(asset.name.clone())));
        }
        moments
    }

    /// Makes `repo` known to CI (no assets, no origin) if it is not yet.
    pub(crate) fn add_repo(&mut self, repo: &RepoId) {
        self.sim.repos.entry(repo.clone()).or_default();
    }

    /// Repos the simulation names (they exist on the mock from the start).
    pub(crate) fn repos(&self) -> Vec<RepoId> {
        self.sim.repos.keys().cloned().collect()
    }

    /// Whether `repo` is backed by an origin in the origins directory (and so exists). Adds it to
    /// the simulation (no assets) when the simulation did not name it.
    pub(crate) fn adopt(&mut self, repo: &RepoId) -> bool {
        if self.sim.repos.contains_key(repo) {
            return true;
        }
        let Some(origin) = self.origin_in_dir(repo) else {
            return false;
        };
        let ci_repo = CiRepo {
            origin: Some(origin),
            ..CiRepo::default()
        };
        self.sim.repos.insert(repo.clone(), ci_repo);
        true
    }

    /// The bare origin backing `repo`, if any: the simulation's, else the origins directory's.
    pub(crate) fn origin(&self, repo: &RepoId) -> Option<PathBuf> {
        self.sim
            .repos
            .get(repo)
            .and_then(|r| r.origin.clone())
            .filter(|o| is_bare_repo(o))
            .or_else(|| self.origin_in_dir(repo))
    }

    fn origin_in_dir(&self, repo: &RepoId) -> Option<PathBuf> {
        let origin = self.origins.as_ref()?.join(format!("{}.git", repo.name));
        is_bare_repo(&origin).then_some(origin)
    }

    /// Records tags newly seen in the watched origins (all of them, or only `repo`'s).
    pub(crate) fn observe(&mut self, only: Option<&RepoId>) {
        let sim = &self.sim;
        let now = (Instant::now(), orchestrator_core::state::now_ms());
        for (repo, ci_repo) in &sim.repos {
            if only.is_some_and(|o| o != repo) {
                continue;
            }
            let Some(origin) = &ci_repo.origin else {
                continue;
            };
            for tag in origin_tags(origin) {
                if sim.builds(&tag).is_some() {
                    let key = (repo.clone(), tag);
                    if let Entry::Vacant(entry) = self.pushes.entry(key) {
                        if let Some(fresh) = &mut self.fresh {
                            fresh.push((entry.key().0.clone(), entry.key().1.clone(), now.0));
                        }
                        entry.insert(now);
                    }
                }
            }
        }
    }

    /// Records a push announced through the API rather than seen in an origin.
    pub(crate) fn notify_pushed(&mut self, repo: &RepoId, tag: &str) {
        if let Entry::Vacant(entry) = self.pushes.entry((repo.clone(), tag.to_owned())) {
            let now = Instant::now();
            if let Some(fresh) = &mut self.fresh {
                fresh.push((repo.clone(), tag.to_owned(), now));
            }
            entry.insert((now, orchestrator_core::state::now_ms()));
        }
    }

    /// When CI first saw `tag` of `repo` pushed, in ms since the Unix epoch.
    pub(crate) fn seen_ms(&self, repo: &RepoId, tag: &str) -> Option<i64> {
        self.pushes
            .get(&(repo.clone(), tag.to_owned()))
            .map(|(_, ms)| *ms)
    }

    /// Tags of `repo` CI has seen pushed.
    pub(crate) fn pushed_tags(&self, repo: &RepoId) -> Vec<String> {
        let mut tags: Vec<String> = self
            .pushes
            .keys()
            .filter(|(r, _)| r == repo)
            .map(|(_, t)| t.clone())
            .collect();
        tags.sort();
        tags
    }

    /// The release CI has produced for `tag` so far; `next_id` hands out an id when it first
    /// becomes visible.
    pub(crate) fn release(
        &mut self,
        repo: &RepoId,
        tag: &str,
        next_id: impl FnOnce() -> u64,
    ) -> Option<Release> {
        let sim = &self.sim;
        let key = (repo.clone(), tag.to_owned());
        let (pushed, pushed_ms) = *self.pushes.get(&key)?;
        sim.release_after(repo, tag, pushed.elapsed(), 0)?;
        let id = *self.ids.entry(key).or_insert_with(next_id);
        // GitHub dates in whole seconds.
        let mut release = sim.release_at(repo, tag, pushed, pushed_ms, id)?;
        release.published_at_ms = release.published_at_ms.map(|ms| ms / 1000 * 1000);
        Some(release)
    }
}

fn is_bare_repo(path: &Path) -> bool {
    path.join("HEAD").is_file() && path.join("objects").is_dir()
}
