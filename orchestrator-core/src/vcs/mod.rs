//! The `Vcs` trait: what the orchestrator needs from a local git clone and its `origin`.
//!
//! The trait is small and path-based so one `Arc<dyn Vcs>` serves every clone. Commits are full
//! hex object ids. Every method is read-only except [`Vcs::fetch`] (updates remote-tracking refs),
//! [`Vcs::create_tag`] and [`Vcs::push_tag`].

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;

use crate::error::Result;

/// Where HEAD points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// On a branch, with its commit.
    Branch {
        /// The short branch name, e.g. `main`.
        name: String,
        /// The commit id (hex).
        commit: String,
    },
    /// Detached at a commit.
    Detached {
        /// The commit id (hex).
        commit: String,
    },
    /// On a branch with no commits yet.
    Unborn {
        /// The short branch name.
        name: String,
    },
}

impl Head {
    /// The commit HEAD points at, if any.
    pub fn commit(&self) -> Option<&str> {
        match self {
            Head::Branch { commit, .. } | Head::Detached { commit } => Some(commit),
            Head::Unborn { .. } => None,
        }
    }
}

/// Refs as a remote advertises them (`git ls-remote`): full ref name → commit id. Annotated tags
/// are peeled: the value is the commit the tag points at.
pub type RemoteRefs = BTreeMap<String, String>;

/// Access to local clones and their remotes.
#[async_trait]
pub trait Vcs: Send + Sync + std::fmt::Debug {
    /// The backend's name, for messages (`gix`, `git-cli`).
    fn backend(&self) -> &'static str;

    /// Whether `path` is the work tree of a git repository.
    async fn is_repository(&self, path: &Path) -> Result<bool>;

    /// Where HEAD points.
    async fn head(&self, path: &Path) -> Result<Head>;

    /// Paths that make the work tree dirty, as `git status --porcelain` would list them: modified,
    /// staged, deleted, and untracked files that are not ignored. Empty means clean. Implementations
    /// may stop after a reasonable number of entries.
    async fn dirty_paths(&self, path: &Path) -> Result<Vec<String>>;

    /// The URL of a remote, or `None` when the remote is not configured.
    async fn remote_url(&self, path: &Path, remote: &str) -> Result<Option<String>>;

    /// Fetches `branch` from `remote`, updating `refs/remotes/<remote>/<branch>` (no tags).
    async fn fetch(&self, path: &Path, remote: &str, branch: &str) -> Result<()>;

    /// The commit of the remote-tracking ref `refs/remotes/<remote>/<branch>`, if present.
    async fn remote_tracking(
        &self,
        path: &Path,
        remote: &str,
        branch: &str,
    ) -> Result<Option<String>>;

    /// Asks the remote itself (never a cached ref) for the given full ref names; absent refs are
    /// missing from the result. Tags are peeled to their commit.
    async fn remote_refs(&self, path: &Path, remote: &str, refs: &[String]) -> Result<RemoteRefs>;

    /// The commit a local tag points at (peeled), if the tag exists.
    async fn local_tag(&self, path: &Path, tag: &str) -> Result<Option<String>>;

    /// Creates an annotated tag at `commit`. Fails with `AlreadyExists` if the tag exists.
    async fn create_tag(&self, path: &Path, tag: &str, commit: &str, message: &str) -> Result<()>;

    /// Pushes exactly `refs/tags/<tag>` to `remote`, never anything else, never forced.
    async fn push_tag(&self, path: &Path, remote: &str, tag: &str) -> Result<()>;

    /// Commits reachable from HEAD and not from `since` (a tag or commit; all of history when
    /// `None`), newest first: the input of release notes and conventional-commit bumps.
    async fn commits_since(&self, path: &Path, since: Option<&str>) -> Result<Vec<CommitInfo>> {
        let _ = (path, since);
        Err(not_supported(self.backend(), "listing commits"))
    }

    /// Writes `files` (work-tree-relative path, content), stages exactly them and commits on the
    /// current branch; returns the new commit id. `Conflict` when HEAD already has exactly that
    /// content (nothing to commit).
    async fn commit_files(
        &self,
        path: &Path,
        files: &[(String, Vec<u8>)],
        message: &str,
    ) -> Result<String> {
        let _ = (path, files, message);
        Err(not_supported(self.backend(), "committing files"))
    }

    /// Creates branch `branch` at `start` (a commit or ref) and checks it out.
    async fn checkout_new_branch(&self, path: &Path, branch: &str, start: &str) -> Result<()> {
        let _ = (path, branch, start);
        Err(not_supported(self.backend(), "creating branches"))
    }

    /// Moves the checked-out branch forward to `commit` (already fetched) and updates the work
    /// tree to it: a fast-forward only. Refuses a detached HEAD, a branch with commits `commit`
    /// does not contain, and local changes the move would overwrite.
    async fn fast_forward(&self, path: &Path, commit: &str) -> Result<()> {
        let _ = (path, commit);
        Err(not_supported(self.backend(), "fast-forwarding a branch"))
    }

    /// Pushes exactly `refs/heads/<branch>` to `remote` (never forced).
    async fn push_branch(&self, path: &Path, remote: &str, branch: &str) -> Result<()> {
        let _ = (path, remote, branch);
        Err(not_supported(self.backend(), "pushing branches"))
    }
}

/// One commit, as release notes need it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitInfo {
    /// The commit id (hex).
    pub id: String,
    /// The first line of the message.
    pub summary: String,
    /// The rest of the message (may hold `BREAKING CHANGE:` footers).
    pub body: String,
}

fn not_supported(backend: &str, what: &str) -> crate::error::Error {
    crate::error::Error::NotSupported {
        backend: backend.to_owned(),
        what: what.to_owned(),
    }
}

/// The full ref name of a tag.
pub fn tag_ref(tag: &str) -> String {
    format!("refs/tags/{tag}")
}

/// The full ref name of a branch.
pub fn branch_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}
