//! Commands read from comments and events, and the journaled command run over the in-memory
//! forge and cluster: killed at every journal write and run again, a command changes the cluster,
//! answers and labels exactly as an uninterrupted one does.

use crate::forge::prelude::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::*;
use crate::cluster::ClusterState;
use crate::forge::{Fault, FaultRule, ForgeOp};
use crate::scale::approval::{GateAction, GateRequest, verify};
use crate::scale::execute::ScaleExecutor;
use crate::scale::fixtures::World;
use crate::state::{FaultyStateStore, MemoryStateStore, RunStatus, StateStore};
use crate::workspace::JournaledRunner;

#[test]
fn commands_are_case_insensitive_on_their_own_line() {
    assert_eq!(parse_command("/apply-plan"), Some(PlanCommand::ApplyPlan));
    assert_eq!(
        parse_command("LGTM\n  /Approve-Plan  \n"),
        Some(PlanCommand::ApprovePlan)
    );
    assert_eq!(
        parse_command("/ROLLBACK-PLAN"),
        Some(PlanCommand::RollbackPlan)
    );
    assert_eq!(parse_command("/unlock-plan"), Some(PlanCommand::UnlockPlan));
    assert_eq!(parse_command("please /apply-plan"), None);
    assert_eq!(parse_command("> /apply-plan"), None);
    assert_eq!(parse_command("/apply-plans"), None);
    assert_eq!(parse_command("apply-plan"), None);
}

#[test]
fn issue_comment_events_are_read() {
    let event = serde_json::json!({
        "action": "created",
        "repository": {"full_name": "ledger-mind/website"},
        "issue": {"number": 7, "pull_request": {"url": "x"}},
        "comment": {"id": 99, "body": "/apply-plan", "user": {"login": "maint"}}
    });
    let e = CommentEvent::from_github_event(&event).expect("parse");
    assert_eq!(e.repo, RepoId::new("ledger-mind", "website"));
    assert!(e.is_pull_request);
    assert_eq!(
        (e.number, e.comment_id, e.commenter.as_str()),
        (7, 99, "maint")
    );
    let err = CommentEvent::from_github_event(&serde_json::json!({"action": "created"}))
        .expect_err("incomplete");
    assert!(err.to_string().contains("/repository/full_name"), "{err}");
}

/// Everything a command leaves behind: the comments on the pull request (without a result's
/// step lines, whose detail says whether this attempt or a killed one made the change), its
/// labels, the cluster, every write the cluster took, and the command runs journaled.
#[derive(Debug, PartialEq)]
struct Left {
    comments: Vec<String>,
    labels: Vec<String>,
    cluster: ClusterState,
    writes: Vec<String>,
    command_runs: Vec<RunStatus>,
}

