//! The `orchestrator` binary end to end: real git sandboxes, the simulated forge, exit codes,
//! help snapshots, a real SIGKILL and `--resume`, and no token in any output.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use orchestrator_git::sandbox::{Sandbox, git};

/// Set for every invocation; no test output may contain it.
const TOKEN: &str = "ghp_TESTTOKENdoNotPrint0123456789";

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.env("GITHUB_TOKEN", TOKEN)
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("ORCHESTRATOR_CONFIG")
        .env_remove("ORCHESTRATOR_OUTPUT")
        .env_remove("ORCHESTRATOR_STATE_DIR")
        .env_remove("ORCHESTRATOR_LOG");
    cmd
}

/// Runs and checks the universal rule: the token never appears.
fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sandbox repos `a`, `b` (after a), `c`, and a config on the simulated forge.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(ci_delay: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        for name in ["a", "b", "c"] {
            sandbox
                .create_repo(name, &[("README.md", name)])
                .expect("repo");
        }
        let config = format!(
            "[forge]\nowner = \"acme\"\n[forge.simulate]\nci_delay = \"{ci_delay}\"\nasset_interval = \"20ms\"\n\
             [release]\npoll_interval = \"20ms\"\ntimeout = \"30s\"\n\
             [[repo]]\nname = \"a\"\nassets = [\"a-v{{version}}.tar.gz\"]\n\
             [[repo]]\nname = \"b\"\ndepends_on = [\"a\"]\nassets = [\"b-v{{version}}.tar.gz\", \"b-*.sha256\"]\n\
             [[repo]]\nname = \"c\"\n"
        );
        std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = bin();
        cmd.current_dir(self.path()).args(args);
        cmd
    }

    fn origin_tags(&self, name: &str) -> Vec<String> {
        let origin: PathBuf = self.path().join("origins").join(format!("{name}.git"));
        git(&origin, &["tag", "--list"])
            .expect("git tag")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn no_tags_anywhere(&self) {
        for name in ["a", "b", "c"] {
            assert!(self.origin_tags(name).is_empty(), "{name} origin untouched");
            assert_eq!(
                git(&self.path().join(name), &["tag", "--list"]).expect("git tag"),
                "",
                "{name} clone untouched"
            );
        }
    }
}

#[test]
fn help_is_stable() {
    let out = run(bin().arg("--help"));
    assert!(out.status.success());
    insta::assert_snapshot!("help", text(&out.stdout));
    let out = run(bin().args(["release", "--help"]));
    assert!(out.status.success());
    insta::assert_snapshot!("release_help", text(&out.stdout));
}

