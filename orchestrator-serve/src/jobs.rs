//! [`WorkflowJobs`]: the [`JobHandler`] that runs a job as the command a workflow would have run,
//! in this process, so a job obeys the same rules as the command:
//!
//! - a cascade (a push to a default branch, a `repository_dispatch`) and the nightly are core's
//!   [`CascadeWorkflow`], run by the [`Workspace`]'s one driver: the same lock, credential check,
//!   journal and resume as `orchestrator cascade`. A push's cascade first brings the clone to
//!   the pushed commit (a journaled fetch and fast-forward): the service owns its clones. A later
//!   attempt resumes the run the earlier one journaled.
//! - a pull-request comment command goes to the [`CommentCommands`] the service was given:
//!   [`WorkflowComments`] runs it through core's one entry point for comment commands
//!   ([`run_comment_command`]) in the job's own workspace, with `pr-command`'s trust rules (the
//!   policy comes from the base branch unless the embedder says otherwise, the approval is read
//!   again from the forge) and the cluster and overrides its embedder supplies. A job prints
//!   nothing: its outcome goes to the log.
//!
//! The service's shutdown stops a running job as a signal stops the command: its steps are
//! stopped and journaled as interrupted, and the worker hands the job back to the queue.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use orchestrator_core::publish::{
    self, CascadeRequest, CascadeTrigger, CascadeWorkflow, PublishReport,
};
use orchestrator_core::scale::review::{
    CommentCommandRequest, CommentEventSource, PolicyOverrides, run_comment_command,
};
use orchestrator_core::workspace::workflows::{ClusterConnector, PolicySource};
use orchestrator_core::workspace::{Finished, Workspace};
use orchestrator_core::{Error, Result};
use tokio::sync::watch;

use crate::queue::{Job, JobKind};
use crate::worker::JobHandler;

/// Makes the [`Workspace`] a job runs in: one per job (its own cancel token), with the backends
/// the embedder chose (clones, forge, progress, store layers).
pub type Workspaces = Arc<dyn Fn() -> Result<Workspace> + Send + Sync>;

/// Acts on pull-request comment commands (`/apply-plan`, `/rollback-plan`, `/unlock-plan`,
/// `/approve-plan`). [`WorkflowComments`] runs them through core; another implementation may,
/// say, hand the event file to a process of its own.
#[async_trait]
pub trait CommentCommands: Send + Sync + std::fmt::Debug {
    /// Acts on one `issue_comment` webhook `payload`, which is also written to `event_file` (as
    /// GitHub Actions writes `$GITHUB_EVENT_PATH`; removed when the job ends). `Ok(false)`: the
    /// command ran and failed (a failed apply); a refusal is an answer, `Ok(true)`.
    async fn run(&self, payload: &serde_json::Value, event_file: &Path) -> Result<bool>;
}

/// Runs each comment command through core's [`run_comment_command`] in a fresh workspace (its
/// own cancel token), the one entry point `orchestrator pr-command` also calls: the same
/// decisions (which comments to ignore, the trusted policy and its overrides, whether a cluster
/// is needed), the same lock and journal. Nothing is printed; the outcome is logged.
#[derive(Clone)]
pub struct WorkflowComments {
    workspaces: Workspaces,
    policy_from: PolicySource,
    overrides: PolicyOverrides,
    cluster: Option<Arc<dyn ClusterConnector>>,
}

