//! `KubeCluster` runs the shared `Cluster` conformance suite
//! ([`orchestrator_core::conformance::cluster`]): always over the [`FakeApiServer`], so that it
//! provably means what `InMemoryCluster` means, and against a live cluster when one is named
//! (`ORCHESTRATOR_TEST_KUBE_NAMESPACE`, an ignored test). Both go through the same
//! [`conformance_run`]: remove leftovers, create the fixtures, run the suite, delete them.
//!
//! Run the live one with a kubeconfig (or in-cluster config) whose user may manage Deployments,
//! StatefulSets and HPAs in an existing namespace:
//! `ORCHESTRATOR_TEST_KUBE_NAMESPACE=orchestrator-test cargo test -p orchestrator-k8s -- --ignored`

use std::future::poll_fn;
use std::pin::pin;

use async_trait::async_trait;
use futures_core::Stream;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams, ResourceExt, WatchEvent, WatchParams};
use orchestrator_core::cluster::{
    Cluster, ContainerResources, Hpa, RolloutStatus, WorkloadKind, WorkloadRef, WorkloadState,
    WriteOptions,
};
use orchestrator_core::conformance;
use serde_json::{Value, json};

use crate::fake::FakeApiServer;
use crate::{KubeCluster, REVISION_ANNOTATION};

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

/// Deletes the fixture workloads and the suite's HPA, those that exist (a Deployment's
/// ReplicaSets and pods go with it, in the background).
async fn delete_fixtures(client: &kube::Client, namespace: &str, fixtures: &[WorkloadState]) {
    async fn delete<K>(api: Api<K>, name: &str)
    where
        K: Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(e) => panic!("deleting {name}: {e}"),
        }
    }
    for state in fixtures {
        let w = &state.workload;
        match w.kind {
            WorkloadKind::Deployment => {
                delete(
                    Api::<Deployment>::namespaced(client.clone(), &w.namespace),
                    &w.name,
                )
                .await;
            }
            WorkloadKind::StatefulSet => {
                delete(
                    Api::<StatefulSet>::namespaced(client.clone(), &w.namespace),
                    &w.name,
                )
                .await;
            }
        }
    }
    delete(
        Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), namespace),
        "web",
    )
    .await;
}

/// How long a watch for a controller to catch up may last (the API server ends it then).
const WATCH_SECONDS: u32 = 280;

/// Waits until `settled` holds for the object: checked on a read, then on every change a watch
/// from that read reports. No polling; a watch that ends first fails the test, naming the object.
async fn wait_until<K>(api: Api<K>, name: &str, settled: impl Fn(&K) -> bool)
where
    K: kube::Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
{
    let object = api
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("reading {name}: {e}"));
    if settled(&object) {
        return;
    }
    let version = object
        .resource_version()
        .expect("a stored object has a resourceVersion");
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(WATCH_SECONDS);
    let events = api
        .watch(&params, &version)
        .await
        .unwrap_or_else(|e| panic!("watching {name}: {e}"));
    let mut events = pin!(events);
    while let Some(event) = poll_fn(|cx| events.as_mut().poll_next(cx)).await {
        match event.unwrap_or_else(|e| panic!("watching {name}: {e}")) {
            WatchEvent::Added(o) | WatchEvent::Modified(o) if settled(&o) => return,
            WatchEvent::Deleted(_) => panic!("{name} was deleted while the suite ran"),
            WatchEvent::Error(status) => panic!("watching {name}: {status:?}"),
            _ => {}
        }
    }
    panic!("{name}: its controller did not catch up within {WATCH_SECONDS}s");
}

