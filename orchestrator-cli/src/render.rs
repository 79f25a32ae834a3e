//! Human renderings of plans and reports (JSON goes through serde).

use std::fmt::Write;

use orchestrator_core::release::{ReleasePlan, ReleaseReport, RepoAction};

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
