//! The three steps of releasing one repository: tag, push, wait.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use super::preflight::{ORIGIN, short};
use super::wait::{WaitSpec, wait_for_assets};
use crate::error::{Error, Result};
use crate::forge::Forge;
use crate::step::{Check, Step, StepContext, StepOutput};
use crate::vcs::{Vcs, tag_ref};

/// Creates the annotated tag in the local clone.
#[derive(Debug)]
pub(crate) struct TagStep {
    pub(crate) id: String,
    pub(crate) path: PathBuf,
    pub(crate) tag: String,
    pub(crate) commit: String,
    pub(crate) message: String,
    pub(crate) vcs: Arc<dyn Vcs>,
}

#[async_trait]
impl Step for TagStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "tag {} at {} in {}",
            self.tag,
            short(&self.commit),
            self.path.display()
        )
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        match self.vcs.local_tag(&self.path, &self.tag).await? {
            Some(c) if c == self.commit => Ok(Check::Done(format!(
                "tag {} already at {}",
                self.tag,
                short(&c)
            ))),
            Some(c) => Err(Error::Conflict {
                message: format!(
                    "local tag {} points at {}, not {}",
                    self.tag,
                    short(&c),
                    short(&self.commit)
                ),
            }),
            None => Ok(Check::Pending(format!("create tag {}", self.tag))),
        }
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let created = self
            .vcs
            .create_tag(&self.path, &self.tag, &self.commit, &self.message)
            .await;
        if let Err(e) = created {
            // A tag write from an interrupted attempt may have finished meanwhile: if exactly
            // our tag is there now, the effect is in place.
            return match self.check(ctx).await {
                Ok(Check::Done(detail)) => Ok(StepOutput::summary(detail)),
                _ => Err(e),
            };
        }
        Ok(StepOutput {
            summary: format!("tagged {} at {}", self.tag, short(&self.commit)),
            data: serde_json::json!({ "tag": self.tag, "commit": self.commit }),
        })
    }
}

/// Pushes exactly the tag to origin.
#[derive(Debug)]
pub(crate) struct PushStep {
    pub(crate) id: String,
    pub(crate) path: PathBuf,
    pub(crate) tag: String,
    pub(crate) commit: String,
    pub(crate) vcs: Arc<dyn Vcs>,
}

#[async_trait]
impl Step for PushStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!("push {} to origin", self.tag)
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let name = tag_ref(&self.tag);
        let refs = self
            .vcs
            .remote_refs(&self.path, ORIGIN, std::slice::from_ref(&name))
            .await?;
        match refs.get(&name) {
            Some(c) if *c == self.commit => Ok(Check::Done(format!(
                "{} already on origin at {}",
                self.tag,
                short(c)
            ))),
            Some(c) => Err(Error::Conflict {
                message: format!(
                    "tag {} on origin points at {}, not {}",
                    self.tag,
                    short(c),
                    short(&self.commit)
                ),
            }),
            None => Ok(Check::Pending(format!("push {}", self.tag))),
        }
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        if let Err(e) = self.vcs.push_tag(&self.path, ORIGIN, &self.tag).await {
            // A push from an interrupted attempt (a killed process leaves `git push` running)
            // may have landed meanwhile: if origin now has exactly our tag, we are done.
            return match self.check(ctx).await {
                Ok(Check::Done(detail)) => Ok(StepOutput::summary(detail)),
                _ => Err(e),
            };
        }
        Ok(StepOutput::summary(format!("pushed {}", self.tag)))
    }
}

/// Waits for the release's assets to exist and settle.
#[derive(Debug)]
pub(crate) struct WaitStep {
    pub(crate) id: String,
    pub(crate) spec: WaitSpec,
    pub(crate) forge: Arc<dyn Forge>,
}

#[async_trait]
impl Step for WaitStep {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        let patterns: Vec<&str> = self.spec.patterns.iter().map(|p| p.pattern()).collect();
        if patterns.is_empty() {
            format!("wait for release {} of {}", self.spec.tag, self.spec.repo)
        } else {
            format!(
                "wait for release {} of {} with {}",
                self.spec.tag,
                self.spec.repo,
                patterns.join(", ")
            )
        }
    }

    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        // Settling can only be observed over several polls, so the wait itself decides.
        Ok(Check::Pending(format!(
            "{} asset(s) to appear and settle",
            self.spec.patterns.len()
        )))
    }

    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        let report = wait_for_assets(self.forge.as_ref(), &self.spec, ctx).await?;
        Ok(StepOutput {
            summary: format!(
                "{} asset(s) settled after {:.1}s",
                report.assets.len(),
                report.waited_secs
            ),
            data: serde_json::to_value(&report).unwrap_or_default(),
        })
    }
}
