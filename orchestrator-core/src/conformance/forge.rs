//! The forge conformance suite: every backend (in-memory, GitHub over the mock server) runs it.
//!
//! Each function exercises one behaviour on `repo`, which must exist and may already hold other
//! releases, runs and pull requests; tags, branches and correlation ids are unique per function so
//! the functions can share one repository. Only the traits are used: no backend-specific set-up.
//!
//! Each behaviour takes the one capability it exercises, and the `run_*` groups follow the
//! capability traits, so a backend that implements only some capabilities (a release mirror runs
//! [`run_releases`]) passes the groups it can; a full [`Forge`] runs [`run_all`].

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::Error;
use crate::forge::{
    AccessForge, AssetState, ContentForge, Forge, IssueForge, NewPullRequest, NewRelease,
    Permission, PullRequestForge, ReleaseForge, ReleaseUpdate, ReleaseWriteForge, RepoId,
    WorkflowDispatch, WorkflowForge, WorkflowRunQuery, WorkflowRunStatus,
};

fn new_release(tag: &str) -> NewRelease {
    NewRelease {
        tag: tag.to_owned(),
        name: Some(format!("Release {tag}")),
        body: Some("notes".into()),
        ..NewRelease::default()
    }
}

/// A tag without a release answers `None`, not an error.
pub async fn missing_release_is_none(forge: &dyn ReleaseForge, repo: &RepoId) {
    let found = forge
        .release_by_tag(repo, "conformance-missing")
        .await
        .expect("lookup succeeds");
    assert!(
        found.is_none(),
        "{}: expected no release, got {found:?}",
        forge.backend()
    );
}

/// A created release is found by its tag with the fields it was created with.
pub async fn created_release_is_found_by_tag(forge: &dyn ReleaseWriteForge, repo: &RepoId) {
    let created = forge
        .create_release(repo, &new_release("conformance-create"))
        .await
        .expect("create");
    let found = forge
        .release_by_tag(repo, "conformance-create")
        .await
        .expect("lookup")
        .expect("the created release");
    assert_eq!(found.id, created.id);
    assert_eq!(found.tag, "conformance-create");
    assert_eq!(found.name.as_deref(), Some("Release conformance-create"));
    assert!(!found.draft);
    assert!(found.assets.is_empty());
}

/// A published release is dated (monitors show its age) and a draft is not; publishing the
/// draft dates it.
pub async fn published_releases_are_dated(forge: &dyn ReleaseWriteForge, repo: &RepoId) {
    let before = crate::state::now_ms();
    let published = forge
        .create_release(repo, &new_release("conformance-dated"))
        .await
        .expect("create");
    let draft = forge
        .create_release(
            repo,
            &NewRelease {
                draft: true,
                ..new_release("conformance-undated")
            },
        )
        .await
        .expect("create");
    let found = forge
        .release_by_tag(repo, "conformance-dated")
        .await
        .expect("lookup")
        .expect("the created release");
    let at = found
        .published_at_ms
        .unwrap_or_else(|| panic!("{}: a published release has a date", forge.backend()));
    // Whole seconds on GitHub: allow the truncation.
    assert!(
        at >= before - 1_000 && at <= crate::state::now_ms() + 1_000,
        "{}: published at {at}, created after {before}",
        forge.backend()
    );
    assert_eq!(found.published_at_ms, published.published_at_ms);
    assert_eq!(draft.published_at_ms, None, "{}", forge.backend());
    let update = ReleaseUpdate {
        draft: Some(false),
        ..ReleaseUpdate::default()
    };
    let now_published = forge
        .update_release(repo, draft.id, &update)
        .await
        .expect("update_release");
    assert!(
        now_published.published_at_ms.is_some(),
        "{}: publishing a draft dates it",
        forge.backend()
    );
}

