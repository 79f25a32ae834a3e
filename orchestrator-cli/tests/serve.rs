//! `orchestrator serve` end to end: the binary on loopback over sandbox git repos and the
//! simulated forge, fed signed webhooks over HTTP. Jobs are observed through `/metrics` and the
//! repos' origins, never through wall-clock thresholds (bounds only say "does not hang").

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orchestrator_git::sandbox::{Sandbox, git};
use orchestrator_serve::WebhookSecret;

const SECRET: &str = "serve-e2e-secret";

/// base → app, released by tag pushes that the simulated CI builds.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let mut config = String::from(
        "[forge]\nowner = \"acme\"\n[forge.simulate]\nci_delay = \"30ms\"\nasset_interval = \"10ms\"\n\
         [release]\npoll_interval = \"10ms\"\ntimeout = \"30s\"\nstable_polls = 1\n\n\
         [publish]\numbrella_repo = \"acme/ecosystem\"\n\n",
    );
    for (name, deps) in [("base", ""), ("app", "\"@acme/base\": \"^1.0.0\"")] {
        let manifest = format!(
            "{{\n  \"name\": \"@acme/{name}\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {{ {deps} }}\n}}\n"
        );
        sandbox
            .create_repo(name, &[("package.json", &manifest)])
            .expect("repo");
        git(&dir.path().join(name), &["tag", "-a", "v1.0.0", "-m", "v1.0.0"]).expect("tag");
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
}

impl Serve {
    fn start(dir: &Path, extra: &[&str], log: &str) -> Self {
        let stderr = std::fs::File::create(dir.join(log)).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
            .current_dir(dir)
            .env("ORCHESTRATOR_WEBHOOK_SECRET", SECRET)
            .env_remove("ORCHESTRATOR_DASHBOARD_TOKEN")
            .env_remove("ORCHESTRATOR_FORGE_URL")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT")
            .args(["serve", "--listen", "127.0.0.1:0", "--lease-secs", "2", "--retry-secs", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .expect("the first line");
        let address = first
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_owned();
        Self { child, address }
    }

    /// One HTTP/1.1 request; the status and body.
    fn request(&self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
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
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
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
    let (status, body) = first.deliver("push", "delivery-1", &push("base", "0123abcd"));
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("\"enqueued\""), "{body}");
    first.kill();

    let second = Serve::start(dir.path(), &[], "serve-2.log");
    let log = dir.path().join("serve-2.log");
    second.wait_for_metric("orchestrator_jobs{state=\"succeeded\"} 1", &log);
    let (status, body) = second.deliver("push", "delivery-1", &push("base", "0123abcd"));
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("\"replayed\""), "{body}");
    let (_, metrics) = second.request("GET", "/metrics", &[], b"");
    assert!(metrics.contains("orchestrator_job_attempts_total{outcome=\"succeeded\"} 1\n"), "{metrics}");
    assert!(metrics.contains("orchestrator_jobs{state=\"pending\"} 0\n"), "{metrics}");
    // The cascade released base and its dependent app, each once.
    for repo in ["base", "app"] {
        let tags = origin_tags(dir.path(), repo);
        assert_eq!(tags.lines().filter(|t| t.starts_with("v1.0.1")).count(), 1, "{repo}: {tags}");
    }
    // The dashboard shows the run and the graph, coloured.
    let (status, page) = second.request("GET", "/", &[], b"");
    assert_eq!(status, 200);
    assert!(page.contains(r#"data-repo="base" data-outcome="succeeded""#), "{page}");
    assert!(page.contains(r#"data-state="succeeded""#), "{page}");
    assert!(!page.contains(SECRET));
}

/// Issue 17: a replica killed while it runs a job leaves it to another replica on the same
/// queue, which takes it when the lease expires and resumes the run from the journal: every
/// repo is released once, and the job succeeds on its second attempt.
#[test]
fn a_replica_killed_mid_job_leaves_the_job_to_another() {
    let dir = workspace();
    let first = Serve::start(dir.path(), &[], "serve-1.log");
    let (status, body) = first.deliver("push", "delivery-1", &push("base", "0123abcd"));
    assert_eq!(status, 202, "{body}");
    // Killed as soon as its worker has started the job (bounded wait on its log).
    let log = dir.path().join("serve-1.log");
    let started = Instant::now();
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("job started") {
        assert!(started.elapsed() < Duration::from_secs(60), "the job never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill();

    let second = Serve::start(dir.path(), &[], "serve-2.log");
    let log = dir.path().join("serve-2.log");
    second.wait_for_metric("orchestrator_jobs{state=\"succeeded\"} 1", &log);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("\"attempt\":2"), "taken over as attempt 2:\n{text}");
    for repo in ["base", "app"] {
        let tags = origin_tags(dir.path(), repo);
        assert_eq!(tags.lines().filter(|t| t.starts_with("v1.0.1")).count(), 1, "{repo}: {tags}");
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
        &[("X-GitHub-Event", "push".to_owned()), ("X-GitHub-Delivery", "d".to_owned())],
        push("base", "x").to_string().as_bytes(),
    );
    assert_eq!(status, 401, "{body}");
    let (_, metrics) = serve.request("GET", "/metrics", &[], b"");
    assert!(metrics.contains("orchestrator_queue_depth 0\n"), "{metrics}");
    let log = std::fs::read_to_string(dir.path().join("serve.log")).expect("log");
    assert!(!log.contains(SECRET), "the secret is never logged");
    let first = log.lines().next().expect("a log line");
    serde_json::from_str::<serde_json::Value>(first).expect("JSON log lines");
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
    assert!(stderr.contains("ORCHESTRATOR_WEBHOOK_SECRET is not set"), "{stderr}");
}
