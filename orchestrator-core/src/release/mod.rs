//! `orchestrator release`: tag many clones in dependency order, push, and wait for their assets.
//!
//! [`Releaser::plan`] validates the request and preflights every selected repo without changing
//! anything; [`Releaser::execute`] turns the plan into steps (`tag:<repo>`, `push:<repo>`,
//! `wait:<repo>`) for the engine. A repo's first step comes after the `wait` steps of the
//! repos it depends on, so independent repos overlap and the makespan is the longest chain.

pub mod config;

mod assets;
mod preflight;
mod steps;
mod wait;

pub use assets::{AssetMatcher, AssetPattern};
pub use config::ReleaseConfig;
pub use preflight::{ORIGIN, RepoAction, RepoPreflight, origin_matches, preflight_repo};
pub use wait::{
    Assessment, AssetSnapshot, Stability, WaitReport, WaitSpec, assess, set_poll_stretch,
    wait_for_assets, waits_in_flight, wake_all_waits, wake_waits, wake_waits_for_release,
};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::engine::{CancelToken, EngineOptions, Observer, Plan, PlannedStep, StepStatus};
use crate::error::{Error, PreflightFailure, Result};
use crate::forge::{Forge, RepoId, RequestStats};
use crate::state::{RunId, RunStatus, StateStore};
use crate::vcs::Vcs;
use crate::version::ReleaseVersion;
use crate::workspace::{JournaledRunner, RunStart, first_unfinished};
use steps::{PushStep, TagStep, WaitStep};

/// The run kind under which releases are journaled.
pub const RUN_KIND: &str = "release";

/// What a release run records (see [`crate::workspace::params`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReleaseParams {
    /// The version released.
    pub version: String,
    /// The tag.
    pub tag: String,
    /// `--only`, as given.
    #[serde(default)]
    pub only: Vec<String>,
    /// The repos planned, in order.
    #[serde(default)]
    pub repos: Vec<String>,
}

impl crate::workspace::params::RunParams for ReleaseParams {
    const KIND: &'static str = RUN_KIND;
    const VERSION: u32 = 1;
}

/// What to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRequest {
    /// The version (tag rendered by `[release] tag`).
    pub version: ReleaseVersion,
    /// Only these repos (all when empty); their dependencies outside the set are assumed released.
    pub only: Vec<String>,
    /// Continue an interrupted release: accept tags already made at HEAD, honour the journal.
    pub resume: bool,
    /// Repos in flight at once (default: `[release] concurrency`).
    pub concurrency: Option<usize>,
}

impl ReleaseRequest {
    /// A request for every repo.
    pub fn new(version: ReleaseVersion) -> Self {
        Self {
            version,
            only: Vec::new(),
            resume: false,
            concurrency: None,
        }
    }
}

/// One repo in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRepo {
    /// Configured name. Not serialized: the flattened `preflight` carries the same name, and a
    /// JSON object must not hold one key twice.
    #[serde(skip_serializing)]
    pub name: String,
    /// `owner/name`.
    pub github: RepoId,
    /// The local clone.
    pub path: std::path::PathBuf,
    /// What preflight decided.
    #[serde(flatten)]
    pub preflight: RepoPreflight,
    /// Asset patterns with the version filled in.
    pub assets: Vec<String>,
    /// Selected repos it waits for.
    pub depends_on: Vec<String>,
}

/// A validated, preflighted release; nothing has changed yet.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasePlan {
    /// The version.
    pub version: String,
    /// The tag.
    pub tag: String,
    /// Selected repos in dependency order.
    pub repos: Vec<PlannedRepo>,
    /// Repos grouped into waves that can run side by side.
    pub waves: Vec<Vec<String>>,
    /// The run being resumed, if any.
    pub resume_run: Option<RunId>,
    /// Steps that run's journal already records as done.
    pub journaled_done: Vec<String>,
    /// Repos in flight at once.
    pub concurrency: usize,
    #[serde(skip)]
    request: Option<ReleaseRequest>,
}

