//! `[scale]` of `orchestrator.toml`: who may approve a scaling plan, what must hold before one is
//! applied, and how long `apply` and `rollback` wait for the rollouts. Command-line flags override
//! each key for one invocation.
//!
//! This section is policy, so it is only ever read from a trusted source: the workflow's checkout
//! of the default branch, or the base branch through the forge ([`ScaleConfig::from_toml`] reads
//! the `[scale]` table alone from a file fetched at the base ref). A pull request's own
//! `orchestrator.toml` is the change under review and never decides who may approve it.
//!
//! ```toml
//! [scale]
//! approvers = ["alice", "bob"]          # only these logins may approve (default: anyone with
//!                                       #   min_permission)
//! min_permission = "maintain"           # write (default), maintain or admin
//! allow_self_approval = false           # may the PR author approve their own plan (default no)
//! bot_logins = ["github-actions[bot]"]  # bots: their commands are ignored, their reviews never
//!                                       #   approve (default shown)
//! apply_requirements = ["approved", "mergeable", "undiverged"]  # default shown; `open` always
//! emergency_rollback = ["oncall-lead"]  # may /rollback-plan alone (default: nobody; every
//!                                       #   rollback needs a second approver)
//! rollout_timeout = "10m"               # per workload, after apply/rollback --execute (default 5m)
//! wait_for_rollout = true               # false: done once the cluster shows the change
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::approval::{ApplyRequirements, ApprovalPolicy};
use super::execute::RolloutWait;
use crate::config::{ErrFn, duration_field};
use crate::error::Result;
use crate::forge::Permission;

