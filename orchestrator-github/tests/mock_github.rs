//! `GitHubForge` over the mock GitHub server: the core conformance suite, conditional requests,
//! retries, rate limits, authentication and pagination, over real HTTP on loopback.

use std::time::{Duration, Instant};

use orchestrator_core::Error;
use orchestrator_core::forge::{ForgeBackend, NewRelease, ReleaseForge, ReleaseWriteForge, RepoId};
use orchestrator_core::secret::SecretString;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockFault, MockGitHub, MockOptions};

const TOKEN: &str = "ghp_mock_token_never_printed";

struct Fixture {
    server: MockGitHub,
    forge: GitHubForge,
    repo: RepoId,
}

async fn fixture() -> Fixture {
    fixture_with(|b| b).await
}

async fn fixture_with(
    configure: impl FnOnce(
        orchestrator_github::GitHubForgeBuilder,
    ) -> orchestrator_github::GitHubForgeBuilder,
) -> Fixture {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockGitHub::start(MockOptions::default())
        .await
        .expect("mock server starts");
    server.create_repo("acme", "app");
    // The conformance suite dispatches it; GitHub answers 404 for a workflow a repo lacks.
    server.add_workflow("acme", "app", "release.yml");
    server.require_token(TOKEN);
    let builder = GitHubForge::builder()
        .api_url(server.url())
        .token(Some(SecretString::new(TOKEN)))
        .retry_base_delay(Duration::from_millis(5));
    let forge = configure(builder).build().expect("forge builds");
    Fixture {
        server,
        forge,
        repo: RepoId::new("acme", "app"),
    }
}

fn release(tag: &str) -> NewRelease {
    NewRelease {
        tag: tag.to_owned(),
        ..NewRelease::default()
    }
}

#[tokio::test]
async fn passes_the_forge_conformance_suite() {
    let f = fixture().await;
    orchestrator_core::conformance::forge::run_all(&f.forge, &f.repo).await;
    let stats = f.forge.request_stats();
    assert_eq!(stats.requests, f.server.stats().requests, "{stats:?}");
    assert_eq!(stats.retries, 0);
}

#[tokio::test]
async fn a_repeated_poll_is_answered_304_and_spends_no_rate_limit() {
    let f = fixture().await;
    f.forge
        .create_release(&f.repo, &release("v1.0.0"))
        .await
        .expect("create");
    let first = f
        .forge
        .release_by_tag(&f.repo, "v1.0.0")
        .await
        .expect("poll 1");
    let remaining_after_first = f.forge.rate_limit().expect("rate limit seen").0;
    let second = f
        .forge
        .release_by_tag(&f.repo, "v1.0.0")
        .await
        .expect("poll 2");
    assert_eq!(first, second, "the 304 is answered from the cache");
    assert!(second.is_some());

    let stats = f.forge.request_stats();
    assert_eq!(stats.not_modified, 1, "{stats:?}");
    assert_eq!(stats.requests, 3, "{stats:?}");
    assert_eq!(stats.rate_limited, 2, "everything but the 304: {stats:?}");
    assert_eq!(f.forge.rate_limit().expect("seen").0, remaining_after_first);

    let requests = f.server.requests();
    let polls: Vec<_> = requests.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(polls[0].if_none_match, None);
    assert!(polls[1].if_none_match.is_some(), "{polls:?}");
    assert_eq!(polls[1].status, 304);

    // A change (an asset) changes the ETag: the next poll gets the new body.
    f.forge
        .upload_asset(&f.repo, second.expect("release").id, "a.bin", b"abc")
        .await
        .expect("upload");
    let third = f
        .forge
        .release_by_tag(&f.repo, "v1.0.0")
        .await
        .expect("poll 3");
    assert_eq!(third.expect("release").assets.len(), 1);
    assert_eq!(f.forge.request_stats().not_modified, 1);
}

#[tokio::test]
async fn a_missing_release_is_watched_through_the_newest_release_for_free() {
    let f = fixture().await;
    for poll in 0..3 {
        assert_eq!(
            f.forge.release_by_tag(&f.repo, "v9").await.expect("poll"),
            None,
            "poll {poll}"
        );
    }
    let requests = f.server.requests();
    let tag_polls: Vec<_> = requests
        .iter()
        .filter(|r| r.path.contains("/releases/tags/"))
        .collect();
    // The missing tag is asked for once (a 404 is never cached); the later polls only ask
    // whether the newest release changed, and are answered 304 at no rate-limit cost.
    assert_eq!(tag_polls.len(), 1, "{requests:?}");
    assert!(tag_polls.iter().all(|r| r.if_none_match.is_none()));
    let stats = f.forge.request_stats();
    assert_eq!(
        (stats.rate_limited, stats.not_modified),
        (2, 2),
        "{stats:?}"
    );
}

