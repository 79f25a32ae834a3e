//! Waiting until a release's assets exist and have settled: pure assessment plus the poll loop.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use serde::{Deserialize, Serialize};

use super::assets::AssetMatcher;
use crate::error::{Error, Result};
use crate::forge::{AssetState, Release, ReleaseForge, RepoId};
use crate::step::StepContext;

/// Asset name → size, of the assets that matched the patterns.
pub type AssetSnapshot = BTreeMap<String, u64>;

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// Something is missing or unfinished; each entry says what, for people.
    NotReady(Vec<String>),
    /// Every pattern matched a fully uploaded, non-empty asset of a published release.
    Ready(AssetSnapshot),
}

/// Judges one observation of a release against the asset patterns.
pub fn assess(release: Option<&Release>, tag: &str, patterns: &[AssetMatcher]) -> Assessment {
    let Some(release) = release else {
        return Assessment::NotReady(vec![format!("release {tag} (not created yet)")]);
    };
    let mut missing = Vec::new();
    if release.draft {
        missing.push(format!("release {tag} (draft)"));
    }
    let mut snapshot = AssetSnapshot::new();
    for pattern in patterns {
        let matched: Vec<_> = release
            .assets
            .iter()
            .filter(|a| pattern.matches(&a.name))
            .collect();
        if matched.is_empty() {
            missing.push(pattern.pattern().to_owned());
        }
        for asset in matched {
            if asset.state != AssetState::Uploaded || asset.size == 0 {
                missing.push(format!(
                    "{} (uploading, {} bytes so far)",
                    asset.name, asset.size
                ));
            } else {
                snapshot.insert(asset.name.clone(), asset.size);
            }
        }
    }
    if missing.is_empty() {
        Assessment::Ready(snapshot)
    } else {
        Assessment::NotReady(missing)
    }
}

/// Counts consecutive unchanged ready observations.
#[derive(Debug, Clone, Default)]
pub struct Stability {
    last: Option<AssetSnapshot>,
    unchanged: u32,
}

impl Stability {
    /// Feeds one assessment; returns how many consecutive polls the snapshot has been unchanged.
    pub fn observe(&mut self, assessment: &Assessment) -> u32 {
        match assessment {
            Assessment::Ready(snapshot) if self.last.as_ref() == Some(snapshot) => {
                self.unchanged += 1
            }
            Assessment::Ready(snapshot) => {
                self.last = Some(snapshot.clone());
                self.unchanged = 0;
            }
            Assessment::NotReady(_) => {
                self.last = None;
                self.unchanged = 0;
            }
        }
        self.unchanged
    }
}

/// What to wait for and how.
#[derive(Debug, Clone)]
pub struct WaitSpec {
    /// The repository.
    pub repo: RepoId,
    /// The release's tag.
    pub tag: String,
    /// Asset patterns with the version filled in.
    pub patterns: Vec<AssetMatcher>,
    /// Base poll interval.
    pub poll_interval: Duration,
    /// Deadline from the start of the wait.
    pub timeout: Duration,
    /// Unchanged polls required.
    pub stable_polls: u32,
    /// The tag did not exist on the origin when this run planned it (this run pushes it), so no
    /// release for it can exist before its CI runs. While webhooks wake the waits (a poll stretch
    /// above 1, see [`set_poll_stretch`]), such a wait skips its first poll and sleeps until a
    /// wake or its fallback poll: the release's webhooks say when to look.
    pub fresh_tag: bool,
}

/// What a finished wait saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitReport {
    /// The settled assets.
    pub assets: AssetSnapshot,
    /// The release page.
    pub release_url: String,
    /// Polls made.
    pub polls: u32,
    /// Requests retried after transient errors or rate limits.
    pub retries: u32,
    /// Seconds waited.
    pub waited_secs: f64,
}

/// The waits in progress in this process, by repo, each with its own wake signal. A service that
/// receives webhooks (`orchestrator serve`) wakes the waits on a repo when GitHub says its release
/// or workflow run changed, so a wait learns of it at once instead of one poll interval later.
static WAKERS: LazyLock<Mutex<HashMap<RepoId, Vec<Waker>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// One wait's registration: its id, what it waits for (tag and patterns), and its wake signal.
type Waker = (u64, Arc<WaitTarget>, Arc<Notify>);

