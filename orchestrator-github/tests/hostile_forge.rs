//! The adapter against a forge that misbehaves on purpose: a loopback server with hand-written
//! HTTP (no framework to smooth anything over) that drips bytes, never answers, streams an endless
//! or a huge body, redirects and paginates to another host, loops its pagination, sends broken
//! JSON, and asks for rate-limit waits of years.
//!
//! Each case proves the same four things: the call ends in bounded time (a generous upper bound,
//! never a timing assertion), memory stays bounded (the body cap), the token never reaches another
//! host, and the error says what happened.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orchestrator_core::Error;
use orchestrator_core::forge::{ReleaseForge, RepoId};
use orchestrator_core::secret::SecretString;
use orchestrator_github::GitHubForge;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The token every case sends; it must only ever reach the configured host.
const CANARY: &str = "hostile-forge-canary-token";

/// Far above what any case needs, far below "hangs": the check is that it ends at all.
const BOUND: Duration = Duration::from_secs(30);

/// What the server does with one request.
#[derive(Clone)]
enum Act {
    /// Writes these bytes and closes.
    Reply(Vec<u8>),
    /// Writes the head, then one byte of body every `every`, forever.
    Drip { head: String, every: Duration },
    /// Reads the request and never answers.
    Silent,
    /// Writes the head, then body bytes until the client goes away.
    Endless { head: String },
}

/// One request as the server saw it: request line and headers, lower-cased names.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A hand-written HTTP/1.1 server on a loopback address, one request per connection.
struct Hostile {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Body bytes the server managed to write (the client's reading is what lets it write).
    written: Arc<Mutex<u64>>,
}

impl Hostile {
    async fn start(ip: &str, act: impl Fn(&Seen) -> Act + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(Mutex::new(0u64));
        let act = Arc::new(act);
        let (s, w) = (seen.clone(), written.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (s, w, act) = (s.clone(), w.clone(), act.clone());
                tokio::spawn(serve(stream, s, w, act));
            }
        });
        Self {
            url: format!("http://{addr}"),
            seen,
            written,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }

    fn written(&self) -> u64 {
        *self.written.lock().expect("not poisoned")
    }
}

