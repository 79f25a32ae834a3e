//! `orchestrator scale` end to end over a cluster state file: plan (the seed's contract lines),
//! bad flags, the apply and rollback previews, the CI workflows.

use std::path::Path;

use assert_cmd::Command;

mod common;
use common::SCALE_STATE as STATE;

const PROD: &[&str] = &[
    "--target=prod",
    "--namespace=assistant",
    "--workload=Deployment:web:6",
    "--workload=Deployment:api:4",
    "--hpa=min:4,max:12,cpu:65",
    "--req=web:cpu=500m,mem=1Gi",
    "--lim=web:cpu=1,mem=2Gi",
    "--req=api:cpu=400m,mem=1Gi",
    "--lim=api:cpu=1,mem=2Gi",
];

fn orchestrator(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("orchestrator").expect("binary");
    cmd.current_dir(dir)
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN");
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn plan_prints_the_contract_lines_and_records_the_before_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("cluster.yaml"), STATE).expect("write");
    let out = stdout(
        orchestrator(dir.path())
            .args([
                "scale",
                "plan",
                "--cluster",
                "file:cluster.yaml",
                "--out",
                "plan",
            ])
            .args(PROD),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "artifacts_dir=plan");
    assert_eq!(lines[1], "plan_yaml=plan/plan.yaml");
    assert_eq!(lines[2], "summary_md=plan/SUMMARY.md");
    assert!(lines[3].starts_with("plan_hash=sha256:"), "{out}");
    assert_eq!(lines[4], "succeeded");
    let plan = std::fs::read_to_string(dir.path().join("plan/plan.yaml")).expect("plan");
    assert!(plan.contains("from: 3"), "{plan}");
    assert!(plan.contains("maxReplicas: 5"), "{plan}");
    let summary = std::fs::read_to_string(dir.path().join("plan/SUMMARY.md")).expect("summary");
    assert!(
        summary.starts_with("# Infra Scale Plan — prod"),
        "{summary}"
    );

    // The apply preview: the seed's lines, then the JSON summary; nothing changes.
    let out = stdout(orchestrator(dir.path()).args([
        "scale",
        "apply",
        "--plan",
        "plan/plan.yaml",
        "--cluster",
        "file:cluster.yaml",
    ]));
    assert!(
        out.starts_with(
            "preview: kubectl -n assistant scale deployment/web --replicas=6\n\
             preview: kubectl -n assistant scale deployment/api --replicas=4\n\
             preview: kubectl -n assistant set resources deployment/web -c web --requests cpu=500m,memory=1Gi --limits cpu=1,memory=2Gi\n"
        ),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&out[out.find('{').expect("json")..]).expect("json summary");
    assert_eq!(json["ok"], true);
    assert_eq!(json["executed"], false);
    assert_eq!(json["namespace"], "assistant");
    assert_eq!(json["results"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cluster.yaml")).expect("state"),
        STATE,
        "a preview does not write the state file"
    );

    // The rollback preview restores the recorded state: the new HPA deleted, the old one kept.
    let out = stdout(orchestrator(dir.path()).args([
        "scale",
        "rollback",
        "--plan",
        "plan",
        "--cluster",
        "file:cluster.yaml",
    ]));
    assert!(
        out.contains("preview: kubectl -n assistant delete hpa web\n"),
        "{out}"
    );
    assert!(
        out.contains("preview: kubectl -n assistant autoscale deployment api --min=2 --max=5 --cpu-percent=80\n"),
        "{out}"
    );

    // Executing needs a pull request to check its label and approval.
    let out = orchestrator(dir.path())
        .args(["scale", "apply", "--plan", "plan/plan.yaml", "--execute"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pr"));
}

#[test]
fn bad_flags_are_rejected_naming_the_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (flag, message) in [
        (
            "--workload=Deployment:web",
            "error: --workload Deployment:web: expected Kind:name:replicas, e.g. Deployment:web:6",
        ),
        (
            "--hpa=min:5,max:2,cpu:65",
            "error: --hpa min:5,max:2,cpu:65: min (5) is above max (2)",
        ),
        (
            "--req=web:cpu=lots",
            "error: --req web:cpu=lots: cpu=lots: \"lots\" is not a quantity (e.g. 500m, 1, 0.5)",
        ),
    ] {
        let out = orchestrator(dir.path())
            .args(["scale", "plan", "--target=prod", "--namespace=assistant"])
            .args(["--workload=Deployment:web:6", flag])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), message);
        assert!(!dir.path().join("artifacts").exists(), "nothing written");
    }
}