impl std::fmt::Debug for WorkflowComments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowComments")
            .field("policy_from", &self.policy_from)
            .field("overrides", &self.overrides)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl WorkflowComments {
    /// Commands in the workspaces `workspaces` makes (the same factory as the service's
    /// [`WorkflowJobs`]), with the policy from each pull request's base branch, no overrides,
    /// and no cluster: `/apply-plan` and `/rollback-plan` are then an error once approved.
    pub fn new(workspaces: Workspaces) -> Self {
        Self {
            workspaces,
            policy_from: PolicySource::BaseBranch,
            overrides: PolicyOverrides::default(),
            cluster: None,
        }
    }

    /// `/apply-plan` and `/rollback-plan` change the cluster `cluster` connects to (asked per
    /// command, with its pull request: [`ClusterConnector::connect_for_comment`]).
    #[must_use]
    pub fn cluster(mut self, cluster: Arc<dyn ClusterConnector>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The `[scale]` policy is read from `source` with `overrides` on top (checked, with the rest
    /// of each command's input, before the command reads or changes anything).
    #[must_use]
    pub fn policy(mut self, source: PolicySource, overrides: PolicyOverrides) -> Self {
        self.policy_from = source;
        self.overrides = overrides;
        self
    }
}

#[async_trait]
impl CommentCommands for WorkflowComments {
    async fn run(&self, payload: &serde_json::Value, event_file: &Path) -> Result<bool> {
        let workspace = (self.workspaces)()?;
        let request = CommentCommandRequest {
            event: CommentEventSource::Payload {
                json: payload.clone(),
                origin: event_file.display().to_string(),
            },
            policy_from: self.policy_from,
            overrides: self.overrides.clone(),
            cluster: self.cluster.clone(),
        };
        // A signal stops the command's change as it stops `pr-command`'s.
        workspace.cancel_on_stop_signals();
        let outcome = run_comment_command(&workspace, &request).await?;
        let shown = serde_json::to_string(&outcome)
            .map_err(|e| Error::state(format!("showing a command's outcome: {e}")))?;
        tracing::info!(outcome = %shown, "comment command answered");
        Ok(outcome.succeeded())
    }
}

/// Shows what a job did (the binary prints a cascade's report as `orchestrator cascade` does).
pub trait JobReports: Send + Sync + std::fmt::Debug {
    /// A cascade or nightly job's run ended; `finished.report` is `None` when there was nothing
    /// to cascade.
    fn cascade(&self, workspace: &Workspace, finished: &Finished<Option<PublishReport>>);
}

/// Runs jobs through core's workflows; see the module docs.
#[derive(Clone)]
pub struct WorkflowJobs {
    workspaces: Workspaces,
    scratch: PathBuf,
    comments: Option<Arc<dyn CommentCommands>>,
    reports: Option<Arc<dyn JobReports>>,
}

impl std::fmt::Debug for WorkflowJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowJobs")
            .field("scratch", &self.scratch)
            .field("comments", &self.comments)
            .field("reports", &self.reports)
            .finish_non_exhaustive()
    }
}

impl WorkflowJobs {
    /// Jobs in the workspaces `workspaces` makes; a comment job's event file is written under
    /// `scratch` (`serve-jobs` in the state directory, for the service). Without
    /// [`WorkflowJobs::comments`], a comment job fails with [`Error::NotSupported`].
    pub fn new(workspaces: Workspaces, scratch: impl Into<PathBuf>) -> Self {
        Self {
            workspaces,
            scratch: scratch.into(),
            comments: None,
            reports: None,
        }
    }

    /// Comment commands go to `comments`.
    #[must_use]
    pub fn comments(mut self, comments: Arc<dyn CommentCommands>) -> Self {
        self.comments = Some(comments);
        self
    }

    /// Each job's result is shown through `reports` (besides the log).
    #[must_use]
    pub fn reports(mut self, reports: Arc<dyn JobReports>) -> Self {
        self.reports = Some(reports);
        self
    }

    fn event_file(&self, job: &Job, n: usize) -> PathBuf {
        self.scratch.join(format!("job-{}-{n}.json", job.id))
    }

