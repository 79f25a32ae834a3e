//! `orchestrator tasks run` and `orchestrator runs list|show` end to end: seed 003's nightly
//! task list with a gate, SKIP_TASKS, outputs_uri and status extraction, records that outlive
//! the process, and `--resume` after a failed task, a SIGKILL, or a changed list.

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

/// Each run of a task appends its argument to `ran.log`; `review` fails until `fixed` exists.
const TASK: &str = r#"#!/bin/sh
echo "$1" >> ran.log
case "$1" in
  seo) echo "artifacts_dir=out/seo"; echo "succeeded" ;;
  scale)
    echo "=== infra.scale target=$TARGET ==="
    echo "using token $GITHUB_TOKEN"
    echo "outputs_uri=https://github.com/your-org/your-repo/pull/123"
    echo "awaiting_approval" ;;
  dx) echo "opened draft PR https://github.com/your-org/your-repo/pull/7." ;;
  review)
    if [ -f fixed ]; then echo "succeeded"; exit 0; fi
    echo "review bot crashed" >&2; exit 3 ;;
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
            .env_remove("ORCHESTRATOR_LOG")
            .env_remove(KILL_AT);
        cmd
    }

    /// The tasks that ran, in order, across every process.
    fn ran(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("ran.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The crash hook of the reliability harness (see orchestrator-cli/src/wiring.rs).
const KILL_AT: &str = "ORCHESTRATOR_FAULT_KILL_AT_JOURNAL_WRITE";

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

fn statuses(records: &serde_json::Value) -> Vec<(String, String)> {
    records
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r["task"].as_str().expect("task").to_owned(),
                r["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn a_failed_task_is_resumed_alone_under_the_same_run_id() {
    let fx = Fixture::new();
    let out = run(fx
        .cmd(&["tasks", "run", "nightly"])
        .env("ENABLE_INFRA_SCALE", "1"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("continue with: orchestrator tasks run nightly --resume"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fx.ran(), ["seo", "scale", "dx", "review"]);

    // The dry run shows what the resume would do, and changes nothing.
    let out = run(&mut fx.cmd(&["tasks", "run", "nightly", "--resume", "--dry-run"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("tasks nightly (resuming run 1):"),
        "{stdout}"
    );
    assert!(
        stdout.contains("infra.scale   done  recorded awaiting_approval; not run again"),
        "{stdout}"
    );
    assert!(stdout.contains("code.review   run   always"), "{stdout}");
    assert_eq!(fx.ran().len(), 4, "the dry run ran nothing");

    // Fixed: the resume runs code.review only, in run 1, and keeps the other records. The gate
    // is off now, but infra.scale is done: it is not run again, nor turned into a skip.
    std::fs::write(fx.path().join("fixed"), "").expect("fix");
    let out = run(&mut fx.cmd(&["--output", "json", "tasks", "run", "nightly", "--resume"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("tasks nightly: resuming run 1: 3 task(s) done, 1 to go"),
        "{}",
        text(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["run_id"], 1);
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["resumed"], true);
    assert_eq!(
        report["kept"],
        serde_json::json!(["seo.validate", "infra.scale", "dx.integrate"])
    );
    assert_eq!(
        statuses(&report["records"]),
        pairs(&[
            ("seo.validate", "succeeded"),
            ("infra.scale", "awaiting_approval"),
            ("dx.integrate", "succeeded"),
            ("code.review", "succeeded"),
        ])
    );
    assert_eq!(
        report["records"][1]["outputs_uri"],
        "https://github.com/your-org/your-repo/pull/123"
    );
    assert_eq!(fx.ran(), ["seo", "scale", "dx", "review", "review"]);

    // runs show: the failed record is kept, marked superseded by the second attempt.
    let out = run(&mut fx.cmd(&["--output", "json", "runs", "show", "1"]));
    let shown = json(&out);
    assert_eq!(shown["run"]["status"], "succeeded");
    let tasks = shown["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 5);
    assert_eq!(
        (
            &tasks[3]["task"],
            &tasks[3]["status"],
            &tasks[3]["attempt"],
            &tasks[3]["superseded"]
        ),
        (
            &serde_json::json!("code.review"),
            &serde_json::json!("failed"),
            &serde_json::json!(1),
            &serde_json::json!(true)
        )
    );
    assert_eq!(tasks[4]["status"], "succeeded");
    assert_eq!(tasks[4]["attempt"], 2);
    assert_eq!(tasks[4]["superseded"], false);
    let out = run(&mut fx.cmd(&["runs", "show", "1"]));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("run 1 tasks nightly: succeeded"),
        "{stdout}"
    );
    assert!(
        stdout.contains("code.review   failed             1 (superseded)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("code.review   succeeded          2 "),
        "{stdout}"
    );
    // runs list: each task's current record, once.
    let out = run(&mut fx.cmd(&["runs", "list"]));
    assert!(
        text(&out.stdout).contains(
            "seo.validate=succeeded infra.scale=awaiting_approval dx.integrate=succeeded code.review=succeeded\n"
        ),
        "{}",
        text(&out.stdout)
    );

    // Nothing unfinished: --resume says so and starts a new run.
    let out = run(&mut fx.cmd(&["--output", "json", "tasks", "run", "nightly", "--resume"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "nothing to resume: the newest run of tasks nightly (run 1) succeeded; starting a new run"
        ),
        "{}",
        text(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["run_id"], 2);
    assert_eq!(report["resumed"], false);
}

#[test]
fn a_run_killed_mid_list_resumes_and_converges() {
    let fx = Fixture::new();
    std::fs::write(fx.path().join("fixed"), "").expect("every task passes");
    // Journal writes: 1 seo.validate started, 2 its success, 3 infra.scale started, 4 its
    // success: killed just before 4, after infra.scale ran and stored its record.
    let out = run(fx
        .cmd(&["tasks", "run", "nightly"])
        .env("ENABLE_INFRA_SCALE", "1")
        .env(KILL_AT, "4"));
    assert!(!out.status.success(), "the run was killed");
    assert_eq!(fx.ran(), ["seo", "scale"]);
    let out = run(&mut fx.cmd(&["--output", "json", "runs", "list"]));
    assert_eq!(
        json(&out)[0]["status"],
        "interrupted",
        "a killed run shows interrupted, never running"
    );

    let out = run(fx
        .cmd(&["--output", "json", "tasks", "run", "nightly", "--resume"])
        .env("ENABLE_INFRA_SCALE", "1"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("note: took over the workspace lock"),
        "{}",
        text(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["run_id"], 1);
    assert_eq!(
        report["kept"],
        serde_json::json!(["seo.validate", "infra.scale"])
    );
    assert_eq!(
        statuses(&report["records"]),
        pairs(&[
            ("seo.validate", "succeeded"),
            ("infra.scale", "awaiting_approval"),
            ("dx.integrate", "succeeded"),
            ("code.review", "succeeded"),
        ])
    );
    // infra.scale's record proved it finished though the journal never said so: every task
    // ran exactly once.
    assert_eq!(fx.ran(), ["seo", "scale", "dx", "review"]);
    let out = run(&mut fx.cmd(&["--output", "json", "runs", "show", "1"]));
    let shown = json(&out);
    assert_eq!(shown["run"]["status"], "succeeded");
    assert_eq!(shown["tasks"].as_array().expect("tasks").len(), 4);
    let journal = shown["journal"].as_array().expect("journal");
    assert!(
        journal
            .iter()
            .any(|r| r["entry"]["event"] == "step_already_done"
                && r["entry"]["step"] == "infra.scale"),
        "{journal:#?}"
    );
    let db = std::fs::read(fx.path().join(".orchestrator/state.db")).expect("state db");
    assert!(
        !db.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is not in the state database"
    );
}

#[test]
fn a_changed_list_is_not_resumed() {
    let fx = Fixture::new();
    // Nothing has run yet: --resume says so and starts run 1 (code.review fails).
    let out = run(&mut fx.cmd(&["tasks", "run", "nightly", "--resume"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("nothing to resume: tasks nightly has no earlier run; starting a new run"),
        "{}",
        text(&out.stderr)
    );
    let ran = fx.ran();

    let swapped = CONFIG.replacen("name = \"dx.integrate\"", "name = \"PLACEHOLDER\"", 1);
    let swapped = swapped
        .replacen("name = \"code.review\"", "name = \"dx.integrate\"", 1)
        .replacen("name = \"PLACEHOLDER\"", "name = \"code.review\"", 1);
    let cases = [
        (
            CONFIG.replace(
                "[[tasks.nightly]]\nname = \"dx.integrate\"\nrun = [\"scripts/task.sh\", \"dx\"]\n",
                "",
            ),
            "(removed dx.integrate)",
        ),
        (
            format!(
                "{CONFIG}\n[[tasks.nightly]]\nname = \"lint\"\nrun = [\"scripts/task.sh\", \"seo\"]\n"
            ),
            "(added lint)",
        ),
        (
            swapped,
            "(reordered: was seo.validate, infra.scale, dx.integrate, code.review, now seo.validate, infra.scale, code.review, dx.integrate)",
        ),
    ];
    for (config, difference) in cases {
        std::fs::write(fx.path().join("orchestrator.toml"), &config).expect("config");
        for extra in [&[][..], &["--dry-run"][..]] {
            let out = run(fx.cmd(&["tasks", "run", "nightly", "--resume"]).args(extra));
            assert_eq!(out.status.code(), Some(2), "{difference} {extra:?}");
            let stderr = text(&out.stderr);
            assert_eq!(
                stderr,
                format!(
                    "error: --resume: tasks.nightly changed since run 1 began {difference}; \
                     restore the list to finish run 1, or run without --resume to start a new run\n"
                ),
                "{extra:?}"
            );
        }
    }
    assert_eq!(fx.ran(), ran, "nothing ran");
    let out = run(&mut fx.cmd(&["--output", "json", "runs", "list"]));
    let runs = json(&out);
    assert_eq!(
        runs.as_array().expect("runs").len(),
        1,
        "no run was started"
    );
    assert_eq!(runs[0]["status"], "failed");
}

#[test]
fn issue_14_a_task_printing_9000_lines_then_awaiting_approval_is_recorded_with_its_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orchestrator.toml"),
        r#"
[[tasks.nightly]]
name = "infra.scale"
run = ["/bin/sh", "-c", "i=1; while [ $i -le 9000 ]; do echo \"plan line $i\"; i=$((i+1)); done; echo \"token $DX_TOKEN\"; echo outputs_uri=https://github.com/o/r/pull/123; echo awaiting_approval"]
env = { DX_TOKEN = "dx-canary-token-0123456789" }
"#,
    )
    .expect("config");
    // The terminal is the reader here: every line is printed before the record is written.
    let out = run(Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir.path())
        .args(["tasks", "run", "nightly"])
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("ORCHESTRATOR_LOG"));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(all.contains("plan line 9000"), "every line is shown");
    let out = run(Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir.path())
        .args(["--output", "json", "runs", "show", "1"])
        .env("GITHUB_TOKEN", TOKEN));
    let shown = json(&out);
    let record = &shown["tasks"][0];
    assert_eq!(record["status"], "awaiting_approval", "{record:#}");
    assert_eq!(record["approval_state"], "pending");
    assert_eq!(record["outputs_uri"], "https://github.com/o/r/pull/123");
    let excerpt = record["log_excerpt"].as_str().expect("excerpt");
    assert!(excerpt.contains("token [redacted]"), "{excerpt}");
    let db = std::fs::read(dir.path().join(".orchestrator/state.db")).expect("state db");
    let canary = b"dx-canary-token-0123456789";
    assert!(
        !db.windows(canary.len()).any(|w| w == canary),
        "DX_TOKEN is in state.db"
    );
    assert!(!all.contains("dx-canary-token"), "{all}");
}

/// `$GITHUB_OUTPUT` read as the Actions runner reads it: `name=value`, or `name<<DELIM` up to a
/// line that is exactly DELIM.
fn parse_github_output(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            pairs.push((name.to_owned(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            pairs.push((name.to_owned(), value.to_owned()));
        } else {
            panic!("not an output line: {line:?} in\n{text}");
        }
    }
    pairs
}

#[test]
fn tasks_run_writes_github_output_and_step_summary_and_an_unwritable_one_only_warns() {
    let fx = Fixture::new();
    let outputs = fx.path().join("github_output");
    let summary = fx.path().join("step_summary");
    let out = run(fx
        .cmd(&["tasks", "run", "nightly"])
        .env("ENABLE_INFRA_SCALE", "1")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&outputs).expect("GITHUB_OUTPUT written");
    let pairs = parse_github_output(&written);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {written}"))
    };
    assert_eq!(get("status"), "failed");
    assert_eq!(get("run_id"), "1");
    assert_eq!(get("failed"), "code.review");
    assert_eq!(
        get("outputs_uri"),
        "https://github.com/your-org/your-repo/pull/123"
    );
    assert_eq!(
        get("outputs_uris"),
        "infra.scale=https://github.com/your-org/your-repo/pull/123\n\
         dx.integrate=https://github.com/your-org/your-repo/pull/7",
        "multi-line, in the delimiter form: {written}"
    );
    let summary = std::fs::read_to_string(&summary).expect("summary written");
    assert!(
        summary.contains("## tasks nightly: failed (run 1)"),
        "{summary}"
    );
    assert!(
        summary.contains("| code.review | failed | - |"),
        "{summary}"
    );

    // The run succeeds; the outputs cannot be written (a directory): a warning, still exit 0.
    std::fs::write(fx.path().join("fixed"), "").expect("fixed");
    let out = run(fx
        .cmd(&["tasks", "run", "nightly", "--resume"])
        .env("ENABLE_INFRA_SCALE", "1")
        .env("GITHUB_OUTPUT", fx.path()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning: could not write $GITHUB_OUTPUT"),
        "{}",
        text(&out.stderr)
    );
}
