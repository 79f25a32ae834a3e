//! Review in a pull request ([`super::propose`] opens it):  [`handle_comment`] for the
//! commands people type on it: `/apply-plan`, `/rollback-plan`, `/unlock-plan` (and
//! `/approve-plan`, which answers how approval works now).
//!
//! Commands act in the job that receives them (Atlantis's model): events caused by
//! `GITHUB_TOKEN` start no workflow runs on GitHub, so a flow that chains through a label the bot
//! adds never runs. [`handle_comment`] verifies everything through [`super::approval::verify`]
//! (a pull-request review at the head is the approval; markers and labels prove nothing), applies
//! or rolls back with the executor, and posts the result on the pull request. Labels only display
//! the state for humans. [`run_command`] does the same as a journaled run whose change, reply and
//! label are steps, so a crash between them resumes without doing one twice.
//!
//! [`run_comment_command`] is the one entry point for a comment command in a workspace: it
//! decides what the callers used to (ignore, policy, cluster) and runs the journaled command
//! through the session's driver.
//!
//! One concept a file: the commands and events here; the decision and the effects on the pull
//! request in `answer.rs`, the journaled run in `journaled.rs`, the text in `replies.rs`, the
//! invoker's policy overrides in `overrides.rs`, the entry point in `entry.rs`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::forge::RepoId;

mod answer;
mod entry;
mod journaled;
mod overrides;
mod replies;

pub use super::approval::{ApprovalPolicy, DEFAULT_BOT};
pub use answer::handle_comment;
pub use entry::{CommentCommandRequest, CommentEventSource, run_comment_command};
pub(crate) use journaled::execute_approved;
pub use journaled::{COMMAND_RUN_KIND, CommandParams, run_command};
pub use overrides::PolicyOverrides;
pub use replies::{approve_plan_answer, change_lines, result_comment};

/// Set on a proposed plan until it is applied (display only).
pub const LABEL_NEEDS_APPROVAL: &str = "needs-approval";
/// Shown once the plan was applied (display only: it gates nothing).
pub const LABEL_EXECUTE: &str = "execute-plan";
/// Shown once the plan was rolled back (display only: it gates nothing).
pub const LABEL_ROLLBACK: &str = "rollback-plan";

pub(super) const PLAN_MARKER: &str = "<!-- orchestrator:scale-plan ";
const RESULT_MARKER: &str = "<!-- orchestrator:result ";

/// The commands a comment can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanCommand {
    /// `/apply-plan`: verify the approval and apply, in this job.
    ApplyPlan,
    /// `/approve-plan`: kept as an alias that answers how approval works (a review).
    ApprovePlan,
    /// `/rollback-plan`: restore the recorded before state (two people, or the emergency list).
    RollbackPlan,
    /// `/unlock-plan`: release this pull request's lock on its target.
    UnlockPlan,
}

impl PlanCommand {
    /// `apply-plan`, `approve-plan`, `rollback-plan`, `unlock-plan`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanCommand::ApplyPlan => "apply-plan",
            PlanCommand::ApprovePlan => "approve-plan",
            PlanCommand::RollbackPlan => "rollback-plan",
            PlanCommand::UnlockPlan => "unlock-plan",
        }
    }
}

/// The command in a comment: `/apply-plan`, `/approve-plan`, `/rollback-plan` or `/unlock-plan`
/// alone on a line, any case. The first one wins; a command inside a sentence or a quote
/// (`> /apply-plan`) does not count. (Acting on it also needs the whole comment to be exactly the
/// command: see [`super::approval::comment_problem`].)
pub fn parse_command(body: &str) -> Option<PlanCommand> {
    body.lines().find_map(|line| {
        let line = line.trim();
        [
            PlanCommand::ApplyPlan,
            PlanCommand::ApprovePlan,
            PlanCommand::RollbackPlan,
            PlanCommand::UnlockPlan,
        ]
        .into_iter()
        .find(|c| {
            line.strip_prefix('/')
                .is_some_and(|rest| rest.eq_ignore_ascii_case(c.as_str()))
        })
    })
}

