//! The mock's webhook sender: what GitHub would POST to a repository's or an App's webhook URL
//! for the events the mock's API calls and its simulated CI cause.
//!
//! Why: a service that reacts to webhooks (`orchestrator serve`) can only be tested end to end,
//! and its event-driven waits measured, when something sends them at the moment GitHub would.
//!
//! - **When**: every [`MockEvent`] goes through [`EventLog`](super::events::EventLog), which
//!   queues it here. The simulated CI derives its releases from the clock when read, so nothing
//!   would announce them; instead, when a tag is first seen, the sender schedules one timer per
//!   moment of its release ([`Ci::transitions`](super::ci::Ci::transitions): the draft, its
//!   publication, each asset settling), each firing at the moment the API starts showing it. Runs
//!   of dispatched workflows (whose clock is private to the in-memory forge) are followed every
//!   [`FOLLOW_INTERVAL`] until they complete.
//! - **What**: GitHub's headers (`X-GitHub-Event`, `X-GitHub-Delivery` (a v4 UUID),
//!   `X-GitHub-Hook-ID`, `X-Hub-Signature-256`, `User-Agent: GitHub-Hookshot/…`) and payloads
//!   built from the same objects the API serves ([`routes::read`]), cut to the fields GitHub's
//!   payloads have and completed with neutral values for required ones the mock does not model.
//!   Those shapes are baked from `@octokit/webhooks-schemas` into `webhooks_shapes.json`
//!   (`.ci/tools/npm-webhooks/gen-shapes.py`); `tests/mock_webhooks.rs` validates every delivery
//!   against the full schema.
//! - **How**: asynchronously, each delivery its own task, retried [`MockWebhook::attempts`]
//!   times with a doubling pause; no API answer waits for one. Counted in
//!   [`MockStats::webhooks`](super::MockStats::webhooks).
//!
//! Sent: `release` (`created`, `published`, `edited`), `workflow_run` (`requested`,
//! `in_progress`, `completed`), `push` (tags the simulated CI builds), `pull_request`,
//! `issue_comment`, `pull_request_review`. Not sent: `issues` and labels (nothing here acts on
//! them).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use orchestrator_core::forge::RepoId;
use orchestrator_core::secret::SecretString;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::{JoinHandle, JoinSet};

use super::ci::CiTransition;
use super::events::MockEvent;
use super::objects::{ACTIONS_BOT, stable_id};
use super::users::user_json;
use super::{Shared, State, lock, origin, routes};

/// How often the sender looks for newly seen tags and follows dispatched runs.
pub(crate) const FOLLOW_INTERVAL: Duration = Duration::from_millis(10);

/// The longest one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how a [`MockGitHub`](super::MockGitHub) delivers webhooks
/// ([`MockOptions::webhook`](super::MockOptions::webhook), `mock-forge --webhook-url`).
///
/// ```
/// use orchestrator_github::mock::MockWebhook;
/// let hook = MockWebhook::new("http://127.0.0.1:8080/webhook").secret("s3cret");
/// assert!(!format!("{hook:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MockWebhook {
    /// The receiver, `http://…` (the mock speaks plain HTTP: loopback and test networks).
    pub url: String,
    /// Signs each body (`X-Hub-Signature-256`); without one, as on GitHub, no signature is sent.
    pub secret: Option<SecretString>,
    /// `X-GitHub-Hook-ID`.
    pub hook_id: u64,
    /// The GitHub App installation the payloads name (`installation.id`).
    pub installation_id: u64,
    /// Attempts per delivery (at least 1): a connection error or a non-`2xx` answer is retried.
    pub attempts: u32,
    /// The pause before the first retry; it doubles with each.
    pub retry_delay: Duration,
}

impl MockWebhook {
    /// Deliveries to `url`, unsigned, three attempts 200 ms apart (doubling).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: None,
            hook_id: 1,
            installation_id: 1,
            attempts: 3,
            retry_delay: Duration::from_millis(200),
        }
    }

    /// Sets [`MockWebhook::secret`].
    pub fn secret(mut self, secret: &str) -> Self {
        self.secret = Some(SecretString::new(secret));
        self
    }

    /// Sets [`MockWebhook::attempts`] and [`MockWebhook::retry_delay`].
    pub fn retries(mut self, attempts: u32, delay: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.retry_delay = delay;
        self
    }
}

