//! The `Vcs` conformance suite: what every [`Vcs`] backend must do, as executable checks.
//!
//! Core has no git dependency, so the suite does not build repositories itself: a backend's tests
//! implement [`VcsFixture`] (real clones with bare origins, for `GixVcs`) and call [`run_all`], or
//! each function from its own `#[tokio::test]` for clearer failure reports. Every function takes a
//! fresh clone from the fixture under its own name, so they are independent of each other and of
//! order.
//!
//! The functions panic with a message naming the broken promise; they are test code.
//!
//! The history and commit checks (`commits_since`, `commit_files`, branches) use only the fixture
//! methods the older checks use, so an existing fixture runs them unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::error::Error;
use crate::vcs::{Head, Vcs, branch_ref, tag_ref};

/// The remote every fixture clone has.
pub const REMOTE: &str = "origin";
/// The branch every fixture clone is on.
pub const BRANCH: &str = "main";

/// Builds repositories in the states the suite needs. Methods panic if the set-up fails.
///
/// Paths are absolute; `clone` arguments are paths returned by [`VcsFixture::clean_clone`]. Methods
/// that change files return the repo-relative path they changed, as `git status` would print it.
#[async_trait]
pub trait VcsFixture: Send + Sync {
    /// A new clone named `name` on branch [`BRANCH`], clean, HEAD == `origin/main`, whose remote
    /// [`REMOTE`] is a bare repository of its own. Its commit contains at least one tracked file
    /// and a `.gitignore` that ignores `*.log`.
    async fn clean_clone(&self, name: &str) -> PathBuf;

    /// A new repository named `name` with no commits, HEAD on [`BRANCH`].
    async fn empty_repository(&self, name: &str) -> PathBuf;

    /// An existing directory that is not inside any repository.
    async fn plain_directory(&self) -> PathBuf;

    /// Changes the content of a tracked file without staging it.
    async fn modify_tracked_file(&self, clone: &Path) -> String;

    /// Adds a new file to the index (staged, not committed).
    async fn stage_new_file(&self, clone: &Path) -> String;

    /// Deletes a tracked file from the work tree.
    async fn delete_tracked_file(&self, clone: &Path) -> String;

    /// Rewrites a tracked file with its current content, so only its timestamps change.
    async fn rewrite_tracked_file_unchanged(&self, clone: &Path) -> String;

    /// Creates a file at the top level that no rule ignores.
    async fn add_untracked_file(&self, clone: &Path) -> String;

    /// Creates a file that the committed `.gitignore` ignores.
    async fn add_ignored_file(&self, clone: &Path) -> String;

    /// Detaches HEAD at its current commit.
    async fn detach_head(&self, clone: &Path);

    /// Commits a change on the current branch without pushing; returns the new commit.
    async fn commit_locally(&self, clone: &Path) -> String;

    /// Moves the origin's [`BRANCH`] ahead without the clone fetching; returns the new commit.
    async fn advance_origin(&self, clone: &Path) -> String;

    /// Puts annotated tag `tag` on the origin, at a commit the clone does not have.
    async fn tag_origin_elsewhere(&self, clone: &Path, tag: &str);

    /// Every ref the origin holds, full name → id, read without the backend under test (annotated
    /// tags map to their tag object, not peeled).
    async fn origin_refs(&self, clone: &Path) -> BTreeMap<String, String>;

    /// The URL the clone's [`REMOTE`] is configured with.
    async fn origin_url(&self, clone: &Path) -> String;
}

