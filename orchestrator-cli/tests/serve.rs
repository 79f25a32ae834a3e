//! `orchestrator serve` end to end: the binary on loopback over sandbox git repos and the
//! simulated forge, fed signed webhooks over HTTP. Jobs are observed through `/metrics` and the
//! repos' origins, never through wall-clock thresholds (bounds only say "does not hang").

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use orchestrator_git::sandbox::{Sandbox, git};
use orchestrator_serve::WebhookSecret;

const SECRET: &str = "serve-e2e-secret";

/// base → app, released by tag pushes that the simulated CI builds.
fn workspace() -> tempfile::TempDir {
    workspace_with_ci_delay("30ms")
}

/// [`workspace`] with CI taking `ci_delay` per release (slow enough to watch a run).
fn workspace_with_ci_delay(ci_delay: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let mut config = String::from(
        "[forge]\nowner = \"acme\"\n[forge.simulate]\nci_delay = \"CI_DELAY\"\nasset_interval = \"10ms\"\n\
         [release]\npoll_interval = \"10ms\"\ntimeout = \"30s\"\nstable_polls = 1\n\n\
         [publish]\numbrella_repo = \"acme/ecosystem\"\n\n",
    )
    .replace("CI_DELAY", ci_delay);
    for (name, deps) in [("base", ""), ("app", "\"@acme/base\": \"^1.0.0\"")] {
        let manifest = format!(
            "{{\n  \"name\": \"@acme/{name}\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {{ {deps} }}\n}}\n"
        );
        sandbox
            .create_repo(name, &[("package.json", &manifest)])
            .expect("repo");
        git(
            &dir.path().join(name),
            &["tag", "-a", "v1.0.0", "-m", "v1.0.0"],
        )
        .expect("tag");
        git(&dir.path().join(name), &["push", "-q", "origin", "v1.0.0"]).expect("push tag");
        let depends = if deps.is_empty() { "" } else { "\"base\"" };
        config.push_str(&format!(
            "[[repo]]\nname = \"{name}\"\ndepends_on = [{depends}]\nmanifest = \"package.json\"\ntrigger = \"tag\"\n\n"
        ));
    }
    std::fs::write(dir.path().join("orchestrator.toml"), config).expect("config");
    dir
}

/// A running `orchestrator serve`; SIGKILLed on drop (also on panic) if still running.
struct Serve {
    child: Child,
    address: String,
    /// The first line it printed on stdout.
    first_line: String,
}

impl Serve {
    fn start(dir: &Path, extra: &[&str], log: &str) -> Self {
        Self::start_with_token(dir, extra, log, None)
    }

