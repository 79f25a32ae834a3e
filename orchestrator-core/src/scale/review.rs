//! Review in a pull request ([`super::propose`] opens it): [`handle_comment`] for
//! `/approve-plan` and `/rollback-plan`, and [`verify_gate`] before executing.
//!
//! Approvals live on the forge, not in a local file: the bot's reply to an accepted command carries
//! a marker `<!-- orchestrator:approval command=approve-plan hash=sha256:… head=<sha> approver=… -->`.
//! Only markers in comments written by a trusted bot login count (anyone can *type* a marker), and
//! [`verify_gate`] re-checks the approver's permission, the plan hash and the PR head: a push after
//! approval changes the head, so the approval is stale.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::forge::{Forge, Permission, PullRequest, RepoId};
use crate::vcs::Vcs;

/// Set on a proposed plan until it is approved.
pub const LABEL_NEEDS_APPROVAL: &str = "needs-approval";
/// Gates `scale apply --execute`.
pub const LABEL_EXECUTE: &str = "execute-plan";
/// Gates `scale rollback --execute`.
pub const LABEL_ROLLBACK: &str = "rollback-plan";
/// The login GitHub Actions' `GITHUB_TOKEN` comments as.
pub const DEFAULT_BOT: &str = "github-actions[bot]";

pub(super) const PLAN_MARKER: &str = "<!-- orchestrator:scale-plan ";
const APPROVAL_MARKER: &str = "<!-- orchestrator:approval ";

/// Who may approve, and whose markers count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// The weakest repository permission that may approve (default: write).
    pub min_permission: Permission,
    /// When not empty, only these logins may approve (on top of the permission check).
    pub allowed_users: Vec<String>,
    /// Whether the PR author may approve their own plan (default: no).
    pub allow_self_approval: bool,
    /// Logins whose comments carry trusted approval markers (default: `github-actions[bot]`).
    pub bot_logins: Vec<String>,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            min_permission: Permission::Write,
            allowed_users: Vec::new(),
            allow_self_approval: false,
            bot_logins: vec![DEFAULT_BOT.to_owned()],
        }
    }
}

/// The two chat commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanCommand {
    /// `/approve-plan`: adds `execute-plan`, removes `needs-approval`.
    ApprovePlan,
    /// `/rollback-plan`: adds `rollback-plan`.
    RollbackPlan,
}

impl PlanCommand {
    /// `approve-plan` / `rollback-plan`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanCommand::ApprovePlan => "approve-plan",
            PlanCommand::RollbackPlan => "rollback-plan",
        }
    }

    fn label(self) -> &'static str {
        match self {
            PlanCommand::ApprovePlan => LABEL_EXECUTE,
            PlanCommand::RollbackPlan => LABEL_ROLLBACK,
        }
    }
}

/// The command in a comment: `/approve-plan` or `/rollback-plan` alone on a line, any case. The
/// first one wins; a command inside a sentence or a quote (`> /approve-plan`) does not count.
pub fn parse_command(body: &str) -> Option<PlanCommand> {
    body.lines().find_map(|line| {
        let line = line.trim();
        if line.eq_ignore_ascii_case("/approve-plan") {
            Some(PlanCommand::ApprovePlan)
        } else if line.eq_ignore_ascii_case("/rollback-plan") {
            Some(PlanCommand::RollbackPlan)
        } else {
            None
        }
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
    /// Not for us (no command, not a PR, an edit, our own comment); nothing was posted.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A command was refused; the reply says why. No label changed.
    Refused {
        /// The command.
        command: PlanCommand,
        /// Why.
        reason: String,
    },
    /// Accepted: labels changed and the approval recorded in the reply.
    Accepted {
        /// The command.
        command: PlanCommand,
        /// The plan hash it is bound to.
        plan_hash: String,
        /// The PR head it is bound to.
        head_sha: String,
    },
}

/// An approval marker read back from the forge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// Which command.
    pub command: String,
    /// The plan hash approved.
    pub plan_hash: String,
    /// The PR head approved.
    pub head_sha: String,
    /// Who approved.
    pub approver: String,
    /// The comment that carried the command.
    pub comment_id: u64,
}

impl Approval {
    fn marker(&self) -> String {
        format!(
            "{APPROVAL_MARKER}command={} hash={} head={} approver={} comment={} -->",
            self.command, self.plan_hash, self.head_sha, self.approver, self.comment_id
        )
    }

    fn parse(body: &str) -> Option<Self> {
        let start = body.find(APPROVAL_MARKER)? + APPROVAL_MARKER.len();
        let rest = &body[start..];
        let fields = &rest[..rest.find("-->")?];
        let get = |key: &str| {
            fields
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_owned)
        };
        Some(Self {
            command: get("command")?,
            plan_hash: get("hash")?,
            head_sha: get("head")?,
            approver: get("approver")?,
            comment_id: get("comment")?.parse().ok()?,
        })
    }
}