/// How one repo's release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RepoOutcome {
    /// Tagged, pushed, and its assets settled.
    Released,
    /// A step failed; the error says which and why.
    Failed,
    /// Not started because a repo it depends on did not finish.
    Blocked,
    /// Stopped by Ctrl-C while running.
    Interrupted,
    /// Not started because the run stopped first.
    NotStarted,
}

impl RepoOutcome {
    /// The snake_case name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoOutcome::Released => "released",
            RepoOutcome::Failed => "failed",
            RepoOutcome::Blocked => "blocked",
            RepoOutcome::Interrupted => "interrupted",
            RepoOutcome::NotStarted => "not_started",
        }
    }
}

impl std::fmt::Display for RepoOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One repo's result.
#[derive(Debug, Clone, Serialize)]
pub struct RepoReport {
    /// Configured name.
    pub name: String,
    /// `owner/name`.
    pub github: RepoId,
    /// The tagged commit.
    pub commit: String,
    /// How it ended.
    pub outcome: RepoOutcome,
    /// The settled assets.
    pub assets: AssetSnapshot,
    /// The release page.
    pub release_url: Option<String>,
    /// Seconds spent waiting for assets.
    pub waited_secs: f64,
    /// Forge polls while waiting.
    pub polls: u32,
    /// Requests retried while waiting.
    pub retries: u32,
    /// Why it did not finish.
    pub error: Option<String>,
}

