//! The steps of publishing one package: `bump`, `tag`, `push`, `trigger`, `wait`, `notes`, and
//! the run-wide `umbrella` and `coordination` steps. Every `check` is read-only and every `apply`
//! re-checks after a failed effect, so a resumed run never repeats a commit, tag, push or
//! dispatch that already happened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::config::{CoordinationCommit, TriggerKind, work_tree_of};
use super::coordination::{
    CoordinatedVersion, CoordinationManifest, read_coordination, write_coordination,
};
use super::correlate::{RunCorrelation, find_run, follow_run};
use super::manifest::{ManifestKind, in_file, read_manifest, rewrite_manifest};
use super::notes::{release_notes, umbrella_notes};
use super::range::DependencyRange;
use super::registry::{
    AwaitedVersion, lockfile_of, missing_versions, update_lockfile, wait_installable,
};
use crate::error::{Error, Result};
use crate::forge::{
    Forge, NewRelease, ReleaseUpdate, RepoId, WorkflowDispatch, WorkflowRun, WorkflowRunStatus,
};
use crate::release::{Assessment, WaitSpec, assess, wait_for_assets};

/// Conclusions of a tag's release run that mean its release may never come.
const FAILED_RUN: [&str; 4] = ["failure", "cancelled", "timed_out", "startup_failure"];
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::vcs::{Head, Vcs, branch_ref, tag_ref};

const ORIGIN: &str = "origin";

/// Run URLs seen by `trigger`/`wait` steps, by repo: the report links them (failures included).
pub(crate) type RunUrls = Arc<Mutex<BTreeMap<String, String>>>;

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

async fn head_commit(vcs: &dyn Vcs, path: &std::path::Path) -> Result<String> {
    vcs.head(path)
        .await?
        .commit()
        .map(str::to_owned)
        .ok_or_else(|| Error::Conflict {
            message: format!("{} has no commits", path.display()),
        })
}

/// What every step of one package knows.
#[derive(Debug, Clone)]
pub(crate) struct PackageCtx {
    pub(crate) name: String,
    pub(crate) github: RepoId,
    pub(crate) path: PathBuf,
    pub(crate) version: String,
    pub(crate) tag: String,
    /// The tag of the version it was at (release notes start there), if it exists.
    pub(crate) previous_tag: Option<String>,
    pub(crate) branch: String,
    pub(crate) nightly: bool,
    pub(crate) vcs: Arc<dyn Vcs>,
    pub(crate) forge: Arc<dyn Forge>,
}

impl PackageCtx {
    /// The previous release's tag when it exists in the clone (a first release has none).
    async fn since(&self) -> Result<Option<String>> {
        let Some(tag) = &self.previous_tag else {
            return Ok(None);
        };
        Ok(self
            .vcs
            .local_tag(&self.path, tag)
            .await?
            .map(|_| tag.clone()))
    }

    fn release_message(&self) -> String {
        format!("chore(release): {} {}", self.name, self.version)
    }
}

/// Rewrites the manifest (own version, requirements on released packages) and commits it.
#[derive(Debug)]
pub(crate) struct BumpStep {
    pub(crate) id: String,
    pub(crate) pkg: PackageCtx,
    pub(crate) manifest: PathBuf,
    pub(crate) released: BTreeMap<String, semver::Version>,
    /// How dependents' requirements move (`[publish] dependency_range`).
    pub(crate) policy: DependencyRange,
    /// Released packages to lock at their new version, in dependency order (package, version).
    pub(crate) lock: Vec<(String, String)>,
    /// The npm registry URL a lockfile update resolves against.
    pub(crate) npm_registry: String,
}

impl BumpStep {
    fn kind(&self) -> Result<ManifestKind> {
        ManifestKind::detect(&self.manifest)
    }
}

