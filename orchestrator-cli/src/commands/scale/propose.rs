//! `orchestrator scale propose`: commits the plan and opens its pull request, journaled under
//! the workspace lock (a failed proposal resumes).

use std::process::ExitCode;

use orchestrator_core::forge::RepoId;
use orchestrator_core::scale::ScalePlan;
use orchestrator_core::scale::propose::ProposeRequest;
use orchestrator_core::workspace::workflows::ProposeWorkflow;

use super::args::ProposeArgs;
use super::plan_file;
use crate::args::{Global, OutputFormat};
use crate::wiring;

pub(super) async fn propose(global: &Global, args: ProposeArgs) -> anyhow::Result<ExitCode> {
    let plan = ScalePlan::load(&plan_file(&args.plan))?;
    let workspace = wiring::optional_workspace(global)?;
    let request = ProposeRequest {
        repo: args.repo.parse::<RepoId>()?,
        clone: args.clone,
        remote: args.remote,
        base: args.base,
        policy: workspace.config().scale.policy.clone(),
    };
    // Journaled under the workspace lock like apply: a failed propose resumes.
    let proposal = workspace
        .run(&ProposeWorkflow {
            plan: plan.clone(),
            request,
        })
        .await?
        .report;
    let url = proposal.pull_request.html_url.clone();
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "outputs_uri": url, "status": "awaiting_approval", "proposal": proposal,
            }))?
        ),
        OutputFormat::Human => println!("outputs_uri={url}\nawaiting_approval"),
    }
    crate::gha::write(
        &[
            ("status", "awaiting_approval".to_owned()),
            ("plan_hash", plan.hash().to_owned()),
            ("outputs_uri", url),
        ],
        None,
    );
    Ok(ExitCode::SUCCESS)
}
