//! The seed's prod example end to end through the binary, with no cluster and no network: a
//! cluster state file, the mock GitHub server in this process, a real clone with a bare origin,
//! and GitHub's own `issue_comment` payloads (vendored from `@octokit/webhooks-examples`, see
//! `fixtures/webhooks/README.md`).
//! plan → propose → /apply-plan without a review refused → a maintainer's review → `scale apply
//! --execute` (a stalled rollout times out; --no-wait; waited for) → /apply-plan in the same job →
//! one person's /rollback-plan refused → a second person's rolls back to the exact before state.

use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use orchestrator_core::cluster::InMemoryCluster;
use orchestrator_core::forge::{IssueForge, Permission, PullRequestForge, RepoId, ReviewState};
use orchestrator_github::mock::{MockGitHub, MockOptions};

mod common;
use common::SCALE_STATE as STATE;

fn git(dir: &Path, args: &[&str]) {
    let out = StdCommand::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rev_parse(dir: &Path) -> String {
    let out = StdCommand::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn orchestrator(dir: &Path, url: &str, args: &[&str]) -> Run {
    let out = Command::cargo_bin("orchestrator")
        .expect("binary")
        .current_dir(dir)
        .env("GITHUB_REPOSITORY", "ledger-mind/website")
        .env("GITHUB_TOKEN", "t0ken")
        .env("ORCHESTRATOR_FORGE_URL", url)
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const CREATED: &str = include_str!("fixtures/webhooks/issue_comment.created.json");
const EDITED: &str = include_str!("fixtures/webhooks/issue_comment.edited.json");

/// GitHub's `created` payload, turned into `user`'s comment `comment_id` on pull request `number`.
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

#[test]
fn pr_command_reads_githubs_own_payloads_and_ignores_what_is_not_a_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    // No forge is reachable: ignoring an event makes no request.
    let url = "http://127.0.0.1:9";
    for (name, text, want) in [
        ("created.json", CREATED, "ignored: no /apply-plan"),
        (
            "edited.json",
            EDITED,
            "ignored: only new comments carry commands",
        ),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write");
        let run = orchestrator(dir.path(), url, &["pr-command", "--event-file", name]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(run.stdout.starts_with(want), "{name}: {}", run.stdout);
    }
    // GitHub's example is a comment on a plain issue: a command there is not for us.
    let mut issue: serde_json::Value = serde_json::from_str(CREATED).expect("fixture");
    issue["comment"]["body"] = "/apply-plan".into();
    std::fs::write(dir.path().join("issue.json"), issue.to_string()).expect("write");
    let run = orchestrator(
        dir.path(),
        url,
        &["pr-command", "--event-file", "issue.json"],
    );
    assert_eq!(
        run.stdout.trim(),
        "ignored: not a pull request",
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cannot_apply_and_the_refusal_is_posted() {
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
            &orchestrator_core::forge::NewPullRequest {
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
    std::fs::write(root.join("orchestrator.toml"), "[scale]\n").expect("config");
    let run = orchestrator(
        root,
        mock.url(),
        &[
            "pr-command",
            "--event-file",
            "event.json",
            "--cluster",
            "file:cluster.yaml",
            "--policy-from",
            "checkout",
        ],
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "refused: /apply-plan: @reader has read permission; write or above is needed",
        "{}",
        run.stderr
    );
    let comments = forge.list_comments(&repo, pr.number).await.expect("list");
    let reply = comments.last().expect("reply");
    assert_eq!(reply.author, "github-actions[bot]");
    assert!(reply.body.contains("Nothing was changed"), "{}", reply.body);
    assert_eq!(
        std::fs::read_to_string(root.join("cluster.yaml")).expect("state"),
        STATE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_prod_example_end_to_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("cluster.yaml"), STATE).expect("state");
    let origin = root.join("origin.git");
    let clone = root.join("website");
    std::fs::create_dir_all(&origin).expect("mkdir");
    std::fs::create_dir_all(&clone).expect("mkdir");
    git(&origin, &["init", "-q", "--bare", "-b", "main"]);
    git(&clone, &["init", "-q", "-b", "main"]);
    git(&clone, &["config", "user.name", "t"]);
    git(&clone, &["config", "user.email", "t@example.com"]);
    std::fs::write(clone.join("README.md"), "site\n").expect("write");
    git(&clone, &["add", "."]);
    git(&clone, &["commit", "-q", "-m", "init"]);
    git(
        &clone,
        &["remote", "add", "origin", origin.to_str().expect("utf-8")],
    );
    git(&clone, &["push", "-q", "origin", "main"]);

    let mock = MockGitHub::start(MockOptions::default())
        .await
        .expect("mock");
    let url = mock.url().to_owned();
    mock.create_repo("ledger-mind", "website");
    let repo = RepoId::new("ledger-mind", "website");
    mock.forge().set_user("github-actions[bot]");
    mock.forge()
        .set_permission(&repo, "reader", Permission::Read);
    mock.forge()
        .set_permission(&repo, "maint", Permission::Maintain);
    mock.forge().set_permission(&repo, "dev", Permission::Write);
    mock.forge()
        .set_permission(&repo, "lead", Permission::Admin);

    // Plan with the before state, then propose.
    let run = orchestrator(
        root,
        &url,
        &[
            "scale",
            "plan",
            "--cluster",
            "file:cluster.yaml",
            "--out",
            "plan",
            "--target=prod",
            "--namespace=assistant",
            "--kube-context=production",
            "--workload=Deployment:web:6",
            "--workload=Deployment:api:4",
            "--hpa=min:4,max:12,cpu:65",
            "--req=web:cpu=500m,mem=1Gi",
            "--lim=web:cpu=1,mem=2Gi",
            "--req=api:cpu=400m,mem=1Gi",
            "--lim=api:cpu=1,mem=2Gi",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = orchestrator(
        root,
        &url,
        &["scale", "propose", "--plan", "plan", "--clone", "website"],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("outputs_uri=") && lines[0].ends_with("/pull/1"),
        "{}",
        run.stdout
    );
    assert_eq!(lines[1], "awaiting_approval");

    let forge = mock.forge();
    // The PR's head is the proposed commit, pushed by dev (the mock does not see pushes to the
    // bare origin); the forge shows its files.
    let head = rev_parse(&clone);
    forge
        .push_to_pull_request_as(&repo, 1, &head, "dev")
        .expect("head");
    let plan_path = "ops/plans/infra-scale/prod/plan.yaml";
    forge
        .set_pull_files(
            &repo,
            1,
            &[plan_path, "ops/plans/infra-scale/prod/SUMMARY.md"],
        )
        .expect("files");
    let committed = std::fs::read(clone.join(plan_path)).expect("committed plan");
    forge.set_file(&repo, &head, plan_path, &committed);
    // The workflow's token is the bot's; a local `scale apply --execute` runs with maint's.
    let command = |user: &str, body: &str| {
        forge.set_user("github-actions[bot]");
        let c = forge.comment_as(&repo, 1, user, body).expect("comment");
        event(root, 1, c.id, user, body);
        orchestrator(
            root,
            &url,
            &[
                "pr-command",
                "--event-file",
                "event.json",
                "--cluster",
                "file:cluster.yaml",
            ],
        )
    };
    let apply = [
        "scale",
        "apply",
        "--plan",
        "website/ops/plans/infra-scale/prod/plan.yaml",
        "--cluster",
        "file:cluster.yaml",
        "--execute",
        "--pr",
        "1",
    ];

    // No review yet: refused, on the PR and locally; nothing changes.
    let run = command("maint", "/apply-plan");
    assert!(
        run.stdout
            .starts_with("refused: /apply-plan: no qualified approval"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    forge.set_user("maint");
    let run = orchestrator(root, &url, &apply);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("no qualified approval"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(root.join("cluster.yaml")).expect("state"),
        STATE
    );

    // dev pushed the plan: dev's review does not count; the maintainer's does.
    forge
        .review_as(&repo, 1, "dev", ReviewState::Approved, "")
        .expect("review");
    let run = command("maint", "/apply-plan");
    assert!(
        run.stdout.contains("@dev wrote and pushed"),
        "{}",
        run.stdout
    );
    forge
        .review_as(&repo, 1, "maint", ReviewState::Approved, "LGTM")
        .expect("review");
    forge.set_user("maint");

    // web's new pods never all become available: the apply makes its changes, waits for the
    // rollout, and fails with one error line naming web and what is missing.
    std::fs::write(
        root.join("cluster.yaml"),
        STATE.replacen(
            "    revision: 2\n",
            "    revision: 2\n    rollout: {stall: {available: 2}}\n",
            1,
        ),
    )
    .expect("stall web");
    let run = orchestrator(
        root,
        &url,
        &[&apply[..], &["--rollout-timeout", "200ms"]].concat(),
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: timed out after 200ms waiting for Deployment/web (ns: assistant) to roll out; \
          still missing: 4 of 6 replicas not available"
        ],
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("\"id\": \"rollout:Deployment/web\""),
        "{}",
        run.stdout
    );
    // --no-wait finishes the same run without waiting: the changes are journaled as done.
    let run = orchestrator(root, &url, &[&apply[..], &["--no-wait"]].concat());
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("\"rollouts\""), "{}", run.stdout);
    // The pods come up; applying again changes nothing and finds every rollout complete.
    let stalled = std::fs::read_to_string(root.join("cluster.yaml")).expect("state");
    let healed = stalled.replace("  rollout:\n    stall:\n      available: 2\n", "");
    assert_ne!(healed, stalled, "the stall is in the state file");
    std::fs::write(root.join("cluster.yaml"), healed).expect("heal web");
    let run = orchestrator(root, &url, &apply);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\"executed\": true"), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("\"status\": \"rolled_out\"").count(),
        2,
        "{}",
        run.stdout
    );
    let applied = InMemoryCluster::open(&root.join("cluster.yaml"))
        .expect("state")
        .snapshot();
    assert_eq!(applied.workloads[0].replicas, 6);
    assert_eq!(applied.hpas.len(), 2);

    // /apply-plan in the same job: already applied, so every step is done; the result is posted.
    let run = command("dev", "/apply-plan");
    assert!(
        run.stdout.starts_with("executed: /apply-plan"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let comments = forge.list_comments(&repo, 1).await.expect("comments");
    let result = &comments.last().expect("result").body;
    assert!(result.contains("Approved by: @maint"), "{result}");
    assert!(
        result.contains("Deployment/web replicas: 3 → 6"),
        "{result}"
    );

    // One person cannot roll back alone; a second person's /rollback-plan restores the before
    // state exactly, keeping the HPA that existed before.
    let run = command("maint", "/rollback-plan");
    assert!(
        run.stdout.contains("needs a second person"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let run = command("lead", "/rollback-plan");
    assert!(
        run.stdout.starts_with("executed: /rollback-plan"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let after = InMemoryCluster::open(&root.join("cluster.yaml"))
        .expect("state")
        .snapshot();
    let original = {
        let path = root.join("original.yaml");
        std::fs::write(&path, STATE).expect("write");
        InMemoryCluster::open(&path).expect("state").snapshot()
    };
    for (a, b) in after.workloads.iter().zip(&original.workloads) {
        assert_eq!(
            (&a.name, a.replicas, &a.containers),
            (&b.name, b.replicas, &b.containers)
        );
    }
    assert_eq!(after.hpas, original.hpas);
}
