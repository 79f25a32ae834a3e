//! The cluster a comment command changes, connected only when it is about to.

use std::sync::Arc;

use orchestrator_core::cluster::Cluster;
use orchestrator_core::scale::approval;
use orchestrator_core::scale::review::CommentEvent;
use orchestrator_core::workspace::Workspace;
use orchestrator_core::workspace::workflows::ClusterConnector;

/// `--cluster`, connected when a command is about to change it; with `kube` and no
/// `--kube-context`, the context the pull request's plan names (the gate reads and verifies the
/// plan again before anything changes). One serves every command `serve` receives.
#[derive(Debug)]
pub(crate) struct PlanCluster {
    pub(crate) spec: String,
    pub(crate) kube_context: Option<String>,
}

#[async_trait::async_trait]
impl ClusterConnector for PlanCluster {
    async fn connect(&self) -> Result<Arc<dyn Cluster>, orchestrator_core::Error> {
        crate::commands::scale::cluster(&self.spec, self.kube_context.as_deref()).await
    }

    async fn connect_for_comment(
        &self,
        workspace: &Workspace,
        event: &CommentEvent,
    ) -> Result<Arc<dyn Cluster>, orchestrator_core::Error> {
        let context = match &self.kube_context {
            Some(context) => Some(context.clone()),
            None if self.spec == "kube" => plan_context(workspace, event).await,
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
