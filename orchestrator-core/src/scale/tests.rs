//! The planner (snapshots of the seed's prod and staging plans), apply, drift and rollback over
//! the in-memory cluster.

use std::sync::Arc;

use super::execute::ScaleExecutor;
use super::*;
use crate::cluster::{
    Cluster, ContainerResources, Hpa, InMemoryCluster, SimulatedRollout, WorkloadKind, WorkloadRef,
    WorkloadState, WriteOptions,
};
use crate::error::Error;
use crate::state::MemoryStateStore;

pub(crate) const CREATED_AT: &str = "2025-10-11T00:00:00Z";

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

/// The seed's prod example.
pub(crate) fn prod_flags() -> ScaleFlags {
    ScaleFlags {
        target: "prod".into(),
        namespace: "assistant".into(),
        kube_context: Some("production".into()),
        workloads: strings(&["Deployment:web:6", "Deployment:api:4"]),
        hpa: Some("min:4,max:12,cpu:65".into()),
        requests: strings(&["web:cpu=500m,mem=1Gi", "api:cpu=400m,mem=1Gi"]),
        limits: strings(&["web:cpu=1,mem=2Gi", "api:cpu=1,mem=2Gi"]),
        container: None,
    }
}

/// The seed's staging profile.
fn staging_flags() -> ScaleFlags {
    ScaleFlags {
        target: "staging".into(),
        namespace: "assistant-staging".into(),
        kube_context: None,
        workloads: strings(&["Deployment:web:2", "Deployment:api:2"]),
        hpa: Some("min:2,max:6,cpu:70".into()),
        requests: strings(&["web:cpu=300m,mem=512Mi", "api:cpu=300m,mem=512Mi"]),
        limits: strings(&["web:cpu=700m,mem=1Gi", "api:cpu=700m,mem=1Gi"]),
        container: None,
    }
}

fn container(name: &str, rc: &str, rm: &str, lc: &str, lm: &str) -> ContainerResources {
    let list = |cpu: &str, mem: &str| {
        [
            ("cpu".to_owned(), cpu.to_owned()),
            ("memory".to_owned(), mem.to_owned()),
        ]
        .into_iter()
        .collect()
    };
    ContainerResources {
        name: name.into(),
        requests: list(rc, rm),
        limits: list(lc, lm),
    }
}

/// The prod namespace before the plan: web at 3 replicas (revision 2, no HPA), api at 2 with an
/// HPA that already exists.
pub(crate) fn prod_cluster() -> InMemoryCluster {
    let cluster = InMemoryCluster::new();
    cluster.put_workload(WorkloadState {
        workload: WorkloadRef::new(WorkloadKind::Deployment, "assistant", "web"),
        replicas: 3,
        containers: vec![
            container("web", "250m", "512Mi", "500m", "1Gi"),
            container("log-shipper", "50m", "64Mi", "100m", "128Mi"),
        ],
        revision: Some(2),
    });
    cluster.put_workload(WorkloadState {
        workload: WorkloadRef::new(WorkloadKind::Deployment, "assistant", "api"),
        replicas: 2,
        containers: vec![container("api", "200m", "512Mi", "500m", "1Gi")],
        revision: Some(7),
    });
    cluster.put_hpa(existing_api_hpa());
    cluster
}

pub(crate) fn existing_api_hpa() -> Hpa {
    Hpa {
        namespace: "assistant".into(),
        name: "api".into(),
        target_kind: WorkloadKind::Deployment,
        target_name: "api".into(),
        min_replicas: 2,
        max_replicas: 5,
        target_cpu_percent: Some(80),
    }
}

pub(crate) async fn prod_plan(cluster: &InMemoryCluster) -> ScalePlan {
    let request = prod_flags().parse().expect("the seed's flags are valid");
    ScalePlan::build(&request, Some(cluster), CREATED_AT)
        .await
        .expect("plan")
}

#[tokio::test]
async fn prod_plan_records_the_before_state() {
    let cluster = prod_cluster();
    let plan = prod_plan(&cluster).await;
    insta::assert_snapshot!("prod_plan_yaml", plan.to_yaml());
    insta::assert_snapshot!("prod_summary_md", plan.summary_md());
    assert!(cluster.writes().is_empty(), "planning writes nothing");
}

