//! `publish`, `cascade` and the nightly cascade as workflows of the one run driver
//! ([`Workspace::run`]), so an embedder gets the lock, the credential check, the cancellation,
//! the resume policy and the journal exactly as the CLI does.
//!
//! The policy used to live in the CLI's command module, where a bot or `serve` could only reach
//! it by faking command-line arguments. It is here now:
//! - a bare resume continues the recorded plan (never a re-plan from manifests its own `bump`
//!   steps already rewrote, nor a nightly from a new day's date), or says there is none;
//! - a new run beside an unfinished one of the same kind is refused, naming both ways out;
//! - a resumed cascade must be the one asked for (the same repos, nightly or not);
//! - before a new cascade from an event, the clone must be at the event's commit: checked, or
//!   with [`CascadeRequest::checkout`] fetched and fast-forwarded to it in a journaled run first.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::Serialize;

use super::checkout::checkout_pushed;
use super::plan::{ManifestRewrite, PublishPlan, PublishRequest, manifest_rewrites, plan_publish};
use super::run::{
    CASCADE_RUN_KIND, PublishOptions, PublishReport, Publisher, RecordedRun, awaited_versions,
    plan_cascade, plan_key, preflight_publish, resumable_run,
};
use super::{BumpRequest, CascadeTrigger, RUN_KIND, cascade_packages, cascade_waves};
use super::{check_trigger_sha, observe};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::forge::RepoId;
use crate::state::{RunId, StateStore};
use crate::workspace::{Outcome, RunContext, Workflow, Workspace};

/// What a publish or cascade will run: the plan and how (what a dry run shows).
#[derive(Debug, Clone, Serialize)]
pub struct PublishRun {
    /// `publish` or `cascade`: the journal's run kind.
    pub kind: String,
    /// The plan.
    pub plan: PublishPlan,
    /// The unfinished run this continues with the plan it recorded, if any.
    pub resumed: Option<RunId>,
    /// A nightly cascade (no bump, nightly tags, prereleases).
    pub nightly: bool,
    /// Resume was asked for (a run of the same plan that is unfinished is continued).
    pub resume: bool,
}

impl PublishRun {
    fn resumed(kind: &str, recorded: RecordedRun) -> Self {
        Self {
            kind: kind.to_owned(),
            plan: recorded.plan,
            resumed: Some(recorded.run),
            nightly: recorded.nightly,
            resume: true,
        }
    }
}

/// `orchestrator publish`: versioned releases across the package graph.
#[derive(Debug, Clone)]
pub struct PublishWorkflow {
    /// What to publish; `None` is a bare resume (continue the recorded plan, or fail saying there
    /// is none). With a request, [`PublishRequest::resume`] continues an unfinished run of the
    /// same plan, and a new one starts when there is none.
    pub request: Option<PublishRequest>,
}

/// What `publish --dry-run` shows: the plan, the manifest rewrites it will make and the
/// registry versions each bump waits for.
#[derive(Debug, Clone, Serialize)]
pub struct PublishPreview {
    /// The plan and how it would run.
    pub run: PublishRun,
    /// Per manifest, the keys rewritten (empty for a resumed plan: its bumps are under way).
    pub rewrites: Vec<ManifestRewrite>,
    /// Per package, the dependency versions (`pkg@version on URL`) it waits to be installable.
    pub waits: Vec<(String, Vec<String>)>,
}

impl PublishWorkflow {
    fn resume(&self) -> bool {
        self.request.as_ref().is_none_or(|r| r.resume)
    }

    /// The dry run: the driver's preview, then the same preflight a new run makes first
    /// (clones, origins, tags, manifests), so what the run would refuse is refused here too.
    /// Changes nothing and takes no lock.
    pub async fn preview(&self, workspace: &Workspace) -> Result<PublishPreview> {
        let run = workspace.preview(self).await?;
        let config = workspace.config();
        let rewrites = if run.resumed.is_none() {
            preflight_publish(config, workspace.vcs()?.clone(), &run.plan, false).await?;
            manifest_rewrites(config, &run.plan)
                .map_err(|failures| Error::Preflight { failures })?
        } else {
            Vec::new()
        };
        let waits = registry_waits(config, &run.plan)?;
        Ok(PublishPreview {
            run,
            rewrites,
            waits,
        })
    }
}

