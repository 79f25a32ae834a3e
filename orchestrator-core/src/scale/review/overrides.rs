//! The invoker's overrides of the `[scale]` approval policy.
//!
//! The policy itself comes from a trusted source (the base branch, or a trusted checkout); the
//! one who runs the command (a workflow file's flags, a service's embedder) may tighten or loosen
//! it for that invocation, as the workflow file is theirs too. The overrides are a plain value so
//! that `pr-command`, `scale apply|rollback --execute` and `serve` apply them one way, and a bad
//! value is refused here, before anything is read or changed.

use crate::error::{Error, Result};
use crate::forge::{Permission, RepoId};
use crate::scale::approval::ApprovalPolicy;
use crate::scale::config::{ScaleConfig, parse_min_permission};
use crate::workspace::Workspace;
use crate::workspace::workflows::{PolicySource, trusted_scale_config};

/// What the invoker sets on top of the `[scale]` policy; each field left empty keeps the
/// configured value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    /// The weakest repository permission that may approve, by name: `write`, `maintain` or
    /// `admin` (any case). Checked by [`PolicyOverrides::validate`].
    pub min_permission: Option<String>,
    /// When not empty, only these logins may approve.
    pub allowed_users: Vec<String>,
    /// Lets the pull request's author and its committers approve their own plan (`false` keeps
    /// the configured rule: an override can only allow it, never forbid what the config allows).
    pub allow_self_approval: bool,
    /// When not empty, the bot logins: their commands are ignored, their reviews never approve.
    pub bot_logins: Vec<String>,
}

impl PolicyOverrides {
    /// Refuses a value no policy can hold, with one line naming it; the minimum permission it
    /// sets, if any.
    pub fn validate(&self) -> Result<Option<Permission>> {
        self.min_permission
            .as_deref()
            .map(|level| {
                parse_min_permission(level).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "--min-permission {level}: expected write, maintain or admin"
                    ))
                })
            })
            .transpose()
    }

    /// `configured` with these overrides on top.
    pub fn apply(&self, configured: &ApprovalPolicy) -> Result<ApprovalPolicy> {
        let mut policy = configured.clone();
        if let Some(level) = self.validate()? {
            policy.min_permission = level;
        }
        if !self.allowed_users.is_empty() {
            policy.allowed_users.clone_from(&self.allowed_users);
        }
        if self.allow_self_approval {
            policy.allow_self_approval = true;
        }
        if !self.bot_logins.is_empty() {
            policy.bot_logins.clone_from(&self.bot_logins);
        }
        Ok(policy)
    }

    /// The `[scale]` section that governs pull request `number` of `repo`: read from `source`
    /// (see [`trusted_scale_config`]) with these overrides on its policy. The overrides are
    /// checked first, so a bad one is refused before the forge is asked anything.
    pub async fn resolve(
        &self,
        workspace: &Workspace,
        repo: &RepoId,
        number: u64,
        source: PolicySource,
    ) -> Result<ScaleConfig> {
        self.validate()?;
        let mut config = trusted_scale_config(workspace, repo, number, source).await?;
        config.policy = self.apply(&config.policy)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logins(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Without overrides the configured policy stands as it is.
    #[test]
    fn no_overrides_keep_the_configured_policy() {
        let configured = ApprovalPolicy {
            min_permission: Permission::Maintain,
            allowed_users: logins(&["lead"]),
            allow_self_approval: true,
            bot_logins: logins(&["deploy[bot]"]),
            ..ApprovalPolicy::default()
        };
        let policy = PolicyOverrides::default()
            .apply(&configured)
            .expect("valid");
        assert_eq!(policy, configured);
    }

    /// Each override given replaces its key; a minimum permission is read in any case.
    #[test]
    fn each_override_replaces_its_key() {
        let overrides = PolicyOverrides {
            min_permission: Some("Admin".into()),
            allowed_users: logins(&["maint", "lead"]),
            allow_self_approval: true,
            bot_logins: logins(&["ci[bot]"]),
        };
        assert_eq!(
            overrides.validate().expect("valid"),
            Some(Permission::Admin)
        );
        let policy = overrides.apply(&ApprovalPolicy::default()).expect("valid");
        assert_eq!(policy.min_permission, Permission::Admin);
        assert_eq!(policy.allowed_users, logins(&["maint", "lead"]));
        assert!(policy.allow_self_approval);
        assert_eq!(policy.bot_logins, logins(&["ci[bot]"]));
        assert!(policy.is_bot("CI[bot]"));
        assert!(!policy.is_bot(crate::scale::approval::DEFAULT_BOT));
    }

    /// A permission that is no level is bad input, named as the flag's message always named it.
    #[test]
    fn a_minimum_permission_that_is_no_level_is_refused_naming_it() {
        for level in ["owner", "read", "", "write "] {
            let overrides = PolicyOverrides {
                min_permission: Some(level.into()),
                ..PolicyOverrides::default()
            };
            let err = overrides.validate().expect_err(level);
            assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                format!("--min-permission {level}: expected write, maintain or admin")
            );
            let err = overrides
                .apply(&ApprovalPolicy::default())
                .expect_err("apply validates too");
            assert!(err.to_string().contains("--min-permission"), "{err}");
        }
    }
}
