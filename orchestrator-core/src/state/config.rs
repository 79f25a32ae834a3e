//! `[state]`: where the run history and journals live.
//!
//! Absent, the state is SQLite in the state directory (one machine). `url = "postgres://…"` puts it
//! in a PostgreSQL database shared by many runners; `ORCHESTRATOR_STATE_URL` overrides the file
//! (so a CI secret never has to be written into a committed config).

use serde::Deserialize;
use toml::Spanned;

use super::StateUrl;
use crate::config::errors::ErrFn;
use crate::error::Result;

/// The environment variable that names the state database, over `[state] url`.
pub const STATE_URL_VAR: &str = "ORCHESTRATOR_STATE_URL";

/// The `[state]` section.
#[derive(Debug, Clone, Default)]
pub struct StateConfig {
    /// The PostgreSQL database, when the state is shared; `None` for SQLite.
    pub url: Option<StateUrl>,
}

impl StateConfig {
    /// The database to use: `ORCHESTRATOR_STATE_URL` when set and not empty, else `[state] url`.
    pub fn effective_url(&self) -> Result<Option<StateUrl>> {
        match std::env::var(STATE_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => {
                StateUrl::parse(url.trim(), STATE_URL_VAR).map(Some)
            }
            _ => Ok(self.url.clone()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    url: Option<Spanned<String>>,
}

/// Validates `[state]`; its absence means SQLite in the state directory.
pub(crate) fn parse_state(raw: Option<RawState>, err: &ErrFn<'_>) -> Result<StateConfig> {
    let raw = raw.unwrap_or_default();
    let url = match raw.url {
        None => None,
        Some(url) => Some(StateUrl::parse(url.get_ref(), "state.url").map_err(|e| {
            // The message names the key, never the value (it may hold a password).
            err(Some(url.span()), Some("state.url".into()), e.to_string())
        })?),
    };
    Ok(StateConfig { url })
}
