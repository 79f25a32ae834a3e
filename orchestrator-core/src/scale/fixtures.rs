//! Fixtures the scale tests share: the seed's prod and staging flags, the prod namespace as an
//! in-memory cluster and its plan, and a plan pull request on the in-memory forge ([`World`]).

use crate::forge::prelude::*;
use std::sync::Arc;

use crate::cluster::{
    ContainerResources, Hpa, InMemoryCluster, WorkloadKind, WorkloadRef, WorkloadState,
};
use crate::forge::{InMemoryForge, NewPullRequest, Permission, RepoId, ReviewState};
use crate::scale::execute::ScaleExecutor;
use crate::scale::lock::lock_marker;
use crate::scale::propose::pr_body;
use crate::scale::review::{ApprovalPolicy, CommandOutcome, CommentEvent, handle_comment};
use crate::scale::{ScaleFlags, ScalePlan};
use crate::state::MemoryStateStore;

pub(crate) const CREATED_AT: &str = "2025-10-11T00:00:00Z";

pub(crate) fn strings(values: &[&str]) -> Vec<String> {
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
pub(crate) fn staging_flags() -> ScaleFlags {
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

pub(crate) fn container(name: &str, rc: &str, rm: &str, lc: &str, lm: &str) -> ContainerResources {
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

pub(crate) fn executor(cluster: &Arc<InMemoryCluster>) -> ScaleExecutor {
    ScaleExecutor::new(cluster.clone(), Arc::new(MemoryStateStore::default()))
}

pub(crate) fn web() -> WorkloadRef {
    WorkloadRef::new(WorkloadKind::Deployment, "assistant", "web")
}

pub(crate) fn api() -> WorkloadRef {
    WorkloadRef::new(WorkloadKind::Deployment, "assistant", "api")
}

pub(crate) const BOT: &str = "github-actions[bot]";
pub(crate) const BASE: &str = "base0000000000";
pub(crate) const HEAD: &str = "head1111111111";

/// A plan pull request on the in-memory forge, the people on its repository and the cluster
/// it changes.
pub(crate) struct World {
    pub(crate) forge: InMemoryForge,
    pub(crate) cluster: Arc<InMemoryCluster>,
    pub(crate) plan: ScalePlan,
    pub(crate) repo: RepoId,
    pub(crate) number: u64,
}

pub(crate) fn plan_path() -> String {
    "ops/plans/infra-scale/prod/plan.yaml".to_owned()
}

impl World {
    /// The nightly flow: the bot opened the plan PR from its own commit; `maint` (maintain),
    /// `dev` and `mallory` (write), `reader` (read) and `lead` (admin) are people on the repo.
    pub(crate) async fn new() -> Self {
        Self::opened_by(BOT).await
    }

    pub(crate) async fn opened_by(author: &str) -> Self {
        let forge = InMemoryForge::new();
        let repo = RepoId::new("ledger-mind", "website");
        let cluster = Arc::new(prod_cluster());
        let plan = prod_plan(&cluster).await;
        forge.set_branch_head(&repo, "main", BASE);
        forge.set_branch_head(&repo, "infra-scale/prod", HEAD);
        forge.set_user(author);
        let pr = forge
            .create_pull_request(
                &repo,
                &NewPullRequest {
                    title: "Infra scale plan: prod".into(),
                    body: format!("{}\n{}\n", pr_body(&plan), lock_marker(&plan)),
                    head: "infra-scale/prod".into(),
                    base: "main".into(),
                    draft: true,
                },
            )
            .await
            .expect("pull request");
        forge.set_user(BOT);
        forge
            .set_pull_files(
                &repo,
                pr.number,
                &[&plan_path(), "ops/plans/infra-scale/prod/SUMMARY.md"],
            )
            .expect("files");
        forge.set_file(&repo, HEAD, &plan_path(), plan.to_yaml().as_bytes());
        for (user, permission) in [
            ("maint", Permission::Maintain),
            ("dev", Permission::Write),
            ("mallory", Permission::Write),
            ("reader", Permission::Read),
            ("lead", Permission::Admin),
        ] {
            forge.set_permission(&repo, user, permission);
        }
        Self {
            forge,
            cluster,
            plan,
            repo,
            number: pr.number,
        }
    }

    pub(crate) fn approve(&self, user: &str) {
        self.forge
            .review_as(&self.repo, self.number, user, ReviewState::Approved, "LGTM")
            .expect("review");
    }

    pub(crate) fn executor(&self) -> ScaleExecutor {
        ScaleExecutor::new(self.cluster.clone(), Arc::new(MemoryStateStore::default()))
            .with_rollout_wait(None)
    }

    /// `user` comments `body` and the workflow handles the `created` event.
    pub(crate) async fn command(&self, user: &str, body: &str) -> CommandOutcome {
        let comment = self
            .forge
            .comment_as(&self.repo, self.number, user, body)
            .expect("comment");
        self.handle(user, comment.id, body).await
    }

    pub(crate) async fn handle(&self, user: &str, comment_id: u64, body: &str) -> CommandOutcome {
        let event = CommentEvent {
            action: "created".into(),
            repo: self.repo.clone(),
            number: self.number,
            is_pull_request: true,
            commenter: user.into(),
            comment_id,
            body: body.into(),
        };
        handle_comment(
            &self.forge,
            &event,
            &ApprovalPolicy::default(),
            Some(&self.executor()),
        )
        .await
        .expect("handled")
    }

    pub(crate) fn replicas(&self, name: &str) -> i32 {
        self.cluster
            .snapshot()
            .workloads
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.replicas)
            .expect("workload")
    }

    pub(crate) async fn last_comment(&self) -> String {
        self.forge
            .list_comments(&self.repo, self.number)
            .await
            .expect("comments")
            .pop()
            .expect("a reply")
            .body
    }
}
