//! `InMemoryForge`: a complete forge over a map behind a lock, with simulated CI and faults.
//!
//! It is not a mock: it keeps real state and passes the same conformance suite as the GitHub
//! adapter. Its CI simulation stands in for the release workflows of real repos: once a tag is
//! pushed (seen in a watched bare origin, or announced with [`InMemoryForge::notify_tag_pushed`]),
//! a release appears after a delay, first as a draft, then its assets appear one by one, each
//! growing while "uploading" before it settles. The state is computed from the elapsed time, so no
//! background task runs and a fresh process watching the same origins sees the same story.
//!
//! Workflow runs are simulated the same way (`workflows`): a dispatch records a run titled from
//! the workflow's `run-name` template, `queued`, then `in_progress`, then `completed` as time
//! passes, with a scripted or `success` conclusion. Pull requests, labels, comments and
//! permissions (`collab`), and reviews, pull-request commits and files, file contents and
//! comparisons (`trust`: the facts a trusted approval is read from) are plain state; test hooks
//! ([`InMemoryForge::set_user`], [`InMemoryForge::comment_as`],
//! [`InMemoryForge::edit_comment_as`], [`InMemoryForge::review_as`],
//! [`InMemoryForge::push_to_pull_request_as`], [`InMemoryForge::set_permission`],
//! [`InMemoryForge::configure_workflow`]...) play the other people and the CI around the
//! orchestrator. Labels live on pull requests only, comments on pull requests and issues (other
//! numbers are `NotFound`), and a pull request's head branch need not exist.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::Forge;
use super::types::{
    AssetState, Comment, Comparison, Issue, NewPullRequest, NewRelease, Permission, PullCommit,
    PullRequest, Release, ReleaseAsset, ReleaseUpdate, RepoId, RequestStats, Review, ReviewState,
    WorkflowDispatch, WorkflowRun, WorkflowRunQuery,
};
use crate::config::{Config, RepoConfig};
use crate::error::{Error, Result};
use crate::version::{TagFormat, VERSION_PLACEHOLDER};

mod collab;
mod identity;
mod trust;
mod workflows;

pub use collab::DEFAULT_USER;
pub use workflows::{DEFAULT_BRANCH, RepositoryDispatchRecord, WorkflowSimulation};

/// The operations of [`InMemoryForge`], for fault rules and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForgeOp {
    /// [`Forge::release_by_tag`].
    ReleaseByTag,
    /// [`Forge::list_releases`].
    ListReleases,
    /// [`Forge::create_release`].
    CreateRelease,
    /// [`Forge::upload_asset`].
    UploadAsset,
    /// [`Forge::latest_release`].
    LatestRelease,
    /// [`Forge::update_release`].
    UpdateRelease,
    /// [`Forge::dispatch_workflow`].
    DispatchWorkflow,
    /// [`Forge::list_workflow_runs`].
    ListWorkflowRuns,
    /// [`Forge::workflow_run`].
    WorkflowRun,
    /// [`Forge::repository_dispatch`].
    RepositoryDispatch,
    /// [`Forge::create_branch`].
    CreateBranch,
    /// [`Forge::create_pull_request`].
    CreatePullRequest,
    /// [`Forge::pull_request`].
    PullRequest,
    /// [`Forge::add_labels`].
    AddLabels,
    /// [`Forge::remove_label`].
    RemoveLabel,
    /// [`Forge::create_comment`].
    CreateComment,
    /// [`Forge::list_comments`].
    ListComments,
    /// [`Forge::permission`].
    Permission,
    /// [`Forge::create_issue`].
    CreateIssue,
    /// [`Forge::issue`].
    Issue,
    /// [`Forge::update_issue_body`].
    UpdateIssue,
    /// [`Forge::comment`].
    Comment,
    /// [`Forge::update_comment`].
    UpdateComment,
    /// [`Forge::list_reviews`].
    ListReviews,
    /// [`Forge::create_review`].
    CreateReview,
    /// [`Forge::list_pull_commits`].
    ListPullCommits,
    /// [`Forge::list_pull_files`].
    ListPullFiles,
    /// [`Forge::list_pull_requests`].
    ListPullRequests,
    /// [`Forge::file_contents`].
    FileContents,
    /// [`Forge::compare_commits`].
    CompareCommits,
    /// [`Forge::current_user`].
    CurrentUser,
}

