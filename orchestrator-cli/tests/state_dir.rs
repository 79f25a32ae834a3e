//! `--state-dir` / `ORCHESTRATOR_STATE_DIR`: the journal, lock and state.db live where CI keeps
//! them between jobs, not beside whichever working copy the runner checked out.

use std::path::Path;
use std::process::{Command, Output};

/// One step that fails while `fail` exists beside the config, and records each call in `ran.log`.
const CONFIG: &str = r#"
[[pipeline.deploy.apply]]
run = ["scripts/step.sh"]
"#;

const STEP: &str = "#!/bin/sh\necho ran >> ran.log\nif [ -e fail ]; then echo broken; exit 3; fi\n";

/// A working copy: the config and its step script.
fn working_copy(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("orchestrator.toml"), CONFIG).expect("config");
    std::fs::create_dir_all(dir.join("scripts")).expect("mkdir");
    let step = dir.join("scripts/step.sh");
    std::fs::write(&step, STEP).expect("step");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&step, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn orchestrator(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(cwd)
        .args(args)
        .env_remove("ORCHESTRATOR_STATE_DIR")
        .env_remove("ORCHESTRATOR_CONFIG")
        .env_remove("ORCHESTRATOR_OUTPUT")
        .env_remove("ORCHESTRATOR_LOG");
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn state_dir_holds_the_journal_runs_list_reads_it_and_another_copy_resumes_from_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = tmp.path().join("job1");
    let second = tmp.path().join("job2");
    working_copy(&first);
    working_copy(&second);
    std::fs::write(first.join("fail"), "").expect("fail marker");

    // Relative to the current directory: `../cache` from job1 is <tmp>/cache.
    let out = output(&mut orchestrator(
        &first,
        &["--state-dir", "../cache", "run", "deploy"],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let cache = tmp.path().join("cache");
    assert!(
        cache.join("state.db").is_file(),
        "the journal is in the state dir"
    );
    assert!(
        !first.join(".orchestrator").exists(),
        "nothing is written beside the config"
    );

    // The environment variable is read the same way, by `runs list` with `--limit` after `list`.
    let out = output(
        orchestrator(
            &first,
            &["--output", "json", "runs", "list", "--limit", "1"],
        )
        .env("ORCHESTRATOR_STATE_DIR", &cache),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    assert_eq!(runs[0]["id"], 1, "{runs}");
    // Without it, the copy's own (absent) state dir has no runs.
    let out = output(&mut orchestrator(&first, &["--output", "json", "runs"]));
    assert_eq!(text(&out.stdout).trim(), "[]");

    // A fresh checkout (another CI job) with the same state dir continues run 1.
    let out = output(
        orchestrator(&second, &["--output", "json", "run", "deploy", "--resume"])
            .env("ORCHESTRATOR_STATE_DIR", &cache),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["run_id"], 1,
        "the first job's run was continued: {report}"
    );
    assert!(!second.join(".orchestrator").exists());
}
