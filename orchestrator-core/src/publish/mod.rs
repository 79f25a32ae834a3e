//! `orchestrator publish`, `cascade`, `graph`, `ci-snippet`: versioned releases across a package
//! DAG.
//!
//! The pure parts live here and are tested on their own: [`bump`] (next versions, conventional
//! commits), [`notes`] (release notes), [`manifest`] (rewriting `Cargo.toml` and `package.json`
//! without touching anything but version strings), [`coordination`] (seed 004's `versions.toml`),
//! [`plan`] (which packages move to which versions, lock-step groups, waves), [`graph_view`]
//! (Mermaid/DOT/text), [`cascade`] (event payloads, nightly tags) and [`ci_snippet`](mod@ci_snippet).
//! [`observe`] reads what the planner needs from the clones.
//!
//! [`PublishWorkflow`] and [`CascadeWorkflow`] (the nightly is a cascade) run them through the
//! one run driver ([`crate::workspace::Workspace::run`]), with the resume policy in
//! [`workflow`]; [`Publisher`] underneath runs a plan on the engine inside a session.

pub mod bump;
pub mod cascade;
pub mod checkout;
pub mod ci_snippet;
pub mod config;
pub mod coordination;
pub mod correlate;
pub mod graph_view;
pub mod manifest;
pub mod notes;
pub mod plan;
pub mod range;
pub mod registry;
pub mod run;
pub mod status;
mod steps;
pub mod workflow;

pub use bump::{
    AutoBump, BreakingOn0x, BumpLevel, BumpRequest, ConventionalCommit, auto_bump, next_version,
};
pub use cascade::{
    BUILD_ALL, CascadeTrigger, cascade_packages, cascade_waves, check_trigger_sha, is_nightly_tag,
    nightly_tag, parse_dispatch_event,
};
pub use checkout::{CHECKOUT_RUN_KIND, CheckoutParams, checkout_pushed};
pub use ci_snippet::ci_snippet;
pub use coordination::{
    CoordinatedVersion, CoordinationManifest, read_coordination, write_coordination,
};
pub use correlate::{RunCorrelation, dispatch_correlated, find_run, follow_run};
pub use graph_view::{GraphFormat, GraphOptions, journal_outcomes, longest_chain, render_graph};
pub use manifest::{
    ManifestChange, ManifestEdit, ManifestInfo, ManifestKind, in_file, read_manifest,
    rewrite_manifest,
};
pub use notes::{release_notes, umbrella_notes};
pub use plan::{
    ManifestRewrite, ObservedRepo, PlannedPackage, PublishPlan, PublishRequest, SkippedPackage,
    manifest_rewrites, plan_publish,
};
pub use range::{DependencyRange, cargo_requirement, npm_requirement};
pub use registry::{Registry, ResolvedRegistry};
pub use run::{
    CASCADE_RUN_KIND, CascadeParams, PackageOutcome, PackageReport, PublishOptions, PublishParams,
    PublishReport, Publisher, RecordedPlan, RecordedRun, plan_cascade, plan_key, preflight_publish,
    resumable_plan, resumable_run,
};
pub use status::{
    STATUS_END, STATUS_START, StatusReport, StatusRow, format_age, issue_body_with_status,
    parse_issue_ref, read_expected, status_markdown, status_report, status_rows,
    update_status_issue,
};
pub use workflow::{
    CascadePreview, CascadeRequest, CascadeWorkflow, PublishPreview, PublishRun, PublishWorkflow,
    registry_waits, unfinished_refusal,
};

use std::collections::BTreeMap;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::vcs::Vcs;
use crate::version::ReleaseVersion;

/// The run kind under which publishes are journaled.
pub const RUN_KIND: &str = "publish";

/// Reads every publishable repo's manifest, the tag of its version and (when `commits` is true,
/// as `--bump auto` and release notes need) the commits since that tag. Read-only.
pub async fn observe(
    config: &Config,
    vcs: &dyn Vcs,
    commits: bool,
) -> Result<BTreeMap<String, ObservedRepo>> {
    let mut out = BTreeMap::new();
    for repo in &config.repos {
        let Some(manifest) = &repo.publish.manifest else {
            continue;
        };
        let kind = ManifestKind::detect(manifest)?;
        let text = std::fs::read_to_string(manifest).map_err(|e| {
            Error::invalid_input(format!(
                "{}: cannot read manifest {}: {e}",
                repo.name,
                manifest.display()
            ))
        })?;
        let info = read_manifest(kind, &text)
            .map_err(|e| Error::invalid_input(format!("{}: {e}", repo.name)))?;
        let current = info.version.clone().unwrap_or_else(|| "0.0.0".to_owned());
        let version = ReleaseVersion::parse(&current)
            .map_err(|e| Error::invalid_input(format!("{}: {e}", repo.name)))?;
        let tag = config.release.tag.render(&version);
        let last_tag = vcs.local_tag(&repo.path, &tag).await?.map(|_| tag.clone());
        let commits = if commits {
            vcs.commits_since(&repo.path, last_tag.as_deref()).await?
        } else {
            Vec::new()
        };
        out.insert(
            repo.name.clone(),
            ObservedRepo {
                manifest_name: info.name,
                current,
                last_tag,
                commits,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
