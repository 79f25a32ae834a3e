//! `orchestrator publish`, `cascade`, `status`, `graph` and `ci-snippet`: parse, call core, print.
//!
//! `publish` and `cascade` are [`PublishWorkflow`] and
//! [`orchestrator_core::publish::CascadeWorkflow`] run by the workspace's one driver, which
//! holds their policy (resume, refusal beside an unfinished run, lock, credential check,
//! cancellation, journal); `--dry-run` is the workflow's preview.

mod cascade;
mod graph;
mod render;
mod status;

pub(crate) use cascade::{CascadeArgs, cascade, print_report};
pub(crate) use graph::{CiSnippetArgs, GraphArgs, ci_snippet, graph};
pub(crate) use render::package_row;
pub(crate) use status::{StatusArgs, status};

use std::process::ExitCode;

use clap::Args;
use orchestrator_core::publish::{self, BumpRequest, PublishRequest, PublishWorkflow};
use orchestrator_core::workspace::Workflow as _;

use crate::args::{Global, OutputFormat};
use crate::wiring;

/// `orchestrator publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// How versions move: major, minor, patch, prerelease, or auto (from conventional commits).
    /// Not needed with --resume, which continues the recorded plan (used only when nothing is
    /// left to resume).
    #[arg(
        long,
        value_name = "BUMP",
        required_unless_present_any = ["resume", "abandon"],
        // Listed so --help and shell completions offer them.
        value_parser = ["major", "minor", "patch", "prerelease", "auto"]
    )]
    pub(crate) bump: Option<String>,

    /// Prerelease identifier (rc, beta...): with prerelease, or to make major/minor/patch
    /// prereleases.
    #[arg(long, value_name = "ID")]
    pub(crate) preid: Option<String>,

    /// `all`, or comma-separated repo or package names (a group member brings its group).
    #[arg(long, value_delimiter = ',', value_name = "all|A,B")]
    pub(crate) packages: Vec<String>,

    /// Also publish everything downstream of the selected packages.
    #[arg(long)]
    pub(crate) with_dependents: bool,

    /// Print the plan (versions, reasons, waves); change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Continue the last unfinished publish: nothing published or dispatched twice.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Give up unfinished run RUN for good (recorded in its journal; `runs` shows it
    /// `abandoned`), so a new one can start; alone, only that.
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    pub(crate) abandon: Option<i64>,

    /// Packages in flight at once (default: [publish] concurrency, else [release] concurrency).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: Option<u16>,
}

impl PublishArgs {
    /// The request, or `None` for a bare `--resume` (clap requires --bump otherwise).
    fn request(&self) -> Result<Option<PublishRequest>, orchestrator_core::Error> {
        let Some(bump) = self.bump.as_deref() else {
            return Ok(None);
        };
        Ok(Some(PublishRequest {
            bump: BumpRequest::parse(bump)?,
            preid: self.preid.clone(),
            packages: crate::args::names(&self.packages),
            with_dependents: self.with_dependents,
            resume: self.resume,
            concurrency: self.concurrency.map(usize::from),
        }))
    }
}

pub(crate) async fn publish(global: &Global, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let workflow = PublishWorkflow {
        request: args.request()?,
    };
    let config = wiring::load_config(global)?;
    let workspace = wiring::workspace(config, global.output == OutputFormat::Human)?;
    // Bad input changes nothing, an --abandon given with it included.
    workflow.validate(&workspace)?;
    if let Some(run) = args.abandon {
        abandon(&workspace, publish::RUN_KIND, run).await?;
        if workflow.request.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if args.dry_run {
        render::print_publish_preview(global, &workflow.preview(&workspace).await?)?;
        return Ok(ExitCode::SUCCESS);
    }
    workspace.cancel_on_stop_signals();
    let finished = workspace.run(&workflow).await?;
    print_report(global, &workspace, publish::RUN_KIND, finished)
}

/// `--abandon RUN`: gives the run up through the workspace and says so.
pub(crate) async fn abandon(
    workspace: &orchestrator_core::workspace::Workspace,
    kind: &str,
    run: i64,
) -> anyhow::Result<()> {
    let summary = workspace.abandon(kind, run).await?;
    eprintln!(
        "abandoned {kind} run {run} ({}); its journal records it and --resume will not continue it",
        summary.key
    );
    Ok(())
}