/// Creating a second release for the same tag is `AlreadyExists`.
pub async fn creating_a_release_twice_is_already_exists(
    forge: &dyn ReleaseWriteForge,
    repo: &RepoId,
) {
    forge
        .create_release(repo, &new_release("conformance-twice"))
        .await
        .expect("create");
    let err = forge
        .create_release(repo, &new_release("conformance-twice"))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, Error::AlreadyExists { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// An uploaded asset is listed on its release, fully uploaded, with its size.
pub async fn uploaded_asset_is_listed(forge: &dyn ReleaseWriteForge, repo: &RepoId) {
    let release = forge
        .create_release(repo, &new_release("conformance-asset"))
        .await
        .expect("create");
    let asset = forge
        .upload_asset(repo, release.id, "app.tar.gz", b"0123456789")
        .await
        .expect("upload");
    assert_eq!(asset.size, 10);
    let found = forge
        .release_by_tag(repo, "conformance-asset")
        .await
        .expect("lookup")
        .expect("release");
    assert_eq!(found.assets.len(), 1);
    assert_eq!(found.assets[0].name, "app.tar.gz");
    assert_eq!(found.assets[0].size, 10);
    assert_eq!(found.assets[0].state, AssetState::Uploaded);
}

/// Uploading a second asset with the same name is `AlreadyExists`.
pub async fn duplicate_asset_is_already_exists(forge: &dyn ReleaseWriteForge, repo: &RepoId) {
    let release = forge
        .create_release(repo, &new_release("conformance-dup-asset"))
        .await
        .expect("create");
    forge
        .upload_asset(repo, release.id, "a.bin", b"x")
        .await
        .expect("upload");
    let err = forge
        .upload_asset(repo, release.id, "a.bin", b"y")
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, Error::AlreadyExists { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// Listing includes created releases.
pub async fn list_releases_includes_created(forge: &dyn ReleaseWriteForge, repo: &RepoId) {
    forge
        .create_release(repo, &new_release("conformance-list"))
        .await
        .expect("create");
    let all = forge.list_releases(repo).await.expect("list");
    assert!(
        all.iter().any(|r| r.tag == "conformance-list"),
        "{}: {all:?}",
        forge.backend()
    );
}

/// The latest release is the newest published one: drafts and prereleases made after it are not.
pub async fn latest_release_skips_drafts_and_prereleases(
    forge: &dyn ReleaseWriteForge,
    repo: &RepoId,
) {
    let published = forge
        .create_release(repo, &new_release("conformance-latest"))
        .await
        .expect("create");
    for (tag, draft, prerelease) in [
        ("conformance-latest-draft", true, false),
        ("conformance-latest-rc", false, true),
    ] {
        let release = NewRelease {
            draft,
            prerelease,
            ..new_release(tag)
        };
        forge.create_release(repo, &release).await.expect("create");
    }
    let latest = forge
        .latest_release(repo)
        .await
        .expect("latest_release")
        .expect("a published release exists");
    assert_eq!(latest.id, published.id, "{}: {latest:?}", forge.backend());
}

/// Updating a release changes the given fields only, and publishing a draft sticks.
pub async fn update_release_changes_only_given_fields(
    forge: &dyn ReleaseWriteForge,
    repo: &RepoId,
) {
    let draft = NewRelease {
        draft: true,
        ..new_release("conformance-update")
    };
    let created = forge.create_release(repo, &draft).await.expect("create");
    let update = ReleaseUpdate {
        body: Some("new notes".into()),
        draft: Some(false),
        ..ReleaseUpdate::default()
    };
    let updated = forge
        .update_release(repo, created.id, &update)
        .await
        .expect("update_release");
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.body.as_deref(), Some("new notes"));
    assert_eq!(updated.name.as_deref(), Some("Release conformance-update"));
    assert!(!updated.draft);
    let found = forge
        .release_by_tag(repo, "conformance-update")
        .await
        .expect("lookup")
        .expect("the release");
    assert_eq!(found.body.as_deref(), Some("new notes"));
    assert!(!found.draft, "{}: still a draft", forge.backend());
}

/// Updating an unknown release id is `NotFound`.
pub async fn updating_a_missing_release_is_not_found(forge: &dyn ReleaseWriteForge, repo: &RepoId) {
    let err = forge
        .update_release(repo, 987_654_321, &ReleaseUpdate::default())
        .await
        .expect_err("no such release");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// A dispatched workflow run is listed (filtered by workflow, event and time) with the
/// correlation input in its title, and can be fetched by id.
pub async fn dispatched_workflow_run_is_listed_and_fetched(
    forge: &dyn WorkflowForge,
    repo: &RepoId,
) {
    let correlation = "conformance-corr-7f3a";
    let dispatch = WorkflowDispatch {
        workflow: "release.yml".into(),
        git_ref: "main".into(),
        inputs: BTreeMap::from([("correlation_id".to_owned(), correlation.to_owned())]),
    };
    let before = crate::state::now_ms();
    forge
        .dispatch_workflow(repo, &dispatch)
        .await
        .expect("dispatch_workflow");
    let query = WorkflowRunQuery {
        workflow: Some("release.yml".into()),
        event: Some("workflow_dispatch".into()),
        // Generous: forges round creation times and clocks drift.
        created_after_ms: Some(before - 60_000),
        ..WorkflowRunQuery::default()
    };
    // A real forge lists the run a moment after accepting the dispatch.
    let mut found = None;
    for _ in 0..50 {
        let runs = forge
            .list_workflow_runs(repo, &query)
            .await
            .expect("list_workflow_runs");
        assert!(
            runs.windows(2)
                .all(|w| w[0].created_at_ms >= w[1].created_at_ms),
            "{}: newest first: {runs:?}",
            forge.backend()
        );
        found = runs
            .into_iter()
            .find(|r| r.display_title.contains(correlation));
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = found.unwrap_or_else(|| panic!("{}: the dispatched run is listed", forge.backend()));
    assert_eq!(run.workflow, "release.yml");
    assert_eq!(run.event, "workflow_dispatch");
    assert_eq!(run.head_sha.len(), 40, "a full commit id: {run:?}");
    assert_eq!(run.head_branch.as_deref(), Some("main"));
    if run.status != WorkflowRunStatus::Completed {
        assert_eq!(run.conclusion, None, "no conclusion before completion");
    }
    let fetched = forge
        .workflow_run(repo, run.id)
        .await
        .expect("workflow_run");
    assert_eq!(fetched.id, run.id);
    assert_eq!(fetched.display_title, run.display_title);
    let other_event = WorkflowRunQuery {
        event: Some("conformance-no-such-event".into()),
        ..query
    };
    let none = forge
        .list_workflow_runs(repo, &other_event)
        .await
        .expect("list_workflow_runs");
    assert!(none.is_empty(), "{}: {none:?}", forge.backend());
}

/// An unknown workflow run id is `NotFound`.
pub async fn missing_workflow_run_is_not_found(forge: &dyn WorkflowForge, repo: &RepoId) {
    let err = forge
        .workflow_run(repo, 987_654_321)
        .await
        .expect_err("no such run");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// A repository dispatch with a JSON payload is accepted.
pub async fn repository_dispatch_is_accepted(forge: &dyn WorkflowForge, repo: &RepoId) {
    let payload = serde_json::json!({"ref": "main", "sha": "0123456789abcdef0123456789abcdef01234567", "repo": repo.to_string()});
    forge
        .repository_dispatch(repo, "conformance_build", &payload)
        .await
        .expect("repository_dispatch");
}

/// Creating a branch that exists is `AlreadyExists`.
pub async fn creating_a_branch_twice_is_already_exists(
    forge: &dyn PullRequestForge,
    repo: &RepoId,
) {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    forge
        .create_branch(repo, "conformance-branch", sha)
        .await
        .expect("create_branch");
    let err = forge
        .create_branch(repo, "conformance-branch", sha)
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, Error::AlreadyExists { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// A pull request reads back as opened; labels are added without duplicates and removed, and
/// removing an absent label is fine.
pub async fn pull_request_round_trip_with_labels(forge: &dyn PullRequestForge, repo: &RepoId) {
    let new = NewPullRequest {
        title: "Conformance PR".into(),
        body: "Body *markdown*".into(),
        head: "conformance-pr".into(),
        base: "main".into(),
        draft: true,
    };
    let created = forge
        .create_pull_request(repo, &new)
        .await
        .expect("create_pull_request");
    let pr = forge
        .pull_request(repo, created.number)
        .await
        .expect("pull_request");
    assert_eq!(pr, created, "{}: read back as created", forge.backend());
    assert_eq!(pr.title, "Conformance PR");
    assert_eq!(pr.body, "Body *markdown*");
    assert_eq!(pr.head_ref, "conformance-pr");
    assert_eq!(pr.base_ref, "main");
    assert_eq!(pr.state, "open");
    assert!(pr.draft);
    assert!(!pr.author.is_empty(), "an author");
    assert!(pr.labels.is_empty());
    let labels = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect::<Vec<_>>();
    forge
        .add_labels(repo, pr.number, &labels(&["needs-approval", "plan"]))
        .await
        .expect("add_labels");
    forge
        .add_labels(repo, pr.number, &labels(&["plan", "execute-plan"]))
        .await
        .expect("add_labels");
    forge
        .remove_label(repo, pr.number, "needs-approval")
        .await
        .expect("remove_label");
    forge
        .remove_label(repo, pr.number, "never-added")
        .await
        .expect("removing an absent label is fine");
    let mut now = forge
        .pull_request(repo, pr.number)
        .await
        .expect("pull_request")
        .labels;
    now.sort();
    assert_eq!(
        now,
        labels(&["execute-plan", "plan"]),
        "{}",
        forge.backend()
    );
}

/// An unknown pull request is `NotFound`.
pub async fn missing_pull_request_is_not_found(forge: &dyn PullRequestForge, repo: &RepoId) {
    let err = forge
        .pull_request(repo, 987_654)
        .await
        .expect_err("no such pull request");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// Comments on a pull request (its number takes comments as an issue's does) are listed oldest
/// first with their bodies, written by the pull request's author (both are the token's user).
pub async fn comments_round_trip_oldest_first<F>(forge: &F, repo: &RepoId)
where
    F: PullRequestForge + IssueForge + ?Sized,
{
    let new = NewPullRequest {
        title: "Conformance comments".into(),
        body: String::new(),
        head: "conformance-comments".into(),
        base: "main".into(),
        draft: false,
    };
    let pr = forge
        .create_pull_request(repo, &new)
        .await
        .expect("create_pull_request");
    let first = forge
        .create_comment(repo, pr.number, "first")
        .await
        .expect("create_comment");
    let second = forge
        .create_comment(repo, pr.number, "- [ ] second\n- [x] checklist")
        .await
        .expect("create_comment");
    assert_ne!(first.id, second.id);
    assert_eq!(first.author, pr.author);
    let listed = forge
        .list_comments(repo, pr.number)
        .await
        .expect("list_comments");
    let bodies: Vec<&str> = listed.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["first", "- [ ] second\n- [x] checklist"],
        "{}",
        forge.backend()
    );
    assert_eq!(listed[0], first);
}

/// An issue reads back as opened; updating its body changes nothing else; an unknown issue is
/// `NotFound`.
pub async fn issue_body_round_trip(forge: &dyn IssueForge, repo: &RepoId) {
    let created = forge
        .create_issue(repo, "Conformance tracking issue", "old *table*")
        .await
        .expect("create_issue");
    let read = forge.issue(repo, created.number).await.expect("issue");
    assert_eq!(read, created, "{}: read back as created", forge.backend());
    assert_eq!(read.title, "Conformance tracking issue");
    assert_eq!(read.body, "old *table*");
    assert_eq!(read.state, "open");
    let body = "| repo | release |\n|---|---|\n| a | v1.0.0 |\n";
    let updated = forge
        .update_issue_body(repo, created.number, body)
        .await
        .expect("update_issue_body");
    assert_eq!(updated.body, body, "{}", forge.backend());
    assert_eq!(updated.title, created.title);
    assert_eq!(
        forge.issue(repo, created.number).await.expect("issue"),
        updated
    );
    for err in [
        forge.issue(repo, 987_655).await.expect_err("no such issue"),
        forge
            .update_issue_body(repo, 987_655, "x")
            .await
            .expect_err("no such issue"),
    ] {
        assert!(
            matches!(err, Error::NotFound { .. }),
            "{}: got {err:?}",
            forge.backend()
        );
    }
}

/// An issue's comments are listed oldest first with their bodies, each readable by its id as
/// listed; an unknown comment id is `NotFound`.
pub async fn issue_comments_round_trip(forge: &dyn IssueForge, repo: &RepoId) {
    let issue = forge
        .create_issue(repo, "Conformance comments on an issue", "")
        .await
        .expect("create_issue");
    let first = forge
        .create_comment(repo, issue.number, "first")
        .await
        .expect("create_comment");
    let second = forge
        .create_comment(repo, issue.number, "second")
        .await
        .expect("create_comment");
    let listed = forge
        .list_comments(repo, issue.number)
        .await
        .expect("list_comments");
    assert_eq!(listed, vec![first.clone(), second], "{}", forge.backend());
    let by_id = forge.comment(repo, first.id).await.expect("comment by id");
    assert_eq!(by_id, first, "{}: read back by id", forge.backend());
    let err = forge
        .comment(repo, 987_656)
        .await
        .expect_err("no such comment");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// A path no commit ever had reads as `None` (no file), not as an error, at the default branch.
pub async fn missing_file_is_none(forge: &dyn ContentForge, repo: &RepoId) {
    let found = forge
        .file_contents(repo, "conformance/never-written.toml", "main")
        .await
        .expect("file_contents");
    assert_eq!(found, None, "{}", forge.backend());
}

/// A ref the repository does not have is `NotFound`, not a missing file: a policy read at a
/// mistyped or deleted ref must fail, never read as "no policy".
pub async fn unknown_ref_is_not_found(forge: &dyn ContentForge, repo: &RepoId) {
    let found = forge
        .file_contents(repo, "orchestrator.toml", "conformance-no-such-ref")
        .await;
    assert!(
        matches!(found, Err(crate::Error::NotFound { .. })),
        "{}: {found:?}",
        forge.backend()
    );
}

/// A user with no access to the repository has permission `None`.
pub async fn stranger_has_no_permission(forge: &dyn AccessForge, repo: &RepoId) {
    let permission = forge
        .permission(repo, "conformance-stranger")
        .await
        .expect("permission");
    assert_eq!(permission, Permission::None, "{}", forge.backend());
}

/// The credentials act as a named user.
pub async fn current_user_has_a_login(forge: &dyn AccessForge) {
    let login = forge.current_user().await.expect("current_user");
    assert!(!login.trim().is_empty(), "{}: empty login", forge.backend());
}

/// Every behaviour of every capability, group by group.
pub async fn run_all(forge: &dyn Forge, repo: &RepoId) {
    run_releases(forge, repo).await;
    run_workflows(forge, repo).await;
    run_pull_requests(forge, repo).await;
    run_issues(forge, repo).await;
    run_pull_request_comments(forge, repo).await;
    run_contents(forge, repo).await;
    run_access(forge, repo).await;
}

/// [`ReleaseForge`] and [`ReleaseWriteForge`]: reading, making and editing releases and assets.
pub async fn run_releases(forge: &dyn ReleaseWriteForge, repo: &RepoId) {
    missing_release_is_none(forge, repo).await;
    created_release_is_found_by_tag(forge, repo).await;
    creating_a_release_twice_is_already_exists(forge, repo).await;
    uploaded_asset_is_listed(forge, repo).await;
    duplicate_asset_is_already_exists(forge, repo).await;
    list_releases_includes_created(forge, repo).await;
    latest_release_skips_drafts_and_prereleases(forge, repo).await;
    published_releases_are_dated(forge, repo).await;
    update_release_changes_only_given_fields(forge, repo).await;
    updating_a_missing_release_is_not_found(forge, repo).await;
}

/// [`WorkflowForge`]: dispatches and the runs they make. `repo` must declare `release.yml`.
pub async fn run_workflows(forge: &dyn WorkflowForge, repo: &RepoId) {
    dispatched_workflow_run_is_listed_and_fetched(forge, repo).await;
    missing_workflow_run_is_not_found(forge, repo).await;
    repository_dispatch_is_accepted(forge, repo).await;
}

/// [`PullRequestForge`]: branches, pull requests and labels.
pub async fn run_pull_requests(forge: &dyn PullRequestForge, repo: &RepoId) {
    creating_a_branch_twice_is_already_exists(forge, repo).await;
    pull_request_round_trip_with_labels(forge, repo).await;
    missing_pull_request_is_not_found(forge, repo).await;
}

/// [`IssueForge`]: issues and their comments.
pub async fn run_issues(forge: &dyn IssueForge, repo: &RepoId) {
    issue_body_round_trip(forge, repo).await;
    issue_comments_round_trip(forge, repo).await;
}

/// [`PullRequestForge`] with [`IssueForge`]: the conversation on a pull request.
pub async fn run_pull_request_comments<F>(forge: &F, repo: &RepoId)
where
    F: PullRequestForge + IssueForge + ?Sized,
{
    comments_round_trip_oldest_first(forge, repo).await;
}

/// [`ContentForge`]: files at a ref.
pub async fn run_contents(forge: &dyn ContentForge, repo: &RepoId) {
    missing_file_is_none(forge, repo).await;
    unknown_ref_is_not_found(forge, repo).await;
}

/// [`AccessForge`]: the token's user and others' permissions.
pub async fn run_access(forge: &dyn AccessForge, repo: &RepoId) {
    current_user_has_a_login(forge).await;
    stranger_has_no_permission(forge, repo).await;
}
