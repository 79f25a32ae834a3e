//! Waiting for the rollouts an execution starts: one journaled step per workload, a deadline, a
//! failed rollout at once, transient status errors retried.

use std::sync::Arc;

use crate::cluster::{
    Cluster, ContainerResources, Hpa, InMemoryCluster, SimulatedRollout, WorkloadRef,
    WorkloadState, WriteOptions,
};
use crate::scale::execute::{self, ScaleExecutor};
use crate::scale::fixtures::{executor, prod_cluster, prod_plan, web};
use crate::state::MemoryStateStore;

/// The journal entries of a run's rollout steps, from entry `from` on, sorted (the waits run side
/// by side, so their entries interleave in any order).
async fn rollout_journal(
    store: &MemoryStateStore,
    run: crate::state::RunId,
    from: usize,
) -> Vec<String> {
    use crate::state::{JournalEntry, StateStore};
    store
        .journal(run)
        .await
        .expect("journal")
        .into_iter()
        .filter_map(|r| match r.entry {
            JournalEntry::StepStarted { step } => Some(format!("started {step}")),
            JournalEntry::StepSucceeded { step, .. } => Some(format!("succeeded {step}")),
            JournalEntry::StepAlreadyDone { step, .. } => Some(format!("already done {step}")),
            JournalEntry::StepFailed { step, .. } => Some(format!("failed {step}")),
            _ => None,
        })
        .filter(|line| line.contains("rollout:"))
        .skip(from)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn statuses(results: &[execute::ActionResult]) -> Vec<(&str, &str)> {
    results
        .iter()
        .map(|r| (r.id.as_str(), r.status.as_str()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn apply_waits_for_each_changed_workload_to_roll_out_as_its_own_step() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    cluster
        .simulate_rollout(&web(), Some(SimulatedRollout::Converge { reads: 3 }))
        .expect("simulate");
    let store = Arc::new(MemoryStateStore::default());
    let started = tokio::time::Instant::now();
    let report = ScaleExecutor::new(cluster.clone(), store.clone())
        .apply_plan(&plan, true)
        .await
        .expect("apply");
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.error, None);
    assert!(report.results.iter().all(|r| r.status == "verified"));
    assert_eq!(
        statuses(&report.rollouts),
        vec![
            ("rollout:Deployment/web", "rolled_out"),
            ("rollout:Deployment/api", "rolled_out")
        ]
    );
    assert_eq!(
        report.rollouts[0].command,
        "kubectl -n assistant rollout status deployment/web --timeout=300s"
    );
    assert_eq!(
        report.rollouts[0].detail,
        "rolled out: 6 of 6 replicas available"
    );
    // web lagged for three status reads (the step's check, then polls), so the wait polled.
    assert!(started.elapsed() >= execute::DEFAULT_ROLLOUT_POLL);
    let run = report.run_id.expect("journaled");
    assert_eq!(
        rollout_journal(&store, run, 0).await,
        vec![
            "already done rollout:Deployment/api",
            "started rollout:Deployment/web",
            "succeeded rollout:Deployment/web",
        ],
        "api rolled out at once, so its check found it done"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_rollout_times_out_naming_the_workload_and_a_rerun_only_checks_again() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    cluster
        .simulate_rollout(&web(), Some(SimulatedRollout::Stall { available: 2 }))
        .expect("simulate");
    let store = Arc::new(MemoryStateStore::default());
    let executor = ScaleExecutor::new(cluster.clone(), store.clone()).with_rollout_wait(Some(
        execute::RolloutWait {
            timeout: std::time::Duration::from_secs(90),
            poll_interval: std::time::Duration::from_secs(10),
        },
    ));
    let report = executor.apply_plan(&plan, true).await.expect("apply");
    assert!(!report.ok);
    assert_eq!(
        report.error.as_deref(),
        Some(
            "timed out after 90s waiting for Deployment/web (ns: assistant) to roll out; still \
             missing: 4 of 6 replicas not available"
        )
    );
    // The changes were made and are reported as such; only the wait failed.
    assert!(report.results.iter().all(|r| r.status == "verified"));
    assert_eq!(
        statuses(&report.rollouts),
        vec![
            ("rollout:Deployment/web", "failed"),
            ("rollout:Deployment/api", "rolled_out")
        ]
    );
    let writes = cluster.writes();
    let run = report.run_id.expect("journaled");
    assert_eq!(
        rollout_journal(&store, run, 0).await,
        vec![
            "already done rollout:Deployment/api",
            "failed rollout:Deployment/web",
            "started rollout:Deployment/web",
        ]
    );

    // The pods come up; the same command again resumes the run: the changes are journaled, so
    // nothing is written again, and the wait's check finds the rollout complete.
    cluster
        .simulate_rollout(&web(), None)
        .expect("stop simulating");
    let again = executor.apply_plan(&plan, true).await.expect("re-run");
    assert!(again.ok, "{again:#?}");
    assert_eq!(again.run_id, Some(run));
    assert_eq!(cluster.writes(), writes, "nothing applied twice");
    assert_eq!(
        statuses(&again.rollouts),
        vec![
            ("rollout:Deployment/web", "rolled_out"),
            ("rollout:Deployment/api", "rolled_out")
        ]
    );
    // The re-run journals only web's check: api's wait succeeded before.
    assert_eq!(
        rollout_journal(&store, run, 3).await,
        vec!["already done rollout:Deployment/web"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollout_fails_at_once_without_waiting_for_the_timeout() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    cluster
        .simulate_rollout(&web(), Some(SimulatedRollout::Fail { available: 2 }))
        .expect("simulate");
    let started = tokio::time::Instant::now();
    let report = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect("apply");
    assert!(!report.ok);
    assert_eq!(
        report.error.as_deref(),
        Some(
            "Deployment/web (ns: assistant) failed to roll out: progress deadline exceeded \
             (ReplicaSet \"web\" has timed out progressing.): 4 of 6 replicas not available"
        )
    );
    assert_eq!(
        started.elapsed(),
        std::time::Duration::ZERO,
        "no poll slept"
    );
}

#[tokio::test(start_paused = true)]
async fn rollback_waits_for_the_rollouts_too() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    let executor = executor(&cluster);
    assert!(executor.apply_plan(&plan, true).await.expect("apply").ok);
    // Back at 3 replicas, web only ever gets 1 pod available.
    cluster
        .simulate_rollout(&web(), Some(SimulatedRollout::Stall { available: 1 }))
        .expect("simulate");
    let report = executor.rollback_plan(&plan, true).await.expect("rollback");
    assert!(!report.ok);
    assert_eq!(
        report.error.as_deref(),
        Some(
            "timed out after 300s waiting for Deployment/web (ns: assistant) to roll out; still \
             missing: 2 of 3 replicas not available"
        )
    );
    // The before state itself was restored.
    assert!(
        report
            .results
            .iter()
            .all(|r| r.status == "verified" || r.status == "already_done"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn without_a_wait_or_in_a_dry_run_no_rollout_is_read() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    cluster
        .simulate_rollout(&web(), Some(SimulatedRollout::Stall { available: 0 }))
        .expect("simulate");
    let preview = executor(&cluster)
        .apply_plan(&plan, false)
        .await
        .expect("dry run");
    assert!(preview.ok && preview.rollouts.is_empty(), "{preview:#?}");
    let report = executor(&cluster)
        .with_rollout_wait(None)
        .apply_plan(&plan, true)
        .await
        .expect("apply");
    assert!(report.ok && report.rollouts.is_empty(), "{report:#?}");
}

/// A cluster whose first `failures` rollout status reads fail as a flaky API server would.
#[derive(Debug)]
struct FlakyStatus {
    inner: InMemoryCluster,
    failures: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl Cluster for FlakyStatus {
    fn backend(&self) -> &'static str {
        "flaky"
    }
    async fn workload(&self, w: &WorkloadRef) -> crate::Result<Option<WorkloadState>> {
        self.inner.workload(w).await
    }
    async fn rollout_status(
        &self,
        w: &WorkloadRef,
    ) -> crate::Result<Option<crate::cluster::RolloutStatus>> {
        use std::sync::atomic::Ordering;
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(crate::Error::Transient {
                message: "503 from the API server".into(),
            });
        }
        self.inner.rollout_status(w).await
    }
    async fn scale(&self, w: &WorkloadRef, n: i32, o: WriteOptions) -> crate::Result<()> {
        self.inner.scale(w, n, o).await
    }
    async fn set_resources(
        &self,
        w: &WorkloadRef,
        c: &[ContainerResources],
        o: WriteOptions,
    ) -> crate::Result<()> {
        self.inner.set_resources(w, c, o).await
    }
    async fn hpa(&self, ns: &str, name: &str) -> crate::Result<Option<Hpa>> {
        self.inner.hpa(ns, name).await
    }
    async fn apply_hpa(&self, h: &Hpa, o: WriteOptions) -> crate::Result<()> {
        self.inner.apply_hpa(h, o).await
    }
    async fn delete_hpa(&self, ns: &str, name: &str, o: WriteOptions) -> crate::Result<()> {
        self.inner.delete_hpa(ns, name, o).await
    }
    async fn undo_to_revision(
        &self,
        w: &WorkloadRef,
        rev: i64,
        o: WriteOptions,
    ) -> crate::Result<()> {
        self.inner.undo_to_revision(w, rev, o).await
    }
}

#[tokio::test(start_paused = true)]
async fn transient_status_errors_are_retried_within_the_deadline() {
    use std::sync::atomic::Ordering;
    let cluster = FlakyStatus {
        inner: prod_cluster(),
        failures: std::sync::atomic::AtomicU32::new(3),
    };
    let ctx = crate::step::StepContext::new(
        "rollout:Deployment/web",
        Arc::new(crate::engine::SilentObserver),
        crate::engine::CancelToken::new(),
    );
    let wait = execute::RolloutWait::default();
    let status = execute::wait_for_rollout(&cluster, &web(), &wait, &ctx)
        .await
        .expect("rolled out after three failed reads");
    assert_eq!(status.desired_replicas, 3);
    // Failing for ever, the wait ends at its deadline naming the last error.
    cluster.failures.store(u32::MAX, Ordering::SeqCst);
    let err = execute::wait_for_rollout(&cluster, &web(), &wait, &ctx)
        .await
        .expect_err("times out");
    assert_eq!(
        err.to_string(),
        "timed out after 300s waiting for Deployment/web (ns: assistant) to roll out; still \
         missing: a status read (transient failure: 503 from the API server)"
    );
}
