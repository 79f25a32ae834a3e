//! What the orchestrator needs from GitHub (or a stand-in), as capability traits.
//!
//! A forge is many services behind one token: releases, Actions, pull requests, issues, file
//! contents, users. No feature needs all of them, and a backend an embedder writes for its own
//! forge (a read-only release mirror, a bridge to another forge) may serve only some. Each
//! capability is therefore its own trait with every method required: a backend states what it
//! serves by the traits it implements, and a feature states what it needs by the trait it takes,
//! so a missing capability is a compile error where it is used, not an [`Error::NotSupported`]
//! at run time.
//!
//! | trait | methods | needed by |
//! |---|---|---|
//! | [`ForgeBackend`] | name, request counts | every capability (their supertrait) |
//! | [`ReleaseForge`] | read releases and their assets | the release wait ([`crate::release::wait_for_assets`]), `status` |
//! | [`ReleaseWriteForge`] | create, upload to and edit releases | `publish` (release notes) |
//! | [`WorkflowForge`] | dispatch and read Actions runs, repository dispatch | `publish`, `cascade` (correlated runs) |
//! | [`PullRequestForge`] | branches, pull requests, labels, reviews, a PR's commits and files | `scale propose`, approval gates, locks |
//! | [`IssueForge`] | issues, and comments on issues and pull requests | `scale` comments, `status --update-issue` |
//! | [`ContentForge`] | a file at a ref, comparing refs | trusted policy, binding an approval to a commit |
//! | [`AccessForge`] | the token's user, a user's permission | credential checks, approval gates |
//!
//! [`Forge`] is all of them, implemented for every type that implements each one: the CLI and
//! the workflows hold an `Arc<dyn Forge>` and hand it to a feature that takes one capability by
//! upcasting (`&dyn Forge` coerces to `&dyn ReleaseForge`). Calling a capability's method on a
//! concrete backend (`InMemoryForge`, `GitHubForge`) needs that trait in scope, as with any trait.
//!
//! Backends: [`InMemoryForge`] (core, with simulated CI and fault injection), `GitHubForge`
//! (`orchestrator-github`). Both implement every capability and run
//! [`crate::conformance::forge`], whose behaviours are grouped by capability so a partial backend
//! runs the groups it implements.

mod capabilities;
mod memory;
mod types;
mod url;

pub use capabilities::{
    AccessForge, ContentForge, Forge, ForgeBackend, IssueForge, PullRequestForge, ReleaseForge,
    ReleaseWriteForge, WorkflowForge,
};
pub use memory::{
    CiBehaviour, CiRepo, CiSimulation, DEFAULT_BRANCH, DEFAULT_USER, Fault, FaultRule, ForgeOp,
    InMemoryForge, RepositoryDispatchRecord, RequestRecord, WorkflowSimulation, origin_tags,
};
pub use types::{
    AssetState, Comment, Comparison, Issue, NewPullRequest, NewRelease, Permission, PullCommit,
    PullRequest, Release, ReleaseAsset, ReleaseUpdate, RepoId, RequestStats, Review, ReviewState,
    WorkflowDispatch, WorkflowRun, WorkflowRunQuery, WorkflowRunStatus,
};
pub use url::redact_userinfo;

use crate::error::Error;

/// Every capability trait, to glob-import where forge methods are called on a concrete backend
/// (`InMemoryForge`, `GitHubForge`): a method is only callable with its trait in scope, and tests
/// that drive a backend directly use several capabilities at once. Code holding a `dyn Forge`
/// needs none of this.
pub mod prelude {
    pub use super::capabilities::{
        AccessForge, ContentForge, Forge, ForgeBackend, IssueForge, PullRequestForge, ReleaseForge,
        ReleaseWriteForge, WorkflowForge,
    };
}

/// A workflow's file name as runs report it: `release.yml` for `.github/workflows/release.yml`
/// too (a workflow may be configured by path).
pub fn workflow_file(workflow: &str) -> &str {
    workflow.rsplit('/').next().unwrap_or(workflow)
}

/// Helper for backends: the `NotSupported` error for an operation a backend truly cannot answer
/// (an endpoint an older server lacks). A capability a backend lacks altogether is a capability
/// trait it does not implement, not this error.
pub fn not_supported(backend: &str, what: &str) -> Error {
    Error::NotSupported {
        backend: backend.to_owned(),
        what: what.to_owned(),
    }
}