#[async_trait]
impl Step for BumpStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "set {} to {} and commit `{}`",
            self.manifest.display(),
            self.pkg.version,
            self.pkg.release_message()
        )
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let since = self.pkg.since().await?;
        let commits = self
            .pkg
            .vcs
            .commits_since(&self.pkg.path, since.as_deref())
            .await?;
        let text = std::fs::read_to_string(&self.manifest)
            .map_err(|e| Error::io(format!("reading {}", self.manifest.display()), e))?;
        let info = read_manifest(self.kind()?, &text)?;
        let head_is_release = commits
            .first()
            .is_some_and(|c| c.summary == self.pkg.release_message());
        if head_is_release && info.version.as_deref() == Some(self.pkg.version.as_str()) {
            return Ok(Check::Done(format!(
                "HEAD already is `{}`",
                self.pkg.release_message()
            )));
        }
        Ok(Check::Pending(format!(
            "rewrite {} and commit",
            self.manifest.display()
        )))
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let text = std::fs::read_to_string(&self.manifest)
            .map_err(|e| Error::io(format!("reading {}", self.manifest.display()), e))?;
        let version = semver::Version::parse(&self.pkg.version)
            .map_err(|e| Error::invalid_input(format!("{}: {e}", self.pkg.version)))?;
        let edit = rewrite_manifest(
            self.kind()?,
            &text,
            Some(&version),
            &self.released,
            self.policy,
        )
        .map_err(|e| in_file(&self.manifest, e))?;
        let relative = |file: &Path| -> Result<String> {
            Ok(file
                .strip_prefix(&self.pkg.path)
                .map_err(|_| {
                    Error::invalid_input(format!(
                        "{} is outside the clone {}",
                        file.display(),
                        self.pkg.path.display()
                    ))
                })?
                .to_string_lossy()
                .into_owned())
        };
        let mut files = vec![(relative(&self.manifest)?, edit.text.clone().into_bytes())];
        // The lockfile follows in the same commit, so the release commit builds `--locked`.
        let kind = self.kind()?;
        if let Some(lockfile) = lockfile_of(kind, &self.manifest, &self.pkg.path) {
            let locked = std::fs::read(&lockfile)
                .map_err(|e| Error::io(format!("reading {}", lockfile.display()), e))?;
            let updated = async {
                std::fs::write(&self.manifest, &edit.text)
                    .map_err(|e| Error::io(format!("writing {}", self.manifest.display()), e))?;
                update_lockfile(
                    kind,
                    &self.manifest,
                    &lockfile,
                    &self.lock,
                    &self.npm_registry,
                    ctx,
                )
                .await?;
                std::fs::read(&lockfile)
                    .map_err(|e| Error::io(format!("reading {}", lockfile.display()), e))
            }
            .await;
            match updated {
                Ok(bytes) => files.push((relative(&lockfile)?, bytes)),
                Err(e) => {
                    // Nothing of a failed bump stays in the work tree: a resume starts clean.
                    let _ = std::fs::write(&self.manifest, &text);
                    let _ = std::fs::write(&lockfile, &locked);
                    return Err(e);
                }
            }
        }
        let mut message = self.pkg.release_message();
        if !edit.changes.is_empty() {
            message.push_str("\n\n");
            for c in &edit.changes {
                message.push_str(&format!("{}: {} -> {}\n", c.key, c.from, c.to));
            }
        }
        let committed = self
            .pkg
            .vcs
            .commit_files(&self.pkg.path, &files, &message)
            .await;
        match committed {
            Ok(commit) => Ok(StepOutput {
                summary: format!("committed {} at {}", self.pkg.version, short(&commit)),
                data: serde_json::json!({ "commit": commit, "changes": edit.changes }),
            }),
            Err(e) => match self.check(ctx).await {
                Ok(Check::Done(detail)) => Ok(StepOutput::summary(detail)),
                _ => Err(e),
            },
        }
    }
}

/// Waits until every upstream version the package is about to require is installable from its
/// registry, with the deadline and poll interval of asset waits (`[release] timeout`,
/// `poll_interval`). A version that never appears fails this package (and so its own dependents)
/// with the registry URL and the version, and nothing else.
#[derive(Debug)]
pub(crate) struct AvailableStep {
    pub(crate) id: String,
    pub(crate) pkg: PackageCtx,
    pub(crate) awaited: Vec<AwaitedVersion>,
    pub(crate) poll_interval: std::time::Duration,
    pub(crate) timeout: std::time::Duration,
}

