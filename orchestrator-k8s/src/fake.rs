//! [`FakeApiServer`]: a small, stateful fake of the Kubernetes API server, so that `KubeCluster`
//! can run the shared `Cluster` conformance suite with no cluster.
//!
//! The exact-request tests in `tests.rs` prove what `KubeCluster` sends; this fake proves what the
//! requests *mean*: it keeps Deployments, StatefulSets, ReplicaSets and HorizontalPodAutoscalers in
//! memory and answers the requests the adapter makes with the Kubernetes semantics a scaling plan
//! depends on:
//! - `GET`, `POST` (create), `PUT` (replace, `409 Conflict` at a stale `resourceVersion`),
//!   `PATCH` (JSON merge patch and strategic merge patch; the `scale` subresource) and `DELETE` of
//!   one object, and `GET` of a collection filtered by an equality `labelSelector`;
//! - `404` with a `Status` body (`reason: NotFound`) for a missing object, `409 AlreadyExists` on
//!   creating an existing one, `422 Invalid` for negative replicas, impossible HPA bounds and
//!   what is not a quantity;
//! - `dryRun=All` (in the query, or a `DELETE`'s body) answers the would-be object and stores
//!   nothing;
//! - a change of `spec` bumps `metadata.generation` (of a Deployment, a change of its annotations
//!   too); an unchanged object keeps its `resourceVersion`;
//! - defaults as the API server sets them: one replica; an HPA's `minReplicas: 1` and, without
//!   metrics, the 80% CPU target; container requests and limits rounded up to milli-units and
//!   printed canonically (`0.5` → `500m`, `1024Mi` → `1Gi`; core's `canonical_quantity`, whose
//!   results the conformance suite checks against the literal values Kubernetes shows);
//! - the controllers, converged at once: a Deployment's new pod template gets a ReplicaSet carrying
//!   that template (plus `pod-template-hash`) and the next `deployment.kubernetes.io/revision`; a
//!   template equal to an older ReplicaSet's takes that ReplicaSet over with the next revision, as
//!   `kubectl rollout undo` relies on; replica-only changes make no ReplicaSet; `status` reports
//!   the current generation observed and every replica updated, ready and available; deleting a
//!   Deployment deletes the ReplicaSets it owns.
//!
//! A live cluster's controllers also write while a client works:
//! [`FakeApiServer::write_status_after_reads`] makes one write an object's status between a
//! client's read and its next write.
//!
//! Anything else (another resource, watch, server-side apply, JSON patch, patch directives) is
//! answered with an error status and recorded in [`FakeApiServer::unsupported`], so a test fails
//! naming the request instead of passing on a guess.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Map, Value, json};

use orchestrator_core::cluster::canonical_quantity;

use crate::REVISION_ANNOTATION;

/// The label a ReplicaSet's selector and pod template carry to tell templates apart.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// The CPU utilisation target the API server gives an `autoscaling/v2` HPA without metrics
/// (written here, not taken from core: the fake stands for Kubernetes, not for the code it tests).
const DEFAULT_HPA_CPU_UTILIZATION: i64 = 80;

/// The resources the fake knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Resource {
    Deployments,
    StatefulSets,
    ReplicaSets,
    HorizontalPodAutoscalers,
}

impl Resource {
    const ALL: [Resource; 4] = [
        Resource::Deployments,
        Resource::StatefulSets,
        Resource::ReplicaSets,
        Resource::HorizontalPodAutoscalers,
    ];

    fn parse(group_version: &str, plural: &str) -> Option<Self> {
        Some(match (group_version, plural) {
            ("apps/v1", "deployments") => Resource::Deployments,
            ("apps/v1", "statefulsets") => Resource::StatefulSets,
            ("apps/v1", "replicasets") => Resource::ReplicaSets,
            ("autoscaling/v2", "horizontalpodautoscalers") => Resource::HorizontalPodAutoscalers,
            _ => return None,
        })
    }

