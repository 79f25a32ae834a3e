//! The forge, built one way from `[forge]`, and the check that it answers before any effect.
//!
//! Core has no HTTP client: a real forge comes from a [`ForgeConnector`] the binary supplies
//! (the CLI's builds `GitHubForge`). What to connect to is decided here, for every command alike:
//! `[forge.simulate]` means the in-process forge with simulated CI, else `[forge] api_url` (which
//! `--forge-url` and `ORCHESTRATOR_FORGE_URL` override when the config is loaded).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::forge::{CiSimulation, Forge, InMemoryForge, RepoId};
use crate::secret::SecretString;
use crate::vcs::Vcs;

/// The API root when `[forge] api_url` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// Reaches a real forge at an API URL with a token (the CLI's builds `GitHubForge`).
pub trait ForgeConnector: Send + Sync {
    /// A forge at `api_url`, authenticated with `token` when there is one.
    fn connect(&self, api_url: &str, token: Option<SecretString>) -> Result<Arc<dyn Forge>>;
}

/// The forge `config` asks for; see the module docs.
pub(super) async fn build(
    config: &Config,
    vcs: Option<&dyn Vcs>,
    connector: Option<&dyn ForgeConnector>,
) -> Result<Arc<dyn Forge>> {
    if let Some(simulate) = &config.forge.simulate {
        // The simulated CI watches each clone's origin when it is a local bare repository.
        let origins = match vcs {
            Some(vcs) => local_origins(config, vcs).await,
            None => HashMap::new(),
        };
        let ci =
            CiSimulation::for_config(config, simulate.ci_delay, simulate.asset_interval, |repo| {
                origins.get(&repo.name).cloned()
            });
        return Ok(Arc::new(InMemoryForge::with_ci(ci)));
    }
    let connector = connector.ok_or_else(|| Error::NotSupported {
        backend: "workspace".into(),
        what: format!(
            "reaching the forge at {} without a forge connector (give one, or a forge, to the \
             workspace builder)",
            forge_label(config)
        ),
    })?;
    let token = SecretString::forge_token_from_env();
    if token.is_none() {
        tracing::warn!(
            "neither GITHUB_TOKEN nor GH_TOKEN is set: polling anonymously (60 requests an hour)"
        );
    }
    connector.connect(
        config.forge.api_url.as_deref().unwrap_or(DEFAULT_API_URL),
        token,
    )
}

/// The forge as messages name it: its API URL without any `user:password@`, or the simulation.
pub fn forge_label(config: &Config) -> String {
    if config.forge.simulate.is_some() {
        return "the simulated forge ([forge.simulate])".to_owned();
    }
    let url = config.forge.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
    crate::forge::redact_userinfo(url).into_owned()
}

/// The longest the check may take, whatever the run's own timeout: a forge that has not
/// answered one read by then will not carry a release.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// One cheap read of `repo` before anything changes: unless the forge answered, the run stops
/// here, with nothing changed.
///
/// Rejected credentials keep their own error ([`Error::Unauthenticated`], exit 2). Any other
/// failure (refused connection, 5xx after the retries, a malformed answer, an absurd rate limit,
/// no answer within the bound) is [`Error::Transient`] naming the forge, the repo and the cause.
/// A rate limit that asks for a short wait is waited out within the bound: the smaller of 30 s
/// and `[release] timeout`, covering a request in flight (a dripping server cannot hold it).
pub async fn check_forge(
    forge: &dyn Forge,
    config: &Config,
    repo: &RepoId,
    tag: &str,
) -> Result<()> {
    let bound = CHECK_TIMEOUT.min(config.release.timeout);
    let deadline = tokio::time::Instant::now() + bound;
    let label = forge_label(config);
    let failed = |cause: Error| Error::Transient {
        message: format!(
            "the forge at {label} did not answer the check made before any change ({repo}); \
             nothing was changed: {cause}"
        ),
    };
    loop {
        let answer = tokio::time::timeout_at(deadline, forge.release_by_tag(repo, tag)).await;
        match answer {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e @ Error::Unauthenticated { .. })) => return Err(e),
            Ok(Err(Error::RateLimited {
                retry_after: Some(after),
                message,
            })) if tokio::time::Instant::now() + after < deadline => {
                tracing::warn!("{label}: {message}; retrying in {}s", after.as_secs());
                tokio::time::sleep(after).await;
            }
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => {
                return Err(failed(Error::Timeout {
                    what: format!("an answer from {label}"),
                    missing: Vec::new(),
                    waited: bound,
                }));
            }
        }
    }
}

/// Each repo's `origin` when it is a local directory (a bare repo on disk), by repo name.
pub async fn local_origins(config: &Config, vcs: &dyn Vcs) -> HashMap<String, PathBuf> {
    let mut origins = HashMap::new();
    for repo in &config.repos {
        if let Ok(Some(url)) = vcs.remote_url(&repo.path, "origin").await
            && let Some(origin) = local_origin(&repo.path, &url)
        {
            origins.insert(repo.name.clone(), origin);
        }
    }
    origins
}

/// The path of a local origin URL, resolved against the clone.
fn local_origin(clone: &Path, url: &str) -> Option<PathBuf> {
    if url.contains("://") && !url.starts_with("file://") {
        return None;
    }
    let path = Path::new(url.strip_prefix("file://").unwrap_or(url));
    let path = if path.is_absolute() {
        path.to_owned()
    } else {
        clone.join(path)
    };
    path.is_dir().then_some(path)
}