#[async_trait]
impl Step for AvailableStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "wait until {} installable",
            self.awaited
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
                + if self.awaited.len() == 1 {
                    " is"
                } else {
                    " are"
                }
        )
    }

    async fn check(&self, ctx: &StepContext) -> Result<Check> {
        if missing_versions(&self.awaited, &self.pkg.path, ctx)
            .await?
            .is_empty()
        {
            Ok(Check::Done(format!(
                "{} installable",
                self.awaited
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        } else {
            Ok(Check::Pending(self.describe()))
        }
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let waited = wait_installable(
            &self.pkg.name,
            &self.awaited,
            &self.pkg.path,
            self.poll_interval,
            self.timeout,
            ctx,
        )
        .await?;
        Ok(StepOutput {
            summary: format!(
                "{} installable after {:.1}s",
                self.awaited
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                waited.as_secs_f64()
            ),
            data: serde_json::json!({
                "installable": self.awaited.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
        })
    }
}

/// Tags HEAD (the release commit, or the built commit of a nightly).
#[derive(Debug)]
pub(crate) struct TagStep {
    pub(crate) id: String,
    pub(crate) pkg: PackageCtx,
}

#[async_trait]
impl Step for TagStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "tag {} at HEAD of {}",
            self.pkg.tag,
            self.pkg.path.display()
        )
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let head = head_commit(self.pkg.vcs.as_ref(), &self.pkg.path).await?;
        match self
            .pkg
            .vcs
            .local_tag(&self.pkg.path, &self.pkg.tag)
            .await?
        {
            Some(c) if c == head => Ok(Check::Done(format!(
                "tag {} already at {}",
                self.pkg.tag,
                short(&c)
            ))),
            Some(c) => Err(Error::Conflict {
                message: format!(
                    "local tag {} points at {}, not HEAD {}",
                    self.pkg.tag,
                    short(&c),
                    short(&head)
                ),
            }),
            None => Ok(Check::Pending(format!(
                "create tag {} at {}",
                self.pkg.tag,
                short(&head)
            ))),
        }
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let head = head_commit(self.pkg.vcs.as_ref(), &self.pkg.path).await?;
        let message = format!("Release {} {}", self.pkg.name, self.pkg.version);
        if let Err(e) = self
            .pkg
            .vcs
            .create_tag(&self.pkg.path, &self.pkg.tag, &head, &message)
            .await
        {
            return match self.check(ctx).await {
                Ok(Check::Done(detail)) => Ok(StepOutput::summary(detail)),
                _ => Err(e),
            };
        }
        Ok(StepOutput {
            summary: format!("tagged {} at {}", self.pkg.tag, short(&head)),
            data: serde_json::json!({ "tag": self.pkg.tag, "commit": head }),
        })
    }
}

/// Pushes the release branch (not for nightlies) and the tag.
#[derive(Debug)]
pub(crate) struct PushStep {
    pub(crate) id: String,
    pub(crate) pkg: PackageCtx,
}

impl PushStep {
    /// (ref, local commit, origin commit) for each ref this step pushes.
    async fn state(&self) -> Result<Vec<(String, String, Option<String>)>> {
        let vcs = self.pkg.vcs.as_ref();
        let tagged = vcs
            .local_tag(&self.pkg.path, &self.pkg.tag)
            .await?
            .ok_or_else(|| Error::Conflict {
                message: format!("tag {} is missing locally", self.pkg.tag),
            })?;
        let mut wanted = vec![(tag_ref(&self.pkg.tag), tagged.clone())];
        if !self.pkg.nightly {
            wanted.push((branch_ref(&self.pkg.branch), tagged));
        }
        let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
        let remote = vcs.remote_refs(&self.pkg.path, ORIGIN, &names).await?;
        Ok(wanted
            .into_iter()
            .map(|(n, c)| {
                let on = remote.get(&n).cloned();
                (n, c, on)
            })
            .collect())
    }
}

#[async_trait]
impl Step for PushStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        if self.pkg.nightly {
            format!("push {} to origin", self.pkg.tag)
        } else {
            format!("push {} and {} to origin", self.pkg.branch, self.pkg.tag)
        }
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let state = self.state().await?;
        if state.iter().all(|(_, c, on)| on.as_ref() == Some(c)) {
            return Ok(Check::Done(format!(
                "{} already on origin",
                state
                    .iter()
                    .map(|(n, _, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )));
        }
        if let Some((n, c, Some(on))) = state
            .iter()
            .find(|(n, c, on)| n.starts_with("refs/tags/") && on.as_ref().is_some_and(|o| o != c))
        {
            return Err(Error::Conflict {
                message: format!("{n} on origin points at {}, not {}", short(on), short(c)),
            });
        }
        Ok(Check::Pending(format!("push {}", self.pkg.tag)))
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let vcs = self.pkg.vcs.as_ref();
        let pushed = async {
            if !self.pkg.nightly {
                vcs.push_branch(&self.pkg.path, ORIGIN, &self.pkg.branch)
                    .await?;
            }
            vcs.push_tag(&self.pkg.path, ORIGIN, &self.pkg.tag).await
        }
        .await;
        if let Err(e) = pushed {
            return match self.check(ctx).await {
                Ok(Check::Done(detail)) => Ok(StepOutput::summary(detail)),
                _ => Err(e),
            };
        }
        Ok(StepOutput::summary(format!("pushed {}", self.pkg.tag)))
    }
}

/// How the release of a package starts and how its run is recognised.
#[derive(Debug, Clone)]
pub(crate) struct TriggerSpec {
    pub(crate) kind: TriggerKind,
    pub(crate) workflow: String,
    pub(crate) inputs: BTreeMap<String, String>,
    /// (input name, correlation id): stable across resumes of one run.
    pub(crate) correlation: Option<(String, String)>,
}

impl TriggerSpec {
    fn workflow_file(&self) -> String {
        crate::forge::workflow_file(&self.workflow).to_owned()
    }

    /// The correlation that finds the dispatched run, whenever it was dispatched.
    async fn correlation(&self, pkg: &PackageCtx) -> Result<RunCorrelation> {
        let head_sha = match &self.correlation {
            Some(_) => None,
            None => pkg.vcs.local_tag(&pkg.path, &pkg.tag).await?,
        };
        Ok(RunCorrelation {
            workflow: self.workflow_file(),
            event: "workflow_dispatch".into(),
            correlation_id: self.correlation.as_ref().map(|(_, id)| id.clone()),
            head_sha,
            head_branch: None,
            created_after_ms: None,
        })
    }

    /// The run a tag push started: the release workflow's `push` run on the tag (its
    /// `head_branch`) at the tagged commit.
    async fn push_correlation(&self, pkg: &PackageCtx) -> Result<RunCorrelation> {
        Ok(RunCorrelation {
            workflow: self.workflow_file(),
            event: "push".into(),
            correlation_id: None,
            head_sha: pkg.vcs.local_tag(&pkg.path, &pkg.tag).await?,
            head_branch: Some(pkg.tag.clone()),
            created_after_ms: None,
        })
    }
}

/// Starts the release: nothing for a tag push (the push did it), else a correlated dispatch.
#[derive(Debug)]
pub(crate) struct TriggerStep {
    pub(crate) id: String,
    pub(crate) pkg: PackageCtx,
    pub(crate) trigger: TriggerSpec,
    pub(crate) urls: RunUrls,
}

#[async_trait]
impl Step for TriggerStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        match self.trigger.kind {
            TriggerKind::Tag => format!("the push of {} starts its release", self.pkg.tag),
            TriggerKind::Workflow => format!(
                "dispatch {} of {}{}",
                self.trigger.workflow,
                self.pkg.github,
                self.trigger
                    .correlation
                    .as_ref()
                    .map(|(_, id)| format!(" (correlation id {id})"))
                    .unwrap_or_default()
            ),
        }
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        if self.trigger.kind == TriggerKind::Tag {
            return Ok(Check::Done(format!("pushing {} started it", self.pkg.tag)));
        }
        let correlation = self.trigger.correlation(&self.pkg).await?;
        match find_run(self.pkg.forge.as_ref(), &self.pkg.github, &correlation).await? {
            Some(run) => {
                self.urls
                    .lock()
                    .expect("run urls")
                    .insert(self.pkg.name.clone(), run.html_url.clone());
                Ok(Check::Done(format!("already dispatched: {}", run.html_url)))
            }
            None => Ok(Check::Pending(self.describe())),
        }
    }

    async fn apply(&self, _ctx: &StepContext) -> Result<StepOutput> {
        let mut inputs = self.trigger.inputs.clone();
        inputs
            .entry("version".into())
            .or_insert_with(|| self.pkg.version.clone());
        if let Some((input, id)) = &self.trigger.correlation {
            inputs.insert(input.clone(), id.clone());
        }
        let dispatch = WorkflowDispatch {
            workflow: self.trigger.workflow.clone(),
            git_ref: if self.pkg.nightly {
                self.pkg.tag.clone()
            } else {
                self.pkg.branch.clone()
            },
            inputs,
        };
        // Not retried and not re-checked on error: a dispatch whose answer was lost may have
        // started a run; the next attempt's check finds it by its correlation id.
        self.pkg
            .forge
            .dispatch_workflow(&self.pkg.github, &dispatch)
            .await?;
        Ok(StepOutput {
            summary: format!("dispatched {}", self.trigger.workflow),
            data: serde_json::json!({ "correlation_id": self.trigger.correlation.as_ref().map(|(_, id)| id) }),
        })
    }
}

