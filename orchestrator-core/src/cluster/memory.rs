//! [`InMemoryCluster`]: a complete cluster over maps behind a lock, optionally persisted to a YAML
//! state file (`--cluster file:STATE.yaml`) so rehearsals survive between commands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, ContainerResources, Hpa, WorkloadKind, WorkloadRef, WorkloadState, WriteOptions,
};
use crate::error::{Error, Result};

/// The whole state of an [`InMemoryCluster`], as its YAML state file holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterState {
    /// Deployments and StatefulSets.
    #[serde(default)]
    pub workloads: Vec<StoredWorkload>,
    /// HorizontalPodAutoscalers.
    #[serde(default)]
    pub hpas: Vec<Hpa>,
}

/// One workload in a [`ClusterState`], with its revision history (a Deployment's ReplicaSets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredWorkload {
    /// `Deployment` or `StatefulSet`.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i32,
    /// The current pod template's containers.
    pub containers: Vec<ContainerResources>,
    /// The current revision (Deployments; default 1).
    #[serde(default)]
    pub revision: Option<i64>,
    /// Earlier templates by revision (ReplicaSets kept for rollback).
    #[serde(default)]
    pub history: BTreeMap<i64, Vec<ContainerResources>>,
}

impl StoredWorkload {
    fn workload_ref(&self) -> WorkloadRef {
        WorkloadRef::new(self.kind, &self.namespace, &self.name)
    }

    fn state(&self) -> WorkloadState {
        WorkloadState {
            workload: self.workload_ref(),
            replicas: self.replicas,
            containers: self.containers.clone(),
            revision: match self.kind {
                WorkloadKind::Deployment => Some(self.revision.unwrap_or(1)),
                WorkloadKind::StatefulSet => None,
            },
        }
    }

    /// Replaces the pod template the way the Deployment controller does: an unchanged template
    /// keeps its revision; a template equal to an older ReplicaSet's takes that ReplicaSet over
    /// with the next revision number; a new one gets the next number.
    fn set_template(&mut self, containers: Vec<ContainerResources>) {
        if containers == self.containers {
            return;
        }
        if self.kind == WorkloadKind::Deployment {
            let current = self.revision.unwrap_or(1);
            let next = self.history.keys().copied().max().unwrap_or(0).max(current) + 1;
            self.history.insert(current, self.containers.clone());
            self.history.retain(|_, template| *template != containers);
            self.revision = Some(next);
        }
        self.containers = containers;
    }
}

/// A complete in-memory cluster: Deployments (with revision history), StatefulSets and HPAs.
#[derive(Debug, Default)]
pub struct InMemoryCluster {
    state: Mutex<ClusterState>,
    file: Option<PathBuf>,
    writes: Mutex<Vec<String>>,
}

impl InMemoryCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cluster holding `state`.
    pub fn with_state(state: ClusterState) -> Self {
        Self {
            state: Mutex::new(state),
            ..Self::default()
        }
    }

    /// Loads a YAML state file and writes every change back to it (`--cluster file:PATH`). A
    /// missing file is an empty cluster.
    pub fn open(path: &Path) -> Result<Self> {
        let state = if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            serde_saphyr::from_str(&text).map_err(|e| {
                Error::invalid_input(format!("{}: invalid cluster state: {e}", path.display()))
            })?
        } else {
            ClusterState::default()
        };
        Ok(Self {
            state: Mutex::new(state),
            file: Some(path.to_owned()),
            writes: Mutex::default(),
        })
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> ClusterState {
        self.lock().clone()
    }

    /// Adds or replaces a workload (a fixture); Deployments start at revision 1 unless given.
    pub fn put_workload(&self, state: WorkloadState) {
        let mut guard = self.lock();
        guard
            .workloads
            .retain(|w| w.workload_ref() != state.workload);
        guard.workloads.push(StoredWorkload {
            kind: state.workload.kind,
            namespace: state.workload.namespace,
            name: state.workload.name,
            replicas: state.replicas,
            containers: state.containers,
            revision: match state.workload.kind {
                WorkloadKind::Deployment => Some(state.revision.unwrap_or(1)),
                WorkloadKind::StatefulSet => None,
            },
            history: BTreeMap::new(),
        });
    }

    /// Adds or replaces an HPA (a fixture).
    pub fn put_hpa(&self, hpa: Hpa) {
        let mut guard = self.lock();
        guard
            .hpas
            .retain(|h| !(h.namespace == hpa.namespace && h.name == hpa.name));
        guard.hpas.push(hpa);
    }

    /// Every persisted write so far, one line each (`scale Deployment/web 6`), for tests.
    pub fn writes(&self) -> Vec<String> {
        self.writes
            .lock()
            .expect("write log lock is never poisoned")
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClusterState> {
        self.state
            .lock()
            .expect("cluster state lock is never poisoned")
    }

    fn write<T>(
        &self,
        what: String,
        options: WriteOptions,
        change: impl FnOnce(&mut ClusterState) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        let out = change(&mut next)?;
        if options.dry_run {
            return Ok(out);
        }
        *guard = next;
        if let Some(file) = &self.file {
            let text = serde_saphyr::to_string(&*guard)
                .map_err(|e| Error::state(format!("serializing cluster state: {e}")))?;
            std::fs::write(file, text)
                .map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
        }
        self.writes
            .lock()
            .expect("write log lock is never poisoned")
            .push(what);
        Ok(out)
    }
}