#[tokio::test]
async fn staging_plan_without_a_cluster_says_detect() {
    let request = staging_flags().parse().expect("valid");
    let plan = ScalePlan::build(&request, None, CREATED_AT)
        .await
        .expect("plan");
    insta::assert_snapshot!("staging_plan_yaml", plan.to_yaml());
    insta::assert_snapshot!("staging_summary_md", plan.summary_md());
}

#[tokio::test]
async fn plan_round_trips_and_edits_are_detected() {
    let plan = prod_plan(&prod_cluster()).await;
    let yaml = plan.to_yaml();
    assert_eq!(
        ScalePlan::from_yaml(&yaml, "plan.yaml").expect("parse"),
        plan
    );
    let edited = yaml.replacen("to: 6", "to: 60", 1);
    let err = ScalePlan::from_yaml(&edited, "plan.yaml").expect_err("edited");
    assert!(err.to_string().contains("edited after planning"), "{err}");
}

#[test]
fn risks_and_notes() {
    let mut flags = prod_flags();
    flags.workloads = strings(&["Deployment:web:14"]);
    flags.requests.clear();
    flags.limits.clear();
    let plan = ScalePlan::from_parts(&flags.parse().expect("valid"), None, CREATED_AT);
    assert_eq!(
        plan.risks,
        ["Deployment/web: 14 replicas requested (above 10): check capacity and budget"]
    );
    assert_eq!(
        plan.notes,
        [
            "Deployment/web: its replicas are the autoscaler's once HPA web applies (min 4, max 12, cpu 65%): the plan acts on the HPA; 14 replicas is only where it starts",
            "HPA web: max 12 is below the requested 14 replicas of Deployment/web; the autoscaler will cap it at 12"
        ]
    );
}

#[test]
fn preview_lines_are_the_seeds() {
    let plan = ScalePlan::from_parts(&prod_flags().parse().expect("valid"), None, CREATED_AT);
    let lines = plan.preview_lines();
    assert_eq!(
        lines[0],
        "preview: kubectl -n assistant scale deployment/web --replicas=6"
    );
    assert_eq!(
        lines[2],
        "preview: kubectl -n assistant set resources deployment/web --requests cpu=500m,memory=1Gi --limits cpu=1,memory=2Gi"
    );
    assert_eq!(
        lines[4],
        "preview: kubectl -n assistant autoscale deployment web --min=4 --max=12 --cpu-percent=65"
    );
}

fn executor(cluster: &Arc<InMemoryCluster>) -> ScaleExecutor {
    ScaleExecutor::new(cluster.clone(), Arc::new(MemoryStateStore::default()))
}

fn web() -> WorkloadRef {
    WorkloadRef::new(WorkloadKind::Deployment, "assistant", "web")
}

#[tokio::test]
async fn dry_run_apply_changes_nothing() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    let before = cluster.snapshot();
    let report = executor(&cluster)
        .apply_plan(&plan, false)
        .await
        .expect("dry run");
    assert!(report.ok && !report.executed);
    assert!(
        report.results.iter().all(|r| r.status == "previewed"),
        "{report:?}"
    );
    assert_eq!(cluster.snapshot(), before);
    assert!(cluster.writes().is_empty());
}