/// Webhook deliveries of a [`MockGitHub`](super::MockGitHub), by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookStats {
    /// Deliveries the receiver answered `2xx`.
    pub delivered: u64,
    /// Deliveries given up after the last attempt.
    pub failed: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Delivered, by `event/action` (`push` for pushes).
    pub by_event: BTreeMap<String, u64>,
}

/// Starts the sender of `shared`'s events to `hook`: returns its task (abort it to stop it).
pub(crate) fn start(shared: Shared, hook: MockWebhook) -> JoinHandle<()> {
    let (sink, events) = unbounded_channel();
    {
        let mut state = lock(&shared);
        state.events.attach(sink);
        state.ci.keep_fresh();
    }
    tokio::spawn(run(shared, hook, events))
}

/// One webhook to deliver.
#[derive(Debug, Clone)]
struct Delivery {
    event: &'static str,
    action: String,
    body: Vec<u8>,
}

/// A run being followed until it completes: its repo, id and the status last announced.
type Followed = BTreeMap<(String, u64), String>;

async fn run(shared: Shared, hook: MockWebhook, mut events: UnboundedReceiver<MockEvent>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    // Scheduled CI moments, by when they come (the sequence number keeps equal instants apart).
    let mut timers: BTreeMap<(Instant, u64), MockEvent> = BTreeMap::new();
    let mut seq = 0u64;
    let mut followed = Followed::new();
    let mut repositories = BTreeMap::new();
    let mut sending = JoinSet::new();
    let mut tick = tokio::time::interval(FOLLOW_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = timers.keys().next().map(|(at, _)| *at);
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return };
                if let MockEvent::WorkflowRun { repo, run_id, action } = &event
                    && action != "completed"
                {
                    followed.insert((repo.clone(), *run_id), action.clone());
                }
                let delivery = {
                    let mut state = lock(&shared);
                    payload(&mut state, &hook, &mut repositories, &event)
                };
                match delivery {
                    Some(delivery) => {
                        sending.spawn(deliver(shared.clone(), hook.clone(), client.clone(), delivery));
                    }
                    None => tracing::debug!(?event, "mock: no webhook for this event"),
                }
            }
            () = sleep_until(next), if next.is_some() => {
                let now = Instant::now();
                let due: Vec<(Instant, u64)> = timers.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
                let state = lock(&shared);
                for key in due {
                    if let Some(event) = timers.remove(&key) {
                        state.events.emit(event);
                    }
                }
            }
            _ = tick.tick() => {
                let mut state = lock(&shared);
                for (repo, tag, seen) in state.ci.take_fresh() {
                    schedule_ci(&mut state, &repo, &tag, seen, &mut timers, &mut seq);
                }
                follow_runs(&mut state, &mut followed);
            }
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// Announces the push of `tag` (seen at `seen`) and schedules the moments of its release.
fn schedule_ci(
    state: &mut State,
    repo: &RepoId,
    tag: &str,
    seen: Instant,
    timers: &mut BTreeMap<(Instant, u64), MockEvent>,
    seq: &mut u64,
) {
    let name = repo.to_string();
    let sha = state
        .ci
        .origin(repo)
        .and_then(|o| origin::resolve(&o, &format!("refs/tags/{tag}")));
    if let Some(sha) = sha {
        state.events.emit(MockEvent::Push {
            repo: name.clone(),
            git_ref: format!("refs/tags/{tag}"),
            after: sha,
            before: "0".repeat(40),
        });
    }
    // A run that fails as a `CiFailure` says publishes nothing.
    if state.failures.iter().any(|f| f.matches(&name, Some(tag))) {
        return;
    }
    for (after, transition) in state.ci.transitions(repo, tag) {
        let (repo, tag) = (name.clone(), tag.to_owned());
        let event = match transition {
            CiTransition::Created => MockEvent::ReleaseCreated { repo, tag },
            CiTransition::Published => MockEvent::ReleasePublished { repo, tag },
            CiTransition::AssetSettled(asset) => MockEvent::AssetUploaded {
                repo,
                tag,
                name: asset,
            },
        };
        *seq += 1;
        timers.insert((seen + after, *seq), event);
    }
}