    fn start_with_token(dir: &Path, extra: &[&str], log: &str, token: Option<&str>) -> Self {
        let stderr = std::fs::File::create(dir.join(log)).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
        match token {
            Some(token) => command.env("ORCHESTRATOR_DASHBOARD_TOKEN", token),
            None => command.env_remove("ORCHESTRATOR_DASHBOARD_TOKEN"),
        };
        let mut child = command
            .current_dir(dir)
            .env("ORCHESTRATOR_WEBHOOK_SECRET", SECRET)
            .env_remove("ORCHESTRATOR_FORGE_URL")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT")
            .args(["serve", "--listen", "127.0.0.1:0", "--retry-secs", "1"])
            // Short leases: a killed replica's job passes on quickly (unless a test sets one).
            .args(if extra.contains(&"--lease-secs") {
                &[][..]
            } else {
                &["--lease-secs", "2"][..]
            })
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .expect("the first line");
        let address = match serde_json::from_str::<serde_json::Value>(&first) {
            // --output json: one JSON document says where everything is.
            Ok(json) => json["listening_on"].as_str().map(str::to_owned),
            Err(_) => first
                .trim()
                .strip_prefix("listening on ")
                .map(str::to_owned),
        };
        let address = address
            .as_deref()
            .and_then(|a| a.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_owned();
        Self {
            child,
            address,
            first_line: first,
        }
    }

    /// One HTTP/1.1 request; the status and body.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("send");
        stream.write_all(body).expect("send body");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line: {response}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn deliver(&self, event: &str, delivery: &str, body: &serde_json::Value) -> (u16, String) {
        let body = body.to_string().into_bytes();
        let signature = WebhookSecret::new(SECRET).expect("secret").sign(&body);
        self.request(
            "POST",
            "/webhook",
            &[
                ("X-GitHub-Event", event.to_owned()),
                ("X-GitHub-Delivery", delivery.to_owned()),
                ("X-Hub-Signature-256", signature),
                ("Content-Type", "application/json".to_owned()),
            ],
            &body,
        )
    }

    /// Waits (bounded: a hang fails) until `/metrics` has `line`.
    fn wait_for_metric(&self, line: &str, log: &Path) {
        let started = Instant::now();
        loop {
            let (_, metrics) = self.request("GET", "/metrics", &[], b"");
            if metrics.lines().any(|l| l == line) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no {line:?} in:\n{metrics}\nlog:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Serve {
    /// SIGTERM, then its exit status; a service still running after 60 s fails the test.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill")
                .success()
        );
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "still running after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Waits (bounded: 60 s, then the test fails) until the service's `log` file contains `needle`.
fn wait_for_log(log: &Path, needle: &str) {
    let started = Instant::now();
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains(needle)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{needle:?} never appeared in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn push(repo: &str, sha: &str) -> serde_json::Value {
    serde_json::json!({
        "ref": "refs/heads/main",
        "after": sha,
        "repository": {"full_name": format!("acme/{repo}"), "default_branch": "main"},
    })
}

/// The commit `repo`'s clone is at: what a push event for it names (the cascade checks it).
fn head(dir: &Path, repo: &str) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir.join(repo))
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn origin_tags(dir: &Path, repo: &str) -> String {
    let path: PathBuf = dir.join("origins").join(format!("{repo}.git"));
    let out = Command::new("git")
        .arg("-C")
        .arg(&path)
        .args(["tag", "--list"])
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Issue 17: a webhook answered `202` survives a SIGKILL of the service: the restarted service
/// runs its cascade, once, and a redelivery of the same id is recognised as a replay.
#[test]
fn a_job_accepted_before_a_sigkill_runs_once_after_the_restart() {
    let dir = workspace();
    // An intake-only replica: the job is stored and nothing runs it before the kill.
    let first = Serve::start(dir.path(), &["--workers", "0"], "serve-1.log");
    let (status, body) = first.deliver(
        "push",
        "delivery-1",
        &push("base", &head(dir.path(), "base")),
    );
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("\"enqueued\""), "{body}");
    first.kill();

    let second = Serve::start(dir.path(), &[], "serve-2.log");
    let log = dir.path().join("serve-2.log");
    second.wait_for_metric("orchestrator_jobs{state=\"succeeded\"} 1", &log);
    let (status, body) = second.deliver(
        "push",
        "delivery-1",
        &push("base", &head(dir.path(), "base")),
    );
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("\"replayed\""), "{body}");
    let (_, metrics) = second.request("GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("orchestrator_job_attempts_total{outcome=\"succeeded\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("orchestrator_jobs{state=\"pending\"} 0\n"),
        "{metrics}"
    );
    // The cascade released base and its dependent app, each once.
    for repo in ["base", "app"] {
        let tags = origin_tags(dir.path(), repo);
        assert_eq!(
            tags.lines().filter(|t| t.starts_with("v1.0.1")).count(),
            1,
            "{repo}: {tags}"
        );
    }
    // The dashboard shows the run and the graph, coloured.
    let (status, page) = second.request("GET", "/", &[], b"");
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"data-repo="base" data-outcome="succeeded""#),
        "{page}"
    );
    assert!(page.contains(r#"data-state="succeeded""#), "{page}");
    assert!(!page.contains(SECRET));
}

/// Issue 16: a push the service's clone has not pulled yet is not refused (the clone's HEAD is
/// another commit): the cascade job fetches and fast-forwards the clone to the pushed commit,
/// journaled as a `checkout` run, and releases from it.
#[test]
fn a_push_ahead_of_the_clone_is_checked_out_before_the_cascade() {
    let dir = workspace();
    let clone = dir.path().join("base");
    let before = head(dir.path(), "base");
    std::fs::write(clone.join("NOTES.md"), "pushed\n").expect("write");
    git(&clone, &["add", "NOTES.md"]).expect("add");
    git(&clone, &["commit", "-q", "-m", "docs: notes"]).expect("commit");
    git(&clone, &["push", "-q", "origin", "main"]).expect("push");
    let pushed = head(dir.path(), "base");
    git(&clone, &["reset", "-q", "--hard", &before]).expect("reset");

    let serve = Serve::start(dir.path(), &[], "serve.log");
    let (status, body) = serve.deliver("push", "delivery-1", &push("base", &pushed));
    assert_eq!(status, 202, "{body}");
    serve.wait_for_metric(
        "orchestrator_jobs{state=\"succeeded\"} 1",
        &dir.path().join("serve.log"),
    );
    // base's release commit (its bump) sits on the pushed commit.
    let released = git(&clone, &["rev-parse", "v1.0.1^"]).expect("tag");
    assert_eq!(released.trim(), pushed);
    let runs = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir.path())
        .args(["--output", "json", "runs"])
        .output()
        .expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("json");
    let checkout = runs
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["kind"] == "checkout")
        .expect("a checkout run");
    assert_eq!(checkout["status"], "succeeded", "{runs:#}");
    assert_eq!(checkout["key"], format!("base@{pushed}"));
}

/// Issue 17: a replica killed while it runs a job leaves it to another replica on the same
/// queue, which takes it when the lease expires and resumes the run from the journal: every
/// repo is released once, and the job succeeds on its second attempt.
#[test]
fn a_replica_killed_mid_job_leaves_the_job_to_another() {
    let dir = workspace();
    let first = Serve::start(dir.path(), &[], "serve-1.log");
    let (status, body) = first.deliver(
        "push",
        "delivery-1",
        &push("base", &head(dir.path(), "base")),
    );
    assert_eq!(status, 202, "{body}");
    // Killed as soon as its worker has started the job (bounded wait on its log).
    wait_for_log(&dir.path().join("serve-1.log"), "job started");
    first.kill();

    let second = Serve::start(dir.path(), &[], "serve-2.log");
    let log = dir.path().join("serve-2.log");
    second.wait_for_metric("orchestrator_jobs{state=\"succeeded\"} 1", &log);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("\"attempt\":2"),
        "taken over as attempt 2:\n{text}"
    );
    for repo in ["base", "app"] {
        let tags = origin_tags(dir.path(), repo);
        assert_eq!(
            tags.lines().filter(|t| t.starts_with("v1.0.1")).count(),
            1,
            "{repo}: {tags}"
        );
    }
}

/// A plan command on a pull request runs `pr-command` itself, against the forge (here the mock
/// GitHub, which has no such pull request): the job records the command's own error, shown on
/// the dashboard.
#[test]
fn a_plan_command_comment_runs_pr_command() {
    let dir = workspace();
    let mut mock = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    mock.current_dir(dir.path())
        .args(["mock-forge", "--origins"])
        .arg(dir.path().join("origins"));
    let mock = common::MockForge::spawn(mock);
    let serve = Serve::start(
        dir.path(),
        &["--max-attempts", "1", "--forge-url", &mock.url],
        "serve.log",
    );
    let comment = serde_json::json!({
        "action": "created",
        "issue": {"number": 7, "pull_request": {"url": "https://api.github.com/repos/acme/infra/pulls/7"}},
        "comment": {"id": 99, "body": "/apply-plan", "user": {"login": "alice"}},
        "repository": {"full_name": "acme/infra"},
    });
    let (status, body) = serve.deliver("issue_comment", "delivery-c", &comment);
    assert_eq!(status, 202, "{body}");
    serve.wait_for_metric(
        "orchestrator_jobs{state=\"failed\"} 1",
        &dir.path().join("serve.log"),
    );
    let (_, page) = serve.request("GET", "/", &[], b"");
    assert!(page.contains("pr:acme/infra#7"), "{page}");
    assert!(
        page.contains("pull request #7 of acme/infra not found"),
        "the command's own error: {page}"
    );
}

/// SIGTERM: the replica stops (exit 0) instead of dying mid-step; bounded, not timed.
#[test]
fn sigterm_stops_the_service_cleanly() {
    let dir = workspace();
    let mut serve = Serve::start(dir.path(), &[], "serve.log");
    let status = serve.terminate();
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("serve.log")).expect("log");
    assert!(log.contains("serve stopped"), "{log}");
}

/// SIGTERM during a job: the running cascade stops its step and journals it, the job goes back
/// to the queue at once (no lease wait), the process exits, and the next replica finishes the
/// run: each repo released once.
#[test]
fn sigterm_mid_job_hands_the_job_back_and_the_next_replica_finishes_it() {
    let dir = workspace_with_ci_delay("1500ms");
    let mut first = Serve::start(dir.path(), &["--lease-secs", "600"], "serve-1.log");
    let (status, body) = first.deliver(
        "push",
        "delivery-1",
        &push("base", &head(dir.path(), "base")),
    );
    assert_eq!(status, 202, "{body}");
    let log = dir.path().join("serve-1.log");
    // Mid-step: the cascade waits for base's release (CI takes 1.5s).
    wait_for_log(&log, "wait for release v1.0.1 of acme/base");
    first.terminate();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("job interrupted by shutdown, released"),
        "{text}"
    );
    // The lease was 600s: only the hand-back lets the next replica start now.
    let second = Serve::start(dir.path(), &[], "serve-2.log");
    second.wait_for_metric(
        "orchestrator_jobs{state=\"succeeded\"} 1",
        &dir.path().join("serve-2.log"),
    );
    for repo in ["base", "app"] {
        let tags = origin_tags(dir.path(), repo);
        assert_eq!(
            tags.lines().filter(|t| t.starts_with("v1.0.1")).count(),
            1,
            "{repo}: {tags}"
        );
    }
}

