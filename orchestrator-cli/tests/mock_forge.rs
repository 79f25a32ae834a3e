//! End to end over HTTP: `orchestrator mock-forge` as a process watching the bare origins of
//! real git sandbox repos, and `orchestrator release --forge-url` as a process releasing through
//! the GitHub adapter. Faults, rate-limit bursts, 304s, large releases, a bad token, and the demo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use orchestrator_git::sandbox::{Sandbox, git};

mod common;
use common::MockForge;

/// Set for every invocation; no output may contain it.
const TOKEN: &str = "ghp_TESTTOKENdoNotPrint0123456789";

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.env("GITHUB_TOKEN", TOKEN)
        .env_remove("GH_TOKEN")
        .env_remove("ORCHESTRATOR_FORGE_URL")
        .env_remove("ORCHESTRATOR_LOG");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and checks the universal rule: the token never appears.
fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    out
}

/// Repos `a`, `b` (after a) and `big` (150 assets), real clones with bare origins whose
/// `update` hook logs every ref update, and a config with no `[forge.simulate]`.
struct Fixture {
    dir: tempfile::TempDir,
}

const REPOS: [&str; 3] = ["a", "b", "big"];

impl Fixture {
    fn new(stable_polls: u32) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        for name in REPOS {
            let repo = sandbox
                .create_repo(name, &[("README.md", name)])
                .expect("repo");
            let hook = repo.origin.join("hooks/update");
            std::fs::write(
                &hook,
                "#!/bin/sh\necho \"$1\" >> \"$GIT_DIR/ref-updates.log\"\n",
            )
            .expect("hook");
            make_executable(&hook);
        }
        let big: Vec<String> = (0..150)
            .map(|i| format!("\"big-{i:03}-v{{version}}.bin\""))
            .collect();
        let config = format!(
            "[forge]\nowner = \"acme\"\n\
             [release]\npoll_interval = \"20ms\"\ntimeout = \"60s\"\nstable_polls = {stable_polls}\n\
             [[repo]]\nname = \"a\"\nassets = [\"a-v{{version}}.tar.gz\"]\n\
             [[repo]]\nname = \"b\"\ndepends_on = [\"a\"]\nassets = [\"b-v{{version}}.tar.gz\", \"b-*.sha256\"]\n\
             [[repo]]\nname = \"big\"\nassets = [{}]\n",
            big.join(", ")
        );
        std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("orchestrator.toml")
    }

    fn origins(&self) -> PathBuf {
        self.path().join("origins")
    }

    /// `orchestrator mock-forge` watching this fixture, with extra flags.
    fn mock_forge(&self, extra: &[&str]) -> MockForge {
        self.mock_forge_with("10", extra)
    }

    /// [`Fixture::mock_forge`] with this `--asset-interval-ms`.
    fn mock_forge_with(&self, asset_interval_ms: &str, extra: &[&str]) -> MockForge {
        let mut cmd = bin();
        cmd.current_dir(self.path())
            .arg("--config")
            .arg(self.config())
            .arg("mock-forge")
            .arg("--origins")
            .arg(self.origins())
            .args([
                "--ci-delay-ms",
                "100",
                "--asset-interval-ms",
                asset_interval_ms,
            ])
            .args(extra);
        MockForge::spawn(cmd)
    }

    fn release(&self, url: &str, version: &str) -> Output {
        run(bin().current_dir(self.path()).args([
            "--output",
            "json",
            "release",
            "--version",
            version,
            "--forge-url",
            url,
        ]))
    }

    fn origin_tags(&self, name: &str) -> Vec<String> {
        let origin = self.origins().join(format!("{name}.git"));
        git(&origin, &["tag", "--list"])
            .expect("git tag")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Ref updates the origin's `update` hook saw.
    fn ref_updates(&self, name: &str) -> Vec<String> {
        let log = self.origins().join(format!("{name}.git/ref-updates.log"));
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}

fn report(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn u64_at(v: &serde_json::Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

#[test]
fn release_over_http_against_a_mock_forge_process() {
    let fx = Fixture::new(1);
    let mock = fx.mock_forge(&[]);
    let report = report(&fx.release(&mock.url, "1.2.3"));
    assert_eq!(report["status"], "succeeded");
    let repos = report["repos"].as_array().expect("repos");
    assert!(repos.iter().all(|r| r["outcome"] == "released"), "{report}");
    let assets = |name: &str| {
        repos
            .iter()
            .find(|r| r["name"] == name)
            .and_then(|r| r["assets"].as_object())
            .map_or(0, serde_json::Map::len)
    };
    assert_eq!(assets("a"), 1);
    assert_eq!(assets("b"), 2, "b's glob matched the concrete name");
    assert_eq!(
        assets("big"),
        150,
        "a release with more than 100 assets, whole"
    );
    assert!(
        repos.iter().all(|r| r["release_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&mock.url))),
        "{report}"
    );
    // a waited for its CI: the mock publishes nothing until 100 ms after it sees a tag, so the
    // wait's first poll found no release yet (a 404 for acme/a). Asserted on what the mock
    // answered rather than on elapsed time, which a loaded machine stretches either way.
    let a_waited = repos[0]["waited_secs"].as_f64().expect("secs");
    assert!(a_waited > 0.0, "a waited for CI: {a_waited}");
    for name in REPOS {
        assert_eq!(fx.origin_tags(name), ["v1.2.3"], "{name}");
        assert_eq!(fx.ref_updates(name), ["refs/tags/v1.2.3"], "{name}");
    }
    let stats = mock.stats();
    assert!(
        u64_at(&stats["by_repo"]["acme/a"], "/by_status/404") >= 1,
        "a's first poll found no release yet: {stats}"
    );
    assert_eq!(
        u64_at(&stats, "/requests"),
        u64_at(&report, "/forge_requests/requests"),
        "the mock saw every request the adapter counted: {stats}"
    );
    let (status, stderr) = mock.stop(TOKEN);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("mock-forge: stopped after"), "{stderr}");
}

#[test]
fn faults_and_a_rate_limit_burst_do_not_stop_a_release_and_no_tag_is_pushed_twice() {
    let fx = Fixture::new(1);
    let mock = fx.mock_forge(&[
        "--fault-rate",
        "0.2",
        "--seed",
        "7",
        "--rate-limit",
        "6",
        "--rate-limit-window-ms",
        "1000",
    ]);
    let report = report(&fx.release(&mock.url, "2.0.0"));
    assert_eq!(report["status"], "succeeded", "{report}");
    for name in REPOS {
        assert_eq!(fx.origin_tags(name), ["v2.0.0"], "{name}");
        assert_eq!(
            fx.ref_updates(name),
            ["refs/tags/v2.0.0"],
            "pushed once: {name}"
        );
    }
    let stats = mock.stats();
    let faults =
        u64_at(&stats, "/faults/server_errors") + u64_at(&stats, "/faults/connection_resets");
    let limited = u64_at(&stats, "/faults/rate_limit_rejections");
    let retries = u64_at(&report, "/forge_requests/retries");
    let repo_retries: u64 = report["repos"]
        .as_array()
        .expect("repos")
        .iter()
        .map(|r| r["retries"].as_u64().expect("per-repo retries"))
        .sum();
    eprintln!(
        "faults {faults}, rate-limit rejections {limited}, adapter retries {retries}, wait-loop retries {repo_retries}, requests {}",
        u64_at(&stats, "/requests")
    );
    assert!(faults > 0, "{stats}");
    assert!(limited > 0, "the burst hit the limit: {stats}");
    assert!(
        retries >= faults.min(1),
        "the report shows the retries: {report}"
    );
    let _ = mock.stop(TOKEN);
}

#[test]
fn polling_an_unchanged_release_is_answered_mostly_by_304s() {
    // 30 confirming polls of a release that no longer changes; big's 150 assets upload in 150ms.
    let fx = Fixture::new(30);
    let mock = fx.mock_forge_with("1", &[]);
    let report = report(&fx.release(&mock.url, "3.0.0"));
    assert_eq!(report["status"], "succeeded");
    let stats = mock.stats();
    // A release is polled by tag, or through the newest-release page while it is the newest.
    let routes = [
        &stats["by_route"]["GET /repos/{owner}/{repo}/releases/tags/{tag}"],
        &stats["by_route"]["GET /repos/{owner}/{repo}/releases"],
    ];
    let polls: u64 = routes.iter().map(|r| u64_at(r, "/requests")).sum();
    let not_modified: u64 = routes.iter().map(|r| u64_at(r, "/not_modified")).sum();
    eprintln!(
        "release polls {polls}, of which 304: {not_modified} ({:.0}%)",
        100.0 * not_modified as f64 / polls as f64
    );
    assert!(
        not_modified * 2 > polls,
        "mostly 304s: {not_modified} of {polls}"
    );
    for name in REPOS {
        let repo = &stats["by_repo"][format!("acme/{name}")];
        let limited = u64_at(repo, "/rate_limited");
        let free = u64_at(repo, "/not_modified");
        eprintln!(
            "acme/{name}: {limited} request(s) counted against the rate limit, {free} free (304)"
        );
        assert!(free >= 30, "acme/{name}: {repo}");
        assert!(
            limited <= 15,
            "acme/{name}: the counted requests stay few: {repo}"
        );
    }
    // mock-forge prints the same per-repo counts when it stops.
    let (_, stderr) = mock.stop(TOKEN);
    for name in REPOS {
        let line = format!("acme/{name}: ");
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&line) && l.contains("not modified (304)")),
            "{stderr}"
        );
    }
}

#[test]
fn a_rejected_token_exits_2_with_one_message_naming_the_variables() {
    let fx = Fixture::new(1);
    let mut cmd = bin();
    cmd.current_dir(fx.path())
        .env("GITHUB_TOKEN", "ghp_the_only_token_the_mock_accepts")
        .args(["mock-forge", "--require-token", "--origins"])
        .arg(fx.origins());
    let mock = MockForge::spawn(cmd);
    let started = Instant::now();
    let out = fx.release(&mock.url, "1.0.0");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not retried forever"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("GITHUB_TOKEN") && errors[0].contains("GH_TOKEN"),
        "{stderr}"
    );
    assert!(errors[0].contains("401"), "{stderr}");
    assert!(
        text(&out.stdout).is_empty(),
        "no report: {}",
        text(&out.stdout)
    );
    for name in REPOS {
        assert!(fx.origin_tags(name).is_empty(), "nothing pushed: {name}");
    }
    assert_eq!(
        u64_at(&mock.stats(), "/requests"),
        1,
        "one request, not retried"
    );
    let _ = mock.stop(TOKEN);
}