async fn left(w: &World, store: &dyn StateStore) -> Left {
    let comments = w
        .forge
        .list_comments(&w.repo, w.number)
        .await
        .expect("comments");
    let mut labels = w
        .forge
        .pull_request(&w.repo, w.number)
        .await
        .expect("pr")
        .labels;
    labels.sort();
    Left {
        comments: comments
            .into_iter()
            .map(|c| {
                c.body
                    .lines()
                    .filter(|line| !line.starts_with("- `"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect(),
        labels,
        cluster: w.cluster.snapshot(),
        writes: w.cluster.writes(),
        command_runs: store
            .runs(Some(COMMAND_RUN_KIND), None, 10)
            .await
            .expect("runs")
            .into_iter()
            .map(|r| r.status)
            .collect(),
    }
}

type Outcome<'a> = Pin<Box<dyn Future<Output = crate::Result<String>> + 'a>>;

/// One way of running a command in `w`, journaled in `store`; its result, shown.
type Run = for<'a> fn(&'a World, Arc<dyn StateStore>) -> Outcome<'a>;

/// Sets up `w` for a command: the people's approvals and comments.
type Setup = for<'a> fn(&'a World) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Runs the command on a fresh world killed before its k-th journal write, for every k, then
/// again on the same store; each time the world ends exactly as after one run nobody killed.
async fn killed_at_every_journal_write(setup: Setup, run: Run) {
    let reference = {
        let w = World::new().await;
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        setup(&w).await;
        let shown = run(&w, store.clone()).await.expect("an uninterrupted run");
        (shown, left(&w, store.as_ref()).await)
    };
    assert_eq!(reference.1.command_runs, [RunStatus::Succeeded]);
    let mut killed = 0;
    for k in 1.. {
        let w = World::new().await;
        setup(&w).await;
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let faulty = Arc::new(FaultyStateStore::crash_at_append(store.clone(), k));
        let first = run(&w, faulty.clone()).await;
        if !faulty.crashed() {
            assert_eq!(first.expect("not killed"), reference.0, "k={k}");
            break;
        }
        killed += 1;
        assert!(first.is_err(), "k={k}: a dead process answers nothing");
        let shown = run(&w, store.clone()).await.expect("resumed");
        assert_eq!(shown, reference.0, "k={k}");
        assert_eq!(left(&w, store.as_ref()).await, reference.1, "k={k}");
    }
    assert!(killed >= 5, "only {killed} journal writes");
    println!(
        "{killed} of {killed} crash points converged: {}",
        reference.0
    );
}

/// `user` comments `body` on the plan pull request.
fn comment(w: &World, user: &str, body: &str) {
    w.forge
        .comment_as(&w.repo, w.number, user, body)
        .expect("comment");
}

fn event(w: &World, user: &str, comment_id: u64, body: &str) -> CommentEvent {
    CommentEvent {
        action: "created".into(),
        repo: w.repo.clone(),
        number: w.number,
        is_pull_request: true,
        commenter: user.into(),
        comment_id,
        body: body.into(),
    }
}

/// The comment command of the last comment, through [`run_command`].
fn command(w: &World, store: Arc<dyn StateStore>) -> Outcome<'_> {
    Box::pin(async move {
        let last = w
            .forge
            .list_comments(&w.repo, w.number)
            .await?
            .into_iter()
            .rfind(|c| c.body.starts_with('/'))
            .expect("a command");
        let executor = ScaleExecutor::new(w.cluster.clone(), store.clone()).with_rollout_wait(None);
        let outcome = run_command(
            &JournaledRunner::new(store),
            Arc::new(w.forge.clone()),
            &event(w, &last.author, last.id, &last.body),
            &ApprovalPolicy::default(),
            Some(executor),
        )
        .await?;
        Ok(format!("{outcome:?}"))
    })
}

#[tokio::test]
async fn an_apply_plan_killed_at_every_journal_write_changes_answers_and_labels_once() {
    killed_at_every_journal_write(
        |w| {
            Box::pin(async {
                w.approve("maint");
                comment(w, "dev", "/apply-plan");
            })
        },
        command,
    )
    .await;
}

#[tokio::test]
async fn a_rollback_plan_killed_at_every_journal_write_restores_and_answers_once() {
    killed_at_every_journal_write(
        |w| {
            Box::pin(async {
                w.approve("maint");
                comment(w, "dev", "/apply-plan");
                let applied = command(w, Arc::new(MemoryStateStore::default())).await;
                assert!(applied.expect("applied").contains("ok: true"));
                // Two people: `dev` asks for the rollback, `maint` seconds it.
                comment(w, "maint", "/rollback-plan");
                comment(w, "dev", "/rollback-plan");
            })
        },
        command,
    )
    .await;
}

#[tokio::test]
async fn an_approve_plan_and_a_refusal_killed_at_every_journal_write_answer_once() {
    killed_at_every_journal_write(
        |w| Box::pin(async { comment(w, "dev", "/approve-plan") }),
        command,
    )
    .await;
    // No approval: refused, and said once.
    killed_at_every_journal_write(
        |w| Box::pin(async { comment(w, "dev", "/apply-plan") }),
        command,
    )
    .await;
}

/// `scale apply --execute`: the gate, then [`execute_approved`].
fn local_execute(w: &World, store: Arc<dyn StateStore>) -> Outcome<'_> {
    Box::pin(async move {
        let policy = ApprovalPolicy::default();
        let approved = verify(
            &w.forge,
            &GateRequest {
                repo: &w.repo,
                number: w.number,
                action: GateAction::Apply,
                requester: "dev",
                command_comment: None,
                policy: &policy,
            },
        )
        .await?;
        let executor = ScaleExecutor::new(w.cluster.clone(), store.clone()).with_rollout_wait(None);
        let report = execute_approved(
            &JournaledRunner::new(store),
            Arc::new(w.forge.clone()),
            approved,
            executor,
        )
        .await?;
        Ok(format!(
            "ok={} results={:?}",
            report.ok,
            report.results.len()
        ))
    })
}

#[tokio::test]
async fn a_local_execute_killed_at_every_journal_write_changes_and_reports_once() {
    killed_at_every_journal_write(|w| Box::pin(async { w.approve("maint") }), local_execute).await;
}

/// A forge that failed between the result and the label: running the same command again posts
/// the label, not a second result.
#[tokio::test]
async fn a_label_that_failed_is_retried_without_a_second_answer() {
    let w = World::new().await;
    w.approve("maint");
    comment(&w, "dev", "/apply-plan");
    w.forge.inject(FaultRule {
        op: Some(ForgeOp::AddLabels),
        repo: None,
        times: 1,
        fault: Fault::Transient,
    });
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let err = command(&w, store.clone())
        .await
        .expect_err("the label failed");
    assert!(err.to_string().contains("stopped at label"), "{err}");
    command(&w, store.clone()).await.expect("resumed");
    let answers = left(&w, store.as_ref()).await;
    let results = answers
        .comments
        .iter()
        .filter(|c| c.contains("**Apply**"))
        .count();
    assert_eq!(results, 1, "{:#?}", answers.comments);
    assert_eq!(answers.labels, [LABEL_EXECUTE]);
    assert_eq!(answers.command_runs, [RunStatus::Succeeded]);
}
