//! `orchestrator scale plan|propose|apply|rollback|ci-workflows`: Kubernetes scaling plans.
//!
//! Output lines scripts parse are the seed's: `artifacts_dir=`, `plan_yaml=`, `summary_md=`,
//! `succeeded` (plan); `outputs_uri=<PR URL>`, `awaiting_approval` (propose); `preview: kubectl ...`
//! then a JSON summary (apply, rollback); `skipped` when the gating label is absent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use orchestrator_core::Error;
use orchestrator_core::cluster::{Cluster, InMemoryCluster};
use orchestrator_core::forge::RepoId;
use orchestrator_core::scale::approval::GateAction;
use orchestrator_core::scale::execute::{ExecuteReport, RolloutWait, ScaleExecutor};
use orchestrator_core::scale::propose::ProposeRequest;
use orchestrator_core::scale::{ScaleFlags, ScalePlan};
use orchestrator_core::state::MemoryStateStore;
use orchestrator_core::workspace::workflows::{
    ClusterConnector, ProposeWorkflow, ScaleExecuteWorkflow,
};

use crate::args::{Global, OutputFormat};
use crate::commands::pr_command::PolicyArgs;
use crate::wiring;

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
    target: String,
    /// The namespace of every workload.
    #[arg(long, value_name = "NS")]
    namespace: String,
    /// A workload and the replicas wanted (repeatable).
    #[arg(long, value_name = "Kind:name:replicas")]
    workload: Vec<String>,
    /// An HPA for every workload.
    #[arg(long, value_name = "min:N,max:N,cpu:PERCENT")]
    hpa: Option<String>,
    /// Requests of every container of a workload (repeatable).
    #[arg(long = "req", value_name = "name:cpu=Q,mem=Q")]
    requests: Vec<String>,
    /// Limits of every container of a workload (repeatable).
    #[arg(long = "lim", value_name = "name:cpu=Q,mem=Q")]
    limits: Vec<String>,
    /// The kube context, recorded in the plan (and used with --cluster kube).
    #[arg(long, value_name = "NAME")]
    kube_context: Option<String>,
    /// Read the live state here to record the before state: `file:STATE.yaml` (an in-memory
    /// cluster, for rehearsals) or `kube` (kubeconfig). Without it, `from: ${detect}` and the plan
    /// can be previewed but not executed.
    #[arg(long, value_name = "SPEC")]
    cluster: Option<String>,
    /// The container --req/--lim change in each workload (default: its first container; a
    /// sidecar changes only when named).
    #[arg(short = 'c', long = "container", value_name = "NAME")]
    container: Option<String>,
    /// Where to write the artifacts (default: artifacts/infra-scale-TARGET-TIMESTAMP).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Overwrite a plan already in --out.
    #[arg(long)]
    force: bool,
    /// Accepted for the seed's scripts: planning never changes anything.
    #[arg(long, hide = true)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ProposeArgs {
    /// The plan directory (with plan.yaml) or the plan.yaml itself.
    #[arg(long, value_name = "DIR")]
    plan: PathBuf,
    /// The repository on the forge (default: $GITHUB_REPOSITORY).
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    repo: String,
    /// The local clone to commit in.
    #[arg(long, default_value = ".", value_name = "PATH")]
    clone: PathBuf,
    /// The remote to push to.
    #[arg(long, default_value = "origin")]
    remote: String,
    /// The PR's base branch; the proposal branch starts from REMOTE/BASE, fetched first
    /// (default: the clone's current branch).
    #[arg(long, value_name = "BRANCH")]
    base: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecuteArgs {
    /// The plan.yaml (or its directory).
    #[arg(long, visible_alias = "plan-path", value_name = "FILE")]
    plan: PathBuf,
    /// Change the cluster (default: a server-side dry run).
    #[arg(long, requires = "pr")]
    execute: bool,
    /// The plan's pull request, whose approval gates --execute (the plan it adds must be
    /// --plan's).
    #[arg(long, value_name = "N")]
    pr: Option<u64>,
    /// The repository of --pr (default: $GITHUB_REPOSITORY).
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// The cluster: `kube` (kubeconfig; default) or `file:STATE.yaml`.
    #[arg(long, default_value = "kube", value_name = "SPEC")]
    cluster: String,
    /// The kube context with --cluster kube (default: the plan's kubeContext, else current).
    #[arg(long, value_name = "NAME")]
    kube_context: Option<String>,
    /// With --execute: how long to wait for each changed workload to roll out (all replicas
    /// updated and available) before failing, e.g. 90s, 5m, 1h [default: 5m].
    #[arg(long, value_name = "DURATION")]
    rollout_timeout: Option<String>,
    /// With --execute: report success once the cluster shows the changes, without waiting for
    /// the rollouts.
    #[arg(long)]
    no_wait: bool,
    /// Rollback only: restore the before state even over changes made after the apply (without
    /// it, such a rollback is refused naming each changed field).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    policy: PolicyArgs,
}

