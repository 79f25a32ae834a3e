//! `orchestrator status`: the release status of every repo, optionally kept in a tracking issue.
//! A read-only report (no lock, no journal); core's `publish::status` says why.

use std::process::ExitCode;

use clap::Args;
use orchestrator_core::publish;

use super::render;
use crate::args::{Global, OutputFormat};
use crate::wiring;

/// `orchestrator status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Keep the status table in this tracking issue's body (between the
    /// `orchestrator-status` markers; the rest of the body is left as written). The issue is
    /// edited only when the table changed.
    #[arg(long, value_name = "OWNER/REPO#N")]
    pub(crate) update_issue: Option<String>,
}

/// `status`'s exit code when the forge could not be read (1 is drift); see its `--help`.
const STATUS_FORGE_UNREADABLE: u8 = 3;

pub(crate) async fn status(global: &Global, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    // Parse the flag before touching the forge: a bad reference changes nothing.
    let issue = args
        .update_issue
        .as_deref()
        .map(publish::parse_issue_ref)
        .transpose()?;
    let config = wiring::load_config(global)?;
    let workspace = wiring::workspace(config, false)?;
    let forge = workspace.forge().await?;
    let now = orchestrator_core::state::now_ms();
    let report = match publish::status_report(workspace.config(), forge.clone(), now).await {
        Ok(report) => report,
        Err(e) if e.is_bad_input() => return Err(e.into()),
        Err(e) => {
            // No verdict is not drift: its own exit code, so a scheduled check can tell them apart.
            let message = format!(
                "cannot read the release status from the forge at {}: {e}",
                wiring::forge_label(workspace.config())
            );
            eprintln!(
                "error: {}",
                orchestrator_core::forge::redact_userinfo(&message)
            );
            return Ok(ExitCode::from(STATUS_FORGE_UNREADABLE));
        }
    };
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report.rows)?),
        OutputFormat::Human => print!("{}", render::render_status(&report.rows)),
    }
    if let Some((repo, number)) = issue {
        if publish::update_status_issue(forge.as_ref(), &repo, number, &report).await? {
            eprintln!("updated the status table in {repo}#{number}");
        } else {
            eprintln!("{repo}#{number} already shows this status");
        }
    }
    let drifted = report.drifted();
    crate::gha::write(
        &[
            (
                "status",
                if drifted.is_empty() { "ok" } else { "drift" }.to_owned(),
            ),
            ("drifted", drifted.join(",")),
        ],
        Some(&format!("## Ecosystem status\n\n{}\n", report.markdown)),
    );
    Ok(if drifted.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