/// A bad signature is refused with 401 by the real binary, and nothing is queued.
#[test]
fn the_binary_refuses_an_unsigned_webhook() {
    let dir = workspace();
    let serve = Serve::start(dir.path(), &["--workers", "0"], "serve.log");
    let (status, body) = serve.request(
        "POST",
        "/webhook",
        &[
            ("X-GitHub-Event", "push".to_owned()),
            ("X-GitHub-Delivery", "d".to_owned()),
        ],
        push("base", "x").to_string().as_bytes(),
    );
    assert_eq!(status, 401, "{body}");
    let (_, metrics) = serve.request("GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("orchestrator_queue_depth 0\n"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(dir.path().join("serve.log")).expect("log");
    assert!(!log.contains(SECRET), "the secret is never logged");
    let first = log.lines().next().expect("a log line");
    serde_json::from_str::<serde_json::Value>(first).expect("JSON log lines");
}

/// `--output json`: stdout carries exactly one JSON document, the addresses a script needs.
#[test]
fn with_output_json_serve_prints_one_json_document() {
    let dir = workspace();
    let mut serve = Serve::start(
        dir.path(),
        &["--workers", "0", "--output", "json"],
        "serve.log",
    );
    let json: serde_json::Value = serde_json::from_str(&serve.first_line).expect("JSON");
    let base = format!("http://{}", serve.address);
    assert_eq!(
        json["webhook_url"],
        format!("{base}/webhook").as_str(),
        "{json}"
    );
    assert_eq!(json["dashboard_url"], format!("{base}/").as_str(), "{json}");
    let (status, _) = serve.request("GET", "/healthz", &[], b"");
    assert_eq!(status, 200);
    assert!(serve.terminate().success());
    let mut rest = String::new();
    serve
        .child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut rest)
        .expect("read");
    assert_eq!(rest, "", "nothing after the one JSON document");
}

