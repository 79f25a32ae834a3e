//! Human renderings of plans and reports (JSON goes through serde).

use std::fmt::Write;

use orchestrator_core::release::{ReleasePlan, ReleaseReport, RepoAction};

/// Prints a generated text (a graph, a CI job, workflow files) as it is for people, or, with
/// `--output json`, as one JSON object: `fields` plus the text under `key`, so a script reads one
/// document whatever the command.
pub(crate) fn text_document(
    global: &crate::args::Global,
    mut fields: serde_json::Value,
    key: &str,
    text: &str,
) -> anyhow::Result<()> {
    match global.output {
        crate::args::OutputFormat::Human => print!("{text}"),
        crate::args::OutputFormat::Json => {
            fields[key] = serde_json::Value::String(text.to_owned());
            println!("{}", serde_json::to_string_pretty(&fields)?);
        }
    }
    Ok(())
}

/// The first 7 characters of a commit id.
fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// A simple left-aligned table.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// The plan `--dry-run` prints.
pub(crate) fn plan(plan: &ReleasePlan) -> String {
    let mut out = format!(
        "release {} (tag {}): {} repo(s) in {} wave(s), up to {} at once\n",
        plan.version,
        plan.tag,
        plan.repos.len(),
        plan.waves.len(),
        plan.concurrency
    );
    if let Some(run) = plan.resume_run {
        let _ = writeln!(
            out,
            "resuming run {run}; journal records as done: {}",
            list(&plan.journaled_done)
        );
    }
    for (i, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "\nwave {}:", i + 1);
        for name in wave {
            let Some(repo) = plan.repos.iter().find(|r| &r.name == name) else {
                continue;
            };
            let action = match repo.preflight.action {
                RepoAction::TagAndPush => format!(
                    "tag {} at {}, push, wait",
                    plan.tag,
                    short(&repo.preflight.commit)
                ),
                RepoAction::PushOnly => format!(
                    "push existing tag {} (at {}), wait",
                    plan.tag,
                    short(&repo.preflight.commit)
                ),
                RepoAction::WaitOnly => format!(
                    "already tagged on origin at {}; wait",
                    short(&repo.preflight.commit)
                ),
            };
            let _ = writeln!(out, "  {:<20} {} ({})", repo.name, action, repo.github);
            if !repo.depends_on.is_empty() {
                let _ = writeln!(out, "  {:<20}   after: {}", "", repo.depends_on.join(", "));
            }
            let _ = writeln!(out, "  {:<20}   assets: {}", "", list(&repo.assets));
        }
    }
    out.push_str("\ndry run: nothing was changed\n");
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// The table printed at the end of a release.
pub(crate) fn report(report: &ReleaseReport) -> String {
    let rows: Vec<Vec<String>> = report
        .repos
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                report.tag.clone(),
                short(&r.commit).to_owned(),
                r.outcome.to_string(),
                r.assets.len().to_string(),
                format!("{:.1}s", r.waited_secs),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = format!(
        "\nrelease {} {} in {:.1}s (run {})\n",
        report.version,
        report.status.as_str(),
        report.elapsed_secs,
        report.run_id
    );
    out.push_str(&table(
        &[
            "REPO", "TAG", "COMMIT", "OUTCOME", "ASSETS", "WAITED", "NOTE",
        ],
        &rows,
    ));
    let f = &report.forge_requests;
    let _ = writeln!(
        out,
        "forge: {} request(s), {} counted against the rate limit, {} not modified, {} retried",
        f.requests, f.rate_limited, f.not_modified, f.retries
    );
    if report.status != orchestrator_core::state::RunStatus::Succeeded {
        let _ = writeln!(
            out,
            "continue with: orchestrator release --version {} --resume",
            report.version
        );
    }
    out
}

