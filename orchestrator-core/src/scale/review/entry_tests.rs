//! The entry point over the in-memory forge and cluster, in a workspace on a temp dir: what it
//! decides (ignore, policy, cluster) and that bad input leaves the forge, the cluster and the
//! state directory as they were.

use std::path::Path;
use std::sync::Mutex;

use super::*;
use crate::cluster::{Cluster, InMemoryCluster};
use crate::config::Config;
use crate::forge::prelude::*;
use crate::scale::fixtures::{BOT, World};
use crate::state::RunStatus;

/// `[scale]` without the rollout wait: the in-memory cluster has no rollouts to wait for.
const NO_WAIT: &str = "[scale]\nwait_for_rollout = false\n";

/// The workspace of `config_text` in `dir`, over `w`'s forge; its state in `dir/.orchestrator`.
fn workspace(dir: &Path, w: &World, config_text: &str) -> Workspace {
    let file = dir.join("orchestrator.toml");
    std::fs::write(&file, config_text).expect("config");
    Workspace::builder(Config::parse(config_text, &file).expect("valid config"))
        .state_dir(dir.join(".orchestrator"))
        .expect("state dir")
        .forge(Arc::new(w.forge.clone()))
        .build()
}

/// Gives `cluster` (or an error when it has none) and counts how often it was asked.
#[derive(Debug, Default)]
struct CountingConnector {
    cluster: Option<Arc<InMemoryCluster>>,
    connects: Mutex<usize>,
}

impl CountingConnector {
    fn of(cluster: &Arc<InMemoryCluster>) -> Arc<Self> {
        Arc::new(Self {
            cluster: Some(cluster.clone()),
            connects: Mutex::new(0),
        })
    }

    fn connects(&self) -> usize {
        *self.connects.lock().expect("not poisoned")
    }
}

#[async_trait::async_trait]
impl ClusterConnector for CountingConnector {
    async fn connect(&self) -> Result<Arc<dyn Cluster>> {
        *self.connects.lock().expect("not poisoned") += 1;
        match &self.cluster {
            Some(cluster) => Ok(cluster.clone()),
            None => Err(Error::state("this test has no cluster to connect to")),
        }
    }
}

/// `user` comments `body` on `w`'s plan pull request; the webhook payload GitHub sends for it.
fn commented(w: &World, user: &str, body: &str) -> serde_json::Value {
    let comment = w
        .forge
        .comment_as(&w.repo, w.number, user, body)
        .expect("comment");
    payload(w, user, comment.id, body)
}

fn payload(w: &World, user: &str, comment_id: u64, body: &str) -> serde_json::Value {
    serde_json::json!({
        "action": "created",
        "repository": {"full_name": w.repo.to_string()},
        "issue": {"number": w.number, "pull_request": {"url": "x"}},
        "comment": {"id": comment_id, "body": body, "user": {"login": user}},
    })
}

fn request(
    json: serde_json::Value,
    cluster: Option<Arc<dyn ClusterConnector>>,
) -> CommentCommandRequest {
    CommentCommandRequest {
        cluster,
        ..CommentCommandRequest::new(CommentEventSource::Payload {
            json,
            origin: "event.json".into(),
        })
    }
}

/// A comment without a command is answered `Ignored` without a request to the forge, a cluster
/// or a state directory.
#[tokio::test]
async fn an_ignored_comment_touches_nothing() {
    let w = World::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = workspace(dir.path(), &w, NO_WAIT);
    let json = commented(&w, "dev", "looks good to me");
    let mut edited = payload(&w, "dev", 1, "/apply-plan");
    edited["action"] = "edited".into();
    let connector = CountingConnector::of(&w.cluster);
    let requests = w.forge.requests().len();
    for (json, reason) in [
        (
            json,
            "no /apply-plan, /approve-plan, /rollback-plan or /unlock-plan line",
        ),
        (edited, "only new comments carry commands"),
    ] {
        let outcome = run_comment_command(&ws, &request(json, Some(connector.clone())))
            .await
            .expect("answered");
        assert_eq!(
            outcome,
            CommandOutcome::Ignored {
                reason: reason.into()
            }
        );
        assert!(outcome.succeeded());
    }
    assert_eq!(w.forge.requests().len(), requests, "no forge request");
    assert_eq!(connector.connects(), 0);
    assert!(!dir.path().join(".orchestrator").exists(), "no state");
}

/// A bot login's `/apply-plan` is ignored by the policy, so no cluster is connected for it: the
/// connector here fails, and the command is still answered.
#[tokio::test]
async fn a_bots_apply_needs_no_cluster() {
    let w = World::new().await;
    w.approve("maint");
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = workspace(dir.path(), &w, NO_WAIT);
    let json = commented(&w, BOT, "/apply-plan");
    let connector = Arc::new(CountingConnector::default());
    let before = w.cluster.snapshot();
    let outcome = run_comment_command(&ws, &request(json, Some(connector.clone())))
        .await
        .expect("answered without a cluster");
    assert_eq!(
        outcome,
        CommandOutcome::Ignored {
            reason: "a comment by a bot login".into()
        }
    );
    assert_eq!(connector.connects(), 0);
    assert_eq!(w.cluster.snapshot(), before);
}