/// A clean clone is a repository, on `main`, clean, with its tracking ref and the remote at HEAD.
pub async fn clean_clone_is_clean_on_branch_matching_origin(
    vcs: &dyn Vcs,
    fixture: &dyn VcsFixture,
) {
    let clone = fixture.clean_clone("clean").await;
    assert!(
        vcs.is_repository(&clone).await.expect("is_repository"),
        "a clone is a repository"
    );
    let head = vcs.head(&clone).await.expect("head");
    let Head::Branch { name, commit } = &head else {
        panic!("a fresh clone is on a branch, got {head:?}");
    };
    assert_eq!(name, BRANCH);
    assert_eq!(commit.len(), 40, "commits are full hex ids, got {commit}");
    assert_eq!(head.commit(), Some(commit.as_str()));
    let dirty = vcs.dirty_paths(&clone).await.expect("dirty_paths");
    assert!(dirty.is_empty(), "a fresh clone is clean, got {dirty:?}");
    let tracking = vcs
        .remote_tracking(&clone, REMOTE, BRANCH)
        .await
        .expect("remote_tracking");
    assert_eq!(
        tracking.as_deref(),
        Some(commit.as_str()),
        "origin/main == HEAD"
    );
    let remote = remote_branch(vcs, &clone).await;
    assert_eq!(
        remote.as_deref(),
        Some(commit.as_str()),
        "the remote's main == HEAD"
    );
}

/// An unstaged change to a tracked file makes the tree dirty, naming the file.
pub async fn modified_file_is_dirty(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("modified").await;
    let path = fixture.modify_tracked_file(&clone).await;
    assert_dirty_with(vcs, &clone, &path).await;
}

/// A staged new file makes the tree dirty, naming the file.
pub async fn staged_file_is_dirty(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("staged").await;
    let path = fixture.stage_new_file(&clone).await;
    assert_dirty_with(vcs, &clone, &path).await;
}

/// A tracked file deleted from the work tree makes the tree dirty, naming the file.
pub async fn deleted_file_is_dirty(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("deleted").await;
    let path = fixture.delete_tracked_file(&clone).await;
    assert_dirty_with(vcs, &clone, &path).await;
}

/// An untracked file that no rule ignores makes the tree dirty, naming the file.
pub async fn untracked_file_is_dirty(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("untracked").await;
    let path = fixture.add_untracked_file(&clone).await;
    assert_dirty_with(vcs, &clone, &path).await;
}

/// A tracked file rewritten with the same content (new timestamps only) does not make the tree
/// dirty.
pub async fn rewritten_unchanged_file_is_clean(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("rewritten").await;
    let path = fixture.rewrite_tracked_file_unchanged(&clone).await;
    let dirty = vcs.dirty_paths(&clone).await.expect("dirty_paths");
    assert!(
        dirty.is_empty(),
        "{path} has its committed content and must not count as dirty, got {dirty:?}"
    );
}

/// A file matched by `.gitignore` does not make the tree dirty.
pub async fn ignored_file_is_clean(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("ignored").await;
    let path = fixture.add_ignored_file(&clone).await;
    let dirty = vcs.dirty_paths(&clone).await.expect("dirty_paths");
    assert!(
        dirty.is_empty(),
        "ignored {path} must not count as dirty, got {dirty:?}"
    );
}

/// A detached HEAD is reported as detached, at the commit the branch was on.
pub async fn detached_head_is_reported(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("detached").await;
    let before = head_commit(vcs, &clone).await;
    fixture.detach_head(&clone).await;
    let head = vcs.head(&clone).await.expect("head");
    assert_eq!(
        head,
        Head::Detached { commit: before },
        "detached at the same commit"
    );
}

/// A repository without commits reports an unborn HEAD with its branch name.
pub async fn unborn_head_is_reported(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let repo = fixture.empty_repository("unborn").await;
    assert!(
        vcs.is_repository(&repo).await.expect("is_repository"),
        "an empty repository is one"
    );
    let head = vcs.head(&repo).await.expect("head");
    assert_eq!(
        head,
        Head::Unborn {
            name: BRANCH.to_owned()
        }
    );
    assert_eq!(head.commit(), None);
}

