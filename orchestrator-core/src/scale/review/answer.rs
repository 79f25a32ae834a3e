//! Acting on a command, apart from saying so: [`decide`] only reads (the gate, the lock check)
//! and yields a [`Decision`]: an [`Answer`] (the outcome, the reply to post, the label to show),
//! or an approved change, which [`execute`] makes and answers. [`post_reply`] and [`show_label`]
//! are the effects on the pull request.
//!
//! Kept apart so the same decision serves both ways of answering: [`handle_comment`] posts
//! straight away, and the journaled command run (`journaled.rs`) makes the change and each post
//! a step of its own, so a resumed run posts what was decided exactly once.

use serde::{Deserialize, Serialize};

use super::replies::{approve_plan_answer, refusal, result_comment, stopped, unlocked};
use super::{
    CommandOutcome, CommentEvent, LABEL_EXECUTE, LABEL_NEEDS_APPROVAL, LABEL_ROLLBACK, PlanCommand,
    ignore_reason, parse_command,
};
use crate::error::{Error, Result};
use crate::forge::{Forge, RepoId};
use crate::scale::approval::{self, ApprovalPolicy, ApprovedPlan, GateAction, GateRequest};
use crate::scale::execute::{ExecuteReport, ScaleExecutor};
use crate::scale::lock;

/// What acting on a command decided. Journaled as the data of the command run's first step, so
/// a resumed run posts what the first attempt decided instead of deciding again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Answer {
    /// How the command ended; `None` when the change stopped with [`Answer::error`].
    pub outcome: Option<CommandOutcome>,
    /// The comment to post on the pull request (`None`: say nothing, e.g. to a bot).
    pub reply: Option<String>,
    /// The change that succeeded: its state label is shown, `needs-approval` removed.
    pub label: Option<GateAction>,
    /// What the executor reported, when a change ran.
    pub report: Option<ExecuteReport>,
    /// Why the change stopped (drift, a missing workload), as one line.
    pub error: Option<String>,
}

impl Answer {
    /// An answer that changed nothing.
    fn said(outcome: CommandOutcome, reply: Option<String>) -> Self {
        Self {
            outcome: Some(outcome),
            reply,
            label: None,
            report: None,
            error: None,
        }
    }
}

/// An [`Answer`] with the typed error the change stopped with, while this attempt still has it.
#[derive(Debug)]
pub(crate) struct Decided {
    /// What to record and post.
    pub answer: Answer,
    /// The change's error, typed (the answer holds it as a line).
    pub error: Option<Error>,
}

impl Decided {
    /// The error the change stopped with: typed while this attempt still has it, else rebuilt
    /// from the journaled line as the conflict a stopped change is.
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take().or_else(|| {
            self.answer.error.as_deref().map(|line| Error::Conflict {
                message: line.strip_prefix("conflict: ").unwrap_or(line).to_owned(),
            })
        })
    }

    /// The command's outcome, or the error its change stopped with.
    pub(crate) fn into_result(mut self) -> Result<CommandOutcome> {
        if let Some(error) = self.take_error() {
            return Err(error);
        }
        self.answer
            .outcome
            .ok_or_else(|| Error::state("a command answer without an outcome"))
    }
}

impl From<Answer> for Decided {
    fn from(answer: Answer) -> Self {
        Self {
            answer,
            error: None,
        }
    }
}

/// What a command comes to before anything changes.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Nothing to change: ignored, answered, refused or unlocked.
    Answer(Box<Answer>),
    /// An apply or a rollback the gate approved: [`execute`] makes it.
    Execute(Box<ApprovedPlan>),
}

impl Decision {
    /// An answer that changes nothing.
    fn say(outcome: CommandOutcome, reply: Option<String>) -> Self {
        Self::Answer(Box::new(Answer::said(outcome, reply)))
    }
}

/// Decides `event`'s command: ignored, answered, refused, unlocked, or verified through
/// [`approval::verify`] for a change. Only reads; `Err` when no decision could be made (the
/// forge failed).
pub(crate) async fn decide(
    forge: &dyn Forge,
    event: &CommentEvent,
    policy: &ApprovalPolicy,
) -> Result<Decision> {
    let ignored = |reason: &str| {
        Ok(Decision::say(
            CommandOutcome::Ignored {
                reason: reason.to_owned(),
            },
            None,
        ))
    };
    if let Some(reason) = ignore_reason(event) {
        return ignored(reason);
    }
    let command = parse_command(&event.body).expect("ignore_reason checked there is a command");
    if policy.is_bot(&event.commenter) {
        return ignored("a comment by a bot login");
    }
    let (repo, number) = (&event.repo, event.number);
    let refuse = |reason: String| {
        let reply = refusal(command, &event.commenter, &reason);
        let outcome = CommandOutcome::Refused { command, reason };
        Ok(Decision::say(outcome, Some(reply)))
    };
    let action = match command {
        PlanCommand::ApprovePlan => {
            let outcome = CommandOutcome::Answered { command };
            return Ok(Decision::say(outcome, Some(approve_plan_answer())));
        }
        PlanCommand::UnlockPlan => {
            let problem = lock::unlock_problem(
                forge,
                repo,
                number,
                event.comment_id,
                &event.commenter,
                policy,
            )
            .await?;
            return match problem {
                Some(problem) => refuse(problem),
                None => {
                    let by = event.commenter.clone();
                    let reply = unlocked(&by);
                    let outcome = CommandOutcome::Unlocked { by };
                    Ok(Decision::say(outcome, Some(reply)))
                }
            };
        }
        PlanCommand::ApplyPlan => GateAction::Apply,
        PlanCommand::RollbackPlan => GateAction::Rollback,
    };
    match approval::verify(
        forge,
        &GateRequest {
            repo,
            number,
            action,
            requester: &event.commenter,
            command_comment: Some(event.comment_id),
            policy,
        },
    )
    .await
    {
        Ok(approved) => Ok(Decision::Execute(Box::new(approved))),
        Err(Error::PermissionDenied { message }) => refuse(message),
        Err(e) if e.is_bad_input() => refuse(e.to_string()),
        Err(e) => Err(e),
    }
}

