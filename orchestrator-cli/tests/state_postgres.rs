//! Many runners on one PostgreSQL database, with the real binary: two workspaces (two state
//! directories, as two CI jobs or two CronJob pods have) share one database through
//! `ORCHESTRATOR_STATE_URL`. One runs at a time; a runner killed with SIGKILL loses its lock and
//! its claim with its session, its run shows `interrupted`, and the other runner resumes it.
//! Skipped (or failed, in CI) when PostgreSQL is not installed: `.ci/tools/postgres.sh`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use orchestrator_core::testing::PgCluster;

/// The step: says it started, then waits (bounded) until the test lets it finish.
const STEP: &str = r#"#!/bin/sh
touch "$FIXTURE/started-$WHO"
i=0
while [ ! -e "$FIXTURE/go" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
echo "step done by $WHO" >> "$FIXTURE/done.log"
"#;

const CONFIG: &str = r#"
[[pipeline.nightly.apply]]
run = ["steps/work.sh"]
"#;

/// A workspace of its own (config, step, state directory) in `root/name`.
fn workspace(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("steps")).expect("mkdir");
    std::fs::write(dir.join("orchestrator.toml"), CONFIG).expect("config");
    let step = dir.join("steps/work.sh");
    std::fs::write(&step, STEP).expect("step");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&step, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

fn orchestrator(dir: &Path, fixture: &Path, url: &str, who: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir)
        .env("ORCHESTRATOR_STATE_URL", url)
        .env("FIXTURE", fixture)
        .env("WHO", who)
        .env_remove("ORCHESTRATOR_FAULT_KILL_AT_JOURNAL_WRITE")
        .stdin(Stdio::null());
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits (bounded; not a timing assertion) until `probe` holds.
fn wait_until(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the child on drop (a failing assertion must not leave it running).
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn runs_json(dir: &Path, fixture: &Path, url: &str) -> serde_json::Value {
    let out = orchestrator(dir, fixture, url, "observer")
        .args(["--output", "json", "runs"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn one_runner_at_a_time_and_a_killed_runners_run_is_taken_over() {
    let Some(pg) = PgCluster::start_or_skip(false) else {
        return;
    };
    let url = pg.create_database("shared");
    let root = tempfile::tempdir().expect("tempdir");
    let fixture = root.path();
    let first = workspace(fixture, "runner-a");
    let second = workspace(fixture, "runner-b");

    // Runner A starts the nightly and is inside its step.
    let log = fixture.join("a.log");
    let child = orchestrator(&first, fixture, &url, "a")
        .args(["run", "nightly"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn a");
    let a_pid = child.id();
    let mut reaper = Reaper(Some(child));
    wait_until("runner a is in its step", || {
        if let Some(child) = &mut reaper.0
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!(
                "runner a ended ({status}) before its step: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        fixture.join("started-a").exists()
    });

    // Runner B, another machine's state directory on the same database, is refused (exit 2),
    // naming A, and changes nothing.
    let refused = orchestrator(&second, fixture, &url, "b")
        .args(["run", "nightly"])
        .output()
        .expect("run b");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let message = text(&refused);
    assert!(message.contains("workspace lock"), "{message}");
    assert!(
        message.contains(&format!("pid {a_pid}")),
        "names the holder: {message}"
    );
    assert!(!message.contains("sslmode"), "{message}");
    assert!(!fixture.join("started-b").exists(), "b ran nothing");
    let runs = runs_json(&second, fixture, &url);
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    assert_eq!(runs[0]["status"], "running", "a is alive: {runs}");

    // A dies the hardest way (SIGKILL: no handler runs); its session ends with it.
    let mut child = reaper.0.take().expect("child");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    wait_until("the killed run reads interrupted", || {
        runs_json(&second, fixture, &url)[0]["status"] == "interrupted"
    });

    // B resumes A's run: the lock and the claim pass to it, and the run finishes.
    std::fs::write(fixture.join("go"), "").expect("go");
    let resumed = orchestrator(&second, fixture, &url, "b")
        .args(["run", "nightly", "--resume"])
        .output()
        .expect("resume b");
    assert!(resumed.status.success(), "{}", text(&resumed));
    let runs = runs_json(&second, fixture, &url);
    assert_eq!(
        runs.as_array().map(Vec::len),
        Some(1),
        "resumed, not restarted: {runs}"
    );
    assert_eq!(runs[0]["status"], "succeeded", "{runs}");
    let done = std::fs::read_to_string(fixture.join("done.log")).unwrap_or_default();
    assert!(done.contains("step done by b"), "{done}");
}