/// What one registered wait needs: [`wake_waits_for_release`] wakes it only for a release that
/// could settle it.
#[derive(Debug)]
struct WaitTarget {
    tag: String,
    patterns: Vec<AssetMatcher>,
}

/// Identifies one registration in [`WAKERS`].
static NEXT_WAKER: AtomicU64 = AtomicU64::new(0);

/// How much longer than the base interval a wait pauses between polls (1: polling only).
static POLL_STRETCH: AtomicU32 = AtomicU32::new(1);

/// Wakes every wait in progress on `repo` in this process: each polls at once. Returns how many
/// were woken. A wake that comes while a wait is polling is kept, so the wait polls once more.
pub fn wake_waits(repo: &RepoId) -> usize {
    let wakers = WAKERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    wakers.get(repo).map_or(0, |list| {
        for (_, _, notify) in list {
            notify.notify_one();
        }
        list.len()
    })
}

/// Wakes every wait in progress in this process, on every repo: each polls once at once.
/// Returns how many were woken. For a moment when events may have been missed and nobody knows
/// which (a replica's `LISTEN` session was re-established after a gap): a spurious wake costs
/// one read of the forge, a missed one a whole fallback poll interval.
pub fn wake_all_waits() -> usize {
    wake_waits_where(|_| true)
}

/// Wakes every wait whose repo `pick` accepts (tests scope [`wake_all_waits`] with it: the
/// registry is shared by every test of the process, and waking another test's wait would add a
/// poll that test counts).
fn wake_waits_where(pick: impl Fn(&RepoId) -> bool) -> usize {
    let wakers = WAKERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut woken = 0;
    for (_, _, notify) in wakers
        .iter()
        .filter(|(repo, _)| pick(repo))
        .flat_map(|(_, list)| list)
    {
        notify.notify_one();
        woken += 1;
    }
    woken
}

/// Wakes the waits on `repo` that `release`, as a webhook described it, could settle: same tag,
/// published, every pattern matched by an uploaded asset. The others keep sleeping: polling on a
/// draft or a half-uploaded release would spend a request (counted against the rate limit) to
/// learn what the event already said. A woken wait still reads the release from the forge before
/// it acts: the event only says when to look. Returns how many were woken.
pub fn wake_waits_for_release(repo: &RepoId, release: &Release) -> usize {
    if !release.draft
        && release
            .assets
            .iter()
            .all(|a| a.state == AssetState::Uploaded)
    {
        remember_published(repo, &release.tag);
    }
    let wakers = WAKERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    wakers.get(repo).map_or(0, |list| {
        let mut woken = 0;
        for (_, target, notify) in list {
            if target.tag == release.tag
                && matches!(
                    assess(Some(release), &target.tag, &target.patterns),
                    Assessment::Ready(_)
                )
            {
                notify.notify_one();
                woken += 1;
            }
        }
        woken
    })
}

/// The number of waits in progress in this process.
pub fn waits_in_flight() -> usize {
    WAKERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .values()
        .map(Vec::len)
        .sum()
}

/// Releases announced as published with every asset uploaded, newest last (bounded): a
/// wait that registers after its release's event (CI faster than the steps before the wait) must
/// not sleep through it, so it polls at once instead of skipping its first poll.
static RECENTLY_PUBLISHED: LazyLock<Mutex<VecDeque<(RepoId, String)>>> =
    LazyLock::new(|| Mutex::new(VecDeque::new()));

/// How many announced releases [`RECENTLY_PUBLISHED`] keeps.
const RECENTLY_PUBLISHED_CAP: usize = 1024;

fn remember_published(repo: &RepoId, tag: &str) {
    let mut recent = RECENTLY_PUBLISHED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if recent.len() == RECENTLY_PUBLISHED_CAP {
        recent.pop_front();
    }
    recent.push_back((repo.clone(), tag.to_owned()));
}

fn announced_published(repo: &RepoId, tag: &str) -> bool {
    RECENTLY_PUBLISHED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .any(|(r, t)| r == repo && t == tag)
}