/// An injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A 5xx or connection error.
    Transient,
    /// A rate limit with a reset delay.
    RateLimited {
        /// The advertised wait.
        retry_after: Duration,
    },
    /// A 401.
    Unauthenticated,
    /// A 403 that is not a rate limit.
    PermissionDenied,
}

impl Fault {
    fn to_error(&self, op: ForgeOp, repo: &RepoId) -> Error {
        let message = format!("injected fault on {op:?} for {repo}");
        match self {
            Fault::Transient => Error::Transient { message },
            Fault::RateLimited { retry_after } => Error::RateLimited {
                retry_after: Some(*retry_after),
                message,
            },
            Fault::Unauthenticated => Error::Unauthenticated { message },
            Fault::PermissionDenied => Error::PermissionDenied { message },
        }
    }
}

/// Fail the next `times` matching requests with `fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Only this operation (any when `None`).
    pub op: Option<ForgeOp>,
    /// Only this repository (any when `None`).
    pub repo: Option<RepoId>,
    /// How many requests to fail.
    pub times: u32,
    /// The failure.
    pub fault: Fault,
}

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

/// The simulated CI of an [`InMemoryForge`].
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

/// One request as the forge saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The operation.
    pub op: ForgeOp,
    /// The repository.
    pub repo: RepoId,
    /// The tag, release id or asset name involved.
    pub detail: String,
    /// `None` on success, else the error message.
    pub error: Option<String>,
}

/// A real, in-process forge; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct InMemoryForge {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    ci: Option<CiSimulation>,
    repos: HashMap<RepoId, RepoState>,
    next_id: u64,
    rules: Vec<FaultRule>,
    fault_rate: f64,
    rng: u64,
    log: Vec<RequestRecord>,
    stats: RequestStats,
    /// The login of the "token" (see [`InMemoryForge::set_user`]).
    user: Option<String>,
}

/// When CI saw a tag pushed: a monotonic instant for the simulation's clock, and the wall time
/// for the dates a forge shows.
#[derive(Debug, Clone, Copy)]
struct Pushed {
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

#[derive(Debug, Default)]
struct RepoState {
    /// Releases made through the API, by tag.
    releases: BTreeMap<String, Release>,
    /// Tags CI has seen pushed, and when.
    pushes: BTreeMap<String, Pushed>,
    /// Stable ids for CI-made releases and assets, by tag.
    ci_ids: HashMap<String, u64>,
    /// Edits of CI-made releases ([`Forge::update_release`]), by release id.
    ci_updates: HashMap<u64, ReleaseUpdate>,
    /// Branch (short name) → commit.
    branches: BTreeMap<String, String>,
    /// Workflow runs, oldest first.
    runs: Vec<workflows::RunRecord>,
    /// Workflow file name → how its runs behave.
    workflows: BTreeMap<String, WorkflowSimulation>,
    /// (input substring, conclusion) rules for runs.
    input_rules: Vec<(String, String)>,
    /// `repository_dispatch` events received.
    dispatches: Vec<RepositoryDispatchRecord>,
    /// Pull requests by number.
    pulls: BTreeMap<u64, PullRequest>,
    /// Issues (not pull requests) by number.
    issues: BTreeMap<u64, Issue>,
    /// The last issue/pull-request number handed out.
    next_number: u64,
    /// Comments by issue/pull-request number, oldest first.
    comments: BTreeMap<u64, Vec<Comment>>,
    /// User → permission.
    permissions: HashMap<String, Permission>,
    /// Reviews by pull-request number, oldest first.
    reviews: BTreeMap<u64, Vec<Review>>,
    /// Commits by pull-request number, oldest first.
    pull_commits: BTreeMap<u64, Vec<PullCommit>>,
    /// The paths each pull request changes (set by a test hook; empty until then).
    pull_files: BTreeMap<u64, Vec<String>>,
    /// File contents by (git ref as stored, path).
    files: BTreeMap<(String, String), Vec<u8>>,
    /// Scripted comparisons by (base, head), taking precedence over the derived ones.
    comparisons: BTreeMap<(String, String), Comparison>,
}

impl InMemoryForge {
    /// An empty forge without CI.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty forge whose CI simulation produces releases for pushed tags.
    pub fn with_ci(ci: CiSimulation) -> Self {
        let forge = Self::default();
        forge.lock().ci = Some(ci);
        forge
    }

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