async fn serve(
    mut stream: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    written: Arc<Mutex<u64>>,
    act: Arc<dyn Fn(&Seen) -> Act + Send + Sync>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request = Seen {
        line: lines.next().unwrap_or_default().to_owned(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
    };
    seen.lock().expect("not poisoned").push(request.clone());
    match act(&request) {
        Act::Reply(bytes) => {
            let _ = stream.write_all(&bytes).await;
        }
        Act::Drip { head, every } => {
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            loop {
                tokio::time::sleep(every).await;
                if stream.write_all(b" ").await.is_err() {
                    return;
                }
                *written.lock().expect("not poisoned") += 1;
            }
        }
        Act::Silent => {
            // Hold the connection open without a word until the client gives up.
            let _ = stream.read(&mut buf).await;
        }
        Act::Endless { head } => {
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            while stream.write_all(&chunk).await.is_ok() {
                *written.lock().expect("not poisoned") += chunk.len() as u64;
            }
        }
    }
}

/// A complete response with a JSON body.
fn json(status: &str, extra_headers: &str, body: &str) -> Act {
    Act::Reply(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n{extra_headers}\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// The adapter as a user would configure it, with small limits so each case is quick.
fn forge(url: &str) -> GitHubForge {
    GitHubForge::builder()
        .api_url(url)
        .token(Some(SecretString::new(CANARY)))
        .max_retries(1)
        .retry_base_delay(Duration::from_millis(10))
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(3))
        .max_response_bytes(1024 * 1024)
        .build()
        .expect("valid forge")
}

fn repo() -> RepoId {
    RepoId::new("o", "r")
}

/// Runs `call`, failing the test if it does not end within [`BOUND`].
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(BOUND, call)
        .await
        .unwrap_or_else(|_| panic!("the call did not end within {BOUND:?}"));
    assert!(started.elapsed() < BOUND);
    out
}

#[tokio::test]
async fn a_server_dripping_a_byte_at_a_time_cannot_hold_a_request() {
    // A byte every 300ms keeps any idle (read) timeout from firing; only a whole-exchange
    // deadline ends it.
    let server = Hostile::start("127.0.0.1", |_| Act::Drip {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
            .into(),
        every: Duration::from_millis(300),
    })
    .await;
    let err = bounded(forge(&server.url).release_by_tag(&repo(), "v1"))
        .await
        .expect_err("a dripping server gives no answer");
    assert!(matches!(err, Error::Transient { .. }), "{err:?}");
    assert!(
        err.to_string().contains("no complete answer within 3s"),
        "{err}"
    );
    // One retry, then the error: two attempts.
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Hostile::start("127.0.0.1", |_| Act::Silent).await;
    let err = bounded(forge(&server.url).release_by_tag(&repo(), "v1"))
        .await
        .expect_err("silence is no answer");
    assert!(matches!(err, Error::Transient { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&server.url),
        "names the forge: {err}"
    );
}

#[tokio::test]
async fn an_endless_body_stops_at_the_cap() {
    let server = Hostile::start("127.0.0.1", |_| Act::Endless {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
            .into(),
    })
    .await;
    let err = bounded(forge(&server.url).release_by_tag(&repo(), "v1"))
        .await
        .expect_err("an endless body is refused");
    assert!(
        err.to_string()
            .contains("response body is larger than the 1 MiB limit"),
        "{err}"
    );
    // Not retried: the same request would bring the same flood.
    assert_eq!(server.seen().len(), 1);
    // The client stopped reading at the cap: the server could write the cap plus what the
    // kernel's socket buffers hold, nowhere near an unbounded stream.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = server.written();
    assert!(written < 64 * 1024 * 1024, "{written} bytes were pushed");
}

#[tokio::test]
async fn a_huge_declared_body_is_refused_before_reading() {
    let server = Hostile::start("127.0.0.1", |_| Act::Endless {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10737418240\r\n\r\n"
            .into(),
    })
    .await;
    let err = bounded(forge(&server.url).release_by_tag(&repo(), "v1"))
        .await
        .expect_err("a 10 GiB body is refused");
    assert!(err.to_string().contains("1 MiB limit"), "{err}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_a_clear_error() {
    let server = Hostile::start("127.0.0.1", |_| {
        json("200 OK", "", r#"{"id": 1, "tag_name": "v1", "assets": [{"#)
    })
    .await;
    let err = bounded(forge(&server.url).release_by_tag(&repo(), "v1"))
        .await
        .expect_err("broken JSON is no release");
    assert!(
        err.to_string()
            .contains("unexpected response for release v1 of o/r"),
        "{err}"
    );
}

#[tokio::test]
async fn a_retry_after_of_years_is_an_error_not_a_sleep() {
    let server = Hostile::start("127.0.0.1", |_| {
        json(
            "429 Too Many Requests",
            "retry-after: 999999999\r\n",
            r#"{"message":"slow down"}"#,
        )
    })
    .await;
    let err = bounded(forge(&server.url).release_by_tag(&repo(), "v1"))
        .await
        .expect_err("an absurd wait is refused");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert!(!err.is_retriable(), "no caller should sleep on it either");
    assert!(err.to_string().contains("31 years"), "{err}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_rate_limit_reset_years_away_is_an_error_not_a_sleep() {
    let years_away = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 5 * 365 * 86_400;
    let server = Hostile::start("127.0.0.1", move |_| {
        json(
            "403 Forbidden",
            &format!("x-ratelimit-remaining: 0\r\nx-ratelimit-reset: {years_away}\r\n"),
            r#"{"message":"API rate limit exceeded"}"#,
        )
    })
    .await;
    let err = bounded(forge(&server.url).release_by_tag(&repo(), "v1"))
        .await
        .expect_err("an absurd reset is refused");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert!(err.to_string().contains("5 years"), "{err}");
}

#[tokio::test]
async fn a_redirect_to_another_host_does_not_carry_the_token() {
    let elsewhere = Hostile::start("127.0.0.2", |_| json("200 OK", "", "[]")).await;
    let target = format!("{}/stolen", elsewhere.url);
    let server = Hostile::start("127.0.0.1", move |_| {
        Act::Reply(
            format!(
                "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .into_bytes(),
        )
    })
    .await;
    // Whatever the outcome, the token must have gone to the configured host only.
    let _ = bounded(forge(&server.url).list_releases(&repo())).await;
    let ours = server.seen();
    assert!(
        ours[0]
            .header("authorization")
            .is_some_and(|v| v.contains(CANARY)),
        "the configured host gets the token: {ours:?}"
    );
    let theirs = elsewhere.seen();
    assert!(!theirs.is_empty(), "the redirect was followed");
    for seen in theirs {
        assert_eq!(seen.header("authorization"), None, "{seen:?}");
        assert!(!format!("{seen:?}").contains(CANARY), "{seen:?}");
    }
}

#[tokio::test]
async fn a_next_page_on_another_host_does_not_carry_the_token() {
    let elsewhere = Hostile::start("127.0.0.2", |_| json("200 OK", "", "[]")).await;
    let next = format!("{}/page2", elsewhere.url);
    let server = Hostile::start("127.0.0.1", move |_| {
        json("200 OK", &format!("link: <{next}>; rel=\"next\"\r\n"), "[]")
    })
    .await;
    let _ = bounded(forge(&server.url).list_releases(&repo())).await;
    let theirs = elsewhere.seen();
    assert_eq!(theirs.len(), 1, "the next page was asked for");
    assert_eq!(theirs[0].header("authorization"), None, "{theirs:?}");
}

#[tokio::test]
async fn a_pagination_loop_is_detected_at_once() {
    // Page 1 links to page 2, which links back to page 1.
    let server = Hostile::start("127.0.0.1", |seen| {
        let (self_url, next) = if seen.line.contains("page=2") {
            ("2", "1")
        } else {
            ("1", "2")
        };
        let host = seen.header("host").unwrap_or_default().to_owned();
        json(
            "200 OK",
            &format!(
                "link: <http://{host}/repos/o/r/releases?per_page=100&page={next}>; rel=\"next\"\r\nx-page: {self_url}\r\n"
            ),
            "[]",
        )
    })
    .await;
    let err = bounded(forge(&server.url).list_releases(&repo()))
        .await
        .expect_err("a loop never ends on its own");
    assert!(err.to_string().contains("pagination loops"), "{err}");
    // The first page, page 2, page 1 again (its own URL differs from the first request's):
    // a handful, not the 1,000 pages the old bound allowed.
    let requests = server.seen().len();
    assert!(requests <= 3, "{requests} requests");
}

#[tokio::test]
async fn credentials_in_the_url_never_appear_in_errors_or_debug() {
    // A port nothing listens on: the connection is refused, and the error names the URL.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let forge = forge(&format!("http://alice:hunter2@127.0.0.1:{port}"));
    assert!(!format!("{forge:?}").contains("hunter2"));
    assert!(!forge.api_url().contains("hunter2"));
    let err = bounded(forge.release_by_tag(&repo(), "v1"))
        .await
        .expect_err("nothing listens");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("alice"),
        "{shown}"
    );
}
