//! The shared `Vcs` conformance suite, run against `GixVcs` on real repositories built by the
//! sandbox: each behaviour is its own test with its own temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use orchestrator_core::conformance::vcs::{self as suite, VcsFixture};
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, SandboxRepo, commit_file, git, write_file};

/// Sandbox repositories in a temporary directory that lives as long as the fixture.
struct SandboxFixture {
    sandbox: Sandbox,
    _dir: tempfile::TempDir,
}

impl SandboxFixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let sandbox = Sandbox::new(dir.path()).expect("create the sandbox");
        SandboxFixture { sandbox, _dir: dir }
    }

    fn repo_of(&self, clone: &Path) -> SandboxRepo {
        let name = clone
            .file_name()
            .and_then(|n| n.to_str())
            .expect("clone paths end in the name");
        self.sandbox.repo(name)
    }
}

#[async_trait]
impl VcsFixture for SandboxFixture {
    async fn clean_clone(&self, name: &str) -> PathBuf {
        let files = [
            ("README.md", "# demo\n"),
            ("src/lib.rs", "//! demo\n"),
            (".gitignore", "*.log\ntarget/\n"),
        ];
        self.sandbox
            .create_repo(name, &files)
            .expect("create_repo")
            .clone
    }

    async fn empty_repository(&self, name: &str) -> PathBuf {
        self.sandbox
            .create_empty_repo(name)
            .expect("create_empty_repo")
    }

    async fn plain_directory(&self) -> PathBuf {
        self.sandbox.plain_dir().expect("plain_dir")
    }

    async fn modify_tracked_file(&self, clone: &Path) -> String {
        write_file(clone, "README.md", "# demo, changed\n").expect("write");
        "README.md".to_owned()
    }

    async fn stage_new_file(&self, clone: &Path) -> String {
        write_file(clone, "staged.txt", "staged\n").expect("write");
        git(clone, &["add", "staged.txt"]).expect("git add");
        "staged.txt".to_owned()
    }

    async fn delete_tracked_file(&self, clone: &Path) -> String {
        std::fs::remove_file(clone.join("src/lib.rs")).expect("remove");
        "src/lib.rs".to_owned()
    }

    async fn rewrite_tracked_file_unchanged(&self, clone: &Path) -> String {
        // Make sure the new modification time differs from the one the index recorded.
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_file(clone, "README.md", "# demo\n").expect("write");
        "README.md".to_owned()
    }

    async fn add_untracked_file(&self, clone: &Path) -> String {
        write_file(clone, "untracked.txt", "new\n").expect("write");
        "untracked.txt".to_owned()
    }

    async fn add_ignored_file(&self, clone: &Path) -> String {
        write_file(clone, "target/debug/build.bin", "ignored dir\n").expect("write");
        write_file(clone, "debug.log", "ignored\n").expect("write");
        "debug.log".to_owned()
    }

    async fn detach_head(&self, clone: &Path) {
        git(clone, &["checkout", "--quiet", "--detach"]).expect("detach");
    }

    async fn commit_locally(&self, clone: &Path) -> String {
        commit_file(clone, "local.txt", "local change\n", "Local change").expect("commit")
    }

    async fn advance_origin(&self, clone: &Path) -> String {
        self.sandbox
            .advance_origin(&self.repo_of(clone))
            .expect("advance_origin")
    }

    async fn tag_origin_elsewhere(&self, clone: &Path, tag: &str) {
        self.sandbox
            .tag_origin_elsewhere(&self.repo_of(clone), tag)
            .expect("tag elsewhere");
    }

    async fn origin_refs(&self, clone: &Path) -> BTreeMap<String, String> {
        let origin = self.repo_of(clone).origin;
        let listing = git(
            &origin,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        )
        .expect("for-each-ref");
        listing
            .lines()
            .map(|line| {
                let (name, id) = line.split_once(' ').expect("name and id");
                (name.to_owned(), id.to_owned())
            })
            .collect()
    }

    async fn origin_url(&self, clone: &Path) -> String {
        self.repo_of(clone)
            .origin
            .to_str()
            .expect("UTF-8 path")
            .to_owned()
    }
}

/// One `#[tokio::test]` per suite function, each with a fresh fixture.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = SandboxFixture::new();
                suite::$name(&GixVcs::new(), &fixture).await;
            }
        )*
    };
}

conformance!(
    clean_clone_is_clean_on_branch_matching_origin,
    modified_file_is_dirty,
    staged_file_is_dirty,
    deleted_file_is_dirty,
    untracked_file_is_dirty,
    ignored_file_is_clean,
    rewritten_unchanged_file_is_clean,
    detached_head_is_reported,
    unborn_head_is_reported,
    stale_tracking_ref_until_fetch,
    local_commit_differs_from_origin,
    tag_create_then_push_is_visible_remotely_at_commit,
    creating_existing_tag_is_already_exists,
    push_pushes_only_the_tag,
    pushing_tag_existing_remotely_elsewhere_fails,
    pushing_missing_tag_fails,
    remote_refs_returns_only_existing_requested_refs,
    remote_url_reported_and_missing_remote_is_none,
    non_repository_is_reported,
    commits_since_stops_at_the_tag,
    commit_files_commits_exactly_the_given_files,
    checkout_new_branch_switches_to_it,
    push_branch_pushes_only_the_branch,
    push_branch_never_forces,
);

/// The whole suite in one go, on one fixture, as a backend without per-test set-up would run it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all() {
    let fixture = SandboxFixture::new();
    suite::run_all(&GixVcs::new(), &fixture).await;
}
