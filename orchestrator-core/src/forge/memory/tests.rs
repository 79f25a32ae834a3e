//! `InMemoryForge`: the conformance suite, the CI simulation and fault injection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::conformance;
use crate::error::Error;
use crate::forge::prelude::*;
use crate::forge::{
    AssetState, NewPullRequest, Permission, ReviewState, WorkflowDispatch, WorkflowRun,
    WorkflowRunQuery, WorkflowRunStatus,
};

fn repo() -> RepoId {
    RepoId::new("Truthdb", "truthdb")
}

#[tokio::test]
async fn passes_the_forge_conformance_suite() {
    conformance::forge::run_all(&InMemoryForge::new(), &repo()).await;
}

fn ci(behaviour: CiBehaviour, origin: Option<PathBuf>) -> InMemoryForge {
    let mut repos = BTreeMap::new();
    repos.insert(
        repo(),
        CiRepo {
            assets: vec![
                "app-v{version}.tar.gz".into(),
                "app-v{version}.sha256".into(),
            ],
            origin,
            behaviour,
        },
    );
    InMemoryForge::with_ci(CiSimulation {
        delay: Duration::from_millis(30),
        asset_interval: Duration::from_millis(30),
        growth_steps: 3,
        repos,
        ..CiSimulation::default()
    })
}

async fn poll_until_settled(forge: &InMemoryForge, tag: &str, limit: Duration) -> Vec<Release> {
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < limit {
        if let Some(r) = forge.release_by_tag(&repo(), tag).await.expect("lookup") {
            let settled =
                r.assets.len() == 2 && r.assets.iter().all(|a| a.state == AssetState::Uploaded);
            seen.push(r);
            if settled {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    seen
}

#[tokio::test]
async fn a_pushed_tag_produces_a_draft_then_assets_that_grow_then_settle() {
    let forge = ci(CiBehaviour::Normal, None);
    assert!(
        forge
            .release_by_tag(&repo(), "v1.2.3")
            .await
            .expect("lookup")
            .is_none(),
        "nothing before a push"
    );
    forge.notify_tag_pushed(&repo(), "v1.2.3");
    let seen = poll_until_settled(&forge, "v1.2.3", Duration::from_secs(5)).await;
    let last = seen.last().expect("a release appeared");
    assert!(seen.first().expect("first").draft, "starts as a draft");
    assert!(!last.draft);
    let names: Vec<&str> = last.assets.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["app-v1.2.3.tar.gz", "app-v1.2.3.sha256"]);
    assert!(last.assets.iter().all(|a| a.state == AssetState::Uploaded));
    let grew = seen.iter().any(|r| {
        r.assets
            .iter()
            .any(|a| a.state == AssetState::Uploading && a.size < last.assets[0].size)
    });
    assert!(grew, "an asset was seen uploading with a smaller size");
    assert!(
        forge
            .release_by_tag(&repo(), "v9.9.9")
            .await
            .expect("lookup")
            .is_none(),
        "other tags stay empty"
    );
}

#[tokio::test]
async fn never_settling_and_missing_assets_never_look_complete() {
    for behaviour in [
        CiBehaviour::NeverSettles,
        CiBehaviour::MissingAsset("app-v{version}.sha256".into()),
        CiBehaviour::Fails,
    ] {
        let forge = ci(behaviour.clone(), None);
        forge.notify_tag_pushed(&repo(), "v1.0.0");
        let seen = poll_until_settled(&forge, "v1.0.0", Duration::from_millis(400)).await;
        let complete = seen.iter().any(|r| {
            r.assets.len() == 2 && r.assets.iter().all(|a| a.state == AssetState::Uploaded)
        });
        assert!(!complete, "{behaviour:?} must never look complete");
    }
}

#[tokio::test]
async fn watches_a_bare_origin_for_loose_and_packed_tags() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("refs/tags")).expect("mkdir");
    let forge = ci(CiBehaviour::Normal, Some(dir.path().to_owned()));
    assert!(
        forge
            .release_by_tag(&repo(), "v1.0.0")
            .await
            .expect("lookup")
            .is_none()
    );
    std::fs::write(dir.path().join("refs/tags/v1.0.0"), "0123\n").expect("write");
    std::fs::write(
        dir.path().join("packed-refs"),
        "# pack-refs\nabcd refs/tags/v2.0.0\n",
    )
    .expect("write");
    let one = poll_until_settled(&forge, "v1.0.0", Duration::from_secs(5)).await;
    assert!(!one.is_empty(), "loose tag seen");
    let two = poll_until_settled(&forge, "v2.0.0", Duration::from_secs(5)).await;
    assert!(!two.is_empty(), "packed tag seen");
}

