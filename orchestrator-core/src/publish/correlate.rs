//! Finding and following the workflow run a dispatch caused, never "the latest completed run"
//! (seed 002's bug: an older or a stranger's successful run counted as success).
//!
//! With a correlation input, the run is the one whose title (`run-name`) contains the unique id;
//! without one, the run of the right workflow and event on the dispatched commit created at or
//! after the dispatch (the oldest such, so a later stranger's run is not taken).
//!
//! Only workflow runs are read here, so the functions take a [`WorkflowForge`].

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::forge::{
    RepoId, WorkflowDispatch, WorkflowForge, WorkflowRun, WorkflowRunQuery, WorkflowRunStatus,
};

/// How to recognise the run a trigger caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunCorrelation {
    /// The workflow file.
    pub workflow: String,
    /// The event that started it (`workflow_dispatch`, `push`).
    pub event: String,
    /// The unique id passed as an input and shown in the run's title.
    pub correlation_id: Option<String>,
    /// The commit it must run on.
    pub head_sha: Option<String>,
    /// The branch or tag it must run on (GitHub's `head_branch`; a tag push's run has the tag).
    pub head_branch: Option<String>,
    /// It must be created at or after this (ms since the epoch).
    pub created_after_ms: Option<i64>,
}

/// The run `correlation` identifies, if it exists yet.
pub async fn find_run(
    forge: &dyn WorkflowForge,
    repo: &RepoId,
    correlation: &RunCorrelation,
) -> Result<Option<WorkflowRun>> {
    let runs = forge
        .list_workflow_runs(
            repo,
            &WorkflowRunQuery {
                workflow: Some(correlation.workflow.clone()),
                event: Some(correlation.event.clone()),
                head_sha: correlation.head_sha.clone(),
                created_after_ms: correlation.created_after_ms,
            },
        )
        .await?;
    let mut runs = runs.into_iter().filter(|r| {
        correlation
            .head_branch
            .as_deref()
            .is_none_or(|b| r.head_branch.as_deref() == Some(b))
    });
    Ok(
        match (&correlation.correlation_id, correlation.created_after_ms) {
            (Some(id), _) => runs.find(|r| r.display_title.contains(id.as_str())),
            // Newest first: the oldest run after the dispatch is ours (a later one is a stranger's).
            (None, Some(_)) => runs.next_back(),
            // No moment to count from (a tag push found again on resume): the newest run is the
            // current attempt; an older one on the same tag is from before a re-push.
            (None, None) => runs.next(),
        },
    )
}

/// Dispatches `dispatch` (with the correlation id as input `correlation_input` when given) and
/// returns the correlation that finds the run.
pub async fn dispatch_correlated(
    forge: &dyn WorkflowForge,
    repo: &RepoId,
    mut dispatch: WorkflowDispatch,
    correlation_input: Option<(&str, &str)>,
    head_sha: Option<String>,
    now_ms: i64,
) -> Result<RunCorrelation> {
    if let Some((input, id)) = correlation_input {
        dispatch.inputs.insert(input.to_owned(), id.to_owned());
    }
    let workflow = crate::forge::workflow_file(&dispatch.workflow).to_owned();
    forge.dispatch_workflow(repo, &dispatch).await?;
    Ok(RunCorrelation {
        workflow,
        event: "workflow_dispatch".into(),
        correlation_id: correlation_input.map(|(_, id)| id.to_owned()),
        head_sha,
        head_branch: None,
        // Forge clocks drift; a second of slack still excludes every earlier run we know of.
        created_after_ms: Some(now_ms - 1000),
    })
}