#[test]
fn mock_forge_prints_its_url_first_and_exits_cleanly_on_sigterm() {
    let mock = MockForge::spawn({
        let mut cmd = bin();
        cmd.args(["mock-forge", "--listen", "127.0.0.1:0"]);
        cmd
    });
    assert_eq!(u64_at(&mock.stats(), "/requests"), 0);
    let (status, stderr) = mock.stop(TOKEN);
    assert_eq!(status.code(), Some(0), "{stderr}");
    // Bad flags are bad input.
    let out = run(bin().args(["mock-forge", "--fault-rate", "1.5"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(bin().args(["mock-forge", "--origins", "/definitely/not/here"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn the_demo_releases_through_the_github_adapter_over_http() {
    let started = Instant::now();
    let out = run(bin().args(["--output", "json", "demo"]));
    let report = report(&out);
    assert_eq!(report["status"], "succeeded");
    let repos = report["repos"].as_array().expect("repos");
    assert_eq!(repos.len(), 7);
    assert!(
        repos.iter().all(|r| r["release_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:"))),
        "released over HTTP: {report}"
    );
    assert!(
        u64_at(&report, "/forge_requests/not_modified") > 0,
        "{report}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// `status` over HTTP: it compares the forge with `versions.toml`, exits 1 on drift, and keeps
/// its table in a tracking issue between markers, leaving the issue's own text alone and not
/// editing it when nothing changed.
#[test]
fn status_flags_drift_and_keeps_a_tracking_issue_up_to_date() {
    let fx = Fixture::new(1);
    let mock = fx.mock_forge(&[]);
    assert_eq!(
        report(&fx.release(&mock.url, "1.2.3"))["status"],
        "succeeded"
    );
    let manifest = |b: &str| {
        let text = format!(
            "a = {{ version = \"1.2.3\", git_tag = \"v1.2.3\", git_commit = \"x\", requires = [] }}\n\
             b = {{ version = \"{b}\", git_tag = \"v{b}\", git_commit = \"y\", requires = [\"a=1.2.3\"] }}\n"
        );
        std::fs::write(fx.path().join("versions.toml"), text).expect("versions.toml");
    };
    manifest("1.3.0");
    let (code, issue) = mock.api(
        TOKEN,
        "POST",
        "/repos/acme/a/issues",
        r#"{"title": "Ecosystem status", "body": "Kept by the hourly monitor.\n"}"#,
    );
    assert_eq!(code, 201, "{issue}");
    let number = issue["number"].as_u64().expect("a number");
    let issue_ref = format!("acme/a#{number}");
    let status = |output: &str| {
        run(bin()
            .current_dir(fx.path())
            .env("ORCHESTRATOR_FORGE_URL", &mock.url)
            .env_remove("GITHUB_STEP_SUMMARY")
            .args(["--output", output, "status", "--update-issue", &issue_ref]))
    };
    let body = || {
        let (code, issue) = mock.api(TOKEN, "GET", &format!("/repos/acme/a/issues/{number}"), "");
        assert_eq!(code, 200, "{issue}");
        issue["body"].as_str().unwrap_or_default().to_owned()
    };

    let out = status("json");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    common::schema::check("status", &text(&out.stdout), "status.schema.json");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON rows");
    let row = |name: &str| {
        rows.as_array()
            .and_then(|rows| rows.iter().find(|r| r["repo"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no row for {name}: {rows}"))
    };
    assert_eq!(row("a")["latest_release"], "v1.2.3");
    assert_eq!(row("a")["expected"], "v1.2.3");
    assert!(row("a")["drift"].is_null(), "{rows}");
    assert!(
        row("a")["age"].is_string(),
        "a published release has an age"
    );
    assert_eq!(row("b")["latest_release"], "v1.2.3");
    assert_eq!(row("b")["drift"], "v1.3.0 is not released on the forge");
    assert!(row("big")["expected"].is_null() && row("big")["drift"].is_null());
    let first = body();
    assert!(
        first.starts_with("Kept by the hourly monitor.\n\n<!-- orchestrator-status:start -->"),
        "{first}"
    );
    assert!(first.contains("**1 of 3 repos drifted.**"), "{first}");
    assert!(
        first.contains(":warning: v1.3.0 is not released on the forge"),
        "{first}"
    );

    // Nothing changed: the issue is not edited.
    let out = status("human");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already shows this status"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(body(), first);

    // The manifest agrees with the forge again: exit 0, and the table says so.
    manifest("1.2.3");
    let out = status("human");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("v1.2.3"),
        "{}",
        text(&out.stdout)
    );
    let second = body();
    assert!(second.contains("**3 repos, no drift.**"), "{second}");
    assert!(second.starts_with("Kept by the hourly monitor.\n\n"));
    assert_eq!(second.matches("orchestrator-status:start").count(), 1);

    // A bad reference is refused before anything is asked.
    let out = run(bin()
        .current_dir(fx.path())
        .env("ORCHESTRATOR_FORGE_URL", &mock.url)
        .args(["status", "--update-issue", "acme/a"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("owner/repo#NUMBER"),
        "{}",
        text(&out.stderr)
    );
}
