//! The `Cluster` conformance suite: every backend runs it against a cluster holding
//! [`fixtures_in`]'s workloads (a Deployment `web` and a StatefulSet `db`), no Deployment named
//! `absent` and no HPA named `web`, all in one namespace ([`NAMESPACE`] unless the cluster is
//! shared). The functions share those workloads and leave them as they found them, so they may
//! run in any order.
//!
//! What it pins down is what the scale feature relies on, as Kubernetes does it: scaling keeps the
//! revision, a new pod template makes a new one, undo restores a recorded template, only real
//! changes start a rollout, dry runs change nothing, quantities read back canonical, the API
//! server's defaults and validation.

use crate::cluster::{
    Cluster, ContainerResources, DEFAULT_HPA_TARGET_CPU_PERCENT, Hpa, ResourceList, WorkloadKind,
    WorkloadRef, WorkloadState, WriteOptions,
};
use crate::error::Error;

/// The namespace of the fixtures when the backend has the cluster to itself.
pub const NAMESPACE: &str = "conformance";

/// The Deployment every backend must hold before the suite runs: `conformance/web`, 2 replicas,
/// one container `app` with requests `cpu=100m,memory=128Mi` and limits `cpu=200m,memory=256Mi`.
pub fn fixture() -> WorkloadState {
    deployment_in(NAMESPACE)
}

/// Every workload the suite needs, in `namespace`: [`fixture`]'s Deployment `web`, and a
/// StatefulSet `db` with 1 replica and one container `db` with requests `cpu=250m,memory=256Mi`
/// and limits `cpu=500m,memory=512Mi`.
pub fn fixtures_in(namespace: &str) -> Vec<WorkloadState> {
    vec![
        deployment_in(namespace),
        WorkloadState {
            workload: WorkloadRef::new(WorkloadKind::StatefulSet, namespace, "db"),
            replicas: 1,
            containers: vec![resources("db", "250m", "256Mi", "500m", "512Mi")],
            revision: None,
        },
    ]
}