/// The plan hash and path a proposed PR's body records.
pub fn plan_marker_of(body: &str) -> Option<(String, String)> {
    let start = body.find(PLAN_MARKER)? + PLAN_MARKER.len();
    let rest = &body[start..];
    let fields = &rest[..rest.find("-->")?];
    let get = |key: &str| {
        fields
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    };
    Some((get("hash")?, get("path")?))
}

/// Why `user` may not approve `pr` under `policy`, or `None` when they may.
async fn approver_problem(
    forge: &dyn Forge,
    repo: &RepoId,
    pr: &PullRequest,
    user: &str,
    command: PlanCommand,
    policy: &ApprovalPolicy,
) -> Result<Option<String>> {
    let permission = forge.permission(repo, user).await?;
    if permission < policy.min_permission {
        return Ok(Some(format!(
            "@{user} has {} permission on {repo}; /{} needs {} or above",
            level(permission),
            command.as_str(),
            level(policy.min_permission)
        )));
    }
    if !policy.allowed_users.is_empty()
        && !policy
            .allowed_users
            .iter()
            .any(|u| u.eq_ignore_ascii_case(user))
    {
        return Ok(Some(format!(
            "@{user} is not on the approvers allow-list ({})",
            policy.allowed_users.join(", ")
        )));
    }
    if command == PlanCommand::ApprovePlan
        && !policy.allow_self_approval
        && pr.author.eq_ignore_ascii_case(user)
    {
        return Ok(Some(format!(
            "@{user} opened this pull request and cannot approve their own plan; another \
             maintainer must"
        )));
    }
    Ok(None)
}

/// A permission level as GitHub spells it.
fn level(permission: Permission) -> &'static str {
    match permission {
        Permission::None => "no",
        Permission::Read => "read",
        Permission::Triage => "triage",
        Permission::Write => "write",
        Permission::Maintain => "maintain",
        Permission::Admin => "admin",
    }
}