/// The executor a change needs: `/apply-plan` and `/rollback-plan` without one are an error.
pub(crate) fn needed<T>(executor: Option<T>, action: GateAction) -> Result<T> {
    executor.ok_or_else(|| {
        Error::invalid_input(format!(
            "/{} needs a cluster to act on, and none was given",
            action.command().as_str()
        ))
    })
}

/// Applies or rolls back `approved` with `executor` and decides what to say: the result, or,
/// when the change stopped (drift, a missing workload), that it stopped and why.
pub(crate) async fn execute(approved: &ApprovedPlan, executor: &ScaleExecutor) -> Decided {
    let action = approved.action();
    let result = match action {
        GateAction::Apply => executor.apply(approved).await,
        GateAction::Rollback => executor.rollback(approved).await,
    };
    match result {
        Ok(report) => Answer {
            outcome: Some(CommandOutcome::Executed {
                command: action.command(),
                plan_hash: report.plan_hash.clone(),
                head_sha: approved.head_sha().to_owned(),
                approvers: approved.approvers().to_vec(),
                ok: report.ok,
            }),
            reply: Some(result_comment(approved, &report)),
            // Labels display the state; nothing reads them.
            label: report.ok.then_some(action),
            report: Some(report),
            error: None,
        }
        .into(),
        Err(e) => Decided {
            answer: Answer {
                outcome: None,
                reply: Some(stopped(
                    action.command(),
                    approved.requester(),
                    &e.to_string(),
                )),
                label: None,
                report: None,
                error: Some(e.to_string()),
            },
            error: Some(e),
        },
    }
}

/// Posts `reply` on pull request `number`.
pub(crate) async fn post_reply(
    forge: &dyn Forge,
    repo: &RepoId,
    number: u64,
    reply: &str,
) -> Result<()> {
    forge.create_comment(repo, number, reply).await.map(|_| ())
}

/// The label that shows `action` succeeded.
pub(crate) fn state_label(action: GateAction) -> &'static str {
    match action {
        GateAction::Apply => LABEL_EXECUTE,
        GateAction::Rollback => LABEL_ROLLBACK,
    }
}

/// Whether pull request `number` shows `action`'s state already.
pub(crate) async fn label_shown(
    forge: &dyn Forge,
    repo: &RepoId,
    number: u64,
    action: GateAction,
) -> Result<bool> {
    let labels = forge.pull_request(repo, number).await?.labels;
    Ok(labels.iter().any(|l| l == state_label(action))
        && !labels.iter().any(|l| l == LABEL_NEEDS_APPROVAL))
}

/// Shows `action`'s state on pull request `number`: its label added, `needs-approval` removed.
pub(crate) async fn show_label(
    forge: &dyn Forge,
    repo: &RepoId,
    number: u64,
    action: GateAction,
) -> Result<()> {
    forge
        .add_labels(repo, number, &[state_label(action).to_owned()])
        .await?;
    forge.remove_label(repo, number, LABEL_NEEDS_APPROVAL).await
}

/// Handles one `issue_comment` event: `/apply-plan` and `/rollback-plan` are verified through
/// [`approval::verify`] and executed with `executor` in this job, the result posted on the pull
/// request; `/unlock-plan` releases this pull request's target lock when a qualified approver
/// asks; `/approve-plan` is answered with how approval works. A refusal is posted and changes
/// nothing. The `policy` must come from a trusted source (the base branch or a trusted
/// checkout). `executor` is needed only by `/apply-plan` and `/rollback-plan` (a caller can
/// skip connecting to a cluster for the other commands): without one they are an error.
///
/// The replies are posted straight away, outside any journal: a caller that can die between the
/// change and the reply runs the command with [`super::run_command`] instead, which journals
/// each effect (the CLI's `pr-command` and [`crate::workspace::workflows::CommentCommandWorkflow`]
/// do).
pub async fn handle_comment(
    forge: &dyn Forge,
    event: &CommentEvent,
    policy: &ApprovalPolicy,
    executor: Option<&ScaleExecutor>,
) -> Result<CommandOutcome> {
    let decided = match decide(forge, event, policy).await? {
        Decision::Answer(answer) => (*answer).into(),
        Decision::Execute(approved) => {
            execute(&approved, needed(executor, approved.action())?).await
        }
    };
    let (repo, number) = (&event.repo, event.number);
    if let Some(reply) = &decided.answer.reply {
        post_reply(forge, repo, number, reply).await?;
    }
    if let Some(action) = decided.answer.label {
        show_label(forge, repo, number, action).await?;
    }
    decided.into_result()
}