/// After the origin moves, the tracking ref stays old and `remote_refs` sees the new commit,
/// until `fetch` brings the tracking ref up to date; HEAD never moves.
pub async fn stale_tracking_ref_until_fetch(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("stale").await;
    let old = head_commit(vcs, &clone).await;
    let new = fixture.advance_origin(&clone).await;
    assert_ne!(old, new, "the fixture moved the origin");
    let tracking = vcs
        .remote_tracking(&clone, REMOTE, BRANCH)
        .await
        .expect("remote_tracking");
    assert_eq!(
        tracking.as_deref(),
        Some(old.as_str()),
        "tracking ref is stale before fetch"
    );
    let remote = remote_branch(vcs, &clone).await;
    assert_eq!(
        remote.as_deref(),
        Some(new.as_str()),
        "remote_refs asks the remote itself"
    );
    vcs.fetch(&clone, REMOTE, BRANCH).await.expect("fetch");
    let tracking = vcs
        .remote_tracking(&clone, REMOTE, BRANCH)
        .await
        .expect("remote_tracking");
    assert_eq!(
        tracking.as_deref(),
        Some(new.as_str()),
        "fetch updates the tracking ref"
    );
    assert_eq!(
        head_commit(vcs, &clone).await,
        old,
        "fetch does not move HEAD"
    );
    let dirty = vcs.dirty_paths(&clone).await.expect("dirty_paths");
    assert!(
        dirty.is_empty(),
        "fetch does not touch the work tree, got {dirty:?}"
    );
}

/// A local, unpushed commit moves HEAD but neither the tracking ref nor the remote.
pub async fn local_commit_differs_from_origin(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("ahead").await;
    let old = head_commit(vcs, &clone).await;
    let new = fixture.commit_locally(&clone).await;
    assert_eq!(
        head_commit(vcs, &clone).await,
        new,
        "HEAD is the local commit"
    );
    let tracking = vcs
        .remote_tracking(&clone, REMOTE, BRANCH)
        .await
        .expect("remote_tracking");
    assert_eq!(
        tracking.as_deref(),
        Some(old.as_str()),
        "tracking ref unchanged"
    );
    let remote = remote_branch(vcs, &clone).await;
    assert_eq!(remote.as_deref(), Some(old.as_str()), "remote unchanged");
    let dirty = vcs.dirty_paths(&clone).await.expect("dirty_paths");
    assert!(
        dirty.is_empty(),
        "a committed change is not dirty, got {dirty:?}"
    );
}

/// A created tag resolves locally to its commit, is absent remotely until pushed, and after the
/// push the remote reports it peeled to that commit.
pub async fn tag_create_then_push_is_visible_remotely_at_commit(
    vcs: &dyn Vcs,
    fixture: &dyn VcsFixture,
) {
    let clone = fixture.clean_clone("tagged").await;
    let commit = head_commit(vcs, &clone).await;
    let tag = "v1.2.3";
    assert_eq!(
        vcs.local_tag(&clone, tag).await.expect("local_tag"),
        None,
        "no tag yet"
    );
    vcs.create_tag(&clone, tag, &commit, "Release v1.2.3")
        .await
        .expect("create_tag");
    let local = vcs.local_tag(&clone, tag).await.expect("local_tag");
    assert_eq!(
        local.as_deref(),
        Some(commit.as_str()),
        "local tag peels to the commit"
    );
    let refs = vec![tag_ref(tag)];
    let before = vcs
        .remote_refs(&clone, REMOTE, &refs)
        .await
        .expect("remote_refs");
    assert!(
        before.is_empty(),
        "creating a tag does not push it, got {before:?}"
    );
    vcs.push_tag(&clone, REMOTE, tag).await.expect("push_tag");
    let after = vcs
        .remote_refs(&clone, REMOTE, &refs)
        .await
        .expect("remote_refs");
    assert_eq!(
        after.get(&tag_ref(tag)),
        Some(&commit),
        "the remote tag is reported peeled to the commit, got {after:?}"
    );
    assert_eq!(
        after.len(),
        1,
        "only requested refs are returned, got {after:?}"
    );
    vcs.push_tag(&clone, REMOTE, tag)
        .await
        .expect("pushing the same tag again is a no-op");
}

