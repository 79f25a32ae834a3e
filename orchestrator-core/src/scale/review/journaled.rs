//! A command on a plan pull request as one journaled run (kind [`COMMAND_RUN_KIND`], key
//! `owner/name#number`): three steps on the shared run scaffolding ([`JournaledRunner`]), so a
//! crash anywhere resumes without doing anything twice.
//!
//! 1. `act` records the [`Answer`]: for `/apply-plan` and `/rollback-plan` it first makes the
//!    change the gate approved (the executor journals that in its own `scale-apply` or
//!    `scale-rollback` run, which resumes on its own); the answer (outcome, reply, label, the
//!    executor's report) is this step's journaled data.
//! 2. `reply` posts the answer's comment, marked with the run's id so its check finds it posted.
//! 3. `label` shows the state label of a change that succeeded (`needs-approval` removed).
//!
//! Running the same command again (the same comment, or the same local execute) resumes an
//! unfinished run: what `act` decided is read back from the journal instead of being decided
//! again, so a reply or a label an attempt did not get to is posted for the change it made, once.
//! A run ends `succeeded` once the command is answered: a refusal or a failed change is an
//! answer (the change's own run records how the change went); it ends `failed` or
//! `interrupted` only when the answer could not be given, and then it is resumed.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::answer::{Answer, Decided, Decision, decide, execute, label_shown, needed};
use super::answer::{post_reply, show_label};
use super::{CommandOutcome, CommentEvent};
use crate::engine::RunReport;
use crate::error::{Error, Result};
use crate::forge::{Forge, RepoId};
use crate::scale::approval::{ApprovalPolicy, ApprovedPlan, GateAction};
use crate::scale::execute::{ExecuteReport, ScaleExecutor};
use crate::state::{RunId, RunStatus};
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::workspace::params::{self, RunParams};
use crate::workspace::{JournaledRunner, RunStart, journaled_output, stopped_error};

/// Run kind of journaled pull-request commands (key: `owner/name#number`).
pub const COMMAND_RUN_KIND: &str = "scale-command";

/// What a command run records; an unfinished run with the same parameters is resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandParams {
    /// The comment's first line; for a local `scale apply|rollback --execute`, the command with
    /// the plan and head it was approved for.
    pub command: String,
    /// Who commented (or ran the local execute).
    pub commenter: String,
    /// The comment, re-read by id when acting (0 for a local execute).
    pub comment_id: u64,
}

impl RunParams for CommandParams {
    const KIND: &'static str = COMMAND_RUN_KIND;
    const VERSION: u32 = 1;
}

/// The hidden line that marks the reply of run `run`, so a resumed reply step finds it posted.
fn reply_marker(run: RunId) -> String {
    format!("\n<!-- orchestrator:reply run={run} -->\n")
}

/// Handles `event` as [`super::handle_comment`] does, journaled by `runner` step by step (see the
/// module docs): the change, the reply and the label each happen once, also across a crash and
/// the resume that follows. `executor` journals in the same store as `runner`.
pub async fn run_command(
    runner: &JournaledRunner,
    forge: Arc<dyn Forge>,
    event: &CommentEvent,
    policy: &ApprovalPolicy,
    executor: Option<ScaleExecutor>,
) -> Result<CommandOutcome> {
    let params = CommandParams {
        command: event.body.lines().next().unwrap_or_default().to_owned(),
        commenter: event.commenter.clone(),
        comment_id: event.comment_id,
    };
    let decided = answer_journaled(
        runner,
        forge.clone(),
        &event.repo,
        event.number,
        params,
        async {
            Ok(match decide(forge.as_ref(), event, policy).await? {
                Decision::Answer(answer) => Act::Say(*answer),
                Decision::Execute(approved) => Act::Execute {
                    executor: needed(executor, approved.action())?,
                    approved,
                    quiet_stop: false,
                },
            })
        },
    )
    .await?;
    decided.into_result()
}

/// Applies or rolls back `approved` (the gate ran just before: `scale apply|rollback --execute`)
/// and posts the result on its pull request, journaled like [`run_command`]. A change that stops
/// (drift) is an error and posts nothing, as before the journal.
pub(crate) async fn execute_approved(
    runner: &JournaledRunner,
    forge: Arc<dyn Forge>,
    approved: ApprovedPlan,
    executor: ScaleExecutor,
) -> Result<ExecuteReport> {
    let verb = match approved.action() {
        GateAction::Apply => "apply",
        GateAction::Rollback => "rollback",
    };
    let params = CommandParams {
        command: format!(
            "scale {verb} --execute (plan {}, head {})",
            approved.plan().hash(),
            approved.head_sha()
        ),
        commenter: approved.requester().to_owned(),
        comment_id: 0,
    };
    let (repo, number) = (approved.repo().clone(), approved.number());
    let act = Act::Execute {
        approved: Box::new(approved),
        executor,
        quiet_stop: true,
    };
    let mut decided =
        answer_journaled(runner, forge, &repo, number, params, async { Ok(act) }).await?;
    if let Some(error) = decided.take_error() {
        return Err(error);
    }
    decided
        .answer
        .report
        .ok_or_else(|| Error::state("an executed change without a report"))
}

