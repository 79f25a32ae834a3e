//! The seed's prod example end to end through the binary, with no cluster and no network: a
//! cluster state file, the mock GitHub server in this process, a real clone with a bare origin.
//! plan → propose → read-only /approve-plan refused → maintainer accepted → a push makes it
//! stale → approved again → apply (a stalled rollout times out; --no-wait; waited for) →
//! /rollback-plan → rollback to the exact before state.

use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use orchestrator_core::cluster::InMemoryCluster;
use orchestrator_core::forge::{Permission, RepoId};
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

fn event(dir: &Path, number: u64, comment_id: u64, user: &str, body: &str) {
    let event = serde_json::json!({
        "action": "created",
        "repository": {"full_name": "ledger-mind/website"},
        "issue": {"number": number, "pull_request": {"url": "x"}},
        "comment": {"id": comment_id, "body": body, "user": {"login": user}}
    });
    std::fs::write(dir.join("event.json"), event.to_string()).expect("write event");
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
    // The PR's head is the proposed commit (the mock does not see pushes to the bare origin).
    forge
        .push_to_pull_request(&repo, 1, &rev_parse(&clone))
        .expect("head");
    // --execute applies the plan as committed in a checkout of the approved head.
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

    // Before any approval the gate is closed: `skipped`, nothing changes.
    let run = orchestrator(root, &url, &apply);
    assert_eq!(
        (run.code, run.stdout.trim()),
        (Some(0), "skipped"),
        "{}",
        run.stderr
    );

    // A read-only user's /approve-plan is refused; a maintainer's is accepted.
    let c = forge
        .comment_as(&repo, 1, "reader", "/approve-plan")
        .expect("comment");
    event(root, 1, c.id, "reader", "/approve-plan");
    let run = orchestrator(root, &url, &["pr-command", "--event-file", "event.json"]);
    assert!(
        run.stdout
            .starts_with("refused: /approve-plan: @reader has read permission"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let c = forge
        .comment_as(&repo, 1, "maint", "/Approve-Plan")
        .expect("comment");
    event(root, 1, c.id, "maint", "/Approve-Plan");
    // `[scale]` holds the policy: only @lead may approve, so the maintainer is refused; a broken
    // config is an error, never silently replaced by the defaults.
    let config = root.join("orchestrator.toml");
    std::fs::write(&config, "[scale]\napprovers = [\"lead\"]\n").expect("config");
    let run = orchestrator(root, &url, &["pr-command", "--event-file", "event.json"]);
    assert!(
        run.stdout.starts_with("refused: /approve-plan: @maint"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    std::fs::write(&config, "[scale]\napprovers = \"lead\"\n").expect("config");
    let run = orchestrator(root, &url, &["pr-command", "--event-file", "event.json"]);
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("orchestrator.toml:2"), "{}", run.stderr);
    // A flag overrides the section for one invocation.
    std::fs::write(&config, "[scale]\napprovers = [\"lead\"]\n").expect("config");
    let run = orchestrator(
        root,
        &url,
        &[
            "pr-command",
            "--event-file",
            "event.json",
            "--allow-user",
            "maint",
        ],
    );
    assert!(
        run.stdout.starts_with("accepted: /approve-plan"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    std::fs::remove_file(&config).expect("no config from here on");

    // A push after approval makes it stale.
    std::fs::write(clone.join("README.md"), "site, changed after approval\n").expect("write");
    git(&clone, &["commit", "-q", "-am", "a push after approval"]);
    forge
        .push_to_pull_request(&repo, 1, &rev_parse(&clone))
        .expect("push");
    let run = orchestrator(root, &url, &apply);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stderr.contains("the approval is stale"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(root.join("cluster.yaml")).expect("state"),
        STATE
    );

    // Approved again at the new head: applied and verified.
    let c = forge
        .comment_as(&repo, 1, "maint", "/approve-plan")
        .expect("comment");
    event(root, 1, c.id, "maint", "/approve-plan");
    orchestrator(root, &url, &["pr-command", "--event-file", "event.json"]);
    // A plan file that is not the committed one does not ride on the approval.
    let run = orchestrator(
        root,
        &url,
        &[
            "scale",
            "apply",
            "--plan",
            "plan/plan.yaml",
            "--cluster",
            "file:cluster.yaml",
            "--execute",
            "--pr",
            "1",
        ],
    );
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("is not in a git checkout"),
        "{}",
        run.stderr
    );
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

    // Roll back: restores the exact before state, keeping the HPA that existed before.
    let c = forge
        .comment_as(&repo, 1, "maint", "/rollback-plan")
        .expect("comment");
    event(root, 1, c.id, "maint", "/rollback-plan");
    orchestrator(root, &url, &["pr-command", "--event-file", "event.json"]);
    let run = orchestrator(
        root,
        &url,
        &[
            "scale",
            "rollback",
            "--plan",
            "plan",
            "--cluster",
            "file:cluster.yaml",
            "--execute",
            "--pr",
            "1",
        ],
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
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