    fn api_version(self) -> &'static str {
        match self {
            Resource::HorizontalPodAutoscalers => "autoscaling/v2",
            _ => "apps/v1",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Resource::Deployments => "Deployment",
            Resource::StatefulSets => "StatefulSet",
            Resource::ReplicaSets => "ReplicaSet",
            Resource::HorizontalPodAutoscalers => "HorizontalPodAutoscaler",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Resource::Deployments => "deployments",
            Resource::StatefulSets => "statefulsets",
            Resource::ReplicaSets => "replicasets",
            Resource::HorizontalPodAutoscalers => "horizontalpodautoscalers",
        }
    }

    fn group(self) -> &'static str {
        self.api_version()
            .split_once('/')
            .map_or("", |(group, _)| group)
    }

    /// `deployments.apps`, as the API server names a resource in its messages.
    fn qualified(self) -> String {
        format!("{}.{}", self.plural(), self.group())
    }

    fn has_scale(self) -> bool {
        matches!(self, Resource::Deployments | Resource::StatefulSets)
    }
}

/// Where an object is stored.
type Key = (Resource, String, String);

/// A failed request: the status code and the `Status` object the API server answers.
#[derive(Debug)]
struct Failure {
    code: StatusCode,
    body: Value,
}

fn failure(code: StatusCode, reason: &str, message: String, details: Value) -> Failure {
    Failure {
        code,
        body: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": details, "code": code.as_u16(),
        }),
    }
}

fn details(resource: Resource, name: &str) -> Value {
    json!({"name": name, "group": resource.group(), "kind": resource.plural()})
}

fn not_found(resource: Resource, name: &str) -> Failure {
    failure(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("{} \"{name}\" not found", resource.qualified()),
        details(resource, name),
    )
}

fn invalid(resource: Resource, name: &str, field: &str, message: String) -> Failure {
    failure(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        format!(
            "{} \"{name}\" is invalid: {field}: {message}",
            resource.kind()
        ),
        details(resource, name),
    )
}

fn bad_request(message: String) -> Failure {
    failure(StatusCode::BAD_REQUEST, "BadRequest", message, json!({}))
}

type Answer = Result<(StatusCode, Value), Failure>;

/// The stored objects and the counters the API server keeps.
#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    /// The last `resourceVersion` handed out (etcd's revision: one counter for every object).
    resource_version: u64,
    uids: u64,
    requests: Vec<String>,
    unsupported: Vec<String>,
    /// Objects a "controller" writes (a new `resourceVersion`) right after each of the next reads.
    interference: BTreeMap<Key, u32>,
}

/// A fake Kubernetes API server: a [`tower_service::Service`] to build a [`kube::Client`] over
/// (`kube::Client::new(server.clone(), "default")`). Clones share one state.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeApiServer {
    state: Arc<Mutex<State>>,
}

impl FakeApiServer {
    /// An empty API server.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A client whose requests this server answers.
    pub(crate) fn client(&self) -> kube::Client {
        kube::Client::new(self.clone(), "default")
    }

    /// Every request so far, as `METHOD path?query`.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The requests this fake could not answer (unknown resource, method, patch type).
    pub(crate) fn unsupported(&self) -> Vec<String> {
        self.lock().unsupported.clone()
    }

    /// Makes a controller write the object's status (a new `resourceVersion`, nothing else) right
    /// after each of its next `reads` reads, as the Deployment and HPA controllers do on a live
    /// cluster: a client that reads, then replaces at the read version, meets a `409 Conflict`.
    pub(crate) fn write_status_after_reads(
        &self,
        plural: &str,
        namespace: &str,
        name: &str,
        reads: u32,
    ) {
        let resource = Resource::ALL
            .into_iter()
            .find(|r| r.plural() == plural)
            .unwrap_or_else(|| panic!("the fake API server does not serve {plural}"));
        self.lock()
            .interference
            .insert((resource, namespace.to_owned(), name.to_owned()), reads);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("the fake API server's lock is never poisoned")
    }