/// `[scale]`; its default is what the section's absence means (the flags' defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleConfig {
    /// Who may approve (and roll back) a plan.
    pub policy: ApprovalPolicy,
    /// The wait after executing a plan; `None`: no wait (`wait_for_rollout = false`).
    pub rollout_wait: Option<RolloutWait>,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        Self {
            policy: ApprovalPolicy::default(),
            rollout_wait: Some(RolloutWait::default()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScale {
    approvers: Option<Vec<Spanned<String>>>,
    min_permission: Option<Spanned<String>>,
    allow_self_approval: Option<bool>,
    bot_logins: Option<Vec<Spanned<String>>>,
    rollout_timeout: Option<Spanned<String>>,
    wait_for_rollout: Option<Spanned<bool>>,
    apply_requirements: Option<Vec<Spanned<String>>>,
    emergency_rollback: Option<Vec<Spanned<String>>>,
}

/// A whole `orchestrator.toml` seen only for its `[scale]` table.
#[derive(Debug, Default, Deserialize)]
struct ScaleOnly {
    scale: Option<RawScale>,
}

impl ScaleConfig {
    /// The `[scale]` table of an `orchestrator.toml` read from a trusted source (the base branch,
    /// fetched through the forge); other sections are not looked at, so a base branch with a
    /// config for other commands still yields its scale policy. Errors name `origin`, the line
    /// and the key.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let err = crate::config::errors::reporter(std::path::Path::new(origin), text);
        let raw: ScaleOnly = toml::from_str(text)
            .map_err(|e| crate::config::errors::syntax_error(&e, text, &err))?;
        parse_scale(raw.scale, &err)
    }
}

/// The weakest permission that may approve, by name (`write`, `maintain`, `admin`).
pub fn parse_min_permission(text: &str) -> Option<Permission> {
    match text.to_ascii_lowercase().as_str() {
        "write" => Some(Permission::Write),
        "maintain" => Some(Permission::Maintain),
        "admin" => Some(Permission::Admin),
        _ => None,
    }
}

pub(crate) fn parse_scale(raw: Option<RawScale>, err: &ErrFn<'_>) -> Result<ScaleConfig> {
    let raw = raw.unwrap_or_default();
    let mut policy = ApprovalPolicy::default();
    let logins = |list: Option<Vec<Spanned<String>>>, key: &str| -> Result<Option<Vec<String>>> {
        let Some(list) = list else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for login in list {
            let name = login.get_ref().trim();
            // GitHub logins: letters, digits, `-`; bots end in `[bot]`.
            let bare = name.strip_suffix("[bot]").unwrap_or(name);
            if bare.is_empty() || !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(err(
                    Some(login.span()),
                    Some(format!("scale.{key}")),
                    format!("{:?} is not a GitHub login", login.get_ref()),
                ));
            }
            out.push(name.to_owned());
        }
        Ok(Some(out))
    };
    if let Some(approvers) = logins(raw.approvers, "approvers")? {
        if approvers.is_empty() {
            return Err(err(
                None,
                Some("scale.approvers".into()),
                "an empty list would let nobody approve; leave the key out to allow anyone with \
                 min_permission"
                    .into(),
            ));
        }
        policy.allowed_users = approvers;
    }
    if let Some(bots) = logins(raw.bot_logins, "bot_logins")? {
        if bots.is_empty() {
            return Err(err(
                None,
                Some("scale.bot_logins".into()),
                "an empty list would trust no approval reply; leave the key out for github-actions[bot]"
                    .into(),
            ));
        }
        policy.bot_logins = bots;
    }
    if let Some(level) = raw.min_permission {
        policy.min_permission = parse_min_permission(level.get_ref()).ok_or_else(|| {
            err(
                Some(level.span()),
                Some("scale.min_permission".into()),
                format!(
                    "{:?} is not one of \"write\", \"maintain\", \"admin\"",
                    level.get_ref()
                ),
            )
        })?;
    }
    policy.allow_self_approval = raw.allow_self_approval.unwrap_or(false);
    if let Some(list) = raw.apply_requirements {
        let mut requirements = ApplyRequirements::NONE;
        for name in list {
            if !requirements.enable(name.get_ref()) {
                return Err(err(
                    Some(name.span()),
                    Some("scale.apply_requirements".into()),
                    format!(
                        "{:?} is not one of \"open\", \"approved\", \"mergeable\", \"undiverged\"",
                        name.get_ref()
                    ),
                ));
            }
        }
        policy.requirements = requirements;
    }
    if let Some(logins) = logins(raw.emergency_rollback, "emergency_rollback")? {
        if logins.is_empty() {
            return Err(err(
                None,
                Some("scale.emergency_rollback".into()),
                "an empty list names nobody; leave the key out for no emergency rollback".into(),
            ));
        }
        policy.emergency_rollback = logins;
    }
    let wait = raw.wait_for_rollout.as_ref().is_none_or(|w| *w.get_ref());
    if !wait && let Some(timeout) = &raw.rollout_timeout {
        return Err(err(
            Some(timeout.span()),
            Some("scale.rollout_timeout".into()),
            "bounds a wait that wait_for_rollout = false skips: give one of them".into(),
        ));
    }
    let rollout_wait = if wait {
        let default = RolloutWait::default();
        Some(RolloutWait {
            timeout: duration_field(
                raw.rollout_timeout,
                "scale.rollout_timeout",
                default.timeout,
                err,
            )?,
            ..default
        })
    } else {
        None
    };
    Ok(ScaleConfig {
        policy,
        rollout_wait,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/ws/orchestrator.toml"))
    }

    #[test]
    fn defaults_are_the_flags_defaults() {
        let c = parse("").expect("valid");
        assert_eq!(c.scale, ScaleConfig::default());
        assert_eq!(c.scale.policy, ApprovalPolicy::default());
        assert_eq!(c.scale.rollout_wait, Some(RolloutWait::default()));
    }

    #[test]
    fn every_key_is_read() {
        let c = parse(
            "[scale]\napprovers = [\"alice\", \"bob-2\"]\nmin_permission = \"Maintain\"\n\
             allow_self_approval = true\nbot_logins = [\"plans[bot]\"]\nrollout_timeout = \"90s\"\n",
        )
        .expect("valid");
        let p = &c.scale.policy;
        assert_eq!(p.allowed_users, ["alice", "bob-2"]);
        assert_eq!(p.min_permission, Permission::Maintain);
        assert!(p.allow_self_approval);
        assert_eq!(p.bot_logins, ["plans[bot]"]);
        assert_eq!(
            c.scale.rollout_wait.map(|w| w.timeout),
            Some(Duration::from_secs(90))
        );
        assert_eq!(p.requirements, ApplyRequirements::ALL, "the default");
        assert!(p.emergency_rollback.is_empty());
        let c = parse(
            "[scale]\napply_requirements = [\"open\", \"approved\"]\n\
             emergency_rollback = [\"oncall\"]\n",
        )
        .expect("valid");
        assert_eq!(
            c.scale.policy.requirements,
            ApplyRequirements {
                approved: true,
                ..ApplyRequirements::NONE
            }
        );
        assert_eq!(c.scale.policy.emergency_rollback, ["oncall"]);
        let no_wait = parse("[scale]\nwait_for_rollout = false\n").expect("valid");
        assert_eq!(no_wait.scale.rollout_wait, None);
    }

    #[test]
    fn the_scale_table_alone_is_read_from_a_base_branch_file() {
        let text = "[[repos]]\nbroken = true\n\n[scale]\napprovers = [\"lead\"]\n";
        let c = ScaleConfig::from_toml(text, "o/r@main:orchestrator.toml").expect("valid");
        assert_eq!(c.policy.allowed_users, ["lead"]);
        let e = ScaleConfig::from_toml("[scale]\nmin_permission = \"read\"\n", "o/r@main:x")
            .expect_err("invalid")
            .to_string();
        assert!(e.contains("o/r@main:x") && e.contains(":2"), "{e}");
        // A wrong type in the base branch's file names the key on its line, as for a local file.
        let e = ScaleConfig::from_toml("[scale]\n\napprovers = 3\n", "o/r@main:x")
            .expect_err("invalid")
            .to_string();
        assert!(
            e.starts_with("o/r@main:x:3: `approvers`: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        for (text, want) in [
            (
                "[scale]\nmin_permission = \"read\"\n",
                ":2: `scale.min_permission`: \"read\" is not one of",
            ),
            (
                "[scale]\napprovers = [\"al ice\"]\n",
                ":2: `scale.approvers`: \"al ice\" is not a GitHub login",
            ),
            (
                "[scale]\napprovers = []\n",
                "`scale.approvers`: an empty list",
            ),
            (
                "[scale]\nbot_logins = []\n",
                "`scale.bot_logins`: an empty list",
            ),
            (
                "[scale]\nrollout_timeout = \"soon\"\n",
                ":2: `scale.rollout_timeout`: invalid duration",
            ),
            (
                "[scale]\nrollout_timeout = \"0s\"\n",
                ":2: `scale.rollout_timeout`: \"0s\" must be above zero",
            ),
            (
                "[scale]\nwait_for_rollout = false\nrollout_timeout = \"5m\"\n",
                ":3: `scale.rollout_timeout`: bounds a wait",
            ),
            (
                "[scale]\napprove = [\"x\"]\n",
                ":2: `approve`: unknown field",
            ),
            (
                "[scale]\napply_requirements = [\"approved\", \"green\"]\n",
                ":2: `scale.apply_requirements`: \"green\" is not one of",
            ),
            (
                "[scale]\nemergency_rollback = []\n",
                "`scale.emergency_rollback`: an empty list names nobody",
            ),
        ] {
            let e = parse(text).expect_err(text).to_string();
            assert!(
                e.starts_with("/ws/orchestrator.toml") && e.contains(want),
                "{text:?}\n got: {e}\nwant: {want}"
            );
        }
    }
}
