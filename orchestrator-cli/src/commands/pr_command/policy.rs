//! Who may approve a plan: the flags that choose the `[scale]` policy's trusted source and put
//! the invoker's overrides on top, turned into core's [`PolicyOverrides`] (core checks and
//! applies them). Shared by `pr-command` and `scale apply|rollback --execute`.

use clap::{Args, ValueEnum};
use orchestrator_core::Error;
use orchestrator_core::forge::RepoId;
use orchestrator_core::scale::approval::ApprovalPolicy;
use orchestrator_core::scale::config::ScaleConfig;
use orchestrator_core::scale::review::PolicyOverrides;
use orchestrator_core::workspace::Workspace;
use orchestrator_core::workspace::workflows::PolicySource;

/// Where the approval policy is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PolicyFrom {
    /// `orchestrator.toml` on the pull request's base branch, read through the forge.
    Base,
    /// The local `orchestrator.toml` (`--config`): only for a trusted checkout of the default
    /// branch, never a checkout of the pull request.
    Checkout,
}

/// Who may approve; shared with `scale apply|rollback --execute`. Each flag overrides its
/// `[scale]` key for this invocation (the flags are the invoker's, like the workflow file).
#[derive(Debug, Args, Clone)]
pub(crate) struct PolicyArgs {
    /// Where the [scale] policy comes from: the base branch through the forge (default), or the
    /// local config of a trusted checkout. Never the pull request's own files.
    #[arg(long, value_enum, default_value = "base", value_name = "SOURCE")]
    policy_from: PolicyFrom,
    /// Only these logins may approve (repeatable; default: [scale] approvers, else anyone with
    /// the minimum permission).
    #[arg(long = "allow-user", value_name = "LOGIN")]
    allow_users: Vec<String>,
    /// The weakest repository permission that may approve: write, maintain or admin (default:
    /// [scale] min_permission, else write).
    #[arg(long, value_name = "LEVEL")]
    min_permission: Option<String>,
    /// Let the PR's author and its committers approve their own plan (default: [scale]
    /// allow_self_approval, else no).
    #[arg(long)]
    allow_self_approval: bool,
    /// Bot logins, whose commands are ignored and whose reviews never approve (repeatable;
    /// default: [scale] bot_logins, else github-actions[bot]).
    #[arg(long = "bot-login", value_name = "LOGIN")]
    bot_logins: Vec<String>,
}

impl PolicyArgs {
    /// Where the policy is read from.
    pub(crate) fn source(&self) -> PolicySource {
        match self.policy_from {
            PolicyFrom::Base => PolicySource::BaseBranch,
            PolicyFrom::Checkout => PolicySource::Checkout,
        }
    }

    /// The flags as core's overrides (checked there).
    pub(crate) fn overrides(&self) -> PolicyOverrides {
        PolicyOverrides {
            min_permission: self.min_permission.clone(),
            allowed_users: self.allow_users.clone(),
            allow_self_approval: self.allow_self_approval,
            bot_logins: self.bot_logins.clone(),
        }
    }

    /// The `[scale]` section from the chosen trusted source, with the flags on top (see
    /// [`PolicyOverrides::resolve`]).
    pub(crate) async fn resolve(
        &self,
        workspace: &Workspace,
        repo: &RepoId,
        number: u64,
    ) -> Result<(ScaleConfig, ApprovalPolicy), Error> {
        let config = self
            .overrides()
            .resolve(workspace, repo, number, self.source())
            .await?;
        let policy = config.policy.clone();
        Ok((config, policy))
    }
}