/// Handles one `issue_comment` event: checks the command and the commenter, changes labels,
/// records the approval in a reply, or replies why not.
pub async fn handle_comment(
    forge: &dyn Forge,
    event: &CommentEvent,
    policy: &ApprovalPolicy,
) -> Result<CommandOutcome> {
    let ignored = |reason: &str| {
        Ok(CommandOutcome::Ignored {
            reason: reason.to_owned(),
        })
    };
    if event.action != "created" {
        return ignored("only new comments carry commands");
    }
    let Some(command) = parse_command(&event.body) else {
        return ignored("no /approve-plan or /rollback-plan line");
    };
    if !event.is_pull_request {
        return ignored("not a pull request");
    }
    if policy
        .bot_logins
        .iter()
        .any(|b| b.eq_ignore_ascii_case(&event.commenter))
    {
        return ignored("a comment by the bot itself");
    }
    let (repo, number) = (&event.repo, event.number);
    let pr = forge.pull_request(repo, number).await?;
    let refuse = |reason: String| async move {
        forge
            .create_comment(
                repo,
                number,
                &format!(
                    "🚫 `/{}` from @{} refused: {reason}.\n\nNo label was changed.",
                    command.as_str(),
                    event.commenter
                ),
            )
            .await?;
        Ok::<_, Error>(CommandOutcome::Refused { command, reason })
    };
    let Some((plan_hash, plan_path)) = plan_marker_of(&pr.body) else {
        return refuse(
            "this pull request is not a proposed scale plan (no plan marker in its description)"
                .into(),
        )
        .await;
    };
    if pr.state != "open" && command == PlanCommand::ApprovePlan {
        return refuse(format!("the pull request is {}", pr.state)).await;
    }
    if let Some(problem) =
        approver_problem(forge, repo, &pr, &event.commenter, command, policy).await?
    {
        return refuse(problem).await;
    }
    let approval = Approval {
        command: command.as_str().to_owned(),
        plan_hash: plan_hash.clone(),
        head_sha: pr.head_sha.clone(),
        approver: event.commenter.clone(),
        comment_id: event.comment_id,
    };
    forge
        .add_labels(repo, number, &[command.label().to_owned()])
        .await?;
    let what = match command {
        PlanCommand::ApprovePlan => {
            forge
                .remove_label(repo, number, LABEL_NEEDS_APPROVAL)
                .await?;
            format!(
                "added `{LABEL_EXECUTE}`, removed `{LABEL_NEEDS_APPROVAL}`. `scale apply --execute` \
                 may now apply `{plan_path}`"
            )
        }
        PlanCommand::RollbackPlan => format!(
            "added `{LABEL_ROLLBACK}`. `scale rollback --execute` may now restore the before state \
             recorded in `{plan_path}`"
        ),
    };
    let short = &pr.head_sha[..pr.head_sha.len().min(12)];
    forge
        .create_comment(
            repo,
            number,
            &format!(
                "✅ `/{}` by @{}: {what}.\n\nBound to plan `{plan_hash}` at commit `{short}`; a \
                 new push makes this approval stale.\n\n{}",
                command.as_str(),
                event.commenter,
                approval.marker()
            ),
        )
        .await?;
    Ok(CommandOutcome::Accepted {
        command,
        plan_hash,
        head_sha: pr.head_sha,
    })
}

/// Whether execution may go ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum GateOutcome {
    /// The label is absent: the seed prints `skipped` and changes nothing.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Label and a valid approval present.
    Open {
        /// The approval that opens it.
        approval: Approval,
    },
}