/// Waits for the run the trigger caused (or, for tag pushes, the release CI makes).
#[derive(Debug)]
pub(crate) struct WaitStep {
    pub(crate) id: String,
    pub(crate) pkg: PackageCtx,
    pub(crate) trigger: TriggerSpec,
    pub(crate) wait: WaitSpec,
    pub(crate) urls: RunUrls,
}

impl WaitStep {
    /// Follows the release workflow's run on the pushed tag; returns only when it failed before
    /// the release was complete. A successful run leaves the release to decide, and so does a
    /// failed one whose release and assets are all there: a workflow may fail in a job after
    /// the release (docs, an announcement), which must not fail the package, or every resume
    /// after it. A forge without workflow runs, or a token that may not read them, leaves the
    /// release to decide too; other lookup errors are the asset wait's to report.
    async fn watch_push_run(&self, correlation: &RunCorrelation) -> Error {
        let forge = self.pkg.forge.as_ref();
        loop {
            match find_run(forge, &self.pkg.github, correlation).await {
                Ok(Some(run)) if run.status == WorkflowRunStatus::Completed => {
                    if let Err(failed) = self.concluded(&run)
                        && FAILED_RUN.contains(&run.conclusion.as_deref().unwrap_or_default())
                        && !self.release_complete().await
                    {
                        return failed;
                    }
                    return std::future::pending().await;
                }
                Err(
                    Error::NotSupported { .. }
                    | Error::NotFound { .. }
                    | Error::PermissionDenied { .. },
                ) => {
                    return std::future::pending().await;
                }
                Ok(Some(run)) => {
                    self.urls
                        .lock()
                        .expect("run urls")
                        .insert(self.pkg.name.clone(), run.html_url.clone());
                }
                _ => {}
            }
            tokio::time::sleep(self.wait.poll_interval).await;
        }
    }

