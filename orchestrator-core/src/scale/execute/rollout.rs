//! Waiting for a changed workload to roll out, as `kubectl rollout status` does.

use std::sync::Arc;

use async_trait::async_trait;

use super::RolloutWait;
use crate::cluster::{Cluster, RolloutProgress, RolloutStatus, WorkloadRef};
use crate::error::{Error, Result};
use crate::step::{Check, Step, StepContext, StepOutput};

/// Waits for one workload's rollout.
#[derive(Debug)]
pub(super) struct RolloutStep {
    pub(super) id: String,
    pub(super) workload: WorkloadRef,
    pub(super) wait: RolloutWait,
    pub(super) cluster: Arc<dyn Cluster>,
}

#[async_trait]
impl Step for RolloutStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "kubectl -n {} rollout status {}/{} --timeout={}s",
            self.workload.namespace,
            self.workload.kind.kubectl(),
            self.workload.name,
            self.wait.timeout.as_secs_f64()
        )
    }

    async fn check(&self, _: &StepContext) -> Result<Check> {
        let status = rollout_status(self.cluster.as_ref(), &self.workload).await?;
        Ok(match status.progress() {
            RolloutProgress::Complete => Check::Done(rolled_out(&status)),
            RolloutProgress::Progressing(missing) | RolloutProgress::Failed(missing) => {
                Check::Pending(missing)
            }
        })
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let status =
            wait_for_rollout(self.cluster.as_ref(), &self.workload, &self.wait, ctx).await?;
        Ok(StepOutput::summary(rolled_out(&status)))
    }
}

pub(super) fn rolled_out(status: &RolloutStatus) -> String {
    format!(
        "rolled out: {} of {} replicas available",
        status.available_replicas, status.desired_replicas
    )
}

pub(super) async fn rollout_status(
    cluster: &dyn Cluster,
    w: &WorkloadRef,
) -> Result<RolloutStatus> {
    cluster
        .rollout_status(w)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: w.to_string(),
        })
}

/// Polls the workload's rollout status every [`RolloutWait::poll_interval`] until it is complete
/// ([`RolloutStatus::progress`]). Errors: [`Error::RolloutFailed`] as soon as the controller gives
/// up, [`Error::Timeout`] naming what was still missing once [`RolloutWait::timeout`] has passed,
/// [`Error::Cancelled`] when the run is stopped. Transient read errors are retried until the
/// deadline.
pub async fn wait_for_rollout(
    cluster: &dyn Cluster,
    workload: &WorkloadRef,
    wait: &RolloutWait,
    ctx: &StepContext,
) -> Result<RolloutStatus> {
    let deadline = tokio::time::Instant::now() + wait.timeout;
    let mut missing;
    loop {
        match rollout_status(cluster, workload).await {
            Ok(status) => match status.progress() {
                RolloutProgress::Complete => return Ok(status),
                RolloutProgress::Failed(reason) => {
                    return Err(Error::RolloutFailed {
                        workload: workload.to_string(),
                        reason,
                    });
                }
                RolloutProgress::Progressing(now) => {
                    ctx.progress(format!("waiting: {now}"));
                    missing = now;
                }
            },
            Err(e) if e.is_retriable() => {
                ctx.progress(format!("{e}; retrying"));
                missing = format!("a status read ({e})");
            }
            Err(e) => return Err(e),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                what: format!("{workload} to roll out"),
                missing: vec![missing],
                waited: wait.timeout,
            });
        }
        ctx.sleep(wait.poll_interval.min(deadline - now)).await?;
    }
}
