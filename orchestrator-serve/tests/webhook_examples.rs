//! The intake understands what GitHub really sends: every payload of `@octokit/webhooks-examples`
//! for the events `serve` acts on (`push`, `repository_dispatch`, `issue_comment`,
//! `pull_request`, `pull_request_review`, `workflow_run`, `release`, and `ping`) is classified
//! without a payload error, and each kind lands where it should (a release or workflow run wakes
//! the waits on its repository; a push to the default branch or a dispatch is a cascade job).
//!
//! The examples come from the package `.ci/tools/npm-webhooks.sh` installs: without it the test
//! says it is skipped, unless `ORCHESTRATOR_REQUIRE_EXTERNAL=1` (as in CI), when it fails naming
//! the script.

use std::path::PathBuf;

use orchestrator_core::forge::RepoId;
use orchestrator_serve::{Intake, JobKind, classify};
use serde_json::Value;

/// `@octokit/webhooks-examples`' payloads for github.com, if installed.
fn examples() -> Option<Value> {
    let tools = std::env::var_os("ORCHESTRATOR_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orchestrator-ci"))
        })?;
    let file = tools
        .join("npm-webhooks/node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    let text = std::fs::read_to_string(file).ok()?;
    Some(serde_json::from_str(&text).expect("index.json is JSON"))
}

const EVENTS: &[&str] = &[
    "push",
    "repository_dispatch",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "workflow_run",
    "release",
    "ping",
];

#[test]
fn every_relevant_github_example_payload_is_understood() {
    let Some(examples) = examples() else {
        if std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
            panic!("@octokit/webhooks-examples is not installed: run .ci/tools/npm-webhooks.sh");
        }
        eprintln!(
            "skipped: @octokit/webhooks-examples not installed (run .ci/tools/npm-webhooks.sh)"
        );
        return;
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for group in examples.as_array().expect("a list of events") {
        let event = group["name"].as_str().expect("a name");
        if !EVENTS.contains(&event) {
            continue;
        }
        for (i, payload) in group["examples"]
            .as_array()
            .expect("examples")
            .iter()
            .enumerate()
        {
            checked += 1;
            let what = format!(
                "{event} example {i} ({})",
                payload["action"].as_str().unwrap_or("no action")
            );
            let intake = match classify(event, Some("delivery"), payload) {
                Ok(intake) => intake,
                Err(e) => {
                    problems.push(format!("{what}: refused: {e}"));
                    continue;
                }
            };
            let repo = payload["repository"]["full_name"]
                .as_str()
                .and_then(|f| f.parse::<RepoId>().ok());
            match (event, &intake) {
                ("release" | "workflow_run", Intake::Wake { repo: woken, .. })
                    if repo.as_ref() != Some(woken) =>
                {
                    problems.push(format!("{what}: woke {woken}, not {repo:?}"));
                }
                // GitHub's own release payloads carry the release the wake is filtered by.
                ("release", Intake::Wake { release: None, .. }) => {
                    problems.push(format!("{what}: the release was not read from the payload"));
                }
                ("release" | "workflow_run", Intake::Wake { .. }) => {}
                ("release" | "workflow_run", other) => {
                    problems.push(format!("{what}: should wake waits, got {other:?}"));
                }
                ("push", _) => {
                    let default = format!(
                        "refs/heads/{}",
                        payload["repository"]["default_branch"]
                            .as_str()
                            .unwrap_or("")
                    );
                    let to_default =
                        payload["ref"] == default.as_str() && payload["deleted"] != true;
                    let is_job =
                        matches!(&intake, Intake::Job(job) if job.kind == JobKind::Cascade);
                    if to_default != is_job {
                        problems.push(format!(
                            "{what}: a push to {} gave {intake:?}",
                            payload["ref"]
                        ));
                    }
                }
                ("repository_dispatch", Intake::Job(job)) if job.kind == JobKind::Cascade => {}
                ("repository_dispatch", other) => {
                    problems.push(format!("{what}: should be a cascade job, got {other:?}"));
                }
                ("ping" | "pull_request" | "pull_request_review", Intake::Ignored { .. }) => {}
                ("ping" | "pull_request" | "pull_request_review", other) => {
                    problems.push(format!("{what}: should be ignored, got {other:?}"));
                }
                // A comment is a job when it is a plan command, else ignored: both are fine.
                _ => {}
            }
        }
    }
    assert!(checked > 50, "only {checked} examples found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
