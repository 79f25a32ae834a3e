//! Review in a pull request ([`super::propose`] opens it):  [`handle_comment`] for the
//! commands people type on it: `/apply-plan`, `/rollback-plan`, `/unlock-plan` (and
//! `/approve-plan`, which answers how approval works now).
//!
//! Commands act in the job that receives them (Atlantis's model): events caused by
//! `GITHUB_TOKEN` start no workflow runs on GitHub, so a flow that chains through a label the bot
//! adds never runs. [`handle_comment`] verifies everything through [`super::approval::verify`]
//! (a pull-request review at the head is the approval; markers and labels prove nothing), applies
//! or rolls back with the executor, and posts the result on the pull request. Labels only display
//! the state for humans.

use serde::Serialize;

use super::approval::{self, ApprovedPlan, GateAction, GateRequest};
use super::execute::{ExecuteReport, ScaleExecutor};
use super::plan::{ActionType, ScalePlan};
use crate::error::{Error, Result};
use crate::forge::{Forge, RepoId};

pub use super::approval::{ApprovalPolicy, DEFAULT_BOT};

/// Set on a proposed plan until it is applied (display only).
pub const LABEL_NEEDS_APPROVAL: &str = "needs-approval";
/// Shown once the plan was applied (display only: it gates nothing).
pub const LABEL_EXECUTE: &str = "execute-plan";
/// Shown once the plan was rolled back (display only: it gates nothing).
pub const LABEL_ROLLBACK: &str = "rollback-plan";

pub(super) const PLAN_MARKER: &str = "<!-- orchestrator:scale-plan ";
const RESULT_MARKER: &str = "<!-- orchestrator:result ";

/// The commands a comment can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Before → after, one line per changed field, from the plan's recorded before state.
pub fn change_lines(plan: &ScalePlan) -> Vec<String> {
    let before = plan.before.as_ref();
    let workload = |kind: &str, name: &str| {
        before.and_then(|b| {
            b.workloads
                .iter()
                .find(|w| w.kind.to_string() == kind && w.name == name)
        })
    };
    let mut lines = Vec::new();
    for action in &plan.actions {
        let object = format!("{}/{}", action.kind, action.name);
        match action.action {
            ActionType::ScaleWorkload => {
                let from = workload(&action.kind, &action.name)
                    .map_or_else(|| "?".to_owned(), |w| w.replicas.to_string());
                if let Some(to) = action.to {
                    lines.push(format!("{object} replicas: {from} → {to}"));
                }
            }
            ActionType::UpdateResources => {
                let containers = workload(&action.kind, &action.name)
                    .map(|w| w.containers.clone())
                    .unwrap_or_default();
                for (what, wanted) in [("requests", &action.requests), ("limits", &action.limits)] {
                    let Some(wanted) = wanted else { continue };
                    for c in &containers {
                        let list = if what == "requests" {
                            &c.requests
                        } else {
                            &c.limits
                        };
                        for (key, value) in [("cpu", &wanted.cpu), ("memory", &wanted.mem)] {
                            let Some(value) = value else { continue };
                            let old = list.get(key).map_or("unset", String::as_str);
                            lines.push(format!(
                                "{object} container {} {what}.{key}: {old} → {value}",
                                c.name
                            ));
                        }
                    }
                    if containers.is_empty() {
                        lines.push(format!("{object} {what}: ? → {}", wanted.render()));
                    }
                }
            }
            ActionType::ApplyHpa => {
                let Some(hpa) = action.hpa else { continue };
                let old = before
                    .and_then(|b| b.hpas.iter().find(|h| h.name == action.name))
                    .and_then(|h| h.hpa.as_ref())
                    .map_or_else(
                        || "none".to_owned(),
                        |h| {
                            format!(
                                "min {} max {} cpu {}",
                                h.min_replicas,
                                h.max_replicas,
                                h.target_cpu_percent
                                    .map_or_else(|| "-".to_owned(), |c| format!("{c}%"))
                            )
                        },
                    );
                lines.push(format!(
                    "{object}: {old} → min {} max {} cpu {}%",
                    hpa.min, hpa.max, hpa.target_cpu
                ));
            }
        }
    }
    lines
}

