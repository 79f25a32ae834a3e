//! `KubeCluster` over kube's mock transport: the exact requests for each operation.

use http::{Request, Response};
use kube::client::Body;
use orchestrator_core::cluster::{
    Cluster, ContainerResources, Hpa, RolloutCondition, RolloutProgress, RolloutStatus,
    WorkloadKind, WorkloadRef, WriteOptions,
};
use serde_json::{Value, json};

use super::KubeCluster;

/// One expected request and the canned answer.
struct Exchange {
    method: &'static str,
    uri: &'static str,
    body: Option<Value>,
    status: u16,
    response: Value,
}

fn ex(method: &'static str, uri: &'static str, body: Option<Value>, response: Value) -> Exchange {
    Exchange {
        method,
        uri,
        body,
        status: 200,
        response,
    }
}

/// A cluster whose transport answers `script` in order and asserts each request; the returned
/// handle finishes when every exchange happened.
fn scripted(script: Vec<Exchange>) -> (KubeCluster, tokio::task::JoinHandle<()>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        for expected in script {
            let (request, send) = handle.next_request().await.expect("a request");
            assert_eq!(
                (
                    request.method().as_str(),
                    request.uri().to_string().as_str()
                ),
                (expected.method, expected.uri)
            );
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .expect("request body");
            match expected.body {
                Some(body) => {
                    let sent: Value = serde_json::from_slice(&bytes).expect("a JSON body");
                    assert_eq!(sent, body, "body of {} {}", expected.method, expected.uri);
                }
                None => assert!(
                    bytes.is_empty(),
                    "{} {} has no body",
                    expected.method,
                    expected.uri
                ),
            }
            send.send_response(
                Response::builder()
                    .status(expected.status)
                    .body(Body::from(expected.response.to_string().into_bytes()))
                    .expect("a response"),
            );
        }
    });
    (
        KubeCluster::new(kube::Client::new(service, "default")),
        server,
    )
}

fn web() -> WorkloadRef {
    WorkloadRef::new(WorkloadKind::Deployment, "assistant", "web")
}

const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/assistant/deployments/web";
const HPA: &str = "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers/web";

fn deployment(revision: &str, cpu: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "assistant", "uid": "uid-web", "resourceVersion": "10",
                     "annotations": {"deployment.kubernetes.io/revision": revision}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "web:2",
                                  "resources": {"requests": {"cpu": cpu, "memory": "512Mi"},
                                                "limits": {"cpu": "500m", "memory": "1Gi"}}}]}}}
    })
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
           "message": "not found", "code": 404})
}

fn list(cpu: &str, mem: &str) -> orchestrator_core::cluster::ResourceList {
    [
        ("cpu".to_owned(), cpu.to_owned()),
        ("memory".to_owned(), mem.to_owned()),
    ]
    .into_iter()
    .collect()
}

#[tokio::test]
async fn reads_a_deployment_with_its_revision() {
    let (cluster, server) = scripted(vec![ex("GET", DEPLOYMENT, None, deployment("3", "250m"))]);
    let state = cluster
        .workload(&web())
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(state.replicas, 3);
    assert_eq!(state.revision, Some(3));
    assert_eq!(
        state.containers,
        vec![ContainerResources {
            name: "web".into(),
            requests: list("250m", "512Mi"),
            limits: list("500m", "1Gi")
        }]
    );
    server.await.expect("script done");
}

#[tokio::test]
async fn an_absent_workload_is_none() {
    let (cluster, server) = scripted(vec![Exchange {
        status: 404,
        ..ex("GET", DEPLOYMENT, None, not_found())
    }]);
    assert_eq!(cluster.workload(&web()).await.expect("read"), None);
    server.await.expect("script done");
}

#[tokio::test]
async fn scale_patches_the_scale_subresource() {
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 6}});
    let (cluster, server) = scripted(vec![
        ex(
            "PATCH",
            "/apis/apps/v1/namespaces/assistant/deployments/web/scale?&fieldManager=orchestrator",
            Some(json!({"spec": {"replicas": 6}})),
            scale.clone(),
        ),
        ex(
            "PATCH",
            "/apis/apps/v1/namespaces/assistant/deployments/web/scale?&dryRun=All&fieldManager=orchestrator",
            Some(json!({"spec": {"replicas": 6}})),
            scale,
        ),
    ]);
    cluster
        .scale(&web(), 6, WriteOptions::default())
        .await
        .expect("scale");
    cluster
        .scale(&web(), 6, WriteOptions::dry_run())
        .await
        .expect("dry-run scale");
    server.await.expect("script done");
}

