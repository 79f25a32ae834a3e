//! `GitHubForge` authenticated as a GitHub App, against the mock: the JWT buys an installation
//! token, every request then carries it, it is replaced when it nears its expiry or GitHub
//! refuses it, and a bad key fails before anything changes.

mod common;

use std::time::Duration;

use common::app_keys::{AppKeys, app_keys};
use common::http::request;
use orchestrator_core::Error;
use orchestrator_core::forge::{NewRelease, ReleaseForge, ReleaseWriteForge, RepoId};
use orchestrator_core::secret::SecretString;
use orchestrator_github::mock::{MockApp, MockGitHub, MockOptions};
use orchestrator_github::{GitHubApp, GitHubForge};

const APP_ID: u64 = 4242;

async fn start(keys: &AppKeys, lifetime: Duration) -> MockGitHub {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = MockApp::new(APP_ID, &keys.public_pem)
        .expect("a public key")
        .token_lifetime(lifetime);
    let mock = MockGitHub::start(MockOptions::default().app(app))
        .await
        .expect("mock starts");
    mock.create_repo("acme", "app");
    mock
}

fn forge(mock: &MockGitHub, keys: &AppKeys) -> GitHubForge {
    let app = GitHubApp::new(APP_ID, &SecretString::new(keys.private_pem.clone()), None)
        .expect("the key parses");
    GitHubForge::builder()
        .api_url(mock.url())
        .retry_base_delay(Duration::from_millis(5))
        .app(app)
        .build()
        .expect("forge builds")
}

fn release(tag: &str) -> NewRelease {
    NewRelease {
        tag: tag.into(),
        target: None,
        name: Some(tag.into()),
        body: Some("notes".into()),
        draft: false,
        prerelease: false,
    }
}

/// (method + path, status, the credential's kind) of every request the mock saw.
fn log(mock: &MockGitHub) -> Vec<(String, u16, &'static str)> {
    mock.requests()
        .iter()
        .map(|r| {
            let kind = match r.authorization.as_deref() {
                Some(a) if a.starts_with("Bearer ghs_") => "installation",
                Some(a) if a.starts_with("Bearer ey") => "jwt",
                Some(_) => "other",
                None => "none",
            };
            (format!("{} {}", r.method, r.path), r.status, kind)
        })
        .collect()
}