/// The release is published between the tag lookup (404) and the first look at the newest
/// release: that page already shows it, and would never change again. Found by the slow soak:
/// the release was waited for until the timeout.
#[tokio::test]
async fn a_release_published_between_the_miss_and_the_first_look_is_found() {
    let f = fixture().await;
    f.forge
        .create_release(&f.repo, &release("v2"))
        .await
        .expect("created");
    // The tag lookup answers as if it came a moment before the release.
    f.server.inject(MockFault::ServerError(404), 1);
    let first = f.forge.release_by_tag(&f.repo, "v2").await.expect("poll");
    assert_eq!(first.map(|r| r.tag).as_deref(), Some("v2"));
    let again = f.forge.release_by_tag(&f.repo, "v2").await.expect("poll");
    assert_eq!(again.map(|r| r.tag).as_deref(), Some("v2"));
}

#[tokio::test]
async fn bursts_of_502_are_retried_and_counted() {
    let f = fixture().await;
    f.server.inject(MockFault::ServerError(502), 2);
    let found = f
        .forge
        .release_by_tag(&f.repo, "v1")
        .await
        .expect("retried");
    assert_eq!(found, None);
    let stats = f.forge.request_stats();
    assert_eq!(stats.retries, 2, "{stats:?}");
    // Three tries of the tag, then one look at the newest release to watch it for free.
    assert_eq!(stats.requests, 4, "{stats:?}");
}

#[tokio::test]
async fn persistent_5xx_is_transient_after_the_retries() {
    let f = fixture().await;
    f.server.inject(MockFault::ServerError(503), 10);
    let err = f
        .forge
        .release_by_tag(&f.repo, "v1")
        .await
        .expect_err("gives up");
    assert!(matches!(err, Error::Transient { .. }), "{err:?}");
    assert!(err.is_retriable());
    let stats = f.forge.request_stats();
    assert_eq!((stats.requests, stats.retries), (4, 3), "{stats:?}");
}

#[tokio::test]
async fn connection_errors_are_transient() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Bind and drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let forge = GitHubForge::builder()
        .api_url(&format!("http://127.0.0.1:{port}"))
        .retry_base_delay(Duration::from_millis(1))
        .max_retries(1)
        .build()
        .expect("builds");
    let err = forge
        .release_by_tag(&RepoId::new("a", "b"), "v1")
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, Error::Transient { .. }), "{err:?}");
    assert_eq!(forge.request_stats().retries, 1);
}

#[tokio::test]
async fn a_primary_rate_limit_is_returned_with_its_reset() {
    let f = fixture_with(|b| b.max_inline_rate_limit_wait(Duration::ZERO)).await;
    f.server.inject(
        MockFault::RateLimited {
            reset_in: Duration::from_secs(1),
        },
        1,
    );
    let err = f
        .forge
        .release_by_tag(&f.repo, "v1")
        .await
        .expect_err("rate limited");
    let Error::RateLimited {
        retry_after: Some(after),
        ..
    } = err
    else {
        panic!("expected RateLimited with retry_after, got {err:?}")
    };
    assert!(
        after >= Duration::from_secs(1) && after <= Duration::from_secs(2),
        "{after:?}"
    );
    assert_eq!(f.forge.rate_limit().expect("seen").0, 0);
    assert_eq!(f.forge.request_stats().retries, 0);
}

#[tokio::test]
async fn a_short_rate_limit_is_waited_out_inside_the_adapter() {
    let f = fixture().await;
    f.server.inject(
        MockFault::RateLimited {
            reset_in: Duration::from_secs(1),
        },
        1,
    );
    let started = Instant::now();
    let found = f.forge.release_by_tag(&f.repo, "v1").await.expect("waited");
    assert_eq!(found, None);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(f.forge.request_stats().retries, 1);
}

#[tokio::test]
async fn secondary_limits_and_429_are_rate_limits() {
    let f = fixture().await;
    let long = Duration::from_secs(60);
    f.server
        .inject(MockFault::SecondaryRateLimit { retry_after: long }, 1);
    f.server
        .inject(MockFault::TooManyRequests { retry_after: long }, 1);
    for _ in 0..2 {
        let err = f
            .forge
            .create_release(&f.repo, &release("v1"))
            .await
            .expect_err("limited");
        assert!(
            matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == long),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_rejected_token_is_unauthenticated() {
    let f = fixture().await;
    f.server.inject(MockFault::Unauthorized, 1);
    let err = f.forge.list_releases(&f.repo).await.expect_err("401");
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");

    let anonymous = GitHubForge::builder()
        .api_url(f.server.url())
        .build()
        .expect("builds");
    let err = anonymous
        .release_by_tag(&f.repo, "v1")
        .await
        .expect_err("401");
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(!err.is_retriable());
}

#[tokio::test]
async fn unknown_repositories_and_releases_are_not_found() {
    let f = fixture().await;
    let other = RepoId::new("acme", "nope");
    let err = f
        .forge
        .create_release(&other, &release("v1"))
        .await
        .expect_err("404");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = f
        .forge
        .upload_asset(&f.repo, 4242, "a.bin", b"x")
        .await
        .expect_err("404");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = f.forge.list_releases(&other).await.expect_err("404");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn list_releases_follows_every_page() {
    let f = fixture_with(|b| b.page_size(2)).await;
    for i in 1..=5 {
        f.forge
            .create_release(&f.repo, &release(&format!("v{i}")))
            .await
            .expect("create");
    }
    let all = f.forge.list_releases(&f.repo).await.expect("list");
    let tags: Vec<_> = all.iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(
        tags,
        ["v5", "v4", "v3", "v2", "v1"],
        "newest first, all pages"
    );
    let pages: Vec<_> = f
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        pages,
        [
            "/repos/acme/app/releases?per_page=2",
            "/repos/acme/app/releases?per_page=2&page=2",
            "/repos/acme/app/releases?per_page=2&page=3",
        ]
    );
}

#[tokio::test]
async fn the_token_is_sent_but_never_printed() {
    let f = fixture().await;
    f.forge
        .create_release(&f.repo, &release("v1"))
        .await
        .expect("create");
    let requests = f.server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))),
        "{requests:?}"
    );
    let debug = format!("{:?}", f.forge);
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("authenticated: true"), "{debug}");
}