/// Creating a tag that exists fails with `AlreadyExists` and leaves the tag where it was.
pub async fn creating_existing_tag_is_already_exists(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("tag-exists").await;
    let first = head_commit(vcs, &clone).await;
    vcs.create_tag(&clone, "v1.0.0", &first, "first")
        .await
        .expect("create_tag");
    let second = fixture.commit_locally(&clone).await;
    for commit in [&first, &second] {
        let err = vcs
            .create_tag(&clone, "v1.0.0", commit, "again")
            .await
            .expect_err("an existing tag must not be created again");
        assert!(
            matches!(err, Error::AlreadyExists { .. }),
            "expected AlreadyExists, got {err:?}"
        );
    }
    let local = vcs.local_tag(&clone, "v1.0.0").await.expect("local_tag");
    assert_eq!(
        local.as_deref(),
        Some(first.as_str()),
        "the tag did not move"
    );
}

/// Pushing a tag pushes that tag only: the remote branch and the other local tags stay as they
/// were, even when HEAD is ahead of the remote.
pub async fn push_pushes_only_the_tag(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("push-only-tag").await;
    let base = head_commit(vcs, &clone).await;
    let before = fixture.origin_refs(&clone).await;
    vcs.create_tag(&clone, "other", &base, "not to be pushed")
        .await
        .expect("create_tag");
    let ahead = fixture.commit_locally(&clone).await;
    vcs.create_tag(&clone, "v2.0.0", &ahead, "Release v2.0.0")
        .await
        .expect("create_tag");
    vcs.push_tag(&clone, REMOTE, "v2.0.0")
        .await
        .expect("push_tag");
    let mut after = fixture.origin_refs(&clone).await;
    assert!(
        after.remove(&tag_ref("v2.0.0")).is_some(),
        "the tag was pushed: {after:?}"
    );
    assert_eq!(after, before, "nothing but the tag changed on the remote");
    let remote = remote_branch(vcs, &clone).await;
    assert_eq!(
        remote.as_deref(),
        Some(base.as_str()),
        "the remote branch did not move"
    );
}

/// Pushing a tag the remote already has at another commit fails and changes nothing remotely.
pub async fn pushing_tag_existing_remotely_elsewhere_fails(
    vcs: &dyn Vcs,
    fixture: &dyn VcsFixture,
) {
    let clone = fixture.clean_clone("tag-conflict").await;
    let commit = head_commit(vcs, &clone).await;
    fixture.tag_origin_elsewhere(&clone, "v3.0.0").await;
    let before = fixture.origin_refs(&clone).await;
    vcs.create_tag(&clone, "v3.0.0", &commit, "Release v3.0.0")
        .await
        .expect("create_tag");
    let err = vcs
        .push_tag(&clone, REMOTE, "v3.0.0")
        .await
        .expect_err("a tag at another commit on the remote must not be overwritten");
    assert!(
        matches!(err, Error::Conflict { .. } | Error::AlreadyExists { .. }),
        "expected Conflict or AlreadyExists, got {err:?}"
    );
    assert_eq!(
        fixture.origin_refs(&clone).await,
        before,
        "the remote is unchanged"
    );
}

/// Pushing a tag that does not exist locally fails and changes nothing remotely.
pub async fn pushing_missing_tag_fails(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("push-missing").await;
    let before = fixture.origin_refs(&clone).await;
    let err = vcs
        .push_tag(&clone, REMOTE, "v9.9.9")
        .await
        .expect_err("there is no such tag to push");
    assert!(
        !matches!(err, Error::AlreadyExists { .. } | Error::Conflict { .. }),
        "got {err:?}"
    );
    assert_eq!(
        fixture.origin_refs(&clone).await,
        before,
        "the remote is unchanged"
    );
}

/// `remote_refs` returns only refs that exist and were asked for; asking for none returns none.
pub async fn remote_refs_returns_only_existing_requested_refs(
    vcs: &dyn Vcs,
    fixture: &dyn VcsFixture,
) {
    let clone = fixture.clean_clone("remote-refs").await;
    let commit = head_commit(vcs, &clone).await;
    let none = vcs
        .remote_refs(&clone, REMOTE, &[])
        .await
        .expect("remote_refs");
    assert!(none.is_empty(), "nothing asked, nothing returned: {none:?}");
    let asked = vec![
        branch_ref(BRANCH),
        branch_ref("no-such-branch"),
        tag_ref("no-such-tag"),
    ];
    let refs = vcs
        .remote_refs(&clone, REMOTE, &asked)
        .await
        .expect("remote_refs");
    let expected: BTreeMap<String, String> = [(branch_ref(BRANCH), commit)].into_iter().collect();
    assert_eq!(refs, expected);
}

