//! The fake API server itself, driven through kube: the Kubernetes semantics the conformance suite
//! relies on, each checked once here so a conformance failure points at the adapter, not the fake.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::FakeApiServer;
use crate::REVISION_ANNOTATION;

fn web(cpu: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "app:1",
                                  "resources": {"requests": {"cpu": cpu}}}]}}}
    }))
    .expect("a Deployment")
}

fn api<K>(server: &FakeApiServer) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    Api::namespaced(server.client(), "ns")
}

fn revision(meta: &kube::api::ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)
        .map(String::as_str)
}

fn api_error(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(status) => (status.code, status.reason),
        other => panic!("not an API error: {other}"),
    }
}

/// The ReplicaSets of `web` as (revision, cpu request, replicas), by revision.
async fn replicasets(server: &FakeApiServer) -> Vec<(String, String, i32)> {
    let mut sets: Vec<_> = api::<ReplicaSet>(server)
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|rs| {
            let template = rs.spec.template.as_ref();
            assert!(
                template
                    .and_then(|t| t.metadata.as_ref())
                    .and_then(|m| m.labels.as_ref())
                    .is_some_and(|l| l.contains_key("pod-template-hash")),
                "a ReplicaSet's template carries pod-template-hash"
            );
            let cpu = template
                .and_then(|t| t.spec.as_ref())
                .and_then(|s| s.containers[0].resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .map(|r| r["cpu"].0.clone())
                .unwrap_or_default();
            (
                revision(&rs.metadata).unwrap_or_default().to_owned(),
                cpu,
                rs.spec.replicas.unwrap_or_default(),
            )
        })
        .collect();
    sets.sort();
    sets
}

#[tokio::test]
async fn a_missing_object_is_a_not_found_status_and_creating_twice_conflicts() {
    let server = FakeApiServer::new();
    let deployments = api::<Deployment>(&server);
    let err = deployments.get("web").await.expect_err("absent");
    assert_eq!(api_error(err), (404, "NotFound".into()));
    assert!(deployments.get_opt("web").await.expect("read").is_none());
    deployments
        .create(&PostParams::default(), &web("100m"))
        .await
        .expect("create");
    let err = deployments
        .create(&PostParams::default(), &web("100m"))
        .await
        .expect_err("exists");
    assert_eq!(api_error(err), (409, "AlreadyExists".into()));
}

#[tokio::test]
async fn a_template_change_makes_a_new_revision_and_a_scale_does_not() {
    let server = FakeApiServer::new();
    let deployments = api::<Deployment>(&server);
    let created = deployments
        .create(&PostParams::default(), &web("100m"))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(revision(&created.metadata), Some("1"));
    assert_eq!(
        replicasets(&server).await,
        vec![("1".into(), "100m".into(), 2)]
    );

    let params = PatchParams::default();
    deployments
        .patch_scale(
            "web",
            &params,
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale");
    let scaled = deployments.get("web").await.expect("read");
    assert_eq!(scaled.metadata.generation, Some(2));
    assert_eq!(revision(&scaled.metadata), Some("1"));
    assert_eq!(
        replicasets(&server).await,
        vec![("1".into(), "100m".into(), 5)]
    );

    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "resources": {"requests": {"cpu": "300m"}}}]}}}});
    let patched = deployments
        .patch("web", &params, &Patch::Strategic(patch))
        .await
        .expect("patch");
    assert_eq!(patched.metadata.generation, Some(3));
    assert_eq!(revision(&patched.metadata), Some("2"));
    // The container was merged by name: its image is still there.
    assert_eq!(
        patched
            .spec
            .template
            .spec
            .as_ref()
            .expect("pod spec")
            .containers[0]
            .image
            .as_deref(),
        Some("app:1")
    );
    let status = patched.status.clone().expect("a converged status");
    assert_eq!(
        (status.observed_generation, status.updated_replicas),
        (Some(3), Some(5))
    );
    assert_eq!(
        replicasets(&server).await,
        vec![
            ("1".into(), "100m".into(), 0),
            ("2".into(), "300m".into(), 5)
        ]
    );

    // Putting the first template back takes its ReplicaSet over with the next revision.
    let mut back = patched.clone();
    back.status = None;
    back.spec.template = web("100m").spec.template;
    let undone = deployments
        .replace("web", &PostParams::default(), &back)
        .await
        .expect("replace");
    assert_eq!(revision(&undone.metadata), Some("3"));
    assert_eq!(
        replicasets(&server).await,
        vec![
            ("2".into(), "300m".into(), 0),
            ("3".into(), "100m".into(), 5)
        ]
    );

    // An unchanged object keeps its generation and resourceVersion.
    let again = deployments
        .patch_scale(
            "web",
            &params,
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("same scale");
    assert_eq!(
        again.metadata.resource_version,
        deployments
            .get("web")
            .await
            .expect("read")
            .metadata
            .resource_version
    );
    assert_eq!(
        deployments
            .get("web")
            .await
            .expect("read")
            .metadata
            .generation,
        undone.metadata.generation
    );
}