#[tokio::test]
async fn apply_then_rollback_restores_the_exact_before_state() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    let executor = executor(&cluster);
    let report = executor.apply_plan(&plan, true).await.expect("apply");
    assert!(report.ok, "{report:#?}");
    assert!(
        report.results.iter().all(|r| r.status == "verified"),
        "{report:#?}"
    );
    let web_now = cluster.workload(&web()).await.expect("read").expect("web");
    assert_eq!(web_now.replicas, 6);
    assert_eq!(web_now.containers[0].requests["cpu"], "500m");
    // Only the first container is resized: the log-shipper sidecar keeps its resources.
    assert_eq!(web_now.containers[0].limits["memory"], "2Gi");
    assert_eq!(web_now.containers[1].limits["memory"], "128Mi");
    assert_eq!(web_now.containers[1].requests["cpu"], "50m");
    assert_eq!(web_now.revision, Some(3));
    assert_eq!(
        cluster
            .hpa("assistant", "api")
            .await
            .expect("read")
            .map(|h| h.max_replicas),
        Some(12)
    );

    // Applying again is a no-op: every step's check finds it done.
    let again = executor.apply_plan(&plan, true).await.expect("apply again");
    assert!(again.ok, "{again:#?}");

    let rolled = executor.rollback_plan(&plan, true).await.expect("rollback");
    assert!(rolled.ok, "{rolled:#?}");
    let after = cluster.snapshot();
    let before = prod_cluster().snapshot();
    for b in &before.workloads {
        let a = after
            .workloads
            .iter()
            .find(|a| a.name == b.name)
            .expect("kept");
        assert_eq!(
            (a.replicas, &a.containers),
            (b.replicas, &b.containers),
            "{}",
            b.name
        );
    }
    // The HPA that existed before is restored, not deleted; the one that did not is gone.
    assert_eq!(after.hpas, vec![existing_api_hpa()]);
    assert!(
        cluster
            .writes()
            .iter()
            .any(|w| w == "undo Deployment/web to 2"),
        "{:?}",
        cluster.writes()
    );
}

#[tokio::test]
async fn drift_refuses_and_names_the_field() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    cluster
        .scale(&web(), 5, WriteOptions::default())
        .await
        .expect("someone scales web by hand");
    let err = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect_err("drift");
    assert_eq!(
        err.to_string(),
        "conflict: drift: Deployment/web (ns: assistant) replicas: the plan recorded 3, the cluster \
         has 5 (planned 6); refusing to apply a plan made for another state: plan again"
    );
    cluster
        .scale(&web(), 3, WriteOptions::default())
        .await
        .expect("back");
    let mut changed = cluster
        .workload(&web())
        .await
        .expect("read")
        .expect("web")
        .containers;
    changed[0].limits.insert("memory".into(), "3Gi".into());
    cluster
        .set_resources(&web(), &changed, WriteOptions::default())
        .await
        .expect("someone edits limits");
    let err = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect_err("drift");
    assert!(
        err.to_string()
            .contains("Deployment/web (ns: assistant) container web limits.memory: the plan recorded 1Gi, the cluster has 3Gi (planned 2Gi)"),
        "{err}"
    );
    // Putting the resources back by hand is still drift: the pod template has a new revision.
    let original = prod_cluster().snapshot().workloads[0].containers.clone();
    cluster
        .set_resources(&web(), &original, WriteOptions::default())
        .await
        .expect("restore by hand");
    let err = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect_err("drift");
    assert!(
        err.to_string().contains(
            "Deployment/web (ns: assistant) revision: the plan recorded 2, the cluster has 4"
        ),
        "{err}"
    );

    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    let mut hpa = existing_api_hpa();
    hpa.max_replicas = 9;
    cluster.put_hpa(hpa);
    let err = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect_err("drift");
    assert!(err.to_string().contains("HorizontalPodAutoscaler api (ns: assistant): the plan recorded min 2 max 5 cpu 80%, the cluster has min 2 max 9 cpu 80%"), "{err}");
}

#[tokio::test]
async fn a_plan_without_before_state_cannot_execute() {
    let cluster = Arc::new(prod_cluster());
    let plan = ScalePlan::from_parts(&prod_flags().parse().expect("valid"), None, CREATED_AT);
    let err = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect_err("no before");
    assert!(
        err.to_string().contains("no recorded before state"),
        "{err}"
    );
    assert!(
        executor(&cluster)
            .apply_plan(&plan, false)
            .await
            .expect("preview")
            .ok
    );
}

#[tokio::test]
async fn pr_body_and_checklist_are_stable() {
    let plan = prod_plan(&prod_cluster()).await;
    insta::assert_snapshot!("pr_body", propose::pr_body(&plan));
    insta::assert_snapshot!("checklist_comment", propose::checklist_comment());
    assert_eq!(
        review::plan_marker_of(&propose::pr_body(&plan)),
        Some((
            plan.hash().to_owned(),
            "ops/plans/infra-scale/prod/plan.yaml".to_owned()
        ))
    );
}

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

