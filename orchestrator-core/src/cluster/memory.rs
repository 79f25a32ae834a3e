//! [`InMemoryCluster`]: a complete cluster over maps behind a lock, optionally persisted to a YAML
//! state file (`--cluster file:STATE.yaml`) so rehearsals survive between commands.
//!
//! Rollouts complete at once unless a workload says otherwise ([`SimulatedRollout`]): that is how
//! tests and rehearsals make a rollout lag, stall or fail, deterministically (counted in status
//! reads, not in time).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, ContainerResources, DEFAULT_HPA_TARGET_CPU_PERCENT, Hpa, PROGRESS_DEADLINE_EXCEEDED,
    ResourceList, RolloutCondition, RolloutStatus, WorkloadKind, WorkloadRef, WorkloadState,
    WriteOptions, canonical_quantity,
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
    /// How its rollouts behave; absent: every change rolls out at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<SimulatedRollout>,
}

/// How a workload's rollouts behave in an [`InMemoryCluster`] (a workload's `rollout:` key in the
/// state file, e.g. `rollout: {stall: {available: 2}}`, or [`InMemoryCluster::simulate_rollout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SimulatedRollout {
    /// After each change this cluster makes, the first `reads` status reads show the change not
    /// yet observed by the controller; later reads show it complete.
    Converge {
        /// Status reads that see the rollout in progress.
        reads: u32,
    },
    /// The rollout never gets past `available` available replicas (pods that never become
    /// ready): it stays in progress for ever.
    Stall {
        /// Available (and ready) replicas at most.
        available: i32,
    },
    /// As [`SimulatedRollout::Stall`], and the controller has given up: the `Progressing`
    /// condition is `False` with reason `ProgressDeadlineExceeded`.
    Fail {
        /// Available (and ready) replicas at most.
        available: i32,
    },
}

/// A workload's rollout bookkeeping in this process: changes made, status reads since the last.
#[derive(Debug, Clone, Copy, Default)]
struct RolloutClock {
    changes: i64,
    reads: u32,
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
    rollouts: Mutex<HashMap<WorkloadRef, RolloutClock>>,
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
            ..Self::default()
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
            rollout: None,
        });
    }

    /// Makes the workload's rollouts lag, stall or fail (`None`: complete at once), a fixture like
    /// [`InMemoryCluster::put_workload`]; `NotFound` if the workload is absent.
    pub fn simulate_rollout(
        &self,
        workload: &WorkloadRef,
        rollout: Option<SimulatedRollout>,
    ) -> Result<()> {
        find(&mut self.lock(), workload)?.rollout = rollout;
        Ok(())
    }

    /// Adds or replaces an HPA (a fixture: stored as given, unlike [`Cluster::apply_hpa`], which
    /// defaults a missing CPU target as Kubernetes does).
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

    /// Starts a new rollout (a new generation) for every workload whose spec differs.
    fn count_changes(&self, before: &ClusterState, after: &ClusterState) {
        let mut clocks = self.clocks();
        for w in &after.workloads {
            let old = before
                .workloads
                .iter()
                .find(|b| b.workload_ref() == w.workload_ref());
            if old.is_some_and(|o| o.replicas != w.replicas || o.containers != w.containers) {
                let clock = clocks.entry(w.workload_ref()).or_default();
                clock.changes += 1;
                clock.reads = 0;
            }
        }
    }

    fn clocks(&self) -> std::sync::MutexGuard<'_, HashMap<WorkloadRef, RolloutClock>> {
        self.rollouts
            .lock()
            .expect("rollout clock lock is never poisoned")
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
        self.count_changes(&guard, &next);
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