#[tokio::test]
async fn the_adapter_gets_an_installation_token_and_releases_with_it() {
    let Some(keys) = app_keys() else { return };
    let mock = start(&keys, Duration::from_secs(3600)).await;
    let forge = forge(&mock, &keys);
    let repo = RepoId::new("acme", "app");
    let made = forge
        .create_release(&repo, &release("v1.0.0"))
        .await
        .expect("released as the app");
    forge
        .upload_asset(&repo, made.id, "app.tar.gz", b"bytes")
        .await
        .expect("uploaded as the app");
    let seen = forge
        .release_by_tag(&repo, "v1.0.0")
        .await
        .expect("read")
        .expect("the release");
    assert_eq!(seen.assets.len(), 1);
    let log = log(&mock);
    assert_eq!(
        log[..2],
        [
            ("GET /repos/acme/app/installation".to_owned(), 200, "jwt"),
            (
                format!(
                    "POST /app/installations/{}/access_tokens",
                    log[1].0.split('/').nth(3).unwrap_or_default()
                ),
                201,
                "jwt"
            ),
        ],
        "{log:?}"
    );
    assert!(
        log[2..]
            .iter()
            .all(|(_, status, kind)| *kind == "installation" && *status < 300),
        "every API request carries the installation token: {log:?}"
    );
    let mints = log
        .iter()
        .filter(|(r, ..)| r.contains("access_tokens"))
        .count();
    assert_eq!(mints, 1, "one token serves them all: {log:?}");
    // Neither the key nor a token shows in the forge's Debug.
    let debug = format!("{forge:?}");
    assert!(
        !debug.contains("ghs_") && !debug.contains("PRIVATE"),
        "{debug}"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn an_expired_installation_token_is_replaced_and_the_request_goes_through() {
    let Some(keys) = app_keys() else { return };
    let mock = start(&keys, Duration::from_secs(3600)).await;
    let forge = forge(&mock, &keys);
    let repo = RepoId::new("acme", "app");
    forge
        .create_release(&repo, &release("v1.0.0"))
        .await
        .expect("first release");
    mock.expire_app_tokens();
    forge
        .create_release(&repo, &release("v1.0.1"))
        .await
        .expect("a new token, the same request");
    let log = log(&mock);
    let mints = log
        .iter()
        .filter(|(r, ..)| r.contains("access_tokens"))
        .count();
    assert_eq!(mints, 2, "{log:?}");
    let refused = log.iter().filter(|(_, status, _)| *status == 401).count();
    assert_eq!(refused, 1, "the expired token was refused once: {log:?}");
    let created = log
        .iter()
        .filter(|(r, status, _)| r == "POST /repos/acme/app/releases" && *status == 201)
        .count();
    assert_eq!(created, 2, "{log:?}");
    mock.shutdown().await;
}

#[tokio::test]
async fn a_token_within_the_refresh_margin_is_replaced_before_it_is_used() {
    let Some(keys) = app_keys() else { return };
    // Shorter than the margin: every request needs a new one, and none is refused.
    let lifetime = Duration::from_secs(
        u64::try_from(orchestrator_github::REFRESH_MARGIN_SECS).expect("positive") - 60,
    );
    let mock = start(&keys, lifetime).await;
    let forge = forge(&mock, &keys);
    let repo = RepoId::new("acme", "app");
    for tag in ["v1", "v2"] {
        forge
            .create_release(&repo, &release(tag))
            .await
            .expect("release");
    }
    let log = log(&mock);
    let mints = log
        .iter()
        .filter(|(r, ..)| r.contains("access_tokens"))
        .count();
    assert_eq!(mints, 2, "{log:?}");
    assert!(log.iter().all(|(_, status, _)| *status != 401), "{log:?}");
    mock.shutdown().await;
}

#[tokio::test]
async fn a_key_that_is_not_the_apps_fails_with_one_clear_error_before_any_effect() {
    let Some(keys) = app_keys() else { return };
    let Some(other) = app_keys() else { return };
    // Not a key at all: refused when the forge is configured, before any request.
    let err = GitHubApp::new(APP_ID, &SecretString::new("-----BEGIN NOTHING"), None)
        .expect_err("not a key");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    // A key of another app: GitHub's 401 for the JWT, at the first request, and nothing made.
    let mock = start(&keys, Duration::from_secs(3600)).await;
    let forge = forge(&mock, &other);
    let repo = RepoId::new("acme", "app");
    let err = forge
        .create_release(&repo, &release("v1.0.0"))
        .await
        .expect_err("the JWT does not verify");
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("A JSON web token could not be decoded") && text.contains("4242"),
        "{text}"
    );
    assert!(
        !text.contains("PRIVATE") && !text.contains("eyJ"),
        "no secret: {text}"
    );
    let log = log(&mock);
    assert_eq!(log.len(), 1, "one refused lookup, no release: {log:?}");
    mock.shutdown().await;
}

#[tokio::test]
async fn the_mock_refuses_expired_and_foreign_jwts_with_githubs_401() {
    let Some(keys) = app_keys() else { return };
    let mock = start(&keys, Duration::from_secs(3600)).await;
    let app =
        GitHubApp::new(APP_ID, &SecretString::new(keys.private_pem.clone()), None).expect("key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let bearer = |jwt: SecretString| format!("Bearer {}", jwt.expose());
    let fresh = bearer(app.jwt(now).expect("jwt"));
    let ok = request(
        mock.url(),
        "GET",
        "/app",
        None,
        &[("authorization", &fresh)],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let stale = bearer(app.jwt(now - 3600).expect("jwt"));
    let expired = request(
        mock.url(),
        "GET",
        "/app",
        None,
        &[("authorization", &stale)],
    )
    .await;
    assert_eq!(expired.status, 401);
    assert!(
        String::from_utf8_lossy(&expired.body).contains("'Expiration time' claim ('exp')"),
        "{}",
        String::from_utf8_lossy(&expired.body)
    );
    let foreign = GitHubApp::new(
        APP_ID + 1,
        &SecretString::new(keys.private_pem.clone()),
        None,
    )
    .expect("key");
    let wrong = bearer(foreign.jwt(now).expect("jwt"));
    let refused = request(
        mock.url(),
        "GET",
        "/app",
        None,
        &[("authorization", &wrong)],
    )
    .await;
    assert_eq!(refused.status, 401, "another app's id");
    let none = request(mock.url(), "GET", "/app", None, &[]).await;
    assert_eq!(none.status, 401, "no JWT");
    mock.shutdown().await;
}