    /// Whether the release and every asset are there now (one look).
    async fn release_complete(&self) -> bool {
        let release = self
            .pkg
            .forge
            .release_by_tag(&self.wait.repo, &self.wait.tag)
            .await;
        matches!(
            release.map(|r| assess(r.as_ref(), &self.wait.tag, &self.wait.patterns)),
            Ok(Assessment::Ready(_))
        )
    }

    fn concluded(&self, run: &WorkflowRun) -> Result<StepOutput> {
        self.urls
            .lock()
            .expect("run urls")
            .insert(self.pkg.name.clone(), run.html_url.clone());
        match run.conclusion.as_deref() {
            Some("success") => Ok(StepOutput {
                summary: format!("{} succeeded: {}", run.workflow, run.html_url),
                data: serde_json::json!({ "run_url": run.html_url, "run_id": run.id }),
            }),
            other => Err(Error::CommandFailed {
                command: format!("release run {}", run.html_url),
                status: format!("concluded {}", other.unwrap_or("without a conclusion")),
                tail: Vec::new(),
            }),
        }
    }
}

#[async_trait]
impl Step for WaitStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        match self.trigger.kind {
            TriggerKind::Tag => format!("wait for release {} of {}", self.pkg.tag, self.pkg.github),
            TriggerKind::Workflow => format!(
                "wait for the dispatched {} run of {}",
                self.trigger.workflow, self.pkg.github
            ),
        }
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        if self.trigger.kind == TriggerKind::Workflow {
            let correlation = self.trigger.correlation(&self.pkg).await?;
            if let Some(run) =
                find_run(self.pkg.forge.as_ref(), &self.pkg.github, &correlation).await?
                && run.status == WorkflowRunStatus::Completed
                && run.conclusion.as_deref() == Some("success")
            {
                return Ok(Check::Done(format!("{} succeeded", run.html_url)));
            }
        }
        Ok(Check::Pending(self.describe()))
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        match self.trigger.kind {
            TriggerKind::Tag => {
                // The release is what counts, but a failed run of the release workflow on the
                // tag means it will never come: fail now, with the run, not at the timeout.
                let correlation = self.trigger.push_correlation(&self.pkg).await?;
                let report = tokio::select! {
                    report = wait_for_assets(self.pkg.forge.as_ref(), &self.wait, ctx) => report?,
                    failed = self.watch_push_run(&correlation) => return Err(failed),
                };
                Ok(StepOutput {
                    summary: format!("release {} is out", self.pkg.tag),
                    data: serde_json::json!({ "release_url": report.release_url }),
                })
            }
            TriggerKind::Workflow => {
                let correlation = self.trigger.correlation(&self.pkg).await?;
                ctx.progress(format!("following {}", self.trigger.workflow));
                let forge = self.pkg.forge.as_ref();
                let run = tokio::select! {
                    run = follow_run(forge, &self.pkg.github, &correlation, self.wait.poll_interval, self.wait.timeout) => run?,
                    () = ctx.cancel_token().cancelled() => return Err(Error::Cancelled),
                };
                self.concluded(&run)
            }
        }
    }
}

