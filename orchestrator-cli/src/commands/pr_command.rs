//! `orchestrator pr-command --event-file PATH`: the commands on a plan pull request, from a
//! GitHub `issue_comment` event (`$GITHUB_EVENT_PATH`), acted on in this job: `/apply-plan` and
//! `/rollback-plan` verify the approval from the forge and change the cluster, `/unlock-plan`
//! releases the target lock, `/approve-plan` answers how approval works. No step waits for an
//! event the bot causes (events caused by `GITHUB_TOKEN` start no workflow runs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use orchestrator_core::cluster::Cluster;
use orchestrator_core::forge::RepoId;
use orchestrator_core::scale::approval::{self, ApprovalPolicy};
use orchestrator_core::scale::config::{ScaleConfig, parse_min_permission};
use orchestrator_core::scale::review::{self, CommandOutcome, CommentEvent, PlanCommand};
use orchestrator_core::workspace::Workspace;
use orchestrator_core::workspace::workflows::{ClusterConnector, CommentCommandWorkflow};

use crate::args::{Global, OutputFormat};
use crate::wiring;

/// Where the approval policy is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PolicyFrom {
    /// `orchestrator.toml` on the pull request's base branch, read through the forge.
    Base,
    /// The local `orchestrator.toml` (`--config`): only for a trusted checkout of the default
    /// branch, never a checkout of the pull request.
    Checkout,
}

/// Who may approve; shared with `scale apply|rollback --execute`. Each flag overrides its
/// `[scale]` key for this invocation (the flags are the invoker's, like the workflow file).
#[derive(Debug, Args, Clone)]
pub(crate) struct PolicyArgs {
    /// Where the [scale] policy comes from: the base branch through the forge (default), or the
    /// local config of a trusted checkout. Never the pull request's own files.
    #[arg(long, value_enum, default_value = "base", value_name = "SOURCE")]
    policy_from: PolicyFrom,
    /// Only these logins may approve (repeatable; default: [scale] approvers, else anyone with
    /// the minimum permission).
    #[arg(long = "allow-user", value_name = "LOGIN")]
    allow_users: Vec<String>,
    /// The weakest repository permission that may approve: write, maintain or admin (default:
    /// [scale] min_permission, else write).
    #[arg(long, value_name = "LEVEL")]
    min_permission: Option<String>,
    /// Let the PR's author and its committers approve their own plan (default: [scale]
    /// allow_self_approval, else no).
    #[arg(long)]
    allow_self_approval: bool,
    /// Bot logins, whose commands are ignored and whose reviews never approve (repeatable;
    /// default: [scale] bot_logins, else github-actions[bot]).
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

    /// The `[scale]` section from the chosen trusted source, with the flags on top: the base
    /// branch of pull request `number` (through the workspace's forge), or the local config.
    pub(crate) async fn resolve(
        &self,
        workspace: &Workspace,
        repo: &RepoId,
        number: u64,
    ) -> anyhow::Result<(ScaleConfig, ApprovalPolicy)> {
        let local = workspace.config().scale.clone();
        let config = match self.policy_from {
            PolicyFrom::Checkout => local,
            PolicyFrom::Base => {
                let forge = workspace.forge().await?;
                let pr = forge.pull_request(repo, number).await?;
                let policy = approval::policy_at_base(forge.as_ref(), repo, &pr.base_ref).await?;
                // The wait is not policy: the invoker's config may set it.
                ScaleConfig {
                    policy,
                    rollout_wait: local.rollout_wait,
                }
            }
        };
        let policy = self.policy(&config.policy)?;
        Ok((config, policy))
    }
}