/// The configured remote's URL is reported; an unknown remote is `None`, not an error.
pub async fn remote_url_reported_and_missing_remote_is_none(
    vcs: &dyn Vcs,
    fixture: &dyn VcsFixture,
) {
    let clone = fixture.clean_clone("remote-url").await;
    let url = vcs.remote_url(&clone, REMOTE).await.expect("remote_url");
    assert_eq!(url, Some(fixture.origin_url(&clone).await));
    let missing = vcs
        .remote_url(&clone, "no-such-remote")
        .await
        .expect("remote_url");
    assert_eq!(missing, None);
}

/// A plain directory or a missing path is not a repository, and asking for its HEAD fails.
pub async fn non_repository_is_reported(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let plain = fixture.plain_directory().await;
    assert!(
        !vcs.is_repository(&plain).await.expect("is_repository"),
        "a plain dir is not a repo"
    );
    let missing = plain.join("does-not-exist");
    assert!(
        !vcs.is_repository(&missing).await.expect("is_repository"),
        "a missing path is not a repo"
    );
    assert!(
        vcs.head(&plain).await.is_err(),
        "head of a non-repository is an error"
    );
}

/// `commits_since` lists the commits after a tag (or commit), newest first, with summary and
/// body split; all of history without `since`; nothing after HEAD itself; an unknown `since` fails.
pub async fn commits_since_stops_at_the_tag(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("commits-since").await;
    let base = head_commit(vcs, &clone).await;
    vcs.create_tag(&clone, "v1.0.0", &base, "Release v1.0.0")
        .await
        .expect("create_tag");
    let first = fixture.commit_locally(&clone).await;
    let files = vec![("notes.txt".to_owned(), b"notes\n".to_vec())];
    let second = vcs
        .commit_files(
            &clone,
            &files,
            "feat: notes\n\nBREAKING CHANGE: everything is new\n",
        )
        .await
        .expect("commit_files");
    let since_tag = vcs
        .commits_since(&clone, Some("v1.0.0"))
        .await
        .expect("commits_since");
    let ids: Vec<&str> = since_tag.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec![second.as_str(), first.as_str()], "newest first");
    assert_eq!(since_tag[0].summary, "feat: notes");
    assert_eq!(since_tag[0].body, "BREAKING CHANGE: everything is new");
    let since_commit = vcs
        .commits_since(&clone, Some(&first))
        .await
        .expect("commits_since");
    assert_eq!(since_commit.len(), 1, "{since_commit:?}");
    assert_eq!(since_commit[0].id, second);
    let all = vcs
        .commits_since(&clone, None)
        .await
        .expect("commits_since");
    assert_eq!(all.first().map(|c| c.id.as_str()), Some(second.as_str()));
    assert!(
        all.iter().any(|c| c.id == base),
        "all of history includes the first commit: {all:?}"
    );
    let none = vcs
        .commits_since(&clone, Some(&second))
        .await
        .expect("commits_since");
    assert!(none.is_empty(), "nothing after HEAD: {none:?}");
    assert!(
        vcs.commits_since(&clone, Some("no-such-tag"))
            .await
            .is_err(),
        "an unknown `since` is an error"
    );
}

