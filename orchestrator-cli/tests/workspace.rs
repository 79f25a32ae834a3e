//! One forge for every command: `scale` and `pr-command` reach the forge `[forge] api_url` names,
//! like `release` and `publish` do (they used to ignore it and go to api.github.com unless
//! `--forge-url` was given), and run under the workspace lock with a journal.

use std::path::Path;

use assert_cmd::Command;
use orchestrator_core::forge::{IssueForge, NewPullRequest, Permission, PullRequestForge, RepoId};
use orchestrator_github::mock::{MockGitHub, MockOptions};

mod common;
use common::SCALE_STATE as STATE;

const CREATED: &str = include_str!("fixtures/webhooks/issue_comment.created.json");

/// GitHub's `created` payload as `user`'s comment `comment_id` on pull request `number`.
fn event(dir: &Path, number: u64, comment_id: u64, user: &str, body: &str) {
    let mut event: serde_json::Value = serde_json::from_str(CREATED).expect("fixture");
    event["repository"]["full_name"] = "ledger-mind/website".into();
    event["issue"]["number"] = number.into();
    event["issue"]["pull_request"] = serde_json::json!({
        "url": format!("https://api.github.com/repos/ledger-mind/website/pulls/{number}")
    });
    event["comment"]["id"] = comment_id.into();
    event["comment"]["body"] = body.into();
    event["comment"]["user"]["login"] = user.into();
    std::fs::write(dir.join("event.json"), event.to_string()).expect("write event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_command_reaches_the_forge_that_forge_api_url_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("cluster.yaml"), STATE).expect("state");
    let mock = MockGitHub::start(MockOptions::default())
        .await
        .expect("mock");
    mock.create_repo("ledger-mind", "website");
    let repo = RepoId::new("ledger-mind", "website");
    let forge = mock.forge();
    forge.set_user("github-actions[bot]");
    forge.set_permission(&repo, "reader", Permission::Read);
    let pr = forge
        .create_pull_request(
            &repo,
            &NewPullRequest {
                title: "Infra scale plan: prod".into(),
                body: "plan".into(),
                head: "infra-scale/prod".into(),
                base: "main".into(),
                draft: true,
            },
        )
        .await
        .expect("pr");
    let c = forge
        .comment_as(&repo, pr.number, "reader", "/apply-plan")
        .expect("comment");
    event(root, pr.number, c.id, "reader", "/apply-plan");
    // The forge is named by the config only: no --forge-url, no ORCHESTRATOR_FORGE_URL.
    std::fs::write(
        root.join("orchestrator.toml"),
        format!("[forge]\napi_url = \"{}\"\n\n[scale]\n", mock.url()),
    )
    .expect("config");
    let out = Command::cargo_bin("orchestrator")
        .expect("binary")
        .current_dir(root)
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env("GITHUB_TOKEN", "t0ken")
        .args([
            "pr-command",
            "--event-file",
            "event.json",
            "--cluster",
            "file:cluster.yaml",
            "--policy-from",
            "checkout",
        ])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "refused: /apply-plan: @reader has read permission; write or above is needed",
        "{stderr}"
    );
    // The refusal was posted on the configured forge.
    let comments = forge.list_comments(&repo, pr.number).await.expect("list");
    assert!(
        comments
            .last()
            .is_some_and(|reply| reply.body.contains("Nothing was changed")),
        "{comments:?}"
    );
    // The command ran as a journaled run of its own, in the config's state directory.
    let runs = Command::cargo_bin("orchestrator")
        .expect("binary")
        .current_dir(root)
        .args(["--output", "json", "runs"])
        .output()
        .expect("runs");
    let listing = String::from_utf8_lossy(&runs.stdout);
    assert!(listing.contains("scale-command"), "{listing}");
}

#[test]
fn scale_apply_execute_reaches_the_forge_that_forge_api_url_names() {
    // Nothing listens on port 9: the config's URL must be the one the error names (before, the
    // command went to api.github.com whatever the config said).
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("cluster.yaml"), STATE).expect("state");
    std::fs::write(
        root.join("orchestrator.toml"),
        "[forge]\napi_url = \"http://127.0.0.1:9/configured\"\n",
    )
    .expect("config");
    let planned = Command::cargo_bin("orchestrator")
        .expect("binary")
        .current_dir(root)
        .args([
            "scale",
            "plan",
            "--target",
            "prod",
            "--namespace",
            "assistant",
            "--workload",
            "Deployment:web:5",
            "--cluster",
            "file:cluster.yaml",
            "--out",
            "plan",
        ])
        .output()
        .expect("plans");
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let out = Command::cargo_bin("orchestrator")
        .expect("binary")
        .current_dir(root)
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env("GITHUB_TOKEN", "t0ken")
        .args([
            "scale",
            "apply",
            "--plan",
            "plan",
            "--execute",
            "--pr",
            "1",
            "--repo",
            "ledger-mind/website",
            "--cluster",
            "file:cluster.yaml",
            "--policy-from",
            "checkout",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1:9"),
        "names the configured forge: {stderr}"
    );
    assert!(!stderr.contains("api.github.com"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(root.join("cluster.yaml")).expect("state"),
        STATE,
        "nothing changed"
    );
}