/// Without the secret the service does not start: one line saying what to set, exit 2.
#[test]
fn without_a_secret_serve_refuses_to_start() {
    let dir = workspace();
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir.path())
        .env_remove("ORCHESTRATOR_WEBHOOK_SECRET")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ORCHESTRATOR_WEBHOOK_SECRET is not set"),
        "{stderr}"
    );
}

/// Chromium and chromedriver from `.ci/tools/chromium.sh`, or `None` (skipped) when they are
/// missing outside CI; in CI (`ORCHESTRATOR_REQUIRE_EXTERNAL=1`) a missing browser fails.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let tools = std::env::var_os("ORCHESTRATOR_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orchestrator-ci"))
        })
        .unwrap_or_default()
        .join("chromium");
    let (chromium, driver) = (tools.join("chromium"), tools.join("chromedriver"));
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    assert!(
        std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
        "chromium not installed in {}: run .ci/tools/chromium.sh",
        tools.display()
    );
    eprintln!("skipped: chromium not installed (run .ci/tools/chromium.sh)");
    None
}

/// A running chromedriver on a free loopback port; killed on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start(driver: &Path, log: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("address")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `data-outcome` of every graph node on the page, by repo.
async fn node_outcomes(browser: &fantoccini::Client) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for node in browser
        .find_all(fantoccini::Locator::Css("svg#graph g.node"))
        .await
        .expect("find nodes")
    {
        let repo = node
            .attr("data-repo")
            .await
            .expect("attr")
            .unwrap_or_default();
        let outcome = node
            .attr("data-outcome")
            .await
            .expect("attr")
            .unwrap_or_default();
        found.push((repo, outcome));
    }
    found.sort();
    found
}

