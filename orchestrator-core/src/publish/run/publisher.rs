//! [`Publisher`]: runs a publish plan on the engine, as a new run or the resumed one, and
//! reports per package.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::engine_plan::engine_plan;
use super::preflight::preflight_publish;
use super::recorded::{CASCADE_RUN_KIND, CascadeParams, PublishParams, RecordedPlan, plan_key};
use super::report::{PublishReport, package_reports};
use crate::config::Config;
use crate::engine::{CancelToken, EngineOptions, Observer};
use crate::error::{Error, Result};
use crate::forge::Forge;
use crate::publish::RUN_KIND;
use crate::publish::config::{CoordinationCommit, work_tree_of};
use crate::publish::plan::PublishPlan;
use crate::publish::steps::RunUrls;
use crate::state::StateStore;
use crate::vcs::Vcs;
use crate::workspace::params;
use crate::workspace::{JournaledRunner, RunStart};

/// How a plan is run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishOptions {
    /// Continue the newest unfinished run of the same kind and key (its journal is honoured).
    pub resume: bool,
    /// A nightly cascade: no version bump or branch push; the tags are the plan's nightly tags
    /// and releases are prereleases; no umbrella release, no coordination manifest.
    pub nightly: bool,
    /// Journal kind: [`RUN_KIND`] (default) or [`CASCADE_RUN_KIND`].
    pub kind: Option<String>,
}

/// Runs publish plans; embed it with your own `Forge`, `Vcs` and `StateStore`. It takes no
/// lock, checks no credentials and wires no Ctrl-C: run [`crate::publish::PublishWorkflow`] or
/// [`crate::publish::CascadeWorkflow`] through a [`crate::workspace::Workspace`] to get those; use this
/// directly only inside a session you hold.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub(super) config: Arc<Config>,
    pub(super) forge: Arc<dyn Forge>,
    pub(super) vcs: Arc<dyn Vcs>,
    runner: JournaledRunner,
}

impl Publisher {
    /// A publisher over the given backends.
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

    /// Stops when `cancel` is cancelled.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.runner.cancel = cancel;
        self
    }

    /// Publishes `plan` as a new run.
    pub async fn execute(&self, plan: &PublishPlan) -> Result<PublishReport> {
        self.execute_with(plan, &PublishOptions::default()).await
    }

    /// Publishes `plan` (a new run, or the resumed one).
    pub async fn execute_with(
        &self,
        plan: &PublishPlan,
        options: &PublishOptions,
    ) -> Result<PublishReport> {
        let started = Instant::now();
        let publish = &self.config.publish;
        // Refused before anything happens: the last step could not do what the config asks.
        if !options.nightly
            && publish.coordination_commit != CoordinationCommit::Off
            && work_tree_of(&publish.coordination).is_none()
        {
            return Err(Error::invalid_input(format!(
                "[publish] coordination_commit: {} is not inside a git work tree, so it cannot be \
                 committed (set coordination_commit = \"off\", or move the file into one)",
                publish.coordination.display()
            )));
        }
        let kind = options.kind.clone().unwrap_or_else(|| RUN_KIND.to_owned());
        let key = plan_key(plan);
        let resumed = if options.resume {
            self.runner.store().resumable(&kind, &key).await?
        } else {
            None
        };
        let start = match resumed {
            Some(run) => RunStart::Resume(run.id),
            None => {
                // A new run starts from clean clones in step with their origins; a resumed one
                // is past that (its own commits and tags are there) and its steps check instead.
                self.preflight(plan, options.nightly).await?;
                let recorded = RecordedPlan {
                    plan: plan.clone(),
                    nightly: options.nightly,
                };
                if kind == CASCADE_RUN_KIND {
                    RunStart::new(&key, &CascadeParams(recorded))?
                } else {
                    RunStart::New {
                        kind: kind.clone(),
                        key: key.clone(),
                        params: params::encode(&PublishParams(recorded))?,
                    }
                }
            }
        };
        let run = self.runner.open(start).await?;
        let urls: RunUrls = Arc::new(Mutex::new(BTreeMap::new()));
        let (engine_plan, extras) = engine_plan(self, plan, options, run, &urls)?;
        let options = EngineOptions {
            concurrency: plan.concurrency,
            ..EngineOptions::default()
        };
        let report = self.runner.run(&engine_plan, run, options).await?;
        let urls = urls.lock().expect("run urls").clone();
        let packages = package_reports(plan, &report, &urls);
        let done = |id: &str| report.step(id).is_some_and(|s| s.status.is_done());
        Ok(PublishReport {
            run_id: run,
            kind,
            key,
            status: report.status,
            packages,
            umbrella: extras.umbrella.filter(|_| done("umbrella")),
            coordination: extras.coordination.filter(|_| done("coordination")),
            forge_requests: self.forge.request_stats(),
            elapsed_secs: started.elapsed().as_secs_f64(),
        })
    }

    async fn preflight(&self, plan: &PublishPlan, nightly: bool) -> Result<()> {
        preflight_publish(&self.config, self.vcs.clone(), plan, nightly).await
    }
}
