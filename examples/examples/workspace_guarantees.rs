//! Embeds a release and a scale apply through `Workspace`, and shows that every guarantee the CLI
//! has holds for library code too:
//!
//! 1. a release runs under the workspace lock, journaled in the state directory;
//! 2. a second workspace on the same state directory is refused while the first holds the lock;
//! 3. Ctrl-C (the workspace's cancel token) stops a release and journals it as interrupted, and
//!    a resume finishes it without repeating a step;
//! 4. a scale apply cannot skip the approval gate: without an approving review the plan is never
//!    approved (there is no other way to build an `ApprovedPlan`) and the cluster is untouched;
//!    with one, the change is applied and journaled.
//!
//! No network, no token: real git repos with bare origins, the in-memory forge (simulated CI,
//! pull requests and reviews) and the in-memory cluster. It takes a few seconds.
//!
//! ```text
//! cargo run -p orchestrator-examples --example workspace_guarantees
//! ```

use std::sync::Arc;

use orchestrator_core::Error;
use orchestrator_core::cluster::{Cluster, InMemoryCluster, WorkloadKind, WorkloadRef};
use orchestrator_core::config::Config;
use orchestrator_core::engine::{CancelToken, Event, Observer};
use orchestrator_core::forge::{
    Forge, InMemoryForge, NewPullRequest, Permission, PullRequestForge, RepoId, ReviewState,
};
use orchestrator_core::release::ReleaseRequest;
use orchestrator_core::scale::approval::{ApprovalPolicy, GateAction};
use orchestrator_core::scale::{ScaleFlags, ScalePlan};
use orchestrator_core::state::RunStatus;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_core::workspace::workflows::{
    ConnectedCluster, ReleaseWorkflow, ScaleExecuteWorkflow,
};
use orchestrator_core::workspace::{Outcome, Workspace};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::Sandbox;

/// Two repos, `server` after `proto`, released against the simulated forge.
const CONFIG: &str = r#"
[forge]
owner = "acme"

[forge.simulate]
ci_delay = "100ms"
asset_interval = "20ms"

[release]
poll_interval = "50ms"
timeout = "30s"

[[repo]]
name = "proto"
assets = ["proto-v{version}.tar.gz"]

[[repo]]
name = "server"
depends_on = ["proto"]
assets = ["server-v{version}.tar.gz"]
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let config = Config::parse(CONFIG, &root.join("orchestrator.toml"))?;
    let sandbox = Sandbox::new(root)?;
    for repo in &config.repos {
        sandbox.create_repo(&repo.name, &[("README.md", "# demo\n")])?;
    }
    let workspace = |config: &Config| {
        Workspace::builder(config.clone())
            .vcs(Arc::new(GixVcs::new()))
            .build()
    };

    // 1. A release through the workspace: locked, credentials checked, journaled.
    let ws = workspace(&config);
    let finished = ws.run(&release("1.0.0")?).await?;
    anyhow::ensure!(
        finished.outcome == Outcome::Succeeded,
        "release 1.0.0 failed"
    );
    println!(
        "1. release 1.0.0: {} (run {}, journaled in {})",
        finished.outcome.as_str(),
        finished.report.run_id,
        ws.state_dir().display()
    );

    // 2. While one session holds the lock, a second workspace is refused, changing nothing.
    let held = ws.session("a long release").await?;
    match workspace(&config).run(&release("1.0.1")?).await {
        Err(Error::Locked { holder, .. }) => {
            println!("2. a second workspace is refused: the lock is held by {holder:?}");
        }
        other => anyhow::bail!("a second concurrent run was not refused: {other:?}"),
    }
    drop(held);

    // 3. Ctrl-C: the workspace's token is cancelled once the first tag is made.
    let cancel = CancelToken::new();
    let interrupted = Workspace::builder(config.clone())
        .vcs(Arc::new(GixVcs::new()))
        .cancel_token(cancel.clone())
        .observer(Arc::new(CancelAfterFirstStep(cancel)))
        .build();
    let stopped = interrupted.run(&release("1.1.0")?).await?;
    anyhow::ensure!(stopped.outcome == Outcome::Interrupted, "not interrupted");
    let store = interrupted.read_only_store().await?;
    let run = store
        .run(stopped.report.run_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the stopped run is not journaled"))?;
    anyhow::ensure!(
        run.status == RunStatus::Cancelled,
        "journaled as {:?}",
        run.status
    );
    let mut resume = ReleaseRequest::new(ReleaseVersion::parse("1.1.0")?);
    resume.resume = true;
    let resumed = workspace(&config)
        .run(&ReleaseWorkflow { request: resume })
        .await?;
    anyhow::ensure!(
        resumed.outcome == Outcome::Succeeded && resumed.report.run_id == run.id,
        "the resume did not finish run {}",
        run.id
    );
    println!(
        "3. Ctrl-C journaled run {} as {}; --resume finished the same run",
        run.id,
        run.status.as_str()
    );

    // 4. A scale apply goes through the approval gate, whatever the embedder wants.
    scale_apply(root).await?;
    Ok(())
}

