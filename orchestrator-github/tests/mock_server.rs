//! The mock GitHub server as a product: simulated CI watching bare origins, deterministic faults,
//! an enforced rate limit, pagination of large releases, `/_mock/stats`, and shutdown; driven
//! through `GitHubForge` and raw HTTP on loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestrator_core::config::Config;
use orchestrator_core::engine::{CancelToken, SilentObserver};
use orchestrator_core::forge::{Forge, ForgeBackend, ReleaseForge, RepoId};
use orchestrator_core::release::{WaitReport, WaitSpec, wait_for_assets};
use orchestrator_core::step::StepContext;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions, MockStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A directory of bare-looking origins (`HEAD`, `objects/`, `refs/tags/`): all the mock reads.
struct Origins {
    dir: tempfile::TempDir,
}

impl Origins {
    fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in names {
            let origin = dir.path().join(format!("{name}.git"));
            std::fs::create_dir_all(origin.join("objects")).expect("objects");
            std::fs::create_dir_all(origin.join("refs/tags")).expect("refs");
            std::fs::write(origin.join("HEAD"), "ref: refs/heads/main\n").expect("HEAD");
        }
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// A loose tag, as `git push` leaves it.
    fn push_tag(&self, name: &str, tag: &str) {
        let file = self.dir.path().join(format!("{name}.git/refs/tags/{tag}"));
        std::fs::write(file, "0123456789012345678901234567890123456789\n").expect("tag");
    }

    /// A packed tag, as `git gc` leaves it.
    fn pack_tag(&self, name: &str, tag: &str) {
        let file = self.dir.path().join(format!("{name}.git/packed-refs"));
        std::fs::write(
            file,
            format!("# pack-refs with: peeled fully-peeled sorted\n0123456789012345678901234567890123456789 refs/tags/{tag}\n"),
        )
        .expect("packed-refs");
    }
}

fn config(text: &str) -> Config {
    Config::parse(text, Path::new("/nowhere/orchestrator.toml")).expect("valid config")
}

fn forge(mock: &MockGitHub) -> GitHubForge {
    let _ = rustls::crypto::ring::default_provider().install_default();
    GitHubForge::builder()
        .api_url(mock.url())
        .retry_base_delay(Duration::from_millis(5))
        .build()
        .expect("forge builds")
}

async fn wait(forge: &dyn Forge, repo: &RepoId, tag: &str, patterns: &[&str]) -> WaitReport {
    let version = ReleaseVersion::parse(tag).expect("version");
    let spec = WaitSpec {
        repo: repo.clone(),
        tag: tag.to_owned(),
        patterns: patterns
            .iter()
            .map(|p| {
                orchestrator_core::config::AssetPattern::parse(p)
                    .expect("pattern")
                    .for_version(&version)
            })
            .collect(),
        poll_interval: Duration::from_millis(20),
        timeout: Duration::from_secs(30),
        stable_polls: 3,
        fresh_tag: false,
    };
    let ctx = StepContext::new("wait", Arc::new(SilentObserver), CancelToken::new());
    wait_for_assets(forge, &spec, &ctx).await.expect("settles")
}