/// Announces each followed run's move to `in_progress` and `completed`.
fn follow_runs(state: &mut State, followed: &mut Followed) {
    let mut done = Vec::new();
    for ((repo, id), announced) in followed.iter_mut() {
        let Some(run) = routes::read(state, &format!("/repos/{repo}/actions/runs/{id}")) else {
            done.push((repo.clone(), *id));
            continue;
        };
        let status = run["status"].as_str().unwrap_or_default().to_owned();
        if announced == "requested" && (status == "in_progress" || status == "completed") {
            state.events.emit(MockEvent::WorkflowRun {
                repo: repo.clone(),
                run_id: *id,
                action: "in_progress".into(),
            });
            "in_progress".clone_into(announced);
        }
        if status == "completed" {
            state.events.emit(MockEvent::WorkflowRun {
                repo: repo.clone(),
                run_id: *id,
                action: "completed".into(),
            });
            done.push((repo.clone(), *id));
        }
    }
    for key in done {
        followed.remove(&key);
    }
}

/// The webhook GitHub sends for `event`, built from the mock's state now; `None` for events no
/// webhook is sent for (or whose object is gone).
fn payload(
    state: &mut State,
    hook: &MockWebhook,
    repositories: &mut BTreeMap<String, Value>,
    event: &MockEvent,
) -> Option<Delivery> {
    let (event_name, action, repo, mut body, sender) = match event {
        MockEvent::ReleaseCreated { repo, tag }
        | MockEvent::ReleasePublished { repo, tag }
        | MockEvent::AssetUploaded { repo, tag, .. } => {
            let action = match event {
                MockEvent::ReleaseCreated { .. } => "created",
                MockEvent::ReleasePublished { .. } => "published",
                _ => "edited",
            };
            // By tag (one release rendered, the lock held briefly) unless it may be a draft,
            // which GitHub hides from that route.
            let release = match routes::read(state, &format!("/repos/{repo}/releases/tags/{tag}")) {
                Some(release) => release,
                None => routes::read(state, &format!("/repos/{repo}/releases?per_page=100"))?
                    .as_array()?
                    .iter()
                    .find(|r| r["tag_name"] == tag.as_str())?
                    .clone(),
            };
            let mut release = release;
            // Webhook payloads list the uploaded assets only (their schema allows no other).
            if let Some(assets) = release["assets"].as_array_mut() {
                assets.retain(|a| a["state"] == "uploaded");
            }
            let sender = login_of(&release["author"]);
            let mut body = json!({"release": release});
            if action == "edited" {
                body["changes"] = json!({});
            }
            ("release", action.to_owned(), repo, body, sender)
        }
        MockEvent::WorkflowRun {
            repo,
            run_id,
            action,
        } => {
            let mut run = routes::read(state, &format!("/repos/{repo}/actions/runs/{run_id}"))?;
            // The status the action announces: a run read a moment late may have moved on.
            match action.as_str() {
                "requested" => {
                    run["status"] = json!("queued");
                    run["conclusion"] = Value::Null;
                }
                "in_progress" => {
                    run["status"] = json!("in_progress");
                    run["conclusion"] = Value::Null;
                }
                _ => {}
            }
            let workflow = workflow_of(state, repo, &run);
            let sender = login_of(&run["triggering_actor"])
                .or_else(|| login_of(&run["actor"]))
                .or_else(|| Some(ACTIONS_BOT.to_owned()));
            let body = json!({"workflow_run": run, "workflow": workflow});
            ("workflow_run", action.clone(), repo, body, sender)
        }
        MockEvent::Push {
            repo,
            git_ref,
            after,
            before,
        } => {
            let id: RepoId = repo.parse().ok()?;
            let commit = state.ci.origin(&id).and_then(|o| origin::commit(&o, after));
            let base = &state.base_url;
            let head_commit = commit.as_ref().map(|c| {
                json!({
                    "id": c.sha,
                    "tree_id": c.sha,
                    "distinct": true,
                    "message": c.message,
                    "timestamp": c.committer_date,
                    "url": format!("{base}/{repo}/commit/{}", c.sha),
                    "author": {"name": c.author_name, "email": c.author_email},
                    "committer": {"name": c.committer_name, "email": c.committer_email},
                    "added": [], "removed": [], "modified": [],
                })
            });
            let (name, email) = commit.as_ref().map_or_else(
                || (ACTIONS_BOT.to_owned(), Value::Null),
                |c| (c.committer_name.clone(), json!(c.committer_email)),
            );
            let body = json!({
                "ref": git_ref,
                "before": before,
                "after": after,
                "created": before.bytes().all(|b| b == b'0'),
                "deleted": false,
                "forced": false,
                "base_ref": null,
                "compare": format!("{base}/{repo}/compare/{}...{}", &before[..12.min(before.len())], &after[..12.min(after.len())]),
                "commits": [],
                "head_commit": head_commit,
                "pusher": {"name": name, "email": email},
            });
            let sender = commit
                .and_then(|c| super::users::login_for_email(&state.users, &c.committer_email));
            ("push", String::new(), repo, body, sender)
        }
        MockEvent::PullRequest {
            repo,
            number,
            action,
        } => {
            let pull = routes::read(state, &format!("/repos/{repo}/pulls/{number}"))?;
            let sender = login_of(&pull["user"]);
            let mut body = json!({"number": number, "pull_request": pull});
            if action == "edited" {
                body["changes"] = json!({});
            }
            ("pull_request", action.clone(), repo, body, sender)
        }
        MockEvent::IssueComment {
            repo,
            number,
            comment_id,
            action,
        } => {
            let issue = routes::read(state, &format!("/repos/{repo}/issues/{number}"))?;
            let comment = routes::read(
                state,
                &format!("/repos/{repo}/issues/comments/{comment_id}"),
            )?;
            let sender = login_of(&comment["user"]);
            let mut body = json!({"issue": issue, "comment": comment});
            if action == "edited" {
                body["changes"] = json!({});
            }
            ("issue_comment", action.clone(), repo, body, sender)
        }
        MockEvent::Review {
            repo,
            number,
            review_id,
        } => {
            let pull = routes::read(state, &format!("/repos/{repo}/pulls/{number}"))?;
            let reviews = routes::read(
                state,
                &format!("/repos/{repo}/pulls/{number}/reviews?per_page=100"),
            )?;
            let review = reviews
                .as_array()?
                .iter()
                .find(|r| r["id"] == *review_id)?
                .clone();
            let mut review = review;
            // The REST API spells review states in capitals, webhooks in lower case.
            if let Some(state) = review["state"].as_str() {
                review["state"] = json!(state.to_ascii_lowercase());
            }
            let sender = login_of(&review["user"]);
            let body = json!({"review": review, "pull_request": pull});
            (
                "pull_request_review",
                "submitted".to_owned(),
                repo,
                body,
                sender,
            )
        }
        _ => return None,
    };
    // A repository object changes with nothing the mock models: rendered once per repo.
    let repository = match repositories.get(repo.as_str()) {
        Some(repository) => repository.clone(),
        None => {
            let repository = routes::read(state, &format!("/repos/{repo}"))?;
            repositories.insert(repo.clone(), repository.clone());
            repository
        }
    };
    let sender = sender.unwrap_or_else(|| ACTIONS_BOT.to_owned());
    let obj = body.as_object_mut()?;
    if !action.is_empty() {
        obj.insert("action".into(), json!(action));
    }
    obj.insert("repository".into(), repository);
    obj.insert(
        "sender".into(),
        user_json(&state.base_url, &state.users, &sender),
    );
    obj.insert(
        "installation".into(),
        json!({
            "id": hook.installation_id,
            "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{}", hook.installation_id),
        }),
    );
    let shape_name = if event_name == "push" {
        "push$event".to_owned()
    } else {
        format!("{event_name}${action}")
    };
    let mut shaped = shape(&body, &shape_name)?;
    encode_brackets(&mut shaped);
    Some(Delivery {
        event: event_name,
        action,
        body: serde_json::to_vec(&shaped).ok()?,
    })
}

