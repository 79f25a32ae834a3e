//! `orchestrator cascade`: a changed repo and everything downstream of it, or the nightly.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use orchestrator_core::publish::{
    self, CascadeRequest, CascadeTrigger, CascadeWorkflow, PublishReport,
};
use orchestrator_core::workspace::{Finished, Workspace};

use super::render;
use crate::args::{Global, OutputFormat};
use crate::wiring;

/// `orchestrator cascade`.
#[derive(Debug, Args)]
pub(crate) struct CascadeArgs {
    /// The changed repo (or give --event-file or --all; with --resume, none is needed).
    #[arg(
        long,
        value_name = "REPO",
        required_unless_present_any = ["event_file", "resume", "all", "abandon"],
        conflicts_with_all = ["event_file", "all"]
    )]
    pub(crate) from: Option<String>,

    /// Every repo, in dependency order (what a `build_all` event asks; with --nightly, the
    /// nightly prerelease of the whole ecosystem).
    #[arg(long, conflicts_with = "event_file")]
    pub(crate) all: bool,

    /// A repository_dispatch event payload ($GITHUB_EVENT_PATH): client_payload.repo, ref, sha.
    #[arg(long, value_name = "PATH")]
    pub(crate) event_file: Option<PathBuf>,

    /// Tag each built repo nightly-YYYYMMDD-<sha> ([publish] nightly_tag) as a prerelease.
    #[arg(long)]
    pub(crate) nightly: bool,

    /// Print what would be built, in order; change nothing.
    #[arg(long, conflicts_with = "resume")]
    pub(crate) dry_run: bool,

    /// Continue the last unfinished cascade with the plan it recorded (the same tags, even a
    /// nightly's from an earlier day): nothing tagged or dispatched twice.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Give up unfinished run RUN for good (recorded in its journal; `runs` shows it
    /// `abandoned`), so a new one can start; alone, only that.
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    pub(crate) abandon: Option<i64>,
}

impl CascadeArgs {
    /// The request: the trigger from `--event-file`, `--from` or `--all` (`None` only with
    /// `--resume` or a lone `--abandon`).
    fn request(&self, workspace: &Workspace) -> Result<CascadeRequest, orchestrator_core::Error> {
        let config = workspace.config();
        let trigger = match (&self.event_file, &self.from) {
            (Some(path), _) => Some(CascadeTrigger::from_event_file(config, path)?),
            (None, Some(from)) => Some(CascadeTrigger::from_repo(config, from)?),
            (None, None) if self.all => Some(CascadeTrigger::all()),
            (None, None) => None,
        };
        Ok(CascadeRequest {
            trigger,
            source: self.event_file.clone(),
            nightly: self.nightly,
            resume: self.resume,
            checkout: false,
        })
    }
}

/// The workspace a cascade runs in (progress on stderr for a terminal).
pub(crate) fn cascade_workspace(global: &Global) -> anyhow::Result<Workspace> {
    let config = wiring::load_config(global)?;
    Ok(wiring::workspace(
        config,
        global.output == OutputFormat::Human,
    )?)
}

pub(crate) async fn cascade(global: &Global, args: CascadeArgs) -> anyhow::Result<ExitCode> {
    let workspace = cascade_workspace(global)?;
    let request = args.request(&workspace)?;
    if let Some(run) = args.abandon {
        super::abandon(&workspace, publish::CASCADE_RUN_KIND, run).await?;
        if request.trigger.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let workflow = CascadeWorkflow { request };
    if args.dry_run {
        render::print_cascade_preview(global, &workflow.preview(&workspace).await?)?;
        return Ok(ExitCode::SUCCESS);
    }
    workspace.cancel_on_stop_signals();
    let finished = workspace.run(&workflow).await?;
    print_report(global, &workspace, publish::CASCADE_RUN_KIND, finished)
}

/// Prints a publish or cascade result (and the Actions step summary); the exit code.
pub(crate) fn print_report(
    global: &Global,
    workspace: &Workspace,
    kind: &str,
    finished: Finished<Option<PublishReport>>,
) -> anyhow::Result<ExitCode> {
    let Some(report) = &finished.report else {
        println!("nothing to {kind}");
        return Ok(ExitCode::SUCCESS);
    };
    match global.output {
        OutputFormat::Human => print!("{}", render::render_publish_report(report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
    }
    crate::gha::publish_report(workspace.config(), report);
    Ok(ExitCode::from(finished.outcome.exit_code()))
}