#[async_trait]
impl Workflow for PublishWorkflow {
    type Plan = PublishRun;
    /// `None`: nothing to publish.
    type Report = Option<PublishReport>;

    fn holder(&self) -> String {
        RUN_KIND.to_owned()
    }

    fn validate(&self, _: &Workspace) -> Result<()> {
        match &self.request {
            Some(r) if r.bump == BumpRequest::Auto && r.preid.is_some() => Err(
                Error::invalid_input("--preid does not combine with --bump auto"),
            ),
            _ => Ok(()),
        }
    }

    async fn plan(&self, workspace: &Workspace, store: &dyn StateStore) -> Result<PublishRun> {
        let resume = self.resume();
        if resume && let Some(recorded) = resumable_run(store, RUN_KIND).await? {
            return Ok(PublishRun::resumed(RUN_KIND, recorded));
        }
        let request = self.request.as_ref().ok_or_else(|| {
            Error::invalid_input("no unfinished publish to resume: give --bump to start one")
        })?;
        if !resume {
            refuse_beside_unfinished(store, RUN_KIND).await?;
        }
        let config = workspace.config();
        let observed = observe(
            config,
            workspace.vcs()?.as_ref(),
            request.bump == BumpRequest::Auto,
        )
        .await?;
        Ok(PublishRun {
            kind: RUN_KIND.to_owned(),
            plan: plan_publish(config, request, &observed)?,
            resumed: None,
            nightly: false,
            resume,
        })
    }

    fn probe(&self, run: &PublishRun) -> Option<(RepoId, String)> {
        probe(run)
    }

    async fn execute(
        &self,
        context: &RunContext<'_>,
        run: PublishRun,
    ) -> Result<Option<PublishReport>> {
        execute(context, run).await
    }

    fn outcome(report: &Option<PublishReport>) -> Outcome {
        outcome(report.as_ref())
    }
}

/// What a cascade is asked to do.
#[derive(Debug, Clone, Default)]
pub struct CascadeRequest {
    /// What changed: a repo, or every repo (`--all`, a `build_all` event). `None` only with
    /// `resume`.
    pub trigger: Option<CascadeTrigger>,
    /// Where the trigger was read from (an event file), named in messages about it.
    pub source: Option<PathBuf>,
    /// Tag each built repo `[publish] nightly_tag` as a prerelease instead of a patch release.
    pub nightly: bool,
    /// Continue the unfinished cascade (which must be the one asked for), else start one.
    pub resume: bool,
    /// Before a new cascade, fetch the trigger's repo and fast-forward its clone to the pushed
    /// commit (journaled), instead of refusing a clone that is not at it. For a service that
    /// owns its clones (`serve`); a CI job checks out the commit itself.
    pub checkout: bool,
}

/// `orchestrator cascade`: a changed repo and everything downstream of it (or every repo), as
/// patch releases or as a nightly.
#[derive(Debug, Clone)]
pub struct CascadeWorkflow {
    /// What to cascade.
    pub request: CascadeRequest,
}

/// What `cascade --dry-run` shows: the repos a cascade would build, in waves.
#[derive(Debug, Clone, Serialize)]
pub struct CascadePreview {
    /// What changed.
    pub trigger: CascadeTrigger,
    /// A nightly.
    pub nightly: bool,
    /// The repos, in dependency order.
    pub waves: Vec<Vec<String>>,
}

impl CascadeWorkflow {
    /// The dry run: the event's commit checked against the clone, then the repos in waves.
    /// Reads only the clone; no lock, no state.
    pub async fn preview(&self, workspace: &Workspace) -> Result<CascadePreview> {
        let trigger = self.trigger()?;
        if !self.request.checkout {
            self.check_sha(workspace, trigger).await?;
        }
        Ok(CascadePreview {
            trigger: trigger.clone(),
            nightly: self.request.nightly,
            waves: cascade_waves(workspace.config(), trigger.repo.as_deref())?,
        })
    }