/// The `data-state` of every run row.
async fn run_states(browser: &fantoccini::Client) -> Vec<String> {
    let mut states = Vec::new();
    for row in browser
        .find_all(fantoccini::Locator::Css("table#runs tr[data-run]"))
        .await
        .expect("find runs")
    {
        states.push(
            row.attr("data-state")
                .await
                .expect("attr")
                .unwrap_or_default(),
        );
    }
    states
}

/// Issue 17: the dashboard in a real headless Chromium during a rehearsal (simulated CI, slow
/// enough to watch): behind its token, it shows the running cascade and its graph, then both
/// repos succeeded. Screenshots are kept in the target dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_graph_and_run_states_in_a_real_browser() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let dir = workspace_with_ci_delay("1500ms");
    let token = "dashboard-token-for-tests";
    let serve = Serve::start_with_token(dir.path(), &[], "serve.log", Some(token));
    let chromedriver = ChromeDriver::start(&driver, &dir.path().join("chromedriver.log"));
    let profile = dir.path().join("chromium-profile");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1200,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let browser =
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&chromedriver.url)
            .await
            .expect("a browser session");
    let base = format!("http://{}", serve.address);

    // Without the token: refused.
    browser.goto(&format!("{base}/")).await.expect("load");
    let refused = browser.source().await.expect("source");
    assert!(
        refused.contains("needs ORCHESTRATOR_DASHBOARD_TOKEN"),
        "{refused}"
    );
    // Signed in once; the cookie carries the token from then on.
    browser
        .goto(&format!("{base}/?token={token}"))
        .await
        .expect("load");
    assert!(
        !browser
            .current_url()
            .await
            .expect("url")
            .as_str()
            .contains(token)
    );

    let (status, body) = serve.deliver(
        "push",
        "delivery-1",
        &push("base", &head(dir.path(), "base")),
    );
    assert_eq!(status, 202, "{body}");
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    // During the rehearsal: the run shows as running, with its two repos in the graph.
    let started = Instant::now();
    loop {
        browser.goto(&format!("{base}/")).await.expect("load");
        let states = run_states(&browser).await;
        if states.first().map(String::as_str) == Some("running") {
            let nodes = node_outcomes(&browser).await;
            let names: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, vec!["app", "base"], "{nodes:?}");
            let shot = browser.screenshot().await.expect("screenshot");
            std::fs::write(artifacts.join("serve-dashboard-running.png"), shot).expect("save");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never saw the run running: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serve.wait_for_metric(
        "orchestrator_jobs{state=\"succeeded\"} 1",
        &dir.path().join("serve.log"),
    );
    browser.goto(&format!("{base}/")).await.expect("load");
    assert_eq!(
        run_states(&browser).await.first().map(String::as_str),
        Some("succeeded")
    );
    assert_eq!(
        node_outcomes(&browser).await,
        vec![
            ("app".into(), "succeeded".into()),
            ("base".into(), "succeeded".into())
        ]
    );
    let edge = browser
        .find(fantoccini::Locator::Css(
            r#"line.edge[data-from="base"][data-to="app"]"#,
        ))
        .await;
    assert!(edge.is_ok(), "the edge base -> app is drawn");
    let shot = browser.screenshot().await.expect("screenshot");
    std::fs::write(artifacts.join("serve-dashboard-done.png"), shot).expect("save");
    browser.close().await.expect("close");
}
