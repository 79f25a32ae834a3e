//! `orchestrator release`.

use std::process::ExitCode;
use std::sync::Arc;

use orchestrator_core::Error;
use orchestrator_core::engine::CancelToken;
use orchestrator_core::forge::Forge;
use orchestrator_core::release::{ReleaseRequest, Releaser, plan_release, validate_request};
use orchestrator_core::state::RunStatus;
use orchestrator_core::vcs::Vcs;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;

use crate::args::{Global, OutputFormat, ReleaseArgs};
use crate::{progress, render, wiring};

/// Converts flags into a request (all validation of values happens here or in the library).
fn request(args: &ReleaseArgs) -> Result<ReleaseRequest, Error> {
    Ok(ReleaseRequest {
        version: ReleaseVersion::parse(&args.version)?,
        only: args
            .only
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        resume: args.resume,
        concurrency: args.concurrency.map(usize::from),
    })
}

pub(crate) async fn run(global: &Global, args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    let request = request(&args)?;
    let config = wiring::load_config(global)?;
    release(global, config, &request, args.dry_run).await
}

/// Plans, then (unless a dry run) executes, printing progress and the result.
pub(crate) async fn release(
    global: &Global,
    config: orchestrator_core::config::Config,
    request: &ReleaseRequest,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    release_with(global, config, request, dry_run, None).await
}

/// [`release`] through `forge` when given, else the forge the config asks for.
pub(crate) async fn release_with(
    global: &Global,
    config: orchestrator_core::config::Config,
    request: &ReleaseRequest,
    dry_run: bool,
    forge: Option<Arc<dyn Forge>>,
) -> anyhow::Result<ExitCode> {
    // Bad flags are refused before anything, even the state directory, is created.
    validate_request(&config, request)?;
    let vcs: Arc<dyn Vcs> = Arc::new(GixVcs::new());
    // Plan (preflight included) without creating any state: a failed preflight, which says
    // "nothing was changed", leaves no state directory, lock or database behind. A dry run
    // neither locks nor creates anything, and needs no forge.
    let read_only = wiring::open_store(&config, true).await?;
    let plan = plan_release(&config, vcs.clone(), read_only.as_ref(), request).await?;
    if dry_run {
        match global.output {
            OutputFormat::Human => print!("{}", render::plan(&plan)),
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        }
        return Ok(ExitCode::SUCCESS);
    }
    drop(read_only);
    let _lock = wiring::lock_workspace(
        &wiring::state_dir(&config),
        &format!("release {}", request.version),
    )?;
    let store = wiring::open_store(&config, false).await?;
    // Again under the lock: the journal (what a resume skips) may have moved since the first look.
    let plan = plan_release(&config, vcs.clone(), store.as_ref(), request).await?;
    let forge = match forge {
        Some(forge) => forge,
        None => wiring::forge(&config, vcs.as_ref()).await?,
    };
    if let Some(repo) = plan.repos.first() {
        check_credentials(forge.as_ref(), &config, &repo.github, &plan.tag).await?;
    }
    let cancel = CancelToken::new();
    crate::signals::cancel_on_stop_signals(cancel.clone());
    let human = global.output == OutputFormat::Human;
    let mut releaser = Releaser::new(Arc::new(config), forge, vcs, store).with_cancel(cancel);
    if human {
        releaser = releaser.with_observer(progress::for_stderr());
        eprintln!(
            "releasing {} to {} repo(s) in {} wave(s)",
            plan.tag,
            plan.repos.len(),
            plan.waves.len()
        );
    }
    let report = releaser.execute(&plan).await?;
    match global.output {
        OutputFormat::Human => print!("{}", render::report(&report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    actions_outputs(&report);
    Ok(if report.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `release`'s key results for a GitHub Actions job: `status`, `run_id`, `tag`, and the repos
/// `released` and `failed` (comma-separated); the per-repo table as the step summary.
fn actions_outputs(report: &orchestrator_core::release::ReleaseReport) {
    use orchestrator_core::release::RepoOutcome;
    let names = |outcome: RepoOutcome| {
        report
            .repos
            .iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let rows: Vec<Vec<String>> = report
        .repos
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.outcome.to_string(),
                r.release_url.clone().unwrap_or_else(|| "-".into()),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let summary = format!(
        "## release {}: {} (run {})\n\n{}",
        report.tag,
        report.status.as_str(),
        report.run_id,
        crate::gha::table(&["repo", "outcome", "release", "error"], &rows)
    );
    crate::gha::write(
        &[
            ("status", report.status.as_str().to_owned()),
            ("run_id", report.run_id.to_string()),
            ("tag", report.tag.clone()),
            ("released", names(RepoOutcome::Released)),
            ("failed", names(RepoOutcome::Failed)),
        ],
        Some(&summary),
    );
}

/// One cheap read before anything changes: rejected credentials stop the run here (exit 2,
/// naming GITHUB_TOKEN/GH_TOKEN), and so does a forge that cannot answer (exit 1, naming it), rather
/// than after the tags are pushed. See [`wiring::check_forge`].
pub(crate) async fn check_credentials(
    forge: &dyn Forge,
    config: &orchestrator_core::config::Config,
    repo: &orchestrator_core::forge::RepoId,
    tag: &str,
) -> anyhow::Result<()> {
    wiring::check_forge(forge, config, repo, tag).await
}