/// Stretches the pause between polls by `factor` (at least 1) in this process: when webhooks
/// wake waits (see [`wake_waits`]), polling is only the fallback for a missed event and can be
/// slower. Retries after errors and rate limits keep their own pauses.
pub fn set_poll_stretch(factor: u32) {
    POLL_STRETCH.store(factor.max(1), Ordering::Relaxed);
}

/// A wait's registration in [`WAKERS`]; removed when the wait ends (also on error or cancel).
struct WakeRegistration {
    repo: RepoId,
    id: u64,
    notify: Arc<Notify>,
}

impl WakeRegistration {
    fn new(spec: &WaitSpec) -> Self {
        let repo = &spec.repo;
        let id = NEXT_WAKER.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        let target = Arc::new(WaitTarget {
            tag: spec.tag.clone(),
            patterns: spec.patterns.clone(),
        });
        WAKERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(repo.clone())
            .or_default()
            .push((id, target, Arc::clone(&notify)));
        Self {
            repo: repo.clone(),
            id,
            notify,
        }
    }
}

impl Drop for WakeRegistration {
    fn drop(&mut self) {
        let mut wakers = WAKERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(list) = wakers.get_mut(&self.repo) {
            list.retain(|(id, _, _)| *id != self.id);
            if list.is_empty() {
                wakers.remove(&self.repo);
            }
        }
    }
}

/// The least time one poll gets, even at the deadline: the last poll happens at it and must be
/// able to answer; a request in flight is still cut off this soon after the deadline.
const LAST_POLL_GRACE: Duration = Duration::from_secs(5);

/// Longest pause after repeated transient errors.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Polls until the assets have settled, the deadline passes, or a non-retriable error occurs.
///
/// Transient errors back off exponentially with jitter (capped); rate limits wait for the time the
/// forge asked for. While the release does not exist yet polls run at twice the base interval;
/// once it exists, at the base interval; once every asset looks complete, the confirming polls
/// run at a quarter of it, so the orchestrator moves on well within one base interval of the
/// assets settling.
///
/// It reads releases and nothing else, so it takes a [`ReleaseForge`]: a backend that serves only
/// releases (a read-only mirror) can run it, and a full `&dyn Forge` coerces to it.
pub async fn wait_for_assets(
    forge: &dyn ReleaseForge,
    spec: &WaitSpec,
    ctx: &StepContext,
) -> Result<WaitReport> {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let mut stability = Stability::default();
    let mut polls = 0u32;
    let mut retries = 0u32;
    let mut errors_in_row = 0u32;
    let mut last_missing = vec![format!("release {}", spec.tag)];
    let wake = WakeRegistration::new(spec);
    let stretch = POLL_STRETCH.load(Ordering::Relaxed);
    if skips_first_poll(spec, stretch) {
        // Nothing to see before CI has run: wait for the release's webhook, or the fallback
        // poll's time (as for a release that does not exist yet), before the first request.
        let first = next_pause(
            spec.poll_interval,
            false,
            &Assessment::NotReady(Vec::new()),
            stretch,
        );
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::select! {
            slept = ctx.sleep(first.min(left)) => slept?,
            () = wake.notify.notified() => {}
        }
    }
    loop {
        polls += 1;
        // The deadline bounds a request in flight too: a forge that stalls or drips bytes cannot
        // stretch the wait past it (the adapter's own timeouts may be much longer).
        let left = deadline.saturating_duration_since(Instant::now());
        let poll = tokio::time::timeout(
            left.max(LAST_POLL_GRACE),
            forge.release_by_tag(&spec.repo, &spec.tag),
        )
        .await
        .map_err(|_| Error::Timeout {
            what: format!("release {} of {}", spec.tag, spec.repo),
            missing: last_missing.clone(),
            waited: started.elapsed(),
        })?;
        let pause = match poll {
            Ok(release) => {
                errors_in_row = 0;
                let assessment = assess(release.as_ref(), &spec.tag, &spec.patterns);
                let unchanged = stability.observe(&assessment);
                match &assessment {
                    Assessment::Ready(snapshot) if unchanged >= spec.stable_polls => {
                        return Ok(WaitReport {
                            assets: snapshot.clone(),
                            release_url: release.map(|r| r.html_url).unwrap_or_default(),
                            polls,
                            retries,
                            waited_secs: started.elapsed().as_secs_f64(),
                        });
                    }
                    Assessment::Ready(snapshot) => {
                        last_missing = vec![format!("{} assets to stay unchanged", snapshot.len())];
                        ctx.progress(format!(
                            "{} asset(s) present, settling ({unchanged}/{})",
                            snapshot.len(),
                            spec.stable_polls
                        ));
                    }
                    Assessment::NotReady(missing) => {
                        ctx.progress(format!("waiting for {}", missing.join(", ")));
                        last_missing.clone_from(missing);
                    }
                }
                next_pause(
                    spec.poll_interval,
                    release.is_some(),
                    &assessment,
                    POLL_STRETCH.load(Ordering::Relaxed),
                )
            }
            Err(e) if e.is_retriable() => {
                retries += 1;
                errors_in_row += 1;
                let pause = match &e {
                    Error::RateLimited {
                        retry_after: Some(after),
                        ..
                    } => *after,
                    _ => backoff(spec.poll_interval, errors_in_row, polls),
                };
                ctx.progress(format!("{e}; retrying in {:.1}s", pause.as_secs_f64()));
                pause
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                what: format!("release {} of {}", spec.tag, spec.repo),
                missing: last_missing,
                waited: started.elapsed(),
            });
        }
        // Never sleep past the deadline: one last poll happens at it. A wake polls at once.
        tokio::select! {
            slept = ctx.sleep(pause.min(deadline - now)) => slept?,
            () = wake.notify.notified() => {}
        }
    }
}

