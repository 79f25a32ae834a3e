//! Every capability as a [`Workflow`]: release, pipeline runs, task lists, and the scale flow
//! (propose, apply and rollback behind the approval gate, and the pull-request comment commands).
//! Publish and cascade are [`crate::publish::PublishWorkflow`] and
//! [`crate::publish::CascadeWorkflow`], beside the rest of their feature.
//!
//! Each is a thin adapter from the feature's planner and runner to the driver: the guarantees
//! (lock, journal, credential check, cancellation) come from [`super::Workspace::run`], so none
//! of them can be skipped by an embedder that runs these. The scale flow's workflows are in
//! `scale.rs`.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{Outcome, RunContext, Workflow, Workspace};
use crate::error::Result;
use crate::forge::RepoId;
use crate::pipeline::{
    OrchestratorProgram, PipelinePlan, PipelineReport, PipelineRequest, PipelineRunner,
    plan_pipeline, process_env,
};
use crate::release::{ReleasePlan, ReleaseReport, ReleaseRequest, Releaser, plan_release};
use crate::state::StateStore;
use crate::tasks::{TaskRunner, TasksPlan, TasksReport, TasksRequest, plan_tasks};

mod scale;

pub use scale::{
    COMMAND_RUN_KIND, ClusterConnector, CommandParams, CommentCommandWorkflow, ConnectedCluster,
    PolicySource, ProposeWorkflow, ScaleExecuteWorkflow, ScaleExecution, trusted_scale_config,
};

/// `orchestrator release`: tag, push and wait for assets, in dependency order.
#[derive(Debug, Clone)]
pub struct ReleaseWorkflow {
    /// What to release.
    pub request: ReleaseRequest,
}

#[async_trait]
impl Workflow for ReleaseWorkflow {
    type Plan = ReleasePlan;
    type Report = ReleaseReport;

    fn holder(&self) -> String {
        format!("release {}", self.request.version)
    }

    fn validate(&self, workspace: &Workspace) -> Result<()> {
        crate::release::validate_request(workspace.config(), &self.request).map(|_| ())
    }

    async fn plan(&self, workspace: &Workspace, store: &dyn StateStore) -> Result<ReleasePlan> {
        plan_release(
            workspace.config(),
            workspace.vcs()?.clone(),
            store,
            &self.request,
        )
        .await
    }

    fn probe(&self, plan: &ReleasePlan) -> Option<(RepoId, String)> {
        plan.repos
            .first()
            .map(|repo| (repo.github.clone(), plan.tag.clone()))
    }

    async fn execute(&self, context: &RunContext<'_>, plan: ReleasePlan) -> Result<ReleaseReport> {
        let ws = context.workspace;
        ws.announce(&format!(
            "releasing {} to {} repo(s) in {} wave(s)",
            plan.tag,
            plan.repos.len(),
            plan.waves.len()
        ));
        Releaser::new(
            ws.config().clone(),
            ws.forge().await?,
            ws.vcs()?.clone(),
            context.store.clone(),
        )
        .with_observer(ws.observer().clone())
        .with_cancel(ws.cancel_token().clone())
        .execute(&plan)
        .await
    }

    fn outcome(report: &ReleaseReport) -> Outcome {
        Outcome::of_status(report.status)
    }
}

/// `orchestrator run`: a pipeline's apply or delete flow.
#[derive(Debug, Clone)]
pub struct PipelineWorkflow {
    /// The pipeline, flow and selection.
    pub request: PipelineRequest,
    /// The binary that `orchestrator = [...]` steps run (this very program, for the CLI); it
    /// runs with this config and under this run's lock.
    pub program: Option<PathBuf>,
}

impl PipelineWorkflow {
    fn request(&self, workspace: &Workspace) -> PipelineRequest {
        let mut request = self.request.clone();
        if let Some(exe) = &self.program {
            request.orchestrator = Some(OrchestratorProgram {
                exe: exe.clone(),
                config: workspace.config().file.clone(),
                lock: Some(workspace.state_dir().join("lock")),
            });
        }
        request
    }
}

#[async_trait]
impl Workflow for PipelineWorkflow {
    type Plan = PipelinePlan;
    type Report = PipelineReport;

    fn holder(&self) -> String {
        format!("run {}", self.request.pipeline)
    }

    async fn plan(&self, workspace: &Workspace, store: &dyn StateStore) -> Result<PipelinePlan> {
        plan_pipeline(
            workspace.config(),
            &self.request(workspace),
            process_env(),
            store,
        )
        .await
    }

    async fn execute(
        &self,
        context: &RunContext<'_>,
        plan: PipelinePlan,
    ) -> Result<PipelineReport> {
        let ws = context.workspace;
        ws.announce(&format!(
            "{} {}: {} step(s){}",
            plan.pipeline,
            crate::pipeline::mode_name(plan.mode),
            plan.selected().count(),
            plan.resume_run
                .map(|r| format!(", resuming run {r}"))
                .unwrap_or_default()
        ));
        PipelineRunner::new(context.store.clone())
            .with_observer(ws.observer().clone())
            .with_cancel(ws.cancel_token().clone())
            .execute(&plan)
            .await
    }

    fn outcome(report: &PipelineReport) -> Outcome {
        Outcome::of_status(report.status)
    }
}

/// `orchestrator tasks run`: a scheduled task list.
#[derive(Debug, Clone)]
pub struct TasksWorkflow {
    /// The list and what to skip.
    pub request: TasksRequest,
}

#[async_trait]
impl Workflow for TasksWorkflow {
    type Plan = TasksPlan;
    type Report = TasksReport;

    fn holder(&self) -> String {
        format!("tasks run {}", self.request.list)
    }

    async fn plan(&self, workspace: &Workspace, store: &dyn StateStore) -> Result<TasksPlan> {
        plan_tasks(workspace.config(), &self.request, process_env(), store).await
    }

    async fn execute(&self, context: &RunContext<'_>, plan: TasksPlan) -> Result<TasksReport> {
        let ws = context.workspace;
        if self.request.resume {
            // Said whatever the output format: a scheduler's log must show what was continued.
            ws.notice(&crate::tasks::resume_line(context.store.as_ref(), &plan).await?);
        }
        TaskRunner::new(context.store.clone())
            .with_observer(ws.observer().clone())
            .with_cancel(ws.cancel_token().clone())
            .execute(&plan)
            .await
    }

    fn outcome(report: &TasksReport) -> Outcome {
        Outcome::of_status(report.status)
    }
}
