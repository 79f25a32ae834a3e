//! `orchestrator pr-command --event-file PATH`: the commands on a plan pull request, from a
//! GitHub `issue_comment` event (`$GITHUB_EVENT_PATH`), acted on in this job: `/apply-plan` and
//! `/rollback-plan` verify the approval from the forge and change the cluster, `/unlock-plan`
//! releases the target lock, `/approve-plan` answers how approval works. No step waits for an
//! event the bot causes (events caused by `GITHUB_TOKEN` start no workflow runs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod cluster;
mod policy;

pub(crate) use policy::PolicyArgs;

use anyhow::Context;
use clap::Args;
use orchestrator_core::scale::review::{self, CommandOutcome, CommentEvent, PlanCommand};
use orchestrator_core::workspace::workflows::{ClusterConnector, CommentCommandWorkflow};

use cluster::PlanCluster;

use crate::args::{Global, OutputFormat};
use crate::wiring;

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
    crate::summaries::pr_command(&outcome)?;
    // A refusal is an answer, not a failure of the job; a failed apply is.
    Ok(match outcome {
        CommandOutcome::Executed { ok: false, .. } => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}