/// A minimum permission that is no level is refused before the forge is asked anything, the
/// cluster connected or the state directory created.
#[tokio::test]
async fn a_bad_minimum_permission_is_refused_before_any_effect() {
    let w = World::new().await;
    w.approve("maint");
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = workspace(dir.path(), &w, NO_WAIT);
    let json = commented(&w, "dev", "/apply-plan");
    let connector = CountingConnector::of(&w.cluster);
    let mut bad = request(json, Some(connector.clone()));
    bad.overrides.min_permission = Some("owner".into());
    let requests = w.forge.requests().len();
    let comments = w
        .forge
        .list_comments(&w.repo, w.number)
        .await
        .expect("list");
    let before = w.cluster.snapshot();
    let err = run_comment_command(&ws, &bad).await.expect_err("refused");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "--min-permission owner: expected write, maintain or admin"
    );
    // The `list_comments` above is the only request since.
    assert_eq!(w.forge.requests().len(), requests + 1, "no forge request");
    assert_eq!(connector.connects(), 0);
    assert_eq!(w.cluster.snapshot(), before);
    assert!(!dir.path().join(".orchestrator").exists(), "no state");
    let after = w
        .forge
        .list_comments(&w.repo, w.number)
        .await
        .expect("list");
    assert_eq!(after.len(), comments.len(), "nothing posted");
}

/// An approved `/apply-plan` changes the cluster the connector gives, as a journaled command
/// run in the workspace's own state store.
#[tokio::test]
async fn an_approved_apply_changes_the_connected_cluster_in_a_journaled_run() {
    let w = World::new().await;
    w.approve("maint");
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = workspace(dir.path(), &w, NO_WAIT);
    let json = commented(&w, "dev", "/apply-plan");
    let connector = CountingConnector::of(&w.cluster);
    let outcome = run_comment_command(&ws, &request(json, Some(connector.clone())))
        .await
        .expect("applied");
    let CommandOutcome::Executed {
        command,
        approvers,
        ok,
        ..
    } = &outcome
    else {
        panic!("executed: {outcome:?}");
    };
    assert_eq!(*command, PlanCommand::ApplyPlan);
    assert_eq!(approvers, &["maint".to_owned()]);
    assert!(*ok && outcome.succeeded());
    assert_eq!(connector.connects(), 1);
    assert_eq!(w.replicas("web"), 6);
    let store = ws.read_only_store().await.expect("store");
    let runs = store
        .runs(Some(super::super::COMMAND_RUN_KIND), None, 10)
        .await
        .expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [RunStatus::Succeeded]
    );
}

/// The overrides apply on top of the trusted policy: allowing only `lead` refuses `maint`'s
/// approval that the configured policy accepts, and nothing changes.
#[tokio::test]
async fn an_allowed_users_override_refuses_an_approval_the_policy_accepts() {
    let w = World::new().await;
    w.approve("maint");
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = workspace(dir.path(), &w, NO_WAIT);
    let json = commented(&w, "dev", "/apply-plan");
    let mut only_lead = request(json, Some(CountingConnector::of(&w.cluster)));
    only_lead.overrides.allowed_users = vec!["lead".into()];
    let before = w.cluster.snapshot();
    let outcome = run_comment_command(&ws, &only_lead)
        .await
        .expect("answered");
    assert!(
        matches!(
            outcome,
            CommandOutcome::Refused {
                command: PlanCommand::ApplyPlan,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(outcome.succeeded(), "a refusal is an answer");
    assert_eq!(w.cluster.snapshot(), before);
    assert!(
        w.last_comment().await.contains("Nothing was changed"),
        "the refusal is posted"
    );
}

/// Without a cluster an approved `/apply-plan` is an error, and nothing is journaled; the other
/// commands never need one.
#[tokio::test]
async fn without_a_cluster_an_approved_apply_is_an_error_but_an_approve_plan_is_answered() {
    let w = World::new().await;
    w.approve("maint");
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = workspace(dir.path(), &w, NO_WAIT);
    let outcome = run_comment_command(&ws, &request(commented(&w, "dev", "/approve-plan"), None))
        .await
        .expect("answered");
    assert_eq!(
        outcome,
        CommandOutcome::Answered {
            command: PlanCommand::ApprovePlan
        }
    );
    let err = run_comment_command(&ws, &request(commented(&w, "dev", "/apply-plan"), None))
        .await
        .expect_err("no cluster");
    assert!(err.to_string().contains("needs a cluster"), "{err}");
}

/// An event file that is not JSON, or lacks a field, is bad input naming the file.
#[test]
fn a_bad_event_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("event.json");
    for (text, says) in [
        ("not json", "not JSON"),
        ("{\"comment\": 5}", "issue_comment event lacks /action"),
    ] {
        std::fs::write(&file, text).expect("write");
        let err = CommentEventSource::File(file.clone())
            .read()
            .expect_err("bad input");
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}: ", file.display())) && message.contains(says),
            "{message}"
        );
    }
    let err = CommentEventSource::Payload {
        json: serde_json::json!({"action": "created"}),
        origin: "job 7".into(),
    }
    .read()
    .expect_err("bad input");
    assert!(
        err.to_string()
            .starts_with("job 7: issue_comment event lacks"),
        "{err}"
    );
    let err = CommentEventSource::File(dir.path().join("missing.json"))
        .read()
        .expect_err("no file");
    assert!(err.to_string().contains("missing.json"), "{err}");
}
