//! `orchestrator graph` and `orchestrator ci-snippet`: read-only documents from the config (and,
//! for a coloured graph, a run's journal).

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use orchestrator_core::Error;
use orchestrator_core::config::Config;
use orchestrator_core::forge::RepoId;
use orchestrator_core::publish::{self, GraphFormat, GraphOptions};

use crate::args::Global;
use crate::{render, wiring};

/// `orchestrator graph`.
#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// mermaid, dot or text.
    #[arg(long, default_value = "mermaid", value_name = "FORMAT")]
    pub(crate) format: String,

    /// Only this repo and what depends on it.
    #[arg(long, value_name = "REPO")]
    pub(crate) from: Option<String>,

    /// Colour nodes by the outcome of this publish or cascade run (`orchestrator runs`).
    #[arg(long, value_name = "ID")]
    pub(crate) run: Option<i64>,
}

/// `orchestrator ci-snippet`.
#[derive(Debug, Args)]
pub(crate) struct CiSnippetArgs {
    /// The repo whose CI notifies the orchestrator.
    pub(crate) repo: String,

    /// The repository that runs the orchestrator (receives the repository_dispatch).
    #[arg(long, value_name = "OWNER/NAME")]
    pub(crate) orchestrator_repo: String,

    /// Jobs that must succeed first (default: test).
    #[arg(long, value_delimiter = ',', value_name = "JOBS")]
    pub(crate) needs: Vec<String>,
}

pub(crate) async fn graph(global: &Global, args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let format = GraphFormat::parse(&args.format)?;
    let config = wiring::load_config(global)?;
    let mut options = GraphOptions {
        from: args.from.clone(),
        outcomes: BTreeMap::new(),
    };
    if let Some(run) = args.run {
        options.outcomes = run_outcomes(&config, run).await?;
    }
    let text = publish::render_graph(&config, format, &options)?;
    render::text_document(
        global,
        serde_json::json!({ "format": args.format }),
        "graph",
        &text,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Each repo's outcome in a run, as its journal finally leaves it (see
/// [`publish::journal_outcomes`]: after a resume, the retried steps' results count).
async fn run_outcomes(config: &Config, run: i64) -> anyhow::Result<BTreeMap<String, String>> {
    let store = wiring::workspace(config.clone(), false)?
        .read_only_store()
        .await?;
    let run: orchestrator_core::state::RunId = run;
    if store.run(run).await?.is_none() {
        return Err(Error::NotFound {
            what: format!("run {run}"),
        }
        .into());
    }
    Ok(publish::journal_outcomes(
        config,
        &store.journal(run).await?,
    ))
}

pub(crate) fn ci_snippet(global: &Global, args: &CiSnippetArgs) -> anyhow::Result<ExitCode> {
    let config = wiring::load_config(global)?;
    let target: RepoId = args.orchestrator_repo.parse()?;
    let text = publish::ci_snippet(&config, &args.repo, &target, &args.needs)?;
    render::text_document(
        global,
        serde_json::json!({ "repo": args.repo }),
        "snippet",
        &text,
    )?;
    Ok(ExitCode::SUCCESS)
}
