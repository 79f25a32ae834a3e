//! The HTTP face of `orchestrator serve`.
//!
//! - `POST /webhook`: body read up to the limit (413 beyond), signature verified (401), payload
//!   classified (400 naming the field), the job stored, *then* `202`. A replayed delivery id
//!   answers `202` with `"outcome": "replayed"` and stores nothing.
//! - `GET /healthz`: the process answers. `GET /readyz`: the queue answers and the service is not
//!   shutting down (so a terminating pod leaves the Service before it stops).
//! - `GET /metrics`: Prometheus text. `GET /`: the dashboard, behind a bearer token when one is
//!   configured.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::dashboard::{self, DashboardSource};
use crate::event::{Intake, classify};
use crate::metrics::{Metrics, bump};
use crate::queue::{EnqueueOutcome, JobQueue};
use crate::signature::{WebhookSecret, verify_signature};
use crate::wake::{Wake, WakeBus};

/// GitHub caps webhook payloads at 25 MB; ours are far smaller. The default limit.
pub const DEFAULT_MAX_BODY: usize = 5 * 1024 * 1024;

/// The cookie a browser presents the dashboard token in (set by `/?token=…`).
const TOKEN_COOKIE: &str = "orchestrator_dashboard";

/// The dashboard's bearer token (`ORCHESTRATOR_DASHBOARD_TOKEN`); `Debug` never shows it.
#[derive(Clone)]
pub struct DashboardToken(Vec<u8>);

impl DashboardToken {
    /// The token; `None` for an empty one (an empty token would admit anyone).
    pub fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Self(Sha256::digest(token.as_bytes()).to_vec()))
    }

    /// Constant-time comparison of digests: timing says nothing about the token.
    fn matches(&self, presented: &str) -> bool {
        let presented = Sha256::digest(presented.as_bytes());
        self.0
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for DashboardToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DashboardToken(<redacted>)")
    }
}

/// What the handlers share.
#[derive(Debug)]
pub struct ServeState {
    /// Where accepted webhooks go.
    pub queue: Arc<dyn JobQueue>,
    /// Verifies `X-Hub-Signature-256`.
    pub secret: WebhookSecret,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Notified after a job is stored, so this replica's worker takes it at once.
    pub wake: Arc<Notify>,
    /// Largest accepted body, bytes.
    pub max_body: usize,
    /// When set, `/` needs it.
    pub dashboard_token: Option<DashboardToken>,
    /// The dashboard's data; `None` serves the jobs only.
    pub dashboard: Option<Arc<dyn DashboardSource>>,
    /// Set on SIGTERM: `/readyz` fails so the load balancer stops sending work.
    pub stopping: AtomicBool,
    /// Tells the other replicas about wakes this one receives; `None`: a lone replica.
    pub wakes: Option<Arc<dyn WakeBus>>,
}

impl ServeState {
    /// State with the defaults: no dashboard token or source, [`DEFAULT_MAX_BODY`].
    pub fn new(queue: Arc<dyn JobQueue>, secret: WebhookSecret) -> Self {
        Self {
            queue,
            secret,
            metrics: Arc::new(Metrics::default()),
            wake: Arc::new(Notify::new()),
            max_body: DEFAULT_MAX_BODY,
            dashboard_token: None,
            dashboard: None,
            stopping: AtomicBool::new(false),
            wakes: None,
        }
    }
}

