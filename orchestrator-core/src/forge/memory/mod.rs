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
//!
//! One concept per file: the shared state and the lock here; the CI story (`ci`), releases made
//! by the API and by CI (`releases`), workflow runs (`workflows`), pull requests, issues and
//! comments (`collab`), the facts approvals are read from (`trust`), acting as a named user
//! (`identity`), fault injection (`faults`), the request log (`requests`), and the capability
//! trait impls that put a logged, fault-checked front on all of it (`capabilities`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::forge::types::{
    Comment, Comparison, Issue, Permission, PullCommit, PullRequest, Release, ReleaseUpdate,
    RepoId, RequestStats, Review,
};

mod capabilities;
mod ci;
mod collab;
mod faults;
mod identity;
mod releases;
mod requests;
mod trust;
mod workflows;

pub use ci::{CiBehaviour, CiRepo, CiSimulation, origin_tags};
pub use collab::DEFAULT_USER;
pub use faults::{Fault, FaultRule};
pub use requests::{ForgeOp, RequestRecord};
pub use workflows::{DEFAULT_BRANCH, RepositoryDispatchRecord, WorkflowSimulation};

use releases::Pushed;

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

#[derive(Debug, Default)]
struct RepoState {
    /// Releases made through the API, by tag.
    releases: BTreeMap<String, Release>,
    /// Tags CI has seen pushed, and when.
    pushes: BTreeMap<String, Pushed>,
    /// Stable ids for CI-made releases and assets, by tag.
    ci_ids: HashMap<String, u64>,
    /// Edits of CI-made releases by release id
    /// ([`ReleaseWriteForge::update_release`](crate::forge::ReleaseWriteForge::update_release)).
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

#[cfg(test)]
mod tests;
