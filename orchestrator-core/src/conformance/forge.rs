//! The `Forge` conformance suite: every backend (in-memory, GitHub over the mock server) runs it.
//!
//! Each function exercises one behaviour on `repo`, which must exist and may already hold other
//! releases; tags are unique per function so the functions can share one repository.

use crate::error::Error;
use crate::forge::{AssetState, Forge, NewRelease, RepoId};

fn new_release(tag: &str) -> NewRelease {
    NewRelease {
        tag: tag.to_owned(),
        name: Some(format!("Release {tag}")),
        body: Some("notes".into()),
        ..NewRelease::default()
    }
}

/// A tag without a release answers `None`, not an error.
pub async fn missing_release_is_none(forge: &dyn Forge, repo: &RepoId) {
    let found = forge
        .release_by_tag(repo, "conformance-missing")
        .await
        .expect("lookup succeeds");
    assert!(
        found.is_none(),
        "{}: expected no release, got {found:?}",
        forge.backend()
    );
}

/// A created release is found by its tag with the fields it was created with.
pub async fn created_release_is_found_by_tag(forge: &dyn Forge, repo: &RepoId) {
    let created = forge
        .create_release(repo, &new_release("conformance-create"))
        .await
        .expect("create");
    let found = forge
        .release_by_tag(repo, "conformance-create")
        .await
        .expect("lookup")
        .expect("the created release");
    assert_eq!(found.id, created.id);
    assert_eq!(found.tag, "conformance-create");
    assert_eq!(found.name.as_deref(), Some("Release conformance-create"));
    assert!(!found.draft);
    assert!(found.assets.is_empty());
}

/// Creating a second release for the same tag is `AlreadyExists`.
pub async fn creating_a_release_twice_is_already_exists(forge: &dyn Forge, repo: &RepoId) {
    forge
        .create_release(repo, &new_release("conformance-twice"))
        .await
        .expect("create");
    let err = forge
        .create_release(repo, &new_release("conformance-twice"))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, Error::AlreadyExists { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// An uploaded asset is listed on its release, fully uploaded, with its size.
pub async fn uploaded_asset_is_listed(forge: &dyn Forge, repo: &RepoId) {
    let release = forge
        .create_release(repo, &new_release("conformance-asset"))
        .await
        .expect("create");
    let asset = forge
        .upload_asset(repo, release.id, "app.tar.gz", b"0123456789")
        .await
        .expect("upload");
    assert_eq!(asset.size, 10);
    let found = forge
        .release_by_tag(repo, "conformance-asset")
        .await
        .expect("lookup")
        .expect("release");
    assert_eq!(found.assets.len(), 1);
    assert_eq!(found.assets[0].name, "app.tar.gz");
    assert_eq!(found.assets[0].size, 10);
    assert_eq!(found.assets[0].state, AssetState::Uploaded);
}

/// Uploading a second asset with the same name is `AlreadyExists`.
pub async fn duplicate_asset_is_already_exists(forge: &dyn Forge, repo: &RepoId) {
    let release = forge
        .create_release(repo, &new_release("conformance-dup-asset"))
        .await
        .expect("create");
    forge
        .upload_asset(repo, release.id, "a.bin", b"x")
        .await
        .expect("upload");
    let err = forge
        .upload_asset(repo, release.id, "a.bin", b"y")
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, Error::AlreadyExists { .. }),
        "{}: got {err:?}",
        forge.backend()
    );
}

/// Listing includes created releases.
pub async fn list_releases_includes_created(forge: &dyn Forge, repo: &RepoId) {
    forge
        .create_release(repo, &new_release("conformance-list"))
        .await
        .expect("create");
    let all = forge.list_releases(repo).await.expect("list");
    assert!(
        all.iter().any(|r| r.tag == "conformance-list"),
        "{}: {all:?}",
        forge.backend()
    );
}

/// Every behaviour above, in order.
pub async fn run_all(forge: &dyn Forge, repo: &RepoId) {
    missing_release_is_none(forge, repo).await;
    created_release_is_found_by_tag(forge, repo).await;
    creating_a_release_twice_is_already_exists(forge, repo).await;
    uploaded_asset_is_listed(forge, repo).await;
    duplicate_asset_is_already_exists(forge, repo).await;
    list_releases_includes_created(forge, repo).await;
}