/// The workflow object of `run` (`workflow`): the repo's, found by path, else one made from it.
fn workflow_of(state: &mut State, repo: &str, run: &Value) -> Value {
    let path = run["path"].as_str().unwrap_or_default().to_owned();
    let listed = routes::read(
        state,
        &format!("/repos/{repo}/actions/workflows?per_page=100"),
    )
    .and_then(|list| {
        list["workflows"]
            .as_array()?
            .iter()
            .find(|w| w["path"] == path.as_str())
            .cloned()
    });
    listed.unwrap_or_else(|| {
        let id = stable_id(&format!("{repo}/{path}"));
        let base = &state.base_url;
        json!({
            "id": id,
            "node_id": format!("W_mock{id}"),
            "name": run["name"],
            "path": path,
            "state": "active",
            "created_at": super::objects::REPO_CREATED,
            "updated_at": super::objects::REPO_CREATED,
            "url": format!("{base}/repos/{repo}/actions/workflows/{id}"),
            "html_url": format!("{base}/{repo}/blob/main/{path}"),
            "badge_url": format!("{base}/{repo}/workflows/{}/badge.svg", run["name"].as_str().unwrap_or_default()),
        })
    })
}

/// Percent-encodes `[` and `]` in URLs (`…/users/github-actions%5Bbot%5D`, as GitHub writes a
/// bot's URLs): a bracket is not allowed in a URI.
fn encode_brackets(value: &mut Value) {
    match value {
        Value::String(text) if text.starts_with("http") && text.contains(['[', ']']) => {
            *text = text.replace('[', "%5B").replace(']', "%5D");
        }
        Value::Array(items) => items.iter_mut().for_each(encode_brackets),
        Value::Object(fields) => fields.values_mut().for_each(encode_brackets),
        _ => {}
    }
}