/// `orchestrator pr-command`.
#[derive(Debug, Args)]
pub(crate) struct PrCommandArgs {
    /// The event JSON (in GitHub Actions: $GITHUB_EVENT_PATH).
    #[arg(long, env = "GITHUB_EVENT_PATH", value_name = "PATH")]
    event_file: PathBuf,
    /// The cluster /apply-plan and /rollback-plan act on: `kube` (kubeconfig; default) or
    /// `file:STATE.yaml`.
    #[arg(long, default_value = "kube", value_name = "SPEC")]
    cluster: String,
    /// The kube context with --cluster kube (default: the plan's kubeContext, else current).
    #[arg(long, value_name = "NAME")]
    kube_context: Option<String>,
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
    let command = review::parse_command(&event.body);
    let acts = matches!(
        command,
        Some(PlanCommand::ApplyPlan | PlanCommand::RollbackPlan)
    );
    // Nothing for us: answer without reading policy or touching a cluster.
    let outcome = if let Some(reason) = review::ignore_reason(&event) {
        CommandOutcome::Ignored {
            reason: reason.to_owned(),
        }
    } else {
        let workspace = wiring::optional_workspace(global)?;
        let (config, policy) = args
            .policy
            .resolve(&workspace, &event.repo, event.number)
            .await?;
        let cluster = (acts && !policy.is_bot(&event.commenter)).then(|| {
            Arc::new(PlanCluster {
                spec: args.cluster.clone(),
                kube_context: args.kube_context.clone(),
                workspace: workspace.clone(),
                event: event.clone(),
            }) as Arc<dyn ClusterConnector>
        });
        let workflow = CommentCommandWorkflow {
            event,
            policy,
            cluster,
            rollout: config.rollout_wait,
        };
        workspace.cancel_on_stop_signals();
        workspace.run(&workflow).await?.report
    };
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        OutputFormat::Human => match &outcome {
            CommandOutcome::Ignored { reason } => println!("ignored: {reason}"),
            CommandOutcome::Answered { command } => {
                println!(
                    "answered: /{} (approval is a pull-request review)",
                    command.as_str()
                );
            }
            CommandOutcome::Refused { command, reason } => {
                println!("refused: /{}: {reason}", command.as_str());
            }
            CommandOutcome::Executed {
                command,
                plan_hash,
                head_sha,
                approvers,
                ok,
            } => println!(
                "{}: /{} of plan {plan_hash} at {head_sha}, approved by {}",
                if *ok { "executed" } else { "failed" },
                command.as_str(),
                if approvers.is_empty() {
                    "policy (no approver needed)".to_owned()
                } else {
                    approvers.join(", ")
                }
            ),
            CommandOutcome::Unlocked { by } => println!("unlocked: by {by}"),
        },
    }
    let (status, plan_hash) = match &outcome {
        CommandOutcome::Ignored { .. } => ("ignored", None),
        CommandOutcome::Answered { .. } => ("answered", None),
        CommandOutcome::Refused { .. } => ("refused", None),
        CommandOutcome::Executed {
            ok: true,
            plan_hash,
            ..
        } => ("succeeded", Some(plan_hash)),
        CommandOutcome::Executed { plan_hash, .. } => ("failed", Some(plan_hash)),
        CommandOutcome::Unlocked { .. } => ("unlocked", None),
    };
    crate::gha::write(
        &[
            ("status", status.to_owned()),
            ("plan_hash", plan_hash.cloned().unwrap_or_default()),
            ("json", serde_json::to_string(&outcome)?),
        ],
        None,
    );
    // A refusal is an answer, not a failure of the job; a failed apply is.
    Ok(match outcome {
        CommandOutcome::Executed { ok: false, .. } => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// `--cluster`, connected when a command is about to change it; with `kube` and no
/// `--kube-context`, the context the pull request's plan names (the gate reads and verifies the
/// plan again before anything changes).
#[derive(Debug)]
struct PlanCluster {
    spec: String,
    kube_context: Option<String>,
    workspace: Workspace,
    event: CommentEvent,
}

#[async_trait::async_trait]
impl ClusterConnector for PlanCluster {
    async fn connect(&self) -> Result<Arc<dyn Cluster>, orchestrator_core::Error> {
        let context = match &self.kube_context {
            Some(context) => Some(context.clone()),
            None if self.spec == "kube" => plan_context(&self.workspace, &self.event).await,
            None => None,
        };
        crate::commands::scale::cluster(&self.spec, context.as_deref()).await
    }
}

/// The kube context the pull request's plan names, when it can be read.
async fn plan_context(workspace: &Workspace, event: &CommentEvent) -> Option<String> {
    let forge = workspace.forge().await.ok()?;
    let pr = forge.pull_request(&event.repo, event.number).await.ok()?;
    let files = forge
        .list_pull_files(&event.repo, event.number)
        .await
        .ok()?;
    let (_, plan) = approval::plan_of_pull_request(forge.as_ref(), &event.repo, &pr, &files)
        .await
        .ok()?;
    plan.context.kube_context
}
