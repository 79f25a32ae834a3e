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

    /// A forge at `api_url` authenticated as the GitHub App `app` (its installation tokens).
    /// Connectors without App support say so.
    fn connect_app(&self, api_url: &str, app: &AppCredential) -> Result<Arc<dyn Forge>> {
        let _ = (api_url, app);
        Err(Error::NotSupported {
            backend: "forge connector".into(),
            what: "authenticating as a GitHub App".into(),
        })
    }
}

/// A GitHub App's credentials, from `ORCHESTRATOR_APP_ID`, `ORCHESTRATOR_APP_PRIVATE_KEY` (the
/// PEM itself) or `ORCHESTRATOR_APP_PRIVATE_KEY_FILE`, and `ORCHESTRATOR_APP_INSTALLATION_ID`
/// (optional: else the installation is looked up by repository). When the app id is set these
/// win over `GITHUB_TOKEN`. `Debug` never shows the key.
#[derive(Clone)]
pub struct AppCredential {
    /// The app's id.
    pub app_id: u64,
    /// The app's private key, PEM.
    pub private_key: SecretString,
    /// The installation to act as, when given.
    pub installation_id: Option<u64>,
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredential")
            .field("app_id", &self.app_id)
            .field("private_key", &self.private_key)
            .field("installation_id", &self.installation_id)
            .finish()
    }
}

impl AppCredential {
    /// The app of the environment; `None` when `ORCHESTRATOR_APP_ID` is unset or empty. Bad
    /// values are [`Error::InvalidInput`] naming the variable (never the key).
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`AppCredential::from_env`] over any lookup of variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str| {
            set(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        Error::invalid_input(format!("{name}: {:?} is not a number", v.trim()))
                    })
                })
                .transpose()
        };
        let Some(app_id) = number("ORCHESTRATOR_APP_ID")? else {
            return Ok(None);
        };
        let private_key = match (
            set("ORCHESTRATOR_APP_PRIVATE_KEY"),
            set("ORCHESTRATOR_APP_PRIVATE_KEY_FILE"),
        ) {
            (Some(pem), _) => pem,
            (None, Some(file)) => std::fs::read_to_string(&file).map_err(|e| {
                Error::invalid_input(format!("ORCHESTRATOR_APP_PRIVATE_KEY_FILE {file}: {e}"))
            })?,
            (None, None) => {
                return Err(Error::invalid_input(
                    "ORCHESTRATOR_APP_ID is set but neither ORCHESTRATOR_APP_PRIVATE_KEY nor \
                     ORCHESTRATOR_APP_PRIVATE_KEY_FILE is",
                ));
            }
        };
        Ok(Some(Self {
            app_id,
            private_key: SecretString::new(private_key),
            installation_id: number("ORCHESTRATOR_APP_INSTALLATION_ID")?,
        }))
    }
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
    let api_url = config.forge.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
    if let Some(app) = AppCredential::from_env()? {
        return connector.connect_app(api_url, &app);
    }
    let token = SecretString::forge_token_from_env();
    if token.is_none() {
        tracing::warn!(
            "neither GITHUB_TOKEN nor GH_TOKEN is set: polling anonymously (60 requests an hour)"
        );
    }
    connector.connect(api_url, token)
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

#[cfg(test)]
mod app_tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn app_credentials_come_from_the_environment_and_bad_values_name_their_variable() {
        assert!(AppCredential::from_vars(vars(&[])).expect("none").is_none());
        let app = AppCredential::from_vars(vars(&[
            ("ORCHESTRATOR_APP_ID", "42"),
            (
                "ORCHESTRATOR_APP_PRIVATE_KEY",
                "-----BEGIN RSA PRIVATE KEY-----",
            ),
            ("ORCHESTRATOR_APP_INSTALLATION_ID", "7"),
        ]))
        .expect("valid")
        .expect("an app");
        assert_eq!((app.app_id, app.installation_id), (42, Some(7)));
        assert!(!format!("{app:?}").contains("BEGIN"), "{app:?}");
        let err =
            AppCredential::from_vars(vars(&[("ORCHESTRATOR_APP_ID", "x1")])).expect_err("nan");
        assert!(err.to_string().contains("ORCHESTRATOR_APP_ID"), "{err}");
        let err =
            AppCredential::from_vars(vars(&[("ORCHESTRATOR_APP_ID", "1")])).expect_err("no key");
        assert!(
            err.to_string()
                .contains("ORCHESTRATOR_APP_PRIVATE_KEY_FILE"),
            "{err}"
        );
        let err = AppCredential::from_vars(vars(&[
            ("ORCHESTRATOR_APP_ID", "1"),
            ("ORCHESTRATOR_APP_PRIVATE_KEY_FILE", "/nonexistent/app.pem"),
        ]))
        .expect_err("unreadable");
        assert!(err.to_string().contains("/nonexistent/app.pem"), "{err}");
    }
}
