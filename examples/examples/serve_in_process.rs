//! Runs `orchestrator serve` inside a Rust program: `orchestrator_serve::Service`, with core's
//! workflows as its jobs (`WorkflowJobs`), gets the binary's guarantees in a few lines:
//!
//! 1. a signed `push` webhook, sent over loopback HTTP as GitHub sends it, is stored in the
//!    durable queue (SQLite beside the state) before `202` is answered;
//! 2. a worker runs it as `orchestrator cascade` would: core's `CascadeWorkflow` through the
//!    workspace's one driver (lock, journal, credential check, resume), so the pushed repo is
//!    released (`lib` 1.0.0 → 1.0.1, tagged and pushed; the simulated CI makes the release);
//! 3. a webhook with a bad signature is refused with `401` and stores nothing;
//! 4. the stop future ends the service cleanly.
//!
//! No network, no token: a real git repo with a bare origin and the simulated forge
//! (`[forge.simulate]`). It takes a few seconds.
//!
//! ```text
//! cargo run -p orchestrator-examples --example serve_in_process
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use orchestrator_core::config::Config;
use orchestrator_core::publish::PublishReport;
use orchestrator_core::workspace::{Finished, Workspace};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, git};
use orchestrator_serve::{JobReports, Service, ServiceOptions, WebhookSecret, WorkflowJobs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One npm package, released by a tag push that the simulated CI builds.
const CONFIG: &str = r#"
[forge]
owner = "acme"
simulate = { ci_delay = "50ms", asset_interval = "10ms" }

[release]
poll_interval = "20ms"
timeout = "30s"

[[repo]]
name = "lib"
manifest = "package.json"
trigger = "tag"
"#;

const SECRET: &str = "example-webhook-secret";

/// Prints each cascade's packages as they end.
#[derive(Debug)]
struct Print;

impl JobReports for Print {
    fn cascade(&self, _: &Workspace, finished: &Finished<Option<PublishReport>>) {
        for package in finished.report.iter().flat_map(|r| &r.packages) {
            let outcome = package.outcome.as_str();
            println!(
                "  job: {} {} ({}) {outcome}",
                package.name, package.version, package.tag
            );
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let lib = Sandbox::new(root)?.create_repo(
        "lib",
        &[(
            "package.json",
            "{ \"name\": \"lib\", \"version\": \"1.0.0\" }\n",
        )],
    )?;
    let clone = lib.clone.clone();
    git(&clone, &["tag", "-a", "v1.0.0", "-m", "v1.0.0"])?;
    git(&clone, &["push", "-q", "origin", "v1.0.0"])?;
    let config = Config::parse(CONFIG, &root.join("orchestrator.toml"))?;

    // Each job gets a fresh workspace (its own cancel token) over the same state directory.
    let workspace = move || {
        Ok(Workspace::builder(config.clone())
            .vcs(Arc::new(GixVcs::new()))
            .build())
    };
    let jobs = WorkflowJobs::new(Arc::new(workspace.clone()), root.join("scratch"))
        .reports(Arc::new(Print));
    let secret = WebhookSecret::new(SECRET)?;
    let service = Service::open(
        &workspace()?,
        secret,
        Arc::new(jobs),
        ServiceOptions::default(),
    )
    .await?
    .bind("127.0.0.1:0".parse()?)
    .await?;
    let address = service.local_addr();
    let state = Arc::clone(service.state());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(service.run(async move {
        let _ = stopped.await;
    }));
    println!("serving on http://{address}");

    // 1 and 2: a push of lib's HEAD, signed with the secret.
    let head = git(&clone, &["rev-parse", "HEAD"])?;
    let push = serde_json::json!({
        "ref": "refs/heads/main",
        "after": head.trim(),
        "repository": {"full_name": "acme/lib", "default_branch": "main"},
    });
    let signature = WebhookSecret::new(SECRET)?.sign(push.to_string().as_bytes());
    let status = post(address, "push-1", &push, &signature).await?;
    println!("push webhook: {status}");
    ensure!(status.contains(" 202 "), "the push was accepted");
    for _ in 0..600 {
        if state.queue.stats().await?.succeeded == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tags = git(&lib.origin, &["tag", "--list"])?;
    println!(
        "origin's tags: {}",
        tags.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    ensure!(
        tags.lines().any(|t| t == "v1.0.1"),
        "the cascade released lib 1.0.1"
    );

    // 3: a forged signature is refused, and nothing is queued.
    let status = post(address, "push-2", &push, "sha256=00").await?;
    println!("forged webhook: {status}");
    ensure!(status.contains(" 401 "), "a bad signature is refused");
    ensure!(state.queue.stats().await?.pending == 0, "nothing queued");

    // 4: stop.
    let _ = stop.send(());
    let stopped = running.await??;
    ensure!(stopped.failed_tasks == 0, "every worker ended cleanly");
    println!("stopped cleanly");
    Ok(())
}

/// POSTs `body` to the service's `/webhook` as GitHub would; the response's status line.
async fn post(
    address: SocketAddr,
    delivery: &str,
    body: &serde_json::Value,
    signature: &str,
) -> anyhow::Result<String> {
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "POST /webhook HTTP/1.1\r\nHost: {address}\r\nX-GitHub-Event: push\r\n\
         X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {signature}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    answer
        .lines()
        .next()
        .map(str::to_owned)
        .context("an HTTP answer")
}
