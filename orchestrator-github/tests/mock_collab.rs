//! `GitHubForge` against the mock's Actions, pull-request, comment and permission routes: the
//! requests it sends (paths, filters, pagination) and how GitHub's answers map, with the mock's
//! [`InMemoryForge`](orchestrator_core::forge::InMemoryForge) hooks playing other users and CI.

use std::collections::BTreeMap;
use std::time::Duration;

use orchestrator_core::Error;
use orchestrator_core::forge::{
    AccessForge, IssueForge, NewPullRequest, Permission, PullRequestForge, RepoId,
    WorkflowDispatch, WorkflowForge, WorkflowRunQuery, WorkflowRunStatus, WorkflowSimulation,
};
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions};

async fn start(page_size: u32) -> (MockGitHub, GitHubForge, RepoId) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockGitHub::start(MockOptions::default())
        .await
        .expect("mock server starts");
    server.create_repo("acme", "app");
    for workflow in ["release.yml", "other.yml", "build.yml"] {
        server.add_workflow("acme", "app", workflow);
    }
    let forge = GitHubForge::builder()
        .api_url(server.url())
        .page_size(page_size)
        .retry_base_delay(Duration::from_millis(5))
        .build()
        .expect("forge builds");
    (server, forge, RepoId::new("acme", "app"))
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_millis()).expect("fits")
}

fn dispatch(workflow: &str, correlation: &str) -> WorkflowDispatch {
    WorkflowDispatch {
        workflow: workflow.into(),
        git_ref: "main".into(),
        inputs: BTreeMap::from([("correlation_id".to_owned(), correlation.to_owned())]),
    }
}

#[tokio::test]
async fn runs_are_listed_across_pages_with_filters_and_follow_the_simulation() {
    let (server, forge, repo) = start(2).await;
    let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    server.forge().set_branch_head(&repo, "main", sha);
    server.forge().configure_workflow(
        &repo,
        "release.yml",
        WorkflowSimulation {
            run_name: Some("release ${{ inputs.correlation_id }}".into()),
            queued_for: Duration::ZERO,
            runs_for: Duration::from_millis(1000),
            ..WorkflowSimulation::default()
        },
    );
    server
        .forge()
        .script_runs_with_input(&repo, "doomed", "failure");
    for i in 0..5 {
        forge
            .dispatch_workflow(&repo, &dispatch("release.yml", &format!("c-{i}")))
            .await
            .expect("dispatch");
    }
    forge
        .dispatch_workflow(&repo, &dispatch("other.yml", "doomed"))
        .await
        .expect("dispatch");
    let query = WorkflowRunQuery {
        workflow: Some("release.yml".into()),
        event: Some("workflow_dispatch".into()),
        head_sha: Some(sha.into()),
        created_after_ms: Some(now_ms() - 60_000),
    };
    let runs = forge.list_workflow_runs(&repo, &query).await.expect("list");
    let titles: Vec<&str> = runs.iter().map(|r| r.display_title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "release c-4",
            "release c-3",
            "release c-2",
            "release c-1",
            "release c-0"
        ],
        "all pages, newest first"
    );
    assert!(
        runs.iter()
            .all(|r| r.head_sha == sha && r.workflow == "release.yml")
    );
    assert!(
        runs[0].html_url.starts_with(server.url()),
        "{}",
        runs[0].html_url
    );
    let listing: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/actions/workflows/release.yml/runs"))
        .map(|r| r.path)
        .collect();
    assert_eq!(listing.len(), 3, "5 runs in pages of 2: {listing:?}");
    assert!(
        listing[0].contains("event=workflow_dispatch")
            && listing[0].contains(&format!("head_sha={sha}"))
            && listing[0].contains("created=%3E%3D"),
        "{listing:?}"
    );
    assert!(
        listing[2].contains("created=%3E%3D") && listing[2].contains("page=3"),
        "next links keep the filters: {listing:?}"
    );

    let run = forge.workflow_run(&repo, runs[0].id).await.expect("run");
    assert_eq!(run.status, WorkflowRunStatus::InProgress);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let run = forge.workflow_run(&repo, runs[0].id).await.expect("run");
    assert_eq!(run.status, WorkflowRunStatus::Completed);
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    let others = WorkflowRunQuery {
        workflow: Some("other.yml".into()),
        ..WorkflowRunQuery::default()
    };
    let doomed = forge
        .list_workflow_runs(&repo, &others)
        .await
        .expect("list");
    assert_eq!(doomed.len(), 1);
    let all = forge
        .list_workflow_runs(&repo, &WorkflowRunQuery::default())
        .await
        .expect("list");
    assert_eq!(all.len(), 6, "no workflow filter lists every run");
    server.shutdown().await;
}