fn login_of(user: &Value) -> Option<String> {
    user["login"].as_str().map(str::to_owned)
}

/// The payload shapes baked from `@octokit/webhooks-schemas` (see the module docs).
static SHAPES: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("webhooks_shapes.json"))
        .expect("webhooks_shapes.json is valid JSON (generated, checked in)")
});

/// `value` cut to the fields the payload `name` (`release$published`) has, with neutral values
/// for required fields it lacks; `None` for a payload we have no shape of.
fn shape(value: &Value, name: &str) -> Option<Value> {
    let node = SHAPES["events"].get(name)?;
    Some(conform(value, node, 0))
}

/// How deep shapes are followed (GitHub's payloads nest a few levels; the schema is recursive).
const MAX_DEPTH: u32 = 24;

/// A shape node: `{"r": def}` a reference, `{"o": {field: node}, "q": [required], "x": extra
/// allowed}` an object, `{"a": node}` an array, `{"v": neutral}` a value; `"n": true` allows
/// `null`.
fn resolve(node: &Value) -> &Value {
    let mut node = node;
    for _ in 0..MAX_DEPTH {
        match node.get("r").and_then(Value::as_str) {
            Some(name) => node = &SHAPES["defs"][name],
            None => break,
        }
    }
    node
}

fn conform(value: &Value, node: &Value, depth: u32) -> Value {
    let nullable = node.get("n").and_then(Value::as_bool) == Some(true);
    let node = resolve(node);
    let nullable = nullable || node.get("n").and_then(Value::as_bool) == Some(true);
    if value.is_null() && nullable {
        return Value::Null;
    }
    if depth > MAX_DEPTH {
        return value.clone();
    }
    if let Some(props) = node.get("o").and_then(Value::as_object) {
        let Some(given) = value.as_object() else {
            return neutral(node, depth);
        };
        let mut out = Map::new();
        for (key, field) in given {
            match props.get(key) {
                Some(sub) => {
                    out.insert(key.clone(), conform(field, sub, depth + 1));
                }
                None if node.get("x").and_then(Value::as_bool) == Some(true) => {
                    out.insert(key.clone(), field.clone());
                }
                None => {}
            }
        }
        for key in node["q"].as_array().into_iter().flatten() {
            let Some(key) = key.as_str() else { continue };
            if !out.contains_key(key) {
                out.insert(key.to_owned(), neutral(&props[key], depth + 1));
            }
        }
        return Value::Object(out);
    }
    if let Some(items) = node.get("a") {
        return match value.as_array() {
            Some(list) => Value::Array(
                list.iter()
                    .map(|item| conform(item, items, depth + 1))
                    .collect(),
            ),
            None => json!([]),
        };
    }
    value.clone()
}

