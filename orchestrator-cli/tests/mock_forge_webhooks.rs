//! `orchestrator mock-forge --webhook-url URL --webhook-secret ENV_OR_VALUE` as a process: a tag
//! pushed to a watched origin is announced to a loopback receiver as GitHub would announce it
//! (`push`, then the release's `created`, `published` and `edited` as the simulated CI makes
//! them), signed with the secret taken from the named environment variable, which never appears
//! in the output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orchestrator_git::sandbox::{Sandbox, git};
use orchestrator_serve::{WebhookSecret, verify_signature};

mod common;
use common::MockForge;

const SECRET: &str = "whsec-mock-forge-test-0123456789";

/// One delivery: `X-GitHub-Event`, `X-Hub-Signature-256` and the body.
type Delivery = (String, String, Vec<u8>);

/// A loopback HTTP receiver on a thread: stores each request, answers `200`.
fn receiver() -> (String, Arc<Mutex<Vec<Delivery>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
    let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let store = Arc::clone(&got);
    // Ends with the test process (a thread blocked in accept holds nothing else).
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let (mut event, mut signature, mut length) = (String::new(), String::new(), 0);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                let value = value.trim().to_owned();
                match name.to_ascii_lowercase().as_str() {
                    "x-github-event" => event = value,
                    "x-hub-signature-256" => signature = value,
                    "content-length" => length = value.parse().unwrap_or(0),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                store
                    .lock()
                    .expect("not poisoned")
                    .push((event, signature, body));
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn a_pushed_tag_is_announced_with_signed_webhooks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let repo = sandbox
        .create_repo("app", &[("README.md", "app")])
        .expect("repo");
    std::fs::write(
        dir.path().join("orchestrator.toml"),
        "[forge]\nowner = \"acme\"\n[[repo]]\nname = \"app\"\nassets = [\"app-v{version}.tar.gz\"]\n",
    )
    .expect("config");
    let (url, got) = receiver();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(dir.path())
        .env("MOCK_HOOK_SECRET", SECRET)
        .env_remove("ORCHESTRATOR_LOG")
        .args([
            "mock-forge",
            "--ci-delay-ms",
            "50",
            "--asset-interval-ms",
            "50",
            "--webhook-url",
            &url,
            "--webhook-secret",
            "MOCK_HOOK_SECRET",
        ]);
    let mock = MockForge::spawn(cmd);
    git(&repo.clone, &["tag", "v1.0.0"]).expect("tag");
    git(&repo.clone, &["push", "-q", "origin", "v1.0.0"]).expect("push");

    // A generous bound: the release settles 150 ms after the mock sees the tag.
    let deadline = Instant::now() + Duration::from_secs(30);
    let wanted = [
        "push",
        "release/created",
        "release/published",
        "release/edited",
    ];
    let deliveries = loop {
        let deliveries = got.lock().expect("not poisoned").clone();
        let kinds: Vec<String> = deliveries
            .iter()
            .map(|(event, _, body)| {
                let body: serde_json::Value = serde_json::from_slice(body).expect("JSON");
                match body["action"].as_str() {
                    Some(action) => format!("{event}/{action}"),
                    None => event.clone(),
                }
            })
            .collect();
        if wanted.iter().all(|w| kinds.iter().any(|k| k == w)) {
            break deliveries;
        }
        assert!(Instant::now() < deadline, "got only {kinds:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let secret = WebhookSecret::new(SECRET).expect("a secret");
    for (event, signature, body) in &deliveries {
        verify_signature(&secret, body, Some(signature))
            .unwrap_or_else(|e| panic!("{event}: the signature does not verify: {e}"));
        let body: serde_json::Value = serde_json::from_slice(body).expect("JSON");
        assert_eq!(body["repository"]["full_name"], "acme/app", "{event}");
    }
    let (status, stderr) = mock.stop(SECRET);
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("delivering webhooks to http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("webhook(s) delivered, 0 failed"),
        "{stderr}"
    );
}

#[test]
fn a_webhook_url_that_is_not_http_is_refused_in_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["mock-forge", "--webhook-url", "ftp://example.com/hook"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--webhook-url") && stderr.contains("is not an http:// URL"),
        "{stderr}"
    );
}
