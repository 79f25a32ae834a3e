//! `InMemoryForge`: the conformance suite, the CI simulation and fault injection.

use super::*;
use crate::conformance;

fn repo() -> RepoId {
    RepoId::new("Truthdb", "truthdb")
}

#[tokio::test]
async fn passes_the_forge_conformance_suite() {
    conformance::forge::run_all(&InMemoryForge::new(), &repo()).await;
}

fn ci(behaviour: CiBehaviour, origin: Option<PathBuf>) -> InMemoryForge {
    let mut repos = BTreeMap::new();
    repos.insert(
        repo(),
        CiRepo {
            assets: vec![
                "app-v{version}.tar.gz".into(),
                "app-v{version}.sha256".into(),
            ],
            origin,
            behaviour,
        },
    );
    InMemoryForge::with_ci(CiSimulation {
        delay: Duration::from_millis(30),
        asset_interval: Duration::from_millis(30),
        growth_steps: 3,
        repos,
        ..CiSimulation::default()
    })
}

async fn poll_until_settled(forge: &InMemoryForge, tag: &str, limit: Duration) -> Vec<Release> {
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < limit {
        if let Some(r) = forge.release_by_tag(&repo(), tag).await.expect("lookup") {
            let settled =
                r.assets.len() == 2 && r.assets.iter().all(|a| a.state == AssetState::Uploaded);
            seen.push(r);
            if settled {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    seen
}

#[tokio::test]
async fn a_pushed_tag_produces_a_draft_then_assets_that_grow_then_settle() {
    let forge = ci(CiBehaviour::Normal, None);
    assert!(
        forge
            .release_by_tag(&repo(), "v1.2.3")
            .await
            .expect("lookup")
            .is_none(),
        "nothing before a push"
    );
    forge.notify_tag_pushed(&repo(), "v1.2.3");
    let seen = poll_until_settled(&forge, "v1.2.3", Duration::from_secs(5)).await;
    let last = seen.last().expect("a release appeared");
    assert!(seen.first().expect("first").draft, "starts as a draft");
    assert!(!last.draft);
    let names: Vec<&str> = last.assets.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["app-v1.2.3.tar.gz", "app-v1.2.3.sha256"]);
    assert!(last.assets.iter().all(|a| a.state == AssetState::Uploaded));
    let grew = seen.iter().any(|r| {
        r.assets
            .iter()
            .any(|a| a.state == AssetState::Uploading && a.size < last.assets[0].size)
    });
    assert!(grew, "an asset was seen uploading with a smaller size");
    assert!(
        forge
            .release_by_tag(&repo(), "v9.9.9")
            .await
            .expect("lookup")
            .is_none(),
        "other tags stay empty"
    );
}

#[tokio::test]
async fn never_settling_and_missing_assets_never_look_complete() {
    for behaviour in [
        CiBehaviour::NeverSettles,
        CiBehaviour::MissingAsset("app-v{version}.sha256".into()),
        CiBehaviour::Fails,
    ] {
        let forge = ci(behaviour.clone(), None);
        forge.notify_tag_pushed(&repo(), "v1.0.0");
        let seen = poll_until_settled(&forge, "v1.0.0", Duration::from_millis(400)).await;
        let complete = seen.iter().any(|r| {
            r.assets.len() == 2 && r.assets.iter().all(|a| a.state == AssetState::Uploaded)
        });
        assert!(!complete, "{behaviour:?} must never look complete");
    }
}

#[tokio::test]
async fn watches_a_bare_origin_for_loose_and_packed_tags() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("refs/tags")).expect("mkdir");
    let forge = ci(CiBehaviour::Normal, Some(dir.path().to_owned()));
    assert!(
        forge
            .release_by_tag(&repo(), "v1.0.0")
            .await
            .expect("lookup")
            .is_none()
    );
    std::fs::write(dir.path().join("refs/tags/v1.0.0"), "0123\n").expect("write");
    std::fs::write(
        dir.path().join("packed-refs"),
        "# pack-refs\nabcd refs/tags/v2.0.0\n",
    )
    .expect("write");
    let one = poll_until_settled(&forge, "v1.0.0", Duration::from_secs(5)).await;
    assert!(!one.is_empty(), "loose tag seen");
    let two = poll_until_settled(&forge, "v2.0.0", Duration::from_secs(5)).await;
    assert!(!two.is_empty(), "packed tag seen");
}

#[tokio::test]
async fn fault_rules_fail_exactly_the_matching_requests() {
    let forge = InMemoryForge::new();
    forge.inject(FaultRule {
        op: Some(ForgeOp::ReleaseByTag),
        repo: Some(repo()),
        times: 2,
        fault: Fault::RateLimited {
            retry_after: Duration::from_millis(5),
        },
    });
    let other = RepoId::new("Truthdb", "other");
    assert!(
        forge.release_by_tag(&other, "v1").await.is_ok(),
        "other repo unaffected"
    );
    assert!(
        forge.list_releases(&repo()).await.is_ok(),
        "other op unaffected"
    );
    for _ in 0..2 {
        let err = forge
            .release_by_tag(&repo(), "v1")
            .await
            .expect_err("injected");
        assert!(
            matches!(
                err,
                Error::RateLimited {
                    retry_after: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert!(
        forge.release_by_tag(&repo(), "v1").await.is_ok(),
        "rule used up"
    );
    assert_eq!(forge.count(ForgeOp::ReleaseByTag, &repo()), 3);
    assert_eq!(
        forge
            .requests()
            .iter()
            .filter(|r| r.error.is_some())
            .count(),
        2
    );
}

#[tokio::test]
async fn fault_rate_is_reproducible_from_the_seed() {
    async fn failures(seed: u64) -> Vec<bool> {
        let forge = InMemoryForge::new();
        forge.set_fault_rate(0.3, seed);
        let mut out = Vec::new();
        for _ in 0..200 {
            out.push(forge.release_by_tag(&repo(), "v1").await.is_err());
        }
        out
    }
    let a = failures(7).await;
    assert_eq!(a, failures(7).await);
    let rate = a.iter().filter(|f| **f).count() as f64 / a.len() as f64;
    assert!((0.15..0.45).contains(&rate), "rate {rate}");
}