/// `commit_files` writes, stages and commits exactly the given files on the current branch:
/// other staged or untracked files stay out of the commit; committing unchanged content fails.
pub async fn commit_files_commits_exactly_the_given_files(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("commit-files").await;
    let base = head_commit(vcs, &clone).await;
    let staged = fixture.stage_new_file(&clone).await;
    let untracked = fixture.add_untracked_file(&clone).await;
    let files = vec![
        (
            "ops/plans/prod/plan.yaml".to_owned(),
            b"kind: ScalePlan\n".to_vec(),
        ),
        ("SUMMARY.md".to_owned(), b"# Summary\n".to_vec()),
    ];
    let commit = vcs
        .commit_files(&clone, &files, "Plan for prod")
        .await
        .expect("commit_files");
    assert_eq!(commit.len(), 40, "a full commit id: {commit}");
    let head = vcs.head(&clone).await.expect("head");
    assert_eq!(
        head,
        Head::Branch {
            name: BRANCH.to_owned(),
            commit: commit.clone()
        },
        "the commit is on the current branch"
    );
    let written = std::fs::read(clone.join("ops/plans/prod/plan.yaml")).expect("read the file");
    assert_eq!(written, b"kind: ScalePlan\n");
    let mut dirty = vcs.dirty_paths(&clone).await.expect("dirty_paths");
    dirty.sort();
    let mut expected = vec![staged, untracked];
    expected.sort();
    assert_eq!(dirty, expected, "only the given files were committed");
    let new = vcs
        .commits_since(&clone, Some(&base))
        .await
        .expect("commits_since");
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0].summary, "Plan for prod");
    let tracking = vcs
        .remote_tracking(&clone, REMOTE, BRANCH)
        .await
        .expect("remote_tracking");
    assert_eq!(tracking.as_deref(), Some(base.as_str()), "nothing pushed");
    let again = vcs.commit_files(&clone, &files, "Plan for prod").await;
    assert!(
        again.is_err(),
        "unchanged content has nothing to commit: {again:?}"
    );
    assert_eq!(head_commit(vcs, &clone).await, commit, "HEAD did not move");
}

/// `checkout_new_branch` creates the branch at the start point and checks it out; an existing
/// branch is `AlreadyExists`; an unknown start point fails.
pub async fn checkout_new_branch_switches_to_it(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("new-branch").await;
    let base = head_commit(vcs, &clone).await;
    fixture.commit_locally(&clone).await;
    vcs.checkout_new_branch(&clone, "plan/prod", &base)
        .await
        .expect("checkout_new_branch");
    assert_eq!(
        vcs.head(&clone).await.expect("head"),
        Head::Branch {
            name: "plan/prod".to_owned(),
            commit: base.clone()
        }
    );
    let dirty = vcs.dirty_paths(&clone).await.expect("dirty_paths");
    assert!(dirty.is_empty(), "the work tree follows: {dirty:?}");
    let err = vcs
        .checkout_new_branch(&clone, BRANCH, &base)
        .await
        .expect_err("main exists");
    assert!(
        matches!(err, Error::AlreadyExists { .. }),
        "expected AlreadyExists, got {err:?}"
    );
    assert!(
        vcs.checkout_new_branch(&clone, "other", "no-such-start")
            .await
            .is_err(),
        "an unknown start point is an error"
    );
    assert_eq!(
        vcs.head(&clone).await.expect("head"),
        Head::Branch {
            name: "plan/prod".to_owned(),
            commit: base
        },
        "failed attempts leave HEAD alone"
    );
}

/// `push_branch` pushes that branch only (no tags, no other branch), and pushing it again is a
/// no-op.
pub async fn push_branch_pushes_only_the_branch(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("push-branch").await;
    let base = head_commit(vcs, &clone).await;
    let before = fixture.origin_refs(&clone).await;
    vcs.create_tag(&clone, "local-only", &base, "not to be pushed")
        .await
        .expect("create_tag");
    vcs.checkout_new_branch(&clone, "release-pr", &base)
        .await
        .expect("checkout_new_branch");
    let files = vec![("CHANGELOG.md".to_owned(), b"## 1.1.0\n".to_vec())];
    let commit = vcs
        .commit_files(&clone, &files, "chore: release 1.1.0")
        .await
        .expect("commit_files");
    vcs.push_branch(&clone, REMOTE, "release-pr")
        .await
        .expect("push_branch");
    let mut after = fixture.origin_refs(&clone).await;
    assert_eq!(
        after.remove(&branch_ref("release-pr")),
        Some(commit),
        "the branch is on the remote at the commit"
    );
    assert_eq!(
        after, before,
        "nothing but the branch changed on the remote"
    );
    vcs.push_branch(&clone, REMOTE, "release-pr")
        .await
        .expect("pushing again is a no-op");
    let err = vcs
        .push_branch(&clone, REMOTE, "no-such-branch")
        .await
        .expect_err("no such branch");
    assert!(
        !matches!(err, Error::AlreadyExists { .. } | Error::Conflict { .. }),
        "got {err:?}"
    );
}