    /// Answers one request.
    fn handle(&self, method: &Method, uri: &http::Uri, content_type: &str, body: &[u8]) -> Answer {
        let mut state = self.lock();
        let line = format!(
            "{method} {}",
            uri.path_and_query().map_or("", |p| p.as_str())
        );
        state.requests.push(line.clone());
        let query = Query::parse(uri.query().unwrap_or(""));
        let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
        // /apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/{subresource}]]
        let route = match segments.as_slice() {
            ["apis", group, version, "namespaces", ns, plural, rest @ ..] if rest.len() <= 2 => {
                Resource::parse(&format!("{group}/{version}"), plural).map(|r| {
                    (
                        r,
                        (*ns).to_owned(),
                        rest.first().map(|s| (*s).to_owned()),
                        rest.get(1).copied(),
                    )
                })
            }
            _ => None,
        };
        let Some((resource, namespace, name, subresource)) = route else {
            state.unsupported.push(line);
            return Err(failure(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("the fake API server does not serve {}", uri.path()),
                json!({}),
            ));
        };
        if query.get("watch").is_some() {
            state.unsupported.push(line);
            return Err(method_not_allowed("watch"));
        }
        let json = || body_json(body);
        let dry_run = query.get("dryRun") == Some("All");
        match (method, name, subresource) {
            (&Method::GET, None, None) => state.list(resource, &namespace, &query),
            (&Method::POST, None, None) => state.create(resource, &namespace, json()?, dry_run),
            (&Method::GET, Some(name), None) => {
                let key = (resource, namespace, name);
                let object = state.get(&key)?;
                state.interfere(&key);
                Ok((StatusCode::OK, object))
            }
            (&Method::PUT, Some(name), None) => {
                state.update(&(resource, namespace, name), json()?, dry_run)
            }
            (&Method::PATCH, Some(name), sub @ (None | Some("scale"))) => {
                let Some(merge) = PatchType::of(content_type) else {
                    state.unsupported.push(format!("{line} ({content_type})"));
                    return Err(failure(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedMediaType",
                        format!("the fake API server does not accept {content_type} patches"),
                        json!({}),
                    ));
                };
                let patch = json()?;
                if let Some(directive) = directive(&patch) {
                    state.unsupported.push(format!("{line} ({directive})"));
                    return Err(bad_request(format!(
                        "the fake API server does not implement the {directive} directive"
                    )));
                }
                let key = (resource, namespace, name);
                match sub {
                    Some(_) if resource.has_scale() => {
                        state.patch_scale(&key, merge, &patch, dry_run)
                    }
                    Some(_) => {
                        state.unsupported.push(line);
                        Err(not_found(resource, &key.2))
                    }
                    None => state.patch(&key, merge, &patch, dry_run),
                }
            }
            (&Method::DELETE, Some(name), None) => {
                // kube sends a delete's options, dry run included, in the body.
                let options: Value = if body.is_empty() { json!({}) } else { json()? };
                let dry_run = dry_run
                    || options["dryRun"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|v| v == "All"));
                state.delete(&(resource, namespace, name), dry_run)
            }
            _ => {
                state.unsupported.push(line);
                Err(method_not_allowed(method.as_str()))
            }
        }
    }
}

fn body_json(body: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

fn method_not_allowed(what: &str) -> Failure {
    failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("the fake API server does not implement {what} here"),
        json!({}),
    )
}

impl tower_service::Service<Request<Body>> for FakeApiServer {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let content_type = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let answer = match body.collect_bytes().await {
                Ok(bytes) => server.handle(&parts.method, &parts.uri, &content_type, &bytes),
                Err(e) => Err(bad_request(format!("unreadable request body: {e}"))),
            };
            let (code, value) = answer.unwrap_or_else(|f| (f.code, f.body));
            Ok(Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(value.to_string().into_bytes()))
                .expect("a status and a JSON body make a valid response"))
        })
    }
}

