//! The `Cluster` conformance suite: every backend runs it against a cluster holding
//! [`fixture`]'s Deployment (and no HPA named after it). The functions share that Deployment and
//! leave it as they found it, so they may run in any order.

use crate::cluster::{
    Cluster, ContainerResources, Hpa, ResourceList, WorkloadKind, WorkloadRef, WorkloadState,
    WriteOptions,
};
use crate::error::Error;

/// The Deployment every backend must hold before the suite runs: `conformance/web`, 2 replicas,
/// one container `app` with requests `cpu=100m,memory=128Mi` and limits `cpu=200m,memory=256Mi`.
pub fn fixture() -> WorkloadState {
    WorkloadState {
        workload: WorkloadRef::new(WorkloadKind::Deployment, "conformance", "web"),
        replicas: 2,
        containers: vec![resources("app", "100m", "128Mi", "200m", "256Mi")],
        revision: Some(1),
    }
}

fn list(cpu: &str, memory: &str) -> ResourceList {
    [("cpu", cpu), ("memory", memory)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn resources(name: &str, rc: &str, rm: &str, lc: &str, lm: &str) -> ContainerResources {
    ContainerResources {
        name: name.to_owned(),
        requests: list(rc, rm),
        limits: list(lc, lm),
    }
}

fn web() -> WorkloadRef {
    fixture().workload
}

async fn live(cluster: &dyn Cluster) -> WorkloadState {
    cluster
        .workload(&web())
        .await
        .expect("read the fixture")
        .expect("the fixture exists")
}

/// An absent workload answers `None`, not an error; scaling it is `NotFound`.
pub async fn missing_workload_is_none(cluster: &dyn Cluster) {
    let missing = WorkloadRef::new(WorkloadKind::Deployment, "conformance", "absent");
    assert_eq!(cluster.workload(&missing).await.expect("read"), None);
    let err = cluster
        .scale(&missing, 3, WriteOptions::default())
        .await
        .expect_err("scaling an absent workload fails");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{}: {err}",
        cluster.backend()
    );
}

/// The fixture reads back with its replicas, containers and a revision.
pub async fn reads_replicas_resources_and_revision(cluster: &dyn Cluster) {
    let state = live(cluster).await;
    assert_eq!(state.replicas, fixture().replicas);
    assert_eq!(state.containers, fixture().containers);
    assert!(state.revision.is_some(), "a Deployment has a revision");
}

/// The rollout status names the workload and its wanted replicas, and reading it changes nothing;
/// an absent workload has none.
pub async fn rollout_status_is_read_only(cluster: &dyn Cluster) {
    let before = live(cluster).await;
    let status = cluster
        .rollout_status(&web())
        .await
        .expect("read the rollout status")
        .expect("the fixture exists");
    assert_eq!(status.workload, web());
    assert_eq!(status.desired_replicas, before.replicas);
    assert!(status.generation >= 1, "{}: {status:?}", cluster.backend());
    assert_eq!(live(cluster).await, before);
    let missing = WorkloadRef::new(WorkloadKind::Deployment, "conformance", "absent");
    assert_eq!(
        cluster.rollout_status(&missing).await.expect("read"),
        None,
        "{}",
        cluster.backend()
    );
}

/// Scaling sets the replicas and leaves the template (and revision) alone.
pub async fn scale_sets_replicas_without_a_new_revision(cluster: &dyn Cluster) {
    let before = live(cluster).await;
    cluster
        .scale(&web(), 5, WriteOptions::default())
        .await
        .expect("scale");
    let after = live(cluster).await;
    assert_eq!(after.replicas, 5);
    assert_eq!(after.revision, before.revision);
    cluster
        .scale(&web(), before.replicas, WriteOptions::default())
        .await
        .expect("scale back");
}

/// A dry-run write is validated but changes nothing.
pub async fn dry_run_changes_nothing(cluster: &dyn Cluster) {
    let before = live(cluster).await;
    cluster
        .scale(&web(), 9, WriteOptions::dry_run())
        .await
        .expect("dry-run scale");
    cluster
        .set_resources(
            &web(),
            &[resources("app", "1", "1Gi", "2", "2Gi")],
            WriteOptions::dry_run(),
        )
        .await
        .expect("dry-run resources");
    let hpa = hpa(3, 6);
    cluster
        .apply_hpa(&hpa, WriteOptions::dry_run())
        .await
        .expect("dry-run hpa");
    assert_eq!(live(cluster).await, before);
    assert_eq!(cluster.hpa("conformance", "web").await.expect("read"), None);
}

/// Setting resources replaces the container's lists exactly (a key left out is removed) and gives
/// a Deployment a new revision; undoing to the old revision restores the template.
pub async fn set_resources_then_undo_to_revision(cluster: &dyn Cluster) {
    let before = live(cluster).await;
    let wanted = ContainerResources {
        name: "app".into(),
        requests: list("500m", "1Gi"),
        limits: [("memory".to_owned(), "2Gi".to_owned())]
            .into_iter()
            .collect(),
    };
    cluster
        .set_resources(
            &web(),
            std::slice::from_ref(&wanted),
            WriteOptions::default(),
        )
        .await
        .expect("set resources");
    let after = live(cluster).await;
    assert_eq!(after.containers, vec![wanted]);
    assert!(
        after.revision > before.revision,
        "{}: a template change bumps the revision ({:?} -> {:?})",
        cluster.backend(),
        before.revision,
        after.revision
    );
    cluster
        .undo_to_revision(
            &web(),
            before.revision.expect("a Deployment has a revision"),
            WriteOptions::default(),
        )
        .await
        .expect("undo");
    let undone = live(cluster).await;
    assert_eq!(undone.containers, before.containers);
    assert_eq!(undone.replicas, before.replicas);
}

/// Undoing to a revision no ReplicaSet has is `NotFound`.
pub async fn undo_to_unknown_revision_is_not_found(cluster: &dyn Cluster) {
    let err = cluster
        .undo_to_revision(&web(), 9999, WriteOptions::default())
        .await
        .expect_err("no such revision");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{}: {err}",
        cluster.backend()
    );
}

