//! `orchestrator pr-command --event-file PATH`: the commands on a plan pull request, from a
//! GitHub `issue_comment` event (`$GITHUB_EVENT_PATH`), acted on in this job: `/apply-plan` and
//! `/rollback-plan` verify the approval from the forge and change the cluster, `/unlock-plan`
//! releases the target lock, `/approve-plan` answers how approval works. No step waits for an
//! event the bot causes (events caused by `GITHUB_TOKEN` start no workflow runs).
//!
//! The decisions (which comments to ignore, the policy and its overrides, whether a cluster is
//! needed) are core's [`run_comment_command`]; this module turns the flags into its request,
//! supplies the cluster (`cluster.rs`), and prints the outcome.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod cluster;
mod policy;

pub(crate) use cluster::PlanCluster;
pub(crate) use policy::PolicyArgs;

use clap::Args;
use orchestrator_core::scale::review::{
    CommandOutcome, CommentCommandRequest, CommentEventSource, run_comment_command,
};

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
    let workspace = wiring::optional_workspace(global)?;
    let request = CommentCommandRequest {
        event: CommentEventSource::File(args.event_file),
        policy_from: args.policy.source(),
        overrides: args.policy.overrides(),
        cluster: Some(Arc::new(PlanCluster {
            spec: args.cluster,
            kube_context: args.kube_context,
        })),
    };
    workspace.cancel_on_stop_signals();
    let outcome = run_comment_command(&workspace, &request).await?;
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
    Ok(if outcome.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