#[tokio::test]
async fn uploads_carry_raw_bytes_and_special_names() {
    let f = fixture().await;
    let created = f
        .forge
        .create_release(&f.repo, &release("v1"))
        .await
        .expect("create");
    let asset = f
        .forge
        .upload_asset(&f.repo, created.id, "my app+1.tar.gz", &[0u8, 1, 2, 255])
        .await
        .expect("upload");
    assert_eq!(asset.name, "my app+1.tar.gz");
    assert_eq!(asset.size, 4);
    let upload = f
        .server
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/assets"))
        .expect("upload request");
    assert_eq!(
        upload.path,
        format!(
            "/repos/acme/app/releases/{}/assets?name=my%20app%2B1.tar.gz",
            created.id
        )
    );
}

#[tokio::test]
async fn the_mock_reports_its_stats_over_http() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture().await;
    f.forge.release_by_tag(&f.repo, "v1").await.expect("poll");
    let addr = f.server.url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!(
        "GET /_mock/stats HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    let stats: serde_json::Value = serde_json::from_str(body).expect("JSON");
    // The missing tag, then the newest-release page it is watched through.
    assert_eq!(stats["requests"], 2, "{stats}");
    assert_eq!(stats["rate_limited"], 2, "{stats}");
    assert_eq!(
        f.server.stats().requests,
        2,
        "the stats request is not counted"
    );
    assert_eq!(
        stats["by_route"]["GET /repos/{owner}/{repo}/releases/tags/{tag}"]["by_status"]["404"], 1,
        "{stats}"
    );
    assert_eq!(stats["by_repo"]["acme/app"]["requests"], 2, "{stats}");
}

#[tokio::test]
async fn a_release_wait_costs_one_rate_limited_poll_and_honours_rate_limits() {
    use std::sync::Arc;

    use orchestrator_core::config::AssetPattern;
    use orchestrator_core::engine::{CancelToken, SilentObserver};
    use orchestrator_core::release::{WaitSpec, wait_for_assets};
    use orchestrator_core::step::StepContext;
    use orchestrator_core::version::ReleaseVersion;

    let f = fixture_with(|b| b.max_inline_rate_limit_wait(Duration::ZERO)).await;
    let created = f
        .forge
        .create_release(&f.repo, &release("v1.2.3"))
        .await
        .expect("create");
    f.forge
        .upload_asset(&f.repo, created.id, "app-v1.2.3.tar.gz", b"0123456789")
        .await
        .expect("upload");
    // The first poll is rate limited: the wait loop sleeps the reset out and counts a retry.
    f.server.inject(
        MockFault::RateLimited {
            reset_in: Duration::from_secs(1),
        },
        1,
    );
    let version = ReleaseVersion::parse("1.2.3").expect("valid");
    let spec = WaitSpec {
        repo: f.repo.clone(),
        tag: "v1.2.3".into(),
        patterns: vec![
            AssetPattern::parse("app-v{version}.tar.gz")
                .expect("valid")
                .for_version(&version),
        ],
        poll_interval: Duration::from_millis(10),
        timeout: Duration::from_secs(30),
        stable_polls: 3,
        fresh_tag: false,
    };
    let ctx = StepContext::new("wait", Arc::new(SilentObserver), CancelToken::new());
    let before = f.forge.request_stats();
    let report = wait_for_assets(&f.forge, &spec, &ctx)
        .await
        .expect("settles");
    assert_eq!(report.retries, 1, "{report:?}");
    assert_eq!(
        report.polls, 5,
        "one limited, one fresh, three unchanged: {report:?}"
    );
    assert_eq!(report.assets.get("app-v1.2.3.tar.gz"), Some(&10));
    let after = f.forge.request_stats();
    assert_eq!(after.not_modified - before.not_modified, 3, "{after:?}");
    assert_eq!(
        after.rate_limited - before.rate_limited,
        2,
        "the limited answer and the first fresh poll: {after:?}"
    );
}

#[tokio::test]
async fn from_env_builds_without_touching_the_network() {
    // Whatever GITHUB_TOKEN holds, building never sends a request.
    let forge = GitHubForge::from_env(None).expect("builds");
    assert_eq!(forge.api_url(), "https://api.github.com");
    assert_eq!(forge.request_stats().requests, 0);
    assert_eq!(forge.rate_limit(), None);
}
