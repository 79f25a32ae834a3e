//! Running a [`PublishPlan`] on the [`Engine`]: per package `bump:<repo>`, `tag:<repo>`,
//! `push:<repo>`, `trigger:<repo>`, `wait:<repo>`, `notes:<repo>` (ids stable across runs, so the
//! journal and `--resume` work as for `release`), then `umbrella` and `coordination` once every
//! package succeeded. A package's first step comes after the last step of each package it depends
//! on, so independent packages overlap and a failure holds back only its dependents.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::cascade::{cascade_packages, nightly_tag};
use super::config::{CoordinationCommit, TriggerKind, work_tree_of};
use super::plan::{PublishPlan, PublishRequest, manifest_rewrites, plan_publish};
use super::registry::{AwaitedVersion, ResolvedRegistry, npm_registry_url};
use super::steps::{
    AvailableStep, BumpStep, CoordinationEntry, CoordinationStep, NotesStep, PackageCtx, PushStep,
    RunUrls, TagStep, TriggerSpec, TriggerStep, UmbrellaStep, WaitStep,
};
use super::{BumpRequest, ObservedRepo, RUN_KIND};
use crate::config::Config;
use crate::engine::{CancelToken, EngineOptions, Observer, Plan, PlannedStep, StepStatus};
use crate::error::PreflightFailure;
use crate::error::{Error, Result};
use crate::forge::{Forge, RequestStats};
use crate::release::{WaitSpec, preflight_repo};
use crate::state::{RunId, RunStatus, StateStore};
use crate::vcs::{Head, Vcs};
use crate::version::ReleaseVersion;
use crate::workspace::params::{self, RunParams};
use crate::workspace::{JournaledRunner, RunStart, first_unfinished};

/// The run kind under which cascades are journaled.
pub const CASCADE_RUN_KIND: &str = "cascade";

/// The step kinds of one package, in order.
/// `available` exists only for a package some of whose released dependencies declare a
/// `registry`.
pub const PACKAGE_STEPS: [&str; 7] = [
    "available",
    "bump",
    "tag",
    "push",
    "trigger",
    "wait",
    "notes",
];

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

/// How one package ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageOutcome {
    /// Every step done.
    Released,
    /// A step failed.
    Failed,
    /// Not started because a package it depends on did not finish.
    HeldBack,
    /// Stopped by Ctrl-C while running.
    Interrupted,
    /// Not started because the run stopped first.
    NotStarted,
}

impl PackageOutcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Released => "released",
            Self::Failed => "failed",
            Self::HeldBack => "held_back",
            Self::Interrupted => "interrupted",
            Self::NotStarted => "not_started",
        }
    }
}

/// One package's result.
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    /// The repo.
    pub name: String,
    /// The version released.
    pub version: String,
    /// Its tag.
    pub tag: String,
    /// How it ended.
    pub outcome: PackageOutcome,
    /// The release run it caused (failed runs too).
    pub run_url: Option<String>,
    /// The failed step's error, or which package held it back.
    pub error: Option<String>,
}

/// The result of a publish or cascade.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The run in the state store.
    pub run_id: RunId,
    /// `publish` or `cascade`.
    pub kind: String,
    /// The journal key.
    pub key: String,
    /// How it ended.
    pub status: RunStatus,
    /// Per package, in dependency order.
    pub packages: Vec<PackageReport>,
    /// The umbrella release's tag, when created.
    pub umbrella: Option<String>,
    /// The coordination manifest, when written.
    pub coordination: Option<String>,
    /// Forge requests made by this process.
    pub forge_requests: RequestStats,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

impl PublishReport {
    /// Packages with `outcome`.
    pub fn with_outcome(&self, outcome: PackageOutcome) -> Vec<&str> {
        self.packages
            .iter()
            .filter(|p| p.outcome == outcome)
            .map(|p| p.name.as_str())
            .collect()
    }
}

