//! A proposal killed at every journal write, then run again, converges on exactly one of each
//! effect: one commit on the proposal branch, one pull request, one label, one checklist. Real
//! git (a sandbox clone with a bare origin), the in-memory forge, and the one fault-injecting
//! state store (the process "dies" right before its k-th journal write).

use orchestrator_core::forge::prelude::*;
use std::sync::Arc;

use orchestrator_core::forge::{InMemoryForge, RepoId};
use orchestrator_core::scale::propose::{self, ProposeRequest};
use orchestrator_core::scale::review::{ApprovalPolicy, LABEL_NEEDS_APPROVAL};
use orchestrator_core::scale::{ScaleFlags, ScalePlan};
use orchestrator_core::state::{FaultyStateStore, MemoryStateStore, StateStore};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, git};

fn repo() -> RepoId {
    RepoId::new("ledger-mind", "website")
}

/// A plan made without a cluster: proposing needs only its files.
async fn plan() -> ScalePlan {
    let flags = ScaleFlags {
        target: "staging".into(),
        namespace: "assistant-staging".into(),
        kube_context: None,
        workloads: vec!["Deployment:web:2".into()],
        hpa: None,
        requests: Vec::new(),
        limits: Vec::new(),
        container: None,
    };
    ScalePlan::build(&flags.parse().expect("valid"), None, "2025-10-11T00:00:00Z")
        .await
        .expect("plan")
}

#[tokio::test]
async fn a_propose_killed_at_every_journal_write_resumes_without_repeating_an_effect() {
    let plan = plan().await;
    let branch = propose::proposal_branch(&plan);
    let mut crashed_runs = 0;
    for k in 1.. {
        let dir = tempfile::tempdir().expect("temp dir");
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        let website = sandbox
            .create_repo("website", &[("README.md", "website\n")])
            .expect("repo");
        let forge = Arc::new(InMemoryForge::new());
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let request = ProposeRequest {
            repo: repo(),
            clone: website.clone.clone(),
            remote: "origin".into(),
            base: Some("main".into()),
            policy: ApprovalPolicy::default(),
        };
        let run = |store: Arc<dyn StateStore>| {
            propose::propose(
                forge.clone(),
                Arc::new(GixVcs::new()),
                store,
                &plan,
                &request,
            )
        };
        let faulty = Arc::new(FaultyStateStore::crash_at_append(store.clone(), k));
        let first = run(faulty.clone()).await;
        if !faulty.crashed() {
            first.expect("a run that never reached write k succeeds");
            break;
        }
        crashed_runs += 1;
        assert!(first.is_err(), "k={k}: a dead process reports nothing");

        let proposal = run(store.clone()).await.expect("resumed");
        let open = forge
            .list_pull_requests(&repo(), "open")
            .await
            .expect("prs");
        assert_eq!(open.len(), 1, "k={k}: one pull request, not {open:?}");
        assert_eq!(open[0].head_ref, branch, "k={k}");
        assert_eq!(proposal.pull_request.number, open[0].number, "k={k}");
        assert_eq!(
            proposal.pull_request.labels,
            [LABEL_NEEDS_APPROVAL],
            "k={k}"
        );
        let comments = forge
            .list_comments(&repo(), open[0].number)
            .await
            .expect("comments");
        assert_eq!(comments.len(), 1, "k={k}: one checklist, not {comments:?}");
        let main = git(&website.origin, &["rev-parse", "main"]).expect("main");
        let parent = git(&website.origin, &["rev-parse", &format!("{branch}^")]).expect("parent");
        assert_eq!(parent, main, "k={k}: one commit on the proposal branch");
        assert_eq!(
            git(&website.origin, &["rev-parse", &branch]).expect("branch"),
            proposal.commit,
            "k={k}"
        );
        assert_eq!(
            store.runs(None, None, 10).await.expect("runs").len(),
            1,
            "k={k}: the resume continued the killed run"
        );
    }
    // Five steps, each journaled before and after its effect, then the run's end.
    assert!(crashed_runs >= 10, "only {crashed_runs} journal writes");
    println!(
        "{crashed_runs} of {crashed_runs} crash points converged: one commit, PR, label, checklist"
    );
}
