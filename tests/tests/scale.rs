//! The whole scale flow over the in-memory forge, the in-memory cluster and a real git clone with
//! a bare origin: plan, propose, a label or a typed marker approves nothing, a read-only
//! reviewer does not count, a maintainer's review does, a push after approval makes it stale,
//! `/apply-plan` applies in the same job, one person cannot roll back alone, a second person's
//! `/rollback-plan` restores the exact before state (the HPA that existed before is restored, not
//! deleted).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use orchestrator_core::Error;
use orchestrator_core::cluster::{
    Cluster, ContainerResources, Hpa, InMemoryCluster, WorkloadKind, WorkloadRef, WorkloadState,
};
use orchestrator_core::forge::{
    Fault, FaultRule, ForgeOp, InMemoryForge, IssueForge, Permission, PullRequestForge, RepoId,
    ReviewState,
};
use orchestrator_core::scale::execute::ScaleExecutor;
use orchestrator_core::scale::propose::{self, ProposeRequest};
use orchestrator_core::scale::review::{
    self, ApprovalPolicy, CommandOutcome, CommentEvent, DEFAULT_BOT, LABEL_EXECUTE,
    LABEL_NEEDS_APPROVAL, LABEL_ROLLBACK, PlanCommand,
};
use orchestrator_core::scale::{ScaleFlags, ScalePlan};
use orchestrator_core::state::MemoryStateStore;
use orchestrator_git::GixVcs;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A clone on `main` with one commit and a bare `origin`.
fn clone_with_origin(root: &Path) -> std::path::PathBuf {
    let origin = root.join("origin.git");
    let clone = root.join("website");
    std::fs::create_dir_all(&origin).expect("mkdir");
    std::fs::create_dir_all(&clone).expect("mkdir");
    git(&origin, &["init", "-q", "--bare", "-b", "main"]);
    git(&clone, &["init", "-q", "-b", "main"]);
    git(&clone, &["config", "user.name", "t"]);
    git(&clone, &["config", "user.email", "t@example.com"]);
    std::fs::write(clone.join("README.md"), "website\n").expect("write");
    git(&clone, &["add", "README.md"]);
    git(&clone, &["commit", "-q", "-m", "init"]);
    git(
        &clone,
        &[
            "remote",
            "add",
            "origin",
            origin.to_str().expect("utf-8 path"),
        ],
    );
    git(&clone, &["push", "-q", "origin", "main"]);
    clone
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

fn api_hpa() -> Hpa {
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

fn prod_cluster() -> InMemoryCluster {
    let cluster = InMemoryCluster::new();
    cluster.put_workload(WorkloadState {
        workload: WorkloadRef::new(WorkloadKind::Deployment, "assistant", "web"),
        replicas: 3,
        containers: vec![container("web", "250m", "512Mi", "500m", "1Gi")],
        revision: Some(2),
    });
    cluster.put_workload(WorkloadState {
        workload: WorkloadRef::new(WorkloadKind::Deployment, "assistant", "api"),
        replicas: 2,
        containers: vec![container("api", "200m", "512Mi", "500m", "1Gi")],
        revision: Some(7),
    });
    cluster.put_hpa(api_hpa());
    cluster
}

fn prod_flags() -> ScaleFlags {
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    ScaleFlags {
        target: "prod".into(),
        namespace: "assistant".into(),
        kube_context: Some("production".into()),
        workloads: s(&["Deployment:web:6", "Deployment:api:4"]),
        hpa: Some("min:4,max:12,cpu:65".into()),
        requests: s(&["web:cpu=500m,mem=1Gi", "api:cpu=400m,mem=1Gi"]),
        limits: s(&["web:cpu=1,mem=2Gi", "api:cpu=1,mem=2Gi"]),
        container: None,
    }
}

fn repo() -> RepoId {
    RepoId::new("ledger-mind", "website")
}

async fn comment(
    forge: &InMemoryForge,
    number: u64,
    author: &str,
    body: &str,
    executor: &ScaleExecutor,
) -> CommandOutcome {
    let c = forge
        .comment_as(&repo(), number, author, body)
        .expect("comment");
    let event = CommentEvent {
        action: "created".into(),
        repo: repo(),
        number,
        is_pull_request: true,
        commenter: author.into(),
        comment_id: c.id,
        body: body.into(),
    };
    review::handle_comment(forge, &event, &ApprovalPolicy::default(), Some(executor))
        .await
        .expect("handled")
}

async fn labels(forge: &InMemoryForge, number: u64) -> Vec<String> {
    let mut labels = forge
        .pull_request(&repo(), number)
        .await
        .expect("pr")
        .labels;
    labels.sort();
    labels
}

#[tokio::test]
async fn plan_propose_approve_apply_rollback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with_origin(dir.path());
    let cluster = Arc::new(prod_cluster());
    let before = cluster.snapshot();
    let plan = ScalePlan::build(
        &prod_flags().parse().expect("valid"),
        Some(cluster.as_ref()),
        "2025-10-11T00:00:00Z",
    )
    .await
    .expect("plan");

    // Propose as the developer who planned it.
    let forge = InMemoryForge::new();
    forge.set_user("dev");
    for (user, permission) in [
        ("dev", Permission::Write),
        ("reader", Permission::Read),
        ("maint", Permission::Maintain),
    ] {
        forge.set_permission(&repo(), user, permission);
    }
    let forge = Arc::new(forge);
    let proposal = propose::propose(
        forge.clone(),
        Arc::new(GixVcs::new()),
        Arc::new(MemoryStateStore::default()),
        &plan,
        &ProposeRequest {
            repo: repo(),
            clone: clone.clone(),
            remote: "origin".into(),
            base: None,
            policy: ApprovalPolicy::default(),
        },
    )
    .await
    .expect("propose");
    let pr = &proposal.pull_request;
    assert!(pr.draft);
    assert_eq!(pr.base_ref, "main");
    assert_eq!(pr.labels, [LABEL_NEEDS_APPROVAL]);
    assert!(
        pr.body
            .contains("| Scale | Deployment/web (ns: `assistant`) | replicas 3 → **6** |"),
        "{}",
        pr.body
    );
    assert!(
        pr.body
            .contains("| Deployment/web container `web` | requests.cpu | `250m` | **`500m`** |"),
        "{}",
        pr.body
    );
    assert_eq!(
        proposal.files,
        [
            "ops/plans/infra-scale/prod/plan.yaml",
            "ops/plans/infra-scale/prod/SUMMARY.md"
        ]
    );
    let pushed = git(
        &dir.path().join("origin.git"),
        &["rev-parse", &format!("refs/heads/{}", proposal.branch)],
    );
    assert_eq!(pushed, proposal.commit);
    let committed = git(
        &clone,
        &[
            "show",
            &format!("{}:ops/plans/infra-scale/prod/plan.yaml", proposal.commit),
        ],
    );
    assert_eq!(
        ScalePlan::from_yaml(&committed, "plan.yaml")
            .expect("parse")
            .hash(),
        plan.hash()
    );
    let comments = forge
        .list_comments(&repo(), pr.number)
        .await
        .expect("comments");
    assert!(comments[0].body.contains("Review Checklist"));

    // From here on the bot handles comments; the forge shows the pushed commit and its files.
    forge.set_user(DEFAULT_BOT);
    forge.set_permission(&repo(), "lead", Permission::Admin);
    let n = pr.number;
    let plan_path = "ops/plans/infra-scale/prod/plan.yaml";
    let show_commit = |sha: &str| {
        forge.set_file(&repo(), sha, plan_path, committed.as_bytes());
    };
    forge
        .push_to_pull_request_as(&repo(), n, &proposal.commit, "dev")
        .expect("the proposed commit");
    forge
        .set_pull_files(
            &repo(),
            n,
            &proposal
                .files
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .expect("files");
    show_commit(&proposal.commit);
    let executor = ScaleExecutor::new(cluster.clone(), Arc::new(MemoryStateStore::default()));

    // No approval yet, and a label added by hand approves nothing.
    forge
        .add_labels(&repo(), n, &[LABEL_EXECUTE.into()])
        .await
        .expect("label by hand");
    let outcome = comment(&forge, n, "maint", "/apply-plan", &executor).await;
    assert!(
        matches!(&outcome, CommandOutcome::Refused { reason, .. } if reason.contains("no qualified approval")),
        "{outcome:?}"
    );
    forge
        .remove_label(&repo(), n, LABEL_EXECUTE)
        .await
        .expect("unlabel");

    // A read-only user's review does not count; the author cannot approve at all (GitHub's rule).
    forge
        .review_as(&repo(), n, "reader", ReviewState::Approved, "")
        .expect("review");
    let outcome = comment(&forge, n, "maint", "/apply-plan", &executor).await;
    assert!(
        matches!(&outcome, CommandOutcome::Refused { reason, .. } if reason.contains("@reader has read permission")),
        "{outcome:?}"
    );
    assert!(
        forge
            .review_as(&repo(), n, "dev", ReviewState::Approved, "")
            .is_err()
    );

    // Someone types a marker into their own comment: it does not count.
    let head = forge.pull_request(&repo(), n).await.expect("pr").head_sha;
    forge.comment_as(&repo(), n, "reader", &format!("<!-- orchestrator:approval command=approve-plan hash={} head={head} approver=maint comment=1 -->", plan.hash())).expect("comment");
    let outcome = comment(&forge, n, "dev", "/apply-plan", &executor).await;
    assert!(
        matches!(outcome, CommandOutcome::Refused { .. }),
        "{outcome:?}"
    );
    assert_eq!(labels(&forge, n).await, [LABEL_NEEDS_APPROVAL]);

    // A maintainer approves with a review; a push after that makes it stale.
    forge
        .review_as(&repo(), n, "maint", ReviewState::Approved, "LGTM")
        .expect("review");
    let pushed = "f00dfeed00000000000000000000000000000000";
    forge
        .push_to_pull_request(&repo(), n, pushed)
        .expect("push");
    show_commit(pushed);
    let outcome = comment(&forge, n, "dev", "/apply-plan", &executor).await;
    assert!(
        matches!(&outcome, CommandOutcome::Refused { reason, .. } if reason.contains("head is now f00dfeed0000")),
        "{outcome:?}"
    );

    // Approved again at the new head: `/apply-plan` applies in the same job and reports.
    forge
        .review_as(&repo(), n, "maint", ReviewState::Approved, "still LGTM")
        .expect("review");
    let outcome = comment(&forge, n, "dev", "/apply-plan", &executor).await;
    assert_eq!(
        outcome,
        CommandOutcome::Executed {
            command: PlanCommand::ApplyPlan,
            plan_hash: plan.hash().into(),
            head_sha: pushed.into(),
            approvers: vec!["maint".into()],
            ok: true,
        }
    );
    let replies = forge.list_comments(&repo(), n).await.expect("comments");
    let reply = replies.last().expect("reply");
    assert_eq!(reply.author, DEFAULT_BOT);
    assert!(
        reply.body.contains("Deployment/web replicas: 3 → 6"),
        "{}",
        reply.body
    );
    assert_eq!(labels(&forge, n).await, [LABEL_EXECUTE]);
    let web = cluster
        .workload(&WorkloadRef::new(
            WorkloadKind::Deployment,
            "assistant",
            "web",
        ))
        .await
        .expect("read")
        .expect("web");
    assert_eq!(web.replicas, 6);
    assert_eq!(
        cluster
            .hpa("assistant", "web")
            .await
            .expect("read")
            .map(|h| h.max_replicas),
        Some(12)
    );

    // Roll back: a reader is refused, one maintainer alone is refused, a second person rolls back.
    let outcome = comment(&forge, n, "reader", "/rollback-plan", &executor).await;
    assert!(
        matches!(outcome, CommandOutcome::Refused { .. }),
        "{outcome:?}"
    );
    let outcome = comment(&forge, n, "maint", "/rollback-plan", &executor).await;
    assert!(
        matches!(&outcome, CommandOutcome::Refused { reason, .. } if reason.contains("needs a second person")),
        "{outcome:?}"
    );
    let outcome = comment(&forge, n, "lead", "/rollback-plan", &executor).await;
    assert!(
        matches!(
            &outcome,
            CommandOutcome::Executed {
                command: PlanCommand::RollbackPlan,
                ok: true,
                approvers,
                ..
            } if approvers == &["maint"]
        ),
        "{outcome:?}"
    );
    assert_eq!(labels(&forge, n).await, [LABEL_EXECUTE, LABEL_ROLLBACK]);

    // Exactly the before state: replicas, resources, and the HPA that existed before restored,
    // not deleted; the one the plan created is gone.
    let after = cluster.snapshot();
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
    assert_eq!(after.hpas, vec![api_hpa()]);
}

fn propose_request(clone: &Path, base: Option<&str>) -> ProposeRequest {
    ProposeRequest {
        repo: repo(),
        clone: clone.to_owned(),
        remote: "origin".into(),
        base: base.map(str::to_owned),
        policy: ApprovalPolicy::default(),
    }
}

async fn prod_plan_with(flags: ScaleFlags) -> ScalePlan {
    ScalePlan::build(
        &flags.parse().expect("valid"),
        Some(&prod_cluster()),
        "2025-10-11T00:00:00Z",
    )
    .await
    .expect("plan")
}

fn origin_branches(root: &Path) -> String {
    git(
        &root.join("origin.git"),
        &["for-each-ref", "--format=%(refname)", "refs/heads"],
    )
}

/// Issue 11: a rejected token used to push the branch and then exit 2 "nothing was changed".
/// The token is now checked before anything changes: no branch, locally or on the remote.
#[tokio::test]
async fn propose_checks_the_token_before_pushing_anything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with_origin(dir.path());
    let forge = Arc::new(InMemoryForge::new());
    // The first forge request fails as a rejected token does.
    forge.inject(FaultRule {
        op: None,
        repo: None,
        times: 1,
        fault: Fault::Unauthenticated,
    });
    let plan = prod_plan_with(prod_flags()).await;
    let err = propose::propose(
        forge.clone(),
        Arc::new(GixVcs::new()),
        Arc::new(MemoryStateStore::default()),
        &plan,
        &propose_request(&clone, None),
    )
    .await
    .expect_err("rejected token");
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err}");
    assert_eq!(
        origin_branches(dir.path()),
        "refs/heads/main",
        "nothing pushed"
    );
    assert_eq!(
        git(&clone, &["branch", "--format=%(refname:short)"]),
        "main",
        "no local branch either"
    );
}