impl ExecuteArgs {
    /// The rollout wait: the flags', else `[scale]`'s (`configured`); `None` means no wait.
    fn rollout_wait(&self, configured: Option<RolloutWait>) -> Result<Option<RolloutWait>, Error> {
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
    dir: Option<PathBuf>,
    /// The orchestrator release the workflow installs.
    #[arg(long, value_name = "VERSION", default_value = env!("CARGO_PKG_VERSION"))]
    orchestrator_version: String,
    /// The SHA-256 of that release's archive: the install step refuses any other bytes.
    #[arg(long, value_name = "HEX")]
    orchestrator_sha256: String,
    /// Where the archive is downloaded from; `{version}` is replaced by the version. The default
    /// is the static Linux build the release workflow attaches (`.github/workflows/release.yml`).
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://github.com/orchestrator-rs/orchestrator/releases/download/v{version}/orchestrator-{version}-x86_64-unknown-linux-musl.tar.gz"
    )]
    asset_url: String,
}

pub(crate) async fn run(global: &Global, args: ScaleArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ScaleCommand::Plan(args) => plan(global, args).await,
        ScaleCommand::Propose(args) => propose(global, args).await,
        ScaleCommand::Apply(args) => execute(global, args, GateAction::Apply).await,
        ScaleCommand::Rollback(args) => execute(global, args, GateAction::Rollback).await,
        ScaleCommand::CiWorkflows(args) => ci_workflows(global, &args),
    }
}

/// `file:PATH` or `kube`.
pub(crate) async fn cluster(
    spec: &str,
    kube_context: Option<&str>,
) -> Result<Arc<dyn Cluster>, Error> {
    if let Some(path) = spec.strip_prefix("file:") {
        // A typo must not read as an empty cluster (every workload "missing", or a plan that
        // records nothing).
        if !Path::new(path).is_file() {
            return Err(Error::invalid_input(format!(
                "--cluster {spec}: {path} does not exist (expected a cluster state file)"
            )));
        }
        return Ok(Arc::new(InMemoryCluster::open(Path::new(path))?));
    }
    if spec == "kube" {
        return Ok(Arc::new(
            orchestrator_k8s::KubeCluster::from_kubeconfig(kube_context).await?,
        ));
    }
    Err(Error::invalid_input(format!(
        "--cluster {spec}: expected `kube` or `file:STATE.yaml`"
    )))
}

/// `--cluster SPEC`, connected when a workflow is about to change it.
#[derive(Debug)]
pub(crate) struct ClusterSpec {
    pub(crate) spec: String,
    pub(crate) kube_context: Option<String>,
}

#[async_trait::async_trait]
impl ClusterConnector for ClusterSpec {
    async fn connect(&self) -> Result<Arc<dyn Cluster>, Error> {
        cluster(&self.spec, self.kube_context.as_deref()).await
    }
}

fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let full = orchestrator_core::tasks::format_utc_ms(ms);
    // Seconds precision, as in the seed's plans: 2025-10-11T00:00:00Z.
    format!("{}Z", &full[..19])
}

