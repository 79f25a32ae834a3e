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
use orchestrator_github::mock::{MockEvent, MockGitHub, MockOptions, ROUTES};
use serde_json::{Value, json};

const SUBSET: &str = include_str!("openapi/github-subset.json");
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
            reply: reply.clone(),
        });
        reply
    }
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

/// API URL fields the mock writes but does not serve: archives, logs and the Actions controls,
/// and collections it does not model. Every other API URL (`{mock}/repos/...`, `{mock}/users/...`)
/// in an answer, and every `browser_download_url`, must answer `200`. Web pages (`html_url`) are
/// GitHub's website, not its API: not served.
const NOT_SERVED: &[&str] = &[
    "tarball_url",
    "zipball_url",
    "logs_url",
    "check_suite_url",
    "artifacts_url",
    "cancel_url",
    "rerun_url",
    "annotations_url",
    "statuses_url",
    "review_comments_url",
    "commits_url",
    "events_url",
    "comments_url",
    "contents_url",
    "blob_url",
    "raw_url",
    "download_url",
    "git_url",
    "protection_url",
];

/// Paths of API objects the mock does not model: git data (commits, trees, blobs), commit
/// statuses, reactions.
const NOT_SERVED_PATHS: &[&str] = &[
    "/git/commits/",
    "/git/trees/",
    "/git/blobs/",
    "/statuses/",
    "/reactions",
];

/// The URLs in `value` the mock must serve (see [`NOT_SERVED`]), outside users and repositories
/// (only their own `url` counts there: their other fields are GitHub's collection templates).
fn served_urls(value: &Value, base: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(obj) => {
            let account_or_repo = obj.contains_key("login") || obj.contains_key("full_name");
            for (key, field) in obj {
                if let Value::String(url) = field {
                    let is_url = key == "url" || key == "href" || key.ends_with("_url");
                    let api = url.starts_with(&format!("{base}/repos/"))
                        || url.starts_with(&format!("{base}/users/"));
                    let path = url.strip_prefix(base).unwrap_or(url);
                    // Commits and their comments, and review comments, are not modeled.
                    let unmodeled = NOT_SERVED.contains(&key.as_str())
                        || NOT_SERVED_PATHS.iter().any(|p| path.contains(p))
                        || (path.contains("/commits/") && !path.contains("/check-runs"))
                        || (path.contains("/pulls/") && path.ends_with("/comments"));
                    let modeled = !unmodeled;
                    let wanted = is_url
                        && !url.contains('{')
                        && ((api && modeled && (!account_or_repo || key == "url"))
                            || key == "browser_download_url");
                    if wanted {
                        out.insert(url.clone());
                    }
                } else {
                    served_urls(field, base, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| served_urls(i, base, out)),
        _ => {}
    }
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
    let main_sha = origin.commit_file("main", "README.md", "hello\n", "readme");
    let feature_sha = origin.commit_file("feature", "src/lib.rs", "pub fn f() {}\n", "a feature");
    origin.tag("v1.0.0", &main_sha);
    let mock = MockGitHub::start(MockOptions::default().origins(origins.path()))
        .await
        .expect("mock starts");
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
    let mut urls = BTreeSet::new();
    for exchange in &walk.exchanges {
        served_urls(&json_of(&exchange.reply), mock.url(), &mut urls);
    }
    let mut unresolved = Vec::new();
    for url in &urls {
        let path = url.strip_prefix(mock.url()).unwrap_or(url);
        let reply = request(mock.url(), "GET", path, None, &[]).await;
        if reply.status != 200 {
            unresolved.push(format!("{url}: {}", reply.status));
        }
    }
    walk.problems.extend(
        unresolved
            .into_iter()
            .map(|u| format!("URL in an answer does not resolve: {u}")),
    );
    assert!(urls.len() >= 20, "too few URLs checked: {urls:?}");

    // Every route of the table answered at least one validated success.
    let stats = mock.stats();
    let succeeded: BTreeSet<&str> = stats
        .by_route
        .iter()
        .filter(|(_, s)| s.by_status.keys().any(|c| (200..300).contains(c)))
        .map(|(route, _)| route.as_str())
        .collect();
    let untested: Vec<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .filter(|r| !succeeded.contains(r.as_str()))
        .collect();
    if !untested.is_empty() {
        walk.problems.push(format!(
            "routes the walk did not exercise with a success: {untested:?}"
        ));
    }
    let validated: BTreeMap<&str, usize> =
        walk.exchanges.iter().fold(BTreeMap::new(), |mut m, e| {
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
        urls.len()
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
    let release = request(
        mock.url(),
        "GET",
        "/repos/acme/app/releases/tags/v2.0.0",
        None,
        &[],
    )
    .await;
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