/// Waits for the correlated run to appear and complete; returns it (any conclusion). Errors when
/// it has not completed by `timeout`.
pub async fn follow_run(
    forge: &dyn WorkflowForge,
    repo: &RepoId,
    correlation: &RunCorrelation,
    poll: Duration,
    timeout: Duration,
) -> Result<WorkflowRun> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut id = None;
    loop {
        // The deadline bounds a request in flight too (with a short grace for the last poll).
        let bound = deadline.max(tokio::time::Instant::now() + Duration::from_secs(5));
        let look = async {
            match id {
                Some(id) => forge.workflow_run(repo, id).await.map(Some),
                None => find_run(forge, repo, correlation).await,
            }
        };
        let run = tokio::time::timeout_at(bound, look)
            .await
            .map_err(|_| Error::Timeout {
                what: format!("the {} run of {repo}", correlation.workflow),
                missing: vec!["an answer from the forge".to_owned()],
                waited: timeout,
            })??;
        if let Some(run) = run {
            id = Some(run.id);
            if run.status == WorkflowRunStatus::Completed {
                return Ok(run);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: format!("the {} run of {repo}", correlation.workflow),
                missing: vec![match id {
                    Some(id) => format!("run {id} to complete"),
                    None => "the dispatched run to appear".to_owned(),
                }],
                waited: timeout,
            });
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::{InMemoryForge, WorkflowSimulation};

    fn run(id: u64, title: &str, sha: &str, conclusion: Option<&str>, at: i64) -> WorkflowRun {
        WorkflowRun {
            id,
            workflow: "release.yml".into(),
            display_title: title.into(),
            event: "workflow_dispatch".into(),
            head_sha: sha.into(),
            head_branch: Some("main".into()),
            status: if conclusion.is_some() {
                WorkflowRunStatus::Completed
            } else {
                WorkflowRunStatus::InProgress
            },
            conclusion: conclusion.map(str::to_owned),
            created_at_ms: at,
            html_url: format!("https://example.test/runs/{id}"),
        }
    }

    /// Seed 002's bug, fixed: an older successful run and a stranger's concurrent run exist; the
    /// run we dispatched fails, and that is what we report.
    #[tokio::test]
    async fn the_dispatched_run_is_followed_not_the_latest_success() {
        let repo: RepoId = "rydnr/web-buddy-core".parse().expect("valid");
        let forge = InMemoryForge::new();
        forge.configure_workflow(
            &repo,
            "release.yml",
            WorkflowSimulation {
                run_name: Some("release ${{ inputs.version }} ${{ inputs.correlation_id }}".into()),
                queued_for: Duration::from_millis(10),
                runs_for: Duration::from_millis(30),
                ..WorkflowSimulation::default()
            },
        );
        let sha = "2222222222222222222222222222222222222222";
        forge.set_branch_head(&repo, "main", sha);
        let now = crate::state::now_ms();
        forge.add_workflow_run(
            &repo,
            run(
                900,
                "release 1.0.0 old",
                "1111",
                Some("success"),
                now - 86_400_000,
            ),
        );
        forge.add_workflow_run(
            &repo,
            run(901, "release 1.1.0 someone-else", sha, Some("success"), now),
        );
        forge.script_runs_with_input(&repo, "publish-7-web-buddy-core", "failure");
        let mut inputs = std::collections::BTreeMap::new();
        inputs.insert("version".to_owned(), "1.1.0".to_owned());
        let correlation = dispatch_correlated(
            &forge,
            &repo,
            WorkflowDispatch {
                workflow: "release.yml".into(),
                git_ref: "main".into(),
                inputs,
            },
            Some(("correlation_id", "publish-7-web-buddy-core")),
            Some(sha.into()),
            now,
        )
        .await
        .expect("dispatched");
        let followed = follow_run(
            &forge,
            &repo,
            &correlation,
            Duration::from_millis(5),
            Duration::from_secs(5),
        )
        .await
        .expect("completes");
        assert!(followed.id != 900 && followed.id != 901, "{followed:?}");
        assert_eq!(followed.conclusion.as_deref(), Some("failure"));
        assert!(followed.display_title.contains("publish-7-web-buddy-core"));
    }

    /// A tag pushed again at the same commit (the usual retry of a failed release): the newest run
    /// on that tag is the current attempt, not the failed one before it; runs on another tag of
    /// the same commit are not taken.
    #[tokio::test]
    async fn a_tag_run_is_the_newest_on_that_tag() {
        let repo: RepoId = "o/r".parse().expect("valid");
        let forge = InMemoryForge::new();
        let sha = "4444444444444444444444444444444444444444";
        let push = |id, tag: &str, conclusion, at| WorkflowRun {
            event: "push".into(),
            head_branch: Some(tag.into()),
            ..run(id, "release", sha, conclusion, at)
        };
        forge.add_workflow_run(&repo, push(600, "v1.0.0", Some("failure"), 1_000));
        forge.add_workflow_run(&repo, push(601, "v1.0.0", None, 2_000));
        forge.add_workflow_run(&repo, push(602, "nightly-x", Some("success"), 3_000));
        let correlation = RunCorrelation {
            workflow: "release.yml".into(),
            event: "push".into(),
            correlation_id: None,
            head_sha: Some(sha.into()),
            head_branch: Some("v1.0.0".into()),
            created_after_ms: None,
        };
        let found = find_run(&forge, &repo, &correlation)
            .await
            .expect("lookup")
            .expect("a run");
        assert_eq!(found.id, 601);
    }

    /// Without a correlation input: the run on the dispatched commit created after the dispatch.
    #[tokio::test]
    async fn without_an_input_event_sha_and_time_decide() {
        let repo: RepoId = "o/r".parse().expect("valid");
        let forge = InMemoryForge::new();
        let sha = "3333333333333333333333333333333333333333";
        forge.set_branch_head(&repo, "main", sha);
        let now = crate::state::now_ms();
        forge.add_workflow_run(
            &repo,
            run(500, "release", sha, Some("success"), now - 60_000),
        );
        forge.script_workflow(&repo, "release.yml", "failure");
        let correlation = dispatch_correlated(
            &forge,
            &repo,
            WorkflowDispatch {
                workflow: ".github/workflows/release.yml".into(),
                git_ref: "main".into(),
                inputs: Default::default(),
            },
            None,
            Some(sha.into()),
            now,
        )
        .await
        .expect("dispatched");
        let followed = follow_run(
            &forge,
            &repo,
            &correlation,
            Duration::from_millis(5),
            Duration::from_secs(5),
        )
        .await
        .expect("completes");
        assert_ne!(followed.id, 500);
        assert_eq!(followed.conclusion.as_deref(), Some("failure"));
    }
}