/// The journal key of a plan: its umbrella tag, else its packages' tags.
pub fn plan_key(plan: &PublishPlan) -> String {
    plan.umbrella_tag.clone().unwrap_or_else(|| {
        plan.packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.tag))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// An unfinished publish or cascade, as it was recorded when it began.
#[derive(Debug, Clone)]
pub struct RecordedRun {
    /// The run in the state store.
    pub run: RunId,
    /// Its plan, as it was made.
    pub plan: PublishPlan,
    /// Whether it was a nightly cascade.
    pub nightly: bool,
}

/// What a publish or cascade run records: the plan it was made with (a resumed run continues
/// exactly it) and whether it is a nightly.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RecordedPlan {
    /// The plan, as it was made.
    pub plan: PublishPlan,
    /// A nightly cascade (no bump, nightly tags).
    #[serde(default)]
    pub nightly: bool,
}

/// The recorded parameters of a [`RUN_KIND`] run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PublishParams(pub RecordedPlan);

impl RunParams for PublishParams {
    const KIND: &'static str = RUN_KIND;
    const VERSION: u32 = 1;
}

/// The recorded parameters of a [`CASCADE_RUN_KIND`] run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CascadeParams(pub RecordedPlan);

impl RunParams for CascadeParams {
    const KIND: &'static str = CASCADE_RUN_KIND;
    const VERSION: u32 = 1;
}

/// The newest run of `kind` (`publish` or `cascade`) when it did not succeed, with the plan it
/// was made with: a resumed publish must not re-plan from manifests its own `bump` steps
/// already rewrote, nor a resumed nightly from a new day's date.
pub async fn resumable_run(store: &dyn StateStore, kind: &str) -> Result<Option<RecordedRun>> {
    // Unfinished whatever its key (a nightly's key is its date: its resume may come after
    // midnight); an abandoned run is final.
    let Some(run) = store.unfinished(kind).await? else {
        return Ok(None);
    };
    let recorded = if kind == CASCADE_RUN_KIND {
        params::decode::<CascadeParams>(&run)?.0
    } else {
        params::decode::<PublishParams>(&run)?.0
    };
    recorded
        .plan
        .validate()
        .map_err(|e| Error::state(format!("run {}: {e}", run.id)))?;
    Ok(Some(RecordedRun {
        run: run.id,
        plan: recorded.plan,
        nightly: recorded.nightly,
    }))
}

/// The plan of [`resumable_run`].
pub async fn resumable_plan(store: &dyn StateStore, kind: &str) -> Result<Option<PublishPlan>> {
    Ok(resumable_run(store, kind).await?.map(|r| r.plan))
}

/// The plan of `cascade --from <from>`: `from` and everything downstream of it that publishes
/// (`None`: every repo that publishes, as `--all` and a `build_all` event ask).
/// Without `nightly`, a patch release of each (dependents' requirements follow); with it, each
/// is tagged `[publish] nightly_tag` at its HEAD at its current version, as a prerelease.
pub async fn plan_cascade(
    config: &Config,
    vcs: &dyn Vcs,
    observed: &BTreeMap<String, ObservedRepo>,
    from: Option<&str>,
    nightly: bool,
    now_ms: i64,
) -> Result<PublishPlan> {
    let packages = cascade_packages(config, from)?;
    let scope = from.map_or_else(|| "every repo".to_owned(), |f| format!("{f}'s downstream"));
    if packages.is_empty() {
        return Err(Error::invalid_input(format!(
            "nothing in {scope} declares a `manifest`: nothing to cascade"
        )));
    }
    let mut request = PublishRequest::new(BumpRequest::Patch);
    request.packages = packages;
    let mut plan = plan_publish(config, &request, observed)?;
    if nightly {
        for p in &mut plan.packages {
            let repo = config.repo(&p.name).expect("planned repos are configured");
            let head = vcs.head(&repo.path).await?;
            let sha = head.commit().unwrap_or_default().to_owned();
            p.next.clone_from(&p.current);
            p.tag = nightly_tag(&config.publish.nightly_tag, now_ms, &sha);
            p.reason = format!("nightly of {scope} at {}", &sha[..sha.len().min(7)]);
        }
        plan.umbrella_tag = None;
    }
    Ok(plan)
}