fn release(version: &str) -> anyhow::Result<ReleaseWorkflow> {
    Ok(ReleaseWorkflow {
        request: ReleaseRequest::new(ReleaseVersion::parse(version)?),
    })
}

/// Cancels its token when the first step finishes (what a Ctrl-C mid-run does).
#[derive(Debug)]
struct CancelAfterFirstStep(CancelToken);

impl Observer for CancelAfterFirstStep {
    fn event(&self, event: &Event<'_>) {
        if let Event::StepFinished { .. } = event {
            self.0.cancel();
        }
    }
}

/// The plan pull request, unapproved then approved, applied through the workspace.
async fn scale_apply(root: &std::path::Path) -> anyhow::Result<()> {
    let cluster = Arc::new(InMemoryCluster::new());
    let web = WorkloadRef::new(WorkloadKind::Deployment, "shop", "web");
    cluster.put_workload(orchestrator_core::cluster::WorkloadState {
        workload: web.clone(),
        replicas: 2,
        containers: Vec::new(),
        revision: Some(1),
    });
    let flags = ScaleFlags {
        target: "prod".into(),
        namespace: "shop".into(),
        kube_context: None,
        workloads: vec!["Deployment:web:4".into()],
        hpa: None,
        requests: Vec::new(),
        limits: Vec::new(),
        container: None,
    };
    let plan = ScalePlan::build(
        &flags.parse()?,
        Some(cluster.as_ref()),
        "2026-01-01T00:00:00Z",
    )
    .await?;

    // The forge: a bot opened the plan's pull request; `maint` may approve it, `deployer` asks.
    let forge = Arc::new(InMemoryForge::new());
    let repo = RepoId::new("acme", "ops");
    let path = "ops/plans/infra-scale/prod/plan.yaml";
    forge.set_branch_head(&repo, "main", "base000");
    forge.set_branch_head(&repo, "infra-scale/prod", "head111");
    forge.set_user("github-actions[bot]");
    let pr = forge
        .create_pull_request(
            &repo,
            &NewPullRequest {
                title: "Infra scale plan: prod".into(),
                // What `scale propose` writes: the plan's summary and its lock marker.
                body: format!(
                    "{}\n{}\n",
                    orchestrator_core::scale::propose::pr_body(&plan),
                    orchestrator_core::scale::lock::lock_marker(&plan)
                ),
                head: "infra-scale/prod".into(),
                base: "main".into(),
                draft: true,
            },
        )
        .await?;
    forge.set_pull_files(&repo, pr.number, &[path])?;
    forge.set_file(&repo, "head111", path, plan.to_yaml().as_bytes());
    forge.set_permission(&repo, "deployer", Permission::Write);
    forge.set_permission(&repo, "maint", Permission::Maintain);
    // The embedder's own token: a person (or app) who may ask, not the bot that proposed.
    forge.set_user("deployer");

    let config = Config::parse("", &root.join("ops").join("orchestrator.toml"))?;
    let ws = Workspace::builder(config)
        .forge(forge.clone() as Arc<dyn Forge>)
        .build();
    let apply = ScaleExecuteWorkflow {
        plan: plan.clone(),
        plan_file: path.into(),
        repo: repo.clone(),
        number: pr.number,
        action: GateAction::Apply,
        policy: ApprovalPolicy::default(),
        cluster: Arc::new(ConnectedCluster(cluster.clone())),
        rollout: None,
        force: false,
    };
    match ws.run(&apply).await {
        Err(e @ Error::PermissionDenied { .. }) => println!("4. unapproved: refused: {e}"),
        other => anyhow::bail!("an unapproved plan was not refused: {other:?}"),
    }
    anyhow::ensure!(
        replicas(cluster.as_ref(), &web).await? == Some(2),
        "the refused apply changed the cluster"
    );

    forge.review_as(&repo, pr.number, "maint", ReviewState::Approved, "LGTM")?;
    let applied = ws.run(&apply).await?;
    anyhow::ensure!(
        applied.outcome == Outcome::Succeeded,
        "the approved apply failed"
    );
    anyhow::ensure!(
        replicas(cluster.as_ref(), &web).await? == Some(4),
        "not applied"
    );
    println!(
        "   approved by {:?}: applied plan {} (run {:?}); web now has 4 replicas",
        applied.report.approved.approvers(),
        plan.hash(),
        applied.report.report.run_id
    );
    Ok(())
}

async fn replicas(cluster: &dyn Cluster, workload: &WorkloadRef) -> anyhow::Result<Option<i32>> {
    Ok(cluster.workload(workload).await?.map(|w| w.replicas))
}