/// Issue 11: a propose that failed after the push could never be retried (the branch existed).
/// It is journaled: running it again resumes, skipping the commit and the push.
#[tokio::test]
async fn a_propose_that_failed_after_the_push_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with_origin(dir.path());
    let forge = Arc::new(InMemoryForge::new());
    forge.inject(FaultRule {
        op: Some(ForgeOp::CreatePullRequest),
        repo: None,
        times: 1,
        fault: Fault::PermissionDenied,
    });
    let store: Arc<MemoryStateStore> = Arc::new(MemoryStateStore::default());
    let plan = prod_plan_with(prod_flags()).await;
    let run = |forge: Arc<InMemoryForge>, store: Arc<MemoryStateStore>| {
        let (plan, request) = (plan.clone(), propose_request(&clone, None));
        async move { propose::propose(forge, Arc::new(GixVcs::new()), store, &plan, &request).await }
    };
    let err = run(forge.clone(), store.clone())
        .await
        .expect_err("the PR could not be opened");
    assert!(
        err.to_string().contains("propose stopped at pull-request")
            && err.to_string().contains("run the same command again"),
        "{err}"
    );
    let branch = propose::proposal_branch(&plan);
    assert!(origin_branches(dir.path()).contains(&branch), "pushed");

    let proposal = run(forge.clone(), store.clone()).await.expect("resumed");
    assert_eq!(proposal.branch, branch);
    assert_eq!(proposal.pull_request.labels, [LABEL_NEEDS_APPROVAL]);
    let comments = forge
        .list_comments(&repo(), proposal.pull_request.number)
        .await
        .expect("comments");
    assert_eq!(comments.len(), 1, "one checklist");
    // A third call does not open a second PR for the same plan.
    let err = run(forge.clone(), store)
        .await
        .expect_err("already proposed");
    assert!(
        matches!(err, Error::AlreadyExists { .. }) && err.to_string().contains("#1"),
        "{err}"
    );
}