/// Writes the package's release notes into its forge release (created when CI made none).
#[derive(Debug)]
pub(crate) struct NotesStep {
    pub(crate) id: String,
    pub(crate) pkg: PackageCtx,
    pub(crate) display: String,
}

impl NotesStep {
    async fn body(&self) -> Result<String> {
        let since = self.pkg.since().await?;
        let commits = self
            .pkg
            .vcs
            .commits_since(&self.pkg.path, since.as_deref())
            .await?;
        Ok(release_notes(&self.display, &self.pkg.version, &commits))
    }
}

#[async_trait]
impl Step for NotesStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "write the notes of release {} of {}",
            self.pkg.tag, self.pkg.github
        )
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let body = self.body().await?;
        match self
            .pkg
            .forge
            .release_by_tag(&self.pkg.github, &self.pkg.tag)
            .await?
        {
            Some(r) if r.body.as_deref() == Some(body.as_str()) && !r.draft => {
                Ok(Check::Done(format!("{} already has its notes", r.html_url)))
            }
            Some(_) => Ok(Check::Pending("update the release notes".into())),
            None => Ok(Check::Pending("create the release with its notes".into())),
        }
    }

    async fn apply(&self, _ctx: &StepContext) -> Result<StepOutput> {
        let body = self.body().await?;
        let forge = self.pkg.forge.as_ref();
        let repo = &self.pkg.github;
        let release = match forge.release_by_tag(repo, &self.pkg.tag).await? {
            Some(r) => {
                forge
                    .update_release(
                        repo,
                        r.id,
                        &ReleaseUpdate {
                            name: None,
                            body: Some(body),
                            draft: None,
                            prerelease: self.pkg.nightly.then_some(true),
                        },
                    )
                    .await?
            }
            None => {
                forge
                    .create_release(
                        repo,
                        &NewRelease {
                            tag: self.pkg.tag.clone(),
                            target: None,
                            name: Some(format!("{} {}", self.display, self.pkg.version)),
                            body: Some(body),
                            draft: false,
                            prerelease: self.pkg.nightly,
                        },
                    )
                    .await?
            }
        };
        Ok(StepOutput {
            summary: format!("notes written: {}", release.html_url),
            data: serde_json::json!({ "release_url": release.html_url }),
        })
    }
}

