//! The mock server's options, from the flags and the config.

use std::time::Duration;

use orchestrator_core::Error;
use orchestrator_core::config::Config;
use orchestrator_core::forge::CiSimulation;
use orchestrator_core::secret::SecretString;
use orchestrator_git::GixVcs;
use orchestrator_github::mock::{MockApp, MockOptions, MockWebhook};

use super::MockForgeArgs;

/// The server options the flags and the config describe.
pub(super) async fn options(
    args: &MockForgeArgs,
    config: Option<Config>,
) -> anyhow::Result<MockOptions> {
    let ci_delay = Duration::from_millis(args.ci_delay_ms);
    let asset_interval = Duration::from_millis(args.asset_interval_ms);
    let mut options = MockOptions::default()
        .listen(args.listen)
        .ci_delay(ci_delay)
        .asset_interval(asset_interval)
        .fault_rate(args.fault_rate)
        .slow(args.slow_rate, Duration::from_millis(args.slow_ms))
        .seed(args.seed);
    if let Some(limit) = args.rate_limit {
        options = options.rate_limit(limit, Duration::from_millis(args.rate_limit_window_ms));
    }
    if args.require_token {
        let token = SecretString::forge_token_from_env().ok_or_else(|| {
            Error::invalid_input("--require-token needs GITHUB_TOKEN or GH_TOKEN to be set")
        })?;
        options = options.token(token.expose());
    }
    for failure in &args.fail {
        options = options.fail(failure.clone());
    }
    if let Some(url) = &args.webhook_url {
        let mut hook = MockWebhook::new(url);
        if let Some(secret) = &args.webhook_secret {
            let value = std::env::var(secret).unwrap_or_else(|_| secret.clone());
            if value.is_empty() {
                return Err(Error::invalid_input(format!(
                    "--webhook-secret: the environment variable {secret} is empty"
                ))
                .into());
            }
            hook = hook.secret(&value);
        }
        options = options.webhook(hook);
    }
    if let Some(file) = &args.users {
        let users = orchestrator_github::mock::load_users(file)?;
        options = options.users(users);
    }
    if let (Some(id), Some(file)) = (args.app_id, &args.app_public_key) {
        let pem = std::fs::read_to_string(file).map_err(|e| {
            Error::invalid_input(format!("--app-public-key {}: {e}", file.display()))
        })?;
        let app = MockApp::new(id, &pem).map_err(|e| {
            Error::invalid_input(format!("--app-public-key {}: {e}", file.display()))
        })?;
        options = options.app(app);
    }
    if let Some(dir) = &args.origins {
        if !dir.is_dir() {
            return Err(Error::invalid_input(format!(
                "--origins {}: not a directory",
                dir.display()
            ))
            .into());
        }
        options = options.origins(std::path::absolute(dir)?);
    } else if let Some(config) = &config {
        let origins = orchestrator_core::workspace::local_origins(config, &GixVcs::new()).await;
        options = options.ci(CiSimulation::for_config(
            config,
            ci_delay,
            asset_interval,
            |repo| origins.get(&repo.name).cloned(),
        ));
    }
    if let Some(config) = config {
        options = options.config(config);
    }
    Ok(options)
}
