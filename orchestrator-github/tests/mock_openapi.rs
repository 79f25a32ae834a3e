//! The mock GitHub speaks GitHub: every route it serves answers what GitHub's published OpenAPI
//! description says (status code, body schema, documented headers), every URL it writes into an
//! answer resolves, and errors come with GitHub's bodies and status codes.
//!
//! The description is the pinned subset in `tests/openapi/github-subset.json`, extracted from
//! `@octokit/openapi` by `tests/openapi/regenerate.sh` (so this test runs offline). The walk below
//! exercises every route of the mock's table ([`ROUTES`]); a route that answers no validated
//! success fails the test, and so does a table that differs from `tests/openapi/operations.txt`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::http::{Reply, request};
use common::origin::BareOrigin;
use orchestrator_core::forge::{RepoId, WorkflowSimulation};
use orchestrator_core::secret::SecretString;
use orchestrator_github::GitHubApp;
use orchestrator_github::mock::{MockApp, MockEvent, MockGitHub, MockOptions, ROUTES};
use serde_json::{Value, json};

const SUBSET: &str = include_str!("openapi/github-subset.json");
/// The GitHub App the walk authenticates as.
const APP_ID: u64 = 4242;
const OPERATIONS: &str = include_str!("openapi/operations.txt");

/// GitHub's description of the operations the mock serves.
struct Description {
    doc: Value,
}

impl Description {
    fn load() -> Self {
        Self {
            doc: serde_json::from_str(SUBSET).expect("github-subset.json is JSON"),
        }
    }

    /// Problems of `reply` as an answer of `op` (`"GET /repos/{owner}/{repo}"`): an undocumented
    /// status, a body that fails the response schema (each failure names the operation, the
    /// JSON path and the field), a documented header missing.
    fn check(&self, op: &str, reply: &Reply) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(operation) = self.doc["operations"].get(op) else {
            return vec![format!("{op}: not in the description")];
        };
        let status = reply.status.to_string();
        let Some(response) = operation["responses"].get(&status) else {
            // GitHub documents some errors only on some operations; any error body is a
            // `basic-error` at least.
            if reply.status >= 400 {
                return self.errors_of(
                    op,
                    reply,
                    &json!({"$ref": "#/components/schemas/basic-error"}),
                );
            }
            return vec![format!("{op}: status {status} is not documented")];
        };
        if let Some(schema) = response.get("schema").filter(|s| !s.is_null()) {
            problems.extend(self.errors_of(op, reply, schema));
        } else if !reply.body.is_empty() {
            problems.push(format!(
                "{op} → {status}: documented without a body, got {} bytes",
                reply.body.len()
            ));
        }
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            // `Link` comes only when there is another page.
            if name == "link" {
                continue;
            }
            if reply.header(name).is_none() {
                problems.push(format!("{op} → {status}: header {name} is missing"));
            } else if let Some(schema) = header.get("schema") {
                let value = reply.header(name).unwrap_or_default();
                let value = value
                    .parse::<i64>()
                    .map_or_else(|_| json!(value), |n| json!(n));
                problems.extend(self.schema_errors(
                    op,
                    &status,
                    schema,
                    &value,
                    &format!("header {name}"),
                ));
            }
        }
        problems
    }

    fn errors_of(&self, op: &str, reply: &Reply, schema: &Value) -> Vec<String> {
        let status = reply.status.to_string();
        let body: Value = match serde_json::from_slice(&reply.body) {
            Ok(body) => body,
            Err(e) => return vec![format!("{op} → {status}: body is not JSON: {e}")],
        };
        self.schema_errors(op, &status, schema, &body, "body")
    }

    fn schema_errors(
        &self,
        op: &str,
        status: &str,
        schema: &Value,
        value: &Value,
        what: &str,
    ) -> Vec<String> {
        // The components travel with the schema, so `#/components/schemas/...` resolves.
        let root = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&root)
            .unwrap_or_else(|e| panic!("{op}: the description's schema does not compile: {e}"));
        validator
            .iter_errors(value)
            .map(|e| format!("{op} → {status}: {what} at '{}': {e}", e.instance_path()))
            .collect()
    }
}

/// A recorded exchange.
struct Exchange {
    op: String,
    /// The method and path sent.
    request: String,
    reply: Reply,
}

/// Drives the mock and checks each answer against the description.
struct Walk<'a> {
    mock: &'a MockGitHub,
    spec: Description,
    exchanges: Vec<Exchange>,
    problems: Vec<String>,
}