#[tokio::test]
async fn a_stale_resource_version_conflicts() {
    let server = FakeApiServer::new();
    let deployments = api::<Deployment>(&server);
    let created = deployments
        .create(&PostParams::default(), &web("100m"))
        .await
        .expect("create");
    deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    let err = deployments
        .replace("web", &PostParams::default(), &created)
        .await
        .expect_err("stale");
    assert_eq!(api_error(err), (409, "Conflict".into()));
}

#[tokio::test]
async fn a_dry_run_answers_the_would_be_object_and_stores_nothing() {
    let server = FakeApiServer::new();
    let deployments = api::<Deployment>(&server);
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let would_be = deployments
        .create(&dry, &web("100m"))
        .await
        .expect("dry create");
    assert_eq!(would_be.metadata.generation, Some(1));
    assert!(deployments.get_opt("web").await.expect("read").is_none());

    let stored = deployments
        .create(&PostParams::default(), &web("100m"))
        .await
        .expect("create");
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "resources": {"requests": {"cpu": "300m"}}}]}}}});
    let would_be = deployments
        .patch(
            "web",
            &PatchParams::default().dry_run(),
            &Patch::Strategic(patch),
        )
        .await
        .expect("dry patch");
    assert_eq!(would_be.metadata.generation, Some(2));
    let after = deployments.get("web").await.expect("read");
    assert_eq!(after, stored);
    assert_eq!(replicasets(&server).await.len(), 1);

    let hpas = api::<HorizontalPodAutoscaler>(&server);
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4}
    }))
    .expect("an HPA");
    hpas.create(&PostParams::default(), &hpa)
        .await
        .expect("create");
    hpas.delete("web", &DeleteParams::default().dry_run())
        .await
        .expect("dry delete");
    assert!(hpas.get_opt("web").await.expect("read").is_some());
    hpas.delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(hpas.get_opt("web").await.expect("read").is_none());
}

#[tokio::test]
async fn an_hpa_gets_the_api_servers_defaults_and_validation() {
    let server = FakeApiServer::new();
    let hpas = api::<HorizontalPodAutoscaler>(&server);
    let hpa = |spec: Value| -> HorizontalPodAutoscaler {
        serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": spec})).expect("an HPA")
    };
    let created = hpas
        .create(
            &PostParams::default(),
            &hpa(
                json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4}),
            ),
        )
        .await
        .expect("create");
    let spec = serde_json::to_value(created.spec).expect("json");
    assert_eq!(spec["minReplicas"], json!(1));
    assert_eq!(
        spec["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
    hpas.delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    let target = json!({"kind": "Deployment", "name": "web"});
    for spec in [
        json!({"scaleTargetRef": target, "minReplicas": 0, "maxReplicas": 4}),
        json!({"scaleTargetRef": target, "minReplicas": 5, "maxReplicas": 4}),
    ] {
        let err = hpas
            .create(&PostParams::default(), &hpa(spec))
            .await
            .expect_err("invalid");
        assert_eq!(api_error(err), (422, "Invalid".into()));
    }
}

#[tokio::test]
async fn deleting_a_deployment_deletes_its_replicasets() {
    let server = FakeApiServer::new();
    let deployments = api::<Deployment>(&server);
    deployments
        .create(&PostParams::default(), &web("100m"))
        .await
        .expect("create");
    assert_eq!(replicasets(&server).await.len(), 1);
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(replicasets(&server).await, vec![]);
    let err = deployments
        .delete("web", &DeleteParams::default())
        .await
        .expect_err("absent");
    assert_eq!(api_error(err), (404, "NotFound".into()));
}

#[tokio::test]
async fn what_it_does_not_implement_fails_and_is_recorded() {
    let server = FakeApiServer::new();
    let deployments = api::<Deployment>(&server);
    deployments
        .create(&PostParams::default(), &web("100m"))
        .await
        .expect("create");
    let err = deployments
        .patch(
            "web",
            &PatchParams::apply("test"),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment"})),
        )
        .await
        .expect_err("server-side apply is not implemented");
    assert_eq!(api_error(err).0, 415);
    assert_eq!(
        server.unsupported(),
        vec![
            "PATCH /apis/apps/v1/namespaces/ns/deployments/web?&fieldManager=test \
             (application/apply-patch+yaml)"
                .to_owned()
        ]
    );
    assert_eq!(server.requests().len(), 2);
}
