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
             preview: kubectl -n assistant set resources deployment/web --requests cpu=500m,memory=1Gi --limits cpu=1,memory=2Gi\n"
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

#[test]
fn ci_workflows_are_the_three_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = stdout(orchestrator(dir.path()).args(["scale", "ci-workflows", "--dir", "wf"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "wf/plan-commands.yml",
            "wf/infra-apply.yml",
            "wf/infra-rollback.yml"
        ]
    );
    let commands = std::fs::read_to_string(dir.path().join("wf/plan-commands.yml")).expect("read");
    assert!(commands.contains("orchestrator pr-command --event-file \"$GITHUB_EVENT_PATH\""));
    assert!(commands.contains("issue_comment"));
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
