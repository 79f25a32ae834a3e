//! The planner (snapshots of the seed's prod and staging plans), its renderings (the plan file,
//! SUMMARY.md, the pull request's description), its risks and notes, and its hash. Executing a
//! plan is tested in `execute/`.

use super::fixtures::{CREATED_AT, prod_cluster, prod_flags, prod_plan, staging_flags, strings};
use super::*;

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
