//! The flags of `orchestrator scale`: parsed here, turned into core requests by the commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use orchestrator_core::Error;
use orchestrator_core::scale::execute::RolloutWait;

use crate::commands::pr_command::PolicyArgs;

/// `orchestrator scale`.
#[derive(Debug, Args)]
pub(crate) struct ScaleArgs {
    #[command(subcommand)]
    pub(crate) command: ScaleCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScaleCommand {
    /// Write plan.yaml and SUMMARY.md for the requested scale (reads the live state with
    /// --cluster); changes nothing.
    Plan(PlanArgs),
    /// Commit a plan to a branch, open a draft PR labelled needs-approval, post the checklist.
    Propose(ProposeArgs),
    /// Preview (server-side dry run) or, with --execute --pr N, apply the plan PR N adds: needs
    /// an approving review at the PR head by a qualified approver, the apply requirements, and
    /// no drift (the same gate as /apply-plan).
    Apply(ExecuteArgs),
    /// Preview or, with --execute --pr N, restore the plan's recorded before state exactly: needs
    /// a second qualified person's /rollback-plan (or the emergency policy); refuses to overwrite
    /// changes made after the apply unless --force.
    Rollback(ExecuteArgs),
    /// Print the GitHub Actions workflow that runs this flow: /apply-plan, /rollback-plan and
    /// /unlock-plan handled in one issue_comment job (or write it with --dir).
    CiWorkflows(CiWorkflowsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The plan's target (prod, staging): names its directory and branch.
    #[arg(long, value_name = "NAME")]
    pub(super) target: String,
    /// The namespace of every workload.
    #[arg(long, value_name = "NS")]
    pub(super) namespace: String,
    /// A workload and the replicas wanted (repeatable).
    #[arg(long, value_name = "Kind:name:replicas")]
    pub(super) workload: Vec<String>,
    /// An HPA for every workload.
    #[arg(long, value_name = "min:N,max:N,cpu:PERCENT")]
    pub(super) hpa: Option<String>,
    /// Requests of every container of a workload (repeatable).
    #[arg(long = "req", value_name = "name:cpu=Q,mem=Q")]
    pub(super) requests: Vec<String>,
    /// Limits of every container of a workload (repeatable).
    #[arg(long = "lim", value_name = "name:cpu=Q,mem=Q")]
    pub(super) limits: Vec<String>,
    /// The kube context, recorded in the plan (and used with --cluster kube).
    #[arg(long, value_name = "NAME")]
    pub(super) kube_context: Option<String>,
    /// Read the live state here to record the before state: `file:STATE.yaml` (an in-memory
    /// cluster, for rehearsals) or `kube` (kubeconfig). Without it, `from: ${detect}` and the plan
    /// can be previewed but not executed.
    #[arg(long, value_name = "SPEC")]
    pub(super) cluster: Option<String>,
    /// The container --req/--lim change in each workload (default: its first container; a
    /// sidecar changes only when named).
    #[arg(short = 'c', long = "container", value_name = "NAME")]
    pub(super) container: Option<String>,
    /// Where to write the artifacts (default: artifacts/infra-scale-TARGET-TIMESTAMP).
    #[arg(long, value_name = "DIR")]
    pub(super) out: Option<PathBuf>,
    /// Overwrite a plan already in --out.
    #[arg(long)]
    pub(super) force: bool,
    /// Accepted for the seed's scripts: planning never changes anything.
    #[arg(long, hide = true)]
    pub(super) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ProposeArgs {
    /// The plan directory (with plan.yaml) or the plan.yaml itself.
    #[arg(long, value_name = "DIR")]
    pub(super) plan: PathBuf,
    /// The repository on the forge (default: $GITHUB_REPOSITORY).
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub(super) repo: String,
    /// The local clone to commit in.
    #[arg(long, default_value = ".", value_name = "PATH")]
    pub(super) clone: PathBuf,
    /// The remote to push to.
    #[arg(long, default_value = "origin")]
    pub(super) remote: String,
    /// The PR's base branch; the proposal branch starts from REMOTE/BASE, fetched first
    /// (default: the clone's current branch).
    #[arg(long, value_name = "BRANCH")]
    pub(super) base: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecuteArgs {
    /// The plan.yaml (or its directory).
    #[arg(long, visible_alias = "plan-path", value_name = "FILE")]
    pub(super) plan: PathBuf,
    /// Change the cluster (default: a server-side dry run).
    #[arg(long, requires = "pr")]
    pub(super) execute: bool,
    /// The plan's pull request, whose approval gates --execute (the plan it adds must be
    /// --plan's).
    #[arg(long, value_name = "N")]
    pub(super) pr: Option<u64>,
    /// The repository of --pr (default: $GITHUB_REPOSITORY).
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub(super) repo: Option<String>,
    /// The cluster: `kube` (kubeconfig; default) or `file:STATE.yaml`.
    #[arg(long, default_value = "kube", value_name = "SPEC")]
    pub(super) cluster: String,
    /// The kube context with --cluster kube (default: the plan's kubeContext, else current).
    #[arg(long, value_name = "NAME")]
    pub(super) kube_context: Option<String>,
    /// With --execute: how long to wait for each changed workload to roll out (all replicas
    /// updated and available) before failing, e.g. 90s, 5m, 1h [default: 5m].
    #[arg(long, value_name = "DURATION")]
    pub(super) rollout_timeout: Option<String>,
    /// With --execute: report success once the cluster shows the changes, without waiting for
    /// the rollouts.
    #[arg(long)]
    pub(super) no_wait: bool,
    /// Rollback only: restore the before state even over changes made after the apply (without
    /// it, such a rollback is refused naming each changed field).
    #[arg(long)]
    pub(super) force: bool,
    #[command(flatten)]
    pub(super) policy: PolicyArgs,
}

impl ExecuteArgs {
    /// The rollout wait: the flags', else `[scale]`'s (`configured`); `None` means no wait.
    pub(super) fn rollout_wait(
        &self,
        configured: Option<RolloutWait>,
    ) -> Result<Option<RolloutWait>, Error> {
        match (&self.rollout_timeout, self.no_wait) {
            (Some(timeout), true) => Err(Error::invalid_input(format!(
                "--no-wait skips the wait that --rollout-timeout {timeout} bounds: give one of them"
            ))),
            (None, true) => Ok(None),
            (None, false) => Ok(configured),
            (Some(text), false) => {
                let timeout = orchestrator_core::config::parse_duration(text)
                    .map_err(|e| Error::invalid_input(format!("--rollout-timeout {text}: {e}")))?;
                if timeout.is_zero() {
                    return Err(Error::invalid_input(format!(
                        "--rollout-timeout {text}: must be above zero (--no-wait skips the wait)"
                    )));
                }
                Ok(Some(RolloutWait {
                    timeout,
                    ..RolloutWait::default()
                }))
            }
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct CiWorkflowsArgs {
    /// Write the files into this directory (e.g. .github/workflows) instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub(super) dir: Option<PathBuf>,
    /// The orchestrator release the workflow installs.
    #[arg(long, value_name = "VERSION", default_value = env!("CARGO_PKG_VERSION"))]
    pub(super) orchestrator_version: String,
    /// The SHA-256 of that release's archive: the install step refuses any other bytes.
    #[arg(long, value_name = "HEX")]
    pub(super) orchestrator_sha256: String,
    /// Where the archive is downloaded from; `{version}` is replaced by the version. The default
    /// is the static Linux build the release workflow attaches (`.github/workflows/release.yml`).
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://github.com/orchestrator-rs/orchestrator/releases/download/v{version}/orchestrator-{version}-x86_64-unknown-linux-musl.tar.gz"
    )]
    pub(super) asset_url: String,
}
