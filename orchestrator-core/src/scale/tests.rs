//! The planner (snapshots of the seed's prod and staging plans), apply, drift and rollback over
//! the in-memory cluster.

use std::sync::Arc;

use super::execute::ScaleExecutor;
use super::*;
use crate::cluster::{
    Cluster, ContainerResources, Hpa, InMemoryCluster, WorkloadKind, WorkloadRef, WorkloadState,
    WriteOptions,
};
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
        .apply(&plan, false)
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
    let report = executor.apply(&plan, true).await.expect("apply");
    assert!(report.ok, "{report:#?}");
    assert!(
        report.results.iter().all(|r| r.status == "verified"),
        "{report:#?}"
    );
    let web_now = cluster.workload(&web()).await.expect("read").expect("web");
    assert_eq!(web_now.replicas, 6);
    assert_eq!(web_now.containers[0].requests["cpu"], "500m");
    assert_eq!(web_now.containers[1].limits["memory"], "2Gi");
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
    let again = executor.apply(&plan, true).await.expect("apply again");
    assert!(again.ok, "{again:#?}");

    let rolled = executor.rollback(&plan, true).await.expect("rollback");
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
        .apply(&plan, true)
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
        .apply(&plan, true)
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
        .apply(&plan, true)
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
        .apply(&plan, true)
        .await
        .expect_err("drift");
    assert!(err.to_string().contains("HorizontalPodAutoscaler api (ns: assistant): the plan recorded min 2 max 5 cpu 80%, the cluster has min 2 max 9 cpu 80%"), "{err}");
}

#[tokio::test]
async fn a_plan_without_before_state_cannot_execute() {
    let cluster = Arc::new(prod_cluster());
    let plan = ScalePlan::from_parts(&prod_flags().parse().expect("valid"), None, CREATED_AT);
    let err = executor(&cluster)
        .apply(&plan, true)
        .await
        .expect_err("no before");
    assert!(
        err.to_string().contains("no recorded before state"),
        "{err}"
    );
    assert!(
        executor(&cluster)
            .apply(&plan, false)
            .await
            .expect("preview")
            .ok
    );
}

#[tokio::test]
async fn pr_body_and_checklist_are_stable() {
    let plan = prod_plan(&prod_cluster()).await;
    insta::assert_snapshot!("pr_body", review::pr_body(&plan));
    insta::assert_snapshot!("checklist_comment", review::checklist_comment());
    assert_eq!(
        review::plan_marker_of(&review::pr_body(&plan)),
        Some((
            plan.hash().to_owned(),
            "ops/plans/infra-scale/prod/plan.yaml".to_owned()
        ))
    );
}