/// Waits until the workload's controller has acted on its current spec: observed the current
/// generation, and for a Deployment recorded the revision of the current template. A live
/// cluster's controllers act after a write returns; the suite reads right after writing.
async fn settle(client: &kube::Client, workload: &WorkloadRef) {
    let (ns, name) = (&workload.namespace, &workload.name);
    match workload.kind {
        WorkloadKind::Deployment => {
            wait_until(
                Api::<Deployment>::namespaced(client.clone(), ns),
                name,
                |d| {
                    let observed = d.status.as_ref().and_then(|s| s.observed_generation);
                    observed >= d.metadata.generation
                        && d.annotations().contains_key(REVISION_ANNOTATION)
                },
            )
            .await;
        }
        WorkloadKind::StatefulSet => {
            wait_until(
                Api::<StatefulSet>::namespaced(client.clone(), ns),
                name,
                |s| s.status.as_ref().and_then(|s| s.observed_generation) >= s.metadata.generation,
            )
            .await;
        }
    }
}

/// `KubeCluster`, waiting after each write to a workload until its controller has acted on it
/// ([`settle`]). Over the fake, whose controllers act at once, that is one read.
struct SettledCluster {
    cluster: KubeCluster,
    client: kube::Client,
}

impl std::fmt::Debug for SettledCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettledCluster").finish_non_exhaustive()
    }
}

impl SettledCluster {
    async fn settled(
        &self,
        workload: &WorkloadRef,
        options: WriteOptions,
        written: orchestrator_core::Result<()>,
    ) -> orchestrator_core::Result<()> {
        if written.is_ok() && !options.dry_run {
            settle(&self.client, workload).await;
        }
        written
    }
}

#[async_trait]
impl Cluster for SettledCluster {
    fn backend(&self) -> &'static str {
        self.cluster.backend()
    }

    async fn workload(
        &self,
        workload: &WorkloadRef,
    ) -> orchestrator_core::Result<Option<WorkloadState>> {
        self.cluster.workload(workload).await
    }

    async fn rollout_status(
        &self,
        workload: &WorkloadRef,
    ) -> orchestrator_core::Result<Option<RolloutStatus>> {
        self.cluster.rollout_status(workload).await
    }

    async fn scale(
        &self,
        workload: &WorkloadRef,
        replicas: i32,
        options: WriteOptions,
    ) -> orchestrator_core::Result<()> {
        let written = self.cluster.scale(workload, replicas, options).await;
        self.settled(workload, options, written).await
    }

    async fn set_resources(
        &self,
        workload: &WorkloadRef,
        containers: &[ContainerResources],
        options: WriteOptions,
    ) -> orchestrator_core::Result<()> {
        let written = self
            .cluster
            .set_resources(workload, containers, options)
            .await;
        self.settled(workload, options, written).await
    }

    async fn hpa(&self, namespace: &str, name: &str) -> orchestrator_core::Result<Option<Hpa>> {
        self.cluster.hpa(namespace, name).await
    }

    async fn apply_hpa(&self, hpa: &Hpa, options: WriteOptions) -> orchestrator_core::Result<()> {
        self.cluster.apply_hpa(hpa, options).await
    }

    async fn delete_hpa(
        &self,
        namespace: &str,
        name: &str,
        options: WriteOptions,
    ) -> orchestrator_core::Result<()> {
        self.cluster.delete_hpa(namespace, name, options).await
    }

    async fn undo_to_revision(
        &self,
        workload: &WorkloadRef,
        revision: i64,
        options: WriteOptions,
    ) -> orchestrator_core::Result<()> {
        let written = self
            .cluster
            .undo_to_revision(workload, revision, options)
            .await;
        self.settled(workload, options, written).await
    }
}

