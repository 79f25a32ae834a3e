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
//! | trait | serves | needed by |
//! |---|---|---|
//! | [`ForgeBackend`] | a name, request counts | every capability (the supertrait) |
//! | [`ReleaseForge`] | reading releases and assets | the release wait, `status` |
//! | [`ReleaseWriteForge`] | creating, uploading to, editing releases | `publish` notes |
//! | [`WorkflowForge`] | Actions runs: dispatch, list, read | `publish`, `cascade` |
//! | [`PullRequestForge`] | branches, PRs, labels, reviews, PR commits/files | `scale`, gates |
//! | [`IssueForge`] | issues; comments on issues and PRs | `scale`, `status` issue |
//! | [`ContentForge`] | a file at a ref, comparing refs | trusted policy, approvals |
//! | [`AccessForge`] | the token's user, a user's permission | credential checks, gates |
//!
//! [`Forge`] is all of them, implemented for every type that implements each one: the CLI and
//! the workflows hold an `Arc<dyn Forge>` and hand it to a feature that takes one capability by
//! upcasting (`&dyn Forge` coerces to `&dyn ReleaseForge`). Calling a capability's method on a
//! concrete backend (`InMemoryForge`, `GitHubForge`) needs that trait in scope, as with any
//! trait; [`prelude`] brings them all.
//!
//! ## A partial backend
//! A backend that serves only releases implements [`ForgeBackend`] and [`ReleaseForge`], and the
//! release wait runs on it (`examples/release_only_forge.rs` is a fuller one, a mirror directory):
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use orchestrator_core::Result;
//! use orchestrator_core::forge::{ForgeBackend, Release, ReleaseForge, RepoId, RequestStats};
//!
//! /// Knows one repository's releases, newest first.
//! #[derive(Debug)]
//! struct Fixed(Vec<Release>);
//!
//! impl ForgeBackend for Fixed {
//!     fn backend(&self) -> &'static str { "fixed" }
//!     fn request_stats(&self) -> RequestStats { RequestStats::default() }
//! }
//!
//! #[async_trait]
//! impl ReleaseForge for Fixed {
//!     async fn release_by_tag(&self, _: &RepoId, tag: &str) -> Result<Option<Release>> {
//!         Ok(self.0.iter().find(|r| r.tag == tag).cloned())
//!     }
//!     async fn list_releases(&self, _: &RepoId) -> Result<Vec<Release>> {
//!         Ok(self.0.clone())
//!     }
//!     async fn latest_release(&self, _: &RepoId) -> Result<Option<Release>> {
//!         Ok(self.0.iter().find(|r| !r.draft && !r.prerelease).cloned())
//!     }
//! }
//!
//! # use orchestrator_core::forge::{AssetState, ReleaseAsset};
//! # use orchestrator_core::release::{WaitSpec, wait_for_assets};
//! # use orchestrator_core::step::StepContext;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let asset = ReleaseAsset {
//!     id: 2, name: "app.tar.gz".into(), size: 10, state: AssetState::Uploaded,
//!     download_url: "https://example.com/app.tar.gz".into(),
//! };
//! let release = Release {
//!     id: 1, tag: "v1.0.0".into(), name: None, body: None, draft: false, prerelease: false,
//!     html_url: "https://example.com/v1.0.0".into(), assets: vec![asset], published_at_ms: None,
//! };
//! let forge: Arc<dyn ReleaseForge> = Arc::new(Fixed(vec![release]));
//! let spec = WaitSpec {
//!     repo: RepoId::new("acme", "app"),
//!     tag: "v1.0.0".into(),
//!     patterns: vec![orchestrator_core::release::AssetPattern::parse("app.tar.gz")?
//!         .for_version(&"1.0.0".parse()?)],
//!     poll_interval: std::time::Duration::from_millis(1),
//!     timeout: std::time::Duration::from_secs(5),
//!     stable_polls: 0,
//!     fresh_tag: false,
//! };
//! let ctx = StepContext::new(
//!     "wait",
//!     Arc::new(orchestrator_core::engine::SilentObserver),
//!     orchestrator_core::engine::CancelToken::new(),
//! );
//! let report = wait_for_assets(forge.as_ref(), &spec, &ctx).await?;
//! assert!(report.assets.contains_key("app.tar.gz"));
//! # Ok::<(), orchestrator_core::Error>(())
//! # }).unwrap();
//! ```
//! What it does not serve is a compile error where it is needed, not an error at run time: it is
//! not a [`Forge`], so it cannot be what the CLI and the workflows hold.
//! ```compile_fail,E0277
//! # use std::sync::Arc;
//! # use orchestrator_core::Result;
//! # use orchestrator_core::forge::{Forge, ForgeBackend, Release, ReleaseForge, RepoId};
//! # use orchestrator_core::forge::RequestStats;
//! # #[derive(Debug)]
//! # struct Fixed(Vec<Release>);
//! # impl ForgeBackend for Fixed {
//! #     fn backend(&self) -> &'static str { "fixed" }
//! #     fn request_stats(&self) -> RequestStats { RequestStats::default() }
//! # }
//! # #[async_trait::async_trait]
//! # impl ReleaseForge for Fixed {
//! #     async fn release_by_tag(&self, _: &RepoId, _: &str) -> Result<Option<Release>> {
//! #         Ok(None)
//! #     }
//! #     async fn list_releases(&self, _: &RepoId) -> Result<Vec<Release>> { Ok(vec![]) }
//! #     async fn latest_release(&self, _: &RepoId) -> Result<Option<Release>> { Ok(None) }
//! # }
//! // error[E0277]: the trait bound `Fixed: Forge` is not satisfied (no WorkflowForge, ...)
//! let full: Arc<dyn Forge> = Arc::new(Fixed(Vec::new()));
//! ```
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