#[tokio::test]
async fn fault_rules_fail_exactly_the_matching_requests() {
    let forge = InMemoryForge::new();
    forge.inject(FaultRule {
        op: Some(ForgeOp::ReleaseByTag),
        repo: Some(repo()),
        times: 2,
        fault: Fault::RateLimited {
            retry_after: Duration::from_millis(5),
        },
    });
    let other = RepoId::new("Truthdb", "other");
    assert!(
        forge.release_by_tag(&other, "v1").await.is_ok(),
        "other repo unaffected"
    );
    assert!(
        forge.list_releases(&repo()).await.is_ok(),
        "other op unaffected"
    );
    for _ in 0..2 {
        let err = forge
            .release_by_tag(&repo(), "v1")
            .await
            .expect_err("injected");
        assert!(
            matches!(
                err,
                Error::RateLimited {
                    retry_after: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert!(
        forge.release_by_tag(&repo(), "v1").await.is_ok(),
        "rule used up"
    );
    assert_eq!(forge.count(ForgeOp::ReleaseByTag, &repo()), 3);
    assert_eq!(
        forge
            .requests()
            .iter()
            .filter(|r| r.error.is_some())
            .count(),
        2
    );
}

#[tokio::test]
async fn fault_rate_is_reproducible_from_the_seed() {
    async fn failures(seed: u64) -> Vec<bool> {
        let forge = InMemoryForge::new();
        forge.set_fault_rate(0.3, seed);
        let mut out = Vec::new();
        for _ in 0..200 {
            out.push(forge.release_by_tag(&repo(), "v1").await.is_err());
        }
        out
    }
    let a = failures(7).await;
    assert_eq!(a, failures(7).await);
    let rate = a.iter().filter(|f| **f).count() as f64 / a.len() as f64;
    assert!((0.15..0.45).contains(&rate), "rate {rate}");
}

fn dispatch(workflow: &str, git_ref: &str, inputs: &[(&str, &str)]) -> WorkflowDispatch {
    WorkflowDispatch {
        workflow: workflow.into(),
        git_ref: git_ref.into(),
        inputs: inputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

async fn only_run(forge: &InMemoryForge) -> WorkflowRun {
    let runs = forge
        .list_workflow_runs(&repo(), &WorkflowRunQuery::default())
        .await
        .expect("list");
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.into_iter().next().expect("one run")
}

#[tokio::test]
async fn dispatched_runs_move_from_queued_to_completed_with_the_rendered_title() {
    let forge = InMemoryForge::new();
    forge.configure_workflow(
        &repo(),
        "release.yml",
        WorkflowSimulation {
            run_name: Some("release ${{ inputs.correlation_id }}".into()),
            queued_for: Duration::from_millis(100),
            runs_for: Duration::from_millis(400),
            ..WorkflowSimulation::default()
        },
    );
    let sha = "1111111111111111111111111111111111111111";
    forge.set_branch_head(&repo(), "main", sha);
    forge
        .dispatch_workflow(
            &repo(),
            &dispatch(
                ".github/workflows/release.yml",
                "refs/heads/main",
                &[("correlation_id", "c-42"), ("version", "1.0.0")],
            ),
        )
        .await
        .expect("dispatch");
    let run = only_run(&forge).await;
    assert_eq!(run.status, WorkflowRunStatus::Queued);
    assert_eq!(run.display_title, "release c-42");
    assert_eq!(run.workflow, "release.yml");
    assert_eq!(run.head_sha, sha);
    assert_eq!(run.head_branch.as_deref(), Some("main"));
    assert_eq!(run.event, "workflow_dispatch");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let running = forge.workflow_run(&repo(), run.id).await.expect("run");
    assert_eq!(running.status, WorkflowRunStatus::InProgress);
    assert_eq!(running.conclusion, None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let done = forge.workflow_run(&repo(), run.id).await.expect("run");
    assert_eq!(done.status, WorkflowRunStatus::Completed);
    assert_eq!(done.conclusion.as_deref(), Some("success"));
}

#[tokio::test]
async fn conclusions_are_scripted_per_workflow_and_by_input() {
    let forge = InMemoryForge::new();
    let instant = WorkflowSimulation {
        queued_for: Duration::ZERO,
        runs_for: Duration::ZERO,
        ..WorkflowSimulation::default()
    };
    forge.configure_workflow(&repo(), "a.yml", instant.clone());
    forge.configure_workflow(&repo(), "b.yml", instant);
    forge.script_workflow(&repo(), "a.yml", "failure");
    forge.script_runs_with_input(&repo(), "boom", "cancelled");
    for (workflow, input) in [("a.yml", "x"), ("b.yml", "x"), ("b.yml", "big-boom")] {
        forge
            .dispatch_workflow(&repo(), &dispatch(workflow, "main", &[("v", input)]))
            .await
            .expect("dispatch");
    }
    let runs = forge
        .list_workflow_runs(&repo(), &WorkflowRunQuery::default())
        .await
        .expect("list");
    let got: Vec<(&str, &str, Option<&str>)> = runs
        .iter()
        .map(|r| {
            (
                r.workflow.as_str(),
                r.display_title.as_str(),
                r.conclusion.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("b.yml", "b.yml big-boom", Some("cancelled")),
            ("b.yml", "b.yml x", Some("success")),
            ("a.yml", "a.yml x", Some("failure")),
        ],
        "newest first"
    );
    let a_only = WorkflowRunQuery {
        workflow: Some("a.yml".into()),
        ..WorkflowRunQuery::default()
    };
    assert_eq!(
        forge
            .list_workflow_runs(&repo(), &a_only)
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn unknown_refs_get_a_stable_fake_sha_and_queries_filter() {
    let forge = InMemoryForge::new();
    forge
        .dispatch_workflow(&repo(), &dispatch("ci.yml", "v1.2.3", &[]))
        .await
        .expect("dispatch");
    let run = only_run(&forge).await;
    assert_eq!(run.head_sha, forge.branch_head(&repo(), "refs/tags/v1.2.3"));
    assert_eq!(run.display_title, "ci.yml");
    let old = WorkflowRun {
        id: 500,
        workflow: "ci.yml".into(),
        display_title: "ancient".into(),
        event: "push".into(),
        head_sha: "2222222222222222222222222222222222222222".into(),
        head_branch: None,
        status: WorkflowRunStatus::Completed,
        conclusion: Some("failure".into()),
        created_at_ms: 1_000,
        html_url: "memory://old".into(),
    };
    forge.add_workflow_run(&repo(), old.clone());
    let all = forge
        .list_workflow_runs(&repo(), &WorkflowRunQuery::default())
        .await
        .expect("list");
    assert_eq!(all.last(), Some(&old), "oldest last");
    let by = |query: WorkflowRunQuery| {
        let forge = forge.clone();
        async move {
            forge
                .list_workflow_runs(&repo(), &query)
                .await
                .expect("list")
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    let recent = WorkflowRunQuery {
        created_after_ms: Some(2_000),
        ..WorkflowRunQuery::default()
    };
    assert_eq!(by(recent).await, vec![run.id]);
    let pushes = WorkflowRunQuery {
        event: Some("push".into()),
        head_sha: Some(old.head_sha.clone()),
        ..WorkflowRunQuery::default()
    };
    assert_eq!(by(pushes).await, vec![500]);
    forge
        .dispatch_workflow(&repo(), &dispatch("ci.yml", "main", &[]))
        .await
        .expect("dispatch");
    let newest = only_run_newest(&forge).await;
    assert!(newest.id > 500, "ids continue above seeded ones");
}

async fn only_run_newest(forge: &InMemoryForge) -> WorkflowRun {
    forge
        .list_workflow_runs(&repo(), &WorkflowRunQuery::default())
        .await
        .expect("list")
        .into_iter()
        .next()
        .expect("a run")
}

#[tokio::test]
async fn repository_dispatch_is_recorded_and_starts_listening_workflows() {
    let forge = InMemoryForge::new();
    forge.configure_workflow(
        &repo(),
        "build.yml",
        WorkflowSimulation {
            run_name: Some(
                "${{ github.event.action }} ${{ github.event.client_payload.sha }}".into(),
            ),
            repository_dispatch_types: vec!["build_node".into()],
            ..WorkflowSimulation::default()
        },
    );
    let payload = serde_json::json!({"ref": "main", "sha": "abc", "repo": "o/r"});
    forge
        .repository_dispatch(&repo(), "build_sdk", &payload)
        .await
        .expect("dispatch");
    assert!(
        forge
            .list_workflow_runs(&repo(), &WorkflowRunQuery::default())
            .await
            .expect("list")
            .is_empty(),
        "no workflow listens to build_sdk"
    );
    forge
        .repository_dispatch(&repo(), "build_node", &payload)
        .await
        .expect("dispatch");
    let run = only_run(&forge).await;
    assert_eq!(run.event, "repository_dispatch");
    assert_eq!(run.display_title, "build_node abc");
    assert_eq!(run.head_sha, forge.branch_head(&repo(), DEFAULT_BRANCH));
    let events: Vec<String> = forge
        .repository_dispatches(&repo())
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    assert_eq!(events, vec!["build_sdk", "build_node"]);
    assert_eq!(
        forge.repository_dispatches(&repo())[1].client_payload,
        payload
    );
}

#[tokio::test]
async fn pull_requests_follow_pushes_and_others_comments() {
    let forge = InMemoryForge::new();
    forge.set_user("release-bot");
    forge
        .create_branch(&repo(), "plan", "3333333333333333333333333333333333333333")
        .await
        .expect("branch");
    let new = NewPullRequest {
        title: "Scale web".into(),
        head: "plan".into(),
        base: "main".into(),
        ..NewPullRequest::default()
    };
    let pr = forge.create_pull_request(&repo(), &new).await.expect("pr");
    assert_eq!(pr.number, 1);
    assert_eq!(pr.author, "release-bot");
    assert_eq!(pr.head_sha, "3333333333333333333333333333333333333333");
    let err = forge
        .create_pull_request(&repo(), &new)
        .await
        .expect_err("one open PR per head and base");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    forge
        .push_to_pull_request(&repo(), 1, "4444444444444444444444444444444444444444")
        .expect("push");
    let pushed = forge.pull_request(&repo(), 1).await.expect("pr");
    assert_eq!(pushed.head_sha, "4444444444444444444444444444444444444444");
    assert_eq!(forge.branch_head(&repo(), "plan"), pushed.head_sha);
    assert!(forge.push_to_pull_request(&repo(), 9, "x").is_err());
    forge
        .comment_as(&repo(), 1, "alice", "/approve-plan")
        .expect("comment");
    forge
        .create_comment(&repo(), 1, "done")
        .await
        .expect("comment");
    let comments = forge.list_comments(&repo(), 1).await.expect("list");
    let who: Vec<(&str, &str)> = comments
        .iter()
        .map(|c| (c.author.as_str(), c.body.as_str()))
        .collect();
    assert_eq!(
        who,
        vec![("alice", "/approve-plan"), ("release-bot", "done")]
    );
    assert!(matches!(
        forge.create_comment(&repo(), 2, "x").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        forge.add_labels(&repo(), 2, &["x".into()]).await,
        Err(Error::NotFound { .. })
    ));
    forge.set_permission(&repo(), "alice", Permission::Write);
    assert_eq!(
        forge.permission(&repo(), "alice").await.expect("perm"),
        Permission::Write
    );
    assert_eq!(
        forge.permission(&repo(), "mallory").await.expect("perm"),
        Permission::None
    );
}

#[tokio::test]
async fn ci_releases_can_be_updated_and_latest_skips_drafts() {
    let forge = ci(CiBehaviour::Normal, None);
    assert_eq!(forge.latest_release(&repo()).await.expect("latest"), None);
    forge.notify_tag_pushed(&repo(), "v1.0.0");
    let seen = poll_until_settled(&forge, "v1.0.0", Duration::from_secs(5)).await;
    let release = seen.last().expect("released").clone();
    let latest = forge.latest_release(&repo()).await.expect("latest");
    assert_eq!(latest.map(|r| r.id), Some(release.id));
    let update = ReleaseUpdate {
        body: Some("edited".into()),
        draft: Some(true),
        ..ReleaseUpdate::default()
    };
    let updated = forge
        .update_release(&repo(), release.id, &update)
        .await
        .expect("update");
    assert!(updated.draft);
    let again = forge
        .release_by_tag(&repo(), "v1.0.0")
        .await
        .expect("lookup")
        .expect("release");
    assert_eq!(again.body.as_deref(), Some("edited"));
    assert!(again.draft, "the edit sticks on a CI-made release");
    assert_eq!(again.assets, release.assets);
    assert_eq!(forge.latest_release(&repo()).await.expect("latest"), None);
}

#[tokio::test]
async fn fault_rules_cover_the_new_operations() {
    let forge = InMemoryForge::new();
    forge.inject(FaultRule {
        op: Some(ForgeOp::DispatchWorkflow),
        repo: None,
        times: 1,
        fault: Fault::Transient,
    });
    let d = dispatch("ci.yml", "main", &[]);
    assert!(matches!(
        forge.dispatch_workflow(&repo(), &d).await,
        Err(Error::Transient { .. })
    ));
    assert!(
        forge
            .list_workflow_runs(&repo(), &WorkflowRunQuery::default())
            .await
            .expect("list")
            .is_empty(),
        "a failed dispatch starts nothing"
    );
    forge.dispatch_workflow(&repo(), &d).await.expect("retry");
    assert_eq!(forge.count(ForgeOp::DispatchWorkflow, &repo()), 2);
    assert_eq!(forge.count(ForgeOp::ListWorkflowRuns, &repo()), 1);
}

async fn open_pull(forge: &InMemoryForge) -> PullRequest {
    forge
        .create_pull_request(
            &repo(),
            &NewPullRequest {
                title: "Plan".into(),
                body: String::new(),
                head: "plan-branch".into(),
                base: "main".into(),
                draft: true,
            },
        )
        .await
        .expect("pull request")
}

#[tokio::test]
async fn an_edited_comment_reads_back_edited_and_only_writers_may_edit() {
    let forge = InMemoryForge::new();
    let pr = open_pull(&forge).await;
    let bot = forge
        .create_comment(&repo(), pr.number, "refused")
        .await
        .expect("comment");
    assert_eq!(bot.updated_at_ms, bot.created_at_ms);
    let denied = forge
        .edit_comment_as(&repo(), bot.id, "stranger", "forged")
        .expect_err("a stranger cannot edit");
    assert!(matches!(denied, Error::PermissionDenied { .. }), "{denied}");
    forge.set_permission(&repo(), "writer", Permission::Write);
    let edited = forge
        .edit_comment_as(&repo(), bot.id, "writer", "forged")
        .expect("a writer edits anyone's comment");
    assert_eq!(edited.author, bot.author, "an edit keeps the author");
    assert!(edited.updated_at_ms > edited.created_at_ms);
    assert_eq!(forge.comment(&repo(), bot.id).await.expect("by id"), edited);
    let own = forge
        .update_comment(&repo(), bot.id, "mine again")
        .await
        .expect("the author edits");
    assert_eq!(own.body, "mine again");
    assert!(matches!(
        forge.comment(&repo(), 999_999).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn comments_work_on_plain_issues() {
    let forge = InMemoryForge::new();
    let issue = forge
        .create_issue(&repo(), "Tracking", "")
        .await
        .expect("issue");
    forge
        .comment_as(&repo(), issue.number, "someone", "hello")
        .expect("comment on an issue");
    let listed = forge
        .list_comments(&repo(), issue.number)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert!(forge.comment_as(&repo(), 4242, "x", "y").is_err());
}

#[tokio::test]
async fn reviews_are_bound_to_the_head_they_were_given_at() {
    let forge = InMemoryForge::new();
    let pr = open_pull(&forge).await;
    let approval = forge
        .review_as(&repo(), pr.number, "maint", ReviewState::Approved, "")
        .expect("review");
    assert_eq!(approval.commit_id, pr.head_sha);
    forge
        .push_to_pull_request_as(&repo(), pr.number, "feedbeef", "mallory")
        .expect("push");
    let later = forge
        .review_as(
            &repo(),
            pr.number,
            "maint",
            ReviewState::ChangesRequested,
            "no",
        )
        .expect("review");
    assert_eq!(later.commit_id, "feedbeef");
    let own = forge
        .create_review(&repo(), pr.number, ReviewState::Approved, "")
        .await
        .expect_err("the author cannot approve their own pull request");
    assert!(matches!(own, Error::Conflict { .. }), "{own}");
    forge
        .review_as(&repo(), pr.number, "other", ReviewState::Pending, "")
        .expect("pending");
    let reviews = forge.list_reviews(&repo(), pr.number).await.expect("list");
    assert_eq!(
        reviews.iter().map(|r| r.state).collect::<Vec<_>>(),
        [ReviewState::Approved, ReviewState::ChangesRequested],
        "another user's pending review is invisible"
    );
    let dismissed = forge
        .dismiss_review(&repo(), pr.number, approval.id)
        .expect("dismiss");
    assert_eq!(dismissed.state, ReviewState::Dismissed);
    let commits = forge
        .list_pull_commits(&repo(), pr.number)
        .await
        .expect("commits");
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].author.as_deref(), Some(DEFAULT_USER));
    assert_eq!(commits[1].committer.as_deref(), Some("mallory"));
    forge
        .push_to_pull_request(&repo(), pr.number, "c0ffee")
        .expect("push");
    let commits = forge
        .list_pull_commits(&repo(), pr.number)
        .await
        .expect("commits");
    assert_eq!(commits[2].author, None);
}

#[tokio::test]
async fn pull_request_state_files_contents_and_comparisons() {
    let forge = InMemoryForge::new();
    forge.set_branch_head(&repo(), "main", "base0");
    let pr = open_pull(&forge).await;
    assert_eq!(pr.base_sha, "base0");
    forge
        .set_pull_files(&repo(), pr.number, &["ops/plans/x/plan.yaml"])
        .expect("files");
    assert_eq!(
        forge
            .list_pull_files(&repo(), pr.number)
            .await
            .expect("files"),
        ["ops/plans/x/plan.yaml"]
    );
    forge.set_file(&repo(), "main", "orchestrator.toml", b"[scale]\n");
    assert_eq!(
        forge
            .file_contents(&repo(), "orchestrator.toml", "base0")
            .await
            .expect("read"),
        Some(b"[scale]\n".to_vec()),
        "a commit a branch points at finds the branch's files"
    );
    assert_eq!(
        forge
            .file_contents(&repo(), "orchestrator.toml", &pr.head_sha)
            .await
            .expect("read"),
        None
    );
    let cmp = forge
        .compare_commits(&repo(), "main", &pr.head_sha)
        .await
        .expect("compare");
    assert_eq!((cmp.ahead_by, cmp.behind_by), (1, 0));
    forge.set_branch_head(&repo(), "main", "base1");
    let cmp = forge
        .compare_commits(&repo(), "main", &pr.head_sha)
        .await
        .expect("compare");
    assert_eq!(cmp.behind_by, 1, "the base moved on");
    assert_eq!(
        forge
            .list_pull_requests(&repo(), "open")
            .await
            .expect("list")
            .len(),
        1
    );
    forge
        .set_mergeable(&repo(), pr.number, Some(false))
        .expect("set");
    forge
        .close_pull_request(&repo(), pr.number, true)
        .expect("close");
    let closed = forge.pull_request(&repo(), pr.number).await.expect("read");
    assert_eq!((closed.state.as_str(), closed.merged), ("closed", true));
    assert_eq!(closed.mergeable, Some(false));
    assert!(
        forge
            .list_pull_requests(&repo(), "open")
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        forge
            .list_pull_requests(&repo(), "closed")
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(forge.list_pull_requests(&repo(), "bogus").await.is_err());
    assert_eq!(forge.current_user().await.expect("user"), DEFAULT_USER);
}