    /// A cascade (or the nightly) through [`CascadeWorkflow`]; whether it succeeded.
    async fn cascade(&self, job: &Job, shutdown: &watch::Receiver<bool>) -> Result<bool> {
        let workspace = (self.workspaces)()?;
        let (trigger, checkout) = match job.kind {
            JobKind::Nightly => (CascadeTrigger::all(), false),
            _ => {
                // Coalesced triggers name the same repos: one cascade from the newest covers all.
                let latest = job
                    .triggers
                    .last()
                    .ok_or_else(|| Error::state(format!("job {}: no trigger", job.id)))?;
                let trigger =
                    publish::parse_dispatch_event(workspace.config(), &latest.to_string())
                        .map_err(|e| match e {
                            Error::InvalidInput { message } => {
                                Error::invalid_input(format!("job {}: {message}", job.id))
                            }
                            other => other,
                        })?;
                let push = latest.get("event").and_then(serde_json::Value::as_str) == Some("push");
                (trigger, push)
            }
        };
        let workflow = CascadeWorkflow {
            request: CascadeRequest {
                trigger: Some(trigger),
                source: None,
                nightly: job.kind == JobKind::Nightly,
                resume: job.attempts > 1,
                checkout,
            },
        };
        // A signal stops the job as it stops the command; so does the service's shutdown.
        workspace.cancel_on_stop_signals();
        let cancel = workspace.cancel_token().clone();
        let mut stopping = shutdown.clone();
        let watcher = tokio::spawn(async move {
            if stopping.wait_for(|stop| *stop).await.is_ok() {
                cancel.cancel();
            }
        });
        let finished = workspace.run(&workflow).await;
        watcher.abort();
        let finished = finished?;
        if let Some(reports) = &self.reports {
            reports.cascade(&workspace, &finished);
        }
        let Some(report) = &finished.report else {
            tracing::info!(job = job.id, "nothing to cascade");
            return Ok(true);
        };
        tracing::info!(
            job = job.id,
            run = report.run_id,
            outcome = finished.outcome.as_str(),
            released = report
                .with_outcome(publish::PackageOutcome::Released)
                .join(","),
            "cascade ended"
        );
        Ok(finished.outcome.is_success())
    }

    /// Each comment is its own command, in the order they came; whether all succeeded.
    async fn comments_of(&self, job: &Job) -> Result<bool> {
        let Some(comments) = &self.comments else {
            return Err(Error::NotSupported {
                backend: "serve".into(),
                what: "pull-request comment commands (this service runs none)".into(),
            });
        };
        let mut ok = true;
        for (n, trigger) in job.triggers.iter().enumerate() {
            let payload = trigger.get("payload").ok_or_else(|| {
                Error::state(format!("job {}: a PR command without its event", job.id))
            })?;
            let file = self.event_file(job, n);
            std::fs::create_dir_all(&self.scratch)
                .map_err(|e| Error::io(format!("creating {}", self.scratch.display()), e))?;
            std::fs::write(&file, payload.to_string())
                .map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
            ok &= comments.run(payload, &file).await?;
        }
        Ok(ok)
    }
}