#[tokio::test]
async fn repository_dispatch_reaches_the_mock_and_starts_listening_workflows() {
    let (server, forge, repo) = start(100).await;
    server.forge().configure_workflow(
        &repo,
        "nightly.yml",
        WorkflowSimulation {
            repository_dispatch_types: vec!["build_node".into()],
            ..WorkflowSimulation::default()
        },
    );
    let payload = serde_json::json!({"ref": "main", "sha": "abc", "repo": "acme/consensus"});
    forge
        .repository_dispatch(&repo, "build_node", &payload)
        .await
        .expect("dispatch");
    let received = server.forge().repository_dispatches(&repo);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event_type, "build_node");
    assert_eq!(received[0].client_payload, payload);
    let runs = forge
        .list_workflow_runs(
            &repo,
            &WorkflowRunQuery {
                event: Some("repository_dispatch".into()),
                ..WorkflowRunQuery::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].workflow, "nightly.yml");
    server.shutdown().await;
}

#[tokio::test]
async fn pull_requests_see_other_users_pushes_comments_and_permissions() {
    let (server, forge, repo) = start(2).await;
    server.forge().set_user("plan-bot");
    let new = NewPullRequest {
        title: "Scale web to 6".into(),
        body: "| action | target |".into(),
        head: "infra-scale/prod".into(),
        base: "main".into(),
        draft: false,
    };
    let pr = forge.create_pull_request(&repo, &new).await.expect("pr");
    assert_eq!(pr.author, "plan-bot");
    assert_eq!(pr.html_url, format!("{}/acme/app/pull/1", server.url()));
    let err = forge
        .create_pull_request(&repo, &new)
        .await
        .expect_err("one open pull request per head");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");

    let pushed = "1111111111111111111111111111111111111111";
    server
        .forge()
        .push_to_pull_request(&repo, pr.number, pushed)
        .expect("push");
    let now = forge.pull_request(&repo, pr.number).await.expect("pr");
    assert_eq!(now.head_sha, pushed, "a new push changes the head");

    forge
        .add_labels(&repo, pr.number, &["needs-approval".into()])
        .await
        .expect("labels");
    forge
        .remove_label(&repo, pr.number, "not-there")
        .await
        .expect("GitHub's 404 for an absent label is fine");
    let deletes = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| (r.path, r.status))
        .collect::<Vec<_>>();
    assert_eq!(
        deletes,
        [("/repos/acme/app/issues/1/labels/not-there".to_owned(), 404)]
    );

    for (who, body) in [
        ("alice", "/approve-plan"),
        ("bob", "lgtm"),
        ("carol", "ship it"),
    ] {
        server
            .forge()
            .comment_as(&repo, pr.number, who, body)
            .expect("comment");
    }
    forge
        .create_comment(&repo, pr.number, "Approved by alice")
        .await
        .expect("comment");
    let comments = forge.list_comments(&repo, pr.number).await.expect("list");
    let who: Vec<&str> = comments.iter().map(|c| c.author.as_str()).collect();
    assert_eq!(
        who,
        ["alice", "bob", "carol", "plan-bot"],
        "two pages, oldest first"
    );
    assert!(comments[0].created_at_ms > 0);

    server
        .forge()
        .set_permission(&repo, "alice", Permission::Maintain);
    assert_eq!(
        forge.permission(&repo, "alice").await.expect("permission"),
        Permission::Maintain,
        "role_name is precise where the legacy field says write"
    );
    assert_eq!(
        forge
            .permission(&repo, "mallory")
            .await
            .expect("permission"),
        Permission::None
    );
    let missing = forge.pull_request(&repo, 99).await.expect_err("no such PR");
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    let elsewhere = RepoId::new("acme", "unknown");
    let err = forge
        .pull_request(&elsewhere, 1)
        .await
        .expect_err("unknown repository");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_dispatch_github_rejects_is_invalid_input() {
    let (server, forge, repo) = start(100).await;
    let bad = WorkflowDispatch {
        workflow: "release.yml".into(),
        git_ref: String::new(),
        inputs: BTreeMap::new(),
    };
    let err = forge
        .dispatch_workflow(&repo, &bad)
        .await
        .expect_err("no ref");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("ref is required"), "{err}");
    server.shutdown().await;
}