async fn plan(global: &Global, args: PlanArgs) -> anyhow::Result<ExitCode> {
    let flags = ScaleFlags {
        target: args.target,
        namespace: args.namespace,
        kube_context: args.kube_context.clone(),
        workloads: args.workload,
        hpa: args.hpa,
        requests: args.requests,
        limits: args.limits,
        container: args.container,
    };
    let request = flags.parse()?;
    if let Some(out) = &args.out {
        for existing in [out.join("plan.yaml"), out.join("SUMMARY.md")] {
            if existing.exists() && !args.force {
                return Err(Error::invalid_input(format!(
                    "--out {}: {} exists; pass --force to overwrite it (a reviewed plan is not \
                     replaced silently)",
                    out.display(),
                    existing.display()
                ))
                .into());
            }
        }
    }
    let live = match &args.cluster {
        Some(spec) => Some(cluster(spec, args.kube_context.as_deref()).await?),
        None => None,
    };
    let created_at = now_rfc3339();
    let plan = ScalePlan::build(&request, live.as_deref(), &created_at).await?;
    let dir = args.out.unwrap_or_else(|| {
        let stamp: String = created_at.chars().filter(char::is_ascii_digit).collect();
        PathBuf::from("artifacts").join(format!("infra-scale-{}-{stamp}", request.target))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let plan_yaml = dir.join("plan.yaml");
    let summary_md = dir.join("SUMMARY.md");
    std::fs::write(&plan_yaml, plan.to_yaml())
        .with_context(|| format!("writing {}", plan_yaml.display()))?;
    std::fs::write(&summary_md, plan.summary_md())
        .with_context(|| format!("writing {}", summary_md.display()))?;
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "artifacts_dir": dir, "plan_yaml": plan_yaml, "summary_md": summary_md,
                "plan_hash": plan.hash(), "risks": plan.risks, "notes": plan.notes,
                "status": "succeeded",
            }))?
        ),
        OutputFormat::Human => {
            for risk in &plan.risks {
                eprintln!("risk: {risk}");
            }
            for note in &plan.notes {
                eprintln!("note: {note}");
            }
            println!("artifacts_dir={}", dir.display());
            println!("plan_yaml={}", plan_yaml.display());
            println!("summary_md={}", summary_md.display());
            println!("plan_hash={}", plan.hash());
            println!("succeeded");
        }
    }
    crate::gha::write(
        &[
            ("status", "succeeded".to_owned()),
            ("plan_hash", plan.hash().to_owned()),
            ("plan_yaml", plan_yaml.display().to_string()),
        ],
        Some(&plan.summary_md()),
    );
    Ok(ExitCode::SUCCESS)
}

fn plan_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("plan.yaml")
    } else {
        path.to_owned()
    }
}

async fn propose(global: &Global, args: ProposeArgs) -> anyhow::Result<ExitCode> {
    let plan = ScalePlan::load(&plan_file(&args.plan))?;
    let workspace = wiring::optional_workspace(global)?;
    let request = ProposeRequest {
        repo: args.repo.parse::<RepoId>()?,
        clone: args.clone,
        remote: args.remote,
        base: args.base,
        policy: workspace.config().scale.policy.clone(),
    };
    // Journaled under the workspace lock like apply: a failed propose resumes.
    let proposal = workspace
        .run(&ProposeWorkflow {
            plan: plan.clone(),
            request,
        })
        .await?
        .report;
    let url = proposal.pull_request.html_url.clone();
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "outputs_uri": url, "status": "awaiting_approval", "proposal": proposal,
            }))?
        ),
        OutputFormat::Human => println!("outputs_uri={url}\nawaiting_approval"),
    }
    crate::gha::write(
        &[
            ("status", "awaiting_approval".to_owned()),
            ("plan_hash", plan.hash().to_owned()),
            ("outputs_uri", url),
        ],
        None,
    );
    Ok(ExitCode::SUCCESS)
}

async fn execute(
    global: &Global,
    args: ExecuteArgs,
    action: GateAction,
) -> anyhow::Result<ExitCode> {
    let workspace = wiring::optional_workspace(global)?;
    // Bad flags exit 2 before anything is read.
    args.rollout_wait(workspace.config().scale.rollout_wait)?;
    let plan = ScalePlan::load(&plan_file(&args.plan))?;
    let kube_context = args
        .kube_context
        .clone()
        .or_else(|| plan.context.kube_context.clone());
    let report = if args.execute {
        let number = args.pr.expect("clap: --execute requires --pr");
        let repo: RepoId = args
            .repo
            .as_deref()
            .ok_or_else(|| {
                Error::invalid_input(
                    "--execute --pr needs --repo OWNER/NAME (or $GITHUB_REPOSITORY)",
                )
            })?
            .parse()?;
        let (config, policy) = args.policy.resolve(&workspace, &repo, number).await?;
        let workflow = ScaleExecuteWorkflow {
            plan,
            plan_file: plan_file(&args.plan),
            repo,
            number,
            action,
            policy,
            cluster: Arc::new(ClusterSpec {
                spec: args.cluster.clone(),
                kube_context,
            }),
            rollout: args.rollout_wait(config.rollout_wait)?,
            force: args.force,
        };
        // Waiting for rollouts takes minutes: let Ctrl-C stop it with a journal.
        workspace.cancel_on_stop_signals();
        workspace.run(&workflow).await?.report.report
    } else {
        if args.force && action == GateAction::Apply {
            return Err(Error::invalid_input(
                "--force belongs to `scale rollback` (overwrite changes made after the apply); \
                 apply refuses drift whatever the flags",
            )
            .into());
        }
        // A preview: a server-side dry run that journals and locks nothing.
        let cluster = cluster(&args.cluster, kube_context.as_deref()).await?;
        let executor = ScaleExecutor::new(cluster, Arc::new(MemoryStateStore::default()));
        match action {
            GateAction::Apply => executor.preview(&plan).await?,
            GateAction::Rollback => executor.preview_rollback(&plan).await?,
        }
    };
    print_report(global, &report)?;
    actions_outputs(action, &report);
    if report.ok {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: {}",
        report.error.as_deref().unwrap_or("the run did not succeed")
    );
    Ok(ExitCode::from(1))
}

