//! Every forgery of issue 11 against the gate, over `InMemoryForge` and `InMemoryCluster`: each
//! test plays the people involved with the forge's hooks and checks that nothing is applied.

use super::*;
use crate::error::Error;
use crate::forge::prelude::*;
use crate::forge::{Comparison, Permission, PullCommit, PullRequest, ReviewState};
use crate::scale::fixtures::{BASE, BOT, HEAD, World, plan_path};
use crate::scale::lock::find_lock;
use crate::scale::review::CommandOutcome;

impl World {
    async fn verify(
        &self,
        action: GateAction,
        requester: &str,
        policy: &ApprovalPolicy,
    ) -> Result<ApprovedPlan> {
        verify(
            &self.forge,
            &GateRequest {
                repo: &self.repo,
                number: self.number,
                action,
                requester,
                command_comment: None,
                policy,
            },
        )
        .await
    }

    /// The refusal's message; panics when the gate opened.
    async fn refused(
        &self,
        action: GateAction,
        requester: &str,
        policy: &ApprovalPolicy,
    ) -> String {
        match self.verify(action, requester, policy).await {
            Err(Error::PermissionDenied { message }) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

fn refused_reason(outcome: &CommandOutcome) -> &str {
    match outcome {
        CommandOutcome::Refused { reason, .. } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_review_at_the_head_then_apply_plan_applies_in_the_same_job_and_reports() {
    let w = World::new().await;
    w.approve("maint");
    let outcome = w.command("dev", "/apply-plan").await;
    assert!(
        matches!(&outcome, CommandOutcome::Executed { ok: true, approvers, .. } if approvers == &["maint"]),
        "{outcome:?}"
    );
    assert_eq!(w.replicas("web"), 6);
    let reply = w.last_comment().await;
    for want in [
        "**Apply** of `ops/plans/infra-scale/prod/plan.yaml`",
        "Approved by: @maint",
        "Requested by: @dev",
        "Deployment/web replicas: 3 → 6",
        "container web requests.cpu: 250m → 500m",
        w.plan.hash(),
    ] {
        assert!(reply.contains(want), "{want:?} missing from:\n{reply}");
    }
    let pr = w.forge.pull_request(&w.repo, w.number).await.expect("pr");
    assert!(
        pr.labels.iter().any(|l| l == "execute-plan"),
        "display label"
    );
}

#[tokio::test]
async fn an_edited_bot_comment_with_a_marker_and_the_label_approves_nothing() {
    let w = World::new().await;
    let bot = w
        .forge
        .create_comment(&w.repo, w.number, "🚫 /approve-plan refused")
        .await
        .expect("bot comment");
    w.forge
        .edit_comment_as(
            &w.repo,
            bot.id,
            "mallory",
            &format!(
                "<!-- orchestrator:approval command=approve-plan hash={} head={HEAD} \
                 approver=maint comment=1 -->",
                w.plan.hash()
            ),
        )
        .expect("a writer may edit the bot's comment");
    w.forge
        .add_labels(&w.repo, w.number, &["execute-plan".into()])
        .await
        .expect("label");
    let outcome = w.command("mallory", "/apply-plan").await;
    assert!(
        refused_reason(&outcome).contains("no qualified approval"),
        "{outcome:?}"
    );
    assert_eq!(w.replicas("web"), 3, "nothing applied");
}

#[tokio::test]
async fn a_typed_marker_approves_nothing() {
    let w = World::new().await;
    w.forge
        .comment_as(
            &w.repo,
            w.number,
            "mallory",
            &format!(
                "<!-- orchestrator:approval command=approve-plan hash={} head={HEAD} \
                 approver=maint comment=1 -->",
                w.plan.hash()
            ),
        )
        .expect("comment");
    let message = w
        .refused(GateAction::Apply, "mallory", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("no qualified approval"), "{message}");
}

#[tokio::test]
async fn an_edited_command_comment_is_refused() {
    let w = World::new().await;
    w.approve("maint");
    // dev wrote "LGTM"; mallory edits it into a command and the job sees dev's comment id.
    let c = w
        .forge
        .comment_as(&w.repo, w.number, "dev", "LGTM")
        .expect("comment");
    w.forge
        .edit_comment_as(&w.repo, c.id, "mallory", "/apply-plan")
        .expect("edit");
    let outcome = w.handle("dev", c.id, "/apply-plan").await;
    assert!(
        refused_reason(&outcome).contains("was edited after it was posted"),
        "{outcome:?}"
    );
    // A command in a longer comment does not act either: the whole comment must be the command.
    let outcome = w.command("dev", "/apply-plan\nand also something").await;
    assert!(
        refused_reason(&outcome).contains("does not say exactly /apply-plan"),
        "{outcome:?}"
    );
    assert_eq!(w.replicas("web"), 3);
}

#[tokio::test]
async fn an_edited_human_comment_is_no_second_person_for_a_rollback() {
    let w = World::new().await;
    w.approve("maint");
    assert!(matches!(
        w.command("dev", "/apply-plan").await,
        CommandOutcome::Executed { ok: true, .. }
    ));
    // maint said "thanks"; mallory edits it into "/rollback-plan" to act as the second person.
    let c = w
        .forge
        .comment_as(&w.repo, w.number, "maint", "thanks")
        .expect("comment");
    w.forge
        .edit_comment_as(&w.repo, c.id, "mallory", "/rollback-plan")
        .expect("edit");
    let outcome = w.command("mallory", "/rollback-plan").await;
    let reason = refused_reason(&outcome);
    assert!(reason.contains("needs a second person"), "{reason}");
    assert!(reason.contains("was edited"), "{reason}");
    assert_eq!(w.replicas("web"), 6, "not rolled back");
}

#[tokio::test]
async fn the_policy_in_the_pull_requests_head_is_not_the_policy() {
    let w = World::new().await;
    // The base branch says only @lead approves; the PR's own orchestrator.toml says @mallory.
    w.forge.set_file(
        &w.repo,
        "main",
        POLICY_FILE,
        b"[scale]\napprovers = [\"lead\"]\n",
    );
    w.forge.set_file(
        &w.repo,
        HEAD,
        POLICY_FILE,
        b"[scale]\napprovers = [\"mallory\"]\nbot_logins = [\"mallory\"]\n",
    );
    w.forge
        .set_pull_files(&w.repo, w.number, &[&plan_path(), POLICY_FILE])
        .expect("files");
    w.approve("mallory");
    let pr = w.forge.pull_request(&w.repo, w.number).await.expect("pr");
    let policy = policy_at_base(&w.forge, &w.repo, &pr.base_ref)
        .await
        .expect("policy");
    assert_eq!(policy.allowed_users, ["lead"]);
    let message = w.refused(GateAction::Apply, "lead", &policy).await;
    assert!(
        message.contains("@mallory is not on the approvers list (lead)"),
        "{message}"
    );
    assert!(
        message.contains("changes orchestrator.toml; it was judged under the base's"),
        "{message}"
    );
    w.approve("lead");
    let approved = w
        .verify(GateAction::Apply, "lead", &policy)
        .await
        .expect("lead's approval counts");
    assert!(approved.policy_changed());
}

#[tokio::test]
async fn whoever_pushed_to_the_pull_request_cannot_approve_it() {
    // A human's PR, and another human pushes to it.
    let w = World::opened_by("alice").await;
    w.forge.set_permission(&w.repo, "alice", Permission::Write);
    w.forge
        .push_to_pull_request_as(&w.repo, w.number, "head2222222222", "dev")
        .expect("push");
    w.forge.set_file(
        &w.repo,
        "head2222222222",
        &plan_path(),
        w.plan.to_yaml().as_bytes(),
    );
    w.approve("dev");
    let message = w
        .refused(GateAction::Apply, "alice", &ApprovalPolicy::default())
        .await;
    assert!(
        message.contains("@dev wrote and pushed commit head22222222, so cannot approve it"),
        "{message}"
    );
}

#[tokio::test]
async fn a_bot_authored_plan_cannot_be_approved_by_the_human_who_pushed_it() {
    let w = World::new().await;
    // dev pushed the plan commit onto the bot's branch (nightly flow), then approves.
    w.forge
        .push_to_pull_request_as(&w.repo, w.number, "head2222222222", "dev")
        .expect("push");
    w.forge.set_file(
        &w.repo,
        "head2222222222",
        &plan_path(),
        w.plan.to_yaml().as_bytes(),
    );
    w.approve("dev");
    let outcome = w.command("dev", "/apply-plan").await;
    assert!(
        refused_reason(&outcome).contains("@dev wrote and pushed"),
        "{outcome:?}"
    );
    assert_eq!(w.replicas("web"), 3);
    // Another maintainer's review does count.
    w.approve("maint");
    assert!(matches!(
        w.command("dev", "/apply-plan").await,
        CommandOutcome::Executed { ok: true, .. }
    ));
}

#[test]
fn authors_and_committers_of_any_commit_are_involved() {
    let (pr, commits) = pr_by_with_bob_and_carol("Alice");
    let who = Authorship {
        pull_request: &pr,
        commits: &commits,
    };
    assert!(who.involvement("alice").is_some(), "self-approval");
    assert!(who.involvement("BOB").is_some());
    assert!(who.involvement("carol").is_some());
    assert_eq!(who.involvement("dave"), None);
}

#[tokio::test]
async fn self_approval_is_refused_unless_the_policy_allows_it() {
    let w = World::new().await;
    w.forge
        .push_to_pull_request_as(&w.repo, w.number, "head2222222222", "maint")
        .expect("push");
    w.forge.set_file(
        &w.repo,
        "head2222222222",
        &plan_path(),
        w.plan.to_yaml().as_bytes(),
    );
    w.approve("maint");
    let strict = ApprovalPolicy::default();
    assert!(
        w.refused(GateAction::Apply, "maint", &strict)
            .await
            .contains("@maint wrote and pushed")
    );
    let lax = ApprovalPolicy {
        allow_self_approval: true,
        ..ApprovalPolicy::default()
    };
    let approved = w
        .verify(GateAction::Apply, "maint", &lax)
        .await
        .expect("allowed");
    assert_eq!(approved.approvers(), ["maint"]);
}

#[tokio::test]
async fn a_closed_or_merged_pull_request_is_never_applied() {
    let w = World::new().await;
    w.approve("maint");
    w.forge
        .close_pull_request(&w.repo, w.number, false)
        .expect("close");
    let outcome = w.command("dev", "/apply-plan").await;
    assert!(
        refused_reason(&outcome).contains("is closed"),
        "{outcome:?}"
    );
    w.forge
        .close_pull_request(&w.repo, w.number, true)
        .expect("merge");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("is merged"), "{message}");
    assert_eq!(w.replicas("web"), 3);
}

#[tokio::test]
async fn an_approval_of_an_older_head_is_stale() {
    let w = World::new().await;
    w.approve("maint");
    // The bot pushes again (say, a re-plan): maint reviewed the old commit.
    w.forge
        .push_to_pull_request(&w.repo, w.number, "head3333333333")
        .expect("push");
    w.forge.set_file(
        &w.repo,
        "head3333333333",
        &plan_path(),
        w.plan.to_yaml().as_bytes(),
    );
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(
        message.contains("@maint approved commit head11111111, but the head is now head33333333"),
        "{message}"
    );
}

#[tokio::test]
async fn an_approver_without_permission_or_who_lost_it_does_not_count() {
    let w = World::new().await;
    w.approve("reader");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(
        message.contains("@reader has read permission; write or above is needed"),
        "{message}"
    );
    w.approve("maint");
    w.verify(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await
        .expect("maint's approval counts");
    // Permission is re-read when acting: maint was demoted after approving.
    w.forge.set_permission(&w.repo, "maint", Permission::Read);
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("@maint has read permission"), "{message}");
}

#[tokio::test]
async fn a_later_change_request_or_dismissal_withdraws_an_approval() {
    let w = World::new().await;
    w.approve("maint");
    w.forge
        .review_as(
            &w.repo,
            w.number,
            "maint",
            ReviewState::Commented,
            "one nit",
        )
        .expect("comment review");
    w.verify(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await
        .expect("a comment-only review keeps the approval");
    w.forge
        .review_as(
            &w.repo,
            w.number,
            "maint",
            ReviewState::ChangesRequested,
            "wait",
        )
        .expect("review");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("@maint requested changes"), "{message}");
    let lead = w
        .forge
        .review_as(&w.repo, w.number, "lead", ReviewState::Approved, "")
        .expect("review");
    w.verify(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await
        .expect("lead approves");
    w.forge
        .dismiss_review(&w.repo, w.number, lead.id)
        .expect("dismiss");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(
        message.contains("@lead's approval was dismissed"),
        "{message}"
    );
}

#[tokio::test]
async fn the_requester_needs_permission_and_bots_are_ignored() {
    let w = World::new().await;
    w.approve("maint");
    let outcome = w.command("reader", "/apply-plan").await;
    assert!(
        refused_reason(&outcome).contains("@reader has read permission"),
        "{outcome:?}"
    );
    let outcome = w.command(BOT, "/apply-plan").await;
    assert!(
        matches!(outcome, CommandOutcome::Ignored { .. }),
        "{outcome:?}"
    );
    // A bot's review never approves, even if the workflow token may approve pull requests.
    let w = World::opened_by("alice").await;
    w.forge.set_permission(&w.repo, BOT, Permission::Write);
    w.approve(BOT);
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("is a bot login"), "{message}");
}

#[tokio::test]
async fn one_person_cannot_roll_back_alone_unless_on_the_emergency_list() {
    let w = World::new().await;
    w.approve("maint");
    assert!(matches!(
        w.command("dev", "/apply-plan").await,
        CommandOutcome::Executed { ok: true, .. }
    ));
    let outcome = w.command("dev", "/rollback-plan").await;
    assert!(
        refused_reason(&outcome).contains("needs a second person"),
        "{outcome:?}"
    );
    assert_eq!(w.replicas("web"), 6, "not rolled back by one person");
    // The same person asking twice is still one person.
    let outcome = w.command("dev", "/rollback-plan").await;
    assert!(refused_reason(&outcome).contains("needs a second person"));
    // Emergency policy: @lead may roll back alone.
    let emergency = ApprovalPolicy {
        emergency_rollback: vec!["lead".into()],
        ..ApprovalPolicy::default()
    };
    let approved = w
        .verify(GateAction::Rollback, "lead", &emergency)
        .await
        .expect("emergency rollback");
    assert!(approved.approvers().is_empty());
    assert!(
        w.verify(GateAction::Rollback, "dev", &emergency)
            .await
            .is_err(),
        "only the listed logins roll back alone"
    );
    // A second qualified person asks too: rolled back.
    let outcome = w.command("maint", "/rollback-plan").await;
    assert!(
        matches!(&outcome, CommandOutcome::Executed { ok: true, approvers, .. } if approvers == &["dev"]),
        "{outcome:?}"
    );
    assert_eq!(w.replicas("web"), 3);
    assert!(
        w.last_comment()
            .await
            .contains("Deployment/web replicas: 3 ← 6")
    );
}

#[tokio::test]
async fn an_approved_apply_cannot_be_executed_as_a_rollback() {
    let w = World::new().await;
    w.approve("maint");
    let approved = w
        .verify(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await
        .expect("approved");
    let err = w
        .executor()
        .rollback(&approved)
        .await
        .expect_err("wrong action");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
}

#[tokio::test]
async fn mergeable_and_undiverged_are_required_as_configured() {
    let w = World::new().await;
    w.approve("maint");
    w.forge
        .set_mergeable(&w.repo, w.number, Some(false))
        .expect("set");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("is not mergeable"), "{message}");
    w.forge.set_mergeable(&w.repo, w.number, None).expect("set");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("not yet computed"), "{message}");
    w.forge
        .set_mergeable(&w.repo, w.number, Some(true))
        .expect("set");
    // The base branch moves on after the plan was made.
    w.forge.set_branch_head(&w.repo, "main", "base1111111111");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(
        message.contains("main has moved 1 commit(s) past this plan's base"),
        "{message}"
    );
    w.forge.set_comparison(
        &w.repo,
        "main",
        HEAD,
        Comparison {
            ahead_by: 1,
            behind_by: 3,
            merge_base_sha: BASE.into(),
        },
    );
    assert!(
        w.refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
            .await
            .contains("moved 3 commit(s)")
    );
    // Without the requirement, the moved base is not checked.
    let lax = ApprovalPolicy {
        requirements: ApplyRequirements {
            undiverged: false,
            ..ApplyRequirements::ALL
        },
        ..ApprovalPolicy::default()
    };
    w.verify(GateAction::Apply, "dev", &lax)
        .await
        .expect("undiverged not required");
}

#[tokio::test]
async fn only_the_one_plan_the_pull_request_adds_is_applied() {
    let w = World::new().await;
    w.approve("maint");
    w.forge
        .set_pull_files(&w.repo, w.number, &["README.md"])
        .expect("files");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(
        message.contains("adds no ops/plans/infra-scale/"),
        "{message}"
    );
    w.forge
        .set_pull_files(
            &w.repo,
            w.number,
            &[&plan_path(), "ops/plans/infra-scale/staging/plan.yaml"],
        )
        .expect("files");
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(message.contains("changes 2 plans"), "{message}");
    // The plan at the head is not the one the description proposed.
    w.forge
        .set_pull_files(&w.repo, w.number, &[&plan_path()])
        .expect("files");
    let mut other = w.plan.clone();
    other.actions.truncate(1);
    other.metadata.plan_hash = Some(other.compute_hash());
    w.forge
        .set_file(&w.repo, HEAD, &plan_path(), other.to_yaml().as_bytes());
    let message = w
        .refused(GateAction::Apply, "dev", &ApprovalPolicy::default())
        .await;
    assert!(
        message.contains("the plan changed after it was proposed"),
        "{message}"
    );
}

#[tokio::test]
async fn approve_plan_answers_how_approval_works_and_changes_nothing() {
    let w = World::new().await;
    let outcome = w.command("maint", "/approve-plan").await;
    assert!(
        matches!(outcome, CommandOutcome::Answered { .. }),
        "{outcome:?}"
    );
    assert!(w.last_comment().await.contains("pull-request review"));
    let pr = w.forge.pull_request(&w.repo, w.number).await.expect("pr");
    assert!(!pr.labels.iter().any(|l| l == "execute-plan"));
}

#[tokio::test]
async fn a_second_plan_for_a_locked_target_finds_the_lock_until_unlocked() {
    let w = World::new().await;
    let policy = ApprovalPolicy::default();
    let lock = find_lock(&w.forge, &w.repo, &w.plan, None, &policy)
        .await
        .expect("lookup")
        .expect("locked");
    assert_eq!(lock.number, w.number);
    assert_eq!(lock.shared, ["Deployment/api", "Deployment/web"]);
    assert!(
        lock.describe().contains("/unlock-plan"),
        "{}",
        lock.describe()
    );
    assert!(
        find_lock(&w.forge, &w.repo, &w.plan, Some(w.number), &policy)
            .await
            .expect("lookup")
            .is_none(),
        "a plan's own pull request does not lock it out"
    );
    // Unlock by someone who is not an approver: refused, still locked.
    let outcome = w.command("reader", "/unlock-plan").await;
    assert!(
        refused_reason(&outcome).contains("only an approver may unlock"),
        "{outcome:?}"
    );
    // An approver's comment edited into /unlock-plan does not unlock either.
    let c = w
        .forge
        .comment_as(&w.repo, w.number, "maint", "hold on")
        .expect("comment");
    w.forge
        .edit_comment_as(&w.repo, c.id, "mallory", "/unlock-plan")
        .expect("edit");
    assert!(
        find_lock(&w.forge, &w.repo, &w.plan, None, &policy)
            .await
            .expect("lookup")
            .is_some()
    );
    let outcome = w.command("maint", "/unlock-plan").await;
    assert!(
        matches!(outcome, CommandOutcome::Unlocked { .. }),
        "{outcome:?}"
    );
    assert!(
        find_lock(&w.forge, &w.repo, &w.plan, None, &policy)
            .await
            .expect("lookup")
            .is_none()
    );
}

#[tokio::test]
async fn a_closed_plan_pull_request_releases_its_lock() {
    let w = World::new().await;
    let policy = ApprovalPolicy::default();
    w.forge
        .close_pull_request(&w.repo, w.number, true)
        .expect("merge");
    assert!(
        find_lock(&w.forge, &w.repo, &w.plan, None, &policy)
            .await
            .expect("lookup")
            .is_none()
    );
}

#[test]
fn involvement_names_authoring_and_pushing_apart() {
    let (pr, commits) = pr_by_with_bob_and_carol("bot");
    let who = Authorship {
        pull_request: &pr,
        commits: &commits,
    };
    assert_eq!(
        who.involvement("bob").as_deref(),
        Some("@bob wrote commit c1")
    );
    assert_eq!(
        who.involvement("carol").as_deref(),
        Some("@carol committed (pushed) commit c1")
    );
}

/// An open pull request opened by `author` with one commit authored by bob and committed by
/// carol (for the two-person rule's pure tests).
fn pr_by_with_bob_and_carol(author: &str) -> (PullRequest, [PullCommit; 1]) {
    let pr = PullRequest {
        number: 1,
        title: String::new(),
        body: String::new(),
        head_ref: "b".into(),
        head_sha: "h".into(),
        base_ref: "main".into(),
        author: author.into(),
        labels: Vec::new(),
        draft: false,
        state: "open".into(),
        html_url: String::new(),
        merged: false,
        mergeable: Some(true),
        base_sha: String::new(),
    };
    let commits = [PullCommit {
        sha: "c1".into(),
        author: Some("bob".into()),
        committer: Some("carol".into()),
    }];
    (pr, commits)
}