impl Walk<'_> {
    /// Sends a request, checks the answer as operation `op` expecting `status`, and returns it.
    async fn call(&mut self, op: &str, path: &str, body: Option<Value>, status: u16) -> Reply {
        self.call_with(op, path, body, &[], status).await
    }

    async fn call_with(
        &mut self,
        op: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
        status: u16,
    ) -> Reply {
        let method = op.split(' ').next().unwrap_or("GET");
        let reply = request(self.mock.url(), method, path, body.as_ref(), headers).await;
        if reply.status != status {
            self.problems.push(format!(
                "{op} ({path}): status {} (wanted {status}): {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
        }
        self.problems.extend(self.spec.check(op, &reply));
        for header in [
            "x-github-request-id",
            "x-github-api-version-selected",
            "x-github-media-type",
            "x-ratelimit-remaining",
        ] {
            if reply.header(header).is_none() {
                self.problems
                    .push(format!("{op}: header {header} is missing"));
            }
        }
        if reply.status >= 400
            && let Ok(body) = serde_json::from_slice::<Value>(&reply.body)
            && body["status"] != json!(reply.status.to_string())
        {
            self.problems.push(format!(
                "{op}: error body without GitHub's \"status\": {body}"
            ));
        }
        self.exchanges.push(Exchange {
            op: op.to_owned(),
            request: format!("{method} {path}"),
            reply: reply.clone(),
        });
        reply
    }
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

/// URL fields that name web pages and files on GitHub's other hosts, not its API: GitHub serves
/// them from `github.com`, `avatars.githubusercontent.com`, `raw.githubusercontent.com`, and the
/// mock (an API server) does not. Excluded by design, by field name; everything else is crawled.
const WEB_PAGES: &[&str] = &[
    "html_url",
    "diff_url",
    "patch_url",
    "blob_url",
    "raw_url",
    "badge_url",
    "permalink_url",
    "details_url",
    "avatar_url",
    "svn_url",
    // A contents entry's `download_url` is on raw.githubusercontent.com.
    "download_url",
    // Git's smart-HTTP endpoint: for `git clone`, not a GET of a page.
    "clone_url",
];

/// URL fields GitHub documents as endpoints of another method: the crawler sends that method
/// (GitHub answers `404` to a GET of them too). `merges_url` needs a body naming two branches and
/// merges them, so the crawler leaves it alone (the mock does not serve it: an explicit gap).
const ACTIONS: &[(&str, &str)] = &[
    ("cancel_url", "POST"),
    ("rerun_url", "POST"),
    ("access_tokens_url", "POST"),
];
/// `protection_url` of an unprotected branch (the mock protects none) answers GitHub's own `404`
/// ("Branch not protected").
const NOT_FOLLOWED: &[&str] = &["merges_url", "protection_url"];

/// A URL found in an answer: where it was found, for the failure message.
#[derive(Debug, Clone)]
struct Found {
    url: String,
    /// The JSON path of the field, e.g. `assets[0].url`.
    field: String,
    /// The request whose answer held it, e.g. `GET /repos/acme/app/releases`.
    answer: String,
}

/// Every URL on the mock's host in `value` (fields `url`, `href` and `*_url`; `{?...}` query
/// templates expanded empty), except [`WEB_PAGES`]. A template with path variables (`{/number}`,
/// `{sha}`) is a form to fill, not a URL: GitHub's own expansions with empty values 404
/// (`git/commits{/sha}`), so those are skipped.
fn urls_in(value: &Value, base: &str, path: &str, answer: &str, out: &mut Vec<Found>) {
    match value {
        Value::Object(obj) => {
            for (key, field) in obj {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match field {
                    Value::String(url) => {
                        let is_url = key == "url" || key == "href" || key.ends_with("_url");
                        // `_links.html.href` is the web page too.
                        let web = WEB_PAGES.contains(&key.as_str())
                            || NOT_FOLLOWED.contains(&key.as_str())
                            || here.ends_with("html.href");
                        if !is_url || web || !url.starts_with(base) {
                            continue;
                        }
                        let url = match url.find("{?") {
                            Some(at) if url.ends_with('}') => url[..at].to_owned(),
                            _ => url.clone(),
                        };
                        if url.contains('{') {
                            continue;
                        }
                        out.push(Found {
                            url,
                            field: here,
                            answer: answer.to_owned(),
                        });
                    }
                    other => urls_in(other, base, &here, answer, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                urls_in(item, base, &format!("{path}[{i}]"), answer, out);
            }
        }
        _ => {}
    }
}

/// Follows every URL in the walk's answers, and in the answers those give, until no new URL
/// appears: each must answer (a `2xx`, or a `3xx` whose `Location` on the mock answers `2xx`;
/// an action URL anything but `404`), and each answer of an API route is checked against the
/// description like the walk's own. Problems name the field and the answer it came from.
/// Returns how many URLs were followed.
async fn crawl(walk: &mut Walk<'_>) -> usize {
    let base = walk.mock.url().to_owned();
    let mut queue: Vec<Found> = Vec::new();
    for exchange in &walk.exchanges {
        urls_in(
            &json_of(&exchange.reply),
            &base,
            "",
            &exchange.request,
            &mut queue,
        );
    }
    let mut seen = BTreeSet::new();
    let mut followed = 0;
    while let Some(found) = queue.pop() {
        if !seen.insert(found.url.clone()) {
            continue;
        }
        followed += 1;
        assert!(followed < 5000, "the crawl does not end: {found:?}");
        let field = found.field.rsplit('.').next().unwrap_or_default();
        let method = ACTIONS
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("GET", |(_, m)| *m);
        let path = found
            .url
            .strip_prefix(&base)
            .unwrap_or(&found.url)
            .to_owned();
        let from = format!("`{}` in the answer to {}", found.field, found.answer);
        let reply = request(&base, method, &path, None, &[]).await;
        let route = orchestrator_github::mock::route_for(method, &path);
        if let Some(route) = route.filter(|r| r.api) {
            let op = format!("{} {}", route.method, route.path);
            let problems = walk.spec.check(&op, &reply);
            walk.problems.extend(
                problems
                    .into_iter()
                    .map(|p| format!("{p} (following {from})")),
            );
        }
        let request_name = format!("{method} {path}");
        let ok = match (method, reply.status) {
            ("GET", 200..=299) => true,
            ("GET", 300..=399) => {
                let location = reply.header("location").unwrap_or_default();
                match location.strip_prefix(&base) {
                    Some(target) => {
                        let landed = request(&base, "GET", target, None, &[]).await;
                        (200..300).contains(&landed.status) && !landed.body.is_empty()
                    }
                    None => false,
                }
            }
            // A URL that asks for other credentials than the crawl has (an installation's
            // `repositories_url` takes an installation token, `access_tokens_url` a JWT) exists.
            (_, 401) => route.is_some(),
            (_, status) => method != "GET" && status != 404,
        };
        if !ok {
            walk.problems.push(format!(
                "{method} {} answers {} ({from})",
                found.url, reply.status
            ));
        }
        if reply.status == 200 {
            urls_in(&json_of(&reply), &base, "", &request_name, &mut queue);
        }
        walk.exchanges.push(Exchange {
            op: route.map_or_else(
                || request_name.clone(),
                |r| format!("{} {}", r.method, r.path),
            ),
            request: request_name,
            reply,
        });
    }
    followed
}

#[tokio::test]
async fn every_route_the_mock_serves_answers_as_githubs_openapi_description_says() {
    // The table and the description's operations are the same list.
    let table: BTreeSet<String> = ROUTES
        .iter()
        .filter(|r| r.api)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let listed: BTreeSet<String> = OPERATIONS
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        table, listed,
        "the mock's route table and tests/openapi/operations.txt differ"
    );

    let origins = tempfile::tempdir().expect("tempdir");
    let origin = BareOrigin::create(&origins.path().join("app.git"));
    origin.commit_file(
        "main",
        ".github/workflows/release.yml",
        "on: workflow_dispatch\n",
        "add release workflow",
    );
    origin.commit_file(
        "main",
        ".github/workflows/nightly.yml",
        "on: workflow_dispatch\n",
        "add nightly workflow",
    );
    let main_sha = origin.commit_file("main", "README.md", "hello\n", "readme");
    let feature_sha = origin.commit_file("feature", "src/lib.rs", "pub fn f() {}\n", "a feature");
    origin.tag("v1.0.0", &main_sha);
    // The GitHub App routes need a key pair (made by openssl; skipped without it).
    let keys = common::app_keys::app_keys();
    let mut options = MockOptions::default().origins(origins.path());
    if let Some(keys) = &keys {
        options = options.app(MockApp::new(APP_ID, &keys.public_pem).expect("a public key"));
    }
    let mock = MockGitHub::start(options).await.expect("mock starts");
    let mut walk = Walk {
        mock: &mock,
        spec: Description::load(),
        exchanges: Vec::new(),
        problems: Vec::new(),
    };
    let r = "/repos/acme/app";

    // First calls of a typical client.
    walk.call("GET /user", "/user", None, 200).await;
    walk.call("GET /users/{username}", "/users/octocat", None, 200)
        .await;
    walk.call("GET /rate_limit", "/rate_limit", None, 200).await;

    // A GitHub App: its JWT buys an installation token, which then authenticates.
    if let Some(keys) = &keys {
        let app = GitHubApp::new(APP_ID, &SecretString::new(keys.private_pem.clone()), None)
            .expect("the private key parses");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let jwt = format!("Bearer {}", app.jwt(now).expect("jwt").expose());
        let stale = format!("Bearer {}", app.jwt(now - 3600).expect("jwt").expose());
        let with_jwt = [("authorization", jwt.as_str())];
        walk.call_with("GET /app", "/app", None, &with_jwt, 200)
            .await;
        walk.call_with(
            "GET /app",
            "/app",
            None,
            &[("authorization", stale.as_str())],
            401,
        )
        .await;
        let installation = walk
            .call_with(
                "GET /repos/{owner}/{repo}/installation",
                "/repos/acme/app/installation",
                None,
                &with_jwt,
                200,
            )
            .await;
        let id = json_of(&installation)["id"]
            .as_u64()
            .expect("installation id");
        let minted = walk
            .call_with(
                "POST /app/installations/{installation_id}/access_tokens",
                &format!("/app/installations/{id}/access_tokens"),
                None,
                &with_jwt,
                201,
            )
            .await;
        let token = format!(
            "Bearer {}",
            json_of(&minted)["token"].as_str().expect("a token")
        );
        walk.call_with(
            "GET /installation/repositories",
            "/installation/repositories",
            None,
            &[("authorization", token.as_str())],
            200,
        )
        .await;
        walk.call_with(
            "GET /repos/{owner}/{repo}",
            "/repos/acme/app",
            None,
            &[("authorization", token.as_str())],
            200,
        )
        .await;
    }
    walk.call("GET /repos/{owner}/{repo}", r, None, 200).await;
    walk.call(
        "GET /repos/{owner}/{repo}",
        "/repos/acme/missing",
        None,
        404,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/branches/{branch}",
        &format!("{r}/branches/main"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/branches/{branch}",
        &format!("{r}/branches/nope"),
        None,
        404,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/git/ref/{ref}",
        &format!("{r}/git/ref/tags/v1.0.0"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/git/ref/{ref}",
        &format!("{r}/git/ref/heads/main"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/git/ref/{ref}",
        &format!("{r}/git/ref/tags/v9"),
        None,
        404,
    )
    .await;
    walk.call(
        "POST /repos/{owner}/{repo}/git/refs",
        &format!("{r}/git/refs"),
        Some(json!({"ref": "refs/heads/side", "sha": main_sha})),
        201,
    )
    .await;

    // Releases and assets.
    let created = walk
        .call(
            "POST /repos/{owner}/{repo}/releases",
            &format!("{r}/releases"),
            Some(json!({"tag_name": "v1.0.0", "name": "1.0.0", "body": "notes"})),
            201,
        )
        .await;
    let release_id = json_of(&created)["id"].as_u64().expect("release id");
    walk.call(
        "POST /repos/{owner}/{repo}/releases",
        &format!("{r}/releases"),
        Some(json!({"tag_name": "v1.0.0"})),
        422,
    )
    .await;
    let uploaded = walk
        .call(
            "POST /repos/{owner}/{repo}/releases/{release_id}/assets",
            &format!("{r}/releases/{release_id}/assets?name=app.tar.gz"),
            Some(json!("the bytes")),
            201,
        )
        .await;
    let asset_id = json_of(&uploaded)["id"].as_u64().expect("asset id");
    walk.call(
        "GET /repos/{owner}/{repo}/releases",
        &format!("{r}/releases"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/releases/latest",
        &format!("{r}/releases/latest"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/releases/tags/{tag}",
        &format!("{r}/releases/tags/v1.0.0"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/releases/tags/{tag}",
        &format!("{r}/releases/tags/v0"),
        None,
        404,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/releases/{release_id}",
        &format!("{r}/releases/{release_id}"),
        None,
        200,
    )
    .await;
    walk.call(
        "PATCH /repos/{owner}/{repo}/releases/{release_id}",
        &format!("{r}/releases/{release_id}"),
        Some(json!({"body": "better notes"})),
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/releases/{release_id}/assets",
        &format!("{r}/releases/{release_id}/assets"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/releases/assets/{asset_id}",
        &format!("{r}/releases/assets/{asset_id}"),
        None,
        200,
    )
    .await;
    let bytes = request(
        mock.url(),
        "GET",
        &format!("{r}/releases/assets/{asset_id}"),
        None,
        &[("accept", "application/octet-stream")],
    )
    .await;
    assert_eq!(bytes.status, 200);
    assert_eq!(
        bytes.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(bytes.body, b"\"the bytes\"", "the uploaded bytes come back");

    // Actions.
    walk.call(
        "GET /repos/{owner}/{repo}/actions/workflows",
        &format!("{r}/actions/workflows"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}",
        &format!("{r}/actions/workflows/release.yml"),
        None,
        200,
    )
    .await;
    let dispatches = "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches";
    walk.call(
        dispatches,
        &format!("{r}/actions/workflows/release.yml/dispatches"),
        Some(json!({"ref": "main"})),
        204,
    )
    .await;
    let detailed = walk
        .call(
            dispatches,
            &format!("{r}/actions/workflows/release.yml/dispatches"),
            Some(
                json!({"ref": "main", "inputs": {"version": "1.0.0"}, "return_run_details": true}),
            ),
            200,
        )
        .await;
    let run_id = json_of(&detailed)["workflow_run_id"]
        .as_u64()
        .expect("run id");
    walk.call(
        dispatches,
        &format!("{r}/actions/workflows/nope.yml/dispatches"),
        Some(json!({"ref": "main"})),
        404,
    )
    .await;
    walk.call(
        dispatches,
        &format!("{r}/actions/workflows/release.yml/dispatches"),
        Some(json!({"ref": "no-such-branch"})),
        422,
    )
    .await;
    // A run that never ends on its own is cancelled; a completed one cannot be.
    mock.forge().configure_workflow(
        &RepoId::new("acme", "app"),
        "nightly.yml",
        WorkflowSimulation {
            runs_for: std::time::Duration::MAX,
            ..WorkflowSimulation::default()
        },
    );
    let nightly = walk
        .call(
            dispatches,
            &format!("{r}/actions/workflows/nightly.yml/dispatches"),
            Some(json!({"ref": "main", "return_run_details": true})),
            200,
        )
        .await;
    let nightly = json_of(&nightly)["workflow_run_id"]
        .as_u64()
        .expect("run id");
    let cancel = "POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel";
    let rerun = "POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun";
    walk.call(
        rerun,
        &format!("{r}/actions/runs/{nightly}/rerun"),
        None,
        403,
    )
    .await;
    walk.call(
        cancel,
        &format!("{r}/actions/runs/{nightly}/cancel"),
        None,
        202,
    )
    .await;
    walk.call(
        cancel,
        &format!("{r}/actions/runs/{nightly}/cancel"),
        None,
        409,
    )
    .await;
    let cancelled = walk
        .call(
            "GET /repos/{owner}/{repo}/actions/runs/{run_id}",
            &format!("{r}/actions/runs/{nightly}"),
            None,
            200,
        )
        .await;
    assert_eq!(
        (
            json_of(&cancelled)["status"].clone(),
            json_of(&cancelled)["conclusion"].clone()
        ),
        (json!("completed"), json!("cancelled")),
        "a cancelled run shows it"
    );
    walk.call(
        rerun,
        &format!("{r}/actions/runs/{nightly}/rerun"),
        None,
        201,
    )
    .await;
    let rerun_run = request(
        mock.url(),
        "GET",
        &format!("{r}/actions/runs/{nightly}"),
        None,
        &[],
    )
    .await;
    assert_eq!(
        json_of(&rerun_run)["run_attempt"],
        2,
        "a re-run is the run's second attempt"
    );
    walk.call(
        "GET /repos/{owner}/{repo}/commits/{ref}/statuses",
        &format!("{r}/commits/main/statuses"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/commits/{ref}",
        &format!("{r}/commits/no-such-ref"),
        None,
        422,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/actions/runs",
        &format!("{r}/actions/runs"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
        &format!("{r}/actions/workflows/release.yml/runs"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/actions/runs/{run_id}",
        &format!("{r}/actions/runs/{run_id}"),
        None,
        200,
    )
    .await;
    let jobs = walk
        .call(
            "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
            &format!("{r}/actions/runs/{run_id}/jobs"),
            None,
            200,
        )
        .await;
    let job_id = json_of(&jobs)["jobs"][0]["id"].as_u64().expect("job id");
    walk.call(
        "GET /repos/{owner}/{repo}/actions/jobs/{job_id}",
        &format!("{r}/actions/jobs/{job_id}"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/check-runs/{check_run_id}",
        &format!("{r}/check-runs/{job_id}"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
        &format!("{r}/commits/main/check-runs"),
        None,
        200,
    )
    .await;
    walk.call(
        "POST /repos/{owner}/{repo}/dispatches",
        &format!("{r}/dispatches"),
        Some(json!({"event_type": "release"})),
        204,
    )
    .await;

    // Pull requests.
    let opened = walk
        .call(
            "POST /repos/{owner}/{repo}/pulls",
            &format!("{r}/pulls"),
            Some(
                json!({"title": "A feature", "head": "feature", "base": "main", "body": "please"}),
            ),
            201,
        )
        .await;
    let pull = json_of(&opened)["number"].as_u64().expect("pull number");
    walk.call(
        "POST /repos/{owner}/{repo}/pulls",
        &format!("{r}/pulls"),
        Some(json!({"title": "Ghost", "head": "no-such-branch", "base": "main"})),
        422,
    )
    .await;
    let listed = walk
        .call(
            "GET /repos/{owner}/{repo}/pulls",
            &format!("{r}/pulls?head=acme:feature"),
            None,
            200,
        )
        .await;
    assert_eq!(
        json_of(&listed).as_array().map(Vec::len),
        Some(1),
        "head= filters"
    );
    let none = walk
        .call(
            "GET /repos/{owner}/{repo}/pulls",
            &format!("{r}/pulls?head=acme:side"),
            None,
            200,
        )
        .await;
    assert_eq!(
        json_of(&none).as_array().map(Vec::len),
        Some(0),
        "head= filters"
    );
    walk.call(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        &format!("{r}/pulls/{pull}"),
        None,
        200,
    )
    .await;
    walk.call(
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
        &format!("{r}/pulls/{pull}"),
        Some(json!({"title": "A better feature"})),
        200,
    )
    .await;
    walk.call(
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        &format!("{r}/pulls/{pull}/reviews"),
        Some(json!({"event": "COMMENT", "body": "looks fine"})),
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        &format!("{r}/pulls/{pull}/reviews"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits",
        &format!("{r}/pulls/{pull}/commits"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/files",
        &format!("{r}/pulls/{pull}/files"),
        None,
        200,
    )
    .await;

    // Issues, labels, comments (on a plain issue and on the pull request).
    let issue = walk
        .call(
            "POST /repos/{owner}/{repo}/issues",
            &format!("{r}/issues"),
            Some(json!({"title": "A bug", "body": "it breaks"})),
            201,
        )
        .await;
    let issue = json_of(&issue)["number"].as_u64().expect("issue number");
    for n in [issue, pull] {
        walk.call(
            "GET /repos/{owner}/{repo}/issues/{issue_number}",
            &format!("{r}/issues/{n}"),
            None,
            200,
        )
        .await;
        walk.call(
            "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
            &format!("{r}/issues/{n}/labels"),
            Some(json!({"labels": ["bug", "needs review"]})),
            200,
        )
        .await;
        let labels = walk
            .call(
                "GET /repos/{owner}/{repo}/issues/{issue_number}/labels",
                &format!("{r}/issues/{n}/labels"),
                None,
                200,
            )
            .await;
        assert_eq!(
            json_of(&labels).as_array().map(Vec::len),
            Some(2),
            "#{n} labels"
        );
        walk.call(
            "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            &format!("{r}/issues/{n}/labels/bug"),
            None,
            200,
        )
        .await;
        walk.call(
            "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            &format!("{r}/issues/{n}/labels/bug"),
            None,
            404,
        )
        .await;
        let comment = walk
            .call(
                "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
                &format!("{r}/issues/{n}/comments"),
                Some(json!({"body": "a comment"})),
                201,
            )
            .await;
        let comment = json_of(&comment)["id"].as_u64().expect("comment id");
        walk.call(
            "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
            &format!("{r}/issues/{n}/comments"),
            None,
            200,
        )
        .await;
        walk.call(
            "GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
            &format!("{r}/issues/comments/{comment}"),
            None,
            200,
        )
        .await;
        walk.call(
            "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
            &format!("{r}/issues/comments/{comment}"),
            Some(json!({"body": "an edited comment"})),
            200,
        )
        .await;
    }
    let edited = walk
        .call(
            "PATCH /repos/{owner}/{repo}/issues/{issue_number}",
            &format!("{r}/issues/{issue}"),
            Some(json!({"title": "A worse bug", "state": "closed"})),
            200,
        )
        .await;
    assert_eq!(
        json_of(&edited)["title"],
        "A worse bug",
        "PATCH applies the title"
    );
    assert_eq!(
        json_of(&edited)["state"],
        "closed",
        "PATCH applies the state"
    );
    walk.call(
        "GET /repos/{owner}/{repo}/labels/{name}",
        &format!("{r}/labels/needs%20review"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
        &format!("{r}/collaborators/octocat/permission"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/contents/{path}",
        &format!("{r}/contents/README.md?ref=main"),
        None,
        200,
    )
    .await;
    walk.call(
        "GET /repos/{owner}/{repo}/compare/{basehead}",
        &format!("{r}/compare/main...feature"),
        None,
        200,
    )
    .await;
    walk.call(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        &format!("{r}/pulls/{pull}/merge"),
        Some(json!({})),
        200,
    )
    .await;
    walk.call(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        &format!("{r}/pulls/{pull}/merge"),
        Some(json!({})),
        405,
    )
    .await;
    let _ = feature_sha;

    // What GitHub would send webhooks for was recorded, in one place.
    let events = mock.events();
    let saw = |wanted: &dyn Fn(&MockEvent) -> bool| events.iter().any(wanted);
    assert!(
        saw(&|e| matches!(e, MockEvent::ReleaseCreated { tag, .. } if tag == "v1.0.0")),
        "{events:?}"
    );
    assert!(
        saw(&|e| matches!(e, MockEvent::AssetUploaded { name, .. } if name == "app.tar.gz")),
        "{events:?}"
    );
    assert!(
        saw(&|e| matches!(e, MockEvent::WorkflowRun { action, .. } if action == "requested")),
        "{events:?}"
    );
    assert!(
        saw(&|e| matches!(e, MockEvent::PullRequest { action, .. } if action == "opened")),
        "{events:?}"
    );
    assert!(
        saw(&|e| matches!(e, MockEvent::PullRequest { action, .. } if action == "closed")),
        "{events:?}"
    );
    assert!(
        saw(&|e| matches!(e, MockEvent::Issue { action, .. } if action == "closed")),
        "{events:?}"
    );
    assert!(
        saw(&|e| matches!(e, MockEvent::IssueComment { action, .. } if action == "edited")),
        "{events:?}"
    );
    assert!(
        saw(&|e| matches!(e, MockEvent::Label { action, .. } if action == "unlabeled")),
        "{events:?}"
    );

    // The walk stayed inside the table.
    let walked = mock.stats();
    if let Some(outside) = walked.by_route.keys().find(|r| r.contains("(unknown)")) {
        walk.problems.push(format!(
            "the walk reached a route outside the table: {outside}"
        ));
    }

    // Every URL the mock wrote resolves (the legacy `git/refs/...` spelling included).
    let followed = crawl(&mut walk).await;
    assert!(followed >= 100, "too few URLs followed: {followed}");

    // Every route of the table answered at least one validated success.
    let stats = mock.stats();
    let succeeded: BTreeSet<&str> = stats
        .by_route
        .iter()
        // A documented redirect (archives, logs) is a success too.
        .filter(|(_, s)| s.by_status.keys().any(|c| (200..400).contains(c)))
        .map(|(route, _)| route.as_str())
        .collect();
    let untested: Vec<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .filter(|r| !succeeded.contains(r.as_str()))
        // Without openssl there is no key pair to authenticate the App routes with.
        .filter(|r| keys.is_some() || !(r.contains("/app") || r.contains("installation")))
        .collect();
    if !untested.is_empty() {
        walk.problems.push(format!(
            "routes the walk did not exercise with a success: {untested:?}"
        ));
    }
    let validated: BTreeMap<&str, usize> = walk
        .exchanges
        .iter()
        .filter(|e| walk.spec.doc["operations"].get(&e.op).is_some())
        .fold(BTreeMap::new(), |mut m, e| {
            *m.entry(e.op.as_str()).or_default() += 1;
            m
        });
    eprintln!(
        "mock_openapi: {} operations served and validated against {} ({} answers, {} URLs resolved)",
        validated.len(),
        Description::load().doc["source"]
            .as_str()
            .unwrap_or_default(),
        walk.exchanges.len(),
        followed
    );
    assert!(
        walk.problems.is_empty(),
        "answers GitHub's description rejects:\n{}",
        walk.problems.join("\n")
    );
    mock.shutdown().await;
}

#[test]
fn a_missing_required_field_is_named_with_its_operation() {
    let spec = Description::load();
    let reply = Reply {
        status: 200,
        headers: Vec::new(),
        body: serde_json::to_vec(&json!({"id": 1, "name": "x"})).expect("json"),
    };
    let problems = spec.check("GET /repos/{owner}/{repo}/labels/{name}", &reply);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("GET /repos/{owner}/{repo}/labels/{name}")
                && p.contains("\"color\" is a required property")),
        "{problems:?}"
    );
    let created = Reply {
        status: 201,
        headers: Vec::new(),
        body: b"{}".to_vec(),
    };
    let problems = spec.check("POST /repos/{owner}/{repo}/issues", &created);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("header location is missing")),
        "{problems:?}"
    );
}

/// GitHub lets anyone with write access upload to a release CI made; so does the mock, and the
/// asset is then listed with CI's own.
#[tokio::test]
async fn an_asset_uploads_to_a_release_the_simulated_ci_made() {
    let mock = MockGitHub::start(
        MockOptions::default()
            .ci_delay(std::time::Duration::ZERO)
            .asset_interval(std::time::Duration::ZERO),
    )
    .await
    .expect("mock starts");
    mock.notify_tag_pushed("acme", "app", "v2.0.0");
    // Even with no delay, CI's release is a draft (hidden from the by-tag read) for its first
    // half millisecond: ask until it is published, as any client of a real CI would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let release = loop {
        let release = request(
            mock.url(),
            "GET",
            "/repos/acme/app/releases/tags/v2.0.0",
            None,
            &[],
        )
        .await;
        if release.status == 200 || std::time::Instant::now() > deadline {
            break release;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    };
    assert_eq!(release.status, 200, "CI published it");
    let id = json_of(&release)["id"].as_u64().expect("id");
    let uploaded = request(
        mock.url(),
        "POST",
        &format!("/repos/acme/app/releases/{id}/assets?name=extra.txt"),
        Some(&json!("extra")),
        &[],
    )
    .await;
    assert_eq!(
        uploaded.status,
        201,
        "{}",
        String::from_utf8_lossy(&uploaded.body)
    );
    assert!(uploaded.header("location").is_some(), "a 201 says where");
    let problems = Description::load().check(
        "POST /repos/{owner}/{repo}/releases/{release_id}/assets",
        &uploaded,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let assets = request(
        mock.url(),
        "GET",
        &format!("/repos/acme/app/releases/{id}/assets"),
        None,
        &[],
    )
    .await;
    let names: Vec<String> = json_of(&assets)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, ["extra.txt"]);
    mock.shutdown().await;
}

/// GitHub answers `404` to a dispatch of a workflow file the repository does not have, also when
/// it has no workflows at all (the mock used to accept any name there); declaring it makes the
/// same dispatch work.
#[tokio::test]
async fn a_dispatch_of_an_undeclared_workflow_is_404_even_in_a_repo_without_workflows() {
    let mock = MockGitHub::start(MockOptions::default())
        .await
        .expect("mock starts");
    mock.create_repo("acme", "bare");
    let path = "/repos/acme/bare/actions/workflows/release.yml/dispatches";
    let body = json!({"ref": "main"});
    let refused = request(mock.url(), "POST", path, Some(&body), &[]).await;
    assert_eq!(
        refused.status,
        404,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let problems = Description::load().check(
        "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
        &refused,
    );
    assert!(problems.is_empty(), "{problems:?}");
    mock.add_workflow("acme", "bare", "release.yml");
    let accepted = request(mock.url(), "POST", path, Some(&body), &[]).await;
    assert_eq!(
        accepted.status,
        204,
        "{}",
        String::from_utf8_lossy(&accepted.body)
    );
    mock.shutdown().await;
}