/// The status, plan hash and run id for a GitHub Actions job; the actions as the summary.
fn actions_outputs(action: GateAction, report: &ExecuteReport) {
    let status = match (report.ok, report.executed) {
        (true, true) => "succeeded",
        (true, false) => "previewed",
        (false, _) => "failed",
    };
    let rows: Vec<Vec<String>> = report.previews.iter().map(|p| vec![p.clone()]).collect();
    let summary = format!(
        "## scale {}: {status}\n\nplan `{}`\n\n{}",
        match action {
            GateAction::Apply => "apply",
            GateAction::Rollback => "rollback",
        },
        report.plan_hash,
        crate::gha::table(&["action"], &rows)
    );
    crate::gha::write(
        &[
            ("status", status.to_owned()),
            ("plan_hash", report.plan_hash.clone()),
            (
                "run_id",
                report.run_id.map(|id| id.to_string()).unwrap_or_default(),
            ),
        ],
        Some(&summary),
    );
}

fn print_report(global: &Global, report: &ExecuteReport) -> anyhow::Result<()> {
    if global.output == OutputFormat::Human {
        let verb = if report.executed {
            "applied"
        } else {
            "preview"
        };
        for line in &report.previews {
            println!("{verb}: {line}");
        }
    }
    println!("{}", serde_json::to_string_pretty(report)?);
    Ok(())
}

/// Writes or prints the generated workflows. With `--output json`, one document lists each file:
/// its name, the path written (with `--dir`) and its text.
fn ci_workflows(global: &Global, args: &CiWorkflowsArgs) -> anyhow::Result<ExitCode> {
    let files = workflow_files(args)?;
    let mut written = Vec::with_capacity(files.len());
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, text) in &files {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(Some(path));
        }
    } else {
        written.resize(files.len(), None);
    }
    match global.output {
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = files
                .iter()
                .zip(&written)
                .map(|((name, text), path)| {
                    serde_json::json!({
                        "name": name,
                        "path": path.as_ref().map(|p| p.display().to_string()),
                        "text": text,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "workflows": items }))?
            );
        }
        OutputFormat::Human => {
            for ((name, text), path) in files.iter().zip(&written) {
                match path {
                    Some(path) => println!("{}", path.display()),
                    None => println!("# .github/workflows/{name}\n{text}"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The workflow templates, kept as YAML files so they read (and lint) as what they are. Each
/// `@NAME@` is filled in by [`workflow_files`].
const PLAN_COMMANDS_YML: &str = include_str!("../../templates/workflows/plan-commands.yml");

/// The generated workflows, by file name: the templates with the pinned version, checksum and
/// download URL filled in. Refuses a checksum that is not 64 hex digits, and a URL or version
/// that would break out of the YAML string they are written into.
fn workflow_files(args: &CiWorkflowsArgs) -> Result<Vec<(&'static str, String)>, Error> {
    let sha = args.orchestrator_sha256.to_ascii_lowercase();
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid_input(format!(
            "--orchestrator-sha256 {}: expected the 64 hex digits of the release archive's \
             SHA-256 (sha256sum orchestrator-*.tar.gz)",
            args.orchestrator_sha256
        )));
    }
    let plain = |flag: &str, value: &str| {
        if value.is_empty()
            || value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "\"'\\$`".contains(c))
        {
            Err(Error::invalid_input(format!(
                "{flag} {value:?}: must be non-empty, without spaces, quotes, `$` or backslashes"
            )))
        } else {
            Ok(())
        }
    };
    plain("--orchestrator-version", &args.orchestrator_version)?;
    plain("--asset-url", &args.asset_url)?;
    if !args.asset_url.starts_with("https://") {
        return Err(Error::invalid_input(format!(
            "--asset-url {}: must be an https:// URL",
            args.asset_url
        )));
    }
    let fill = |template: &str| {
        template
            .replace("@ORCHESTRATOR_VERSION@", &args.orchestrator_version)
            .replace("@ORCHESTRATOR_SHA256@", &sha)
            .replace("@ORCHESTRATOR_ASSET_URL@", &args.asset_url)
    };
    Ok(vec![("plan-commands.yml", fill(PLAN_COMMANDS_YML))])
}