#[async_trait]
impl JobHandler for WorkflowJobs {
    async fn run(&self, job: &Job, shutdown: watch::Receiver<bool>) -> Result<()> {
        // Stopping already: leave the job to the next replica rather than start it.
        if *shutdown.borrow() {
            return Err(Error::Cancelled);
        }
        let outcome = match job.kind {
            JobKind::Cascade | JobKind::Nightly => self.cascade(job, &shutdown).await,
            JobKind::PrCommand => self.comments_of(job).await,
        };
        for n in 0..job.triggers.len() {
            let _ = std::fs::remove_file(self.event_file(job, n));
        }
        match outcome? {
            true => Ok(()),
            false => Err(Error::CommandFailed {
                command: format!("{} (job {})", job.kind.as_str(), job.id),
                status: "ended unsuccessfully".to_owned(),
                tail: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::queue::JobState;

    /// A comment job of `payloads`, as the queue hands it to a worker.
    fn comment_job(payloads: &[serde_json::Value]) -> Job {
        Job {
            id: 7,
            kind: JobKind::PrCommand,
            key: "pr:acme/infra#3".into(),
            triggers: payloads
                .iter()
                .map(|p| serde_json::json!({"event": "issue_comment", "payload": p}))
                .collect(),
            state: JobState::Running,
            attempts: 1,
            owner: Some("test".into()),
            lease_until: 0,
            run_after: 0,
            created: 0,
            updated: 0,
            last_error: None,
        }
    }

    /// Jobs here never need a workspace: making one is a bug.
    fn no_workspace() -> Workspaces {
        Arc::new(|| Err(Error::state("no workspace in this test")))
    }

    /// Records what it was handed (and what its event file held then); fails the comments
    /// whose body says so.
    #[derive(Debug, Default)]
    struct Recorder {
        seen: Mutex<Vec<(String, String)>>,
    }

    #[async_trait]
    impl CommentCommands for Recorder {
        async fn run(&self, payload: &serde_json::Value, event_file: &Path) -> Result<bool> {
            let body = payload["comment"]["body"].as_str().unwrap_or("").to_owned();
            let file = std::fs::read_to_string(event_file).expect("the event file is written");
            self.seen
                .lock()
                .expect("not poisoned")
                .push((body.clone(), file));
            Ok(body != "fails")
        }
    }

    fn comment(body: &str) -> serde_json::Value {
        serde_json::json!({"comment": {"body": body}})
    }

    /// Runs a comment job of `bodies` on handlers with a [`Recorder`] (`stopping`: the service
    /// is already stopping); the outcome, what the recorder saw, and the scratch dir's entries
    /// left after the job.
    async fn run_comments(
        bodies: &[&str],
        stopping: bool,
    ) -> (Result<()>, Vec<(String, String)>, usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder = Arc::new(Recorder::default());
        let scratch = dir.path().join("jobs");
        let jobs = WorkflowJobs::new(no_workspace(), &scratch).comments(recorder.clone());
        let (_stop, shutdown) = watch::channel(stopping);
        let payloads: Vec<_> = bodies.iter().map(|b| comment(b)).collect();
        let outcome = jobs.run(&comment_job(&payloads), shutdown).await;
        let left = std::fs::read_dir(&scratch).map_or(0, Iterator::count);
        let seen = recorder.seen.lock().expect("not poisoned").clone();
        (outcome, seen, left)
    }

    /// Each comment goes to the runner in the order it came, with its payload in the event file
    /// it names; the files are gone when the job ends.
    #[tokio::test]
    async fn each_comment_runs_in_order_with_its_event_file_which_is_removed_after() {
        let (outcome, seen, left) = run_comments(&["/apply-plan", "/unlock-plan"], false).await;
        outcome.expect("both succeed");
        assert_eq!(
            seen,
            vec![
                ("/apply-plan".to_owned(), comment("/apply-plan").to_string()),
                (
                    "/unlock-plan".to_owned(),
                    comment("/unlock-plan").to_string()
                ),
            ]
        );
        assert_eq!(left, 0, "event files removed");
    }

    /// One failed command fails the job (the worker retries it), after the others ran.
    #[tokio::test]
    async fn a_failed_comment_fails_the_job_naming_it() {
        let (outcome, seen, _) = run_comments(&["fails", "/unlock-plan"], false).await;
        let err = outcome.expect_err("failed");
        assert!(matches!(err, Error::CommandFailed { .. }), "{err:?}");
        assert!(err.to_string().contains("job 7"), "{err}");
        assert_eq!(seen.len(), 2);
    }

    /// Without a runner a comment job says what this service does not do.
    #[tokio::test]
    async fn without_comment_commands_a_comment_job_is_not_supported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jobs = WorkflowJobs::new(no_workspace(), dir.path());
        let (_stop, shutdown) = watch::channel(false);
        let err = jobs
            .run(&comment_job(&[comment("/apply-plan")]), shutdown)
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::NotSupported { .. }), "{err:?}");
    }

    /// A pull request with `alice`'s comment `body` on an in-memory forge; the webhook payload.
    async fn commented(
        forge: &orchestrator_core::forge::InMemoryForge,
        body: &str,
    ) -> serde_json::Value {
        use orchestrator_core::forge::prelude::*;
        use orchestrator_core::forge::{NewPullRequest, RepoId};
        let repo = RepoId::new("acme", "infra");
        let pr = forge
            .create_pull_request(
                &repo,
                &NewPullRequest {
                    title: "plan".into(),
                    body: "plan".into(),
                    head: "infra-scale/prod".into(),
                    base: "main".into(),
                    draft: true,
                },
            )
            .await
            .expect("pull request");
        let comment = forge
            .comment_as(&repo, pr.number, "alice", body)
            .expect("comment");
        serde_json::json!({
            "action": "created",
            "repository": {"full_name": "acme/infra"},
            "issue": {"number": pr.number, "pull_request": {"url": "x"}},
            "comment": {"id": comment.id, "body": body, "user": {"login": "alice"}},
        })
    }

    /// Workspaces over `forge`, their state in `dir`.
    fn workspaces_over(dir: &Path, forge: &orchestrator_core::forge::InMemoryForge) -> Workspaces {
        let file = dir.join("orchestrator.toml");
        std::fs::write(&file, "").expect("config");
        let config = orchestrator_core::config::Config::parse("", &file).expect("config");
        let (dir, forge) = (dir.join(".orchestrator"), forge.clone());
        Arc::new(move || {
            Ok(Workspace::builder(config.clone())
                .state_dir(&dir)?
                .forge(Arc::new(forge.clone()))
                .build())
        })
    }

    /// A comment job through core's entry point, in the job's workspace: `/approve-plan` is
    /// answered on the pull request and the job succeeds.
    #[tokio::test]
    async fn workflow_comments_answer_a_command_in_the_jobs_workspace() {
        use orchestrator_core::forge::prelude::*;
        let dir = tempfile::tempdir().expect("tempdir");
        let forge = orchestrator_core::forge::InMemoryForge::new();
        let payload = commented(&forge, "/approve-plan").await;
        let workspaces = workspaces_over(dir.path(), &forge);
        let jobs = WorkflowJobs::new(workspaces.clone(), dir.path().join("jobs"))
            .comments(Arc::new(WorkflowComments::new(workspaces)));
        let (_stop, shutdown) = watch::channel(false);
        jobs.run(&comment_job(&[payload]), shutdown)
            .await
            .expect("answered");
        let repo = orchestrator_core::forge::RepoId::new("acme", "infra");
        let comments = forge.list_comments(&repo, 1).await.expect("comments");
        assert_eq!(comments.len(), 2, "the command and its answer");
        assert!(dir.path().join(".orchestrator").exists(), "journaled");
    }

    /// The embedder's overrides reach the entry point, which refuses a bad one before the job
    /// touches the forge or the state.
    #[tokio::test]
    async fn workflow_comments_refuse_a_bad_override_before_any_effect() {
        let dir = tempfile::tempdir().expect("tempdir");
        let forge = orchestrator_core::forge::InMemoryForge::new();
        let payload = commented(&forge, "/approve-plan").await;
        let requests = forge.requests().len();
        let workspaces = workspaces_over(dir.path(), &forge);
        let comments = WorkflowComments::new(workspaces.clone()).policy(
            PolicySource::Checkout,
            PolicyOverrides {
                min_permission: Some("owner".into()),
                ..PolicyOverrides::default()
            },
        );
        let jobs =
            WorkflowJobs::new(workspaces, dir.path().join("jobs")).comments(Arc::new(comments));
        let (_stop, shutdown) = watch::channel(false);
        let err = jobs
            .run(&comment_job(&[payload]), shutdown)
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(err.to_string().contains("--min-permission owner"), "{err}");
        assert_eq!(forge.requests().len(), requests, "no forge request");
        assert!(!dir.path().join(".orchestrator").exists(), "no state");
    }

    /// A service already stopping starts nothing: the job is left to the next replica.
    #[tokio::test]
    async fn a_job_claimed_while_stopping_is_cancelled_before_it_starts() {
        let (outcome, seen, _) = run_comments(&["/apply-plan"], true).await;
        let err = outcome.expect_err("cancelled");
        assert!(matches!(err, Error::Cancelled), "{err:?}");
        assert!(seen.is_empty());
    }
}