/// One raw `GET`: `(status, headers, body)`; status `0` when the connection was dropped.
async fn get(mock: &MockGitHub, path: &str, if_none_match: Option<&str>) -> (u16, String, String) {
    let addr = mock.url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let conditional = if_none_match
        .map(|e| format!("If-None-Match: {e}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{conditional}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    if stream.read_to_end(&mut raw).await.is_err() {
        return (0, String::new(), String::new());
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let Some((head, body)) = raw.split_once("\r\n\r\n") else {
        return (0, String::new(), String::new());
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // A dropped chunked body has no terminating chunk.
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
        && !body.ends_with("0\r\n\r\n")
    {
        return (0, head.to_owned(), String::new());
    }
    (status, head.to_owned(), body.to_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn stats_over_http(mock: &MockGitHub) -> MockStats {
    let (status, _, body) = get(mock, "/_mock/stats", None).await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).expect("MockStats JSON")
}

#[tokio::test]
async fn a_tag_pushed_to_a_watched_origin_becomes_a_release_whose_assets_upload_one_by_one() {
    let origins = Origins::new(&["app"]);
    let options = MockOptions::default()
        .origins(origins.path())
        .config(config(
            "[[repo]]\nname = \"app\"\ngithub = \"acme/app\"\nassets = [\"app-v{version}.tar.gz\", \"app-*.sha256\"]\n",
        ))
        .ci_delay(Duration::from_millis(150))
        .asset_interval(Duration::from_millis(60));
    let mock = MockGitHub::start(options).await.expect("starts");
    let forge = forge(&mock);
    let repo = RepoId::new("acme", "app");
    assert_eq!(forge.list_releases(&repo).await.expect("repo exists"), []);
    assert_eq!(
        forge.release_by_tag(&repo, "v1.2.3").await.expect("poll"),
        None
    );

    origins.push_tag("app", "v1.2.3");
    origins.push_tag("app", "not-a-version");
    let pushed = Instant::now();
    let report = wait(
        &forge,
        &repo,
        "v1.2.3",
        &["app-v{version}.tar.gz", "app-*.sha256"],
    )
    .await;
    assert!(pushed.elapsed() >= Duration::from_millis(150 + 2 * 60));
    let names: Vec<&str> = report.assets.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["app-v1.2.3.tar.gz", "app-x.sha256"],
        "globs made concrete"
    );
    assert!(
        report.release_url.starts_with(mock.url()),
        "{}",
        report.release_url
    );
    let releases = forge.list_releases(&repo).await.expect("list");
    assert_eq!(
        releases.len(),
        1,
        "only tags in the tag format: {releases:?}"
    );
    assert!(!releases[0].draft);

    // The settling polls were answered by 304s.
    let stats = stats_over_http(&mock).await;
    assert_eq!(stats, mock.stats());
    // (Polls go by tag, or through the newest-release page while the release is the newest.)
    let free: u64 = [
        "GET /repos/{owner}/{repo}/releases/tags/{tag}",
        "GET /repos/{owner}/{repo}/releases",
    ]
    .iter()
    .filter_map(|route| stats.by_route.get(*route))
    .map(|r| r.not_modified)
    .sum();
    assert!(free >= 3, "{stats:?}");
    assert_eq!(
        stats.by_repo["acme/app"].requests, stats.requests,
        "{stats:?}"
    );
    assert_eq!(stats.not_modified, forge.request_stats().not_modified);
    mock.shutdown().await;
}

#[tokio::test]
async fn drafts_and_uploading_assets_show_on_the_way() {
    let origins = Origins::new(&["app"]);
    let options = MockOptions::default()
        .origins(origins.path())
        .config(config(
            "[[repo]]\nname = \"app\"\ngithub = \"acme/app\"\nassets = [\"a.bin\", \"b.bin\"]\n",
        ))
        .ci_delay(Duration::ZERO)
        .asset_interval(Duration::from_millis(400));
    let mock = MockGitHub::start(options).await.expect("starts");
    origins.pack_tag("app", "v2.0.0");
    // A draft first: hidden by tag, listed.
    let (status, _, _) = get(&mock, "/repos/acme/app/releases/tags/v2.0.0", None).await;
    assert_eq!(status, 404, "drafts are not visible by tag");
    let (_, _, body) = get(&mock, "/repos/acme/app/releases", None).await;
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(list[0]["draft"], true, "{list}");
    assert_eq!(list[0]["tag_name"], "v2.0.0");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _, body) = get(&mock, "/repos/acme/app/releases/tags/v2.0.0", None).await;
    assert_eq!(status, 200);
    let release: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(release["draft"], false);
    assert_eq!(release["assets"][0]["name"], "a.bin");
    assert_eq!(release["assets"][0]["state"], "open", "{release}");
    assert!(release["assets"][0]["size"].as_u64().expect("size") > 0);
    assert!(release["assets"][1].is_null(), "b.bin has not started");
    for key in ["url", "assets_url", "upload_url", "html_url", "node_id"] {
        assert!(release[key].is_string(), "{key}: {release}");
    }
}

#[tokio::test]
async fn repos_in_the_origins_directory_exist_without_a_config() {
    let origins = Origins::new(&["tool"]);
    let options = MockOptions::default()
        .origins(origins.path())
        .ci_delay(Duration::from_millis(10));
    let mock = MockGitHub::start(options).await.expect("starts");
    assert_eq!(get(&mock, "/repos/anyone/tool/releases", None).await.0, 200);
    assert_eq!(get(&mock, "/repos/anyone/nope/releases", None).await.0, 404);
    origins.push_tag("tool", "v0.1.0");
    let forge = forge(&mock);
    let report = wait(&forge, &RepoId::new("anyone", "tool"), "v0.1.0", &[]).await;
    assert!(report.assets.is_empty());
}

#[tokio::test]
async fn a_release_with_more_than_100_assets_is_read_whole() {
    let origins = Origins::new(&["big"]);
    let assets: Vec<String> = (0..150)
        .map(|i| format!("\"part{i:03}-v{{version}}.bin\""))
        .collect();
    let options = MockOptions::default()
        .origins(origins.path())
        .config(config(&format!(
            "[[repo]]\nname = \"big\"\ngithub = \"acme/big\"\nassets = [{}]\n",
            assets.join(", ")
        )))
        .ci_delay(Duration::ZERO)
        .asset_interval(Duration::from_millis(1));
    let mock = MockGitHub::start(options).await.expect("starts");
    origins.push_tag("big", "v3.0.0");
    let forge = forge(&mock);
    let repo = RepoId::new("acme", "big");
    let patterns: Vec<String> = (0..150)
        .map(|i| format!("part{i:03}-v{{version}}.bin"))
        .collect();
    let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let report = wait(&forge, &repo, "v3.0.0", &patterns).await;
    assert_eq!(report.assets.len(), 150);

    let release = forge
        .release_by_tag(&repo, "v3.0.0")
        .await
        .expect("poll")
        .expect("published");
    assert_eq!(release.assets.len(), 150);
    // The asset list endpoint pages them: 100, then 50, linked.
    let path = format!(
        "/repos/acme/big/releases/{}/assets?per_page=100",
        release.id
    );
    let (status, head, body) = get(&mock, &path, None).await;
    assert_eq!(status, 200);
    let page: Vec<serde_json::Value> = serde_json::from_str(&body).expect("json");
    assert_eq!(page.len(), 100);
    let link = header(&head, "link").expect("a Link header");
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    let next = format!("{path}&page=2");
    let (_, head, body) = get(&mock, &next, None).await;
    let page: Vec<serde_json::Value> = serde_json::from_str(&body).expect("json");
    assert_eq!(page.len(), 50);
    assert_eq!(page[49]["name"], "part149-v3.0.0.bin");
    assert!(!header(&head, "link").unwrap_or_default().contains("next"));
}

#[tokio::test]
async fn many_releases_are_listed_across_pages() {
    let mock = MockGitHub::start(MockOptions::default().ci_delay(Duration::ZERO))
        .await
        .expect("starts");
    for i in 0..130 {
        mock.notify_tag_pushed("acme", "many", &format!("v1.0.{i}"));
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let forge = forge(&mock);
    let releases = forge
        .list_releases(&RepoId::new("acme", "many"))
        .await
        .expect("list");
    assert_eq!(releases.len(), 130);
    let pages = mock.stats().by_route["GET /repos/{owner}/{repo}/releases"].requests;
    assert_eq!(pages, 2, "100 per page");
}

#[tokio::test]
async fn faults_are_deterministic_for_a_seed() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let mock = MockGitHub::start(MockOptions::default().fault_rate(0.3).seed(seed))
            .await
            .expect("starts");
        mock.create_repo("acme", "app");
        let mut out = Vec::new();
        for i in 0..60 {
            let path = format!("/repos/acme/app/releases/tags/v{}", i % 5);
            out.push(get(&mock, &path, None).await.0);
        }
        let stats = mock.stats();
        assert_eq!(
            stats.faults.server_errors + stats.faults.connection_resets,
            out.iter().filter(|s| **s != 404).count() as u64,
            "{stats:?}"
        );
        out
    }
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await, "same seed, same faults");
    assert_ne!(a, statuses(43).await, "another seed, other faults");
    assert!(a.contains(&502) && a.contains(&0), "both kinds: {a:?}");
    let faulted = a.iter().filter(|s| **s != 404).count();
    assert!((6..=30).contains(&faulted), "about 30% of 60: {faulted}");
}