#[test]
fn planning_without_a_cluster_says_detect() {
    let dir = tempfile::tempdir().expect("temp dir");
    stdout(
        orchestrator(dir.path())
            .args(["scale", "plan", "--dry-run", "--out", "p"])
            .args(PROD),
    );
    let plan = std::fs::read_to_string(dir.path().join("p/plan.yaml")).expect("plan");
    assert!(plan.contains("from: ${detect}"), "{plan}");
}

/// A plan already in `--out` is not replaced without `--force`, and a `--cluster file:` path that
/// does not exist is bad input naming it, not an empty cluster.
#[test]
fn plan_refuses_to_overwrite_and_to_read_a_missing_state_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("cluster.yaml"), STATE).expect("state");
    let plan = |extra: &[&str]| {
        orchestrator(dir.path())
            .args([
                "scale",
                "plan",
                "--out",
                "p",
                "--target=prod",
                "--namespace=assistant",
            ])
            .args(["--workload=Deployment:web:6"])
            .args(extra)
            .output()
            .expect("runs")
    };
    let first = plan(&["--cluster", "file:cluster.yaml"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("p/plan.yaml")).expect("plan");

    let again = plan(&[
        "--cluster",
        "file:cluster.yaml",
        "--workload=Deployment:api:9",
    ]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--out p: p/plan.yaml exists; pass --force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("p/plan.yaml")).expect("plan"),
        written,
        "the reviewed plan is untouched"
    );
    let forced = plan(&[
        "--cluster",
        "file:cluster.yaml",
        "--force",
        "--workload=Deployment:api:9",
    ]);
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );

    let missing = orchestrator(dir.path())
        .args([
            "scale",
            "plan",
            "--out",
            "q",
            "--target=prod",
            "--namespace=assistant",
        ])
        .args(["--workload=Deployment:web:6", "--cluster", "file:nope.yaml"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--cluster file:nope.yaml: nope.yaml does not exist"),
        "{stderr}"
    );
    assert!(!dir.path().join("q").exists(), "nothing written");
    assert!(
        !dir.path().join("nope.yaml").exists(),
        "no state file created"
    );
}

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn ci_workflows_is_one_issue_comment_workflow_that_runs_pr_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = stdout(orchestrator(dir.path()).args([
        "scale",
        "ci-workflows",
        "--dir",
        "wf",
        "--orchestrator-version",
        "1.2.3",
        "--orchestrator-sha256",
        SHA,
    ]));
    assert_eq!(out.lines().collect::<Vec<_>>(), ["wf/plan-commands.yml"]);
    let text = std::fs::read_to_string(dir.path().join("wf/plan-commands.yml")).expect("read");
    assert!(
        text.contains("orchestrator pr-command --event-file \"$GITHUB_EVENT_PATH\" --cluster kube")
    );
    assert!(text.contains("issue_comment:"), "{text}");
    assert!(text.contains("ORCHESTRATOR_VERSION: \"1.2.3\""), "{text}");
    assert!(
        text.contains(&format!("ORCHESTRATOR_SHA256: \"{SHA}\"")),
        "{text}"
    );
    assert!(text.contains("sha256sum -c -"), "{text}");
    assert!(text.contains("environment: production"), "{text}");
    assert!(!text.contains("@ORCHESTRATOR"), "{text}");
}

