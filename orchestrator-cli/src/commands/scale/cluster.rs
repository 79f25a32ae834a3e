//! `--cluster SPEC`: an in-memory cluster from a state file (rehearsals) or the kubeconfig's.

use std::path::Path;
use std::sync::Arc;

use orchestrator_core::Error;
use orchestrator_core::cluster::{Cluster, InMemoryCluster};
use orchestrator_core::workspace::workflows::ClusterConnector;

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