    /// Fails matching future requests.
    pub fn inject(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    /// Fails this fraction of all requests with a transient error, reproducibly from `seed`.
    pub fn set_fault_rate(&self, rate: f64, seed: u64) {
        let mut state = self.lock();
        state.fault_rate = rate.clamp(0.0, 1.0);
        state.rng = seed | 1;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    /// How many requests of `op` for `repo` were made.
    pub fn count(&self, op: ForgeOp, repo: &RepoId) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| r.op == op && &r.repo == repo)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Logs the request and applies fault rules; the error, if any, is what the caller returns.
    fn begin(state: &mut State, op: ForgeOp, repo: &RepoId, detail: &str) -> Result<()> {
        state.stats.requests += 1;
        state.stats.rate_limited += 1;
        let mut error = None;
        if let Some(rule) = state.rules.iter_mut().find(|rule| {
            rule.times > 0
                && rule.op.is_none_or(|o| o == op)
                && rule.repo.as_ref().is_none_or(|r| r == repo)
        }) {
            rule.times -= 1;
            error = Some(rule.fault.to_error(op, repo));
        } else if state.fault_rate > 0.0 && state.next_random() < state.fault_rate {
            error = Some(Fault::Transient.to_error(op, repo));
        }
        state.log.push(RequestRecord {
            op,
            repo: repo.clone(),
            detail: detail.to_owned(),
            error: error.as_ref().map(ToString::to_string),
        });
        error.map_or(Ok(()), Err)
    }
}

impl State {
    /// xorshift64*: enough for reproducible fault rates without a dependency.
    fn next_random(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

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
    fn all_releases(&mut self, repo: &RepoId) -> Vec<Release> {
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

    fn release(&mut self, repo: &RepoId, tag: &str) -> Option<Release> {
        self.observe_origin(repo);
        if let Some(release) = self.repos.get(repo).and_then(|r| r.releases.get(tag)) {
            return Some(release.clone());
        }
        self.ci_release(repo, tag)
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

#[async_trait]
impl Forge for InMemoryForge {
    fn backend(&self) -> &'static str {
        "in-memory"
    }

    async fn release_by_tag(&self, repo: &RepoId, tag: &str) -> Result<Option<Release>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::ReleaseByTag, repo, tag)?;
        Ok(state.release(repo, tag))
    }

    async fn list_releases(&self, repo: &RepoId) -> Result<Vec<Release>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::ListReleases, repo, "")?;
        Ok(state.all_releases(repo))
    }

