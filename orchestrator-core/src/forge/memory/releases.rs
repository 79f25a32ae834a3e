//! Releases in [`InMemoryForge`]: those made through the API and those the simulated CI makes
//! for pushed tags, merged into one view (CI-made releases keep stable ids and remember edits),
//! and the API's release operations over them.

use std::time::Instant;

use super::ci::origin_tags;
use super::{InMemoryForge, State};
use crate::error::{Error, Result};
use crate::forge::types::{AssetState, NewRelease, Release, ReleaseAsset, ReleaseUpdate, RepoId};

/// When CI saw a tag pushed: a monotonic instant for the simulation's clock, and the wall time
/// for the dates a forge shows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pushed {
    at: Instant,
    at_ms: i64,
}

impl Pushed {
    fn now() -> Self {
        Self {
            at: Instant::now(),
            at_ms: crate::state::now_ms(),
        }
    }
}

impl InMemoryForge {
    /// Tells CI that `tag` was pushed to `repo` now (for repos whose origin is not watched).
    pub fn notify_tag_pushed(&self, repo: &RepoId, tag: &str) {
        let mut state = self.lock();
        state
            .repos
            .entry(repo.clone())
            .or_default()
            .pushes
            .entry(tag.to_owned())
            .or_insert_with(Pushed::now);
    }
}

impl State {
    /// Records pushes CI can see in the watched origin of `repo`.
    fn observe_origin(&mut self, repo: &RepoId) {
        let Some(origin) = self
            .ci
            .as_ref()
            .and_then(|ci| ci.repos.get(repo))
            .and_then(|r| r.origin.clone())
        else {
            return;
        };
        let now = Pushed::now();
        let pushes = &mut self.repos.entry(repo.clone()).or_default().pushes;
        for tag in origin_tags(&origin) {
            pushes.entry(tag).or_insert(now);
        }
    }

    /// The release CI has produced so far for `tag`, if any.
    fn ci_release(&mut self, repo: &RepoId, tag: &str) -> Option<Release> {
        let pushed = *self.repos.get(repo)?.pushes.get(tag)?;
        let since_push = pushed.at.elapsed();
        // Ids are handed out when the release first becomes visible, as a real forge would.
        self.ci.as_ref()?.release_after(repo, tag, since_push, 0)?;
        let id = self.ci_id(repo, tag);
        let mut release = self
            .ci
            .as_ref()?
            .release_at(repo, tag, pushed.at, pushed.at_ms, id)?;
        if let Some(update) = self.repos.get(repo).and_then(|r| r.ci_updates.get(&id)) {
            release.apply_update(update);
        }
        Some(release)
    }

    /// Every release of `repo` as of now (API-made and CI-made), newest first.
    pub(super) fn all_releases(&mut self, repo: &RepoId) -> Vec<Release> {
        self.observe_origin(repo);
        let mut tags: Vec<String> = self
            .repos
            .get(repo)
            .map(|r| r.releases.keys().chain(r.pushes.keys()).cloned().collect())
            .unwrap_or_default();
        tags.sort();
        tags.dedup();
        let mut releases: Vec<Release> =
            tags.iter().filter_map(|t| self.release(repo, t)).collect();
        releases.sort_by_key(|r| std::cmp::Reverse(r.id));
        releases
    }

    /// The id of CI's release of `tag`, handed out on first sight and stable after.
    fn ci_id(&mut self, repo: &RepoId, tag: &str) -> u64 {
        if let Some(id) = self.repos.get(repo).and_then(|r| r.ci_ids.get(tag)) {
            return *id;
        }
        let id = self.fresh_id();
        self.repos
            .entry(repo.clone())
            .or_default()
            .ci_ids
            .insert(tag.to_owned(), id);
        id
    }

    /// The release of `tag` as of now: the one made through the API, else the one CI made.
    pub(super) fn release(&mut self, repo: &RepoId, tag: &str) -> Option<Release> {
        self.observe_origin(repo);
        if let Some(release) = self.repos.get(repo).and_then(|r| r.releases.get(tag)) {
            return Some(release.clone());
        }
        self.ci_release(repo, tag)
    }

    /// Creates a release through the API; `AlreadyExists` when one (API- or CI-made) has the tag.
    pub(super) fn create_release(
        &mut self,
        repo: &RepoId,
        release: &NewRelease,
    ) -> Result<Release> {
        if self.release(repo, &release.tag).is_some() {
            return Err(Error::AlreadyExists {
                what: format!("release {} of {repo}", release.tag),
            });
        }
        let id = self.fresh_id();
        let created = Release {
            id,
            tag: release.tag.clone(),
            name: release.name.clone(),
            body: release.body.clone(),
            draft: release.draft,
            prerelease: release.prerelease,
            html_url: format!("memory://{repo}/releases/tag/{}", release.tag),
            assets: Vec::new(),
            published_at_ms: (!release.draft).then(crate::state::now_ms),
        };
        self.repos
            .entry(repo.clone())
            .or_default()
            .releases
            .insert(release.tag.clone(), created.clone());
        Ok(created)
    }

    /// Uploads an asset to a release made through the API (CI uploads its own).
    pub(super) fn upload_asset(
        &mut self,
        repo: &RepoId,
        release_id: u64,
        name: &str,
        content: &[u8],
    ) -> Result<ReleaseAsset> {
        let id = self.fresh_id();
        let release = self
            .repos
            .get_mut(repo)
            .and_then(|r| r.releases.values_mut().find(|rel| rel.id == release_id))
            .ok_or_else(|| Error::NotFound {
                what: format!("release id {release_id} of {repo}"),
            })?;
        if release.assets.iter().any(|a| a.name == name) {
            return Err(Error::AlreadyExists {
                what: format!("asset {name} of release {} of {repo}", release.tag),
            });
        }
        let asset = ReleaseAsset {
            id,
            name: name.to_owned(),
            size: content.len() as u64,
            state: AssetState::Uploaded,
            download_url: format!("memory://{repo}/releases/download/{}/{name}", release.tag),
        };
        release.assets.push(asset.clone());
        Ok(asset)
    }

    /// Edits a release: an API-made one in place; a CI-made one by remembering the edit, which
    /// every later view of it applies (CI's release is recomputed from the clock on each read).
    pub(super) fn update_release(
        &mut self,
        repo: &RepoId,
        release_id: u64,
        update: &ReleaseUpdate,
    ) -> Result<Release> {
        let made = self
            .repos
            .get_mut(repo)
            .and_then(|r| r.releases.values_mut().find(|rel| rel.id == release_id));
        if let Some(release) = made {
            release.apply_update(update);
            return Ok(release.clone());
        }
        let ci_made = self
            .all_releases(repo)
            .into_iter()
            .find(|r| r.id == release_id)
            .ok_or_else(|| Error::NotFound {
                what: format!("release id {release_id} of {repo}"),
            })?;
        let edits = self.repo(repo).ci_updates.entry(release_id).or_default();
        for (field, value) in [
            (&mut edits.name, &update.name),
            (&mut edits.body, &update.body),
        ] {
            if value.is_some() {
                field.clone_from(value);
            }
        }
        edits.draft = update.draft.or(edits.draft);
        edits.prerelease = update.prerelease.or(edits.prerelease);
        let mut release = ci_made;
        release.apply_update(update);
        Ok(release)
    }
}
