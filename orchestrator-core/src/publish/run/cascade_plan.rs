//! The plan of a cascade: a changed repo and everything downstream of it, as patch releases or
//! as a nightly's prerelease tags.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::publish::cascade::{cascade_packages, nightly_tag};
use crate::publish::plan::{PublishPlan, PublishRequest, plan_publish};
use crate::publish::{BumpRequest, ObservedRepo};
use crate::vcs::Vcs;

/// The plan of `cascade --from <from>`: `from` and everything downstream of it that publishes
/// (`None`: every repo that publishes, as `--all` and a `build_all` event ask).
/// Without `nightly`, a patch release of each (dependents' requirements follow); with it, each
/// is tagged `[publish] nightly_tag` at its HEAD at its current version, as a prerelease.
pub async fn plan_cascade(
    config: &Config,
    vcs: &dyn Vcs,
    observed: &BTreeMap<String, ObservedRepo>,
    from: Option<&str>,
    nightly: bool,
    now_ms: i64,
) -> Result<PublishPlan> {
    let packages = cascade_packages(config, from)?;
    let scope = from.map_or_else(|| "every repo".to_owned(), |f| format!("{f}'s downstream"));
    if packages.is_empty() {
        return Err(Error::invalid_input(format!(
            "nothing in {scope} declares a `manifest`: nothing to cascade"
        )));
    }
    let mut request = PublishRequest::new(BumpRequest::Patch);
    request.packages = packages;
    let mut plan = plan_publish(config, &request, observed)?;
    if nightly {
        for p in &mut plan.packages {
            let repo = config.repo(&p.name).expect("planned repos are configured");
            let head = vcs.head(&repo.path).await?;
            let sha = head.commit().unwrap_or_default().to_owned();
            p.next.clone_from(&p.current);
            p.tag = nightly_tag(&config.publish.nightly_tag, now_ms, &sha);
            p.reason = format!("nightly of {scope} at {}", &sha[..sha.len().min(7)]);
        }
        plan.umbrella_tag = None;
    }
    Ok(plan)
}