/// Runs publish plans; embed it with your own `Forge`, `Vcs` and `StateStore`. It takes no
/// lock, checks no credentials and wires no Ctrl-C: run [`super::PublishWorkflow`] or
/// [`super::CascadeWorkflow`] through a [`crate::workspace::Workspace`] to get those; use this
/// directly only inside a session you hold.
#[derive(Debug, Clone)]
pub struct Publisher {
    config: Arc<Config>,
    forge: Arc<dyn Forge>,
    vcs: Arc<dyn Vcs>,
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
        let (engine_plan, extras) = self.steps(plan, options, run, &urls)?;
        let options = EngineOptions {
            concurrency: plan.concurrency,
            ..EngineOptions::default()
        };
        let report = self.runner.run(&engine_plan, run, options).await?;
        let urls = urls.lock().expect("run urls").clone();
        let packages = plan
            .packages
            .iter()
            .map(|p| {
                let failed = first_unfinished(
                    &report,
                    PACKAGE_STEPS.iter().map(|s| format!("{s}:{}", p.name)),
                );
                let outcome = match failed.map(|s| &s.status) {
                    None => PackageOutcome::Released,
                    Some(StepStatus::Failed) => PackageOutcome::Failed,
                    Some(StepStatus::Blocked { .. }) => PackageOutcome::HeldBack,
                    Some(StepStatus::Interrupted) => PackageOutcome::Interrupted,
                    Some(_) => PackageOutcome::NotStarted,
                };
                PackageReport {
                    name: p.name.clone(),
                    version: p.next.clone(),
                    tag: p.tag.clone(),
                    outcome,
                    run_url: urls.get(&p.name).cloned(),
                    error: failed.map(|s| s.summary.clone()),
                }
            })
            .collect();
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