fn find<'a>(state: &'a mut ClusterState, workload: &WorkloadRef) -> Result<&'a mut StoredWorkload> {
    state
        .workloads
        .iter_mut()
        .find(|w| w.workload_ref() == *workload)
        .ok_or_else(|| Error::NotFound {
            what: workload.to_string(),
        })
}

#[async_trait]
impl Cluster for InMemoryCluster {
    fn backend(&self) -> &'static str {
        "in-memory"
    }

    async fn workload(&self, workload: &WorkloadRef) -> Result<Option<WorkloadState>> {
        Ok(self
            .lock()
            .workloads
            .iter()
            .find(|w| w.workload_ref() == *workload)
            .map(StoredWorkload::state))
    }

    async fn scale(
        &self,
        workload: &WorkloadRef,
        replicas: i32,
        options: WriteOptions,
    ) -> Result<()> {
        if replicas < 0 {
            return Err(Error::invalid_input(format!(
                "replicas of {workload} must not be negative ({replicas})"
            )));
        }
        self.write(
            format!("scale {}/{} {replicas}", workload.kind, workload.name),
            options,
            |state| {
                find(state, workload)?.replicas = replicas;
                Ok(())
            },
        )
    }

    async fn set_resources(
        &self,
        workload: &WorkloadRef,
        containers: &[ContainerResources],
        options: WriteOptions,
    ) -> Result<()> {
        self.write(
            format!("resources {}/{}", workload.kind, workload.name),
            options,
            |state| {
                let stored = find(state, workload)?;
                let mut template = stored.containers.clone();
                for wanted in containers {
                    let slot = template
                        .iter_mut()
                        .find(|c| c.name == wanted.name)
                        .ok_or_else(|| Error::NotFound {
                            what: format!("container {} of {workload}", wanted.name),
                        })?;
                    *slot = wanted.clone();
                }
                stored.set_template(template);
                Ok(())
            },
        )
    }

    async fn hpa(&self, namespace: &str, name: &str) -> Result<Option<Hpa>> {
        Ok(self
            .lock()
            .hpas
            .iter()
            .find(|h| h.namespace == namespace && h.name == name)
            .cloned())
    }

    async fn apply_hpa(&self, hpa: &Hpa, options: WriteOptions) -> Result<()> {
        if hpa.min_replicas < 1 || hpa.max_replicas < hpa.min_replicas {
            return Err(Error::invalid_input(format!(
                "HPA {}: minReplicas {} must be at least 1 and at most maxReplicas {}",
                hpa.name, hpa.min_replicas, hpa.max_replicas
            )));
        }
        self.write(format!("apply hpa {}", hpa.name), options, |state| {
            state
                .hpas
                .retain(|h| !(h.namespace == hpa.namespace && h.name == hpa.name));
            state.hpas.push(hpa.clone());
            Ok(())
        })
    }

    async fn delete_hpa(&self, namespace: &str, name: &str, options: WriteOptions) -> Result<()> {
        self.write(format!("delete hpa {name}"), options, |state| {
            let before = state.hpas.len();
            state
                .hpas
                .retain(|h| !(h.namespace == namespace && h.name == name));
            if state.hpas.len() == before {
                return Err(Error::NotFound {
                    what: format!("HorizontalPodAutoscaler {name} (ns: {namespace})"),
                });
            }
            Ok(())
        })
    }

    async fn undo_to_revision(
        &self,
        workload: &WorkloadRef,
        revision: i64,
        options: WriteOptions,
    ) -> Result<()> {
        if workload.kind != WorkloadKind::Deployment {
            return Err(Error::invalid_input(format!(
                "{workload}: only Deployments have revisions to undo to"
            )));
        }
        self.write(
            format!("undo {}/{} to {revision}", workload.kind, workload.name),
            options,
            |state| {
                let stored = find(state, workload)?;
                if stored.revision.unwrap_or(1) == revision {
                    return Ok(());
                }
                let template =
                    stored
                        .history
                        .get(&revision)
                        .cloned()
                        .ok_or_else(|| Error::NotFound {
                            what: format!("revision {revision} of {workload}"),
                        })?;
                stored.set_template(template);
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[tokio::test]
    async fn passes_the_cluster_conformance_suite() {
        let cluster = InMemoryCluster::new();
        cluster.put_workload(conformance::cluster::fixture());
        conformance::cluster::run_all(&cluster).await;
    }

    #[tokio::test]
    async fn state_file_round_trips_and_persists_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("cluster.yaml");
        let cluster = InMemoryCluster::open(&file).expect("open missing file");
        cluster.put_workload(conformance::cluster::fixture());
        let web = conformance::cluster::fixture().workload;
        cluster
            .scale(&web, 4, WriteOptions::default())
            .await
            .expect("scale");
        // A template change writes revision history (integer keys) to the file too.
        let mut containers = conformance::cluster::fixture().containers;
        containers[0].limits.insert("cpu".into(), "1".into());
        cluster
            .set_resources(&web, &containers, WriteOptions::default())
            .await
            .expect("resources");
        let reopened = InMemoryCluster::open(&file).expect("reopen");
        assert_eq!(reopened.snapshot(), cluster.snapshot());
        assert_eq!(
            reopened
                .workload(&web)
                .await
                .expect("read")
                .map(|w| w.replicas),
            Some(4)
        );
    }

    #[test]
    fn state_file_with_unknown_keys_is_rejected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("cluster.yaml");
        std::fs::write(&file, "workloads: []\nhpa: []\n").expect("write");
        let err = InMemoryCluster::open(&file).expect_err("unknown key");
        assert!(err.to_string().contains("hpa"), "{err}");
    }
}