#[tokio::test]
async fn the_enforced_rate_limit_answers_403_until_the_window_ends_and_304s_are_free() {
    let options = MockOptions::default()
        .rate_limit(3, Duration::from_millis(1500))
        .ci_delay(Duration::ZERO)
        .asset_interval(Duration::from_millis(2));
    let mock = MockGitHub::start(options).await.expect("starts");
    mock.notify_tag_pushed("acme", "app", "v1.0.0");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let path = "/repos/acme/app/releases/tags/v1.0.0";
    let (status, head, _) = get(&mock, path, None).await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "x-ratelimit-limit"), Some("3"));
    assert_eq!(header(&head, "x-ratelimit-remaining"), Some("2"));
    let etag = header(&head, "etag").expect("an ETag").to_owned();
    for _ in 0..5 {
        let (status, head, _) = get(&mock, path, Some(&etag)).await;
        assert_eq!(status, 304, "conditional requests cost nothing");
        assert_eq!(header(&head, "x-ratelimit-remaining"), Some("2"));
    }
    assert_eq!(get(&mock, "/repos/acme/app/releases", None).await.0, 200);
    assert_eq!(get(&mock, "/repos/acme/none/releases", None).await.0, 404);
    let (status, head, body) = get(&mock, path, None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(header(&head, "x-ratelimit-remaining"), Some("0"));
    let reset: u64 = header(&head, "x-ratelimit-reset")
        .and_then(|r| r.parse().ok())
        .expect("a reset");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(reset >= now && reset <= now + 3, "{reset} vs {now}");
    assert!(body.contains("rate limit"), "{body}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(get(&mock, path, None).await.0, 200, "a new window");
    assert_eq!(mock.stats().faults.rate_limit_rejections, 1);
}

#[tokio::test]
async fn a_release_wait_survives_faults_and_rate_limit_bursts() {
    let origins = Origins::new(&["app"]);
    let options = MockOptions::default()
        .origins(origins.path())
        .config(config(
            "[[repo]]\nname = \"app\"\ngithub = \"acme/app\"\nassets = [\"a.bin\", \"b.bin\", \"c.bin\"]\n",
        ))
        .ci_delay(Duration::from_millis(100))
        .asset_interval(Duration::from_millis(50))
        .fault_rate(0.35)
        .seed(5)
        .rate_limit(8, Duration::from_secs(1));
    let mock = MockGitHub::start(options).await.expect("starts");
    origins.push_tag("app", "v1.0.0");
    let forge = forge(&mock);
    let report = wait(
        &forge,
        &RepoId::new("acme", "app"),
        "v1.0.0",
        &["a.bin", "b.bin", "c.bin"],
    )
    .await;
    assert_eq!(report.assets.len(), 3);
    let stats = mock.stats();
    let client = forge.request_stats();
    assert!(client.retries > 0, "{client:?}");
    assert!(
        stats.faults.server_errors + stats.faults.connection_resets > 0,
        "{stats:?}"
    );
    assert_eq!(client.requests, stats.requests, "{client:?} vs {stats:?}");
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let mock = MockGitHub::start(MockOptions::default())
        .await
        .expect("starts");
    let addr = mock.url().trim_start_matches("http://").to_owned();
    assert_eq!(get(&mock, "/_mock/stats", None).await.0, 200);
    let started = Instant::now();
    mock.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
}