    fn trigger(&self) -> Result<&CascadeTrigger> {
        self.request.trigger.as_ref().ok_or_else(|| {
            Error::invalid_input(
                "no unfinished cascade to resume: give --from, --all or --event-file to start one",
            )
        })
    }

    /// The event's sha must be HEAD of its repo's clone; a message about it names the event file.
    async fn check_sha(&self, workspace: &Workspace, trigger: &CascadeTrigger) -> Result<()> {
        check_trigger_sha(workspace.config(), workspace.vcs()?.as_ref(), trigger)
            .await
            .map_err(|e| match (e, &self.request.source) {
                (Error::InvalidInput { message }, Some(path)) => {
                    Error::invalid_input(format!("{}: {message}", path.display()))
                }
                (other, _) => other,
            })
    }

    /// A new cascade's plan (the clone's manifests, today's nightly tags).
    async fn plan_new(
        &self,
        workspace: &Workspace,
        trigger: &CascadeTrigger,
    ) -> Result<PublishRun> {
        let (config, vcs) = (workspace.config(), workspace.vcs()?);
        let observed = observe(config, vcs.as_ref(), false).await?;
        let plan = plan_cascade(
            config,
            vcs.as_ref(),
            &observed,
            trigger.repo.as_deref(),
            self.request.nightly,
            crate::state::now_ms(),
        )
        .await?;
        Ok(PublishRun {
            kind: CASCADE_RUN_KIND.to_owned(),
            plan,
            resumed: None,
            nightly: self.request.nightly,
            resume: self.request.resume,
        })
    }
}

#[async_trait]
impl Workflow for CascadeWorkflow {
    type Plan = PublishRun;
    /// `None`: nothing to cascade.
    type Report = Option<PublishReport>;

    fn holder(&self) -> String {
        CASCADE_RUN_KIND.to_owned()
    }

    fn probe(&self, run: &PublishRun) -> Option<(RepoId, String)> {
        probe(run)
    }

    async fn plan(&self, workspace: &Workspace, store: &dyn StateStore) -> Result<PublishRun> {
        let request = &self.request;
        if request.resume
            && let Some(recorded) = resumable_run(store, CASCADE_RUN_KIND).await?
        {
            check_resumable_cascade(
                workspace.config(),
                &recorded,
                request.trigger.as_ref(),
                request.nightly,
            )?;
            return Ok(PublishRun::resumed(CASCADE_RUN_KIND, recorded));
        }
        let trigger = self.trigger()?;
        // A new run only, before any state is written: an event about another commit changes
        // nothing. A resumed run was checked when it began; its own bump commits moved HEAD since.
        if !request.checkout {
            self.check_sha(workspace, trigger).await?;
        }
        if !request.resume {
            refuse_beside_unfinished(store, CASCADE_RUN_KIND).await?;
        }
        self.plan_new(workspace, trigger).await
    }

    async fn execute(
        &self,
        context: &RunContext<'_>,
        run: PublishRun,
    ) -> Result<Option<PublishReport>> {
        let ws = context.workspace;
        let run = match &self.request.trigger {
            Some(trigger) if self.request.checkout && run.resumed.is_none() => {
                let moved =
                    checkout_pushed(ws.config(), ws.vcs()?.clone(), &context.runner(), trigger)
                        .await?;
                self.check_sha(ws, trigger).await?;
                if moved {
                    // The plan read the manifests of the commit before; plan from the pushed one.
                    self.plan_new(ws, trigger).await?
                } else {
                    run
                }
            }
            _ => run,
        };
        execute(context, run).await
    }

    fn outcome(report: &Option<PublishReport>) -> Outcome {
        outcome(report.as_ref())
    }
}

/// The forge read that proves the credentials: the first package's tag.
fn probe(run: &PublishRun) -> Option<(RepoId, String)> {
    run.plan
        .packages
        .first()
        .map(|p| (p.github.clone(), p.tag.clone()))
}

fn outcome(report: Option<&PublishReport>) -> Outcome {
    report.map_or(Outcome::Unchanged, |r| Outcome::of_status(r.status))
}

