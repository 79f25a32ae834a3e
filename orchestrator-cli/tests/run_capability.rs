//! A pipeline step can run another capability of the orchestrator (`orchestrator = [...]`): here
//! a release, under the pipeline's own workspace lock, with variables from the pipeline's env.

use std::process::Command;

use orchestrator_git::sandbox::{Sandbox, git};

const TOKEN: &str = "ghp_CAPABILITYcanaryDoNotPrint0123";

const CONFIG: &str = r#"
[forge]
owner = "acme"
[forge.simulate]
ci_delay = "30ms"
asset_interval = "10ms"
[release]
poll_interval = "10ms"
timeout = "30s"

[[repo]]
name = "a"
assets = ["a-v{version}.tgz"]

[pipeline.ship]
env_files = [{ file = "ship.env" }]

[[pipeline.ship.apply]]
run = ["sh", "-c", "echo preparing $VERSION"]

[[pipeline.ship.apply]]
orchestrator = ["release", "--version", "${VERSION}"]
"#;

fn orchestrator(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("ORCHESTRATOR_INHERITED_LOCK")
        .args(args)
        .output()
        .expect("runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(TOKEN), "token leaked: {all}");
    out
}

#[test]
fn a_pipeline_step_runs_a_release_under_the_pipelines_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    Sandbox::new(dir.path())
        .expect("sandbox")
        .create_repo("a", &[("README.md", "a\n")])
        .expect("repo");
    std::fs::write(dir.path().join("orchestrator.toml"), CONFIG).expect("config");
    std::fs::write(dir.path().join("ship.env"), "VERSION=2.1.0\n").expect("env");

    let plan = orchestrator(dir.path(), &["run", "ship", "--dry-run"]);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert!(shown.contains("release --version 2.1.0"), "{shown}");
    assert!(
        git(&dir.path().join("origins/a.git"), &["tag", "--list"])
            .expect("tags")
            .is_empty(),
        "a dry run releases nothing"
    );

    let out = orchestrator(dir.path(), &["run", "ship"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        git(&dir.path().join("origins/a.git"), &["tag", "--list"]).expect("tags"),
        "v2.1.0"
    );
    let runs = orchestrator(dir.path(), &["--output", "json", "runs"]);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("json");
    let kinds: Vec<&str> = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["kind"].as_str().unwrap_or_default())
        .collect();
    assert!(
        kinds.contains(&"run") && kinds.contains(&"release"),
        "{kinds:?}"
    );
    // The lock was released by its owner, the pipeline, not by the step.
    let lock = std::fs::read_to_string(dir.path().join(".orchestrator/lock")).expect("lock file");
    assert!(
        lock.is_empty(),
        "a clean release leaves the lock empty: {lock:?}"
    );
}

#[test]
fn an_unknown_capability_is_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "[pipeline.p]\n[[pipeline.p.apply]]\norchestrator = [\"frobnicate\"]\n";
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    let out = orchestrator(dir.path(), &["run", "p"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "orchestrator.toml:3: `pipeline.p.apply[0].orchestrator`: expected a capability"
        ),
        "{stderr}"
    );
}

#[test]
fn a_held_lock_cannot_be_claimed_by_a_process_that_is_not_the_holders_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    Sandbox::new(dir.path())
        .expect("sandbox")
        .create_repo("a", &[("README.md", "a\n")])
        .expect("repo");
    std::fs::write(dir.path().join("orchestrator.toml"), CONFIG).expect("config");
    let state = dir.path().join(".orchestrator");
    std::fs::create_dir_all(&state).expect("state dir");
    // A lock file naming some other process (pid 1 is never our parent).
    std::fs::write(state.join("lock"), "pid 1 run ship\n").expect("lock");
    let lock_path = std::fs::canonicalize(state.join("lock")).expect("path");
    let holder = std::fs::File::open(&lock_path).expect("open");
    holder.lock().expect("hold the lock");
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir.path())
        .env("ORCHESTRATOR_INHERITED_LOCK", &lock_path)
        .args(["release", "--version", "1.0.0"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another orchestrator run holds the lock")
    );
}
