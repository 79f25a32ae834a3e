//! `GitHubForge` against the real github.com: read-only checks of a scratch repository.
//!
//! Run with a token and a repository you own (any repository the token can read works; nothing
//! is written):
//!
//! ```text
//! GITHUB_TOKEN=... ORCHESTRATOR_LIVE_REPO=owner/scratch \
//!   cargo test -p orchestrator-github --test live_github -- --ignored
//! ```

use orchestrator_core::Error;
use orchestrator_core::forge::{ForgeBackend, ReleaseForge, RepoId};
use orchestrator_core::secret::SecretString;
use orchestrator_github::GitHubForge;

fn scratch_repo() -> RepoId {
    std::env::var("ORCHESTRATOR_LIVE_REPO")
        .expect("set ORCHESTRATOR_LIVE_REPO=owner/name (a scratch repository)")
        .parse()
        .expect("ORCHESTRATOR_LIVE_REPO is owner/name")
}

#[tokio::test]
#[ignore = "needs GITHUB_TOKEN and a scratch repo"]
async fn github_com_releases_conditional_requests_and_bad_credentials() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    assert!(
        SecretString::forge_token_from_env().is_some(),
        "set GITHUB_TOKEN (or GH_TOKEN)"
    );
    let repo = scratch_repo();
    let forge = GitHubForge::from_env(None).expect("builds");

    // Every page of releases, then one of them polled twice: the second answer is a free 304.
    let releases = forge.list_releases(&repo).await.expect("list releases");
    let missing = forge
        .release_by_tag(&repo, "orchestrator-live-test-no-such-tag")
        .await
        .expect("a missing release is not an error");
    assert_eq!(missing, None);
    if let Some(published) = releases.iter().find(|r| !r.draft) {
        let first = forge
            .release_by_tag(&repo, &published.tag)
            .await
            .expect("poll 1");
        let before = forge.request_stats();
        let second = forge
            .release_by_tag(&repo, &published.tag)
            .await
            .expect("poll 2");
        assert_eq!(first, second);
        let after = forge.request_stats();
        assert_eq!(after.not_modified, before.not_modified + 1, "{after:?}");
    }
    let (remaining, reset) = forge.rate_limit().expect("GitHub reports its rate limit");
    eprintln!(
        "{} release(s); rate limit remaining {remaining}, reset at {reset}; {:?}",
        releases.len(),
        forge.request_stats()
    );

    // A rejected token is Unauthenticated, names the variables, and is not retried.
    let bad = GitHubForge::builder()
        .token(Some(SecretString::new(
            "ghp_not_a_valid_token_0000000000000000",
        )))
        .build()
        .expect("builds");
    let err = bad.list_releases(&repo).await.expect_err("bad credentials");
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");
    assert_eq!(bad.request_stats().retries, 0);
    assert_eq!(err.exit_code(), 2);
}