/// The plan `orchestrator run --dry-run` prints.
pub(crate) fn pipeline_plan(plan: &orchestrator_core::pipeline::PipelinePlan) -> String {
    use orchestrator_core::pipeline::mode_name;
    let selected = plan.selected().count();
    let mut out = format!(
        "pipeline {}, {} flow: {selected} of {} step(s) would run",
        plan.pipeline,
        mode_name(plan.mode),
        plan.steps.len()
    );
    if let Some(only) = &plan.only {
        let _ = write!(
            out,
            " (selection from {}: {})",
            only.source,
            only.items.join(",")
        );
    }
    out.push('\n');
    if let Some(run) = plan.resume_run {
        let _ = writeln!(
            out,
            "resuming run {run}; journal records as done: {}",
            list(&plan.journaled_done)
        );
    }
    out.push_str("\nenv layers (lowest first, over the process environment):\n");
    let rows: Vec<Vec<String>> = plan
        .layers
        .iter()
        .map(|l| {
            let mut state = l.state.clone();
            if l.state == "loaded" {
                state = format!("loaded, {} variable(s)", l.variables);
            }
            if l.secret {
                state.push_str(", secret");
            }
            vec![format!("  {}", l.name), state]
        })
        .collect();
    out.push_str(&table_body(&rows));
    out.push_str("\nvariables:\n");
    let rows: Vec<Vec<String>> = plan
        .variables
        .iter()
        .map(|v| vec![format!("  {}={}", v.name, v.value), v.source.clone()])
        .collect();
    out.push_str(&table_body(&rows));
    out.push_str("\nsteps:\n");
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .map(|s| {
            let mut reason = s.decision.reason.clone();
            if plan.journaled_done.contains(&s.decision.name) {
                reason.push_str("; done in the resumed run");
            }
            vec![
                format!("  {}", s.decision.number),
                if s.decision.included { "run" } else { "skip" }.to_owned(),
                s.decision.name.clone(),
                reason,
            ]
        })
        .collect();
    out.push_str(&table_body(&rows));
    out.push_str("\ncommands:\n");
    for s in plan.selected() {
        let _ = writeln!(out, "  {}  {}", s.decision.number, s.command);
        for (k, v) in &s.env {
            let _ = writeln!(out, "       env {k}={v}");
        }
        if let Some(t) = s.timeout_secs {
            let _ = writeln!(out, "       timeout {t}s");
        }
        if let Some(diff) = &s.diff {
            for line in diff.lines() {
                let _ = writeln!(out, "       {line}");
            }
        }
    }
    out.push_str("\ndry run: nothing was run\n");
    out
}

/// Rows aligned like [`table`], without a header.
fn table_body(rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "  (none)\n".into();
    }
    let header: Vec<&str> = rows[0].iter().map(|_| "").collect();
    let text = table(&header, rows);
    text.split_once('\n')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default()
}

/// The table printed at the end of `orchestrator run`.
pub(crate) fn pipeline_report(report: &orchestrator_core::pipeline::PipelineReport) -> String {
    use orchestrator_core::engine::StepStatus;
    let rows: Vec<Vec<String>> = report
        .steps
        .iter()
        .map(|s| {
            let status = match &s.status {
                StepStatus::Succeeded => "succeeded",
                StepStatus::AlreadyDone => "done before",
                StepStatus::Failed => "FAILED",
                StepStatus::Blocked { .. } => "not run",
                StepStatus::Interrupted => "interrupted",
                StepStatus::NotStarted => "not started",
            };
            vec![
                s.number.to_string(),
                s.name.clone(),
                status.to_owned(),
                format!("{:.1}s", s.elapsed_secs),
                s.summary.lines().next().unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    let mut out = format!(
        "\n{} {} {} in {:.1}s (run {})\n",
        report.pipeline,
        orchestrator_core::pipeline::mode_name(report.mode),
        report.status.as_str(),
        report.elapsed_secs,
        report.run_id
    );
    out.push_str(&table(&["#", "STEP", "STATUS", "TOOK", "NOTE"], &rows));
    out
}

/// Task records as a table.
pub(crate) fn task_records(records: &[orchestrator_core::state::TaskRecord]) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.task.clone(),
                r.status.clone(),
                format!("{:.1}s", r.duration_ms as f64 / 1000.0),
                r.started_at.clone(),
                r.outputs_uri.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["TASK", "STATUS", "TOOK", "STARTED", "OUTPUTS"], &rows)
}

/// Every task record of one run, in the order stored. When a `--resume` ran a task again, an
/// ATTEMPT column numbers each task's records and marks the ones a later attempt superseded.
pub(crate) fn task_attempts(attempts: &[orchestrator_core::tasks::TaskAttempt]) -> String {
    if !attempts.iter().any(|a| a.superseded) {
        let records: Vec<_> = attempts.iter().map(|a| a.record.clone()).collect();
        return task_records(&records);
    }
    let rows: Vec<Vec<String>> = attempts
        .iter()
        .map(|a| {
            let r = &a.record;
            vec![
                r.task.clone(),
                r.status.clone(),
                if a.superseded {
                    format!("{} (superseded)", a.attempt)
                } else {
                    a.attempt.to_string()
                },
                format!("{:.1}s", r.duration_ms as f64 / 1000.0),
                r.started_at.clone(),
                r.outputs_uri.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["TASK", "STATUS", "ATTEMPT", "TOOK", "STARTED", "OUTPUTS"],
        &rows,
    )
}
