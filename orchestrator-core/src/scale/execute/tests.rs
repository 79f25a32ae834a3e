//! Apply, drift and rollback over the in-memory cluster.

use std::sync::Arc;

use crate::cluster::{Cluster, WriteOptions};
use crate::error::Error;
use crate::scale::ScalePlan;
use crate::scale::execute::ScaleExecutor;
use crate::scale::fixtures::{
    CREATED_AT, api, executor, existing_api_hpa, prod_cluster, prod_flags, prod_plan, strings, web,
};
use crate::state::MemoryStateStore;

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
