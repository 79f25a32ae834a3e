//! [`GixVcs`]: the [`Vcs`] trait over gix for local reads and the git CLI for the network.

use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use orchestrator_core::error::Result;
use orchestrator_core::vcs::{CommitInfo, Head, RemoteRefs, Vcs, tag_ref};

use crate::util::blocking;
use crate::{commit, history, network, read, status, tags};

/// The production [`Vcs`]: reads with gix, fetches and pushes with the `git` command line.
///
/// Holds no repository state: every call opens the repository afresh, so one instance serves every clone and
/// always sees what other processes (the user, `git`) did in between. Each call runs on tokio's
/// blocking pool.
///
/// ```no_run
/// # async fn demo() -> orchestrator_core::error::Result<()> {
/// use orchestrator_core::vcs::Vcs;
/// let vcs = orchestrator_git::GixVcs::new();
/// let head = vcs.head(std::path::Path::new("/src/truthdb")).await?;
/// println!("{head:?}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GixVcs {
    /// Ref lock files older than this cannot belong to a write this instance started: they are
    /// leftovers of a killed process (see `create_tag`).
    created: SystemTime,
}

impl GixVcs {
    /// A new backend; it holds no repository state.
    pub fn new() -> Self {
        Self {
            created: SystemTime::now(),
        }
    }
}

impl Default for GixVcs {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Vcs for GixVcs {
    fn backend(&self) -> &'static str {
        "gix"
    }

    async fn is_repository(&self, path: &Path) -> Result<bool> {
        blocking(path, |path| Ok(read::is_repository(path))).await
    }

    async fn head(&self, path: &Path) -> Result<Head> {
        blocking(path, read::head).await
    }

    async fn dirty_paths(&self, path: &Path) -> Result<Vec<String>> {
        blocking(path, status::dirty_paths).await
    }

    async fn remote_url(&self, path: &Path, remote: &str) -> Result<Option<String>> {
        let remote = remote.to_owned();
        blocking(path, move |path| read::remote_url(path, &remote)).await
    }

    async fn fetch(&self, path: &Path, remote: &str, branch: &str) -> Result<()> {
        let (remote, branch) = (remote.to_owned(), branch.to_owned());
        blocking(path, move |path| network::fetch(path, &remote, &branch)).await
    }

    async fn remote_tracking(
        &self,
        path: &Path,
        remote: &str,
        branch: &str,
    ) -> Result<Option<String>> {
        let full_name = format!("refs/remotes/{remote}/{branch}");
        blocking(path, move |path| read::peeled_ref(path, &full_name)).await
    }

    async fn remote_refs(&self, path: &Path, remote: &str, refs: &[String]) -> Result<RemoteRefs> {
        let (remote, refs) = (remote.to_owned(), refs.to_vec());
        blocking(path, move |path| network::remote_refs(path, &remote, &refs)).await
    }

    async fn local_tag(&self, path: &Path, tag: &str) -> Result<Option<String>> {
        let full_name = tag_ref(tag);
        blocking(path, move |path| read::peeled_ref(path, &full_name)).await
    }

    async fn create_tag(&self, path: &Path, tag: &str, commit: &str, message: &str) -> Result<()> {
        let (tag, commit, message) = (tag.to_owned(), commit.to_owned(), message.to_owned());
        let stale_before = self.created;
        blocking(path, move |path| {
            tags::create_tag(path, &tag, &commit, &message, stale_before)
        })
        .await
    }

    async fn push_tag(&self, path: &Path, remote: &str, tag: &str) -> Result<()> {
        let (remote, tag) = (remote.to_owned(), tag.to_owned());
        blocking(path, move |path| network::push_tag(path, &remote, &tag)).await
    }

    async fn commits_since(&self, path: &Path, since: Option<&str>) -> Result<Vec<CommitInfo>> {
        let since = since.map(str::to_owned);
        blocking(path, move |path| {
            history::commits_since(path, since.as_deref())
        })
        .await
    }

    async fn commit_files(
        &self,
        path: &Path,
        files: &[(String, Vec<u8>)],
        message: &str,
    ) -> Result<String> {
        let (files, message) = (files.to_vec(), message.to_owned());
        blocking(path, move |path| {
            commit::commit_files(path, &files, &message)
        })
        .await
    }

    async fn checkout_new_branch(&self, path: &Path, branch: &str, start: &str) -> Result<()> {
        let (branch, start) = (branch.to_owned(), start.to_owned());
        blocking(path, move |path| {
            commit::checkout_new_branch(path, &branch, &start)
        })
        .await
    }

    async fn fast_forward(&self, path: &Path, commit: &str) -> Result<()> {
        let commit = commit.to_owned();
        blocking(path, move |path| commit::fast_forward(path, &commit)).await
    }

    async fn push_branch(&self, path: &Path, remote: &str, branch: &str) -> Result<()> {
        let (remote, branch) = (remote.to_owned(), branch.to_owned());
        blocking(path, move |path| {
            network::push_branch(path, &remote, &branch)
        })
        .await
    }
}
