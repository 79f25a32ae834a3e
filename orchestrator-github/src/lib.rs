//! `GitHubForge`: the orchestrator's [`Forge`](orchestrator_core::forge::Forge) over GitHub's
//! REST API (github.com, GitHub Enterprise Server, or the mock server in `mock` (feature `mock-server`)).
//!
//! ```no_run
//! # async fn demo() -> orchestrator_core::Result<()> {
//! use orchestrator_core::forge::{ReleaseForge, RepoId};
//! use orchestrator_github::GitHubForge;
//!
//! // Token from GITHUB_TOKEN, else GH_TOKEN; anonymous when neither is set.
//! let forge = GitHubForge::from_env(None)?;
//! let release = forge.release_by_tag(&RepoId::new("Truthdb", "truthdb"), "v1.2.3").await?;
//! # Ok(()) }
//! ```
//!
//! # Why conditional requests
//!
//! A release wait polls `GET /repos/{o}/{r}/releases/tags/{tag}` every few seconds for up to an
//! hour, for every repository at once. github.com allows 5,000 requests an hour per token, and
//! `304 Not Modified` answers to conditional requests do not count against it. So the adapter
//! remembers each URL's `ETag` and body, sends `If-None-Match`, and answers a `304` from its cache:
//! a wait on an unchanged release costs one request, however long it polls. [`request_stats`]
//! reports both kinds (`rate_limited` vs `not_modified`), and [`GitHubForge::rate_limit`] the
//! budget GitHub last reported.
//!
//! The adapter uses octocrab's raw request API (`Octocrab::execute`) rather than its typed
//! getters: those turn a `304` into an error and hide the response headers (ETag, rate limit,
//! `Link`) this needs.
//!
//! # How errors map
//!
//! | GitHub answers | [`Error`](orchestrator_core::Error) |
//! |---|---|
//! | 404 | `NotFound`; but `release_by_tag` and `latest_release` answer `Ok(None)`, `permission` `Permission::None`, `remove_label` `Ok(())` (the label was not there) |
//! | 401 | `Unauthenticated` |
//! | 403 with `x-ratelimit-remaining: 0`, `Retry-After`, or "secondary rate limit"; any 429 | `RateLimited { retry_after }` from `Retry-After`, else `x-ratelimit-reset` |
//! | a rate limit asking to wait more than 65 minutes (a `Retry-After` or reset years away) | `PermissionDenied` (not retriable; nobody should sleep on it) |
//! | other 403 | `PermissionDenied` |
//! | 422 `already_exists` creating a release; 422 uploading an asset; 422 "Reference already exists" creating a branch; 422 "A pull request already exists" | `AlreadyExists` |
//! | other 422 on a dispatch, branch, pull request, label or comment (bad input, unknown workflow input) | `InvalidInput` with GitHub's message |
//! | other 409 / 422 | `Conflict` |
//! | 5xx, connection errors, timeouts | `Transient` (after the retries below) |
//! | a body over the cap (16 MiB by default), malformed JSON, a pagination loop | `Transient`, naming what was wrong |
//!
//! Every exchange is bounded in time and size (connect, idle and whole-exchange timeouts; the
//! body cap): see `GitHubForgeBuilder::request_timeout` and `max_response_bytes`.
//!
//! Retries happen inside the adapter, counted in [`request_stats`] and logged at `info`
//! (visible with `-v`): 5xx answers and connection errors up to 3 times with jittered
//! exponential backoff from 200ms; rate limits that ask for at most 2s are waited out and retried.
//! Longer rate limits are returned as `RateLimited` so the caller's wait loop sleeps (cancellably,
//! and within its deadline). Every number is configurable on [`GitHubForgeBuilder`]. A retried
//! `POST` whose first attempt did land answers `AlreadyExists` the second time; callers' `check`
//! steps treat that as done.
//!
//! # Enterprise, or a mock
//!
//! Point [`GitHubForgeBuilder::api_url`] at the API root: `https://ghe.example.com/api/v3` for
//! GitHub Enterprise Server (uploads then go to `https://ghe.example.com/api/uploads`), or the
//! mock server's URL (uploads go to the same URL); [`GitHubForgeBuilder::upload_url`] overrides
//! the upload root. The token is sent only to those two hosts, never to a redirect or `Link`
//! elsewhere. With the `mock-server` feature, `mock::MockGitHub` serves the endpoints this
//! adapter uses on a loopback port, with ETags, pagination, rate-limit headers, a simulated CI
//! that turns tags pushed to local bare origins into releases, and seeded faults; it is what
//! `orchestrator demo` and `orchestrator mock-forge` run.
//!
//! Constructing a forge never touches the network. `Debug` shows the URLs and whether a token is
//! set, never the token.
//!
//! [`request_stats`]: orchestrator_core::forge::ForgeBackend::request_stats
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app;
mod forge;
mod transport;
mod wire;

#[cfg(feature = "mock-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock-server")))]
pub mod mock;

pub use app::{GitHubApp, JwtRejection, REFRESH_MARGIN_SECS, public_key_der, verify_jwt};
pub use forge::{DEFAULT_API_URL, GitHubForge, GitHubForgeBuilder};
pub use transport::{RateBudget, RateLimitSeen, rate_budget};
