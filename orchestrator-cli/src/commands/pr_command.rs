//! `orchestrator pr-command --event-file PATH`: `/approve-plan` and `/rollback-plan` from a GitHub
//! `issue_comment` event (`$GITHUB_EVENT_PATH`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use orchestrator_core::scale::config::{ScaleConfig, parse_min_permission};
use orchestrator_core::scale::review::{self, ApprovalPolicy, CommandOutcome, CommentEvent};

use crate::args::{Global, OutputFormat};
use crate::wiring;

/// Who may approve; shared with `scale apply|rollback --execute`, which re-checks the approver.
/// Each flag overrides its `[scale]` key for this invocation.
#[derive(Debug, Args, Clone)]
pub(crate) struct PolicyArgs {
    /// Only these logins may approve (repeatable; default: [scale] approvers, else anyone with
    /// the minimum permission).
    #[arg(long = "allow-user", value_name = "LOGIN")]
    allow_users: Vec<String>,
    /// The weakest repository permission that may approve: write, maintain or admin (default:
    /// [scale] min_permission, else write).
    #[arg(long, value_name = "LEVEL")]
    min_permission: Option<String>,
    /// Let the PR author approve their own plan (default: [scale] allow_self_approval, else no).
    #[arg(long)]
    allow_self_approval: bool,
    /// The bot login whose replies carry approvals (repeatable; default: [scale] bot_logins,
    /// else github-actions[bot]).
    #[arg(long = "bot-login", value_name = "LOGIN")]
    bot_logins: Vec<String>,
}

impl PolicyArgs {
    /// `configured` (the `[scale]` policy) with the flags given applied on top.
    pub(crate) fn policy(&self, configured: &ApprovalPolicy) -> anyhow::Result<ApprovalPolicy> {
        let mut policy = configured.clone();
        if let Some(level) = &self.min_permission {
            policy.min_permission = parse_min_permission(level).ok_or_else(|| {
                orchestrator_core::Error::invalid_input(format!(
                    "--min-permission {level}: expected write, maintain or admin"
                ))
            })?;
        }
        if !self.allow_users.is_empty() {
            policy.allowed_users.clone_from(&self.allow_users);
        }
        if self.allow_self_approval {
            policy.allow_self_approval = true;
        }
        if !self.bot_logins.is_empty() {
            policy.bot_logins.clone_from(&self.bot_logins);
        }
        Ok(policy)
    }
}

/// The `[scale]` section of the config, when there is one (defaults otherwise).
pub(crate) fn scale_config(global: &Global) -> anyhow::Result<ScaleConfig> {
    Ok(wiring::load_optional_config(global)?
        .map(|c| c.scale)
        .unwrap_or_default())
}

/// `orchestrator pr-command`.
#[derive(Debug, Args)]
pub(crate) struct PrCommandArgs {
    /// The event JSON (in GitHub Actions: $GITHUB_EVENT_PATH).
    #[arg(long, env = "GITHUB_EVENT_PATH", value_name = "PATH")]
    event_file: PathBuf,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub(crate) async fn run(global: &Global, args: PrCommandArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.event_file)
        .with_context(|| format!("reading {}", args.event_file.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        orchestrator_core::Error::invalid_input(format!(
            "{}: not JSON: {e}",
            args.event_file.display()
        ))
    })?;
    let event = CommentEvent::from_github_event(&json)?;
    let policy = args.policy.policy(&scale_config(global)?.policy)?;
    let forge = crate::commands::scale::forge(global)?;
    let outcome = review::handle_comment(forge.as_ref(), &event, &policy).await?;
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        OutputFormat::Human => match &outcome {
            CommandOutcome::Ignored { reason } => println!("ignored: {reason}"),
            CommandOutcome::Refused { command, reason } => {
                println!("refused: /{}: {reason}", command.as_str());
            }
            CommandOutcome::Accepted {
                command,
                plan_hash,
                head_sha,
            } => println!(
                "accepted: /{} for plan {plan_hash} at {head_sha}",
                command.as_str()
            ),
        },
    }
    // A refusal is an answer, not a failure of the job.
    Ok(ExitCode::SUCCESS)
}