/// The umbrella release listing every package of the set (after all of them succeeded).
#[derive(Debug)]
pub(crate) struct UmbrellaStep {
    pub(crate) repo: RepoId,
    pub(crate) tag: String,
    /// (package, version, tag).
    pub(crate) packages: Vec<(String, String, String)>,
    pub(crate) forge: Arc<dyn Forge>,
}

#[async_trait]
impl Step for UmbrellaStep {
    fn id(&self) -> &str {
        "umbrella"
    }

    fn describe(&self) -> String {
        format!("create the umbrella release {} in {}", self.tag, self.repo)
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        match self.forge.release_by_tag(&self.repo, &self.tag).await? {
            Some(r) => Ok(Check::Done(format!("{} exists", r.html_url))),
            None => Ok(Check::Pending(self.describe())),
        }
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let created = self
            .forge
            .create_release(
                &self.repo,
                &NewRelease {
                    tag: self.tag.clone(),
                    target: None,
                    name: Some(self.tag.clone()),
                    body: Some(umbrella_notes(&self.tag, &self.packages)),
                    draft: false,
                    prerelease: false,
                },
            )
            .await;
        match created {
            Ok(r) => Ok(StepOutput {
                summary: format!("umbrella release {}", r.html_url),
                data: serde_json::json!({ "release_url": r.html_url }),
            }),
            Err(e) => match self.check(ctx).await {
                Ok(Check::Done(detail)) => Ok(StepOutput::summary(detail)),
                _ => Err(e),
            },
        }
    }
}

/// One package's line in the coordination manifest.
#[derive(Debug, Clone)]
pub(crate) struct CoordinationEntry {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) version: String,
    pub(crate) tag: String,
    /// Each dependency with its version when released in this run; `None`: keep the
    /// requirement the manifest already records.
    pub(crate) requires: Vec<(String, Option<String>)>,
}

/// `name`'s requirements: a dependency released in this run at its new version; one that was
/// not at the requirement `existing` records for `name`, else at the version `existing` records
/// for the dependency itself, else (never recorded) left out.
pub(crate) fn merged_requires(
    existing: &CoordinationManifest,
    name: &str,
    requires: &[(String, Option<String>)],
) -> Vec<String> {
    requires
        .iter()
        .filter_map(|(dep, released)| match released {
            Some(version) => Some(format!("{dep}={version}")),
            None => existing
                .get(name)
                .and_then(|e| {
                    e.requires
                        .iter()
                        .find(|r| r.split_once('=').is_some_and(|(n, _)| n == dep))
                        .cloned()
                })
                .or_else(|| existing.get(dep).map(|d| format!("{dep}={}", d.version))),
        })
        .collect()
}

/// Records the released set in the coordination manifest and, as `[publish]
/// coordination_commit` says, commits it (only it) in the work tree holding it and pushes.
#[derive(Debug)]
pub(crate) struct CoordinationStep {
    pub(crate) file: PathBuf,
    pub(crate) entries: Vec<CoordinationEntry>,
    pub(crate) vcs: Arc<dyn Vcs>,
    pub(crate) commit: CoordinationCommit,
    /// The commit message.
    pub(crate) message: String,
}