/// Runs a publish or cascade plan under the session (`None`: nothing to do).
async fn execute(context: &RunContext<'_>, run: PublishRun) -> Result<Option<PublishReport>> {
    let ws = context.workspace;
    if run.resumed.is_some() {
        // Said whatever the output format: a scheduler's log must show what was continued.
        ws.notice(&format!(
            "resuming the unfinished {} of {}",
            run.kind,
            plan_key(&run.plan)
        ));
    }
    if run.plan.packages.is_empty() {
        return Ok(None);
    }
    ws.announce(&format!(
        "{}: {} package(s) in {} wave(s)",
        run.kind,
        run.plan.packages.len(),
        run.plan.waves.len()
    ));
    let publisher = Publisher::new(
        ws.config().clone(),
        ws.forge().await?,
        ws.vcs()?.clone(),
        context.store.clone(),
    )
    .with_observer(ws.observer().clone())
    .with_cancel(ws.cancel_token().clone());
    let options = PublishOptions {
        resume: run.resume,
        nightly: run.nightly,
        kind: Some(run.kind),
    };
    publisher.execute_with(&run.plan, &options).await.map(Some)
}

/// Refuses to start a run of `kind` beside an unfinished one: planned from manifests it may
/// already have bumped, beside a run that would stay unfinished (and `running` forever).
async fn refuse_beside_unfinished(store: &dyn StateStore, kind: &str) -> Result<()> {
    match resumable_run(store, kind).await? {
        Some(unfinished) => {
            Err(unfinished_refusal(store, kind, unfinished.run, &plan_key(&unfinished.plan)).await)
        }
        None => Ok(()),
    }
}

/// The refusal to start a run of `kind` beside unfinished run `run`: one line naming it, its
/// state, and both ways out (bad input: nothing changed).
pub async fn unfinished_refusal(
    store: &dyn StateStore,
    kind: &str,
    run: RunId,
    what: &str,
) -> Error {
    let status = match store.run(run).await {
        Ok(Some(summary)) => summary.status.to_string(),
        _ => "unfinished".into(),
    };
    Error::invalid_input(format!(
        "{kind} run {run} ({what}) is {status} and did not finish: `{kind} --resume` finishes it, \
         `{kind} --abandon {run}` gives it up (recorded in its journal) so a new {kind} can start"
    ))
}

/// A resumed cascade must be the one asked for. With a trigger: the same repos, and the same
/// kind (nightly or not), so an event asking for a release never finishes a nightly instead.
/// A bare resume continues whatever was recorded, except that a nightly must not resume a
/// regular cascade.
fn check_resumable_cascade(
    config: &Config,
    recorded: &RecordedRun,
    trigger: Option<&CascadeTrigger>,
    nightly: bool,
) -> Result<()> {
    let recorded_repos: Vec<&str> = recorded
        .plan
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    if let Some(trigger) = trigger {
        let wanted = cascade_packages(config, trigger.repo.as_deref())?;
        let mut a: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let mut b = recorded_repos.clone();
        a.sort_unstable();
        b.sort_unstable();
        if a != b {
            return Err(Error::invalid_input(format!(
                "--resume: the unfinished cascade (run {}) covers {}, not the cascade {}; \
                 run it with a bare --resume to finish it, or without --resume to start a new one",
                recorded.run,
                recorded_repos.join(", "),
                trigger.describe()
            )));
        }
    }
    let kind = |n: bool| if n { "a nightly" } else { "not a nightly" };
    if (nightly || trigger.is_some()) && nightly != recorded.nightly {
        return Err(Error::invalid_input(format!(
            "--resume: the unfinished cascade (run {}) is {}; {} it, or run without --resume to \
             start a new one",
            recorded.run,
            kind(recorded.nightly),
            if recorded.nightly {
                "add --nightly to finish"
            } else {
                "drop --nightly to finish"
            }
        )));
    }
    Ok(())
}

/// Per package whose released dependencies declare a `registry`: the versions its `available`
/// step will wait for (`pkg@version on URL`), in plan order.
pub fn registry_waits(config: &Config, plan: &PublishPlan) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for p in &plan.packages {
        let awaited = awaited_versions(config, plan, &p.name)?;
        if !awaited.is_empty() {
            out.push((
                p.name.clone(),
                awaited.iter().map(ToString::to_string).collect(),
            ));
        }
    }
    Ok(out)
}
