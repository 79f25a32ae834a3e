//! Who may approve, request and unlock, and what an apply requires: the [`ApprovalPolicy`], read
//! only from a trusted source (the base branch through the forge, or a trusted checkout).

use serde::Serialize;

use super::{DEFAULT_BOT, POLICY_FILE};
use crate::error::{Error, Result};
use crate::forge::{Forge, Permission, RepoId};
use crate::scale::config::ScaleConfig;

/// What must hold before a plan is applied, besides `open` (always required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApplyRequirements {
    /// A qualified approver's `APPROVED` review at the head commit.
    pub approved: bool,
    /// GitHub reports the pull request as mergeable (`mergeable == true`).
    pub mergeable: bool,
    /// The base branch has not moved past the plan's base (`behind_by == 0`).
    pub undiverged: bool,
}

impl ApplyRequirements {
    /// Only `open`.
    pub const NONE: Self = Self {
        approved: false,
        mergeable: false,
        undiverged: false,
    };

    /// Every requirement: the default.
    pub const ALL: Self = Self {
        approved: true,
        mergeable: true,
        undiverged: true,
    };

    /// Turns on the requirement named `name` (`open` is always on); `false` for an unknown name.
    pub fn enable(&mut self, name: &str) -> bool {
        match name {
            "open" => {}
            "approved" => self.approved = true,
            "mergeable" => self.mergeable = true,
            "undiverged" => self.undiverged = true,
            _ => return false,
        }
        true
    }
}

impl Default for ApplyRequirements {
    fn default() -> Self {
        Self::ALL
    }
}

/// Who may approve, request and unlock, and what an apply requires. Read only from a trusted
/// source (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// The weakest repository permission that may approve or command (default: write).
    pub min_permission: Permission,
    /// When not empty, only these logins may approve or command (on top of the permission).
    pub allowed_users: Vec<String>,
    /// Whether the pull request's author and its commits' authors and committers may approve
    /// (default: no, the two-person rule).
    pub allow_self_approval: bool,
    /// Bot logins: their commands are ignored and their reviews never approve (a workflow token
    /// may be allowed to approve pull requests; a bot is not a second person).
    pub bot_logins: Vec<String>,
    /// What an apply requires besides `open`.
    pub requirements: ApplyRequirements,
    /// Logins who may roll back alone, without a second approver (default: nobody).
    pub emergency_rollback: Vec<String>,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            min_permission: Permission::Write,
            allowed_users: Vec::new(),
            allow_self_approval: false,
            bot_logins: vec![DEFAULT_BOT.to_owned()],
            requirements: ApplyRequirements::default(),
            emergency_rollback: Vec::new(),
        }
    }
}

impl ApprovalPolicy {
    /// Whether `login` is one of the bot logins.
    pub fn is_bot(&self, login: &str) -> bool {
        self.bot_logins
            .iter()
            .any(|b| b.eq_ignore_ascii_case(login))
    }

    /// Why `user` (whose permission is `permission`, re-read just now) may not command or
    /// approve, or `None`.
    pub fn standing_problem(&self, user: &str, permission: Permission) -> Option<String> {
        if self.is_bot(user) {
            return Some(format!("@{user} is a bot login"));
        }
        if permission < self.min_permission {
            return Some(format!(
                "@{user} has {} permission; {} or above is needed",
                level(permission),
                level(self.min_permission)
            ));
        }
        if !self.allowed_users.is_empty()
            && !self
                .allowed_users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(user))
        {
            return Some(format!(
                "@{user} is not on the approvers list ({})",
                self.allowed_users.join(", ")
            ));
        }
        None
    }
}

/// A permission level as GitHub spells it.
pub(crate) fn level(permission: Permission) -> &'static str {
    match permission {
        Permission::None => "no",
        Permission::Read => "read",
        Permission::Triage => "triage",
        Permission::Write => "write",
        Permission::Maintain => "maintain",
        Permission::Admin => "admin",
    }
}

/// Reads the `[scale]` policy of `orchestrator.toml` at `base_ref` through the forge (the
/// defaults when the base has no such file): the trusted source when no trusted checkout is at
/// hand.
pub async fn policy_at_base(
    forge: &dyn Forge,
    repo: &RepoId,
    base_ref: &str,
) -> Result<ApprovalPolicy> {
    match forge.file_contents(repo, POLICY_FILE, base_ref).await? {
        None => Ok(ApprovalPolicy::default()),
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::invalid_input(format!("{repo}@{base_ref}:{POLICY_FILE} is not UTF-8"))
            })?;
            Ok(ScaleConfig::from_toml(&text, &format!("{repo}@{base_ref}:{POLICY_FILE}"))?.policy)
        }
    }
}
