//! The release survives a SIGKILL at every journal write: rerun with `--resume`, it converges on
//! exactly the state of an uninterrupted run, with no tag made or pushed twice. The same holds
//! for a SIGTERM (what CI runners, systemd and Kubernetes send) at every journal write, which
//! the run must handle itself: stop the running step, journal it, exit 1.

use std::path::Path;
use std::process::{Command, Output};

use orchestrator_git::sandbox::{Sandbox, git};

mod common;
use common::MockForge;

const TOKEN: &str = "ghp_CRASHcanaryDoNotPrint0123456789";
const KILL_AT: &str = "ORCHESTRATOR_FAULT_KILL_AT_JOURNAL_WRITE";
const FAULT_SIGNAL: &str = "ORCHESTRATOR_FAULT_SIGNAL";

/// The signal a fault sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sig {
    /// SIGKILL just before the write: the process dies there.
    Kill,
    /// SIGTERM at the write, handled before the write goes on: the run stops itself.
    Term,
}

/// Signal the process at its `at`-th journal write.
#[derive(Debug, Clone, Copy)]
struct Fault {
    at: usize,
    signal: Sig,
}

impl Fault {
    fn kill(at: usize) -> Self {
        Self {
            at,
            signal: Sig::Kill,
        }
    }
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    for name in ["a", "b", "c"] {
        sandbox
            .create_repo(name, &[("README.md", name)])
            .expect("repo");
    }
    let config = "[forge]\nowner = \"acme\"\n[forge.simulate]\nci_delay = \"40ms\"\nasset_interval = \"10ms\"\n\
                  [release]\npoll_interval = \"10ms\"\ntimeout = \"30s\"\n\
                  [[repo]]\nname = \"a\"\nassets = [\"a-v{version}.tgz\"]\n\
                  [[repo]]\nname = \"b\"\ndepends_on = [\"a\"]\nassets = [\"b-v{version}.tgz\"]\n\
                  [[repo]]\nname = \"c\"\nassets = [\"c-v{version}.tgz\"]\n";
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    dir
}