fn deployment_in(namespace: &str) -> WorkloadState {
    WorkloadState {
        workload: WorkloadRef::new(WorkloadKind::Deployment, namespace, "web"),
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

fn web(namespace: &str) -> WorkloadRef {
    deployment_in(namespace).workload
}

fn db(namespace: &str) -> WorkloadRef {
    WorkloadRef::new(WorkloadKind::StatefulSet, namespace, "db")
}

fn absent(namespace: &str) -> WorkloadRef {
    WorkloadRef::new(WorkloadKind::Deployment, namespace, "absent")
}

async fn live(cluster: &dyn Cluster, workload: &WorkloadRef) -> WorkloadState {
    cluster
        .workload(workload)
        .await
        .unwrap_or_else(|e| panic!("{}: reading {workload}: {e}", cluster.backend()))
        .unwrap_or_else(|| panic!("{}: the fixture {workload} exists", cluster.backend()))
}

async fn generation(cluster: &dyn Cluster, workload: &WorkloadRef) -> i64 {
    cluster
        .rollout_status(workload)
        .await
        .unwrap_or_else(|e| panic!("{}: rollout status of {workload}: {e}", cluster.backend()))
        .unwrap_or_else(|| panic!("{}: the fixture {workload} exists", cluster.backend()))
        .generation
}

fn assert_not_found(cluster: &dyn Cluster, what: &str, result: crate::error::Result<()>) {
    match result {
        Err(Error::NotFound { .. }) => {}
        other => panic!(
            "{}: {what}: expected NotFound, got {other:?}",
            cluster.backend()
        ),
    }
}

fn assert_invalid(cluster: &dyn Cluster, what: &str, result: crate::error::Result<()>) {
    match result {
        Err(Error::InvalidInput { .. }) => {}
        other => panic!(
            "{}: {what}: expected InvalidInput, got {other:?}",
            cluster.backend()
        ),
    }
}

/// An absent workload answers `None`, not an error; scaling it, setting its resources or undoing
/// it is `NotFound`.
pub async fn missing_workload_is_none(cluster: &dyn Cluster, namespace: &str) {
    let missing = absent(namespace);
    assert_eq!(cluster.workload(&missing).await.expect("read"), None);
    let defaults = WriteOptions::default();
    assert_not_found(
        cluster,
        "scaling an absent workload",
        cluster.scale(&missing, 3, defaults).await,
    );
    assert_not_found(
        cluster,
        "setting the resources of an absent workload",
        cluster
            .set_resources(&missing, &fixture().containers, defaults)
            .await,
    );
    assert_not_found(
        cluster,
        "undoing an absent workload",
        cluster.undo_to_revision(&missing, 1, defaults).await,
    );
}

/// The fixtures read back with their replicas and containers; a Deployment has a revision, a
/// StatefulSet none.
pub async fn reads_replicas_resources_and_revision(cluster: &dyn Cluster, namespace: &str) {
    for fixture in fixtures_in(namespace) {
        let state = live(cluster, &fixture.workload).await;
        assert_eq!(state.replicas, fixture.replicas, "{}", cluster.backend());
        assert_eq!(
            state.containers,
            fixture.containers,
            "{}",
            cluster.backend()
        );
        match fixture.workload.kind {
            WorkloadKind::Deployment => {
                assert!(state.revision.is_some(), "a Deployment has a revision");
            }
            WorkloadKind::StatefulSet => assert_eq!(state.revision, None),
        }
    }
}

/// The rollout status names the workload and its wanted replicas, and reading it changes nothing;
/// an absent workload has none.
pub async fn rollout_status_is_read_only(cluster: &dyn Cluster, namespace: &str) {
    for fixture in fixtures_in(namespace) {
        let workload = &fixture.workload;
        let before = live(cluster, workload).await;
        let status = cluster
            .rollout_status(workload)
            .await
            .expect("read the rollout status")
            .expect("the fixture exists");
        assert_eq!(&status.workload, workload);
        assert_eq!(status.desired_replicas, before.replicas);
        assert!(status.generation >= 1, "{}: {status:?}", cluster.backend());
        assert_eq!(live(cluster, workload).await, before);
    }
    assert_eq!(
        cluster
            .rollout_status(&absent(namespace))
            .await
            .expect("read"),
        None,
        "{}",
        cluster.backend()
    );
}

/// Scaling sets the replicas and leaves the template (and revision) alone.
pub async fn scale_sets_replicas_without_a_new_revision(cluster: &dyn Cluster, namespace: &str) {
    for fixture in fixtures_in(namespace) {
        let workload = &fixture.workload;
        let before = live(cluster, workload).await;
        cluster
            .scale(workload, 5, WriteOptions::default())
            .await
            .expect("scale");
        let after = live(cluster, workload).await;
        assert_eq!(after.replicas, 5);
        assert_eq!(after.containers, before.containers);
        assert_eq!(after.revision, before.revision, "{}", cluster.backend());
        cluster
            .scale(workload, before.replicas, WriteOptions::default())
            .await
            .expect("scale back");
    }
}

/// A write that changes the spec starts a new generation (the rollout a wait waits for); a dry
/// run, scaling to the current replicas and setting the current resources do not, and keep the
/// revision.
pub async fn only_real_changes_start_a_rollout(cluster: &dyn Cluster, namespace: &str) {
    for fixture in fixtures_in(namespace) {
        let workload = &fixture.workload;
        let before = live(cluster, workload).await;
        let first = generation(cluster, workload).await;
        cluster
            .scale(workload, before.replicas + 1, WriteOptions::dry_run())
            .await
            .expect("dry-run scale");
        cluster
            .scale(workload, before.replicas, WriteOptions::default())
            .await
            .expect("scale to the same replicas");
        cluster
            .set_resources(workload, &before.containers, WriteOptions::default())
            .await
            .expect("set the same resources");
        assert_eq!(
            generation(cluster, workload).await,
            first,
            "{}: {workload}: nothing changed",
            cluster.backend()
        );
        assert_eq!(
            live(cluster, workload).await,
            before,
            "{}",
            cluster.backend()
        );
        cluster
            .scale(workload, before.replicas + 1, WriteOptions::default())
            .await
            .expect("scale");
        assert!(
            generation(cluster, workload).await > first,
            "{}: {workload}: scaling starts a new generation",
            cluster.backend()
        );
        cluster
            .scale(workload, before.replicas, WriteOptions::default())
            .await
            .expect("scale back");
    }
}

/// A dry-run write is validated but changes nothing.
pub async fn dry_run_changes_nothing(cluster: &dyn Cluster, namespace: &str) {
    for fixture in fixtures_in(namespace) {
        let workload = &fixture.workload;
        let before = live(cluster, workload).await;
        cluster
            .scale(workload, 9, WriteOptions::dry_run())
            .await
            .expect("dry-run scale");
        let mut bigger = before.containers.clone();
        bigger[0].requests = list("1", "1Gi");
        bigger[0].limits = list("2", "2Gi");
        cluster
            .set_resources(workload, &bigger, WriteOptions::dry_run())
            .await
            .expect("dry-run resources");
        assert_eq!(
            live(cluster, workload).await,
            before,
            "{}",
            cluster.backend()
        );
    }
    cluster
        .apply_hpa(&hpa(namespace, 3, 6), WriteOptions::dry_run())
        .await
        .expect("dry-run hpa");
    assert_eq!(cluster.hpa(namespace, "web").await.expect("read"), None);
}

/// Setting resources replaces the container's lists exactly (a key left out is removed) and gives
/// a Deployment a new revision; undoing to the old revision (a dry run first, which changes
/// nothing) restores the template under a newer revision still.
pub async fn set_resources_then_undo_to_revision(cluster: &dyn Cluster, namespace: &str) {
    let web = web(namespace);
    let before = live(cluster, &web).await;
    let wanted = ContainerResources {
        name: "app".into(),
        requests: list("500m", "1Gi"),
        limits: [("memory".to_owned(), "2Gi".to_owned())]
            .into_iter()
            .collect(),
    };
    cluster
        .set_resources(&web, std::slice::from_ref(&wanted), WriteOptions::default())
        .await
        .expect("set resources");
    let after = live(cluster, &web).await;
    assert_eq!(after.containers, vec![wanted]);
    assert!(
        after.revision > before.revision,
        "{}: a template change bumps the revision ({:?} -> {:?})",
        cluster.backend(),
        before.revision,
        after.revision
    );
    let revision = before.revision.expect("a Deployment has a revision");
    cluster
        .undo_to_revision(&web, revision, WriteOptions::dry_run())
        .await
        .expect("dry-run undo");
    assert_eq!(live(cluster, &web).await, after, "{}", cluster.backend());
    cluster
        .undo_to_revision(&web, revision, WriteOptions::default())
        .await
        .expect("undo");
    let undone = live(cluster, &web).await;
    assert_eq!(undone.containers, before.containers);
    assert_eq!(undone.replicas, before.replicas);
    assert!(
        undone.revision > after.revision,
        "{}: restoring a template gives it a new revision ({:?} -> {:?})",
        cluster.backend(),
        after.revision,
        undone.revision
    );
}

/// Quantities read back as Kubernetes stores them, rounded up to milli-units and canonical
/// (`0.5` CPU as `500m`, `1000m` as `1`, `1024Mi` as `1Gi`, `1.5Gi` as `1536Mi`), so writing the
/// same values again changes nothing; something that is not a quantity is `InvalidInput`, dry run
/// or not, and changes nothing.
pub async fn quantities_read_back_as_kubernetes_stores_them(
    cluster: &dyn Cluster,
    namespace: &str,
) {
    let web = web(namespace);
    let before = live(cluster, &web).await;
    let written = resources("app", "0.5", "1024Mi", "1000m", "1.5Gi");
    cluster
        .set_resources(
            &web,
            std::slice::from_ref(&written),
            WriteOptions::default(),
        )
        .await
        .expect("set resources");
    let after = live(cluster, &web).await;
    assert_eq!(
        after.containers,
        vec![resources("app", "500m", "1Gi", "1", "1536Mi")],
        "{}",
        cluster.backend()
    );
    let first = generation(cluster, &web).await;
    cluster
        .set_resources(
            &web,
            std::slice::from_ref(&written),
            WriteOptions::default(),
        )
        .await
        .expect("set the same resources again");
    assert_eq!(
        generation(cluster, &web).await,
        first,
        "{}",
        cluster.backend()
    );
    for options in [WriteOptions::dry_run(), WriteOptions::default()] {
        assert_invalid(
            cluster,
            "cpu=lots",
            cluster
                .set_resources(
                    &web,
                    &[resources("app", "lots", "1Gi", "1", "2Gi")],
                    options,
                )
                .await,
        );
    }
    assert_eq!(live(cluster, &web).await, after, "{}", cluster.backend());
    cluster
        .set_resources(&web, &before.containers, WriteOptions::default())
        .await
        .expect("set resources back");
    assert_eq!(live(cluster, &web).await.containers, before.containers);
}

/// Undoing to a revision no ReplicaSet has is `NotFound`.
pub async fn undo_to_unknown_revision_is_not_found(cluster: &dyn Cluster, namespace: &str) {
    assert_not_found(
        cluster,
        "undo to revision 9999",
        cluster
            .undo_to_revision(&web(namespace), 9999, WriteOptions::default())
            .await,
    );
}

/// A StatefulSet's resources change without a revision, and it has none to undo to (an invalid
/// request); setting the resources of a container the workload lacks is `NotFound`.
pub async fn statefulset_resources_have_no_revision(cluster: &dyn Cluster, namespace: &str) {
    let db = db(namespace);
    let before = live(cluster, &db).await;
    let mut changed = before.containers.clone();
    changed[0].requests = list("300m", "384Mi");
    cluster
        .set_resources(&db, &changed, WriteOptions::default())
        .await
        .expect("set resources");
    let after = live(cluster, &db).await;
    assert_eq!(after.containers, changed);
    assert_eq!(after.revision, None, "{}", cluster.backend());
    assert_invalid(
        cluster,
        "undoing a StatefulSet",
        cluster
            .undo_to_revision(&db, 1, WriteOptions::default())
            .await,
    );
    assert_not_found(
        cluster,
        "setting the resources of a container db lacks",
        cluster
            .set_resources(
                &db,
                &[resources("sidecar", "1m", "1Mi", "2m", "2Mi")],
                WriteOptions::default(),
            )
            .await,
    );
    cluster
        .set_resources(&db, &before.containers, WriteOptions::default())
        .await
        .expect("set resources back");
    assert_eq!(live(cluster, &db).await, before, "{}", cluster.backend());
}

/// The suite's HPA. It targets a Deployment the cluster does not hold: on a live cluster the HPA
/// controller acts on whatever an HPA targets (enforcing `minReplicas` at once), and the suite's
/// workloads must stay as the suite leaves them.
fn hpa(namespace: &str, min: i32, max: i32) -> Hpa {
    Hpa {
        namespace: namespace.into(),
        name: "web".into(),
        target_kind: WorkloadKind::Deployment,
        target_name: absent(namespace).name,
        min_replicas: min,
        max_replicas: max,
        target_cpu_percent: Some(65),
    }
}

/// An HPA is created, replaced in place, read back, survives a dry-run delete, and is deleted;
/// deleting it again is `NotFound`.
pub async fn hpa_create_replace_delete(cluster: &dyn Cluster, namespace: &str) {
    assert_eq!(cluster.hpa(namespace, "web").await.expect("read"), None);
    cluster
        .apply_hpa(&hpa(namespace, 2, 4), WriteOptions::default())
        .await
        .expect("create");
    assert_eq!(
        cluster.hpa(namespace, "web").await.expect("read"),
        Some(hpa(namespace, 2, 4))
    );
    cluster
        .apply_hpa(&hpa(namespace, 3, 8), WriteOptions::default())
        .await
        .expect("replace");
    assert_eq!(
        cluster.hpa(namespace, "web").await.expect("read"),
        Some(hpa(namespace, 3, 8))
    );
    cluster
        .delete_hpa(namespace, "web", WriteOptions::dry_run())
        .await
        .expect("dry-run delete");
    assert_eq!(
        cluster.hpa(namespace, "web").await.expect("read"),
        Some(hpa(namespace, 3, 8)),
        "{}",
        cluster.backend()
    );
    cluster
        .delete_hpa(namespace, "web", WriteOptions::default())
        .await
        .expect("delete");
    assert_eq!(cluster.hpa(namespace, "web").await.expect("read"), None);
    assert_not_found(
        cluster,
        "deleting an HPA twice",
        cluster
            .delete_hpa(namespace, "web", WriteOptions::default())
            .await,
    );
}

/// An HPA applied without a CPU target reads back with the one Kubernetes gives an HPA without
/// metrics ([`DEFAULT_HPA_TARGET_CPU_PERCENT`]).
pub async fn hpa_without_a_cpu_target_gets_the_default(cluster: &dyn Cluster, namespace: &str) {
    let untargeted = Hpa {
        target_cpu_percent: None,
        ..hpa(namespace, 1, 3)
    };
    cluster
        .apply_hpa(&untargeted, WriteOptions::default())
        .await
        .expect("create");
    let read = cluster.hpa(namespace, "web").await.expect("read");
    cluster
        .delete_hpa(namespace, "web", WriteOptions::default())
        .await
        .expect("delete");
    assert_eq!(
        read,
        Some(Hpa {
            target_cpu_percent: Some(DEFAULT_HPA_TARGET_CPU_PERCENT),
            ..untargeted
        }),
        "{}",
        cluster.backend()
    );
}

/// Writes Kubernetes would refuse are `InvalidInput` (negative replicas, an HPA with `minReplicas`
/// below 1 or above `maxReplicas`), dry run or not, and change nothing.
pub async fn invalid_writes_are_rejected(cluster: &dyn Cluster, namespace: &str) {
    let web = web(namespace);
    let before = live(cluster, &web).await;
    for options in [WriteOptions::dry_run(), WriteOptions::default()] {
        assert_invalid(
            cluster,
            "scaling to -1",
            cluster.scale(&web, -1, options).await,
        );
        for (min, max) in [(0, 3), (4, 3)] {
            assert_invalid(
                cluster,
                &format!("an HPA of min {min} max {max}"),
                cluster.apply_hpa(&hpa(namespace, min, max), options).await,
            );
        }
    }
    assert_eq!(live(cluster, &web).await, before, "{}", cluster.backend());
    assert_eq!(cluster.hpa(namespace, "web").await.expect("read"), None);
}

/// Runs the whole suite in [`NAMESPACE`].
pub async fn run_all(cluster: &dyn Cluster) {
    run_all_in(cluster, NAMESPACE).await;
}

/// Runs the whole suite against [`fixtures_in`]`(namespace)`.
pub async fn run_all_in(cluster: &dyn Cluster, namespace: &str) {
    missing_workload_is_none(cluster, namespace).await;
    reads_replicas_resources_and_revision(cluster, namespace).await;
    rollout_status_is_read_only(cluster, namespace).await;
    scale_sets_replicas_without_a_new_revision(cluster, namespace).await;
    only_real_changes_start_a_rollout(cluster, namespace).await;
    dry_run_changes_nothing(cluster, namespace).await;
    set_resources_then_undo_to_revision(cluster, namespace).await;
    undo_to_unknown_revision_is_not_found(cluster, namespace).await;
    quantities_read_back_as_kubernetes_stores_them(cluster, namespace).await;
    statefulset_resources_have_no_revision(cluster, namespace).await;
    hpa_create_replace_delete(cluster, namespace).await;
    hpa_without_a_cpu_target_gets_the_default(cluster, namespace).await;
    invalid_writes_are_rejected(cluster, namespace).await;
}