/// The result of a release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseReport {
    /// The run in the state store (`orchestrator runs`).
    pub run_id: RunId,
    /// The version.
    pub version: String,
    /// The tag.
    pub tag: String,
    /// How it ended.
    pub status: RunStatus,
    /// Per repo, in dependency order.
    pub repos: Vec<RepoReport>,
    /// Forge requests made by this process.
    pub forge_requests: RequestStats,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Checks a request against the config without touching anything: the selected repos (all when
/// `--only` is empty) and the concurrency. Cheap; callers run it before taking locks.
pub fn validate_request(
    config: &Config,
    request: &ReleaseRequest,
) -> Result<(BTreeSet<String>, usize)> {
    if config.repos.is_empty() {
        return Err(Error::invalid_input(format!(
            "{} declares no [[repo]]",
            config.file.display()
        )));
    }
    let mut selected = BTreeSet::new();
    for name in &request.only {
        if config.repo(name).is_none() {
            let known: Vec<&str> = config.repos.iter().map(|r| r.name.as_str()).collect();
            return Err(Error::invalid_input(format!(
                "unknown repo {name:?} in --only (configured: {})",
                known.join(", ")
            )));
        }
        selected.insert(name.clone());
    }
    if selected.is_empty() {
        selected = config.repos.iter().map(|r| r.name.clone()).collect();
    }
    let concurrency = request.concurrency.unwrap_or(config.release.concurrency);
    if concurrency == 0 {
        return Err(Error::invalid_input("--concurrency must be at least 1"));
    }
    Ok((selected, concurrency))
}

/// Validates the request and preflights every selected repo. Changes nothing, locally or on the
/// forge, and needs neither a forge nor a token: this is `--dry-run`.
pub async fn plan_release(
    config: &Config,
    vcs: Arc<dyn Vcs>,
    store: &dyn StateStore,
    request: &ReleaseRequest,
) -> Result<ReleasePlan> {
    let (selected, concurrency) = validate_request(config, request)?;
    let tag = config.release.tag.render(&request.version);

    // Preflight all selected repos side by side; collect every failure.
    let mut checks = tokio::task::JoinSet::new();
    for repo in config.repos.iter().filter(|r| selected.contains(&r.name)) {
        let (vcs, repo, tag, resume) = (vcs.clone(), repo.clone(), tag.clone(), request.resume);
        checks.spawn(async move {
            let result = preflight_repo(vcs.as_ref(), &repo, &tag, resume).await;
            (repo.name, result)
        });
    }
    let mut passed = std::collections::HashMap::new();
    let mut failures = Vec::new();
    while let Some(joined) = checks.join_next().await {
        let (name, result) =
            joined.map_err(|e| Error::state(format!("preflight task failed: {e}")))?;
        match result {
            Ok(p) => {
                passed.insert(name, p);
            }
            Err(reasons) => failures.extend(reasons.into_iter().map(|reason| PreflightFailure {
                repo: name.clone(),
                reason,
            })),
        }
    }
    if !failures.is_empty() {
        let order: Vec<&String> = config.repos.iter().map(|r| &r.name).collect();
        failures.sort_by_key(|f| order.iter().position(|n| **n == f.repo));
        return Err(Error::Preflight { failures });
    }

    let waves = config.graph.waves(Some(&selected));
    let repos = waves
        .iter()
        .flatten()
        .filter_map(|name| config.repo(name))
        .map(|repo| PlannedRepo {
            name: repo.name.clone(),
            github: repo.github.clone(),
            path: repo.path.clone(),
            preflight: passed
                .remove(&repo.name)
                .expect("every selected repo passed preflight"),
            assets: repo
                .assets
                .iter()
                .map(|a| a.for_version(&request.version).pattern().to_owned())
                .collect(),
            depends_on: repo
                .depends_on
                .iter()
                .filter(|d| selected.contains(*d))
                .cloned()
                .collect(),
        })
        .collect();
    let (resume_run, journaled_done) = if request.resume {
        match store
            .resumable(RUN_KIND, &request.version.to_string())
            .await?
        {
            Some(run) => {
                let done = store
                    .journal(run.id)
                    .await?
                    .into_iter()
                    .filter(|r| r.entry.completes_step())
                    .filter_map(|r| r.entry.step().map(str::to_owned))
                    .collect();
                (Some(run.id), done)
            }
            None => (None, Vec::new()),
        }
    } else {
        (None, Vec::new())
    };
    Ok(ReleasePlan {
        version: request.version.to_string(),
        tag,
        repos,
        waves,
        resume_run,
        journaled_done,
        concurrency,
        request: Some(request.clone()),
    })
}

/// Runs releases over the backends it is given. It takes no lock, checks no credentials and
/// wires no Ctrl-C: embed a release through [`crate::workspace::Workspace`] with
/// [`crate::workspace::workflows::ReleaseWorkflow`] to get those; use this directly only inside
/// a session you hold.
#[derive(Debug, Clone)]
pub struct Releaser {
    config: Arc<Config>,
    forge: Arc<dyn Forge>,
    vcs: Arc<dyn Vcs>,
    runner: JournaledRunner,
}

impl Releaser {
    /// A releaser over the given backends.
    pub fn new(
        config: Arc<Config>,
        forge: Arc<dyn Forge>,
        vcs: Arc<dyn Vcs>,
        store: Arc<dyn StateStore>,
    ) -> Self {
        Self {
            config,
            forge,
            vcs,
            runner: JournaledRunner::new(store),
        }
    }

    /// Sends progress to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.runner.observer = observer;
        self
    }

    /// Stops when `cancel` is cancelled (wire it to Ctrl-C).
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.runner.cancel = cancel;
        self
    }

    /// Validates the request and preflights every selected repo; see [`plan_release`].
    pub async fn plan(&self, request: &ReleaseRequest) -> Result<ReleasePlan> {
        plan_release(
            &self.config,
            self.vcs.clone(),
            self.runner.store().as_ref(),
            request,
        )
        .await
    }

    /// Runs a plan made by [`Releaser::plan`]: tags, pushes and waits, journaling every step.
    pub async fn execute(&self, plan: &ReleasePlan) -> Result<ReleaseReport> {
        let started = Instant::now();
        let request = plan
            .request
            .as_ref()
            .ok_or_else(|| Error::invalid_input("release plan has no request"))?;
        let engine_plan = self.steps(plan, request)?;
        let start = RunStart::resume_or_new(plan.resume_run, &plan.version, || ReleaseParams {
            version: plan.version.clone(),
            tag: plan.tag.clone(),
            only: request.only.clone(),
            repos: plan.repos.iter().map(|r| r.name.clone()).collect(),
        })?;
        let options = EngineOptions {
            concurrency: plan.concurrency,
            ..EngineOptions::default()
        };
        let report = self
            .runner
            .open_and_run(start, &engine_plan, options)
            .await?;
        let run = report.run_id;

        let repos = plan
            .repos
            .iter()
            .map(|repo| {
                let ids = [
                    format!("tag:{}", repo.name),
                    format!("push:{}", repo.name),
                    format!("wait:{}", repo.name),
                ];
                let failed = first_unfinished(&report, &ids);
                let wait = report.step(&ids[2]);
                let wait_data: Option<WaitReport> =
                    wait.and_then(|w| serde_json::from_value(w.data.clone()).ok());
                let outcome = match failed.map(|s| &s.status) {
                    None => RepoOutcome::Released,
                    Some(StepStatus::Failed) => RepoOutcome::Failed,
                    Some(StepStatus::Blocked { .. }) => RepoOutcome::Blocked,
                    Some(StepStatus::Interrupted) => RepoOutcome::Interrupted,
                    Some(_) => RepoOutcome::NotStarted,
                };
                RepoReport {
                    name: repo.name.clone(),
                    github: repo.github.clone(),
                    commit: repo.preflight.commit.clone(),
                    outcome,
                    assets: wait_data
                        .as_ref()
                        .map(|w| w.assets.clone())
                        .unwrap_or_default(),
                    release_url: wait_data.as_ref().map(|w| w.release_url.clone()),
                    waited_secs: wait_data.as_ref().map_or(0.0, |w| w.waited_secs),
                    polls: wait_data.as_ref().map_or(0, |w| w.polls),
                    retries: wait_data.as_ref().map_or(0, |w| w.retries),
                    error: failed.map(|s| s.summary.clone()),
                }
            })
            .collect();
        Ok(ReleaseReport {
            run_id: run,
            version: plan.version.clone(),
            tag: plan.tag.clone(),
            status: report.status,
            repos,
            forge_requests: self.forge.request_stats(),
            elapsed_secs: started.elapsed().as_secs_f64(),
        })
    }

    /// Plans and executes.
    pub async fn run(&self, request: &ReleaseRequest) -> Result<ReleaseReport> {
        let plan = self.plan(request).await?;
        self.execute(&plan).await
    }

    fn steps(&self, plan: &ReleasePlan, request: &ReleaseRequest) -> Result<Plan> {
        let release = &self.config.release;
        let mut steps = Vec::new();
        for repo in &plan.repos {
            let config = self
                .config
                .repo(&repo.name)
                .expect("planned repos come from the config");
            let mut after: Vec<String> = repo
                .depends_on
                .iter()
                .map(|d| format!("wait:{d}"))
                .collect();
            let commit = repo.preflight.commit.clone();
            if repo.preflight.action == RepoAction::TagAndPush {
                let id = format!("tag:{}", repo.name);
                steps.push(PlannedStep {
                    step: Arc::new(TagStep {
                        id: id.clone(),
                        path: repo.path.clone(),
                        tag: plan.tag.clone(),
                        commit: commit.clone(),
                        message: format!("Release {} ({})", plan.version, repo.github),
                        vcs: self.vcs.clone(),
                    }),
                    after: std::mem::take(&mut after),
                });
                after = vec![id];
            }
            if repo.preflight.action != RepoAction::WaitOnly {
                let id = format!("push:{}", repo.name);
                steps.push(PlannedStep {
                    step: Arc::new(PushStep {
                        id: id.clone(),
                        path: repo.path.clone(),
                        tag: plan.tag.clone(),
                        commit,
                        vcs: self.vcs.clone(),
                    }),
                    after: std::mem::take(&mut after),
                });
                after = vec![id];
            }
            steps.push(PlannedStep {
                step: Arc::new(WaitStep {
                    id: format!("wait:{}", repo.name),
                    spec: WaitSpec {
                        repo: repo.github.clone(),
                        tag: plan.tag.clone(),
                        patterns: config
                            .assets
                            .iter()
                            .map(|a| a.for_version(&request.version))
                            .collect(),
                        poll_interval: release.poll_interval,
                        timeout: release.timeout,
                        stable_polls: release.stable_polls,
                        // Preflight found no such tag on the origin: this run creates it.
                        fresh_tag: repo.preflight.action == RepoAction::TagAndPush,
                    },
                    forge: self.forge.clone(),
                }),
                after,
            });
        }
        Plan::new(steps)
    }
}