/// The parts of a GitHub `issue_comment` event the handler needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentEvent {
    /// `created`, `edited`, `deleted`.
    pub action: String,
    /// The repository.
    pub repo: RepoId,
    /// The issue or PR number.
    pub number: u64,
    /// Whether the issue is a pull request.
    pub is_pull_request: bool,
    /// Who commented.
    pub commenter: String,
    /// The comment's id.
    pub comment_id: u64,
    /// The comment's text.
    pub body: String,
}

impl CommentEvent {
    /// Reads the event GitHub Actions writes to `$GITHUB_EVENT_PATH`.
    pub fn from_github_event(event: &serde_json::Value) -> Result<Self> {
        let field = |path: &str| {
            event
                .pointer(path)
                .ok_or_else(|| Error::invalid_input(format!("issue_comment event lacks {path}")))
        };
        let text = |path: &str| -> Result<String> {
            field(path)?.as_str().map(str::to_owned).ok_or_else(|| {
                Error::invalid_input(format!("issue_comment event: {path} is not a string"))
            })
        };
        let number = |path: &str| -> Result<u64> {
            field(path)?.as_u64().ok_or_else(|| {
                Error::invalid_input(format!("issue_comment event: {path} is not a number"))
            })
        };
        Ok(Self {
            action: text("/action")?,
            repo: text("/repository/full_name")?.parse()?,
            number: number("/issue/number")?,
            is_pull_request: event
                .pointer("/issue/pull_request")
                .is_some_and(|v| !v.is_null()),
            commenter: text("/comment/user/login")?,
            comment_id: number("/comment/id")?,
            body: text("/comment/body")?,
        })
    }
}

/// What the handler did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// Not for us (no command, not a PR, an edit, a bot's comment); nothing was posted.
    Ignored {
        /// Why.
        reason: String,
    },
    /// `/approve-plan`: the reply explains that approval is a pull-request review now.
    Answered {
        /// The command.
        command: PlanCommand,
    },
    /// A command was refused; the reply says why. Nothing changed.
    Refused {
        /// The command.
        command: PlanCommand,
        /// Why.
        reason: String,
    },
    /// `/apply-plan` or `/rollback-plan` ran; the reply carries the result.
    Executed {
        /// The command.
        command: PlanCommand,
        /// The plan's hash.
        plan_hash: String,
        /// The head it was verified at.
        head_sha: String,
        /// Whose approval counted.
        approvers: Vec<String>,
        /// Everything succeeded (and rolled out).
        ok: bool,
    },
    /// `/unlock-plan` was honoured: the target can be proposed again.
    Unlocked {
        /// Who unlocked.
        by: String,
    },
}

impl CommandOutcome {
    /// Whether the job that received the command succeeded: a refusal is an answer, not a
    /// failure; only an `/apply-plan` or `/rollback-plan` whose change failed is one.
    pub fn succeeded(&self) -> bool {
        !matches!(self, CommandOutcome::Executed { ok: false, .. })
    }
}

/// The plan hash and path a proposed PR's body records.
pub fn plan_marker_of(body: &str) -> Option<(String, String)> {
    let field = marker_fields(body, PLAN_MARKER)?;
    Some((field("hash")?, field("path")?))
}

/// The `key=value` fields of the first `<marker> … -->` HTML comment in `body`, as a lookup by
/// key; `None` when the marker is absent or unterminated. (Markers are for humans and for
/// coordination, never proof: the gate re-reads facts from the forge.)
pub(super) fn marker_fields<'a>(
    body: &'a str,
    marker: &str,
) -> Option<impl Fn(&str) -> Option<String> + 'a> {
    let start = body.find(marker)? + marker.len();
    let rest = &body[start..];
    let fields = &rest[..rest.find("-->")?];
    Some(move |key: &str| {
        fields
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    })
}

/// Why an event carries no command for us (not a new comment, no command line, not a pull
/// request), or `None`: decided from the event alone, before any request.
pub fn ignore_reason(event: &CommentEvent) -> Option<&'static str> {
    if event.action != "created" {
        return Some("only new comments carry commands");
    }
    if parse_command(&event.body).is_none() {
        return Some("no /apply-plan, /approve-plan, /rollback-plan or /unlock-plan line");
    }
    if !event.is_pull_request {
        return Some("not a pull request");
    }
    None
}

#[cfg(test)]
mod tests;
