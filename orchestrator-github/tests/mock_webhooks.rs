//! The mock GitHub sends GitHub's webhooks: a flow that causes every kind it sends (a tag its
//! simulated CI builds, a dispatched workflow run, a pull request with a comment, an edit and a
//! review, a release made through the API) is delivered to a loopback receiver, and every
//! delivery carries GitHub's headers, a valid signature, and a payload that
//! `@octokit/webhooks-schemas` accepts for its event and action.
//!
//! The schema comes from the package `.ci/tools/npm-webhooks.sh` installs: without it the schema
//! check says it is skipped (the delivery checks still run), unless
//! `ORCHESTRATOR_REQUIRE_EXTERNAL=1` (as in CI), when it fails naming the script.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::request;
use common::origin::BareOrigin;
use hmac::{Hmac, Mac};
use orchestrator_core::forge::{CiRepo, CiSimulation, RepoId};
use orchestrator_github::mock::{MockGitHub, MockOptions, MockWebhook};
use serde_json::{Value, json};

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// `event/action` (`push` for pushes).
    fn kind(&self) -> String {
        let event = self.header("x-github-event");
        match self.json()["action"].as_str() {
            Some(action) => format!("{event}/{action}"),
            None => event,
        }
    }
}

/// A loopback webhook receiver that answers `500` to the first `fail_first` deliveries.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receiver(fail_first: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let refused = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().fallback({
        let got = Arc::clone(&got);
        move |headers: http::HeaderMap, body: axum::body::Bytes| {
            let got = Arc::clone(&got);
            let refused = Arc::clone(&refused);
            async move {
                let mut refused = refused.lock().expect("not poisoned");
                if *refused < fail_first {
                    *refused += 1;
                    return http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                got.lock().expect("not poisoned").push(Received {
                    headers: headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                        .collect(),
                    body: body.to_vec(),
                });
                http::StatusCode::OK
            }
        }
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { url, got, server }
}

/// `@octokit/webhooks-schemas`' schema, if `.ci/tools/npm-webhooks.sh` installed it.
fn webhook_schema() -> Option<Value> {
    let tools = std::env::var_os("ORCHESTRATOR_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orchestrator-ci"))
        })?;
    let file = tools.join("npm-webhooks/node_modules/@octokit/webhooks-schemas/schema.json");
    let text = std::fs::read_to_string(file).ok()?;
    Some(serde_json::from_str(&text).expect("schema.json is JSON"))
}

const SECRET: &str = "It's a Secret to Everybody";

/// Every kind the flow below causes.
const KINDS: &[&str] = &[
    "push",
    "release/created",
    "release/published",
    "release/edited",
    "workflow_run/requested",
    "workflow_run/in_progress",
    "workflow_run/completed",
    "pull_request/opened",
    "pull_request/closed",
    "issue_comment/created",
    "issue_comment/edited",
    "pull_request_review/submitted",
];