#[tokio::test]
async fn reformatting_the_yaml_keeps_the_hash() {
    let plan = prod_plan(&prod_cluster()).await;
    // The same plan as JSON (valid YAML), with its keys in another order and a comment added
    // to the YAML form: both load, and hash to what was recorded.
    let mut value = serde_json::to_value(&plan).expect("json");
    let reordered: serde_json::Map<String, serde_json::Value> = value
        .as_object_mut()
        .expect("object")
        .clone()
        .into_iter()
        .rev()
        .collect();
    let json = serde_json::to_string_pretty(&serde_json::Value::Object(reordered)).expect("json");
    let loaded = ScalePlan::from_yaml(&json, "plan.json").expect("loads");
    assert_eq!(loaded.hash(), plan.hash());
    assert_eq!(loaded.compute_hash(), plan.hash());
    let commented = format!(
        "# reviewed by ops\n\n{}",
        plan.to_yaml()
            .replace("target: prod", "target: 'prod'   # quoted by hand")
            .replace("namespace: assistant\n", "namespace: \"assistant\"\n")
    );
    assert_ne!(commented, plan.to_yaml());
    let loaded = ScalePlan::from_yaml(&commented, "plan.yaml").expect("loads");
    assert_eq!(loaded.compute_hash(), plan.hash());
    // The hash is the canonical JSON's: pinned, so an accidental change of the form shows.
    let mut unhashed = plan.clone();
    unhashed.metadata.plan_hash = None;
    let canonical = canonical_json(&serde_json::to_value(&unhashed).expect("json"));
    assert!(
        canonical.starts_with("{\"actions\":[{\"action\":\"scale_workload\""),
        "{canonical}"
    );
    insta::assert_snapshot!("prod_plan_hash", plan.hash());
}

#[tokio::test]
async fn a_plan_hashed_the_old_way_still_loads_with_its_hash() {
    let mut plan = prod_plan(&prod_cluster()).await;
    let legacy = plan.legacy_yaml_hash();
    assert_ne!(legacy, plan.hash());
    plan.metadata.plan_hash = Some(legacy.clone());
    let loaded = ScalePlan::from_yaml(&plan.to_yaml(), "old/plan.yaml").expect("old plan loads");
    assert_eq!(
        loaded.hash(),
        legacy,
        "it keeps the hash approvals were bound to"
    );
    // Edited after planning, it matches neither hash.
    let edited = plan.to_yaml().replacen("to: 6", "to: 60", 1);
    let err = ScalePlan::from_yaml(&edited, "old/plan.yaml").expect_err("edited");
    assert!(err.to_string().contains("edited after planning"), "{err}");
}

fn api() -> WorkloadRef {
    WorkloadRef::new(WorkloadKind::Deployment, "assistant", "api")
}

#[tokio::test]
async fn replicas_an_hpa_moved_within_its_bounds_are_not_drift() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    // api's HPA (min 2, max 5) scaled it from 2 to 5 since planning.
    cluster
        .scale(&api(), 5, WriteOptions::default())
        .await
        .expect("the autoscaler scales api");
    let report = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect("no drift");
    assert!(report.ok, "{report:#?}");

    // Outside the HPA's bounds it is drift.
    let cluster = Arc::new(prod_cluster());
    cluster
        .scale(&api(), 7, WriteOptions::default())
        .await
        .expect("someone scales api by hand");
    let err = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect_err("drift");
    assert!(
        err.to_string()
            .contains("Deployment/api (ns: assistant) replicas: the plan recorded 2, the cluster has 7 (planned 4)"),
        "{err}"
    );
    // web has no HPA yet: the one the plan applies does not excuse a hand-made change.
    let cluster = Arc::new(prod_cluster());
    cluster
        .scale(&web(), 5, WriteOptions::default())
        .await
        .expect("by hand");
    assert!(executor(&cluster).apply_plan(&plan, true).await.is_err());
}