    fn steps(
        &self,
        plan: &PublishPlan,
        options: &PublishOptions,
        run: RunId,
        urls: &RunUrls,
    ) -> Result<(Plan, Extras)> {
        let released = if options.nightly {
            BTreeMap::new()
        } else {
            plan.released_versions()?
        };
        let release = &self.config.release;
        let mut steps = Vec::new();
        let mut lasts = Vec::new();
        let mut entries = Vec::new();
        for p in &plan.packages {
            let repo = self
                .config
                .repo(&p.name)
                .ok_or_else(|| Error::invalid_input(format!("unknown repo {}", p.name)))?;
            let manifest = repo.publish.manifest.clone().ok_or_else(|| {
                Error::invalid_input(format!("{} declares no `manifest`", p.name))
            })?;
            let version = ReleaseVersion::parse(&p.next)?;
            let previous_tag = release
                .tag
                .render(&ReleaseVersion::parse(&p.current)?)
                .to_string();
            let pkg = PackageCtx {
                name: p.name.clone(),
                github: p.github.clone(),
                path: repo.path.clone(),
                version: p.next.clone(),
                tag: p.tag.clone(),
                previous_tag: Some(previous_tag),
                branch: repo.publish.branch().to_owned(),
                nightly: options.nightly,
                vcs: self.vcs.clone(),
                forge: self.forge.clone(),
            };
            let id = |kind: &str| format!("{kind}:{}", p.name);
            let mut after: Vec<String> =
                p.depends_on.iter().map(|d| format!("notes:{d}")).collect();
            let mut push = |step: Arc<dyn crate::step::Step>, after: &mut Vec<String>| {
                let this = step.id().to_owned();
                steps.push(PlannedStep {
                    step,
                    after: std::mem::take(after),
                });
                *after = vec![this];
            };
            if !options.nightly {
                let awaited = awaited_versions(&self.config, plan, &p.name)?;
                // Locked at their new versions in dependency order: every released package,
                // since a dependency's own dependencies sit in the same lockfile.
                let lock = plan
                    .packages
                    .iter()
                    .filter(|d| d.name != p.name)
                    .flat_map(|d| d.packages.iter().map(|n| (n.clone(), d.next.clone())))
                    .collect();
                if !awaited.is_empty() {
                    push(
                        Arc::new(AvailableStep {
                            id: id("available"),
                            pkg: pkg.clone(),
                            awaited,
                            poll_interval: release.poll_interval,
                            timeout: release.timeout,
                        }),
                        &mut after,
                    );
                }
                push(
                    Arc::new(BumpStep {
                        id: id("bump"),
                        pkg: pkg.clone(),
                        manifest,
                        released: released.clone(),
                        policy: self.config.publish.dependency_range,
                        lock,
                        npm_registry: npm_registry_url(self.config.publish.npm_registry.as_deref()),
                    }),
                    &mut after,
                );
            }
            push(
                Arc::new(TagStep {
                    id: id("tag"),
                    pkg: pkg.clone(),
                }),
                &mut after,
            );
            push(
                Arc::new(PushStep {
                    id: id("push"),
                    pkg: pkg.clone(),
                }),
                &mut after,
            );
            let trigger = TriggerSpec {
                kind: p.trigger,
                workflow: p.workflow.clone(),
                inputs: repo.publish.workflow_inputs.clone(),
                correlation: match p.trigger {
                    TriggerKind::Tag => None,
                    TriggerKind::Workflow => repo
                        .publish
                        .correlation_input()
                        .map(|input| (input.to_owned(), format!("{RUN_KIND}-{run}-{}", p.name))),
                },
            };
            push(
                Arc::new(TriggerStep {
                    id: id("trigger"),
                    pkg: pkg.clone(),
                    trigger: trigger.clone(),
                    urls: urls.clone(),
                }),
                &mut after,
            );
            push(
                Arc::new(WaitStep {
                    id: id("wait"),
                    pkg: pkg.clone(),
                    trigger,
                    wait: WaitSpec {
                        repo: p.github.clone(),
                        tag: p.tag.clone(),
                        // A nightly build carries no release version: CI names its assets
                        // after the tag or the build, so `{version}` matches anything.
                        patterns: repo
                            .assets
                            .iter()
                            .map(|a| {
                                if options.nightly {
                                    a.for_any_version()
                                } else {
                                    a.for_version(&version)
                                }
                            })
                            .collect(),
                        poll_interval: release.poll_interval,
                        timeout: release.timeout,
                        stable_polls: release.stable_polls,
                        fresh_tag: false,
                    },
                    urls: urls.clone(),
                }),
                &mut after,
            );
            push(
                Arc::new(NotesStep {
                    id: id("notes"),
                    pkg,
                    display: p.packages.join(", "),
                }),
                &mut after,
            );
            lasts.push(id("notes"));
            entries.push(CoordinationEntry {
                name: p.name.clone(),
                path: repo.path.clone(),
                version: p.next.clone(),
                tag: p.tag.clone(),
                // Every declared dependency: released ones at their new version, the others at
                // what the manifest already records (a cascade must not forget them).
                requires: repo
                    .depends_on
                    .iter()
                    .map(|d| (d.clone(), plan.package(d).map(|d| d.next.clone())))
                    .collect(),
            });
        }
        let mut extras = Extras::default();
        if !options.nightly && !plan.packages.is_empty() {
            if let (Some(tag), Some(repo)) =
                (&plan.umbrella_tag, &self.config.publish.umbrella_repo)
            {
                steps.push(PlannedStep {
                    step: Arc::new(UmbrellaStep {
                        repo: repo.clone(),
                        tag: tag.clone(),
                        packages: plan
                            .packages
                            .iter()
                            .map(|p| (p.packages.join(", "), p.next.clone(), p.tag.clone()))
                            .collect(),
                        forge: self.forge.clone(),
                    }),
                    after: lasts.clone(),
                });
                extras.umbrella = Some(tag.clone());
            }
            steps.push(PlannedStep {
                step: Arc::new(CoordinationStep {
                    file: self.config.publish.coordination.clone(),
                    entries,
                    vcs: self.vcs.clone(),
                    commit: self.config.publish.coordination_commit,
                    message: format!(
                        "chore(release): record {} in {}",
                        plan_key(plan),
                        self.config.publish.coordination.file_name().map_or_else(
                            || "the coordination manifest".into(),
                            |n| n.to_string_lossy()
                        )
                    ),
                }),
                after: lasts,
            });
            extras.coordination = Some(self.config.publish.coordination.display().to_string());
        }
        Ok((Plan::new(steps)?, extras))
    }
}