impl CoordinationStep {
    async fn wanted(&self) -> Result<BTreeMap<String, CoordinatedVersion>> {
        // An unreadable file is reported by `write_coordination`; here it records nothing.
        let existing = read_coordination(&self.existing()).unwrap_or_default();
        let mut out = BTreeMap::new();
        for e in &self.entries {
            let commit = self
                .vcs
                .local_tag(&e.path, &e.tag)
                .await?
                .unwrap_or_default();
            out.insert(
                e.name.clone(),
                CoordinatedVersion {
                    version: e.version.clone(),
                    git_tag: e.tag.clone(),
                    git_commit: commit,
                    requires: merged_requires(&existing, &e.name, &e.requires),
                    binaries: Vec::new(),
                },
            );
        }
        Ok(out)
    }

    fn existing(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap_or_default()
    }

    fn work_tree(&self) -> Result<(PathBuf, String)> {
        work_tree_of(&self.file).ok_or_else(|| {
            Error::invalid_input(format!(
                "{} is not inside a git work tree, so it cannot be committed",
                self.file.display()
            ))
        })
    }

    /// The branch the work tree is on and whether `origin` has its commit.
    async fn pushed(&self, root: &Path) -> Result<(String, bool)> {
        let (branch, commit) = match self.vcs.head(root).await? {
            Head::Branch { name, commit } => (name, commit),
            other => {
                return Err(Error::Conflict {
                    message: format!(
                        "{} is not on a branch ({other:?}): cannot push the coordination manifest",
                        root.display()
                    ),
                });
            }
        };
        let refs = self
            .vcs
            .remote_refs(root, ORIGIN, &[branch_ref(&branch)])
            .await?;
        let on_origin = refs.get(&branch_ref(&branch)) == Some(&commit);
        Ok((branch, on_origin))
    }
}

#[async_trait]
impl Step for CoordinationStep {
    fn id(&self) -> &str {
        "coordination"
    }

    fn describe(&self) -> String {
        let then = match self.commit {
            CoordinationCommit::Off => "",
            CoordinationCommit::Commit => " and commit it",
            CoordinationCommit::Push => " and commit and push it",
        };
        format!("record the released set in {}{then}", self.file.display())
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let wanted = self.wanted().await?;
        let existing = read_coordination(&self.existing()).unwrap_or_default();
        let current = wanted.iter().all(|(name, w)| {
            existing
                .get(name)
                .is_some_and(|e| e.version == w.version && e.git_commit == w.git_commit)
        });
        if !current {
            return Ok(Check::Pending(self.describe()));
        }
        if self.commit != CoordinationCommit::Off {
            // Whether HEAD holds this content cannot be read cheaply and exactly (a status list
            // is capped and hides ignored files); `apply` is idempotent instead: committing the
            // same content again is "nothing to commit", and a pushed branch is not pushed.
            self.work_tree()?;
            return Ok(Check::Pending(self.describe()));
        }
        Ok(Check::Done(format!(
            "{} is up to date",
            self.file.display()
        )))
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let text = write_coordination(&self.existing(), &self.wanted().await?)?;
        std::fs::write(&self.file, &text)
            .map_err(|e| Error::io(format!("writing {}", self.file.display()), e))?;
        let mut summary = format!(
            "recorded {} package(s) in {}",
            self.entries.len(),
            self.file.display()
        );
        if self.commit == CoordinationCommit::Off {
            return Ok(StepOutput::summary(summary));
        }
        let (root, relative) = self.work_tree()?;
        match self
            .vcs
            .commit_files(&root, &[(relative, text.into_bytes())], &self.message)
            .await
        {
            Ok(commit) => summary.push_str(&format!(", committed {}", short(&commit))),
            // HEAD already has it: committed by an earlier attempt (or by hand).
            Err(Error::Conflict { .. }) => summary.push_str(", already committed"),
            Err(e) => return Err(e),
        }
        if self.commit == CoordinationCommit::Push {
            let (branch, on_origin) = self.pushed(&root).await?;
            if !on_origin {
                ctx.progress(format!("pushing {branch}"));
                if let Err(e) = self.vcs.push_branch(&root, ORIGIN, &branch).await {
                    // A push killed mid-flight may have landed: accept exactly that.
                    if !self.pushed(&root).await?.1 {
                        return Err(e);
                    }
                }
            }
            summary.push_str(&format!(", pushed {branch}"));
        }
        Ok(StepOutput::summary(summary))
    }
}