/// Issue 11: a second propose based its branch on the first proposal's branch (the clone's HEAD).
/// Every proposal starts from the remote's base branch.
#[tokio::test]
async fn a_second_proposal_starts_from_the_default_branch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with_origin(dir.path());
    let main = git(&clone, &["rev-parse", "main"]);
    let forge = Arc::new(InMemoryForge::new());
    let store = Arc::new(MemoryStateStore::default());
    let first = propose::propose(
        forge.clone(),
        Arc::new(GixVcs::new()),
        store.clone(),
        &prod_plan_with(prod_flags()).await,
        &propose_request(&clone, None),
    )
    .await
    .expect("first");
    // The first plan's PR holds the target; closing it releases the lock.
    forge
        .close_pull_request(&repo(), first.pull_request.number, false)
        .expect("close");
    // The clone is now on the first proposal's branch.
    let mut flags = prod_flags();
    flags.workloads = vec!["Deployment:web:8".into(), "Deployment:api:4".into()];
    let second_plan = prod_plan_with(flags).await;
    let err = propose::propose(
        forge.clone(),
        Arc::new(GixVcs::new()),
        store.clone(),
        &second_plan,
        &propose_request(&clone, None),
    )
    .await
    .expect_err("HEAD is a proposal branch");
    assert!(err.to_string().contains("pass --base BRANCH"), "{err}");
    let second = propose::propose(
        forge,
        Arc::new(GixVcs::new()),
        store,
        &second_plan,
        &propose_request(&clone, Some("main")),
    )
    .await
    .expect("second");
    assert_ne!(first.commit, second.commit);
    assert_eq!(
        git(&clone, &["rev-parse", &format!("{}^", second.commit)]),
        main,
        "the second proposal's parent is main, not the first proposal"
    );
    assert_eq!(second.pull_request.base_ref, "main");
    assert_eq!(
        propose::target_keys(&second_plan),
        [
            "production/assistant/Deployment/api",
            "production/assistant/Deployment/web"
        ]
    );
    assert!(
        second
            .pull_request
            .body
            .contains(&orchestrator_core::scale::lock::lock_marker(&second_plan)),
        "the PR body holds the lock: {}",
        second.pull_request.body
    );
}

