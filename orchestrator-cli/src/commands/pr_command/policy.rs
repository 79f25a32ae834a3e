//! Who may approve a plan: the `[scale]` policy from a trusted source, with the invoker's flags
//! on top. Shared by `pr-command` and `scale apply|rollback --execute`.

use clap::{Args, ValueEnum};
use orchestrator_core::forge::RepoId;
use orchestrator_core::scale::approval::ApprovalPolicy;
use orchestrator_core::scale::config::{ScaleConfig, parse_min_permission};
use orchestrator_core::workspace::Workspace;
use orchestrator_core::workspace::workflows::{PolicySource, trusted_scale_config};

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
    /// `configured` (the `[scale]` policy) with the flags given applied on top.
    pub(crate) fn policy(&self, configured: &ApprovalPolicy) -> anyhow::Result<ApprovalPolicy> {
        let mut policy = configured.clone();
        if let Some(level) = &self.min_permission {
            policy.min_permission = parse_min_permission(level).ok_or_else(|| {
                orchestrator_core::Error::invalid_input(format!(
                    "--min-permission {level}: expected write, maintain or admin"
                ))
            })?;
        }
        if !self.allow_users.is_empty() {
            policy.allowed_users.clone_from(&self.allow_users);
        }
        if self.allow_self_approval {
            policy.allow_self_approval = true;
        }
        if !self.bot_logins.is_empty() {
            policy.bot_logins.clone_from(&self.bot_logins);
        }
        Ok(policy)
    }

    /// The `[scale]` section from the chosen trusted source (see
    /// [`trusted_scale_config`]), with the flags on top.
    pub(crate) async fn resolve(
        &self,
        workspace: &Workspace,
        repo: &RepoId,
        number: u64,
    ) -> anyhow::Result<(ScaleConfig, ApprovalPolicy)> {
        let source = match self.policy_from {
            PolicyFrom::Base => PolicySource::BaseBranch,
            PolicyFrom::Checkout => PolicySource::Checkout,
        };
        let config = trusted_scale_config(workspace, repo, number, source).await?;
        let policy = self.policy(&config.policy)?;
        Ok((config, policy))
    }
}
