//! `orchestrator serve`'s HTTP face against the in-memory queue: the router is called in
//! memory (no socket), with GitHub's headers and real signatures.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use orchestrator_serve::queue::{InMemoryJobQueue, JobQueue};
use orchestrator_serve::server::DashboardToken;
use orchestrator_serve::{ServeState, WebhookSecret, router};
use serde_json::{Value, json};
use tower::ServiceExt;

fn secret() -> WebhookSecret {
    WebhookSecret::new("s3cret-for-tests").expect("not empty")
}

fn service() -> (Arc<ServeState>, Arc<InMemoryJobQueue>) {
    let queue = Arc::new(InMemoryJobQueue::new());
    let mut state = ServeState::new(queue.clone(), secret());
    state.max_body = 64 * 1024;
    (Arc::new(state), queue)
}

fn push(sha: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "after": sha,
        "repository": {"full_name": "acme/core", "default_branch": "main"},
    }))
    .expect("json")
}

async fn deliver(
    state: &Arc<ServeState>,
    event: &str,
    delivery: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> (StatusCode, Value) {
    let mut request = Request::post("/webhook")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn signed(
    state: &Arc<ServeState>,
    event: &str,
    delivery: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let signature = secret().sign(&body);
    deliver(state, event, delivery, body, Some(signature)).await
}

async fn get(state: &Arc<ServeState>, path: &str, auth: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn a_signed_push_is_stored_before_202() {
    let (state, queue) = service();
    let (status, body) = signed(&state, "push", "d-1", push("a1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["outcome"], "enqueued");
    let jobs = queue.recent(10).await.expect("recent");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, "cascade:acme/core");
    assert_eq!(jobs[0].triggers[0]["client_payload"]["sha"], "a1");
}

#[tokio::test]
async fn bad_and_missing_signatures_are_401_and_counted() {
    let (state, queue) = service();
    let forged = WebhookSecret::new("guess")
        .expect("not empty")
        .sign(&push("a1"));
    let (status, body) = deliver(&state, "push", "d-1", push("a1"), Some(forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "X-Hub-Signature-256 does not match the body");
    let (status, _) = deliver(&state, "push", "d-2", push("a1"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A good signature over another body does not carry over.
    let other = secret().sign(&push("a2"));
    let (status, _) = deliver(&state, "push", "d-3", push("a1"), Some(other)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(queue.recent(10).await.expect("recent").is_empty());
    assert_eq!(
        state.metrics.verification_failures.load(Ordering::Relaxed),
        3
    );
    let (_, metrics) = get(&state, "/metrics", None).await;
    assert!(
        metrics.contains("orchestrator_webhook_verification_failures_total 3\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_replayed_delivery_stores_nothing_more() {
    let (state, queue) = service();
    assert_eq!(
        signed(&state, "push", "d-1", push("a1")).await.1["outcome"],
        "enqueued"
    );
    let (status, body) = signed(&state, "push", "d-1", push("a1")).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::ACCEPTED, Some("replayed"))
    );
    let jobs = queue.recent(10).await.expect("recent");
    assert_eq!((jobs.len(), jobs[0].triggers.len()), (1, 1));
}

#[tokio::test]
async fn a_burst_of_20_pushes_is_one_cascade_with_20_triggers() {
    let (state, queue) = service();
    for n in 0..20 {
        let (status, body) =
            signed(&state, "push", &format!("d-{n}"), push(&format!("sha{n}"))).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(
            body["outcome"],
            if n == 0 { "enqueued" } else { "coalesced" }
        );
    }
    let jobs = queue.recent(10).await.expect("recent");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].triggers.len(), 20);
    assert_eq!(jobs[0].triggers[19]["client_payload"]["sha"], "sha19");
}

#[tokio::test]
async fn oversized_malformed_and_unknown_deliveries() {
    let (state, queue) = service();
    let big = vec![b' '; 64 * 1024 + 1];
    let (status, _) = signed(&state, "push", "d-big", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = signed(
        &state,
        "push",
        "d-bad",
        br#"{"ref":"refs/heads/main"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "push: repository.full_name is missing or not a string"
    );
    let (status, body) = signed(&state, "push", "d-nojson", b"not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .expect("text")
            .starts_with("push: the body is not JSON")
    );
    let (status, body) = signed(&state, "gollum", "d-wiki", b"{}".to_vec()).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::ACCEPTED, Some("ignored"))
    );
    assert!(queue.recent(10).await.expect("recent").is_empty());
}

#[tokio::test]
async fn probes_and_the_dashboard_token() {
    let (state, _) = service();
    assert_eq!(get(&state, "/healthz", None).await.0, StatusCode::OK);
    assert_eq!(get(&state, "/readyz", None).await.0, StatusCode::OK);
    assert_eq!(
        get(&state, "/", None).await.0,
        StatusCode::OK,
        "no token configured: open"
    );
    let mut guarded = ServeState::new(Arc::new(InMemoryJobQueue::new()), secret());
    guarded.dashboard_token = DashboardToken::new("let-me-see");
    let guarded = Arc::new(guarded);
    assert_eq!(get(&guarded, "/", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&guarded, "/", Some("Bearer wrong")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, page) = get(&guarded, "/", Some("Bearer let-me-see")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>orchestrator serve</h1>"));
    assert!(!page.contains("let-me-see"), "the token is not echoed");
    guarded.stopping.store(true, Ordering::SeqCst);
    assert_eq!(
        get(&guarded, "/readyz", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// Issue 17: a `release` webhook for a repo being waited on wakes the wait through the service:
/// the wait (20 minutes between polls while the release does not exist) sees the new release at
/// once. The bound only says "does not hang".
#[tokio::test]
async fn a_release_webhook_wakes_the_wait_on_its_repo() {
    use std::time::Duration;

    use orchestrator_core::config::AssetPattern;
    use orchestrator_core::engine::{CancelToken, SilentObserver};
    use orchestrator_core::forge::{InMemoryForge, NewRelease, ReleaseWriteForge, RepoId};
    use orchestrator_core::release::{WaitSpec, wait_for_assets};
    use orchestrator_core::step::StepContext;
    use orchestrator_core::version::ReleaseVersion;

    let (state, _) = service();
    let repo = RepoId::new("acme", "woken-by-webhook");
    let forge = Arc::new(InMemoryForge::new());
    let version = ReleaseVersion::parse("1.0.0").expect("version");
    let spec = WaitSpec {
        repo: repo.clone(),
        tag: "v1.0.0".into(),
        patterns: vec![
            AssetPattern::parse("app.tar.gz")
                .expect("pattern")
                .for_version(&version),
        ],
        poll_interval: Duration::from_secs(600),
        timeout: Duration::from_secs(3600),
        stable_polls: 0,
        fresh_tag: false,
    };
    let waiting = tokio::spawn({
        let forge = Arc::clone(&forge);
        async move {
            let ctx = StepContext::new("wait:app", Arc::new(SilentObserver), CancelToken::new());
            wait_for_assets(forge.as_ref(), &spec, &ctx).await
        }
    });
    // The wait has polled once (nothing there) and sleeps.
    while orchestrator_core::release::waits_in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let release = forge
        .create_release(
            &repo,
            &NewRelease {
                tag: "v1.0.0".into(),
                ..NewRelease::default()
            },
        )
        .await
        .expect("release");
    forge
        .upload_asset(&repo, release.id, "app.tar.gz", b"bytes")
        .await
        .expect("asset");
    let body = serde_json::to_vec(&json!({
        "action": "published",
        "release": {"tag_name": "v1.0.0"},
        "repository": {"full_name": "acme/woken-by-webhook"},
    }))
    .expect("json");
    let (status, answer) = signed(&state, "release", "d-release", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["outcome"], "woke");
    assert_eq!(answer["waits"], 1);
    let report = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("woken, not sleeping out its 20 minutes")
        .expect("no panic")
        .expect("ready");
    assert_eq!(report.polls, 2);
}

/// Records the jobs it ran.
#[derive(Debug, Default)]
struct Recording {
    ran: std::sync::Mutex<Vec<(orchestrator_serve::JobKind, String)>>,
}

#[async_trait::async_trait]
impl orchestrator_serve::JobHandler for Recording {
    async fn run(
        &self,
        job: &orchestrator_serve::Job,
        _: tokio::sync::watch::Receiver<bool>,
    ) -> orchestrator_core::Result<()> {
        self.ran
            .lock()
            .expect("not poisoned")
            .push((job.kind, job.key.clone()));
        Ok(())
    }
}

/// The service composed as the binary runs it, from Rust: a webhook its router stores is
/// claimed by its worker and run by the handler it was given, in a SQLite queue beside the
/// state; the stop future ends it cleanly, `/readyz` failing first.
#[tokio::test]
async fn the_service_runs_a_delivered_job_through_its_handler_and_stops_cleanly() {
    use orchestrator_serve::{JobKind, Service, ServiceOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        orchestrator_core::config::Config::parse("", &dir.path().join("orchestrator.toml"))
            .expect("config");
    let handler = Arc::new(Recording::default());
    let options = ServiceOptions {
        // Waits elsewhere in this test binary keep their pace (the stretch is process-wide).
        poll_stretch: 1,
        ..ServiceOptions::default()
    };
    let state_dir = dir.path().join("state");
    let workspace = orchestrator_core::workspace::Workspace::builder(config)
        .state_dir(&state_dir)
        .expect("absolute")
        .build();
    let service = Service::open(&workspace, secret(), handler.clone(), options)
        .await
        .expect("open");
    let listening = service
        .bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let state = Arc::clone(listening.state());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(listening.run(async move {
        let _ = stopped.await;
    }));
    let (status, body) = signed(&state, "push", "d-service", push("abc")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // A generous bound: one claim of one job.
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while state.queue.stats().await.expect("stats").succeeded < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the job ran");
    assert_eq!(
        *handler.ran.lock().expect("not poisoned"),
        vec![(JobKind::Cascade, "cascade:acme/core".to_owned())]
    );
    stop.send(()).expect("running");
    let stopped = running.await.expect("no panic").expect("served");
    assert_eq!(stopped.failed_tasks, 0);
    assert!(state.stopping.load(Ordering::SeqCst), "/readyz fails");
    assert!(
        state_dir
            .join(orchestrator_serve::service::DEFAULT_QUEUE_FILE)
            .exists()
    );
}
