//! Checks before a publish or cascade changes anything: every clone, every manifest rewrite and
//! every registry a package waits on, all problems reported at once.

use std::sync::Arc;

use super::engine_plan::awaited_versions;
use crate::config::Config;
use crate::error::{Error, PreflightFailure, Result};
use crate::publish::plan::{PublishPlan, manifest_rewrites};
use crate::release::preflight_repo;
use crate::vcs::{Head, Vcs};

/// Every package's clone, checked side by side as `release` checks its repos (a clean work
/// tree on its release branch, HEAD equal to origin's, origin the configured repository, the
/// new tag nowhere yet). Every problem of every package is reported at once, and nothing is
/// changed (`publish --dry-run` runs it too, so it refuses what the run would). Outside a nightly, every manifest is also rewritten in memory, so a requirement
/// that cannot be rewritten is refused here rather than after the first package is out.
pub async fn preflight_publish(
    config: &Config,
    vcs: Arc<dyn Vcs>,
    plan: &PublishPlan,
    nightly: bool,
) -> Result<()> {
    let mut checks = tokio::task::JoinSet::new();
    for p in &plan.packages {
        let repo = config
            .repo(&p.name)
            .ok_or_else(|| Error::invalid_input(format!("unknown repo {}", p.name)))?
            .clone();
        let (vcs, tag) = (vcs.clone(), p.tag.clone());
        checks.spawn(async move {
            let mut reasons = preflight_repo(vcs.as_ref(), &repo, &tag, false)
                .await
                .err()
                .unwrap_or_default();
            // Said first: on the wrong branch, the other reasons follow from it.
            if let Ok(Head::Branch { name, .. }) = vcs.head(&repo.path).await
                && name != repo.publish.branch()
            {
                reasons.insert(
                    0,
                    format!(
                        "HEAD is on {name}, but its releases are committed to {} \
                         (check it out, or set `branch` in its [[repo]])",
                        repo.publish.branch()
                    ),
                );
            }
            (repo.name, reasons)
        });
    }
    let mut failures = Vec::new();
    if !nightly && let Err(unrewritable) = manifest_rewrites(config, plan) {
        failures.extend(unrewritable);
    }
    if !nightly {
        for p in &plan.packages {
            if let Err(e) = awaited_versions(config, plan, &p.name) {
                failures.push(PreflightFailure {
                    repo: p.name.clone(),
                    reason: e.to_string(),
                });
            }
        }
    }
    while let Some(joined) = checks.join_next().await {
        let (name, reasons) =
            joined.map_err(|e| Error::state(format!("preflight task failed: {e}")))?;
        failures.extend(reasons.into_iter().map(|reason| PreflightFailure {
            repo: name.clone(),
            reason,
        }));
    }
    if failures.is_empty() {
        return Ok(());
    }
    let order: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
    failures.sort_by_key(|f| order.iter().position(|n| *n == f.repo));
    Err(Error::Preflight { failures })
}
