//! `orchestrator tasks run` and `orchestrator runs list|show` end to end: seed 003's nightly
//! task list with a gate, SKIP_TASKS, outputs_uri and status extraction, and records that
//! outlive the process.

use std::path::Path;
use std::process::{Command, Output};

/// Set for every invocation; no test output may contain it.
const TOKEN: &str = "ghp_TESTTOKENdoNotPrint0123456789";

const CONFIG: &str = r#"
[[tasks.nightly]]
name = "seo.validate"
run = ["scripts/task.sh", "seo"]

[[tasks.nightly]]
name = "infra.scale"
run = ["scripts/task.sh", "scale"]
enabled = "ENABLE_INFRA_SCALE=1"
env = { TARGET = "prod" }

[[tasks.nightly]]
name = "dx.integrate"
run = ["scripts/task.sh", "dx"]

[[tasks.nightly]]
name = "code.review"
run = ["scripts/task.sh", "review"]
"#;

const TASK: &str = r#"#!/bin/sh
case "$1" in
  seo) echo "artifacts_dir=out/seo"; echo "succeeded" ;;
  scale)
    echo "=== infra.scale target=$TARGET ==="
    echo "using token $GITHUB_TOKEN"
    echo "outputs_uri=https://github.com/your-org/your-repo/pull/123"
    echo "awaiting_approval" ;;
  dx) echo "opened draft PR https://github.com/your-org/your-repo/pull/7." ;;
  review) echo "review bot crashed" >&2; exit 3 ;;
esac
"#;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("orchestrator.toml"), CONFIG).expect("config");
        let script = dir.path().join("scripts/task.sh");
        std::fs::create_dir_all(script.parent().expect("parent")).expect("mkdir");
        std::fs::write(&script, TASK).expect("script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
        cmd.current_dir(self.path())
            .args(args)
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("ENABLE_INFRA_SCALE")
            .env_remove("SKIP_TASKS")
            .env_remove("ORCHESTRATOR_LOG");
        cmd
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn gated_tasks_are_recorded_as_skipped_and_records_outlive_the_process() {
    let fx = Fixture::new();
    // Gate off, one task skipped by SKIP_TASKS.
    let out = run(fx
        .cmd(&["tasks", "run", "nightly"])
        .env("SKIP_TASKS", "code.review"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tasks nightly succeeded"), "{stdout}");
    assert!(
        text(&out.stderr).contains("seo.validate"),
        "output streamed with the task name"
    );

    // A new process reads them back: the records survived.
    let out = run(&mut fx.cmd(&["runs", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(
            "seo.validate=succeeded infra.scale=skipped dx.integrate=succeeded code.review=skipped"
        ),
        "{}",
        text(&out.stdout)
    );
    let out = run(&mut fx.cmd(&["--output", "json", "runs", "show", "1"]));
    let shown = json(&out);
    let skipped = &shown["tasks"][1];
    assert_eq!(skipped["task"], "infra.scale");
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(
        skipped["log_excerpt"],
        "gate ENABLE_INFRA_SCALE=1 is off (ENABLE_INFRA_SCALE unset)"
    );
    assert_eq!(shown["tasks"][3]["log_excerpt"], "skipped by SKIP_TASKS");
    assert_eq!(
        shown["tasks"][2]["outputs_uri"],
        "https://github.com/your-org/your-repo/pull/7"
    );

    // Gate on: outputs_uri and the status word are extracted; a failing task fails the run
    // but not the others.
    let out = run(fx
        .cmd(&["--output", "json", "tasks", "run", "nightly"])
        .env("ENABLE_INFRA_SCALE", "1"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["run_id"], 2);
    assert_eq!(report["status"], "failed");
    let records = report["records"].as_array().expect("records");
    let statuses: Vec<&str> = records
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        ["succeeded", "awaiting_approval", "succeeded", "failed"]
    );
    let scale = &records[1];
    assert_eq!(
        scale["outputs_uri"],
        "https://github.com/your-org/your-repo/pull/123"
    );
    assert_eq!(scale["approval_state"], "pending");
    assert_eq!(scale["run_id"], 2);
    let excerpt = scale["log_excerpt"].as_str().expect("excerpt");
    assert!(
        excerpt.contains("=== infra.scale target=prod ==="),
        "{excerpt}"
    );
    assert!(excerpt.contains("using token [redacted]"), "{excerpt}");
    for field in ["started_at", "finished_at"] {
        let ts = scale[field].as_str().expect(field);
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.contains('T'),
            "{ts}"
        );
    }
    assert!(scale["duration_ms"].as_i64().expect("duration") >= 0);
    assert_eq!(records[3]["log_excerpt"], "review bot crashed");

    let out = run(&mut fx.cmd(&["--output", "json", "runs", "list"]));
    let runs = json(&out);
    assert_eq!(runs[0]["id"], 2);
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["tasks"].as_array().expect("tasks").len(), 4);
    assert_eq!(runs[1]["tasks"][1]["status"], "skipped");
    let out = run(&mut fx.cmd(&["runs", "show", "2"]));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("run 2 tasks nightly: failed"), "{stdout}");
    assert!(
        stdout.contains("https://github.com/your-org/your-repo/pull/123"),
        "{stdout}"
    );
    assert!(stdout.contains("step_failed"), "{stdout}");
}

#[test]
fn dry_run_and_bad_input() {
    let fx = Fixture::new();
    let out = run(fx
        .cmd(&[
            "tasks",
            "run",
            "nightly",
            "--dry-run",
            "--skip",
            "dx.integrate",
        ])
        .env("ENABLE_INFRA_SCALE", "0"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("gate ENABLE_INFRA_SCALE=1 is off (ENABLE_INFRA_SCALE=0)"),
        "{stdout}"
    );
    assert!(stdout.contains("skipped by --skip"), "{stdout}");
    assert!(!fx.path().join(".orchestrator").exists(), "nothing stored");

    let cases: &[(&[&str], &str)] = &[
        (
            &["tasks", "run", "weekly"],
            "unknown task list \"weekly\" (configured: nightly)",
        ),
        (
            &["tasks", "run", "nightly", "--skip", "nope"],
            "unknown task \"nope\" in --skip",
        ),
        (&["runs", "show", "7"], "no run 7 in the state store"),
    ];
    for (args, want) in cases {
        let out = run(&mut fx.cmd(args));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    std::fs::remove_file(fx.path().join("scripts/task.sh")).expect("rm");
    let out = run(&mut fx.cmd(&["tasks", "run", "nightly"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("task seo.validate: script scripts/task.sh not found"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !fx.path().join(".orchestrator/state.db").exists(),
        "nothing ran"
    );
}