    async fn create_release(&self, repo: &RepoId, release: &NewRelease) -> Result<Release> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::CreateRelease, repo, &release.tag)?;
        if state.release(repo, &release.tag).is_some() {
            return Err(Error::AlreadyExists {
                what: format!("release {} of {repo}", release.tag),
            });
        }
        let id = state.fresh_id();
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
        state
            .repos
            .entry(repo.clone())
            .or_default()
            .releases
            .insert(release.tag.clone(), created.clone());
        Ok(created)
    }

    async fn upload_asset(
        &self,
        repo: &RepoId,
        release_id: u64,
        name: &str,
        content: &[u8],
    ) -> Result<ReleaseAsset> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::UploadAsset, repo, name)?;
        let id = state.fresh_id();
        let release = state
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

    async fn latest_release(&self, repo: &RepoId) -> Result<Option<Release>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::LatestRelease, repo, "")?;
        Ok(state
            .all_releases(repo)
            .into_iter()
            .find(|r| !r.draft && !r.prerelease))
    }

    async fn update_release(
        &self,
        repo: &RepoId,
        release_id: u64,
        update: &ReleaseUpdate,
    ) -> Result<Release> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::UpdateRelease,
            repo,
            &release_id.to_string(),
        )?;
        let made = state
            .repos
            .get_mut(repo)
            .and_then(|r| r.releases.values_mut().find(|rel| rel.id == release_id));
        if let Some(release) = made {
            release.apply_update(update);
            return Ok(release.clone());
        }
        let ci_made = state
            .all_releases(repo)
            .into_iter()
            .find(|r| r.id == release_id)
            .ok_or_else(|| Error::NotFound {
                what: format!("release id {release_id} of {repo}"),
            })?;
        let edits = state.repo(repo).ci_updates.entry(release_id).or_default();
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

    async fn dispatch_workflow(&self, repo: &RepoId, dispatch: &WorkflowDispatch) -> Result<()> {
        let mut state = self.lock();
        let detail = format!("{}@{}", dispatch.workflow, dispatch.git_ref);
        Self::begin(&mut state, ForgeOp::DispatchWorkflow, repo, &detail)?;
        state.dispatch_workflow(repo, dispatch);
        Ok(())
    }

    async fn list_workflow_runs(
        &self,
        repo: &RepoId,
        query: &WorkflowRunQuery,
    ) -> Result<Vec<WorkflowRun>> {
        let mut state = self.lock();
        let detail = query.workflow.clone().unwrap_or_default();
        Self::begin(&mut state, ForgeOp::ListWorkflowRuns, repo, &detail)?;
        Ok(state.workflow_runs(repo, query))
    }

    async fn workflow_run(&self, repo: &RepoId, run_id: u64) -> Result<WorkflowRun> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::WorkflowRun, repo, &run_id.to_string())?;
        state.workflow_run(repo, run_id)
    }

    async fn repository_dispatch(
        &self,
        repo: &RepoId,
        event_type: &str,
        client_payload: &serde_json::Value,
    ) -> Result<()> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::RepositoryDispatch, repo, event_type)?;
        if event_type.is_empty() {
            return Err(Error::invalid_input(
                "a repository dispatch needs an event type",
            ));
        }
        state.repository_dispatch(repo, event_type, client_payload);
        Ok(())
    }

    async fn create_branch(&self, repo: &RepoId, name: &str, sha: &str) -> Result<()> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::CreateBranch, repo, name)?;
        state.create_branch(repo, name, sha)
    }

    async fn create_pull_request(&self, repo: &RepoId, pr: &NewPullRequest) -> Result<PullRequest> {
        let mut state = self.lock();
        let detail = format!("{} -> {}", pr.head, pr.base);
        Self::begin(&mut state, ForgeOp::CreatePullRequest, repo, &detail)?;
        state.create_pull_request(repo, pr)
    }

    async fn pull_request(&self, repo: &RepoId, number: u64) -> Result<PullRequest> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::PullRequest, repo, &number.to_string())?;
        state.pull_request(repo, number)
    }

    async fn add_labels(&self, repo: &RepoId, number: u64, labels: &[String]) -> Result<()> {
        let mut state = self.lock();
        let detail = format!("#{number} {}", labels.join(","));
        Self::begin(&mut state, ForgeOp::AddLabels, repo, &detail)?;
        state.add_labels(repo, number, labels)
    }

    async fn remove_label(&self, repo: &RepoId, number: u64, label: &str) -> Result<()> {
        let mut state = self.lock();
        let detail = format!("#{number} {label}");
        Self::begin(&mut state, ForgeOp::RemoveLabel, repo, &detail)?;
        state.remove_label(repo, number, label);
        Ok(())
    }

    async fn create_comment(&self, repo: &RepoId, number: u64, body: &str) -> Result<Comment> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::CreateComment,
            repo,
            &format!("#{number}"),
        )?;
        let author = state.user();
        state.comment(repo, number, &author, body)
    }

    async fn create_issue(&self, repo: &RepoId, title: &str, body: &str) -> Result<Issue> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::CreateIssue, repo, title)?;
        state.create_issue(repo, title, body)
    }

    async fn issue(&self, repo: &RepoId, number: u64) -> Result<Issue> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::Issue, repo, &number.to_string())?;
        state.issue(repo, number)
    }

    async fn update_issue_body(&self, repo: &RepoId, number: u64, body: &str) -> Result<Issue> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::UpdateIssue, repo, &number.to_string())?;
        state.update_issue_body(repo, number, body)
    }

    async fn list_comments(&self, repo: &RepoId, number: u64) -> Result<Vec<Comment>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListComments,
            repo,
            &format!("#{number}"),
        )?;
        state.comments(repo, number)
    }

    async fn permission(&self, repo: &RepoId, user: &str) -> Result<Permission> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::Permission, repo, user)?;
        Ok(state.permission(repo, user))
    }

    async fn comment(&self, repo: &RepoId, comment_id: u64) -> Result<Comment> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::Comment, repo, &comment_id.to_string())?;
        state.comment_by_id(repo, comment_id)
    }

    async fn update_comment(&self, repo: &RepoId, comment_id: u64, body: &str) -> Result<Comment> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::UpdateComment,
            repo,
            &comment_id.to_string(),
        )?;
        let editor = state.user();
        state.edit_comment(repo, comment_id, &editor, body)
    }

    async fn list_reviews(&self, repo: &RepoId, number: u64) -> Result<Vec<Review>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListReviews,
            repo,
            &format!("#{number}"),
        )?;
        state.reviews(repo, number)
    }

    async fn create_review(
        &self,
        repo: &RepoId,
        number: u64,
        review_state: ReviewState,
        body: &str,
    ) -> Result<Review> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::CreateReview,
            repo,
            &format!("#{number} {review_state:?}"),
        )?;
        let author = state.user();
        state.review(repo, number, &author, review_state, body)
    }

    async fn list_pull_commits(&self, repo: &RepoId, number: u64) -> Result<Vec<PullCommit>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListPullCommits,
            repo,
            &format!("#{number}"),
        )?;
        state.pull_commits(repo, number)
    }

    async fn list_pull_files(&self, repo: &RepoId, number: u64) -> Result<Vec<String>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::ListPullFiles,
            repo,
            &format!("#{number}"),
        )?;
        state.pull_files(repo, number)
    }

    async fn list_pull_requests(&self, repo: &RepoId, pr_state: &str) -> Result<Vec<PullRequest>> {
        let mut state = self.lock();
        Self::begin(&mut state, ForgeOp::ListPullRequests, repo, pr_state)?;
        state.pull_requests(repo, pr_state)
    }

    async fn file_contents(
        &self,
        repo: &RepoId,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::FileContents,
            repo,
            &format!("{path}@{git_ref}"),
        )?;
        Ok(state.file_contents(repo, path, git_ref))
    }

    async fn compare_commits(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let mut state = self.lock();
        Self::begin(
            &mut state,
            ForgeOp::CompareCommits,
            repo,
            &format!("{base}...{head}"),
        )?;
        state.compare(repo, base, head)
    }

    async fn current_user(&self) -> Result<String> {
        let mut state = self.lock();
        // Not about a repository; the log still wants one.
        Self::begin(&mut state, ForgeOp::CurrentUser, &RepoId::new("-", "-"), "")?;
        Ok(state.user())
    }

    fn request_stats(&self) -> RequestStats {
        self.lock().stats
    }
}

#[cfg(test)]
mod tests;