#[tokio::test]
async fn set_resources_sends_a_strategic_merge_patch_removing_absent_keys() {
    let (cluster, server) = scripted(vec![
        ex("GET", DEPLOYMENT, None, deployment("3", "250m")),
        ex(
            "PATCH",
            "/apis/apps/v1/namespaces/assistant/deployments/web?&dryRun=All&fieldManager=orchestrator",
            Some(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": null, "memory": "2Gi"}}}]}}}}),
            ),
            deployment("3", "250m"),
        ),
    ]);
    let wanted = ContainerResources {
        name: "web".into(),
        requests: list("500m", "1Gi"),
        limits: [("memory".to_owned(), "2Gi".to_owned())]
            .into_iter()
            .collect(),
    };
    cluster
        .set_resources(&web(), &[wanted], WriteOptions::dry_run())
        .await
        .expect("patch");
    server.await.expect("script done");
}

fn hpa() -> Hpa {
    Hpa {
        namespace: "assistant".into(),
        name: "web".into(),
        target_kind: WorkloadKind::Deployment,
        target_name: "web".into(),
        min_replicas: 4,
        max_replicas: 12,
        target_cpu_percent: Some(65),
    }
}

fn hpa_json(resource_version: Option<&str>) -> Value {
    let mut metadata = json!({"name": "web", "namespace": "assistant"});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv);
    }
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 4, "maxReplicas": 12,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 65}}}]
        }
    })
}

#[tokio::test]
async fn hpa_is_created_replaced_and_deleted() {
    let (cluster, server) = scripted(vec![
        // Create: absent, so POST.
        Exchange {
            status: 404,
            ..ex("GET", HPA, None, not_found())
        },
        ex(
            "POST",
            "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers?&fieldManager=orchestrator",
            Some(hpa_json(None)),
            hpa_json(Some("1")),
        ),
        // Replace: present, so PUT at the read resourceVersion.
        ex("GET", HPA, None, hpa_json(Some("7"))),
        ex(
            "PUT",
            "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers/web?&fieldManager=orchestrator",
            Some(hpa_json(Some("7"))),
            hpa_json(Some("8")),
        ),
        // Read back.
        ex("GET", HPA, None, hpa_json(Some("8"))),
        // Delete (dry run, then for real).
        // kube sends a delete's dry run in the DeleteOptions body, as the API allows.
        ex(
            "DELETE",
            "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers/web?",
            Some(json!({"dryRun": ["All"]})),
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}),
        ),
        ex(
            "DELETE",
            "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers/web?",
            Some(json!({})),
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}),
        ),
    ]);
    cluster
        .apply_hpa(&hpa(), WriteOptions::default())
        .await
        .expect("create");
    cluster
        .apply_hpa(&hpa(), WriteOptions::default())
        .await
        .expect("replace");
    assert_eq!(
        cluster.hpa("assistant", "web").await.expect("read"),
        Some(hpa())
    );
    cluster
        .delete_hpa("assistant", "web", WriteOptions::dry_run())
        .await
        .expect("dry-run delete");
    cluster
        .delete_hpa("assistant", "web", WriteOptions::default())
        .await
        .expect("delete");
    server.await.expect("script done");
}

fn conflict() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict",
           "message": "the object has been modified", "code": 409})
}

#[tokio::test]
async fn an_hpa_replace_that_conflicts_reads_again_and_retries() {
    const PUT: &str = "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers/web?&fieldManager=orchestrator";
    let (cluster, server) = scripted(vec![
        ex("GET", HPA, None, hpa_json(Some("7"))),
        // The HPA controller wrote status in between.
        Exchange {
            status: 409,
            ..ex("PUT", PUT, Some(hpa_json(Some("7"))), conflict())
        },
        ex("GET", HPA, None, hpa_json(Some("8"))),
        ex("PUT", PUT, Some(hpa_json(Some("8"))), hpa_json(Some("9"))),
    ]);
    cluster
        .apply_hpa(&hpa(), WriteOptions::default())
        .await
        .expect("replace");
    server.await.expect("script done");
}