/// `orchestrator --output json <command> <extra>` in `dir`, with the canary token and no Actions
/// files or scheduler variables from the environment; signalled at a journal write when `fault`
/// is given. The token never shows in its output.
fn orchestrator(dir: &Path, command: &[&str], extra: &[&str], fault: Option<Fault>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove(KILL_AT)
        .env_remove(FAULT_SIGNAL)
        // Run inside GitHub Actions, these would append to the job's real summary and outputs.
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("ENABLE_INFRA_SCALE")
        .env_remove("SKIP_TASKS")
        .args(["--output", "json"])
        .args(command)
        .args(extra);
    if let Some(fault) = fault {
        cmd.env(KILL_AT, fault.at.to_string());
        if fault.signal == Sig::Term {
            cmd.env(FAULT_SIGNAL, "TERM");
        }
    }
    let out = cmd.output().expect("runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(TOKEN), "token leaked: {all}");
    out
}

fn release(dir: &Path, extra: &[&str], fault: Option<Fault>) -> Output {
    orchestrator(dir, &["release", "--version", "1.0.0"], extra, fault)
}

/// Tag name → peeled commit, on each repo's origin.
fn end_state(dir: &Path) -> Vec<(String, Vec<String>)> {
    ["a", "b", "c"]
        .iter()
        .map(|name| {
            let origin = dir.join("origins").join(format!("{name}.git"));
            let tags = git(
                &origin,
                &[
                    "for-each-ref",
                    "--format=%(refname:short) %(*objectname)",
                    "refs/tags",
                ],
            )
            .expect("refs");
            let head = git(&dir.join(name), &["rev-parse", "HEAD"]).expect("head");
            // Express the tag's commit relative to HEAD so two fixtures compare equal.
            let tags = tags.lines().map(|l| l.replace(&head, "HEAD")).collect();
            ((*name).to_owned(), tags)
        })
        .collect()
}

#[test]
fn sigkill_at_every_journal_write_then_resume_converges() {
    let reference_dir = fixture();
    let out = release(reference_dir.path(), &[], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = end_state(reference_dir.path());
    assert!(
        reference
            .iter()
            .all(|(_, tags)| tags == &vec!["v1.0.0 HEAD".to_owned()]),
        "{reference:?}"
    );
    // 3 repos x (tag, push, wait) x (started, finished) + run finished.
    let writes = 19;
    let results: Vec<(usize, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=writes)
            .map(|k| {
                let reference = &reference;
                scope.spawn(move || {
                    let dir = fixture();
                    let first = release(dir.path(), &[], Some(Fault::kill(k)));
                    if first.status.success() {
                        return (k, format!("write {k}: the run was not killed"));
                    }
                    let resumed = release(dir.path(), &["--resume"], None);
                    if !resumed.status.success() {
                        return (
                            k,
                            format!(
                                "write {k}: resume failed: {}{}",
                                String::from_utf8_lossy(&resumed.stderr),
                                String::from_utf8_lossy(&resumed.stdout)
                            ),
                        );
                    }
                    let state = end_state(dir.path());
                    if &state != reference {
                        return (
                            k,
                            format!("write {k}: end state {state:?} differs from {reference:?}"),
                        );
                    }
                    let db =
                        std::fs::read(dir.path().join(".orchestrator/state.db")).expect("state db");
                    if db.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()) {
                        return (k, format!("write {k}: token in the state database"));
                    }
                    (k, String::new())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("case thread"))
            .collect()
    });
    let failures: Vec<&String> = results
        .iter()
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    println!("{writes} of {writes} crash points converged, 0 duplicate tags");
}

/// A two-package publish (`lib`, then `app` which depends on it) over the simulated forge.
fn publish_fixture() -> tempfile::TempDir {
    publish_fixture_with(
        "[forge.simulate]\nci_delay = \"30ms\"\nasset_interval = \"10ms\"\n",
        "tag",
    )
}

/// The two-package publish with `forge` (extra `[forge]` keys) and this `trigger`.
fn publish_fixture_with(forge: &str, trigger: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let manifests = [
        (
            "lib",
            "{\n  \"name\": \"@acme/lib\",\n  \"version\": \"1.0.0\"\n}\n",
        ),
        (
            "app",
            "{\n  \"name\": \"@acme/app\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"@acme/lib\": \"^1.0.0\"\n  }\n}\n",
        ),
    ];
    let mut config = format!(
        "[forge]\nowner = \"acme\"\n{forge}[release]\npoll_interval = \"10ms\"\ntimeout = \"30s\"\n"
    );
    for (name, manifest) in manifests {
        sandbox
            .create_repo(name, &[("package.json", manifest)])
            .expect("repo");
        git(
            &dir.path().join(name),
            &["tag", "-a", "v1.0.0", "-m", "v1.0.0"],
        )
        .expect("tag");
        let deps = if name == "app" { "\"lib\"" } else { "" };
        config.push_str(&format!(
            "[[repo]]\nname = \"{name}\"\ndepends_on = [{deps}]\nmanifest = \"package.json\"\ntrigger = \"{trigger}\"\n"
        ));
    }
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    dir
}

fn publish(dir: &Path, extra: &[&str], fault: Option<Fault>) -> Output {
    orchestrator(dir, &["publish", "--bump", "patch"], extra, fault)
}

/// Per package: its tags on origin and the subjects of origin's `main`, newest first.
fn publish_state(dir: &Path) -> Vec<(String, String, String)> {
    ["lib", "app"]
        .iter()
        .map(|name| {
            let origin = dir.join("origins").join(format!("{name}.git"));
            let tags = git(&origin, &["tag", "--list"]).expect("tags");
            let log = git(&origin, &["log", "--format=%s", "main"]).expect("log");
            ((*name).to_owned(), tags, log)
        })
        .collect()
}

/// For every k in `kill_points`: a fresh case from `fixture` (a sandbox, and whatever else the
/// case needs, such as a mock forge), `run(case, Some(k))` (signalled at its k-th journal write,
/// unless the run writes fewer), then `resume(case)` when it stopped; the end `state` must equal
/// an uninterrupted run's. A SIGTERM must be handled: the run stops on its own, exit 1, saying
/// so. Returns how many points stopped the run (after checking, for SIGKILL, they are exactly
/// the first ones: later points let the run finish) and the uninterrupted run's state.
fn kill_everywhere<C, S: PartialEq + std::fmt::Debug + Sync>(
    signal: Sig,
    kill_points: std::ops::RangeInclusive<usize>,
    fixture: &(dyn Fn() -> C + Sync),
    run: &(dyn Fn(&C, Option<Fault>) -> Output + Sync),
    resume: &(dyn Fn(&C) -> Output + Sync),
    state: &(dyn Fn(&C) -> S + Sync),
) -> (usize, S) {
    let reference_case = fixture();
    let out = run(&reference_case, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = state(&reference_case);
    let results: Vec<(usize, bool, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = kill_points
            .map(|k| {
                let reference = &reference;
                scope.spawn(move || {
                    let case = fixture();
                    let first = run(&case, Some(Fault { at: k, signal }));
                    let killed = !first.status.success();
                    let stderr = String::from_utf8_lossy(&first.stderr);
                    if signal == Sig::Term
                        && killed
                        && (first.status.code() != Some(1)
                            || !stderr.contains("stopping on SIGTERM"))
                    {
                        let why = format!(
                            "write {k}: SIGTERM not handled: exit {:?}: {stderr}",
                            first.status
                        );
                        return (k, killed, why);
                    }
                    if killed {
                        let resumed = resume(&case);
                        if !resumed.status.success() {
                            let why = format!(
                                "write {k}: resume failed: {}{}",
                                String::from_utf8_lossy(&resumed.stderr),
                                String::from_utf8_lossy(&resumed.stdout)
                            );
                            return (k, killed, why);
                        }
                    }
                    let end = state(&case);
                    if &end != reference {
                        let why = format!("write {k}: {end:?} differs from {reference:?}");
                        return (k, killed, why);
                    }
                    (k, killed, String::new())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("case thread"))
            .collect()
    });
    let failures: Vec<&String> = results
        .iter()
        .map(|(_, _, e)| e)
        .filter(|e| !e.is_empty())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let killed = results.iter().filter(|(_, k, _)| *k).count();
    if signal == Sig::Kill {
        assert!(
            results.iter().all(|(k, was, _)| *was == (*k <= killed)),
            "{results:?}"
        );
    }
    (killed, reference)
}

#[test]
fn publish_killed_at_every_journal_write_then_resumed_publishes_each_package_once() {
    // Kill points beyond the last write simply finish: try more than a run writes.
    let (killed, _) = kill_everywhere(
        Sig::Kill,
        1..=36,
        &publish_fixture,
        &|dir, k| publish(dir.path(), &[], k),
        &|dir| publish(dir.path(), &["--resume"], None),
        &|dir| publish_state(dir.path()),
    );
    assert!(
        killed >= 20,
        "a two-package publish journals more than 20 writes ({killed})"
    );
    println!(
        "publish: {killed} of {killed} crash points converged; each package committed, tagged and pushed once"
    );
}

fn cascade(dir: &Path, args: &[&str], fault: Option<Fault>) -> Output {
    orchestrator(dir, &["cascade"], args, fault)
}

/// Per package: its origin tags with the date and HEAD's short sha made symbolic (fixtures are
/// made at different moments), and the subjects of origin's `main`.
fn nightly_state(dir: &Path) -> Vec<(String, Vec<String>, String)> {
    ["lib", "app"]
        .iter()
        .map(|name| {
            let origin = dir.join("origins").join(format!("{name}.git"));
            let head = git(&dir.join(name), &["rev-parse", "HEAD"]).expect("head");
            let tags = git(&origin, &["tag", "--list"])
                .expect("tags")
                .lines()
                .map(|t| match t.strip_prefix("nightly-") {
                    Some(rest)
                        if rest.len() > 9 && rest[..8].bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        format!("nightly-DATE-{}", rest[9..].replace(&head[..7], "HEAD"))
                    }
                    _ => t.to_owned(),
                })
                .collect();
            let log = git(&origin, &["log", "--format=%s", "main"]).expect("log");
            ((*name).to_owned(), tags, log)
        })
        .collect()
}

/// A nightly cascade killed at every journal write, then `cascade --resume` (no trigger given:
/// the recorded plan, tags included, is continued): each package is tagged once, at HEAD, and
/// nothing else changes.
#[test]
fn nightly_cascade_killed_at_every_journal_write_then_resumed_tags_each_package_once() {
    let (killed, _) = kill_everywhere(
        Sig::Kill,
        1..=24,
        &publish_fixture,
        &|dir, k| cascade(dir.path(), &["--from", "lib", "--nightly"], k),
        &|dir| cascade(dir.path(), &["--resume"], None),
        &|dir| nightly_state(dir.path()),
    );
    assert!(
        killed >= 12,
        "a two-package nightly journals more than 12 writes ({killed})"
    );
    println!(
        "nightly cascade: {killed} of {killed} crash points converged; each package tagged once"
    );
}

/// `cascade --resume` with nothing to resume and no trigger is refused, changing nothing; with
/// a trigger naming other repos than the unfinished cascade, or of the other kind (nightly or
/// not), too.
#[test]
fn cascade_resume_refuses_what_it_cannot_continue() {
    let dir = publish_fixture();
    let out = cascade(dir.path(), &["--resume"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no unfinished cascade to resume"), "{err}");
    // Killed after its first write: an unfinished cascade of lib and app.
    let first = cascade(
        dir.path(),
        &["--from", "lib", "--nightly"],
        Some(Fault::kill(3)),
    );
    assert!(!first.status.success());
    let out = cascade(dir.path(), &["--from", "app", "--resume"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("covers lib, app, not the cascade from app"),
        "{err}"
    );
    // An event asking for a release does not finish a nightly instead.
    let out = cascade(dir.path(), &["--from", "lib", "--resume"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is a nightly; add --nightly to finish it"),
        "{err}"
    );
    let out = cascade(
        dir.path(),
        &["--from", "lib", "--nightly", "--resume"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        nightly_state(dir.path())
            .iter()
            .all(|(_, tags, _)| tags == &["nightly-DATE-HEAD"])
    );
}

/// A pipeline of three commands around two built-in steps. Each command appends its name to
/// `log`; `set` and `copy` edit files in place.
fn pipeline_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("settings.env"), "ISSUER=staging\nREGION=eu\n").expect("env");
    std::fs::write(root.join("template.yaml"), "mode: prod\n").expect("template");
    let log = root.join("log");
    let command = |name: &str| {
        format!(
            "[[pipeline.p.apply]]\nname = \"{name}\"\nrun = [\"/bin/sh\", \"-c\", \"echo {name} >> '{}'\"]\n",
            log.display()
        )
    };
    let config = format!(
        "{}[[pipeline.p.apply]]\nset = {{ file = \"settings.env\", key = \"ISSUER\", value = \"prod\" }}\n{}\
         [[pipeline.p.apply]]\ncopy = {{ from = \"template.yaml\", to = \"mode.yaml\" }}\n{}",
        command("first"),
        command("second"),
        command("third"),
    );
    std::fs::write(root.join("orchestrator.toml"), config).expect("config");
    dir
}

fn pipeline(dir: &Path, extra: &[&str], fault: Option<Fault>) -> Output {
    orchestrator(dir, &["run", "p"], extra, fault)
}

/// The commands that ran, in order with a repeat folded; whether at most one command ran twice;
/// the steps the journal shows started again after they had finished (none may be: only the
/// step in flight at the kill may run twice); and the files the built-ins edit.
fn pipeline_state(dir: &Path) -> (Vec<String>, bool, Vec<String>, String, String) {
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    let mut ran: Vec<String> = Vec::new();
    let mut repeats = 0;
    for line in log.lines() {
        if ran.last().is_some_and(|last| last == line) {
            repeats += 1;
        } else {
            ran.push(line.to_owned());
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir)
        .env_remove(KILL_AT)
        .args(["--output", "json", "runs", "show", "1"])
        .output()
        .expect("runs show");
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the run as JSON");
    let mut finished = std::collections::BTreeSet::new();
    let mut restarted = Vec::new();
    for record in shown["journal"].as_array().into_iter().flatten() {
        let step = record["entry"]["step"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match record["entry"]["event"].as_str() {
            Some("step_succeeded" | "step_already_done") => {
                finished.insert(step);
            }
            Some("step_started") if finished.contains(&step) => restarted.push(step),
            _ => {}
        }
    }
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    (
        ran,
        repeats <= 1,
        restarted,
        read("settings.env"),
        read("mode.yaml"),
    )
}

/// `run` killed at every journal write, then `run --resume`: every step ends done, in order; a
/// step journaled as done never runs again; only the command that was running when the process
/// died may run a second time (a command's effect cannot be checked from outside, so the journal
/// decides: at-least-once for that one step, exactly-once for the rest and for built-ins).
#[test]
fn pipeline_killed_at_every_journal_write_then_resumed_runs_each_step_once_but_the_one_in_flight() {
    let (killed, _) = kill_everywhere(
        Sig::Kill,
        1..=16,
        &pipeline_fixture,
        &|dir, k| pipeline(dir.path(), &[], k),
        &|dir| pipeline(dir.path(), &["--resume"], None),
        &|dir| pipeline_state(dir.path()),
    );
    assert!(
        killed >= 8,
        "a five-step pipeline journals more than 8 writes ({killed})"
    );
    println!(
        "run: {killed} of {killed} crash points converged; no step re-ran but the one in flight"
    );
}

/// A dispatch-triggered publish case: the sandbox and a `mock-forge` process serving it, whose
/// workflow runs answer the dispatches and whose stats count them across the kill and the resume.
struct DispatchCase {
    dir: tempfile::TempDir,
    mock: MockForge,
}

fn dispatch_case() -> DispatchCase {
    let dir = publish_fixture_with("", "workflow");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir.path())
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove(KILL_AT)
        .arg("mock-forge")
        .arg("--origins")
        .arg(dir.path().join("origins"))
        .args(["--ci-delay-ms", "30", "--asset-interval-ms", "10"]);
    let mock = MockForge::spawn(cmd);
    DispatchCase { dir, mock }
}

/// [`publish_state`], and how many workflow dispatches the forge received.
fn dispatch_state(case: &DispatchCase) -> (Vec<(String, String, String)>, u64) {
    let dispatches = case
        .mock
        .stats()
        .pointer("/by_route/POST ~1repos~1{owner}~1{repo}~1actions~1workflows~1{workflow_id}~1dispatches/requests")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    (publish_state(case.dir.path()), dispatches)
}

/// A dispatch-triggered publish over HTTP (`trigger = "workflow"`, the correlation id in the run's
/// title) killed at every journal write, then `--resume`: each package committed, tagged and
/// pushed once, and **dispatched once**: a resumed trigger finds the run its first attempt
/// started by the correlation id instead of dispatching again.
#[test]
fn dispatched_publish_killed_at_every_journal_write_then_resumed_dispatches_each_package_once() {
    let publish_over_http = |case: &DispatchCase, extra: &[&str], k| {
        let url = case.mock.url.clone();
        let args: Vec<&str> = ["--forge-url", url.as_str()]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        publish(case.dir.path(), &args, k)
    };
    let (killed, (_, dispatches)) = kill_everywhere(
        Sig::Kill,
        1..=36,
        &dispatch_case,
        &|case, k| publish_over_http(case, &[], k),
        &|case| publish_over_http(case, &["--resume"], None),
        &dispatch_state,
    );
    assert!(
        killed >= 20,
        "a two-package publish journals more than 20 writes ({killed})"
    );
    assert_eq!(
        dispatches, 2,
        "one dispatch per package, counted by the mock"
    );
    println!(
        "dispatched publish: {killed} of {killed} crash points converged; 0 duplicate dispatches"
    );
}

/// A nightly task list: `seo` succeeds, `scale` is gated off (recorded as skipped), `dx` proposes
/// and awaits approval (printing the token, which must stay redacted), `review` succeeds. Each
/// command appends its name to `ran.log`.
fn tasks_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let log = root.join("ran.log");
    let task = |name: &str, body: &str, extra: &str| {
        format!(
            "[[tasks.nightly]]\nname = \"{name}\"\nrun = [\"/bin/sh\", \"-c\", \"echo {name} >> '{}'; {body}\"]\n{extra}",
            log.display()
        )
    };
    let config = [
        task("seo", "echo succeeded", ""),
        task("scale", "true", "enabled = \"ENABLE_INFRA_SCALE=1\"\n"),
        task(
            "dx",
            "echo using token $GITHUB_TOKEN; echo outputs_uri=https://github.com/o/r/pull/7; echo awaiting_approval",
            "",
        ),
        task("review", "true", ""),
    ]
    .concat();
    std::fs::write(root.join("orchestrator.toml"), config).expect("config");
    dir
}

fn tasks(dir: &Path, extra: &[&str], fault: Option<Fault>) -> Output {
    orchestrator(dir, &["tasks", "run", "nightly"], extra, fault)
}

/// The commands that ran, in order; each run's status and its tasks' current records (task,
/// status, outputs_uri); whether the token reached the state database.
type TasksState = (Vec<String>, Vec<(String, Vec<String>)>, bool);

fn tasks_state(dir: &Path) -> TasksState {
    let ran = std::fs::read_to_string(dir.join("ran.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir)
        .args(["--output", "json", "runs", "list"])
        .output()
        .expect("runs list");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let runs = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            let records = r["tasks"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .map(|t| format!("{} {} {}", t["task"], t["status"], t["outputs_uri"]))
                        .collect()
                })
                .unwrap_or_default();
            (r["status"].as_str().unwrap_or_default().to_owned(), records)
        })
        .collect();
    let db = std::fs::read(dir.join(".orchestrator/state.db")).unwrap_or_default();
    let leaked = db.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes());
    (ran, runs, leaked)
}

/// `tasks run` killed at every journal write, then `tasks run --resume`: one run, succeeded,
/// with the same records as an uninterrupted run, and every task ran exactly once: a task whose
/// record was stored before the kill is done even when the journal never said so.
#[test]
fn tasks_killed_at_every_journal_write_then_resumed_run_each_task_once() {
    let (killed, _) = kill_everywhere(
        Sig::Kill,
        1..=12,
        &tasks_fixture,
        &|dir, k| tasks(dir.path(), &[], k),
        &|dir| tasks(dir.path(), &["--resume"], None),
        &|dir| tasks_state(dir.path()),
    );
    assert_eq!(
        killed, 9,
        "four tasks journal a start and an end each, then the run's end"
    );
    println!("tasks: {killed} of {killed} crash points converged; every task ran exactly once");
}

/// A token the forge rejects stops `publish` before anything changes (exit 2, one line naming
/// the variables), not after the first package's commit, tag and push.
#[test]
fn a_rejected_token_stops_publish_before_anything_changes() {
    let dir = publish_fixture_with("", "tag");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir.path())
        .env("GITHUB_TOKEN", "ghp_the_only_token_the_mock_accepts")
        .arg("mock-forge")
        .arg("--require-token")
        .arg("--origins")
        .arg(dir.path().join("origins"));
    let mock = MockForge::spawn(cmd);
    let before = publish_state(dir.path());
    let out = publish(dir.path(), &["--forge-url", &mock.url], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert!(
        errors.len() == 1 && errors[0].contains("GITHUB_TOKEN"),
        "{stderr}"
    );
    assert_eq!(
        publish_state(dir.path()),
        before,
        "nothing committed, tagged or pushed"
    );
}

/// A publish started while another is unfinished is refused (exit 2) naming it, with both ways
/// out: finish it, or give it up.
#[test]
fn a_new_publish_over_an_unfinished_one_says_so() {
    let dir = publish_fixture();
    assert!(
        !publish(dir.path(), &[], Some(Fault::kill(3)))
            .status
            .success(),
        "killed"
    );
    let out = publish(dir.path(), &[], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("publish run 1 (")
            && stderr.contains("is interrupted")
            && stderr.contains("`publish --resume` finishes it")
            && stderr.contains("`publish --abandon 1` gives it up"),
        "{stderr}"
    );
}

/// The release sent SIGTERM at every journal write (including while it waits for assets): it
/// stops itself (exit 1, the running steps journaled as interrupted), and `--resume` converges
/// on the uninterrupted run's tags, none made or pushed twice.
#[test]
fn release_sigterm_at_every_journal_write_then_resume_converges() {
    let (stopped, _) = kill_everywhere(
        Sig::Term,
        1..=19,
        &fixture,
        &|dir, k| release(dir.path(), &[], k),
        &|dir| release(dir.path(), &["--resume"], None),
        &|dir| end_state(dir.path()),
    );
    assert!(stopped >= 10, "SIGTERM stopped {stopped} of 19 runs");
    println!("release: SIGTERM at 19 journal writes: {stopped} stopped runs converged on resume");
}

/// `publish` sent SIGTERM at every journal write, then `--resume`: each package committed,
/// tagged and pushed once.
#[test]
fn publish_sigterm_at_every_journal_write_then_resumed_publishes_each_package_once() {
    let (stopped, _) = kill_everywhere(
        Sig::Term,
        1..=36,
        &publish_fixture,
        &|dir, k| publish(dir.path(), &[], k),
        &|dir| publish(dir.path(), &["--resume"], None),
        &|dir| publish_state(dir.path()),
    );
    assert!(stopped >= 15, "SIGTERM stopped {stopped} of 36 runs");
    println!("publish: SIGTERM at 36 journal writes: {stopped} stopped runs converged on resume");
}

/// `run` sent SIGTERM at every journal write, then `--resume`: every step done once, in order;
/// a step whose start was being journaled when the signal came is not begun.
#[test]
fn pipeline_sigterm_at_every_journal_write_then_resumed_runs_each_step_once() {
    let (stopped, _) = kill_everywhere(
        Sig::Term,
        1..=16,
        &pipeline_fixture,
        &|dir, k| pipeline(dir.path(), &[], k),
        &|dir| pipeline(dir.path(), &["--resume"], None),
        &|dir| pipeline_state(dir.path()),
    );
    assert!(stopped >= 5, "SIGTERM stopped {stopped} of 16 runs");
    println!("run: SIGTERM at 16 journal writes: {stopped} stopped runs converged on resume");
}

/// `tasks run` sent SIGTERM at every journal write, then `--resume`: every task ran exactly
/// once and the records equal an uninterrupted run's.
#[test]
fn tasks_sigterm_at_every_journal_write_then_resumed_run_each_task_once() {
    let (stopped, _) = kill_everywhere(
        Sig::Term,
        1..=12,
        &tasks_fixture,
        &|dir, k| tasks(dir.path(), &[], k),
        &|dir| tasks(dir.path(), &["--resume"], None),
        &|dir| tasks_state(dir.path()),
    );
    assert!(stopped >= 4, "SIGTERM stopped {stopped} of 12 runs");
    println!("tasks: SIGTERM at 12 journal writes: {stopped} stopped runs converged on resume");
}

/// Whether process `pid` is gone (a zombie nobody reaped counts as gone: it runs nothing).
fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// A SIGTERM sent to `orchestrator run` (as a CI runner, systemd or Kubernetes does) while a
/// step runs a long command with a background grandchild: the run stops promptly, exit 1, the
/// journal records the step as interrupted, neither process is left running, and `--resume`
/// runs the step again (alone: nothing of the first attempt is left beside it).
#[test]
fn sigterm_stops_the_running_step_journals_it_and_leaves_no_orphan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let script = "if [ -e pid ]; then echo resumed >> log; \
                  else sleep 300 & echo $! > grandchild; echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 300; fi";
    let config =
        format!("[[pipeline.p.apply]]\nname = \"slow\"\nrun = [\"/bin/sh\", \"-c\", {script:?}]\n");
    std::fs::write(root.join("orchestrator.toml"), config).expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(root)
        .env_remove(KILL_AT)
        .args(["run", "p"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    while !root.join("pid").exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the step never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let step_pid = std::fs::read_to_string(root.join("pid")).expect("pid");
    let grandchild = std::fs::read_to_string(root.join("grandchild")).expect("grandchild");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let signalled = std::time::Instant::now();
    let out = loop {
        if child.try_wait().expect("try_wait").is_some() {
            break child.wait_with_output().expect("output");
        }
        if signalled.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the run did not stop on SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopping on SIGTERM"), "{stderr}");
    assert!(stderr.contains("was interrupted"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(
        process_gone(&step_pid),
        "the step's process {step_pid} lives on"
    );
    assert!(
        process_gone(&grandchild),
        "its background child {grandchild} lives on"
    );
    let shown = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(root)
        .args(["--output", "json", "runs", "show", "1"])
        .output()
        .expect("runs show");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    let events: Vec<&str> = shown["journal"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["entry"]["event"].as_str())
        .collect();
    assert!(events.contains(&"step_interrupted"), "{events:?}");
    let resumed = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(root)
        .args(["run", "p", "--resume"])
        .output()
        .expect("resume");
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(root.join("log")).expect("log"),
        "resumed\n"
    );
}

/// The lock a killed run left is taken over with a note; the note says the journal is intact
/// only while the state database is there.
#[test]
fn the_takeover_note_tells_the_truth_about_the_journal() {
    let dir = fixture();
    assert!(
        !release(dir.path(), &[], Some(Fault::kill(3)))
            .status
            .success()
    );
    let out = release(dir.path(), &["--resume"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("its journal is intact"), "{stderr}");
    let dir = fixture();
    assert!(
        !release(dir.path(), &[], Some(Fault::kill(3)))
            .status
            .success()
    );
    for file in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(".orchestrator").join(file));
    }
    let out = release(dir.path(), &["--resume"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("journal is intact"), "{stderr}");
    assert!(stderr.contains("its state database is gone"), "{stderr}");
}