fn hpa(min: i32, max: i32) -> Hpa {
    Hpa {
        namespace: "conformance".into(),
        name: "web".into(),
        target_kind: WorkloadKind::Deployment,
        target_name: "web".into(),
        min_replicas: min,
        max_replicas: max,
        target_cpu_percent: Some(65),
    }
}

/// An HPA is created, replaced in place, read back, and deleted; deleting it again is `NotFound`.
pub async fn hpa_create_replace_delete(cluster: &dyn Cluster) {
    assert_eq!(cluster.hpa("conformance", "web").await.expect("read"), None);
    cluster
        .apply_hpa(&hpa(2, 4), WriteOptions::default())
        .await
        .expect("create");
    assert_eq!(
        cluster.hpa("conformance", "web").await.expect("read"),
        Some(hpa(2, 4))
    );
    cluster
        .apply_hpa(&hpa(3, 8), WriteOptions::default())
        .await
        .expect("replace");
    assert_eq!(
        cluster.hpa("conformance", "web").await.expect("read"),
        Some(hpa(3, 8))
    );
    cluster
        .delete_hpa("conformance", "web", WriteOptions::default())
        .await
        .expect("delete");
    assert_eq!(cluster.hpa("conformance", "web").await.expect("read"), None);
    let err = cluster
        .delete_hpa("conformance", "web", WriteOptions::default())
        .await
        .expect_err("deleting twice");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{}: {err}",
        cluster.backend()
    );
}

/// Runs the whole suite.
pub async fn run_all(cluster: &dyn Cluster) {
    missing_workload_is_none(cluster).await;
    reads_replicas_resources_and_revision(cluster).await;
    rollout_status_is_read_only(cluster).await;
    scale_sets_replicas_without_a_new_revision(cluster).await;
    dry_run_changes_nothing(cluster).await;
    set_resources_then_undo_to_revision(cluster).await;
    undo_to_unknown_revision_is_not_found(cluster).await;
    hpa_create_replace_delete(cluster).await;
}