/// Issue 11: two open plans raced for one workload. A second proposal whose workloads overlap an
/// open plan PR's is refused before anything is pushed, naming that PR, until an approver's
/// `/unlock-plan` on it (a reader's does not count).
#[tokio::test]
async fn a_second_proposal_for_a_locked_target_is_refused_until_an_approver_unlocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clone = clone_with_origin(dir.path());
    let forge = Arc::new(InMemoryForge::new());
    let store = Arc::new(MemoryStateStore::default());
    let first = propose::propose(
        forge.clone(),
        Arc::new(GixVcs::new()),
        store.clone(),
        &prod_plan_with(prod_flags()).await,
        &propose_request(&clone, Some("main")),
    )
    .await
    .expect("first");
    let mut flags = prod_flags();
    flags.workloads = vec!["Deployment:web:8".into()];
    flags.hpa = None;
    flags.requests = vec!["web:cpu=600m,mem=1Gi".into()];
    flags.limits = vec!["web:cpu=1,mem=2Gi".into()];
    let second_plan = prod_plan_with(flags).await;
    let request = propose_request(&clone, Some("main"));
    let second = || {
        propose::propose(
            forge.clone(),
            Arc::new(GixVcs::new()),
            store.clone(),
            &second_plan,
            &request,
        )
    };
    let branches_before = git(&clone, &["ls-remote", "--heads", "origin"]);
    let err = second().await.expect_err("locked");
    assert!(
        matches!(err, Error::Conflict { .. })
            && err.to_string().contains("#1")
            && err.to_string().contains("Deployment/web"),
        "{err}"
    );
    assert_eq!(
        git(&clone, &["ls-remote", "--heads", "origin"]),
        branches_before,
        "nothing pushed"
    );
    // A reader's /unlock-plan releases nothing.
    forge.set_permission(&repo(), "reader", Permission::Read);
    forge
        .comment_as(&repo(), first.pull_request.number, "reader", "/unlock-plan")
        .expect("comment");
    assert!(second().await.is_err(), "still locked");
    // An approver's does.
    forge.set_permission(&repo(), "maint", Permission::Maintain);
    forge
        .comment_as(&repo(), first.pull_request.number, "maint", "/unlock-plan")
        .expect("comment");
    let proposal = second().await.expect("unlocked");
    assert_eq!(proposal.pull_request.number, 2);
}