/// Every `uses:` is pinned to a full commit SHA, checkouts persist no credentials, and nothing
/// checks out or runs the PR head (no `pull_request_target`, no head ref), in whatever
/// `ci-workflows` prints. `.ci/lint-workflows` runs actionlint and zizmor over the same files.
#[test]
fn generated_workflows_pin_actions_and_never_touch_the_pr_head() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = stdout(orchestrator(dir.path()).args([
        "scale",
        "ci-workflows",
        "--orchestrator-sha256",
        SHA,
    ]));
    let mut uses = 0;
    for line in out.lines() {
        let line = line.trim().trim_start_matches("- ");
        if let Some(action) = line.strip_prefix("uses:") {
            uses += 1;
            let action = action.trim();
            let (_, rest) = action.split_once('@').expect("uses: names a ref");
            let sha = rest.split_whitespace().next().unwrap_or_default();
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "not pinned to a commit SHA: {line}"
            );
            assert!(rest.contains("# v"), "no version comment: {line}");
        }
    }
    assert!(uses > 0, "{out}");
    assert_eq!(
        out.matches("persist-credentials: false").count(),
        out.matches("actions/checkout@").count(),
        "{out}"
    );
    for bad in [
        "pull_request_target",
        "head.sha",
        "head.ref",
        "head_ref",
        "refs/pull/",
        "github.event.comment.body }}",
        "secrets.GITHUB_TOKEN",
    ] {
        assert!(!out.contains(bad), "{bad} in {out}");
    }
    assert!(out.contains("permissions: {}"), "{out}");
}

#[test]
fn ci_workflows_refuses_a_checksum_that_is_not_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = orchestrator(dir.path())
        .args(["scale", "ci-workflows", "--orchestrator-sha256", "abc"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--orchestrator-sha256 abc: expected the 64 hex digits"),
        "{stderr}"
    );
}

#[test]
fn pr_command_ignores_comments_without_a_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let event = serde_json::json!({
        "action": "created",
        "repository": {"full_name": "ledger-mind/website"},
        "issue": {"number": 7, "pull_request": {"url": "x"}},
        "comment": {"id": 99, "body": "nice", "user": {"login": "maint"}}
    });
    std::fs::write(dir.path().join("event.json"), event.to_string()).expect("write");
    let out = stdout(orchestrator(dir.path()).args([
        "pr-command",
        "--event-file",
        "event.json",
        "--forge-url",
        "http://127.0.0.1:9",
    ]));
    assert_eq!(
        out.trim(),
        "ignored: no /apply-plan, /approve-plan, /rollback-plan or /unlock-plan line"
    );
}

#[test]
fn plan_and_apply_preview_write_github_output_and_step_summary() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("cluster.yaml"), STATE).expect("write");
    let outputs = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    let out = stdout(
        orchestrator(dir.path())
            .args([
                "scale",
                "plan",
                "--cluster",
                "file:cluster.yaml",
                "--out",
                "plan",
            ])
            .args(PROD)
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("plan_hash="))
        .expect("plan_hash line")
        .to_owned();
    let written = std::fs::read_to_string(&outputs).expect("GITHUB_OUTPUT");
    assert!(written.contains("status=succeeded\n"), "{written}");
    assert!(
        written.contains(&format!("plan_hash={hash}\n")),
        "{written}"
    );
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(text.starts_with("# Infra Scale Plan — prod"), "{text}");

    stdout(
        orchestrator(dir.path())
            .args([
                "scale",
                "apply",
                "--plan",
                "plan",
                "--cluster",
                "file:cluster.yaml",
            ])
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    let written = std::fs::read_to_string(&outputs).expect("GITHUB_OUTPUT");
    assert!(
        written.ends_with(&format!("status=previewed\nplan_hash={hash}\nrun_id=\n")),
        "{written}"
    );
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(text.contains("## scale apply: previewed"), "{text}");
    assert!(
        text.contains("| kubectl -n assistant scale deployment/web --replicas=6 |"),
        "{text}"
    );
}