/// A container's resources as the API server stores them: every quantity canonical
/// ([`canonical_quantity`]); `InvalidInput` naming the first that is not a quantity.
fn canonical_resources(
    workload: &WorkloadRef,
    container: &ContainerResources,
) -> Result<ContainerResources> {
    let list = |list: &ResourceList| -> Result<ResourceList> {
        list.iter()
            .map(|(key, q)| {
                let canonical = canonical_quantity(q).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "{workload} container {}: {key}={q:?} is not a quantity",
                        container.name
                    ))
                })?;
                Ok((key.clone(), canonical))
            })
            .collect()
    };
    Ok(ContainerResources {
        name: container.name.clone(),
        requests: list(&container.requests)?,
        limits: list(&container.limits)?,
    })
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

    async fn rollout_status(&self, workload: &WorkloadRef) -> Result<Option<RolloutStatus>> {
        let guard = self.lock();
        let Some(stored) = guard
            .workloads
            .iter()
            .find(|w| w.workload_ref() == *workload)
        else {
            return Ok(None);
        };
        let mut clocks = self.clocks();
        let clock = clocks.entry(workload.clone()).or_default();
        clock.reads = clock.reads.saturating_add(1);
        let generation = 1 + clock.changes;
        let mut status = RolloutStatus::converged(workload.clone(), generation, stored.replicas);
        match stored.rollout {
            Some(SimulatedRollout::Converge { reads })
                if clock.changes > 0 && clock.reads <= reads =>
            {
                status.observed_generation = Some(generation - 1);
            }
            None | Some(SimulatedRollout::Converge { .. }) => {}
            Some(SimulatedRollout::Stall { available } | SimulatedRollout::Fail { available }) => {
                let available = available.clamp(0, stored.replicas);
                status.ready_replicas = available;
                status.available_replicas = available;
                if matches!(stored.rollout, Some(SimulatedRollout::Fail { .. }))
                    && available < stored.replicas
                {
                    status.conditions.push(RolloutCondition {
                        kind: "Progressing".into(),
                        status: "False".into(),
                        reason: Some(PROGRESS_DEADLINE_EXCEEDED.into()),
                        message: Some(format!(
                            "ReplicaSet \"{}\" has timed out progressing.",
                            workload.name
                        )),
                    });
                }
            }
        }
        Ok(Some(status))
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
                    if !template.iter().any(|c| c.name == wanted.name) {
                        return Err(Error::NotFound {
                            what: format!("container {} of {workload}", wanted.name),
                        });
                    }
                }
                for wanted in containers {
                    let stored_as = canonical_resources(workload, wanted)?;
                    let slot = template
                        .iter_mut()
                        .find(|c| c.name == wanted.name)
                        .expect("every container was found above");
                    *slot = stored_as;
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
        // As the API server does: an HPA without metrics scales on the default CPU target.
        let hpa = Hpa {
            target_cpu_percent: hpa
                .target_cpu_percent
                .or(Some(DEFAULT_HPA_TARGET_CPU_PERCENT)),
            ..hpa.clone()
        };
        self.write(format!("apply hpa {}", hpa.name), options, |state| {
            state
                .hpas
                .retain(|h| !(h.namespace == hpa.namespace && h.name == hpa.name));
            state.hpas.push(hpa);
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
        let namespace = conformance::cluster::NAMESPACE;
        for fixture in conformance::cluster::fixtures_in(namespace) {
            cluster.put_workload(fixture);
        }
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

    fn progress(status: Option<RolloutStatus>) -> super::super::RolloutProgress {
        status.expect("the workload exists").progress()
    }

    #[tokio::test]
    async fn a_simulated_rollout_lags_for_its_reads_after_each_real_change() {
        use super::super::RolloutProgress::{Complete, Progressing};
        let cluster = InMemoryCluster::new();
        cluster.put_workload(conformance::cluster::fixture());
        let web = conformance::cluster::fixture().workload;
        cluster
            .simulate_rollout(&web, Some(SimulatedRollout::Converge { reads: 2 }))
            .expect("simulate");
        // Nothing changed yet: nothing to roll out.
        assert_eq!(
            progress(cluster.rollout_status(&web).await.expect("read")),
            Complete
        );
        // A dry run changes nothing, so starts nothing.
        cluster
            .scale(&web, 4, WriteOptions::dry_run())
            .await
            .expect("dry run");
        assert_eq!(
            progress(cluster.rollout_status(&web).await.expect("read")),
            Complete
        );
        cluster
            .scale(&web, 4, WriteOptions::default())
            .await
            .expect("scale");
        let lagging = Progressing("the controller to observe generation 2 (it has seen 1)".into());
        for _ in 0..2 {
            assert_eq!(
                progress(cluster.rollout_status(&web).await.expect("read")),
                lagging
            );
        }
        let status = cluster
            .rollout_status(&web)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!((status.generation, status.desired_replicas), (2, 4));
        assert_eq!(status.progress(), Complete);
    }

    #[tokio::test]
    async fn a_stalled_rollout_stays_short_and_a_failed_one_says_the_deadline_passed() {
        use super::super::RolloutProgress::{Complete, Failed, Progressing};
        let cluster = InMemoryCluster::new();
        cluster.put_workload(conformance::cluster::fixture());
        let web = conformance::cluster::fixture().workload;
        cluster
            .simulate_rollout(&web, Some(SimulatedRollout::Stall { available: 1 }))
            .expect("simulate");
        assert_eq!(
            progress(cluster.rollout_status(&web).await.expect("read")),
            Progressing("1 of 2 replicas not available".into())
        );
        cluster
            .simulate_rollout(&web, Some(SimulatedRollout::Fail { available: 1 }))
            .expect("simulate");
        assert_eq!(
            progress(cluster.rollout_status(&web).await.expect("read")),
            Failed(
                "progress deadline exceeded (ReplicaSet \"web\" has timed out progressing.): \
                 1 of 2 replicas not available"
                    .into()
            )
        );
        // Scaled down to what is available, the same stall is a complete rollout.
        cluster
            .scale(&web, 1, WriteOptions::default())
            .await
            .expect("scale");
        assert_eq!(
            progress(cluster.rollout_status(&web).await.expect("read")),
            Complete
        );
        let absent = WorkloadRef::new(WorkloadKind::Deployment, "conformance", "absent");
        assert!(matches!(
            cluster.simulate_rollout(&absent, None),
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn a_state_file_can_stall_a_rollout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("cluster.yaml");
        std::fs::write(
            &file,
            "workloads:\n  - kind: Deployment\n    namespace: a\n    name: web\n    replicas: 3\n    \
             containers: []\n    rollout: {stall: {available: 2}}\n",
        )
        .expect("write");
        let cluster = InMemoryCluster::open(&file).expect("open");
        let web = WorkloadRef::new(WorkloadKind::Deployment, "a", "web");
        assert_eq!(
            progress(cluster.rollout_status(&web).await.expect("read")),
            super::super::RolloutProgress::Progressing("1 of 3 replicas not available".into())
        );
        // Writes keep the simulation in the file.
        cluster
            .scale(&web, 4, WriteOptions::default())
            .await
            .expect("scale");
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(text.contains("stall"), "{text}");
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