/// The service's routes.
pub fn router(state: Arc<ServeState>) -> Router {
    Router::new()
        .route("/webhook", post(webhook))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(dashboard_page))
        .with_state(state)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn webhook(State(state): State<Arc<ServeState>>, headers: HeaderMap, body: Body) -> Response {
    let delivery = header_text(&headers, "x-github-delivery").map(str::to_owned);
    let too_large = || {
        bump(&state.metrics.too_large);
        tracing::warn!(
            delivery,
            limit = state.max_body,
            "webhook refused: body too large"
        );
        answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": format!("body over {} bytes", state.max_body)}),
        )
    };
    let declared = header_text(&headers, "content-length").and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > state.max_body) {
        return too_large();
    }
    let Ok(bytes) = axum::body::to_bytes(body, state.max_body).await else {
        return too_large();
    };
    if let Err(e) = verify_signature(
        &state.secret,
        &bytes,
        header_text(&headers, "x-hub-signature-256"),
    ) {
        bump(&state.metrics.verification_failures);
        tracing::warn!(delivery, reason = %e, "webhook refused: signature");
        return answer(StatusCode::UNAUTHORIZED, json!({"error": e.to_string()}));
    }
    let bad = |message: String| {
        bump(&state.metrics.bad_payloads);
        tracing::warn!(delivery, %message, "webhook refused: payload");
        answer(StatusCode::BAD_REQUEST, json!({"error": message}))
    };
    let Some(event) = header_text(&headers, "x-github-event") else {
        return bad("missing X-GitHub-Event header".to_owned());
    };
    let payload: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return bad(format!("{event}: the body is not JSON: {e}")),
    };
    let intake = match classify(event, delivery.as_deref(), &payload) {
        Ok(intake) => intake,
        Err(e) => return bad(e.to_string()),
    };
    match intake {
        Intake::Ignored { reason } => {
            bump(&state.metrics.webhooks_ignored);
            tracing::info!(delivery, event, %reason, "webhook ignored");
            answer(
                StatusCode::ACCEPTED,
                json!({"outcome": "ignored", "reason": reason}),
            )
        }
        Intake::Wake { repo, release } => {
            bump(&state.metrics.webhooks_woke);
            let woken = match &release {
                Some(release) => orchestrator_core::release::wake_waits_for_release(&repo, release),
                None => orchestrator_core::release::wake_waits(&repo),
            };
            tracing::info!(delivery, event, %repo, woken, "webhook woke waits");
            // The wait may run on another replica. Not delivered, it polls (the fallback): the
            // webhook is still answered 202.
            if let Some(bus) = &state.wakes
                && let Err(e) = bus
                    .publish(&Wake {
                        repo: repo.clone(),
                        release,
                    })
                    .await
            {
                tracing::warn!(delivery, %repo, error = %e, "wake not passed to the other replicas");
            }
            answer(
                StatusCode::ACCEPTED,
                json!({"outcome": "woke", "waits": woken}),
            )
        }
        Intake::Job(job) => {
            let key = job.key.clone();
            // Stored (and fsynced) before the answer: a crash after 202 loses nothing.
            match state.queue.enqueue(job, crate::now_ms()).await {
                Ok(EnqueueOutcome::Replayed) => {
                    bump(&state.metrics.webhooks_replayed);
                    tracing::info!(delivery, event, "webhook replayed: already stored");
                    answer(StatusCode::ACCEPTED, json!({"outcome": "replayed"}))
                }
                Ok(outcome) => {
                    bump(&state.metrics.webhooks_accepted);
                    state.wake.notify_one();
                    let (word, id) = match outcome {
                        EnqueueOutcome::Enqueued(id) => ("enqueued", id),
                        EnqueueOutcome::Coalesced(id) => ("coalesced", id),
                        EnqueueOutcome::Replayed => unreachable!("answered above"),
                    };
                    tracing::info!(
                        delivery,
                        event,
                        key,
                        job = id,
                        outcome = word,
                        "webhook stored"
                    );
                    answer(StatusCode::ACCEPTED, json!({"outcome": word, "job": id}))
                }
                Err(e) => {
                    tracing::error!(delivery, event, error = %e, "webhook not stored");
                    answer(
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"error": "the job queue is unavailable; redeliver later"}),
                    )
                }
            }
        }
    }
}

async fn readyz(State(state): State<Arc<ServeState>>) -> Response {
    if state.stopping.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response();
    }
    match state.queue.stats().await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the job queue does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "job queue unavailable\n").into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<ServeState>>) -> Response {
    match state.queue.stats().await {
        Ok(stats) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            )],
            state
                .metrics
                .render(&stats, orchestrator_core::release::waits_in_flight()),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the job queue does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "job queue unavailable\n").into_response()
        }
    }
}

/// `?run=ID` picks the graph's run; `?token=…` signs a browser in (sets the cookie).
#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    run: Option<i64>,
    token: Option<String>,
}

/// The token a request presents: `Authorization: Bearer …` or the dashboard cookie.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(bearer) =
        header_text(headers, "authorization").and_then(|a| a.strip_prefix("Bearer "))
    {
        return Some(bearer.trim());
    }
    header_text(headers, "cookie")?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value)
}

async fn dashboard_page(
    State(state): State<Arc<ServeState>>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = &state.dashboard_token {
        if let Some(given) = query.token.as_deref().filter(|t| token.matches(t)) {
            // Move the token out of the address bar into an HttpOnly cookie.
            let cookie = format!("{TOKEN_COOKIE}={given}; HttpOnly; SameSite=Strict; Path=/");
            return match HeaderValue::from_str(&cookie) {
                Ok(cookie) => (
                    StatusCode::SEE_OTHER,
                    [
                        (header::SET_COOKIE, cookie),
                        (header::LOCATION, HeaderValue::from_static("/")),
                    ],
                )
                    .into_response(),
                Err(_) => (StatusCode::BAD_REQUEST, "bad token\n").into_response(),
            };
        }
        if !presented_token(&headers).is_some_and(|t| token.matches(t)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                "the dashboard needs ORCHESTRATOR_DASHBOARD_TOKEN as a bearer token\n",
            )
                .into_response();
        }
    }
    let snapshot = match &state.dashboard {
        Some(source) => source.snapshot(query.run).await,
        None => state
            .queue
            .recent(20)
            .await
            .map(|jobs| dashboard::DashboardSnapshot {
                jobs,
                ..dashboard::DashboardSnapshot::default()
            }),
    };
    match snapshot {
        Ok(snapshot) => {
            let now = i64::try_from(crate::now_ms()).unwrap_or(i64::MAX);
            axum::response::Html(dashboard::render(&snapshot, now)).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: cannot read state");
            (StatusCode::SERVICE_UNAVAILABLE, "state unavailable\n").into_response()
        }
    }
}