// Several threads: the git commands below block theirs, and the sender's timers must not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_has_githubs_headers_signature_and_payload_schema() {
    let schema = webhook_schema();
    if schema.is_none() && std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!("@octokit/webhooks-schemas is not installed: run .ci/tools/npm-webhooks.sh");
    }
    let receiver = receiver(2).await;
    let origins = tempfile::tempdir().expect("tempdir");
    let origin = BareOrigin::create(&origins.path().join("app.git"));
    origin.commit_file(
        "main",
        ".github/workflows/release.yml",
        "on: workflow_dispatch\n",
        "workflow",
    );
    let main = origin.commit_file("main", "README.md", "hello\n", "readme");
    origin.commit_file("feature", "src/lib.rs", "pub fn f() {}\n", "a feature");
    let repo = RepoId::new("acme", "app");
    let mut ci = CiSimulation {
        delay: Duration::from_millis(100),
        asset_interval: Duration::from_millis(100),
        ..CiSimulation::default()
    };
    ci.repos.insert(
        repo.clone(),
        CiRepo {
            assets: vec!["app-{version}.tar.gz".into(), "app-{version}.sha256".into()],
            origin: Some(origin.path().to_owned()),
            ..CiRepo::default()
        },
    );
    let hook = MockWebhook::new(&receiver.url)
        .secret(SECRET)
        .retries(4, Duration::from_millis(20));
    let mock = MockGitHub::start(
        MockOptions::default()
            .origins(origins.path())
            .ci(ci)
            .webhook(hook),
    )
    .await
    .expect("mock starts");
    let base = mock.url().to_owned();
    let r = "/repos/acme/app";
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let base = base.clone();
        async move {
            let reply = request(&base, method, &path, body.as_ref(), &[]).await;
            assert!(
                reply.status < 300,
                "{method} {path}: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
            serde_json::from_slice::<Value>(&reply.body).unwrap_or(Value::Null)
        }
    };

    // A tag the simulated CI builds: push, then the release's moments on CI's clock.
    origin.tag("v1.0.0", &main);
    // A dispatched run: requested, in_progress, completed.
    call(
        "POST",
        format!("{r}/actions/workflows/release.yml/dispatches"),
        Some(json!({"ref": "main"})),
    )
    .await;
    // A pull request, a comment, its edit, a review, and the close.
    let pull = call(
        "POST",
        format!("{r}/pulls"),
        Some(json!({"title": "A feature", "head": "feature", "base": "main"})),
    )
    .await;
    let number = pull["number"].as_u64().expect("a number");
    let comment = call(
        "POST",
        format!("{r}/issues/{number}/comments"),
        Some(json!({"body": "/plan"})),
    )
    .await;
    call(
        "PATCH",
        format!("{r}/issues/comments/{}", comment["id"]),
        Some(json!({"body": "/plan please"})),
    )
    .await;
    call(
        "POST",
        format!("{r}/pulls/{number}/reviews"),
        Some(json!({"event": "COMMENT", "body": "reads well"})),
    )
    .await;
    call(
        "PATCH",
        format!("{r}/pulls/{number}"),
        Some(json!({"state": "closed"})),
    )
    .await;

    // Everything arrives (a generous bound: the flow itself takes under a second).
    let deadline = Instant::now() + Duration::from_secs(30);
    let got = loop {
        let got = receiver.got.lock().expect("not poisoned").clone();
        let kinds: BTreeSet<String> = got.iter().map(Received::kind).collect();
        let settled = got.iter().any(|d| {
            d.kind() == "release/edited"
                && d.json()["release"]["assets"]
                    .as_array()
                    .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x["state"] == "uploaded"))
        });
        if KINDS.iter().all(|k| kinds.contains(*k)) && settled {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "missing deliveries: {:?}; got {kinds:?}",
            KINDS
                .iter()
                .filter(|k| !kinds.contains(**k))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for delivery in &got {
        let kind = delivery.kind();
        let event = delivery.header("x-github-event");
        if delivery.header("content-type") != "application/json" {
            problems.push(format!(
                "{kind}: Content-Type {:?}",
                delivery.header("content-type")
            ));
        }
        if !delivery
            .header("user-agent")
            .starts_with("GitHub-Hookshot/")
        {
            problems.push(format!(
                "{kind}: User-Agent {:?}",
                delivery.header("user-agent")
            ));
        }
        if delivery.header("x-github-hook-id").parse::<u64>().is_err() {
            problems.push(format!("{kind}: no numeric X-GitHub-Hook-ID"));
        }
        let id = delivery.header("x-github-delivery");
        if id.len() != 36 || id.as_bytes()[14] != b'4' || !ids.insert(id.clone()) {
            problems.push(format!(
                "{kind}: X-GitHub-Delivery {id:?} is not a fresh v4 UUID"
            ));
        }
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("a key");
        mac.update(&delivery.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        if delivery.header("x-hub-signature-256") != expected {
            problems.push(format!("{kind}: X-Hub-Signature-256 does not verify"));
        }
        let body = delivery.json();
        if body["repository"]["full_name"] != "acme/app" {
            problems.push(format!(
                "{kind}: repository.full_name {}",
                body["repository"]["full_name"]
            ));
        }
        if event.is_empty() {
            problems.push(format!("{kind}: no X-GitHub-Event"));
        }
    }
    // Each delivery shows the moment it announces, not an earlier one.
    for delivery in got
        .iter()
        .filter(|d| d.header("x-github-event") == "release")
    {
        let body = delivery.json();
        let release = &body["release"];
        if release["tag_name"] != "v1.0.0" {
            continue;
        }
        match body["action"].as_str() {
            Some("created") => assert_eq!(release["draft"], true, "created: a draft"),
            Some("published") | Some("edited") => {
                assert_eq!(release["draft"], false, "{}: published", body["action"]);
            }
            other => panic!("unexpected release action {other:?}"),
        }
    }
    let pushes: Vec<Value> = got
        .iter()
        .filter(|d| d.kind() == "push")
        .map(Received::json)
        .collect();
    assert_eq!(pushes[0]["ref"], "refs/tags/v1.0.0");
    assert_eq!(pushes[0]["after"], main.as_str());
    let completed = got
        .iter()
        .find(|d| d.kind() == "workflow_run/completed")
        .expect("completed")
        .json();
    assert_eq!(completed["workflow_run"]["conclusion"], "success");
    assert_eq!(
        completed["workflow"]["path"],
        ".github/workflows/release.yml"
    );

    // Failed attempts were retried (the receiver refused the first two) and counted.
    let stats = mock.stats().webhooks;
    assert!(stats.retries >= 2, "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(stats.delivered, got.len() as u64, "{stats:?}");

    match schema {
        Some(schema) => {
            let mut checked = BTreeSet::new();
            for delivery in &got {
                let event = delivery.header("x-github-event");
                let body = delivery.json();
                let definition = match body["action"].as_str() {
                    Some(action) => format!("{event}${action}"),
                    None => format!("{event}$event"),
                };
                let mut root = schema.clone();
                root.as_object_mut().expect("an object").remove("oneOf");
                root["allOf"] = json!([{"$ref": format!("#/definitions/{definition}")}]);
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft7)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("{definition}: the schema does not compile: {e}"));
                for e in validator.iter_errors(&body) {
                    problems.push(format!("{definition}: at '{}': {e}", e.instance_path()));
                }
                checked.insert(definition);
            }
            eprintln!("validated {} deliveries of {checked:?}", got.len());
        }
        None => eprintln!(
            "skipped: @octokit/webhooks-schemas not installed (run .ci/tools/npm-webhooks.sh)"
        ),
    }
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    mock.shutdown().await;
}
