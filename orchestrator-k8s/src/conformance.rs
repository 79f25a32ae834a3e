//! `KubeCluster` runs the shared `Cluster` conformance suite
//! ([`orchestrator_core::conformance::cluster`]): always over the [`FakeApiServer`], so that it
//! provably means what `InMemoryCluster` means; against a live cluster when one is named.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::Api;
use kube::api::PostParams;
use orchestrator_core::cluster::{Cluster, Hpa, WorkloadKind, WorkloadState, WriteOptions};
use orchestrator_core::conformance;
use serde_json::{Value, json};

use crate::KubeCluster;
use crate::fake::FakeApiServer;

/// The image of the fixtures' containers: it only has to exist, nothing runs in it.
const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";

/// The Kubernetes object of a fixture workload, as a person would write it: labels `app: <name>`
/// selected by the workload, one `pause` container per fixture container with its resources.
fn fixture_object(state: &WorkloadState) -> Value {
    let w = &state.workload;
    let labels = json!({ "app": w.name });
    let containers: Vec<Value> = state
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "image": PAUSE_IMAGE,
                "resources": {"requests": c.requests, "limits": c.limits},
            })
        })
        .collect();
    let mut object = json!({
        "apiVersion": "apps/v1", "kind": w.kind.as_str(),
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": labels},
        "spec": {
            "replicas": state.replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
        },
    });
    if w.kind == WorkloadKind::StatefulSet {
        object["spec"]["serviceName"] = json!(w.name);
    }
    object
}

/// Creates the fixture workloads through `client`, as `kubectl create` would.
async fn create_fixtures(client: &kube::Client, fixtures: &[WorkloadState]) {
    let params = PostParams::default();
    for state in fixtures {
        let w = &state.workload;
        let object = fixture_object(state);
        match w.kind {
            WorkloadKind::Deployment => {
                let d: Deployment = serde_json::from_value(object).expect("a Deployment");
                Api::<Deployment>::namespaced(client.clone(), &w.namespace)
                    .create(&params, &d)
                    .await
                    .map(drop)
            }
            WorkloadKind::StatefulSet => {
                let s: StatefulSet = serde_json::from_value(object).expect("a StatefulSet");
                Api::<StatefulSet>::namespaced(client.clone(), &w.namespace)
                    .create(&params, &s)
                    .await
                    .map(drop)
            }
        }
        .unwrap_or_else(|e| panic!("creating the fixture {w}: {e}"));
    }
}

#[tokio::test]
async fn passes_the_cluster_conformance_suite_over_the_fake_api_server() {
    let server = FakeApiServer::new();
    let namespace = conformance::cluster::NAMESPACE;
    create_fixtures(
        &server.client(),
        &conformance::cluster::fixtures_in(namespace),
    )
    .await;
    let cluster = KubeCluster::new(server.client());
    conformance::cluster::run_all(&cluster).await;
    assert_eq!(server.unsupported(), Vec::<String>::new());
}

/// On a live cluster the controllers write status all along (the HPA controller right after an
/// HPA is created, the Deployment controller through a rollout): a replace at the version just
/// read must not fail for it, as nothing fails in `InMemoryCluster`.
#[tokio::test]
async fn replaces_survive_a_controller_writing_status_in_between() {
    let server = FakeApiServer::new();
    let namespace = conformance::cluster::NAMESPACE;
    create_fixtures(
        &server.client(),
        &conformance::cluster::fixtures_in(namespace),
    )
    .await;
    let cluster = KubeCluster::new(server.client());
    let write = WriteOptions::default();

    let hpa = Hpa {
        namespace: namespace.into(),
        name: "web".into(),
        target_kind: WorkloadKind::Deployment,
        target_name: "web".into(),
        min_replicas: 2,
        max_replicas: 4,
        target_cpu_percent: Some(65),
    };
    cluster.apply_hpa(&hpa, write).await.expect("create");
    server.write_status_after_reads("horizontalpodautoscalers", namespace, "web", 1);
    let replaced = Hpa {
        max_replicas: 6,
        ..hpa
    };
    cluster.apply_hpa(&replaced, write).await.expect("replace");
    assert_eq!(
        cluster.hpa(namespace, "web").await.expect("read"),
        Some(replaced)
    );

    let fixture = conformance::cluster::fixture();
    let web = &fixture.workload;
    let mut changed = fixture.containers.clone();
    changed[0].requests.insert("cpu".into(), "300m".into());
    cluster
        .set_resources(web, &changed, write)
        .await
        .expect("set resources");
    server.write_status_after_reads("deployments", namespace, "web", 1);
    cluster.undo_to_revision(web, 1, write).await.expect("undo");
    let undone = cluster.workload(web).await.expect("read").expect("exists");
    assert_eq!(undone.containers, fixture.containers);
    assert_eq!(server.unsupported(), Vec::<String>::new());
}
