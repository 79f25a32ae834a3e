//! The session's guarantees over the in-memory backends and tiny shell commands: the lock, a dry
//! run that creates nothing, the forge built one way, cancellation that journals.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::workflows::TasksWorkflow;
use super::*;
use crate::forge::InMemoryForge;
use crate::secret::SecretString;
use crate::state::RunStatus;
use crate::tasks::TasksRequest;

const TASKS: &str = r#"
[[tasks.nightly]]
name = "a"
run = ["/bin/sh", "-c", "echo a >> ran.log"]
"#;

fn config(dir: &Path, text: &str) -> Config {
    let file = dir.join("orchestrator.toml");
    std::fs::write(&file, text).expect("config");
    Config::parse(text, &file).expect("valid config")
}

fn nightly(resume: bool) -> TasksWorkflow {
    TasksWorkflow {
        request: TasksRequest {
            list: "nightly".into(),
            skip: Vec::new(),
            resume,
        },
    }
}

/// Records the URL it was asked to connect to.
#[derive(Default)]
struct RecordingConnector {
    urls: Mutex<Vec<String>>,
}

impl ForgeConnector for RecordingConnector {
    fn connect(&self, api_url: &str, _: Option<SecretString>) -> Result<Arc<dyn Forge>> {
        self.urls
            .lock()
            .expect("not poisoned")
            .push(api_url.to_owned());
        Ok(Arc::new(InMemoryForge::new()))
    }
}

#[tokio::test]
async fn a_second_session_is_refused_while_the_first_holds_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::builder(config(dir.path(), TASKS)).build();
    let first = ws
        .session("tasks run nightly")
        .await
        .expect("first session");
    let second = Workspace::builder(config(dir.path(), TASKS))
        .build()
        .session("release 1.0.0")
        .await;
    match second {
        Err(Error::Locked { holder, .. }) => {
            assert!(holder.contains("tasks run nightly"), "{holder}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    ws.session("again").await.expect("free once the first ends");
}

#[tokio::test]
async fn a_preview_plans_and_creates_no_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::builder(config(dir.path(), TASKS)).build();
    let plan = ws.preview(&nightly(false)).await.expect("plan");
    assert_eq!(plan.tasks.len(), 1);
    assert!(!ws.state_dir().exists(), "a dry run created the state dir");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_state_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::builder(config(dir.path(), TASKS)).build();
    let mut workflow = nightly(false);
    workflow.request.list = "weekly".into();
    let err = ws.run(&workflow).await.expect_err("unknown list");
    assert!(err.is_bad_input(), "{err}");
    assert!(!ws.state_dir().exists(), "bad input created the state dir");
}

#[tokio::test]
async fn a_run_is_journaled_in_the_state_dir_and_releases_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::builder(config(dir.path(), TASKS))
        .state_dir(dir.path().join("state"))
        .expect("state dir")
        .build();
    let finished = ws.run(&nightly(false)).await.expect("run");
    assert_eq!(finished.outcome, Outcome::Succeeded);
    let store = ws.read_only_store().await.expect("store");
    let runs = store
        .runs(Some("tasks"), Some("nightly"), 5)
        .await
        .expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    // Typed, versioned parameters: what a resume reads back.
    assert_eq!(runs[0].params["version"], 1, "{}", runs[0].params);
    ws.session("next").await.expect("the run released the lock");
}

#[tokio::test]
async fn a_cancelled_workspace_journals_the_run_as_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::builder(config(dir.path(), TASKS)).build();
    // What Ctrl-C does: the workspace's token is cancelled.
    ws.cancel_token().cancel();
    let finished = ws.run(&nightly(false)).await.expect("run");
    assert_eq!(finished.outcome, Outcome::Interrupted);
    assert!(
        !dir.path().join("ran.log").exists(),
        "a task ran after Ctrl-C"
    );
    let store = ws.read_only_store().await.expect("store");
    let runs = store.runs(Some("tasks"), None, 5).await.expect("runs");
    assert_eq!(runs[0].status, RunStatus::Cancelled, "journaled as stopped");
}

#[tokio::test]
async fn the_forge_is_the_one_forge_api_url_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let connector = Arc::new(RecordingConnector::default());
    let ws = Workspace::builder(config(
        dir.path(),
        "[forge]\napi_url = \"http://127.0.0.1:9/api/v3\"\n",
    ))
    .forge_connector(connector.clone())
    .build();
    ws.forge().await.expect("forge");
    ws.forge().await.expect("built once, then shared");
    assert_eq!(
        *connector.urls.lock().expect("not poisoned"),
        ["http://127.0.0.1:9/api/v3"]
    );
}

#[tokio::test]
async fn forge_simulate_needs_no_connector_and_the_default_url_is_githubs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let simulated = Workspace::builder(config(dir.path(), "[forge.simulate]\n")).build();
    simulated.forge().await.expect("simulated forge");

    let connector = Arc::new(RecordingConnector::default());
    let plain = Workspace::builder(config(dir.path(), ""))
        .forge_connector(connector.clone())
        .build();
    plain.forge().await.expect("forge");
    assert_eq!(
        *connector.urls.lock().expect("not poisoned"),
        [forge::DEFAULT_API_URL]
    );

    let unreachable = Workspace::builder(config(dir.path(), "")).build();
    match unreachable.forge().await {
        Err(Error::NotSupported { what, .. }) => assert!(what.contains("api.github.com"), "{what}"),
        other => panic!("expected NotSupported, got {other:?}"),
    }
}

#[tokio::test]
async fn rejected_credentials_stop_the_check_with_their_own_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let forge = Arc::new(InMemoryForge::new());
    forge.inject(crate::forge::FaultRule {
        op: None,
        repo: None,
        times: 1,
        fault: crate::forge::Fault::Unauthenticated,
    });
    let ws = Workspace::builder(config(dir.path(), ""))
        .forge(forge)
        .build();
    let repo = crate::forge::RepoId::new("o", "r");
    let err = ws.check_forge(&repo, "v1").await.expect_err("refused");
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
}
