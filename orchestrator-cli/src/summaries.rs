//! What each command leaves for a GitHub Actions job (`$GITHUB_OUTPUT` and the step summary),
//! written through [`crate::gha`]; kept out of the command modules, which only parse, call and
//! print.

use orchestrator_core::scale::approval::GateAction;
use orchestrator_core::scale::execute::ExecuteReport;
use orchestrator_core::scale::review::CommandOutcome;

use crate::gha;

/// `release`'s key results for a GitHub Actions job: `status`, `run_id`, `tag`, and the repos
/// `released` and `failed` (comma-separated); the per-repo table as the step summary.
pub(crate) fn release(report: &orchestrator_core::release::ReleaseReport) {
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
        gha::table(&["repo", "outcome", "release", "error"], &rows)
    );
    gha::write(
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

/// `tasks run`'s key results for a GitHub Actions job: `status`, `run_id`, the `failed` tasks
/// (comma-separated) and `outputs_uri` (the first task's that has one; every task's, one
/// `task=uri` a line, in `outputs_uris`); the record table as the step summary.
pub(crate) fn tasks(report: &orchestrator_core::tasks::TasksReport) {
    let failed: Vec<&str> = report
        .records
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| r.task.as_str())
        .collect();
    let uris: Vec<(&str, &str)> = report
        .records
        .iter()
        .filter_map(|r| r.outputs_uri.as_deref().map(|u| (r.task.as_str(), u)))
        .collect();
    let rows: Vec<Vec<String>> = report
        .records
        .iter()
        .map(|r| {
            vec![
                r.task.clone(),
                r.status.clone(),
                r.outputs_uri.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let summary = format!(
        "## tasks {}: {} (run {})\n\n{}",
        report.list,
        report.status.as_str(),
        report.run_id,
        gha::table(&["task", "status", "outputs"], &rows)
    );
    gha::write(
        &[
            ("status", report.status.as_str().to_owned()),
            ("run_id", report.run_id.to_string()),
            ("failed", failed.join(",")),
            (
                "outputs_uri",
                uris.first()
                    .map(|(_, u)| (*u).to_owned())
                    .unwrap_or_default(),
            ),
            (
                "outputs_uris",
                uris.iter()
                    .map(|(t, u)| format!("{t}={u}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ],
        Some(&summary),
    );
}

/// The status, plan hash and run id for a GitHub Actions job; the actions as the summary.
pub(crate) fn scale(action: GateAction, report: &ExecuteReport) {
    let status = match (report.ok, report.executed) {
        (true, true) => "succeeded",
        (true, false) => "previewed",
        (false, _) => "failed",
    };
    let rows: Vec<Vec<String>> = report.previews.iter().map(|p| vec![p.clone()]).collect();
    let summary = format!(
        "## scale {}: {status}\n\nplan `{}`\n\n{}",
        match action {
            GateAction::Apply => "apply",
            GateAction::Rollback => "rollback",
        },
        report.plan_hash,
        gha::table(&["action"], &rows)
    );
    gha::write(
        &[
            ("status", status.to_owned()),
            ("plan_hash", report.plan_hash.clone()),
            (
                "run_id",
                report.run_id.map(|id| id.to_string()).unwrap_or_default(),
            ),
        ],
        Some(&summary),
    );
}

/// `pr-command`'s `status` (ignored, answered, refused, succeeded, failed, unlocked), the plan
/// hash when a plan was acted on, and the whole outcome as `json`.
pub(crate) fn pr_command(outcome: &CommandOutcome) -> serde_json::Result<()> {
    let (status, plan_hash) = match outcome {
        CommandOutcome::Ignored { .. } => ("ignored", None),
        CommandOutcome::Answered { .. } => ("answered", None),
        CommandOutcome::Refused { .. } => ("refused", None),
        CommandOutcome::Executed {
            ok: true,
            plan_hash,
            ..
        } => ("succeeded", Some(plan_hash)),
        CommandOutcome::Executed { plan_hash, .. } => ("failed", Some(plan_hash)),
        CommandOutcome::Unlocked { .. } => ("unlocked", None),
    };
    gha::write(
        &[
            ("status", status.to_owned()),
            ("plan_hash", plan_hash.cloned().unwrap_or_default()),
            ("json", serde_json::to_string(outcome)?),
        ],
        None,
    );
    Ok(())
}