/// The query parameters of a request, percent-decoded.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Self {
        Self(
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The patch types the adapter sends.
#[derive(Debug, Clone, Copy)]
enum PatchType {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`: lists of containers merge by name.
    Strategic,
}

impl PatchType {
    fn of(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            _ => None,
        }
    }

    fn apply(self, target: &mut Value, patch: &Value) {
        match self {
            PatchType::Merge => merge_patch(target, patch),
            PatchType::Strategic => strategic_merge_patch(target, patch),
        }
    }
}

/// The first strategic-merge directive (`$patch`, `$setElementOrder/...`, `$retainKeys`, ...) in a
/// patch, which this fake does not implement.
fn directive(patch: &Value) -> Option<String> {
    match patch {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.starts_with('$') {
                Some(k.clone())
            } else {
                directive(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(directive),
        _ => None,
    }
}

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The lists a strategic merge patch merges element by element, by their `name` (the pod spec's
/// container lists); every other list is replaced, as for a merge patch.
const MERGE_BY_NAME: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// A strategic merge patch as far as the adapter uses one: a merge patch whose container lists
/// merge by name (a named container is patched in place, a new one appended).
fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        match (value, target.get_mut(key)) {
            (Value::Null, _) => {
                target.remove(key);
            }
            (Value::Array(items), Some(Value::Array(live)))
                if MERGE_BY_NAME.contains(&key.as_str()) =>
            {
                for item in items {
                    match live
                        .iter_mut()
                        .find(|l| l.get("name").is_some() && l.get("name") == item.get("name"))
                    {
                        Some(slot) => strategic_merge_patch(slot, item),
                        None => {
                            let mut new = Value::Null;
                            strategic_merge_patch(&mut new, item);
                            live.push(new);
                        }
                    }
                }
            }
            (value, _) => {
                strategic_merge_patch(target.entry(key.clone()).or_insert(Value::Null), value)
            }
        }
    }
}

/// Equality-based label selectors (`a=b,c==d,e!=f`, `g`, `!h`) as `kubectl` and kube send them.
fn selector_matches(selector: &str, labels: &Value) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|requirement| {
            let label = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
            if let Some((k, v)) = requirement.split_once("!=") {
                label(k) != Some(v.trim())
            } else if let Some((k, v)) = requirement
                .split_once("==")
                .or_else(|| requirement.split_once('='))
            {
                label(k) == Some(v.trim())
            } else if let Some(k) = requirement.strip_prefix('!') {
                label(k).is_none()
            } else {
                label(requirement).is_some()
            }
        })
}

fn name_of(object: &Value) -> Option<&str> {
    object["metadata"]["name"].as_str()
}

fn revision_of(object: &Value) -> i64 {
    object["metadata"]["annotations"][REVISION_ANNOTATION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A pod template without its `pod-template-hash` label, for comparing templates as the
/// Deployment controller does.
fn without_hash(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH);
        if labels.is_empty() {
            template["metadata"]
                .as_object_mut()
                .expect("labels live in an object")
                .remove("labels");
        }
    }
    template
}

/// A short stable hash of a pod template (FNV-1a over its JSON), for ReplicaSet names.
fn template_hash(template: &Value) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in without_hash(template).to_string().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

impl State {
    fn next_resource_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// A controller's status write after a read, when one is due.
    fn interfere(&mut self, key: &Key) {
        let Some(reads) = self.interference.get_mut(key).filter(|n| **n > 0) else {
            return;
        };
        *reads -= 1;
        let version = self.next_resource_version();
        if let Some(object) = self.objects.get_mut(key) {
            object["metadata"]["resourceVersion"] = json!(version);
        }
    }

    fn get(&self, key: &Key) -> Result<Value, Failure> {
        self.objects
            .get(key)
            .cloned()
            .ok_or_else(|| not_found(key.0, &key.2))
    }

    fn list(&self, resource: Resource, namespace: &str, query: &Query) -> Answer {
        let selector = query.get("labelSelector").unwrap_or("");
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((r, ns, _), o)| {
                *r == resource
                    && ns == namespace
                    && selector_matches(selector, &o["metadata"]["labels"])
            })
            .map(|(_, o)| {
                // A list's items carry neither apiVersion nor kind, as the API server sends them.
                let mut item = o.clone();
                if let Some(map) = item.as_object_mut() {
                    map.remove("apiVersion");
                    map.remove("kind");
                }
                item
            })
            .collect();
        Ok((
            StatusCode::OK,
            json!({
                "apiVersion": resource.api_version(),
                "kind": format!("{}List", resource.kind()),
                "metadata": {"resourceVersion": self.resource_version.to_string()},
                "items": items,
            }),
        ))
    }

    fn create(
        &mut self,
        resource: Resource,
        namespace: &str,
        mut object: Value,
        dry_run: bool,
    ) -> Answer {
        let Some(name) = name_of(&object).map(str::to_owned) else {
            return Err(invalid(
                resource,
                "",
                "metadata.name",
                "Required value: name is required (the fake does not implement generateName)"
                    .into(),
            ));
        };
        match object["metadata"]["namespace"].as_str() {
            Some(ns) if ns != namespace => {
                return Err(bad_request(format!(
                    "the namespace of the provided object ({ns}) does not match the namespace sent \
                     on the request ({namespace})"
                )));
            }
            _ => {}
        }
        let key = (resource, namespace.to_owned(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(failure(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", resource.qualified()),
                details(resource, &name),
            ));
        }
        object["apiVersion"] = json!(resource.api_version());
        object["kind"] = json!(resource.kind());
        self.uids += 1;
        let meta = object["metadata"]
            .as_object_mut()
            .expect("an object with a name has metadata");
        meta.insert("namespace".into(), json!(namespace));
        meta.insert("uid".into(), json!(format!("fake-uid-{}", self.uids)));
        meta.insert("generation".into(), json!(1));
        meta.remove("resourceVersion");
        if let Some(map) = object.as_object_mut() {
            map.remove("status");
        }
        default(resource, &mut object);
        canonicalize_quantities(resource, &name, &mut object)?;
        validate(resource, &name, &object)?;
        if dry_run {
            return Ok((StatusCode::CREATED, object));
        }
        object["metadata"]["resourceVersion"] = json!(self.next_resource_version());
        self.objects.insert(key.clone(), object);
        self.reconcile(&key);
        Ok((StatusCode::CREATED, self.get(&key)?))
    }

    /// The update every `PUT` and `PATCH` ends in: `new` replaces the stored object's spec and
    /// metadata (not its status, a subresource), bumping the generation when the spec changed.
    fn update(&mut self, key: &Key, mut new: Value, dry_run: bool) -> Answer {
        let (resource, _, name) = key;
        let old = self.get(key)?;
        match new["metadata"]["resourceVersion"].as_str() {
            Some(rv) if Some(rv) != old["metadata"]["resourceVersion"].as_str() => {
                return Err(failure(
                    StatusCode::CONFLICT,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been \
                         modified; please apply your changes to the latest version and try again",
                        resource.qualified()
                    ),
                    details(*resource, name),
                ));
            }
            _ => {}
        }
        if name_of(&new) != Some(name.as_str()) {
            return Err(bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&new).unwrap_or("")
            )));
        }
        new["apiVersion"] = json!(resource.api_version());
        new["kind"] = json!(resource.kind());
        // What the server owns: identity, bookkeeping, status.
        for field in [
            "namespace",
            "uid",
            "generation",
            "resourceVersion",
            "creationTimestamp",
        ] {
            match old["metadata"].get(field) {
                Some(value) => new["metadata"][field] = value.clone(),
                None => {
                    new["metadata"]
                        .as_object_mut()
                        .expect("an object with a name has metadata")
                        .remove(field);
                }
            }
        }
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
        default(*resource, &mut new);
        canonicalize_quantities(*resource, name, &mut new)?;
        validate(*resource, name, &new)?;
        if new == old {
            return Ok((StatusCode::OK, old));
        }
        let annotations_changed = *resource == Resource::Deployments
            && new["metadata"]["annotations"] != old["metadata"]["annotations"];
        if new["spec"] != old["spec"] || annotations_changed {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        if dry_run {
            return Ok((StatusCode::OK, new));
        }
        new["metadata"]["resourceVersion"] = json!(self.next_resource_version());
        self.objects.insert(key.clone(), new);
        self.reconcile(key);
        Ok((StatusCode::OK, self.get(key)?))
    }

    fn patch(&mut self, key: &Key, kind: PatchType, patch: &Value, dry_run: bool) -> Answer {
        let mut object = self.get(key)?;
        // A patch applies to the stored version (unless it names another: a precondition).
        kind.apply(&mut object, patch);
        self.update(key, object, dry_run)
    }

    /// The `scale` subresource: an `autoscaling/v1` Scale of the object's `spec.replicas`.
    fn patch_scale(&mut self, key: &Key, kind: PatchType, patch: &Value, dry_run: bool) -> Answer {
        let object = self.get(key)?;
        let mut scale = scale_of(&object);
        kind.apply(&mut scale, patch);
        let Some(replicas) = scale["spec"]["replicas"].as_i64() else {
            return Err(invalid(
                key.0,
                &key.2,
                "spec.replicas",
                "Required value".into(),
            ));
        };
        if replicas < 0 {
            return Err(invalid(
                key.0,
                &key.2,
                "spec.replicas",
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            ));
        }
        let mut updated = object;
        updated["spec"]["replicas"] = json!(replicas);
        let (_, stored) = self.update(key, updated, dry_run)?;
        Ok((StatusCode::OK, scale_of(&stored)))
    }

    fn delete(&mut self, key: &Key, dry_run: bool) -> Answer {
        let object = self.get(key)?;
        let (resource, _, name) = key;
        if !dry_run {
            self.objects.remove(key);
            self.next_resource_version();
            // The garbage collector (background propagation): what the object owned goes too.
            if let Some(uid) = object["metadata"]["uid"].as_str() {
                self.objects.retain(|_, o| {
                    !o["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|owners| owners.iter().any(|r| r["uid"] == uid))
                });
            }
        }
        Ok((
            StatusCode::OK,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": resource.group(), "kind": resource.plural(),
                            "uid": object["metadata"]["uid"]},
            }),
        ))
    }

    /// What the controllers do after a stored change, converged at once.
    fn reconcile(&mut self, key: &Key) {
        match key.0 {
            Resource::Deployments => self.reconcile_deployment(key),
            Resource::StatefulSets => self.set_controller_status(key, |object| {
                let replicas = object["spec"]["replicas"].clone();
                json!({
                    "observedGeneration": object["metadata"]["generation"],
                    "replicas": replicas, "readyReplicas": replicas,
                    "currentReplicas": replicas, "updatedReplicas": replicas,
                    "availableReplicas": replicas,
                })
            }),
            Resource::ReplicaSets | Resource::HorizontalPodAutoscalers => {}
        }
    }

    /// Stores a controller's write (a new `resourceVersion`) when it changes anything.
    fn store_if_changed(&mut self, key: Key, mut object: Value) {
        if self.objects.get(&key) != Some(&object) {
            object["metadata"]["resourceVersion"] = json!(self.next_resource_version());
            self.objects.insert(key, object);
        }
    }

    fn set_controller_status(&mut self, key: &Key, status: impl FnOnce(&Value) -> Value) {
        let Some(mut object) = self.objects.get(key).cloned() else {
            return;
        };
        object["status"] = status(&object);
        self.store_if_changed(key.clone(), object);
    }

    /// The Deployment controller: find or make the ReplicaSet of the current template, give it the
    /// next revision when it is not the newest, record that revision on the Deployment, scale the
    /// ReplicaSets (all replicas on the current one) and report the rollout complete.
    fn reconcile_deployment(&mut self, key: &Key) {
        let Some(deployment) = self.objects.get(key).cloned() else {
            return;
        };
        let (_, namespace, name) = key;
        let uid = deployment["metadata"]["uid"].clone();
        let template = deployment["spec"]["template"].clone();
        let replicas = deployment["spec"]["replicas"].clone();
        let owned: Vec<Key> = self
            .objects
            .iter()
            .filter(|((r, ns, _), o)| {
                *r == Resource::ReplicaSets
                    && ns == namespace
                    && o["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|owners| owners.iter().any(|o| o["uid"] == uid))
            })
            .map(|(k, _)| k.clone())
            .collect();
        let current = owned
            .iter()
            .find(|k| {
                without_hash(&self.objects[*k]["spec"]["template"]) == without_hash(&template)
            })
            .cloned();
        let newest_other = owned
            .iter()
            .filter(|k| Some(*k) != current.as_ref())
            .map(|k| revision_of(&self.objects[k]))
            .max()
            .unwrap_or(0);
        let current = match current {
            Some(k) => k,
            None => {
                let hash = template_hash(&template);
                let set_name = format!("{name}-{hash}");
                let mut set_template = template.clone();
                set_template["metadata"]["labels"][POD_TEMPLATE_HASH] = json!(hash);
                let mut selector = deployment["spec"]["selector"].clone();
                selector["matchLabels"][POD_TEMPLATE_HASH] = json!(hash);
                self.uids += 1;
                let set = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {
                        "name": set_name, "namespace": namespace,
                        "uid": format!("fake-uid-{}", self.uids), "generation": 1,
                        "labels": set_template["metadata"]["labels"],
                        "annotations": {},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                            "name": name, "uid": uid, "controller": true,
                            "blockOwnerDeletion": true}],
                    },
                    "spec": {"replicas": 0, "selector": selector, "template": set_template},
                });
                let k = (Resource::ReplicaSets, namespace.clone(), set_name);
                self.store_if_changed(k.clone(), set);
                k
            }
        };
        let mut revision = revision_of(&self.objects[&current]);
        if revision <= newest_other {
            revision = newest_other + 1;
        }
        let mut sets = owned;
        if !sets.contains(&current) {
            sets.push(current.clone());
        }
        for k in &sets {
            let mut set = self.objects[k].clone();
            let is_current = *k == current;
            set["spec"]["replicas"] = if is_current {
                replicas.clone()
            } else {
                json!(0)
            };
            if is_current {
                set["metadata"]["annotations"][REVISION_ANNOTATION] = json!(revision.to_string());
            }
            let set_replicas = set["spec"]["replicas"].clone();
            set["status"] = json!({
                "observedGeneration": set["metadata"]["generation"],
                "replicas": set_replicas, "readyReplicas": set_replicas,
                "availableReplicas": set_replicas, "fullyLabeledReplicas": set_replicas,
            });
            self.store_if_changed(k.clone(), set);
        }
        let mut deployment = deployment;
        deployment["metadata"]["annotations"][REVISION_ANNOTATION] = json!(revision.to_string());
        deployment["status"] = json!({
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{}\" has successfully progressed.", current.2)},
            ],
        });
        self.store_if_changed(key.clone(), deployment);
    }
}

/// An object's `scale` subresource.
fn scale_of(object: &Value) -> Value {
    json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {
            "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
            "uid": object["metadata"]["uid"],
            "resourceVersion": object["metadata"]["resourceVersion"],
        },
        "spec": {"replicas": object["spec"]["replicas"]},
        "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0)},
    })
}

/// The defaults the API server sets on the fields the adapter reads.
fn default(resource: Resource, object: &mut Value) {
    if !object["spec"].is_object() {
        object["spec"] = json!({});
    }
    let spec = object["spec"]
        .as_object_mut()
        .expect("made an object above");
    match resource {
        Resource::Deployments | Resource::StatefulSets | Resource::ReplicaSets => {
            spec.entry("replicas").or_insert(json!(1));
            if resource == Resource::StatefulSets {
                spec.entry("updateStrategy")
                    .or_insert(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
            }
        }
        Resource::HorizontalPodAutoscalers => {
            spec.entry("minReplicas").or_insert(json!(1));
            let no_metrics = spec
                .get("metrics")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if no_metrics {
                spec.insert(
                    "metrics".into(),
                    json!([{"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization",
                                   "averageUtilization": DEFAULT_HPA_CPU_UTILIZATION}}}]),
                );
            }
        }
    }
}

/// The requests and limits of a pod template's containers as the API server stores them: rounded
/// up to milli-units and printed canonically (`0.5` → `500m`); `422 Invalid` for one that is not
/// a quantity.
fn canonicalize_quantities(
    resource: Resource,
    name: &str,
    object: &mut Value,
) -> Result<(), Failure> {
    if resource == Resource::HorizontalPodAutoscalers {
        return Ok(());
    }
    for list in ["containers", "initContainers"] {
        let Some(containers) = object
            .pointer_mut(&format!("/spec/template/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for (i, container) in containers.iter_mut().enumerate() {
            for kind in ["requests", "limits"] {
                let Some(quantities) = container
                    .pointer_mut(&format!("/resources/{kind}"))
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                for (key, q) in quantities.iter_mut() {
                    let written = match &*q {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let stored = canonical_quantity(&written).ok_or_else(|| {
                        invalid(
                            resource,
                            name,
                            &format!("spec.template.spec.{list}[{i}].resources.{kind}[{key}]"),
                            format!(
                                "Invalid value: \"{written}\": quantities must match the regular \
                                 expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                            ),
                        )
                    })?;
                    *q = json!(stored);
                }
            }
        }
    }
    Ok(())
}

/// The validation the API server does on the fields the adapter writes.
fn validate(resource: Resource, name: &str, object: &Value) -> Result<(), Failure> {
    let spec = &object["spec"];
    match resource {
        Resource::Deployments | Resource::StatefulSets | Resource::ReplicaSets => {
            let replicas = spec["replicas"].as_i64().unwrap_or(0);
            if replicas < 0 {
                return Err(invalid(
                    resource,
                    name,
                    "spec.replicas",
                    format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                ));
            }
            if !spec["template"].is_object() {
                return Err(invalid(
                    resource,
                    name,
                    "spec.template",
                    "Required value".into(),
                ));
            }
        }
        Resource::HorizontalPodAutoscalers => {
            let min = spec["minReplicas"].as_i64().unwrap_or(1);
            let max = spec["maxReplicas"].as_i64().unwrap_or(0);
            if max < 1 {
                return Err(invalid(
                    resource,
                    name,
                    "spec.maxReplicas",
                    format!("Invalid value: {max}: must be greater than or equal to 1"),
                ));
            }
            if min < 1 {
                return Err(invalid(
                    resource,
                    name,
                    "spec.minReplicas",
                    format!("Invalid value: {min}: must be greater than or equal to 1"),
                ));
            }
            if max < min {
                return Err(invalid(
                    resource,
                    name,
                    "spec.maxReplicas",
                    format!("Invalid value: {max}: must be greater than or equal to `minReplicas`"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