/// GitHub's run list lags behind a dispatch; with the run id GitHub returns for the dispatch
/// (`return_run_details`), the adapter finds the run at once anyway. Without the id, correlation
/// alone sees nothing until the list catches up.
#[tokio::test]
async fn a_dispatched_run_is_found_by_the_id_github_returns_before_the_run_list_shows_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server =
        MockGitHub::start(MockOptions::default().run_listing_lag(Duration::from_secs(3600)))
            .await
            .expect("mock server starts");
    server.create_repo("acme", "app");
    server.add_workflow("acme", "app", "release.yml");
    let repo = RepoId::new("acme", "app");
    let forge = GitHubForge::builder()
        .api_url(server.url())
        .build()
        .expect("forge builds");
    let correlation = orchestrator_core::publish::dispatch_correlated(
        &forge,
        &repo,
        dispatch("release.yml", "ignored"),
        Some(("correlation_id", "publish-42-app")),
        None,
        now_ms(),
    )
    .await
    .expect("dispatch");
    let run = orchestrator_core::publish::find_run(&forge, &repo, &correlation)
        .await
        .expect("find")
        .expect("the dispatched run, by its id");
    assert!(run.display_title.contains("publish-42-app"), "{run:?}");
    // The listing alone does not show it yet: the id is what found it.
    let listed = forge
        .list_workflow_runs(&repo, &WorkflowRunQuery::default())
        .await
        .expect("list");
    assert!(listed.is_empty(), "{listed:?}");
    // The dispatch asked for the run's details and got them.
    let asked = server.requests().iter().any(|r| {
        r.path
            .ends_with("/actions/workflows/release.yml/dispatches")
            && r.status == 200
    });
    assert!(asked, "{:?}", server.requests());
    server.shutdown().await;
}

#[tokio::test]
async fn dispatching_a_workflow_the_repository_does_not_have_is_not_found() {
    let (server, forge, repo) = start(100).await;
    let err = forge
        .dispatch_workflow(&repo, &dispatch("missing.yml", "c-1"))
        .await
        .expect_err("no such workflow");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    server.shutdown().await;
}

/// `--fail REPO[:TAG][=CONCLUSION]`: a matching dispatch's run concludes as told, and its job
/// shows the failure in `.../runs/{id}/jobs`.
#[tokio::test]
async fn a_ci_failure_on_demand_fails_the_dispatched_run_and_its_job() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let failure = "acme/app:v2.0.0=timed_out".parse().expect("valid --fail");
    let server = MockGitHub::start(MockOptions::default().fail(failure))
        .await
        .expect("mock server starts");
    server.create_repo("acme", "app");
    server.add_workflow("acme", "app", "release.yml");
    server.forge().configure_workflow(
        &RepoId::new("acme", "app"),
        "release.yml",
        WorkflowSimulation {
            queued_for: Duration::ZERO,
            runs_for: Duration::ZERO,
            ..WorkflowSimulation::default()
        },
    );
    let repo = RepoId::new("acme", "app");
    let forge = GitHubForge::builder()
        .api_url(server.url())
        .build()
        .expect("forge builds");
    let mut failing = dispatch("release.yml", "c-fail");
    failing.inputs.insert("version".into(), "2.0.0".into());
    let mut passing = dispatch("release.yml", "c-pass");
    passing.inputs.insert("version".into(), "2.0.1".into());
    for d in [&failing, &passing] {
        forge.dispatch_workflow(&repo, d).await.expect("dispatch");
    }
    let runs = forge
        .list_workflow_runs(&repo, &WorkflowRunQuery::default())
        .await
        .expect("list");
    let conclusion = |needle: &str| {
        runs.iter()
            .find(|r| r.display_title.contains(needle))
            .and_then(|r| r.conclusion.clone())
    };
    assert_eq!(
        conclusion("c-fail").as_deref(),
        Some("timed_out"),
        "{runs:?}"
    );
    assert_eq!(conclusion("c-pass").as_deref(), Some("success"), "{runs:?}");
    let failed = runs
        .iter()
        .find(|r| r.display_title.contains("c-fail"))
        .expect("failed run");
    let body = reqwest_free_get(
        server.url(),
        &format!("/repos/acme/app/actions/runs/{}/jobs", failed.id),
    )
    .await;
    let jobs: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(jobs["jobs"][0]["conclusion"], "timed_out", "{jobs}");
    assert_eq!(
        jobs["jobs"][0]["steps"][1]["conclusion"], "timed_out",
        "{jobs}"
    );
    server.shutdown().await;
}