/// `push_branch` never forces: a remote branch with commits the local one lacks is a `Conflict`
/// and the remote is unchanged.
pub async fn push_branch_never_forces(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    let clone = fixture.clean_clone("push-branch-diverged").await;
    fixture.advance_origin(&clone).await;
    let files = vec![("local.md".to_owned(), b"diverged\n".to_vec())];
    vcs.commit_files(&clone, &files, "Local work")
        .await
        .expect("commit_files");
    let before = fixture.origin_refs(&clone).await;
    let err = vcs
        .push_branch(&clone, REMOTE, BRANCH)
        .await
        .expect_err("a diverged branch must not be overwritten");
    assert!(
        matches!(err, Error::Conflict { .. }),
        "expected Conflict, got {err:?}"
    );
    assert_eq!(
        fixture.origin_refs(&clone).await,
        before,
        "the remote is unchanged"
    );
}

/// Runs every check in this module, in order.
pub async fn run_all(vcs: &dyn Vcs, fixture: &dyn VcsFixture) {
    clean_clone_is_clean_on_branch_matching_origin(vcs, fixture).await;
    modified_file_is_dirty(vcs, fixture).await;
    staged_file_is_dirty(vcs, fixture).await;
    deleted_file_is_dirty(vcs, fixture).await;
    untracked_file_is_dirty(vcs, fixture).await;
    ignored_file_is_clean(vcs, fixture).await;
    rewritten_unchanged_file_is_clean(vcs, fixture).await;
    detached_head_is_reported(vcs, fixture).await;
    unborn_head_is_reported(vcs, fixture).await;
    stale_tracking_ref_until_fetch(vcs, fixture).await;
    local_commit_differs_from_origin(vcs, fixture).await;
    tag_create_then_push_is_visible_remotely_at_commit(vcs, fixture).await;
    creating_existing_tag_is_already_exists(vcs, fixture).await;
    push_pushes_only_the_tag(vcs, fixture).await;
    pushing_tag_existing_remotely_elsewhere_fails(vcs, fixture).await;
    pushing_missing_tag_fails(vcs, fixture).await;
    remote_refs_returns_only_existing_requested_refs(vcs, fixture).await;
    remote_url_reported_and_missing_remote_is_none(vcs, fixture).await;
    non_repository_is_reported(vcs, fixture).await;
    commits_since_stops_at_the_tag(vcs, fixture).await;
    commit_files_commits_exactly_the_given_files(vcs, fixture).await;
    checkout_new_branch_switches_to_it(vcs, fixture).await;
    push_branch_pushes_only_the_branch(vcs, fixture).await;
    push_branch_never_forces(vcs, fixture).await;
}

async fn head_commit(vcs: &dyn Vcs, clone: &Path) -> String {
    let head = vcs.head(clone).await.expect("head");
    head.commit()
        .unwrap_or_else(|| panic!("HEAD has a commit, got {head:?}"))
        .to_owned()
}

async fn remote_branch(vcs: &dyn Vcs, clone: &Path) -> Option<String> {
    let name = branch_ref(BRANCH);
    let refs = vcs
        .remote_refs(clone, REMOTE, std::slice::from_ref(&name))
        .await
        .expect("remote_refs");
    refs.get(&name).cloned()
}

async fn assert_dirty_with(vcs: &dyn Vcs, clone: &Path, path: &str) {
    let dirty = vcs.dirty_paths(clone).await.expect("dirty_paths");
    assert_eq!(dirty, vec![path.to_owned()], "exactly {path} is dirty");
}