/// The neutral value of a node: `null` where allowed, else an object of its required fields'
/// neutral values, an empty array, or the schema's first allowed value.
fn neutral(node: &Value, depth: u32) -> Value {
    if node.get("n").and_then(Value::as_bool) == Some(true) {
        return Value::Null;
    }
    let node = resolve(node);
    if node.get("n").and_then(Value::as_bool) == Some(true) || depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(props) = node.get("o").and_then(Value::as_object) {
        let mut out = Map::new();
        for key in node["q"].as_array().into_iter().flatten() {
            if let Some(key) = key.as_str() {
                out.insert(key.to_owned(), neutral(&props[key], depth + 1));
            }
        }
        return Value::Object(out);
    }
    if node.get("a").is_some() {
        return json!([]);
    }
    node.get("v").cloned().unwrap_or(Value::Null)
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`, as GitHub signs.
pub(crate) fn signature(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A random (version 4) UUID, as GitHub's `X-GitHub-Delivery`.
fn delivery_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `RandomState` is seeded randomly per instance: two of them give 128 random bits.
    let half = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.finish()
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&half().to_le_bytes());
    bytes[8..].copy_from_slice(&half().to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// Posts `delivery` until the receiver answers `2xx` or the attempts are spent; counts it.
async fn deliver(shared: Shared, hook: MockWebhook, client: Client, delivery: Delivery) {
    let id = delivery_id();
    let signature = hook.secret.as_ref().map(|s| signature(s, &delivery.body));
    let label = if delivery.action.is_empty() {
        delivery.event.to_owned()
    } else {
        format!("{}/{}", delivery.event, delivery.action)
    };
    let mut pause = hook.retry_delay;
    for attempt in 1..=hook.attempts.max(1) {
        let mut request = http::Request::post(&hook.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                "GitHub-Hookshot/orchestrator-mock",
            )
            .header("x-github-event", delivery.event)
            .header("x-github-delivery", &id)
            .header("x-github-hook-id", hook.hook_id.to_string())
            .header("x-github-hook-installation-target-type", "integration")
            .header(
                "x-github-hook-installation-target-id",
                hook.installation_id.to_string(),
            );
        if let Some(signature) = &signature {
            request = request.header("x-hub-signature-256", signature);
        }
        let outcome = match request.body(Full::new(Bytes::from(delivery.body.clone()))) {
            Ok(request) => {
                match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
                    Ok(Ok(answer)) if answer.status().is_success() => Ok(()),
                    Ok(Ok(answer)) => Err(format!("answered {}", answer.status())),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
                }
            }
            Err(e) => Err(format!("bad webhook URL {:?}: {e}", hook.url)),
        };
        match outcome {
            Ok(()) => {
                let mut state = lock(&shared);
                let stats = &mut state.stats.webhooks;
                stats.delivered += 1;
                *stats.by_event.entry(label).or_default() += 1;
                return;
            }
            Err(e) if attempt < hook.attempts => {
                tracing::debug!(%label, attempt, "mock: webhook delivery failed, retrying: {e}");
                lock(&shared).stats.webhooks.retries += 1;
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => {
                tracing::warn!(%label, "mock: webhook delivery failed: {e}");
                lock(&shared).stats.webhooks.failed += 1;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_v4_uuids_and_differ() {
        let (a, b) = (delivery_id(), delivery_id());
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{a}");
        assert!("89ab".contains(&parts[3][..1]), "{a}");
    }

    #[test]
    fn the_signature_is_githubs() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let secret = SecretString::new("It's a Secret to Everybody");
        assert_eq!(
            signature(&secret, b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn shapes_drop_unknown_fields_and_fill_required_ones() {
        let shaped = shape(
            &json!({"action": "published", "release": {"id": 7, "tag_name": "v1", "extra": 1}, "junk": true}),
            "release$published",
        )
        .expect("a shape");
        assert!(shaped.get("junk").is_none());
        assert_eq!(shaped["release"]["id"], 7);
        assert!(shaped["release"].get("extra").is_none());
        assert!(
            shaped["release"].get("assets").is_some(),
            "required, filled"
        );
        assert!(shaped["repository"]["owner"].get("login").is_some());
        assert!(shape(&json!({}), "star$created").is_none());
    }
}