/// A plain GET over a loopback socket, the body as text.
async fn reqwest_free_get(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    raw.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// A server that predates `return_run_details` (an older GitHub Enterprise Server) refuses the
/// field with `422`; the adapter dispatches again without it, gets `204` and no run id, and the
/// run is found by correlation (its title carries the correlation id).
#[tokio::test]
async fn a_server_without_run_details_answers_204_and_the_run_is_found_by_correlation() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockGitHub::start(MockOptions::default().dispatch_run_details(false))
        .await
        .expect("mock server starts");
    server.create_repo("acme", "app");
    server.add_workflow("acme", "app", "release.yml");
    let repo = RepoId::new("acme", "app");
    server.forge().configure_workflow(
        &repo,
        "release.yml",
        WorkflowSimulation {
            run_name: Some("release ${{ inputs.correlation_id }}".into()),
            ..WorkflowSimulation::default()
        },
    );
    let forge = GitHubForge::builder()
        .api_url(server.url())
        .build()
        .expect("forge builds");
    let correlation = orchestrator_core::publish::dispatch_correlated(
        &forge,
        &repo,
        dispatch("release.yml", "ignored"),
        Some(("correlation_id", "publish-7-app")),
        None,
        now_ms(),
    )
    .await
    .expect("dispatch");
    let statuses: Vec<u16> = server
        .requests()
        .iter()
        .filter(|r| {
            r.path
                .ends_with("/actions/workflows/release.yml/dispatches")
        })
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [422, 204], "asked with the field, then without");
    let run = orchestrator_core::publish::find_run(&forge, &repo, &correlation)
        .await
        .expect("find")
        .expect("the dispatched run, by correlation");
    assert!(run.display_title.contains("publish-7-app"), "{run:?}");
    server.shutdown().await;
}

/// GitHub documents `422` for a dispatch it cannot start (a ref the repository does not have,
/// inputs the workflow does not take): the adapter reports it as bad input with GitHub's message
/// at once, without retrying.
#[tokio::test]
async fn a_422_from_a_dispatch_is_reported_with_githubs_message_and_not_retried() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let origins = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("git")
        .args(["init", "--quiet", "--bare", "--initial-branch=main"])
        .arg(origins.path().join("app.git"))
        .status()
        .expect("git runs");
    assert!(status.success());
    let server = MockGitHub::start(MockOptions::default().origins(origins.path()))
        .await
        .expect("mock server starts");
    server.add_workflow("acme", "app", "release.yml");
    let repo = RepoId::new("acme", "app");
    let forge = GitHubForge::builder()
        .api_url(server.url())
        .retry_base_delay(Duration::from_millis(5))
        .build()
        .expect("forge builds");
    let mut bad = dispatch("release.yml", "c-1");
    bad.git_ref = "no-such-branch".into();
    let err = forge
        .dispatch_workflow(&repo, &bad)
        .await
        .expect_err("an unknown ref");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(
        err.to_string().contains("No ref found for: no-such-branch"),
        "{err}"
    );
    let sent = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/dispatches"))
        .count();
    assert_eq!(sent, 1, "not retried: {:?}", server.requests());
    server.shutdown().await;
}