/// Runs the three steps for pull request `number`, resuming the unfinished run recorded with
/// `params` when there is one: then what its `act` step decided is read back, and `act` (the
/// decision, which may read the forge) is not awaited at all.
async fn answer_journaled(
    runner: &JournaledRunner,
    forge: Arc<dyn Forge>,
    repo: &RepoId,
    number: u64,
    params: CommandParams,
    act: impl Future<Output = Result<Act>>,
) -> Result<Decided> {
    let store = runner.store();
    let key = format!("{repo}#{number}");
    let resumed = match store.resumable(COMMAND_RUN_KIND, &key).await? {
        Some(run) if params::decode::<CommandParams>(&run)? == params => Some(run.id),
        _ => None,
    };
    let journaled = match resumed {
        Some(run) => journaled_output(store.as_ref(), run, CommandOp::Act.id())
            .await?
            .map(serde_json::from_value::<Answer>)
            .transpose()
            .map_err(|e| {
                Error::state(format!("command run {run}: its answer does not read: {e}"))
            })?,
        None => None,
    };
    let act = match &journaled {
        // Decided by an earlier attempt: the journal skips `act`.
        Some(answer) => Act::Say(answer.clone()),
        None => act.await?,
    };
    let run = runner
        .open(RunStart::resume_or_new(resumed, &key, || params)?)
        .await?;
    let ctx = Arc::new(Ctx {
        forge,
        repo: repo.clone(),
        number,
        run,
        act,
        answer: Mutex::new(journaled),
        error: Mutex::new(None),
    });
    let steps = [CommandOp::Act, CommandOp::Reply, CommandOp::Label].map(|op| {
        Arc::new(CommandStep {
            op,
            ctx: ctx.clone(),
        }) as Arc<dyn Step>
    });
    let report = runner.run_in_order(steps, run).await?;
    let answer = ctx.answer()?.take();
    let error = ctx.error()?.take();
    finish(&report, answer, error)
}

/// What the caller hears of a run that ended as `report` says: the answer once it is given; a
/// failure the change met even when the run stopped before posting it (the change's report says
/// how to continue); else why the run stopped.
fn finish(report: &RunReport, answer: Option<Answer>, error: Option<Error>) -> Result<Decided> {
    let Some(answer) = answer else {
        return Err(stopped_error("the command", report));
    };
    let failed = answer.error.is_some()
        || matches!(
            answer.outcome,
            Some(CommandOutcome::Executed { ok: false, .. })
        );
    match report.status {
        RunStatus::Succeeded => Ok(Decided { answer, error }),
        _ if failed => Ok(Decided { answer, error }),
        RunStatus::Cancelled => Err(Error::Cancelled),
        _ => Err(stopped_error("the command", report)),
    }
}

/// What the `act` step does.
#[derive(Debug)]
enum Act {
    /// Nothing to change: record the answer decided.
    Say(Answer),
    /// Make the change the gate approved, then record the answer with its result.
    Execute {
        /// The approved plan.
        approved: Box<ApprovedPlan>,
        /// What changes the cluster (journaling its own run).
        executor: ScaleExecutor,
        /// A change that stops is not answered on the pull request (a local execute).
        quiet_stop: bool,
    },
}

/// What the steps share.
#[derive(Debug)]
struct Ctx {
    forge: Arc<dyn Forge>,
    repo: RepoId,
    number: u64,
    run: RunId,
    act: Act,
    /// Decided by `act` in this attempt, or read from the journal of the run resumed.
    answer: Mutex<Option<Answer>>,
    /// The typed error a change stopped with in this attempt.
    error: Mutex<Option<Error>>,
}

impl Ctx {
    fn answer(&self) -> Result<MutexGuard<'_, Option<Answer>>> {
        self.answer
            .lock()
            .map_err(|_| Error::state("a command step panicked"))
    }

    fn error(&self) -> Result<MutexGuard<'_, Option<Error>>> {
        self.error
            .lock()
            .map_err(|_| Error::state("a command step panicked"))
    }

    /// The answer `act` recorded (the steps after it run only once it has).
    fn decided(&self) -> Result<Answer> {
        self.answer()?
            .clone()
            .ok_or_else(|| Error::state("the command's answer was not recorded"))
    }

    /// The reply as posted: the answer's comment and this run's marker.
    fn marked(&self, reply: &str) -> String {
        format!("{reply}{}", reply_marker(self.run))
    }
}

