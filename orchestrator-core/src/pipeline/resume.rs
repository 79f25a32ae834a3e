//! Which unfinished pipeline run `--resume` continues, and whether it still may: read from the
//! run's typed parameters.

use crate::engine::Mode;
use crate::error::{Error, Result};
use crate::state::{RunId, StateStore};

use super::{PipelineParams, RUN_KIND, mode_name};

/// The unfinished run `--resume` continues, and the steps its journal finished. Refuses a run of
/// the other flow, and a flow whose steps changed (added, removed, reordered) since the run began:
/// a resume finishes the job that was started. Editing a step's command or env is fine; that is
/// how a failing step gets fixed.
pub(super) async fn resumable(
    store: &dyn StateStore,
    pipeline: &str,
    mode: Mode,
    flow: &[String],
) -> Result<(Option<RunId>, Vec<String>)> {
    let Some(run) = store.resumable(RUN_KIND, pipeline).await? else {
        return Ok((None, Vec::new()));
    };
    let recorded: PipelineParams = crate::workspace::params::decode(&run)?;
    let run_mode = recorded.mode.as_str();
    if run_mode != mode_name(mode) {
        return Err(Error::invalid_input(format!(
            "the last unfinished run of {pipeline:?} (run {}) was a {run_mode} run; resume it {} --delete",
            run.id,
            if run_mode == "delete" {
                "with"
            } else {
                "without"
            }
        )));
    }
    // Runs recorded before the flow was kept in the params cannot be compared.
    if let Some(change) = recorded
        .flow
        .as_deref()
        .and_then(|r| crate::tasks::list_change(r, flow))
    {
        return Err(Error::invalid_input(format!(
            "--resume: the {} flow of pipeline.{pipeline} changed since run {} began ({change}); \
             restore it to finish run {}, or run without --resume to start a new run",
            mode_name(mode),
            run.id,
            run.id
        )));
    }
    let done = store
        .journal(run.id)
        .await?
        .into_iter()
        .filter(|r| r.entry.completes_step())
        .filter_map(|r| r.entry.step().map(str::to_owned))
        .collect();
    Ok((Some(run.id), done))
}
