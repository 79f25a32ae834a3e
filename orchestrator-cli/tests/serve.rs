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
    workspace_with(ci_delay, "10ms", "30s")
}

/// [`workspace`] with CI taking `ci_delay`, waits polling every `poll_interval` (the base, before
/// `serve --poll-stretch`) up to `timeout`.
fn workspace_with(ci_delay: &str, poll_interval: &str, timeout: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let mut config = String::from(
        "[forge]\nowner = \"acme\"\n[forge.simulate]\nci_delay = \"CI_DELAY\"\nasset_interval = \"10ms\"\n\
         [release]\npoll_interval = \"POLL\"\ntimeout = \"TIMEOUT\"\nstable_polls = 1\n\n\
         [publish]\numbrella_repo = \"acme/ecosystem\"\n\n",
    )
    .replace("CI_DELAY", ci_delay)
    .replace("POLL", poll_interval)
    .replace("TIMEOUT", timeout);
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
        Self::start_with_env(dir, extra, log, token, &[])
    }

    /// A replica with `env` set (e.g. `ORCHESTRATOR_STATE_URL`); the log goes to `dir/log`.
    fn start_with_env(
        dir: &Path,
        extra: &[&str],
        log: &str,
        token: Option<&str>,
        env: &[(&str, &str)],
    ) -> Self {
        let stderr = std::fs::File::create(dir.join(log)).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
        match token {
            Some(token) => command.env("ORCHESTRATOR_DASHBOARD_TOKEN", token),
            None => command.env_remove("ORCHESTRATOR_DASHBOARD_TOKEN"),
        };
        command.env_remove("ORCHESTRATOR_STATE_URL");
        command.envs(env.iter().copied());
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

/// `--output json` while a job runs: the one JSON document stays the only thing on stdout (the
/// cascade's report goes to the log), so a script reading stdout reads one document.
#[test]
fn with_output_json_a_cascade_job_prints_nothing_after_the_document() {
    let dir = workspace();
    let log = dir.path().join("serve.log");
    let mut serve = Serve::start(dir.path(), &["--output", "json"], "serve.log");
    let push = push("base", &head(dir.path(), "base"));
    assert_eq!(serve.deliver("push", "delivery-1", &push).0, 202);
    serve.wait_for_metric("orchestrator_jobs{state=\"succeeded\"} 1", &log);
    assert!(serve.terminate().success());
    let stdout = serve.child.stdout.take().expect("stdout");
    assert_eq!(std::io::read_to_string(stdout).expect("read"), "");
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(log.contains("cascade ended"), "the report is logged: {log}");
}

/// `--output json` while a comment job runs: the command runs through core (its answer is
/// posted on the pull request, its outcome logged) and nothing follows the one JSON document on
/// stdout (a job used to print the command's outcome there, as `pr-command` does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_output_json_a_comment_job_prints_nothing_after_the_document() {
    use orchestrator_core::forge::{IssueForge, NewPullRequest, PullRequestForge, RepoId};
    use orchestrator_github::mock::{MockGitHub, MockOptions};

    let dir = tempfile::tempdir().expect("tempdir");
    // No simulated forge: the comment is answered on the mock GitHub.
    std::fs::write(
        dir.path().join("orchestrator.toml"),
        "[forge]\nowner = \"acme\"\n",
    )
    .expect("config");
    let mock = MockGitHub::start(MockOptions::default())
        .await
        .expect("mock");
    mock.create_repo("acme", "infra");
    let repo = RepoId::new("acme", "infra");
    let forge = mock.forge();
    forge.set_user("github-actions[bot]");
    let pr = forge
        .create_pull_request(
            &repo,
            &NewPullRequest {
                title: "Infra scale plan: prod".into(),
                body: "plan".into(),
                head: "infra-scale/prod".into(),
                base: "main".into(),
                draft: true,
            },
        )
        .await
        .expect("pr");
    let comment = forge
        .comment_as(&repo, pr.number, "alice", "/approve-plan")
        .expect("comment");
    let log = dir.path().join("serve.log");
    let mut serve = Serve::start_with_env(
        dir.path(),
        &["--output", "json", "--forge-url", mock.url()],
        "serve.log",
        None,
        &[("GITHUB_TOKEN", "t0ken")],
    );
    let event = serde_json::json!({
        "action": "created",
        "issue": {"number": pr.number, "pull_request": {"url": "https://api.github.com/repos/acme/infra/pulls/1"}},
        "comment": {"id": comment.id, "body": "/approve-plan", "user": {"login": "alice"}},
        "repository": {"full_name": "acme/infra"},
    });
    assert_eq!(serve.deliver("issue_comment", "delivery-c", &event).0, 202);
    serve.wait_for_metric("orchestrator_jobs{state=\"succeeded\"} 1", &log);
    let reply = forge
        .list_comments(&repo, pr.number)
        .await
        .expect("comments")
        .pop()
        .expect("the answer");
    assert_ne!(reply.id, comment.id, "the command was answered");
    assert!(serve.terminate().success());
    let stdout = serve.child.stdout.take().expect("stdout");
    assert_eq!(std::io::read_to_string(stdout).expect("read"), "");
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(
        log.contains("comment command answered") && log.contains("answered"),
        "the outcome is logged: {log}"
    );
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

/// Two replicas sharing one PostgreSQL database: each has its own state dir and log, both take
/// `ORCHESTRATOR_STATE_URL`, so both use the queue in that database.
fn pg_replica(dir: &Path, url: &str, name: &str, extra: &[&str]) -> Serve {
    let state = dir.join(format!("state-{name}"));
    let state = state.display().to_string();
    let mut args = vec!["--state-dir", state.as_str()];
    args.extend_from_slice(extra);
    Serve::start_with_env(
        dir,
        &args,
        &format!("serve-{name}.log"),
        None,
        &[("ORCHESTRATOR_STATE_URL", url)],
    )
}

/// The job ids a replica's log says it started, with their attempt numbers.
fn jobs_started(log: &Path) -> Vec<(u64, u64)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.pointer("/fields/message").and_then(|m| m.as_str()) == Some("job started"))
        .map(|v| {
            let field = |name: &str| {
                v.pointer(&format!("/fields/{name}"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or_else(|| panic!("{name} in {v}"))
            };
            (field("job"), field("attempt"))
        })
        .collect()
}

/// Issue 17: two `orchestrator serve` processes on one PostgreSQL database take 50 signed
/// webhooks, posted alternately to each, and run every job exactly once: each replica's log
/// names the jobs it started (50 in all, none twice, all first attempts), and the forge saw the
/// same number of requests for each job's repository (a job run twice would double its own).
/// Both replicas' `/metrics` show the jobs of both.
#[test]
fn two_replicas_on_one_postgres_run_50_webhooks_each_exactly_once() {
    let Some(pg) = orchestrator_core::testing::PgCluster::start_or_skip(false) else {
        return;
    };
    let url = pg.create_database("serve_fifty");
    // No simulated forge here: the commands go to the mock GitHub, which counts them.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orchestrator.toml"),
        "[forge]\nowner = \"acme\"\n",
    )
    .expect("config");
    std::fs::create_dir(dir.path().join("origins")).expect("origins");
    let mut mock = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    mock.current_dir(dir.path())
        .args(["mock-forge", "--origins"])
        .arg(dir.path().join("origins"));
    let mock = common::MockForge::spawn(mock);
    let extra = ["--max-attempts", "1", "--forge-url", &mock.url];
    let a = pg_replica(dir.path(), &url, "a", &extra);
    let b = pg_replica(dir.path(), &url, "b", &extra);
    for n in 0..50u64 {
        let repo = format!("acme/infra{n}");
        let comment = serde_json::json!({
            "action": "created",
            "issue": {"number": n + 1, "pull_request": {"url": format!("https://api.github.com/repos/{repo}/pulls/{}", n + 1)}},
            "comment": {"id": 1000 + n, "body": "/apply-plan", "user": {"login": "alice"}},
            "repository": {"full_name": repo},
        });
        let replica = if n % 2 == 0 { &a } else { &b };
        let (status, body) = replica.deliver("issue_comment", &format!("delivery-{n}"), &comment);
        assert_eq!(status, 202, "{body}");
        assert!(body.contains("\"enqueued\""), "{body}");
    }
    // Every job ends (the mock has no such pull requests: each command fails, once).
    let (log_a, log_b) = (
        dir.path().join("serve-a.log"),
        dir.path().join("serve-b.log"),
    );
    a.wait_for_metric("orchestrator_jobs{state=\"failed\"} 50", &log_a);
    b.wait_for_metric("orchestrator_jobs{state=\"failed\"} 50", &log_b);
    let (_, metrics) = b.request("GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("orchestrator_queue_depth 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("orchestrator_jobs{state=\"running\"} 0\n"),
        "{metrics}"
    );

    let (started_a, started_b) = (jobs_started(&log_a), jobs_started(&log_b));
    assert!(
        !started_a.is_empty() && !started_b.is_empty(),
        "both replicas took work: a {started_a:?}, b {started_b:?}"
    );
    let mut ids: Vec<u64> = started_a
        .iter()
        .chain(&started_b)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids.len(), 50, "a {started_a:?}, b {started_b:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50, "no job started twice");
    assert!(
        started_a
            .iter()
            .chain(&started_b)
            .all(|(_, attempt)| *attempt == 1),
        "every job ran on its first attempt only"
    );
    let stats = mock.stats();
    let per_repo: Vec<u64> = (0..50)
        .map(|n| {
            stats
                .pointer(&format!("/by_repo/acme~1infra{n}/requests"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        })
        .collect();
    assert!(
        per_repo[0] > 0,
        "the command asked the forge: {stats}\n{}",
        std::fs::read_to_string(&log_a).unwrap_or_default()
    );
    assert!(
        per_repo.iter().all(|c| *c == per_repo[0]),
        "each job's repository was asked the same number of times: {per_repo:?}"
    );
}

/// Issue 17: on PostgreSQL, a replica SIGKILLed mid-job (while its cascade waits for a release)
/// leaves the job to the other replica, which takes it once the lease expires (attempt 2) and
/// resumes the run from the shared journal: each repo is released once.
#[test]
fn a_replica_killed_mid_job_on_postgres_is_resumed_by_the_other_from_the_journal() {
    let Some(pg) = orchestrator_core::testing::PgCluster::start_or_skip(false) else {
        return;
    };
    let url = pg.create_database("serve_takeover");
    let dir = workspace_with_ci_delay("1500ms");
    let a = pg_replica(dir.path(), &url, "a", &[]);
    let (status, body) = a.deliver(
        "push",
        "delivery-1",
        &push("base", &head(dir.path(), "base")),
    );
    assert_eq!(status, 202, "{body}");
    let log_a = dir.path().join("serve-a.log");
    wait_for_log(&log_a, "wait for release v1.0.1 of acme/base");
    // The second replica is up while the first holds the job: it must not take it yet.
    let b = pg_replica(dir.path(), &url, "b", &[]);
    a.kill();
    let log_b = dir.path().join("serve-b.log");
    b.wait_for_metric("orchestrator_jobs{state=\"succeeded\"} 1", &log_b);
    assert_eq!(jobs_started(&log_a), vec![(1, 1)]);
    assert_eq!(
        jobs_started(&log_b),
        vec![(1, 2)],
        "taken over as attempt 2"
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

/// Issue 17: a release wait running on replica A is woken by a `release` webhook posted to
/// replica B (through PostgreSQL `LISTEN`/`NOTIFY`). The waits poll every 60 s × 4 here, so the
/// cascade can only end within the bound because B's webhooks reach A's waits.
#[test]
fn a_wait_on_one_replica_is_woken_by_a_webhook_posted_to_the_other() {
    let Some(pg) = orchestrator_core::testing::PgCluster::start_or_skip(false) else {
        return;
    };
    let url = pg.create_database("serve_wake");
    let dir = workspace_with("30ms", "60s", "10m");
    let a = pg_replica(dir.path(), &url, "a", &["--poll-stretch", "4"]);
    let b = pg_replica(dir.path(), &url, "b", &["--workers", "0"]);
    let (status, body) = a.deliver(
        "push",
        "delivery-push",
        &push("base", &head(dir.path(), "base")),
    );
    assert_eq!(status, 202, "{body}");
    let log_a = dir.path().join("serve-a.log");
    wait_for_log(&log_a, "wait for release v1.0.1 of acme/base");
    // GitHub would send one `release` webhook per release; here B gets them until A is done
    // (bounded: 90 s, well below one fallback poll of 240 s).
    let started = Instant::now();
    let mut n = 0;
    loop {
        let (_, metrics) = a.request("GET", "/metrics", &[], b"");
        if metrics.contains("orchestrator_jobs{state=\"succeeded\"} 1\n") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the wait was not woken:\n{metrics}\n{}",
            std::fs::read_to_string(&log_a).unwrap_or_default()
        );
        for repo in ["base", "app"] {
            n += 1;
            let release = serde_json::json!({
                "action": "published",
                "release": {"tag_name": "v1.0.1"},
                "repository": {"full_name": format!("acme/{repo}")},
            });
            let (status, body) = b.deliver("release", &format!("delivery-release-{n}"), &release);
            assert_eq!(status, 202, "{body}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&log_a).expect("log");
    assert!(
        text.contains("woke waits for a webhook another replica received"),
        "{text}"
    );
    let (_, metrics) = a.request("GET", "/metrics", &[], b"");
    assert!(
        !metrics.contains("orchestrator_remote_wakes_total 0\n"),
        "{metrics}"
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

/// Issue 17: the rate-limit budget is shared by the replicas that use one token. Replica A runs
/// a command against the mock GitHub (which sends `x-ratelimit-*` headers on every answer);
/// replica B, on the same SQLite queue file, never calls the forge, yet its `/metrics` shows
/// the remaining budget A saw, and, the floor being above it, B defers its polls too.
#[test]
fn replicas_share_the_rate_limit_budget_one_of_them_saw() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orchestrator.toml"),
        "[forge]\nowner = \"acme\"\n\n[serve]\nrate_limit_floor = 1000000\n",
    )
    .expect("config");
    std::fs::create_dir(dir.path().join("origins")).expect("origins");
    let mut mock = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    mock.current_dir(dir.path())
        .args(["mock-forge", "--origins"])
        .arg(dir.path().join("origins"));
    let mock = common::MockForge::spawn(mock);
    let queue = dir.path().join("shared-queue.db").display().to_string();
    let a = Serve::start(
        dir.path(),
        &[
            "--queue",
            &queue,
            "--max-attempts",
            "1",
            "--forge-url",
            &mock.url,
        ],
        "serve-a.log",
    );
    let b = Serve::start(
        dir.path(),
        &[
            "--queue",
            &queue,
            "--workers",
            "0",
            "--forge-url",
            &mock.url,
        ],
        "serve-b.log",
    );
    let comment = serde_json::json!({
        "action": "created",
        "issue": {"number": 7, "pull_request": {"url": "https://api.github.com/repos/acme/infra/pulls/7"}},
        "comment": {"id": 99, "body": "/apply-plan", "user": {"login": "alice"}},
        "repository": {"full_name": "acme/infra"},
    });
    let (status, body) = a.deliver("issue_comment", "delivery-c", &comment);
    assert_eq!(status, 202, "{body}");
    let log_b = dir.path().join("serve-b.log");
    b.wait_for_metric("orchestrator_polls_deferred 1", &log_b);
    let (_, metrics) = b.request("GET", "/metrics", &[], b"");
    let remaining: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("orchestrator_forge_rate_limit_remaining "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .expect("a number");
    assert!(remaining < 1_000_000, "{metrics}");
    assert_eq!(
        std::fs::read_to_string(&log_b)
            .unwrap_or_default()
            .matches("job started")
            .count(),
        0,
        "B never ran a job, so never called the forge itself"
    );
    a.wait_for_metric(
        "orchestrator_polls_deferred 1",
        &dir.path().join("serve-a.log"),
    );
}