/// The command run's steps, in order.
#[derive(Debug, Clone, Copy)]
enum CommandOp {
    Act,
    Reply,
    Label,
}

impl CommandOp {
    fn id(self) -> &'static str {
        match self {
            CommandOp::Act => "act",
            CommandOp::Reply => "reply",
            CommandOp::Label => "label",
        }
    }
}

#[derive(Debug)]
struct CommandStep {
    op: CommandOp,
    ctx: Arc<Ctx>,
}

#[async_trait]
impl Step for CommandStep {
    fn id(&self) -> &str {
        self.op.id()
    }

    fn describe(&self) -> String {
        let c = &self.ctx;
        match (self.op, &c.act) {
            (CommandOp::Act, Act::Say(_)) => "record the answer to the command".into(),
            (CommandOp::Act, Act::Execute { approved, .. }) => format!(
                "{} plan {} approved on {}#{}",
                match approved.action() {
                    GateAction::Apply => "apply",
                    GateAction::Rollback => "roll back",
                },
                approved.plan().hash(),
                c.repo,
                c.number
            ),
            (CommandOp::Reply, _) => format!("answer on {}#{}", c.repo, c.number),
            (CommandOp::Label, _) => format!("show the state label on {}#{}", c.repo, c.number),
        }
    }

    /// `act` always acts (the executor's own journal and checks skip what the cluster shows);
    /// the reply and the label are looked for on the pull request.
    async fn check(&self, _: &StepContext) -> Result<Check> {
        let c = &self.ctx;
        Ok(match self.op {
            CommandOp::Act => Check::Pending(self.describe()),
            CommandOp::Reply => match c.decided()?.reply {
                None => Check::Done("nothing to say".into()),
                Some(reply) => {
                    let body = c.marked(&reply);
                    let comments = c.forge.list_comments(&c.repo, c.number).await?;
                    match comments.iter().find(|x| x.body == body) {
                        Some(posted) => Check::Done(format!("posted as comment {}", posted.id)),
                        None => Check::Pending(self.describe()),
                    }
                }
            },
            CommandOp::Label => match c.decided()?.label {
                None => Check::Done("no state label to change".into()),
                Some(action)
                    if label_shown(c.forge.as_ref(), &c.repo, c.number, action).await? =>
                {
                    Check::Done("the state label is shown".into())
                }
                Some(_) => Check::Pending(self.describe()),
            },
        })
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let c = &self.ctx;
        match self.op {
            CommandOp::Act => {
                let Decided { answer, error } = match &c.act {
                    Act::Say(answer) => answer.clone().into(),
                    Act::Execute {
                        approved,
                        executor,
                        quiet_stop,
                    } => {
                        let mut decided = execute(approved, executor).await;
                        if *quiet_stop && decided.error.is_some() {
                            decided.answer.reply = None;
                        }
                        decided
                    }
                };
                let data = serde_json::to_value(&answer)
                    .map_err(|e| Error::state(format!("recording the command's answer: {e}")))?;
                let summary = match &answer.outcome {
                    Some(outcome) => format!("{outcome:?}"),
                    None => format!("stopped: {}", answer.error.as_deref().unwrap_or_default()),
                };
                *c.answer()? = Some(answer);
                *c.error()? = error;
                if ctx.cancel_token().is_cancelled() {
                    // The change was stopped part way: its run resumes with this one.
                    return Err(Error::Cancelled);
                }
                Ok(StepOutput { summary, data })
            }
            CommandOp::Reply => {
                let reply = c.decided()?.reply.unwrap_or_default();
                post_reply(c.forge.as_ref(), &c.repo, c.number, &c.marked(&reply)).await?;
                Ok(StepOutput::summary(format!(
                    "answered on {}#{}",
                    c.repo, c.number
                )))
            }
            CommandOp::Label => {
                let action = c
                    .decided()?
                    .label
                    .ok_or_else(|| Error::state("no state label to show"))?;
                show_label(c.forge.as_ref(), &c.repo, c.number, action).await?;
                Ok(StepOutput::summary(format!(
                    "labelled {}#{} for the {}",
                    c.repo,
                    c.number,
                    match action {
                        GateAction::Apply => "apply",
                        GateAction::Rollback => "rollback",
                    }
                )))
            }
        }
    }

    /// The change stops itself on cancellation, journaling its own interrupted steps.
    fn handles_cancellation(&self) -> bool {
        matches!(self.op, CommandOp::Act)
    }
}
