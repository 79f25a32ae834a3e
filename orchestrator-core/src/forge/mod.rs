//! The `Forge` trait: what the orchestrator needs from GitHub (or a stand-in).
//!
//! Backends: [`InMemoryForge`] (core, with simulated CI and fault injection), `GitHubForge`
//! (`orchestrator-github`, octocrab). Every backend runs [`crate::conformance::forge`].

mod memory;
mod types;

pub use memory::{
    CiBehaviour, CiRepo, CiSimulation, Fault, FaultRule, ForgeOp, InMemoryForge, RequestRecord,
    origin_tags,
};
pub use types::{AssetState, NewRelease, Release, ReleaseAsset, RepoId, RequestStats};

use async_trait::async_trait;

use crate::error::{Error, Result};

/// A code forge: releases and their assets (this issue), and, answering
/// [`Error::NotSupported`] until a backend offers them, the capabilities later features add.
#[async_trait]
pub trait Forge: Send + Sync + std::fmt::Debug {
    /// The backend's name, for messages (`github`, `in-memory`).
    fn backend(&self) -> &'static str;

    /// The release for `tag`, or `None` when there is none yet (HTTP 404). Draft releases are
    /// returned too (with `draft: true`) when the backend can see them.
    async fn release_by_tag(&self, repo: &RepoId, tag: &str) -> Result<Option<Release>>;

    /// Every release of the repository, newest first (all pages).
    async fn list_releases(&self, repo: &RepoId) -> Result<Vec<Release>>;

    /// Creates a release; `AlreadyExists` if one exists for the tag.
    async fn create_release(&self, repo: &RepoId, release: &NewRelease) -> Result<Release>;

    /// Uploads an asset to a release; `AlreadyExists` if an asset has that name.
    async fn upload_asset(
        &self,
        repo: &RepoId,
        release_id: u64,
        name: &str,
        content: &[u8],
    ) -> Result<ReleaseAsset>;

    /// Counts of the requests this backend made (or served), for reports and benchmarks.
    fn request_stats(&self) -> RequestStats {
        RequestStats::default()
    }
}

/// Helper for backends: the `NotSupported` error for a capability.
pub fn not_supported(backend: &str, what: &str) -> Error {
    Error::NotSupported {
        backend: backend.to_owned(),
        what: what.to_owned(),
    }
}
