//! `GixVcs` behaviour beyond the shared suite: what the tags look like to `git`, error shapes,
//! and guarding `push_tag` against configuration that would push more than the tag.

use orchestrator_core::error::Error;
use orchestrator_core::vcs::{Vcs, tag_ref};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{SANDBOX_USER, Sandbox, SandboxRepo, commit_file, git, write_file};

fn sandbox() -> (tempfile::TempDir, Sandbox) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let sandbox = Sandbox::new(dir.path()).expect("create the sandbox");
    (dir, sandbox)
}

fn repo(sandbox: &Sandbox, name: &str) -> SandboxRepo {
    sandbox
        .create_repo(name, &[("README.md", "# demo\n")])
        .expect("create_repo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_tag_is_annotated_with_the_configured_tagger_and_message() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "annotated");
    let head = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
    let vcs = GixVcs::new();
    vcs.create_tag(&repo.clone, "v1.0.0", &head, "Release v1.0.0")
        .await
        .expect("create_tag");

    let kind = git(&repo.clone, &["cat-file", "-t", "refs/tags/v1.0.0"]).expect("cat-file");
    assert_eq!(
        kind, "tag",
        "an annotated tag object, not a lightweight tag"
    );
    let body = git(&repo.clone, &["cat-file", "-p", "refs/tags/v1.0.0"]).expect("cat-file");
    assert!(body.contains(&format!("object {head}")), "{body}");
    assert!(body.contains("type commit"), "{body}");
    assert!(body.contains("tag v1.0.0"), "{body}");
    let tagger = format!("tagger {} <{}>", SANDBOX_USER.0, SANDBOX_USER.1);
    assert!(
        body.contains(&tagger),
        "tagger from the clone's config: {body}"
    );
    assert!(body.ends_with("Release v1.0.0"), "{body}");
    // git itself accepts the object.
    git(&repo.clone, &["fsck", "--no-dangling"]).expect("fsck");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_tag_rejects_unknown_commits_and_bad_names() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "bad-input");
    let head = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
    let vcs = GixVcs::new();

    let missing = "0123456789012345678901234567890123456789";
    let err = vcs
        .create_tag(&repo.clone, "v1", missing, "m")
        .await
        .expect_err("unknown commit");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let err = vcs
        .create_tag(&repo.clone, "v1", "HEAD", "m")
        .await
        .expect_err("not an id");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");

    let tree = git(&repo.clone, &["rev-parse", "HEAD^{tree}"]).expect("rev-parse");
    let err = vcs
        .create_tag(&repo.clone, "v1", &tree, "m")
        .await
        .expect_err("a tree");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");

    let err = vcs
        .create_tag(&repo.clone, "bad..name", &head, "m")
        .await
        .expect_err("bad name");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(
        vcs.local_tag(&repo.clone, "v1").await.expect("local_tag"),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_tag_ignores_push_follow_tags() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "follow-tags");
    git(&repo.clone, &["config", "push.followTags", "true"]).expect("config");
    let base = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
    let vcs = GixVcs::new();
    vcs.create_tag(&repo.clone, "older", &base, "reachable from the pushed tag")
        .await
        .expect("tag");
    let ahead =
        commit_file(&repo.clone, "CHANGELOG.md", "## 2.0.0\n", "Changelog").expect("commit");
    vcs.create_tag(&repo.clone, "v2.0.0", &ahead, "Release v2.0.0")
        .await
        .expect("tag");

    vcs.push_tag(&repo.clone, "origin", "v2.0.0")
        .await
        .expect("push_tag");

    let tags = git(&repo.origin, &["tag", "--list"]).expect("tag --list");
    assert_eq!(tags, "v2.0.0", "only the requested tag reached the origin");
    let main = git(&repo.origin, &["rev-parse", "refs/heads/main"]).expect("rev-parse");
    assert_eq!(main, base, "the origin's main did not move");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_tag_conflict_quotes_git() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "conflict");
    sandbox
        .tag_origin_elsewhere(&repo, "v1.0.0")
        .expect("tag elsewhere");
    let head = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
    let vcs = GixVcs::new();
    vcs.create_tag(&repo.clone, "v1.0.0", &head, "mine")
        .await
        .expect("create_tag");
    let err = vcs
        .push_tag(&repo.clone, "origin", "v1.0.0")
        .await
        .expect_err("conflict");
    let Error::Conflict { message } = &err else {
        panic!("expected Conflict, got {err:?}");
    };
    assert!(
        message.contains("already exists"),
        "git's reason is kept: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_failures_carry_gits_stderr() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "no-remote");
    let vcs = GixVcs::new();
    let err = vcs
        .fetch(&repo.clone, "nowhere", "main")
        .await
        .expect_err("no such remote");
    let Error::Vcs { message, .. } = &err else {
        panic!("expected Vcs, got {err:?}");
    };
    assert!(message.contains("nowhere"), "{message}");
    let err = vcs
        .remote_refs(&repo.clone, "nowhere", &[tag_ref("v1")])
        .await
        .expect_err("no remote");
    assert!(matches!(err, Error::Vcs { .. }), "{err:?}");
    let err = vcs
        .fetch(&repo.clone, "--upload-pack=touch /tmp/x", "main")
        .await
        .expect_err("flag");
    assert!(
        matches!(err, Error::InvalidInput { .. }),
        "names are never read as options: {err:?}"
    );
    let err = vcs
        .push_tag(&repo.clone, "origin", "v404")
        .await
        .expect_err("no such tag");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirty_paths_stop_at_a_hundred_and_collapse_untracked_dirs() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "many");
    for i in 0..150 {
        write_file(&repo.clone, &format!("file-{i:03}.txt"), "x\n").expect("write");
    }
    write_file(&repo.clone, "newdir/a.txt", "x\n").expect("write");
    write_file(&repo.clone, "newdir/b.txt", "x\n").expect("write");
    let vcs = GixVcs::new();
    let dirty = vcs.dirty_paths(&repo.clone).await.expect("dirty_paths");
    assert_eq!(dirty.len(), 100, "capped: {}", dirty.len());

    let repo = self::repo(&sandbox, "collapsed");
    write_file(&repo.clone, "newdir/a.txt", "x\n").expect("write");
    write_file(&repo.clone, "newdir/b.txt", "x\n").expect("write");
    let dirty = vcs.dirty_paths(&repo.clone).await.expect("dirty_paths");
    assert_eq!(
        dirty,
        vec!["newdir/".to_owned()],
        "like `git status --porcelain`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_origin_is_not_a_work_tree() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "bare");
    let vcs = GixVcs::new();
    assert!(
        !vcs.is_repository(&repo.origin)
            .await
            .expect("is_repository")
    );
    assert!(vcs.is_repository(&repo.clone).await.expect("is_repository"));
    assert!(
        !vcs.is_repository(&repo.clone.join(".git"))
            .await
            .expect("is_repository")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_remotes_are_asked_through_ls_remote_and_agree_with_local_reads() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "via-cli");
    let head = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
    let vcs = GixVcs::new();
    vcs.create_tag(&repo.clone, "v1.0.0", &head, "Release v1.0.0")
        .await
        .expect("create_tag");
    vcs.push_tag(&repo.clone, "origin", "v1.0.0")
        .await
        .expect("push");
    let wanted = vec![
        tag_ref("v1.0.0"),
        "refs/heads/main".to_owned(),
        tag_ref("v9"),
    ];
    // A local origin is read directly...
    let direct = vcs
        .remote_refs(&repo.clone, "origin", &wanted)
        .await
        .expect("direct read");
    // ...and a network-looking URL goes through `git ls-remote` (here `insteadOf` maps it back
    // to the same bare repository, so both answers must agree).
    let origin = repo.origin.to_str().expect("utf-8 path");
    git(
        &repo.clone,
        &[
            "config",
            &format!("url.{origin}.insteadOf"),
            "example-host:acme/via-cli",
        ],
    )
    .expect("config");
    git(
        &repo.clone,
        &["remote", "set-url", "origin", "example-host:acme/via-cli"],
    )
    .expect("set-url");
    let via_cli = vcs
        .remote_refs(&repo.clone, "origin", &wanted)
        .await
        .expect("ls-remote");
    assert_eq!(direct, via_cli);
    assert_eq!(
        direct.get(&tag_ref("v1.0.0")),
        Some(&head),
        "annotated tag peeled to its commit"
    );
    assert_eq!(direct.len(), 2, "absent refs are absent: {direct:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ref_lock_left_by_a_killed_run_is_recovered_but_a_live_one_is_reported() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "locked");
    let head = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
    let lock = repo.clone.join(".git/refs/tags/v1.0.0.lock");
    // Left by a process killed mid-write, before this backend existed.
    write_file(&repo.clone, ".git/refs/tags/v1.0.0.lock", "").expect("lock");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let vcs = GixVcs::new();
    vcs.create_tag(&repo.clone, "v1.0.0", &head, "Release v1.0.0")
        .await
        .expect("the stale lock is removed and the tag written");
    assert!(!lock.exists());
    assert_eq!(
        vcs.local_tag(&repo.clone, "v1.0.0").await.expect("read"),
        Some(head.clone())
    );
    // A lock that appears while this backend lives belongs to a live writer. (File times come
    // from a coarse kernel clock: leave it a few ticks.)
    std::thread::sleep(std::time::Duration::from_millis(100));
    write_file(&repo.clone, ".git/refs/tags/v2.0.0.lock", "").expect("lock");
    let err = vcs
        .create_tag(&repo.clone, "v2.0.0", &head, "Release v2.0.0")
        .await
        .expect_err("a live lock is respected");
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("v2.0.0.lock exists"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_files_rejects_paths_outside_the_work_tree_and_detached_heads() {
    let (_dir, sandbox) = sandbox();
    let repo = repo(&sandbox, "commit-paths");
    let vcs = GixVcs::new();
    for bad in [
        "../escape.txt",
        "/etc/passwd",
        ".git/config",
        "a/../../b",
        "-n",
        "",
    ] {
        let files = vec![(bad.to_owned(), b"x".to_vec())];
        let err = vcs
            .commit_files(&repo.clone, &files, "m")
            .await
            .expect_err(bad);
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad}: {err:?}");
    }
    assert!(
        !repo
            .clone
            .parent()
            .expect("parent")
            .join("escape.txt")
            .exists(),
        "nothing written outside"
    );
    git(&repo.clone, &["checkout", "--quiet", "--detach"]).expect("detach");
    let files = vec![("a.txt".to_owned(), b"x".to_vec())];
    let err = vcs
        .commit_files(&repo.clone, &files, "m")
        .await
        .expect_err("detached");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_files_makes_the_first_commit_of_an_empty_repository() {
    let (_dir, sandbox) = sandbox();
    let path = sandbox
        .create_empty_repo("first")
        .expect("create_empty_repo");
    let vcs = GixVcs::new();
    assert!(
        vcs.commits_since(&path, None)
            .await
            .expect("commits_since")
            .is_empty(),
        "no history yet"
    );
    let files = vec![("README.md".to_owned(), b"# first\n".to_vec())];
    let commit = vcs
        .commit_files(&path, &files, "Initial commit")
        .await
        .expect("commit_files");
    let log = git(&path, &["log", "--format=%H %s"]).expect("log");
    assert_eq!(log, format!("{commit} Initial commit"));
}