/// Whether a wait sleeps before its first poll: only for a tag this run pushes (no release can
/// exist yet), only while webhooks wake the waits (`stretch` above 1), and only when no event
/// has announced the release already; a polling-only wait, one on a tag that was already there
/// (a resume), or one whose release event came first, looks at once.
fn skips_first_poll(spec: &WaitSpec, stretch: u32) -> bool {
    spec.fresh_tag && stretch > 1 && !announced_published(&spec.repo, &spec.tag)
}

/// The pause before the next poll: doubled while the release does not exist yet (nothing to
/// see), a quarter of the base once everything looks complete (only a confirmation is left, and
/// it decides how soon dependents start), the base otherwise. `stretch` (see
/// [`set_poll_stretch`]) slows the polls that wait for something to happen, which a webhook
/// announces, but not the confirmation: no webhook says "still unchanged", so stretching it
/// would make an event-driven wait end later than a polling one.
fn next_pause(
    base: Duration,
    release_exists: bool,
    assessment: &Assessment,
    stretch: u32,
) -> Duration {
    match assessment {
        _ if !release_exists => base * 2 * stretch,
        Assessment::Ready(_) => base / 4,
        Assessment::NotReady(_) => base * stretch,
    }
}

/// Exponential backoff from the base interval with deterministic jitter of up to 25%.
fn backoff(base: Duration, attempt: u32, salt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.min(10))
        .min(MAX_BACKOFF);
    let jitter = (u64::from(salt).wrapping_mul(2_654_435_761) % 1000) as f64 / 4000.0;
    exp.mul_f64(1.0 + jitter).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::{ForgeBackend, ReleaseAsset, RequestStats};
    use crate::release::AssetPattern;
    use crate::version::ReleaseVersion;

    fn matchers(patterns: &[&str]) -> Vec<AssetMatcher> {
        let v = ReleaseVersion::parse("1.2.3").expect("valid");
        patterns
            .iter()
            .map(|p| AssetPattern::parse(p).expect("valid").for_version(&v))
            .collect()
    }

    fn release(draft: bool, assets: &[(&str, u64, AssetState)]) -> Release {
        Release {
            id: 1,
            tag: "v1.2.3".into(),
            name: None,
            body: None,
            draft,
            prerelease: false,
            html_url: "u".into(),
            published_at_ms: None,
            assets: assets
                .iter()
                .enumerate()
                .map(|(i, (n, s, st))| ReleaseAsset {
                    id: i as u64,
                    name: (*n).into(),
                    size: *s,
                    state: *st,
                    download_url: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn assessment_names_what_is_missing() {
        let m = matchers(&["app-v{version}.tar.gz", "*.sha256"]);
        assert_eq!(
            assess(None, "v1.2.3", &m),
            Assessment::NotReady(vec!["release v1.2.3 (not created yet)".into()])
        );
        let up = AssetState::Uploaded;
        let r = release(true, &[("app-v1.2.3.tar.gz", 10, up)]);
        assert_eq!(
            assess(Some(&r), "v1.2.3", &m),
            Assessment::NotReady(vec!["release v1.2.3 (draft)".into(), "*.sha256".into()])
        );
        let r = release(
            false,
            &[
                ("app-v1.2.3.tar.gz", 10, AssetState::Uploading),
                ("app.sha256", 0, up),
            ],
        );
        assert_eq!(
            assess(Some(&r), "v1.2.3", &m),
            Assessment::NotReady(vec![
                "app-v1.2.3.tar.gz (uploading, 10 bytes so far)".into(),
                "app.sha256 (uploading, 0 bytes so far)".into()
            ])
        );
        let r = release(
            false,
            &[
                ("app-v1.2.3.tar.gz", 10, up),
                ("app.sha256", 64, up),
                ("other.txt", 1, up),
            ],
        );
        let Assessment::Ready(snapshot) = assess(Some(&r), "v1.2.3", &m) else {
            panic!("ready")
        };
        assert_eq!(snapshot.len(), 2, "only matched assets count");
    }

    #[test]
    fn stability_needs_unchanged_consecutive_observations() {
        let ready = |size| Assessment::Ready([("a".to_string(), size)].into_iter().collect());
        let mut s = Stability::default();
        assert_eq!(s.observe(&ready(1)), 0);
        assert_eq!(s.observe(&ready(2)), 0, "grew: starts over");
        assert_eq!(s.observe(&ready(2)), 1);
        assert_eq!(s.observe(&Assessment::NotReady(vec![])), 0);
        assert_eq!(s.observe(&ready(2)), 0);
        assert_eq!(s.observe(&ready(2)), 1);
        assert_eq!(s.observe(&ready(2)), 2);
    }

    #[test]
    fn confirmation_polls_come_sooner_and_absent_releases_later() {
        let base = Duration::from_secs(8);
        let ready = Assessment::Ready(AssetSnapshot::new());
        let waiting = Assessment::NotReady(vec!["x".into()]);
        assert_eq!(
            next_pause(base, false, &waiting, 1),
            Duration::from_secs(16)
        );
        assert_eq!(next_pause(base, true, &waiting, 1), base);
        assert_eq!(next_pause(base, true, &ready, 1), Duration::from_secs(2));
    }

    /// Issue 17: with webhooks the stretch slows the fallback polls only; the confirming poll
    /// of a complete release keeps its quarter interval (stretched, a webhook-woken wait ended
    /// `stretch` times later than a polling one).
    #[test]
    fn the_stretch_slows_the_fallback_not_the_confirmation() {
        let base = Duration::from_secs(8);
        let ready = Assessment::Ready(AssetSnapshot::new());
        let waiting = Assessment::NotReady(vec!["x".into()]);
        assert_eq!(
            next_pause(base, false, &waiting, 10),
            Duration::from_secs(160)
        );
        assert_eq!(
            next_pause(base, true, &waiting, 10),
            Duration::from_secs(80)
        );
        assert_eq!(next_pause(base, true, &ready, 10), Duration::from_secs(2));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        assert!(backoff(base, 1, 0) >= Duration::from_secs(2));
        assert!(backoff(base, 2, 0) > backoff(base, 1, 0));
        assert!(backoff(base, 30, 7) <= MAX_BACKOFF);
    }

    /// A forge whose release lookups never answer: a stalled proxy, a server that drips bytes.
    /// It serves releases only: the wait needs no other capability, so there is nothing to stub.
    #[derive(Debug)]
    struct StalledForge;

    impl ForgeBackend for StalledForge {
        fn backend(&self) -> &'static str {
            "stalled"
        }
        fn request_stats(&self) -> RequestStats {
            // No request it was sent ever finished; there is nothing to count.
            RequestStats::default()
        }
    }

    #[async_trait::async_trait]
    impl ReleaseForge for StalledForge {
        async fn release_by_tag(&self, _: &RepoId, _: &str) -> Result<Option<Release>> {
            std::future::pending().await
        }
        async fn list_releases(&self, _: &RepoId) -> Result<Vec<Release>> {
            std::future::pending().await
        }
        async fn latest_release(&self, _: &RepoId) -> Result<Option<Release>> {
            std::future::pending().await
        }
    }

    /// Issue 14 item 4: the wait's deadline bounds a request in flight, not only the sleeps
    /// between polls. Before, a forge that never answered held the wait for as long as the
    /// adapter's own timeouts and retries allowed (minutes), whatever `timeout` said.
    #[tokio::test(start_paused = true)]
    async fn the_deadline_bounds_a_request_that_never_answers() {
        let spec = WaitSpec {
            repo: RepoId::new("o", "r"),
            tag: "v1.2.3".into(),
            patterns: matchers(&["a.iso"]),
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            stable_polls: 1,
            fresh_tag: false,
        };
        let ctx = StepContext::new(
            "wait",
            std::sync::Arc::new(crate::engine::SilentObserver),
            crate::engine::CancelToken::new(),
        );
        let started = tokio::time::Instant::now();
        // Paused time: the runtime jumps to each timer, so a hang shows as the outer bound.
        let outcome = tokio::time::timeout(
            Duration::from_secs(3600),
            wait_for_assets(&StalledForge, &spec, &ctx),
        )
        .await
        .expect("the wait ends by itself");
        let Err(Error::Timeout { what, missing, .. }) = outcome else {
            panic!("a timeout, got {outcome:?}")
        };
        assert_eq!(what, "release v1.2.3 of o/r");
        assert_eq!(missing, vec!["release v1.2.3".to_owned()]);
        // The deadline, plus the short grace a last poll gets.
        assert!(started.elapsed() <= spec.timeout + LAST_POLL_GRACE);
    }

    /// A forge whose release appears when the test says so; counts lookups. Releases only, like
    /// [`StalledForge`].
    #[derive(Debug, Default)]
    struct SwitchForge {
        release: std::sync::Mutex<Option<Release>>,
        polls: AtomicU32,
    }

    impl SwitchForge {
        fn current(&self) -> Option<Release> {
            self.release.lock().expect("not poisoned").clone()
        }
    }

    impl ForgeBackend for SwitchForge {
        fn backend(&self) -> &'static str {
            "switch"
        }
        fn request_stats(&self) -> RequestStats {
            let polls = u64::from(self.polls.load(Ordering::SeqCst));
            RequestStats {
                requests: polls,
                rate_limited: polls,
                ..RequestStats::default()
            }
        }
    }

    #[async_trait::async_trait]
    impl ReleaseForge for SwitchForge {
        async fn release_by_tag(&self, _: &RepoId, _: &str) -> Result<Option<Release>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            Ok(self.current())
        }
        async fn list_releases(&self, _: &RepoId) -> Result<Vec<Release>> {
            Ok(self.current().into_iter().collect())
        }
        async fn latest_release(&self, _: &RepoId) -> Result<Option<Release>> {
            Ok(self.current().filter(|r| !r.draft && !r.prerelease))
        }
    }

    /// A wait for `a.iso` of v1.2.3 on `repo` (10-minute polls), running on a [`SwitchForge`]
    /// that has answered its first poll.
    async fn wait_on_switch(
        repo: &RepoId,
    ) -> (
        Arc<SwitchForge>,
        tokio::task::JoinHandle<Result<WaitReport>>,
    ) {
        let spec = WaitSpec {
            repo: repo.clone(),
            tag: "v1.2.3".into(),
            patterns: matchers(&["a.iso"]),
            poll_interval: Duration::from_secs(600),
            timeout: Duration::from_secs(3600),
            stable_polls: 0,
            fresh_tag: false,
        };
        let forge = Arc::new(SwitchForge::default());
        let ctx = StepContext::new(
            "wait",
            Arc::new(crate::engine::SilentObserver),
            crate::engine::CancelToken::new(),
        );
        let waiting = tokio::spawn({
            let forge = Arc::clone(&forge);
            async move { wait_for_assets(forge.as_ref(), &spec, &ctx).await }
        });
        while forge.polls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        (forge, waiting)
    }

    /// Issue 17: a webhook for a repo being waited on wakes its wait, which polls at once
    /// instead of sleeping out its interval (here 20 minutes while the release does not exist).
    #[tokio::test(start_paused = true)]
    async fn a_wake_polls_at_once_instead_of_after_the_interval() {
        let repo = RepoId::new("wake", "polls-at-once");
        let started = tokio::time::Instant::now();
        let (forge, waiting) = wait_on_switch(&repo).await;
        *forge.release.lock().expect("not poisoned") =
            Some(release(false, &[("a.iso", 10, AssetState::Uploaded)]));
        assert_eq!(wake_waits(&repo), 1, "the wait is registered");
        let report = waiting.await.expect("no panic").expect("ready");
        assert_eq!(report.polls, 2);
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "woken, not polled: {:?}",
            started.elapsed()
        );
        assert_eq!(wake_waits(&repo), 0, "the registration ends with the wait");
    }

    /// Issue 17 follow-up: after a gap in which events may have been lost (a replica's listening
    /// session was re-established), every wait on every repo polls once at once; each still
    /// reads the forge before it acts. (`wake_all_waits` is this with every repo; the serve
    /// crate's PostgreSQL reconnect test calls it for real.)
    #[tokio::test(start_paused = true)]
    async fn waking_all_waits_polls_every_repo_at_once() {
        let started = tokio::time::Instant::now();
        let (first_forge, first) = wait_on_switch(&RepoId::new("wake", "all-first")).await;
        let (second_forge, second) = wait_on_switch(&RepoId::new("wake", "all-second")).await;
        for forge in [&first_forge, &second_forge] {
            *forge.release.lock().expect("not poisoned") =
                Some(release(false, &[("a.iso", 10, AssetState::Uploaded)]));
        }
        // Scoped to this test's repos: the other tests' waits share the registry.
        assert_eq!(
            wake_waits_where(|repo| repo.owner == "wake" && repo.name.starts_with("all-")),
            2,
            "both waits are registered"
        );
        for waiting in [first, second] {
            let report = waiting.await.expect("no panic").expect("ready");
            assert_eq!(
                report.polls, 2,
                "the first poll, then the one the wake caused"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "woken, not polled: {:?}",
            started.elapsed()
        );
    }

    /// Issue 17: an event wakes only the waits its release could settle. A draft, a release whose
    /// asset is still uploading, or another tag leave the wait asleep (no request spent); the
    /// release with everything uploaded wakes it, and it still reads the forge before it acts.
    #[tokio::test(start_paused = true)]
    async fn a_release_event_wakes_only_the_waits_it_could_settle() {
        let repo = RepoId::new("wake", "only-when-ready");
        let (forge, waiting) = wait_on_switch(&repo).await;
        let draft = release(true, &[("a.iso", 10, AssetState::Uploaded)]);
        let uploading = release(false, &[("a.iso", 3, AssetState::Uploading)]);
        let mut other_tag = release(false, &[("a.iso", 10, AssetState::Uploaded)]);
        other_tag.tag = "v9.9.9".into();
        for event in [&draft, &uploading, &other_tag] {
            assert_eq!(wake_waits_for_release(&repo, event), 0, "{event:?}");
        }
        let ready = release(false, &[("a.iso", 10, AssetState::Uploaded)]);
        *forge.release.lock().expect("not poisoned") = Some(ready.clone());
        assert_eq!(wake_waits_for_release(&repo, &ready), 1);
        let report = waiting.await.expect("no panic").expect("ready");
        assert_eq!(
            report.polls, 2,
            "the first poll, then the one the ready event caused"
        );
    }

    #[test]
    fn only_a_fresh_tag_with_webhooks_skips_the_first_poll() {
        let spec = |fresh_tag| WaitSpec {
            repo: RepoId::new("o", "r"),
            tag: "v1".into(),
            patterns: Vec::new(),
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            stable_polls: 0,
            fresh_tag,
        };
        assert!(skips_first_poll(&spec(true), 60));
        assert!(
            !skips_first_poll(&spec(true), 1),
            "polling only: look at once"
        );
        assert!(
            !skips_first_poll(&spec(false), 60),
            "a tag already there: look at once"
        );
    }
}