#[tokio::test]
async fn an_hpa_created_meanwhile_is_read_and_replaced() {
    let (cluster, server) = scripted(vec![
        Exchange {
            status: 404,
            ..ex("GET", HPA, None, not_found())
        },
        Exchange {
            status: 409,
            ..ex(
                "POST",
                "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers?&fieldManager=orchestrator",
                Some(hpa_json(None)),
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "reason": "AlreadyExists", "message": "already exists", "code": 409}),
            )
        },
        ex("GET", HPA, None, hpa_json(Some("3"))),
        ex(
            "PUT",
            "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers/web?&fieldManager=orchestrator",
            Some(hpa_json(Some("3"))),
            hpa_json(Some("4")),
        ),
    ]);
    cluster
        .apply_hpa(&hpa(), WriteOptions::default())
        .await
        .expect("create or replace");
    server.await.expect("script done");
}

#[tokio::test]
async fn a_conflict_on_every_try_is_a_conflict_after_five() {
    const PUT: &str = "/apis/autoscaling/v2/namespaces/assistant/horizontalpodautoscalers/web?&fieldManager=orchestrator";
    let script = (0..5)
        .flat_map(|_| {
            [
                ex("GET", HPA, None, hpa_json(Some("7"))),
                Exchange {
                    status: 409,
                    ..ex("PUT", PUT, Some(hpa_json(Some("7"))), conflict())
                },
            ]
        })
        .collect();
    let (cluster, server) = scripted(script);
    let err = cluster
        .apply_hpa(&hpa(), WriteOptions::default())
        .await
        .expect_err("conflicts every time");
    assert!(
        matches!(err, orchestrator_core::Error::Conflict { .. }),
        "{err}"
    );
    server.await.expect("script done");
}

#[tokio::test]
async fn undo_restores_the_template_of_the_recorded_revision() {
    let replicaset = |name: &str, revision: &str, cpu: &str, owner: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "assistant",
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner}]},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": name}},
                    "spec": {"containers": [{"name": "web", "image": "web:1",
                        "resources": {"requests": {"cpu": cpu, "memory": "512Mi"},
                                      "limits": {"cpu": "500m", "memory": "1Gi"}}}]}}}
        })
    };
    let mut restored = deployment("3", "100m");
    restored["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:1");
    let (cluster, server) = scripted(vec![
        ex("GET", DEPLOYMENT, None, deployment("3", "250m")),
        ex(
            "GET",
            "/apis/apps/v1/namespaces/assistant/replicasets?&labelSelector=app%3Dweb",
            None,
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {}, "items": [
                replicaset("web-3", "3", "250m", "uid-web"),
                replicaset("web-2", "2", "100m", "uid-web"),
                replicaset("other-2", "2", "999m", "uid-other"),
            ]}),
        ),
        ex(
            "PUT",
            "/apis/apps/v1/namespaces/assistant/deployments/web?&fieldManager=orchestrator",
            Some(restored.clone()),
            restored,
        ),
    ]);
    cluster
        .undo_to_revision(&web(), 2, WriteOptions::default())
        .await
        .expect("undo");
    server.await.expect("script done");
}

#[tokio::test]
async fn undo_starts_over_when_the_deployment_changed_since_it_was_read() {
    const PUT: &str =
        "/apis/apps/v1/namespaces/assistant/deployments/web?&fieldManager=orchestrator";
    const LIST: &str = "/apis/apps/v1/namespaces/assistant/replicasets?&labelSelector=app%3Dweb";
    let replicaset = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-2", "namespace": "assistant",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-web"}]},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "web-2"}},
                "spec": {"containers": [{"name": "web", "image": "web:2",
                    "resources": {"requests": {"cpu": "100m", "memory": "512Mi"},
                                  "limits": {"cpu": "500m", "memory": "1Gi"}}}]}}}
    });
    let sets = json!({"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {},
                      "items": [replicaset]});
    let restored = |rv: &str| {
        let mut d = deployment("3", "100m");
        d["metadata"]["resourceVersion"] = json!(rv);
        d
    };
    let mut newer = deployment("3", "250m");
    newer["metadata"]["resourceVersion"] = json!("11");
    let (cluster, server) = scripted(vec![
        ex("GET", DEPLOYMENT, None, deployment("3", "250m")),
        ex("GET", LIST, None, sets.clone()),
        // The Deployment controller wrote status in between.
        Exchange {
            status: 409,
            ..ex("PUT", PUT, Some(restored("10")), conflict())
        },
        ex("GET", DEPLOYMENT, None, newer),
        ex("GET", LIST, None, sets),
        ex("PUT", PUT, Some(restored("11")), restored("12")),
    ]);
    cluster
        .undo_to_revision(&web(), 2, WriteOptions::default())
        .await
        .expect("undo");
    server.await.expect("script done");
}

