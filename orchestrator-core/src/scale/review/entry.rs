//! One comment command from its event to its outcome, in a [`Workspace`]: the one entry point
//! that `orchestrator pr-command`, `orchestrator serve` and an embedder call.
//!
//! Before it, the binary decided the policy itself (which comments to ignore, where the approval
//! policy comes from and what the flags change, whether a cluster is needed) and `serve` ran a
//! comment by re-parsing the binary's flags; an embedder had to copy those decisions or get them
//! wrong. [`run_comment_command`] makes them here, in order:
//!
//! 1. the invoker's overrides and the event are checked: bad input is refused before anything is
//!    read from the forge or written to the state;
//! 2. a comment that carries no command for us (an edit, a plain issue, no command line) is
//!    answered `Ignored` without a request or a lock;
//! 3. the `[scale]` policy is read from its trusted source with the overrides on top;
//! 4. a cluster is connected only for `/apply-plan` and `/rollback-plan` by someone who is not a
//!    bot login (a bot's command is ignored, so it needs none);
//! 5. the command runs as [`CommentCommandWorkflow`] through [`Workspace::run`]: the lock, the
//!    journal and the resume are the session's.

use std::path::PathBuf;
use std::sync::Arc;

use super::parse_command;
use super::{CommandOutcome, CommentEvent, PlanCommand, PolicyOverrides, ignore_reason};
use crate::error::{Error, Result};
use crate::workspace::Workspace;
use crate::workspace::workflows::{ClusterConnector, CommentCommandWorkflow, PolicySource};

/// Where a comment command's `issue_comment` event comes from.
#[derive(Debug, Clone)]
pub enum CommentEventSource {
    /// A file holding the event JSON (in GitHub Actions, `$GITHUB_EVENT_PATH`).
    File(PathBuf),
    /// The event JSON at hand (a webhook's payload).
    Payload {
        /// The event.
        json: serde_json::Value,
        /// What the event is called in messages (the file a service wrote it to, a delivery).
        origin: String,
    },
}

impl CommentEventSource {
    /// The event, read and checked; a file that is not JSON, or an event without the fields a
    /// command needs, is [`Error::InvalidInput`] naming the file (or the payload's origin).
    pub fn read(&self) -> Result<CommentEvent> {
        let (json, origin) = match self {
            CommentEventSource::File(path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::io(format!("reading {origin}"), e))?;
                let json = serde_json::from_str(&text)
                    .map_err(|e| Error::invalid_input(format!("{origin}: not JSON: {e}")))?;
                (json, origin)
            }
            CommentEventSource::Payload { json, origin } => (json.clone(), origin.clone()),
        };
        CommentEvent::from_github_event(&json).map_err(|e| match e {
            Error::InvalidInput { message } => Error::invalid_input(format!("{origin}: {message}")),
            other => other,
        })
    }
}

/// One comment command as it reaches the orchestrator; see [`run_comment_command`].
#[derive(Debug, Clone)]
pub struct CommentCommandRequest {
    /// The `issue_comment` event.
    pub event: CommentEventSource,
    /// Where the `[scale]` approval policy is read from (never the pull request's own files).
    pub policy_from: PolicySource,
    /// The invoker's overrides on top of that policy.
    pub overrides: PolicyOverrides,
    /// The cluster `/apply-plan` and `/rollback-plan` change, connected only when such a command
    /// is about to act (through [`ClusterConnector::connect_for_comment`]). Without one, those
    /// commands are an error once approved; the other commands never need one.
    pub cluster: Option<Arc<dyn ClusterConnector>>,
}

impl CommentCommandRequest {
    /// The command in `event`, with the policy from the base branch, no overrides and no
    /// cluster.
    pub fn new(event: CommentEventSource) -> Self {
        Self {
            event,
            policy_from: PolicySource::BaseBranch,
            overrides: PolicyOverrides::default(),
            cluster: None,
        }
    }
}

/// Acts on one comment command in `workspace` (see the module docs for the order of the
/// decisions): the outcome, which a caller shows and turns into its exit status with
/// [`CommandOutcome::succeeded`]. Bad input (the overrides, the event) is refused before any
/// request or write; an ignored comment reads and writes nothing.
pub async fn run_comment_command(
    workspace: &Workspace,
    request: &CommentCommandRequest,
) -> Result<CommandOutcome> {
    request.overrides.validate()?;
    let event = request.event.read()?;
    if let Some(reason) = ignore_reason(&event) {
        return Ok(CommandOutcome::Ignored {
            reason: reason.to_owned(),
        });
    }
    let config = request
        .overrides
        .resolve(workspace, &event.repo, event.number, request.policy_from)
        .await?;
    let changes_cluster = matches!(
        parse_command(&event.body),
        Some(PlanCommand::ApplyPlan | PlanCommand::RollbackPlan)
    ) && !config.policy.is_bot(&event.commenter);
    let workflow = CommentCommandWorkflow {
        event,
        policy: config.policy,
        cluster: if changes_cluster {
            request.cluster.clone()
        } else {
            None
        },
        rollout: config.rollout_wait,
    };
    Ok(workspace.run(&workflow).await?.report)
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