/// Checks the label and a valid approval for `plan_hash` before `scale apply --execute`
/// (`PlanCommand::ApprovePlan`: bound to the current head too) or `scale rollback --execute`
/// (`PlanCommand::RollbackPlan`: bound to the plan hash). An invalid approval is
/// `PermissionDenied` naming why (stale, another plan, approver lost permission).
pub async fn verify_gate(
    forge: &dyn Forge,
    repo: &RepoId,
    number: u64,
    plan_hash: &str,
    command: PlanCommand,
    policy: &ApprovalPolicy,
) -> Result<GateOutcome> {
    let pr = forge.pull_request(repo, number).await?;
    if !pr.labels.iter().any(|l| l == command.label()) {
        return Ok(GateOutcome::Skipped {
            reason: format!(
                "pull request #{number} does not have the `{}` label",
                command.label()
            ),
        });
    }
    let denied = |message: String| Error::PermissionDenied { message };
    let comments = forge.list_comments(repo, number).await?;
    let approval = comments
        .iter()
        .rev()
        .filter(|c| {
            policy
                .bot_logins
                .iter()
                .any(|b| b.eq_ignore_ascii_case(&c.author))
        })
        .filter_map(|c| Approval::parse(&c.body))
        .find(|a| a.command == command.as_str())
        .ok_or_else(|| {
            denied(format!(
                "pull request #{number} has the `{}` label but no recorded /{} (labels alone do \
                 not approve: comment /{})",
                command.label(),
                command.as_str(),
                command.as_str()
            ))
        })?;
    if approval.plan_hash != plan_hash {
        return Err(denied(format!(
            "/{} by @{} approved plan {}, but this plan is {plan_hash}",
            command.as_str(),
            approval.approver,
            approval.plan_hash
        )));
    }
    if command == PlanCommand::ApprovePlan && approval.head_sha != pr.head_sha {
        return Err(denied(format!(
            "the approval is stale: /{} by @{} was for commit {}, the pull request head is now {} \
             (pushed after approval); review again and comment /{}",
            command.as_str(),
            approval.approver,
            short(&approval.head_sha),
            short(&pr.head_sha),
            command.as_str()
        )));
    }
    if let Some(problem) =
        approver_problem(forge, repo, &pr, &approval.approver, command, policy).await?
    {
        return Err(denied(format!("the approval no longer holds: {problem}")));
    }
    Ok(GateOutcome::Open { approval })
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Refuses to execute a plan file that is not the one approved: it must be committed, unmodified,
/// in a checkout whose HEAD is the approved head commit. (The approval binds a hash and a head;
/// this binds the file on disk to that head, so a plan from elsewhere with a matching hash claim
/// cannot ride on someone else's approval.)
pub async fn verify_checkout(
    vcs: &dyn Vcs,
    plan_file: &std::path::Path,
    approved_head: &str,
) -> Result<()> {
    let plan_file = std::path::absolute(plan_file)
        .map_err(|e| Error::io(format!("resolving {}", plan_file.display()), e))?;
    let mut root = plan_file.parent();
    while let Some(dir) = root {
        if vcs.is_repository(dir).await? {
            break;
        }
        root = dir.parent();
    }
    let Some(root) = root else {
        return Err(Error::PermissionDenied {
            message: format!(
                "{} is not in a git checkout: --execute applies only a plan committed at the \
                 approved head {}; run it in a checkout of the pull request's head",
                plan_file.display(),
                short(approved_head)
            ),
        });
    };
    let head = vcs.head(root).await?;
    if head.commit() != Some(approved_head) {
        return Err(Error::PermissionDenied {
            message: format!(
                "the checkout {} is at {}, but the approval is for {}: check out the approved head",
                root.display(),
                head.commit().map_or("no commit", short),
                short(approved_head)
            ),
        });
    }
    let relative = plan_file
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    if vcs.dirty_paths(root).await?.iter().any(|p| {
        let p = p.trim_end_matches('/');
        p == relative || relative.starts_with(&format!("{p}/"))
    }) {
        return Err(Error::PermissionDenied {
            message: format!(
                "{relative} differs from the approved commit {} (modified or untracked)",
                short(approved_head)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_case_insensitive_on_their_own_line() {
        assert_eq!(
            parse_command("/approve-plan"),
            Some(PlanCommand::ApprovePlan)
        );
        assert_eq!(
            parse_command("LGTM\n  /Approve-Plan  \n"),
            Some(PlanCommand::ApprovePlan)
        );
        assert_eq!(
            parse_command("/ROLLBACK-PLAN"),
            Some(PlanCommand::RollbackPlan)
        );
        assert_eq!(parse_command("please /approve-plan"), None);
        assert_eq!(parse_command("> /approve-plan"), None);
        assert_eq!(parse_command("/approve-plans"), None);
    }

    #[test]
    fn approval_markers_round_trip() {
        let a = Approval {
            command: "approve-plan".into(),
            plan_hash: "sha256:abc".into(),
            head_sha: "0123".into(),
            approver: "maint".into(),
            comment_id: 42,
        };
        assert_eq!(Approval::parse(&format!("text\n{}\n", a.marker())), Some(a));
        assert_eq!(Approval::parse("no marker"), None);
    }

    #[test]
    fn issue_comment_events_are_read() {
        let event = serde_json::json!({
            "action": "created",
            "repository": {"full_name": "ledger-mind/website"},
            "issue": {"number": 7, "pull_request": {"url": "x"}},
            "comment": {"id": 99, "body": "/approve-plan", "user": {"login": "maint"}}
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