#[tokio::test]
async fn undo_to_a_missing_revision_is_not_found() {
    let (cluster, server) = scripted(vec![
        ex("GET", DEPLOYMENT, None, deployment("3", "250m")),
        ex(
            "GET",
            "/apis/apps/v1/namespaces/assistant/replicasets?&labelSelector=app%3Dweb",
            None,
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {}, "items": []}),
        ),
    ]);
    let err = cluster
        .undo_to_revision(&web(), 1, WriteOptions::default())
        .await
        .expect_err("absent");
    assert!(
        matches!(err, orchestrator_core::Error::NotFound { .. }),
        "{err}"
    );
    server.await.expect("script done");
}

#[tokio::test]
async fn rollout_status_reads_the_deployment_status() {
    let mut rolling = deployment("4", "250m");
    rolling["metadata"]["generation"] = json!(7);
    rolling["status"] = json!({
        "observedGeneration": 7, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3,
        "availableReplicas": 2, "unavailableReplicas": 2,
        "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
             "message": "Deployment does not have minimum availability."},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": "ReplicaSet \"web-5d8f\" has timed out progressing."}
        ]
    });
    let (cluster, server) = scripted(vec![
        ex("GET", DEPLOYMENT, None, rolling),
        Exchange {
            status: 404,
            ..ex("GET", DEPLOYMENT, None, not_found())
        },
    ]);
    let status = cluster
        .rollout_status(&web())
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        status,
        RolloutStatus {
            workload: web(),
            generation: 7,
            observed_generation: Some(7),
            desired_replicas: 3,
            replicas_to_update: 3,
            replicas: 4,
            updated_replicas: 3,
            ready_replicas: 3,
            available_replicas: 2,
            conditions: vec![
                RolloutCondition {
                    kind: "Available".into(),
                    status: "False".into(),
                    reason: Some("MinimumReplicasUnavailable".into()),
                    message: Some("Deployment does not have minimum availability.".into()),
                },
                RolloutCondition {
                    kind: "Progressing".into(),
                    status: "False".into(),
                    reason: Some("ProgressDeadlineExceeded".into()),
                    message: Some("ReplicaSet \"web-5d8f\" has timed out progressing.".into()),
                },
            ],
        }
    );
    assert_eq!(
        status.progress(),
        RolloutProgress::Failed(
            "progress deadline exceeded (ReplicaSet \"web-5d8f\" has timed out progressing.): \
             1 replica pending termination"
                .into()
        )
    );
    assert_eq!(cluster.rollout_status(&web()).await.expect("read"), None);
    server.await.expect("script done");
}

#[tokio::test]
async fn rollout_status_of_a_new_deployment_has_no_observed_generation() {
    let mut fresh = deployment("1", "250m");
    fresh["metadata"]["generation"] = json!(1);
    let (cluster, server) = scripted(vec![ex("GET", DEPLOYMENT, None, fresh)]);
    let status = cluster
        .rollout_status(&web())
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (
            status.observed_generation,
            status.updated_replicas,
            status.progress()
        ),
        (
            None,
            0,
            RolloutProgress::Progressing("the controller to observe generation 1".into())
        )
    );
    server.await.expect("script done");
}

#[tokio::test]
async fn rollout_status_of_a_statefulset_honours_its_update_strategy() {
    let sts = |strategy: Value| {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "assistant", "generation": 3},
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                     "updateStrategy": strategy,
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "db", "image": "db:1"}]}}},
            "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 1,
                       "readyReplicas": 3, "availableReplicas": 3,
                       "currentRevision": "db-1", "updateRevision": "db-2"}
        })
    };
    const STS: &str = "/apis/apps/v1/namespaces/assistant/statefulsets/db";
    let (cluster, server) = scripted(vec![
        ex("GET", STS, None, sts(json!({"type": "RollingUpdate"}))),
        ex(
            "GET",
            STS,
            None,
            sts(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})),
        ),
        ex("GET", STS, None, sts(json!({"type": "OnDelete"}))),
    ]);
    let db = WorkloadRef::new(WorkloadKind::StatefulSet, "assistant", "db");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let status = cluster
            .rollout_status(&db)
            .await
            .expect("read")
            .expect("exists");
        seen.push((status.replicas_to_update, status.progress()));
    }
    assert_eq!(
        seen,
        vec![
            (
                3,
                RolloutProgress::Progressing("2 of 3 replicas not updated".into())
            ),
            (1, RolloutProgress::Complete),
            (0, RolloutProgress::Complete),
        ]
    );
    server.await.expect("script done");
}