#[derive(Debug, Default)]
struct Extras {
    umbrella: Option<String>,
    coordination: Option<String>,
}

/// The versions package `name` waits for before its bump: each package of each released
/// dependency whose repo declares a `registry`, resolved for `name`'s clone (its tools install
/// them).
pub fn awaited_versions(
    config: &Config,
    plan: &PublishPlan,
    name: &str,
) -> Result<Vec<AwaitedVersion>> {
    let (Some(p), Some(repo)) = (plan.package(name), config.repo(name)) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for dep in &p.depends_on {
        let (Some(d), Some(dep_repo)) = (plan.package(dep), config.repo(dep)) else {
            continue;
        };
        let Some(registry) = &dep_repo.publish.registry else {
            continue;
        };
        let resolved =
            ResolvedRegistry::resolve(registry, &repo.path, config.publish.npm_registry.as_deref())
                .map_err(|e| Error::invalid_input(format!("{dep} (needed by {name}): {e}")))?;
        out.extend(d.packages.iter().map(|package| AwaitedVersion {
            repo: dep.clone(),
            package: package.clone(),
            version: d.next.clone(),
            registry: resolved.clone(),
        }));
    }
    Ok(out)
}

/// Every package's clone, checked side by side as `release` checks its repos (a clean work
/// tree on its release branch, HEAD equal to origin's, origin the configured repository, the
/// new tag nowhere yet). Every problem of every package is reported at once, and nothing is
/// changed (`publish --dry-run` runs it too, so it refuses what the run would). Outside a nightly, every manifest is also rewritten in memory, so a requirement
/// that cannot be rewritten is refused here rather than after the first package is out.
pub async fn preflight_publish(
    config: &Config,
    vcs: Arc<dyn Vcs>,
    plan: &PublishPlan,
    nightly: bool,
) -> Result<()> {
    let mut checks = tokio::task::JoinSet::new();
    for p in &plan.packages {
        let repo = config
            .repo(&p.name)
            .ok_or_else(|| Error::invalid_input(format!("unknown repo {}", p.name)))?
            .clone();
        let (vcs, tag) = (vcs.clone(), p.tag.clone());
        checks.spawn(async move {
            let mut reasons = preflight_repo(vcs.as_ref(), &repo, &tag, false)
                .await
                .err()
                .unwrap_or_default();
            // Said first: on the wrong branch, the other reasons follow from it.
            if let Ok(Head::Branch { name, .. }) = vcs.head(&repo.path).await
                && name != repo.publish.branch()
            {
                reasons.insert(
                    0,
                    format!(
                        "HEAD is on {name}, but its releases are committed to {} \
                         (check it out, or set `branch` in its [[repo]])",
                        repo.publish.branch()
                    ),
                );
            }
            (repo.name, reasons)
        });
    }
    let mut failures = Vec::new();
    if !nightly && let Err(unrewritable) = manifest_rewrites(config, plan) {
        failures.extend(unrewritable);
    }
    if !nightly {
        for p in &plan.packages {
            if let Err(e) = awaited_versions(config, plan, &p.name) {
                failures.push(PreflightFailure {
                    repo: p.name.clone(),
                    reason: e.to_string(),
                });
            }
        }
    }
    while let Some(joined) = checks.join_next().await {
        let (name, reasons) =
            joined.map_err(|e| Error::state(format!("preflight task failed: {e}")))?;
        failures.extend(reasons.into_iter().map(|reason| PreflightFailure {
            repo: name.clone(),
            reason,
        }));
    }
    if failures.is_empty() {
        return Ok(());
    }
    let order: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
    failures.sort_by_key(|f| order.iter().position(|n| *n == f.repo));
    Err(Error::Preflight { failures })
}
