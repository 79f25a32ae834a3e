//! What a publish or cascade run records when it begins (its plan, as typed and versioned run
//! parameters) and how an unfinished one is found again, so a resume continues exactly that
//! plan.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::publish::RUN_KIND;
use crate::publish::plan::PublishPlan;
use crate::state::{RunId, StateStore};
use crate::workspace::params::{self, RunParams};

/// The run kind under which cascades are journaled.
pub const CASCADE_RUN_KIND: &str = "cascade";

/// The journal key of a plan: its umbrella tag, else its packages' tags.
pub fn plan_key(plan: &PublishPlan) -> String {
    plan.umbrella_tag.clone().unwrap_or_else(|| {
        plan.packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.tag))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// An unfinished publish or cascade, as it was recorded when it began.
#[derive(Debug, Clone)]
pub struct RecordedRun {
    /// The run in the state store.
    pub run: RunId,
    /// Its plan, as it was made.
    pub plan: PublishPlan,
    /// Whether it was a nightly cascade.
    pub nightly: bool,
}

/// What a publish or cascade run records: the plan it was made with (a resumed run continues
/// exactly it) and whether it is a nightly.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RecordedPlan {
    /// The plan, as it was made.
    pub plan: PublishPlan,
    /// A nightly cascade (no bump, nightly tags).
    #[serde(default)]
    pub nightly: bool,
}

/// The recorded parameters of a [`RUN_KIND`] run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PublishParams(pub RecordedPlan);

impl RunParams for PublishParams {
    const KIND: &'static str = RUN_KIND;
    const VERSION: u32 = 1;
}

/// The recorded parameters of a [`CASCADE_RUN_KIND`] run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CascadeParams(pub RecordedPlan);

impl RunParams for CascadeParams {
    const KIND: &'static str = CASCADE_RUN_KIND;
    const VERSION: u32 = 1;
}

/// The newest run of `kind` (`publish` or `cascade`) when it did not succeed, with the plan it
/// was made with: a resumed publish must not re-plan from manifests its own `bump` steps
/// already rewrote, nor a resumed nightly from a new day's date.
pub async fn resumable_run(store: &dyn StateStore, kind: &str) -> Result<Option<RecordedRun>> {
    // Unfinished whatever its key (a nightly's key is its date: its resume may come after
    // midnight); an abandoned run is final.
    let Some(run) = store.unfinished(kind).await? else {
        return Ok(None);
    };
    let recorded = if kind == CASCADE_RUN_KIND {
        params::decode::<CascadeParams>(&run)?.0
    } else {
        params::decode::<PublishParams>(&run)?.0
    };
    recorded
        .plan
        .validate()
        .map_err(|e| Error::state(format!("run {}: {e}", run.id)))?;
    Ok(Some(RecordedRun {
        run: run.id,
        plan: recorded.plan,
        nightly: recorded.nightly,
    }))
}

/// The plan of [`resumable_run`].
pub async fn resumable_plan(store: &dyn StateStore, kind: &str) -> Result<Option<PublishPlan>> {
    Ok(resumable_run(store, kind).await?.map(|r| r.plan))
}