#[tokio::test]
async fn the_plan_says_it_acts_on_the_hpa() {
    let plan = prod_plan(&prod_cluster()).await;
    assert!(
        plan.notes.iter().any(|n| n.starts_with(
            "Deployment/api: its replicas are the autoscaler's once HPA api applies (min 4, max 12, cpu 65%)"
        )),
        "{:#?}",
        plan.notes
    );
    // Without --hpa, a workload an HPA manages is named as such.
    let mut flags = prod_flags();
    flags.hpa = None;
    let plan = ScalePlan::build(
        &flags.parse().expect("valid"),
        Some(&prod_cluster()),
        CREATED_AT,
    )
    .await
    .expect("plan");
    assert!(
        plan.notes.iter().any(|n| n.starts_with(
            "Deployment/api: managed by HPA api (min 2, max 5): the autoscaler moves its replicas within those bounds; pass --hpa"
        )),
        "{:#?}",
        plan.notes
    );
    assert_eq!(
        plan.before.as_ref().expect("before").hpas.len(),
        1,
        "the existing HPA is recorded"
    );
}

#[tokio::test]
async fn every_drifted_field_is_reported_at_once() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    cluster
        .scale(&web(), 5, WriteOptions::default())
        .await
        .expect("by hand");
    let mut changed = cluster
        .workload(&web())
        .await
        .expect("read")
        .expect("web")
        .containers;
    changed[0].requests.insert("cpu".into(), "300m".into());
    changed[1].limits.insert("memory".into(), "256Mi".into());
    cluster
        .set_resources(&web(), &changed, WriteOptions::default())
        .await
        .expect("by hand");
    let err = executor(&cluster)
        .apply_plan(&plan, true)
        .await
        .expect_err("drift")
        .to_string();
    for field in [
        "Deployment/web (ns: assistant) replicas: the plan recorded 3, the cluster has 5 (planned 6)",
        "Deployment/web (ns: assistant) container web requests.cpu: the plan recorded 250m, the cluster has 300m (planned 500m)",
        "Deployment/web (ns: assistant) container log-shipper limits.memory: the plan recorded 128Mi, the cluster has 256Mi (planned 128Mi)",
    ] {
        assert!(err.contains(field), "{field} missing from {err}");
    }
}

#[tokio::test]
async fn resources_go_to_one_container_named_or_the_first() {
    let mut flags = prod_flags();
    flags.container = Some("log-shipper".into());
    flags.workloads = strings(&["Deployment:web:6"]);
    flags.requests = strings(&["web:cpu=100m"]);
    flags.limits = strings(&["web:cpu=200m"]);
    let cluster = Arc::new(prod_cluster());
    let plan = ScalePlan::build(
        &flags.parse().expect("valid"),
        Some(cluster.as_ref()),
        CREATED_AT,
    )
    .await
    .expect("plan");
    assert!(
        plan.preview_lines().contains(
            &"preview: kubectl -n assistant set resources deployment/web -c log-shipper --requests cpu=100m --limits cpu=200m".to_owned()
        ),
        "{:#?}",
        plan.preview_lines()
    );
    assert!(
        executor(&cluster)
            .apply_plan(&plan, true)
            .await
            .expect("apply")
            .ok
    );
    let web_now = cluster.workload(&web()).await.expect("read").expect("web");
    assert_eq!(
        web_now.containers[0].requests["cpu"], "250m",
        "web untouched"
    );
    assert_eq!(web_now.containers[1].requests["cpu"], "100m");

    flags.container = Some("nginx".into());
    let err = ScalePlan::build(
        &flags.parse().expect("valid"),
        Some(&prod_cluster()),
        CREATED_AT,
    )
    .await
    .expect_err("no such container");
    assert_eq!(
        err.to_string(),
        "-c nginx: Deployment/web has no container nginx (it has web, log-shipper)"
    );
}