/// The comment posted after `/apply-plan` or `/rollback-plan` ran: each field before → after
/// (reversed for a rollback), each step's and rollout's status, the plan hash, who asked and who
/// approved. The closing marker is a cache for humans and tools, never proof of anything.
pub fn result_comment(approved: &ApprovedPlan, report: &ExecuteReport) -> String {
    let plan = approved.plan();
    let rollback = approved.action() == GateAction::Rollback;
    let verb = if rollback { "Rollback" } else { "Apply" };
    let status = if report.ok { "✅" } else { "❌" };
    let mut text = format!(
        "{status} **{verb}** of `{}` for **{}** (namespace `{}`)\n\n",
        approved.plan_path(),
        plan.metadata.target,
        plan.context.namespace
    );
    text.push_str(&format!(
        "- Plan hash: `{}`\n- Head: `{}`\n- Requested by: @{}\n- Approved by: {}\n",
        report.plan_hash,
        &approved.head_sha()[..approved.head_sha().len().min(12)],
        approved.requester(),
        if approved.approvers().is_empty() {
            if rollback {
                "emergency rollback policy (no second approver)".to_owned()
            } else {
                "no approval required by policy".to_owned()
            }
        } else {
            approved
                .approvers()
                .iter()
                .map(|a| format!("@{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    if approved.policy_changed() {
        text.push_str(&format!(
            "- ⚠️ This pull request changes `{}`: it was judged under the base branch's policy\n",
            approval::POLICY_FILE
        ));
    }
    text.push_str("\n### Changes (before → after)\n");
    for line in change_lines(plan) {
        let line = if rollback {
            // Restoring: the arrow points back.
            line.replacen(" → ", " ← ", 1)
        } else {
            line
        };
        text.push_str(&format!("- {line}\n"));
    }
    text.push_str("\n### Steps\n");
    for r in report.results.iter().chain(&report.rollouts) {
        text.push_str(&format!("- `{}`: {} {}\n", r.id, r.status, r.detail));
    }
    if let Some(error) = &report.error {
        text.push_str(&format!("\n**Error:** {error}\n"));
    }
    text.push_str(&format!(
        "\n{RESULT_MARKER}action={} ok={} hash={} head={} -->\n",
        if rollback { "rollback" } else { "apply" },
        report.ok,
        report.plan_hash,
        approved.head_sha()
    ));
    text
}

/// How approval works now: the answer to `/approve-plan`.
pub fn approve_plan_answer() -> String {
    "ℹ️ `/approve-plan` no longer approves anything: a comment can be edited by anyone with \
     write access, so it proves nothing.\n\n\
     - To **approve**, submit a pull-request review with **Approve** (Files changed → Review \
     changes). It counts for the commit you reviewed; a later push needs a new review. You may \
     not have opened or pushed to this pull request.\n\
     - Then anyone with write access comments **/apply-plan**: the approval is checked again and \
     the plan is applied in that job; the result is posted here.\n"
        .to_owned()
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

/// Handles one `issue_comment` event: `/apply-plan` and `/rollback-plan` are verified through
/// [`approval::verify`] and executed with `executor` in this job, the result posted on the pull
/// request; `/unlock-plan` releases this pull request's target lock when a qualified approver
/// asks; `/approve-plan` is answered with how approval works. A refusal is posted and changes
/// nothing. The `policy` must come from a trusted source (the base branch or a trusted
/// checkout). `executor` is needed only by `/apply-plan` and `/rollback-plan` (a caller can
/// skip connecting to a cluster for the other commands): without one they are an error.
pub async fn handle_comment(
    forge: &dyn Forge,
    event: &CommentEvent,
    policy: &ApprovalPolicy,
    executor: Option<&ScaleExecutor>,
) -> Result<CommandOutcome> {
    let ignored = |reason: &str| {
        Ok(CommandOutcome::Ignored {
            reason: reason.to_owned(),
        })
    };
    if let Some(reason) = ignore_reason(event) {
        return ignored(reason);
    }
    let command = parse_command(&event.body).expect("ignore_reason checked there is a command");
    if policy.is_bot(&event.commenter) {
        return ignored("a comment by a bot login");
    }
    let (repo, number) = (&event.repo, event.number);
    let refuse = |reason: String| async move {
        forge
            .create_comment(
                repo,
                number,
                &format!(
                    "🚫 `/{}` from @{} refused: {reason}.\n\nNothing was changed.",
                    command.as_str(),
                    event.commenter
                ),
            )
            .await?;
        Ok::<_, Error>(CommandOutcome::Refused { command, reason })
    };
    let action = match command {
        PlanCommand::ApprovePlan => {
            forge
                .create_comment(repo, number, &approve_plan_answer())
                .await?;
            return Ok(CommandOutcome::Answered { command });
        }
        PlanCommand::UnlockPlan => {
            return match super::lock::unlock_problem(
                forge,
                repo,
                number,
                event.comment_id,
                &event.commenter,
                policy,
            )
            .await?
            {
                Some(problem) => refuse(problem).await,
                None => {
                    forge
                        .create_comment(
                            repo,
                            number,
                            &format!(
                                "🔓 @{} released this pull request's lock: another plan for its \
                                 target may be proposed.",
                                event.commenter
                            ),
                        )
                        .await?;
                    Ok(CommandOutcome::Unlocked {
                        by: event.commenter.clone(),
                    })
                }
            };
        }
        PlanCommand::ApplyPlan => GateAction::Apply,
        PlanCommand::RollbackPlan => GateAction::Rollback,
    };
    let approved = match approval::verify(
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
        Ok(approved) => approved,
        Err(Error::PermissionDenied { message }) => return refuse(message).await,
        Err(e) if e.is_bad_input() => return refuse(e.to_string()).await,
        Err(e) => return Err(e),
    };
    let executor = executor.ok_or_else(|| {
        Error::invalid_input(format!(
            "/{} needs a cluster to act on, and none was given",
            command.as_str()
        ))
    })?;
    let report = match action {
        GateAction::Apply => executor.apply(&approved).await,
        GateAction::Rollback => executor.rollback(&approved).await,
    };
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            // Drift, a missing workload...: say so on the pull request, then fail the job.
            forge
                .create_comment(
                    repo,
                    number,
                    &format!(
                        "❌ `/{}` by @{} stopped before changing anything it had not \
                         journaled: {e}",
                        command.as_str(),
                        event.commenter
                    ),
                )
                .await?;
            return Err(e);
        }
    };
    forge
        .create_comment(repo, number, &result_comment(&approved, &report))
        .await?;
    if report.ok {
        // Labels display the state; nothing reads them.
        let label = match action {
            GateAction::Apply => LABEL_EXECUTE,
            GateAction::Rollback => LABEL_ROLLBACK,
        };
        forge.add_labels(repo, number, &[label.to_owned()]).await?;
        forge
            .remove_label(repo, number, LABEL_NEEDS_APPROVAL)
            .await?;
    }
    Ok(CommandOutcome::Executed {
        command,
        plan_hash: report.plan_hash.clone(),
        head_sha: approved.head_sha().to_owned(),
        approvers: approved.approvers().to_vec(),
        ok: report.ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