/// The conformance run on the cluster `client` reaches, in `namespace`: removes what an earlier
/// run may have left, creates the fixtures and waits for their controllers, runs the whole suite,
/// and deletes the fixtures again whether it passed or not.
async fn conformance_run(client: kube::Client, namespace: &str) {
    let fixtures = conformance::cluster::fixtures_in(namespace);
    delete_fixtures(&client, namespace, &fixtures).await;
    create_fixtures(&client, &fixtures).await;
    for state in &fixtures {
        settle(&client, &state.workload).await;
    }
    let cluster = SettledCluster {
        cluster: KubeCluster::new(client.clone()),
        client: client.clone(),
    };
    let suite_namespace = namespace.to_owned();
    let outcome = tokio::spawn(async move {
        conformance::cluster::run_all_in(&cluster, &suite_namespace).await;
    })
    .await;
    delete_fixtures(&client, namespace, &fixtures).await;
    match outcome {
        Ok(()) => {}
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the suite did not finish: {e}"),
    }
}

#[tokio::test]
async fn passes_the_cluster_conformance_suite_over_the_fake_api_server() {
    let server = FakeApiServer::new();
    let namespace = conformance::cluster::NAMESPACE;
    conformance_run(server.client(), namespace).await;
    assert_eq!(server.unsupported(), Vec::<String>::new());
    // The run cleaned up after itself: nothing is left, ReplicaSets included.
    let client = server.client();
    let left = (
        Api::<Deployment>::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        Api::<StatefulSet>::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        Api::<ReplicaSet>::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        Api::<HorizontalPodAutoscaler>::namespaced(client, namespace)
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
    );
    assert_eq!(left, (0, 0, 0, 0));
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster: ORCHESTRATOR_TEST_KUBE_NAMESPACE"]
async fn passes_the_cluster_conformance_suite_on_a_live_cluster() {
    let namespace = std::env::var("ORCHESTRATOR_TEST_KUBE_NAMESPACE")
        .expect("ORCHESTRATOR_TEST_KUBE_NAMESPACE names an existing namespace to run in");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = kube::Client::try_default()
        .await
        .expect("a client from the kubeconfig (or in-cluster config)");
    conformance_run(client, &namespace).await;
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

/// The live run's wait, over kube's mock transport (the fake converges at once, so never
/// watches): a read that is not settled yet, then a watch from that read's version until an event
/// shows the controller caught up.
#[tokio::test]
async fn settling_watches_from_the_read_until_the_controller_catches_up() {
    use http::{Request, Response};
    use kube::client::Body;

    let deployment = |resource_version: &str, observed: i64, revision: Option<&str>| {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "generation": 2,
                         "resourceVersion": resource_version},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "app"}]}}},
            "status": {"observedGeneration": observed},
        });
        if let Some(revision) = revision {
            d["metadata"]["annotations"] = json!({ REVISION_ANNOTATION: revision });
        }
        d
    };
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        let (request, send) = handle.next_request().await.expect("the read");
        assert_eq!(
            request.uri().to_string(),
            "/apis/apps/v1/namespaces/ns/deployments/web"
        );
        send.send_response(
            Response::builder()
                .body(Body::from(
                    deployment("5", 1, Some("1")).to_string().into_bytes(),
                ))
                .expect("a response"),
        );
        let (request, send) = handle.next_request().await.expect("the watch");
        assert_eq!(
            request.uri().to_string(),
            "/apis/apps/v1/namespaces/ns/deployments?&watch=true&timeoutSeconds=280\
             &fieldSelector=metadata.name%3Dweb&allowWatchBookmarks=true&resourceVersion=5"
        );
        // Observed, but the revision of the new template is not recorded yet; then both.
        let events = [
            json!({"type": "MODIFIED", "object": deployment("6", 2, None)}),
            json!({"type": "MODIFIED", "object": deployment("7", 2, Some("2"))}),
        ]
        .iter()
        .map(|e| format!("{e}\n"))
        .collect::<String>();
        send.send_response(
            Response::builder()
                .body(Body::from(events.into_bytes()))
                .expect("a response"),
        );
    });
    let client = kube::Client::new(service, "default");
    let web = orchestrator_core::cluster::WorkloadRef::new(WorkloadKind::Deployment, "ns", "web");
    settle(&client, &web).await;
    server.await.expect("the read and the watch happened");
}