#[tokio::test]
async fn a_request_above_its_limit_is_a_risk() {
    let mut flags = prod_flags();
    flags.requests = strings(&["web:cpu=2,mem=1Gi", "api:cpu=400m,mem=1Gi"]);
    let plan = ScalePlan::build(
        &flags.parse().expect("valid"),
        Some(&prod_cluster()),
        CREATED_AT,
    )
    .await
    .expect("plan");
    assert_eq!(
        plan.risks,
        [
            "Deployment/web container web: cpu request 2 is above its limit 1; Kubernetes rejects a request above its limit"
        ]
    );
    // Judged against the live limit when the plan sets none.
    flags.limits = strings(&["api:cpu=1,mem=2Gi"]);
    flags.requests = strings(&["web:mem=2Gi"]);
    let plan = ScalePlan::build(
        &flags.parse().expect("valid"),
        Some(&prod_cluster()),
        CREATED_AT,
    )
    .await
    .expect("plan");
    assert_eq!(
        plan.risks,
        [
            "Deployment/web container web: memory request 2Gi is above its limit 1Gi; Kubernetes rejects a request above its limit"
        ]
    );
}

#[tokio::test]
async fn rollback_refuses_to_overwrite_changes_made_after_the_apply() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    let store = Arc::new(MemoryStateStore::default());
    let executor = ScaleExecutor::new(cluster.clone(), store.clone()).with_rollout_wait(None);
    let report = executor.apply_plan(&plan, true).await.expect("apply");
    assert!(report.ok, "{report:#?}");
    let after = report
        .after
        .clone()
        .expect("the apply records what it left");
    assert_eq!(after.workloads[0].replicas, 6);
    assert_eq!(
        executor.journaled_after(&plan).await.expect("journal"),
        Some(after.clone())
    );

    // Later, someone raises web's memory limit and api's HPA max by hand.
    let mut changed = cluster
        .workload(&web())
        .await
        .expect("read")
        .expect("web")
        .containers;
    changed[0].limits.insert("memory".into(), "3Gi".into());
    cluster
        .set_resources(&web(), &changed, WriteOptions::default())
        .await
        .expect("by hand");
    let mut hpa = cluster
        .hpa("assistant", "api")
        .await
        .expect("read")
        .expect("api");
    hpa.max_replicas = 20;
    cluster.put_hpa(hpa);
    let writes = cluster.writes().len();

    let err = executor
        .rollback_plan(&plan, true)
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, Error::Conflict { .. }), "{text}");
    for field in [
        "Deployment/web (ns: assistant) container web limits.memory: the apply left 2Gi, now 3Gi",
        "HorizontalPodAutoscaler api: the apply left min 4 max 12 cpu 65%, now min 4 max 20 cpu 65%",
        "--force",
    ] {
        assert!(text.contains(field), "{field} missing from {text}");
    }
    assert_eq!(cluster.writes().len(), writes, "nothing was written");
    // With no journal here (applied elsewhere), the plan's own after state gives the same answer.
    let elsewhere = ScaleExecutor::new(cluster.clone(), Arc::new(MemoryStateStore::default()))
        .with_rollout_wait(None);
    let err = elsewhere
        .rollback_plan(&plan, true)
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("limits.memory: the apply left 2Gi, now 3Gi"),
        "{err}"
    );
    // A preview is not refused; --force restores the before state over the changes.
    assert!(
        executor
            .rollback_plan(&plan, false)
            .await
            .expect("preview")
            .ok
    );
    let forced = executor
        .with_force(true)
        .rollback_plan(&plan, true)
        .await
        .expect("forced");
    assert!(forced.ok, "{forced:#?}");
    assert_eq!(
        cluster.hpa("assistant", "api").await.expect("read"),
        Some(existing_api_hpa())
    );
}

#[tokio::test]
async fn replicas_the_hpa_moved_after_the_apply_do_not_block_rollback() {
    let cluster = Arc::new(prod_cluster());
    let plan = prod_plan(&cluster).await;
    let executor = executor(&cluster).with_rollout_wait(None);
    assert!(executor.apply_plan(&plan, true).await.expect("apply").ok);
    cluster
        .scale(&web(), 9, WriteOptions::default())
        .await
        .expect("the autoscaler scales web within 4..12");
    assert!(
        executor
            .rollback_plan(&plan, true)
            .await
            .expect("rollback")
            .ok
    );
}
