//! What `publish`, `cascade` and `status` print: plans, result tables, manifest rewrites.

use std::fmt::Write as _;

use orchestrator_core::publish::{self, CascadePreview, PublishPlan, PublishPreview};

use crate::args::{Global, OutputFormat};
use crate::render;

/// One package's row of a result table: name, version, tag, outcome, run (`-` when none). The
/// terminal table adds the error; the step summary does not.
pub(crate) fn package_row(p: &publish::PackageReport) -> Vec<String> {
    vec![
        p.name.clone(),
        p.version.clone(),
        p.tag.clone(),
        p.outcome.as_str().to_owned(),
        p.run_url.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// The result table of `publish` and `cascade`.
pub(crate) fn render_publish_report(report: &publish::PublishReport) -> String {
    let rows: Vec<Vec<String>> = report
        .packages
        .iter()
        .map(|p| {
            let mut row = package_row(p);
            row.push(p.error.clone().unwrap_or_default());
            row
        })
        .collect();
    let mut out = render::table(
        &["repo", "version", "tag", "outcome", "run", "error"],
        &rows,
    );
    let count = |o| report.with_outcome(o).len();
    let _ = writeln!(
        out,
        "\n{} run {}: {:?}; {} released, {} failed, {} held back",
        report.kind,
        report.run_id,
        report.status,
        count(publish::PackageOutcome::Released),
        count(publish::PackageOutcome::Failed),
        count(publish::PackageOutcome::HeldBack),
    );
    if let Some(tag) = &report.umbrella {
        let _ = writeln!(out, "umbrella release: {tag}");
    }
    if let Some(file) = &report.coordination {
        let _ = writeln!(out, "coordination manifest: {file}");
    }
    out
}

/// The manifest rewrites `publish --dry-run` prints under the plan: per file, each key
/// `old -> new`.
pub(crate) fn render_rewrites(rewrites: &[publish::ManifestRewrite]) -> String {
    let mut out = String::new();
    for r in rewrites.iter().filter(|r| !r.changes.is_empty()) {
        let _ = writeln!(out, "\n{} ({}):", r.file.display(), r.repo);
        for c in &r.changes {
            let _ = writeln!(out, "  {}: {} -> {}", c.key, c.from, c.to);
        }
    }
    out
}

/// The plan `publish --dry-run` prints.
pub(crate) fn render_publish_plan(plan: &PublishPlan) -> String {
    let mut out = format!(
        "publish plan: {} package(s) in {} wave(s); longest chain {} (concurrency {})\n\n",
        plan.packages.len(),
        plan.waves.len(),
        plan.longest_chain,
        plan.concurrency
    );
    let rows: Vec<Vec<String>> = plan
        .packages
        .iter()
        .map(|p| {
            vec![
                (plan
                    .waves
                    .iter()
                    .position(|w| w.contains(&p.name))
                    .unwrap_or(0)
                    + 1)
                .to_string(),
                p.name.clone(),
                p.packages.join(","),
                format!("{} -> {}", p.current, p.next),
                p.tag.clone(),
                p.reason.clone(),
            ]
        })
        .collect();
    out.push_str(&render::table(
        &["wave", "repo", "packages", "version", "tag", "why"],
        &rows,
    ));
    if !plan.skipped.is_empty() {
        out.push_str("\nnot released:\n");
        for s in &plan.skipped {
            let _ = writeln!(out, "  {} stays at {}: {}", s.name, s.current, s.reason);
        }
    }
    if let Some(tag) = &plan.umbrella_tag {
        let _ = writeln!(out, "\numbrella release: {tag}");
    }
    out
}

/// The table `status` prints.
pub(crate) fn render_status(rows: &[publish::StatusRow]) -> String {
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.repo.clone(),
                dash(&r.latest_release),
                dash(&r.age),
                dash(&r.expected),
                dash(&r.conclusion),
                dash(&r.latest_run),
                dash(&r.drift),
            ]
        })
        .collect();
    render::table(
        &[
            "repo",
            "latest release",
            "age",
            "expected",
            "release run",
            "run url",
            "drift",
        ],
        &table,
    )
}

/// What `publish --dry-run` prints: the plan, the manifest rewrites, the registry waits.
pub(crate) fn print_publish_preview(
    global: &Global,
    preview: &PublishPreview,
) -> anyhow::Result<()> {
    match global.output {
        OutputFormat::Human => {
            print!("{}", render_publish_plan(&preview.run.plan));
            print!("{}", render_rewrites(&preview.rewrites));
            if !preview.waits.is_empty() {
                println!("\nbefore each bump, wait until installable:");
                for (repo, versions) in &preview.waits {
                    println!("  {repo}: {}", versions.join(", "));
                }
            }
        }
        OutputFormat::Json => {
            let mut value = serde_json::to_value(&preview.run.plan)?;
            if let Some(object) = value.as_object_mut() {
                object.insert(
                    "manifest_rewrites".into(),
                    serde_json::to_value(&preview.rewrites)?,
                );
                object.insert(
                    "registry_waits".into(),
                    serde_json::to_value(&preview.waits)?,
                );
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(())
}

/// What `cascade --dry-run` prints: the repos it would build, in waves.
pub(crate) fn print_cascade_preview(
    global: &Global,
    preview: &CascadePreview,
) -> anyhow::Result<()> {
    match global.output {
        OutputFormat::Human => {
            println!(
                "cascade {}{}: {} repo(s) in {} wave(s)",
                preview.trigger.describe(),
                if preview.nightly { " (nightly)" } else { "" },
                preview.waves.iter().map(Vec::len).sum::<usize>(),
                preview.waves.len()
            );
            for (i, wave) in preview.waves.iter().enumerate() {
                println!("wave {}: {}", i + 1, wave.join(", "));
            }
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&preview)?),
    }
    Ok(())
}