#[test]
fn release_runs_end_to_end_with_json_output() {
    let fx = Fixture::new("50ms");
    let out = run(&mut fx.cmd(&["--output", "json", "release", "--version", "v1.2.3"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["tag"], "v1.2.3");
    let repos = report["repos"].as_array().expect("repos");
    assert_eq!(
        repos
            .iter()
            .map(|r| r["name"].as_str().expect("name"))
            .collect::<Vec<_>>(),
        vec!["a", "c", "b"]
    );
    assert!(repos.iter().all(|r| r["outcome"] == "released"));
    assert_eq!(
        repos[2]["assets"].as_object().expect("assets").len(),
        2,
        "b's glob matched"
    );
    for name in ["a", "b", "c"] {
        assert_eq!(fx.origin_tags(name), vec!["v1.2.3"]);
    }
    // The run is in the history.
    let out = run(&mut fx.cmd(&["runs"]));
    assert!(
        text(&out.stdout).contains("release  1.2.3  succeeded"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let fx = Fixture::new("50ms");
    let out = run(&mut fx.cmd(&["release", "--version", "2.0.0", "--dry-run"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(
        plan.contains("release 2.0.0 (tag v2.0.0): 3 repo(s) in 2 wave(s)"),
        "{plan}"
    );
    assert!(plan.contains("after: a"), "{plan}");
    assert!(plan.contains("dry run: nothing was changed"), "{plan}");
    fx.no_tags_anywhere();
    assert!(
        !fx.path().join(".orchestrator").exists(),
        "no state created"
    );
    // Works without a token too.
    let out = run(fx
        .cmd(&["release", "--version", "2.0.0", "--dry-run"])
        .env_remove("GITHUB_TOKEN"));
    assert!(out.status.success());
}

#[test]
fn bad_input_exits_2_with_one_clear_line_and_changes_nothing() {
    let fx = Fixture::new("50ms");
    let cases: &[(&[&str], &str)] = &[
        (&["release", "--version", "1.2"], "invalid version \"1.2\""),
        (
            &["release", "--version", "1.0.0", "--only", "a,zz"],
            "unknown repo \"zz\" in --only (configured: a, b, c)",
        ),
        (
            &["release", "--version", "1.0.0", "--concurrency", "0"],
            "--concurrency",
        ),
        (
            &["--config", "missing.toml", "release", "--version", "1.0.0"],
            "missing.toml: cannot read",
        ),
    ];
    for (args, expected) in cases {
        let out = run(&mut fx.cmd(args));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let configs = [
        (
            "[[repo]]\nname = \"a\"\ngithub = \"acme/a\"\ndepends_on = [\"b\"]\n[[repo]]\nname = \"b\"\ngithub = \"acme/b\"\ndepends_on = [\"a\"]\n",
            "dependency cycle: a -> b -> a",
        ),
        (
            "[release]\npoll = \"1s\"\n",
            "bad.toml:2: `poll`: unknown field `poll`",
        ),
        ("[release\n", "bad.toml:1"),
        (
            "[forge]\nowner = \"acme\"\n[[repo]]\nname = \"ghost\"\n",
            "ghost: clone not found at",
        ),
    ];
    for (config, expected) in configs {
        std::fs::write(fx.path().join("bad.toml"), config).expect("write");
        let out = run(&mut fx.cmd(&["--config", "bad.toml", "release", "--version", "1.0.0"]));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{config}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{config}: {stderr}");
    }
    fx.no_tags_anywhere();
}

#[test]
fn a_second_run_is_refused_while_one_holds_the_lock() {
    let fx = Fixture::new("3s");
    let mut first = fx
        .cmd(&["release", "--version", "1.0.0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(first.stderr.take().expect("stderr")).lines();
    // Once it is waiting, it holds the lock.
    for line in lines.by_ref() {
        if line.expect("line").contains("wait:a") {
            break;
        }
    }
    let out = run(&mut fx.cmd(&["release", "--version", "1.0.1"]));
    first.kill().expect("kill");
    let _ = first.wait();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("another orchestrator run holds the lock"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("release 1.0.0"),
        "names the holder: {}",
        text(&out.stderr)
    );
}

#[test]
fn sigkill_during_a_wait_then_resume_finishes_with_each_tag_once() {
    let fx = Fixture::new("1500ms");
    let mut first = fx
        .cmd(&["release", "--version", "3.1.0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(first.stderr.take().expect("stderr")).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("wait:a") && line.contains("waiting for") {
            break;
        }
    }
    first.kill().expect("SIGKILL");
    let status = first.wait().expect("reaped");
    assert!(!status.success(), "killed, not finished:\n{seen}");
    assert!(fx.origin_tags("b").is_empty(), "b had not started");
    // Without --resume the pushed tags stop it.
    let out = run(&mut fx.cmd(&["release", "--version", "3.1.0"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already exists on origin"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&mut fx.cmd(&[
        "--output",
        "json",
        "release",
        "--version",
        "3.1.0",
        "--resume",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["run_id"], 1, "the interrupted run was continued");
    for name in ["a", "b", "c"] {
        assert_eq!(fx.origin_tags(name), vec!["v3.1.0"], "{name}");
    }
}

#[test]
fn completions_are_printed() {
    let out = run(bin().args(["completions", "bash"]));
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("release-iso"));
}

#[test]
fn config_check_lists_repos_pipelines_and_task_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "[forge]\nowner = \"acme\"\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"b\"\ndepends_on = [\"a\"]\n\
                  [pipeline.p]\n[[pipeline.p.apply]]\nrun = [\"true\"]\n[[pipeline.p.delete]]\nrun = [\"true\"]\n\
                  [[tasks.nightly]]\nname = \"x\"\nrun = [\"true\"]\n";
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    let out = run(bin().current_dir(dir.path()).args(["config", "check"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("ok, 2 repo(s)"), "{shown}");
    assert!(
        shown.contains("wave 1: a") && shown.contains("wave 2: b"),
        "{shown}"
    );
    assert!(
        shown.contains("pipeline p: 1 apply step(s), 1 delete step(s)"),
        "{shown}"
    );
    assert!(shown.contains("task list nightly: 1 task(s)"), "{shown}");
    assert!(
        !dir.path().join(".orchestrator").exists(),
        "a check touches nothing"
    );
}

/// Parses stdout as exactly one JSON document (serde_json refuses trailing text).
fn one_json_document(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", text(&out.stdout)))
}

#[test]
fn output_json_is_one_document_from_graph_ci_snippet_and_ci_workflows() {
    let fx = Fixture::new("20ms");
    let human = run(&mut fx.cmd(&["graph"]));
    let doc = one_json_document(&run(&mut fx.cmd(&["--output", "json", "graph"])));
    assert_eq!(doc["format"], "mermaid");
    assert_eq!(
        doc["graph"],
        text(&human.stdout),
        "the same graph, inside the document"
    );

    let args = ["ci-snippet", "a", "--orchestrator-repo", "acme/ops"];
    let human = run(&mut fx.cmd(&args));
    let doc = one_json_document(&run(fx.cmd(&args).env("ORCHESTRATOR_OUTPUT", "json")));
    assert_eq!(doc["repo"], "a");
    assert_eq!(doc["snippet"], text(&human.stdout));

    let sha = "0".repeat(64);
    let doc = one_json_document(&run(&mut fx.cmd(&[
        "--output",
        "json",
        "scale",
        "ci-workflows",
        "--orchestrator-sha256",
        &sha,
    ])));
    assert_eq!(doc["workflows"][0]["name"], "plan-commands.yml", "{doc}");
    assert!(doc["workflows"][0]["path"].is_null());
    assert!(
        doc["workflows"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("pr-command")),
        "{doc}"
    );
    let doc = one_json_document(&run(&mut fx.cmd(&[
        "--output",
        "json",
        "scale",
        "ci-workflows",
        "--orchestrator-sha256",
        &sha,
        "--dir",
        "wf",
    ])));
    assert_eq!(doc["workflows"][0]["path"], "wf/plan-commands.yml");
    assert!(fx.path().join("wf/plan-commands.yml").is_file());
}

#[test]
fn mock_forge_first_line_is_json_with_output_json_and_it_finds_the_config() {
    let fx = Fixture::new("20ms");
    let empty = tempfile::tempdir().expect("tempdir");
    for (cwd, has_config) in [(fx.path(), true), (empty.path(), false)] {
        let mut child = bin()
            .current_dir(cwd)
            .args(["--output", "json", "mock-forge", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mock-forge starts");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .expect("the first line");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let out = child.wait_with_output().expect("it stops");
        let doc: serde_json::Value = serde_json::from_str(&first).expect("a JSON first line");
        assert!(
            doc["listening_on"]
                .as_str()
                .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
            "{doc}"
        );
        let stderr = text(&out.stderr);
        assert_eq!(
            stderr.contains("no orchestrator.toml here"),
            !has_config,
            "{stderr}"
        );
        if has_config {
            assert!(stderr.contains("from the config's clones"), "{stderr}");
        }
    }
}

/// A config on a forge that refuses connections: `status` warns (no token, retries), then fails.
fn unreachable_forge() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "a"]).expect("git init");
    std::fs::write(
        dir.path().join("orchestrator.toml"),
        "[forge]\nowner = \"acme\"\n[[repo]]\nname = \"a\"\n",
    )
    .expect("config");
    dir
}

fn status_stderr(dir: &Path, flags: &[&str]) -> String {
    let out = run(bin()
        .current_dir(dir)
        .args(flags)
        .args(["--forge-url", "http://127.0.0.1:1", "status"])
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("NO_COLOR"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn no_escape_codes_unless_asked_and_quiet_leaves_only_errors() {
    let dir = unreachable_forge();
    let piped = status_stderr(dir.path(), &[]);
    assert!(piped.contains("WARN"), "{piped}");
    assert!(
        !piped.contains('\u{1b}'),
        "escape codes into a pipe: {piped:?}"
    );
    let forced = status_stderr(dir.path(), &["--color", "always"]);
    assert!(forced.contains("\u{1b}[33m"), "{forced:?}");
    let never = status_stderr(dir.path(), &["--color", "never"]);
    assert!(!never.contains('\u{1b}'), "{never:?}");

    let quiet = status_stderr(dir.path(), &["-q"]);
    assert!(!quiet.is_empty());
    for line in quiet.lines() {
        assert!(line.starts_with("error: "), "not an error under -q: {line}");
    }
}

#[test]
fn orchestrator_config_names_the_config_file() {
    let fx = Fixture::new("20ms");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = run(bin()
        .current_dir(elsewhere.path())
        .args(["config", "check"])
        .env("ORCHESTRATOR_CONFIG", fx.path().join("orchestrator.toml")));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains('b'), "{}", text(&out.stdout));
}

#[test]
fn release_writes_its_key_results_to_github_output_and_step_summary() {
    let fx = Fixture::new("20ms");
    let outputs = fx.path().join("github_output");
    let summary = fx.path().join("step_summary");
    let out = run(fx
        .cmd(&["release", "--version", "1.0.0"])
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&outputs).expect("GITHUB_OUTPUT");
    for line in [
        "status=succeeded",
        "run_id=1",
        "tag=v1.0.0",
        "released=a,c,b",
        "failed=",
    ] {
        assert!(written.lines().any(|l| l == line), "{line} in {written}");
    }
    let summary = std::fs::read_to_string(&summary).expect("GITHUB_STEP_SUMMARY");
    assert!(
        summary.contains("## release v1.0.0: succeeded (run 1)"),
        "{summary}"
    );
    assert!(summary.contains("| b | released |"), "{summary}");
}
