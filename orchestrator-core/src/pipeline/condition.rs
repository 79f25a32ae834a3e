//! Conditions on variables: `FEAT_VERIFY`, `!FEAT_CILIUM`, `ENABLE_INFRA_SCALE=1`, `TARGET!=prod`.
//!
//! Pipelines use them to add or drop steps (`when`) and task lists to gate tasks (`enabled`).

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};

/// A condition on one variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// The variable.
    pub var: String,
    /// What it must be.
    pub test: ConditionTest,
}

/// The test a [`Condition`] applies to its variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionTest {
    /// `NAME`: set to `true`, `1`, `yes` or `on` (any case).
    Truthy,
    /// `!NAME`: anything else, unset included.
    NotTruthy,
    /// `NAME=value`: exactly this value.
    Equals(String),
    /// `NAME!=value`: anything but this value, unset included.
    NotEquals(String),
}

/// Whether a value counts as on: `true`, `1`, `yes` or `on`, in any case.
pub fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

/// Whether `name` is a valid variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Condition {
    /// Parses `NAME`, `!NAME`, `NAME=value` or `NAME!=value`.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        let (var, test) = if let Some((var, value)) = t.split_once("!=") {
            (var, ConditionTest::NotEquals(value.trim().to_owned()))
        } else if let Some((var, value)) = t.split_once('=') {
            (var, ConditionTest::Equals(value.trim().to_owned()))
        } else if let Some(var) = t.strip_prefix('!') {
            (var, ConditionTest::NotTruthy)
        } else {
            (t, ConditionTest::Truthy)
        };
        let var = var.trim();
        if !is_var_name(var) {
            return Err(Error::invalid_input(format!(
                "invalid condition {text:?}: expected NAME, !NAME, NAME=value or NAME!=value"
            )));
        }
        Ok(Self {
            var: var.to_owned(),
            test,
        })
    }

    /// Whether the condition holds for the variable's value (`None` when unset).
    pub fn holds(&self, value: Option<&str>) -> bool {
        match &self.test {
            ConditionTest::Truthy => value.is_some_and(is_truthy),
            ConditionTest::NotTruthy => !value.is_some_and(is_truthy),
            ConditionTest::Equals(v) => value == Some(v.as_str()),
            ConditionTest::NotEquals(v) => value != Some(v.as_str()),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.test {
            ConditionTest::Truthy => write!(f, "{}", self.var),
            ConditionTest::NotTruthy => write!(f, "!{}", self.var),
            ConditionTest::Equals(v) => write!(f, "{}={v}", self.var),
            ConditionTest::NotEquals(v) => write!(f, "{}!={v}", self.var),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates_every_form() {
        let c = Condition::parse("FEAT_VERIFY").expect("valid");
        assert!(c.holds(Some("true")) && c.holds(Some("TRUE")) && c.holds(Some("1")));
        assert!(!c.holds(Some("false")) && !c.holds(None) && !c.holds(Some("")));
        let c = Condition::parse("!FEAT_CILIUM").expect("valid");
        assert!(c.holds(None) && c.holds(Some("false")) && !c.holds(Some("yes")));
        let c = Condition::parse("ENABLE_INFRA_SCALE=1").expect("valid");
        assert!(c.holds(Some("1")) && !c.holds(Some("true")) && !c.holds(None));
        let c = Condition::parse("TARGET != prod").expect("valid");
        assert!(c.holds(None) && c.holds(Some("staging")) && !c.holds(Some("prod")));
        assert_eq!(c.to_string(), "TARGET!=prod");
        for bad in ["", "1ABC", "A B", "!", "=x"] {
            assert!(Condition::parse(bad).is_err(), "{bad:?}");
        }
    }
}
