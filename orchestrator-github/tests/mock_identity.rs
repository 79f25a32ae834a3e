//! `GitHubForge` against the mock with identities (a users file's tokens) and a bare origin:
//! every Forge method the trust model reads (comment by id and its edit, reviews, a pull
//! request's commits and files, pull requests by state, contents at a ref, compare, the token's
//! user), and the rules GitHub enforces that a forgery test depends on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use orchestrator_core::Error;
use orchestrator_core::forge::{
    AccessForge, ContentForge, IssueForge, NewPullRequest, Permission, PullRequestForge, RepoId,
    ReviewState,
};
use orchestrator_core::secret::SecretString;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions, MockUser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A bare origin `origins/app.git` with `main` (a policy file by alice) and a `plan` branch
/// (a plan by mallory), pushed from a work tree.
struct Sandbox {
    _dir: tempfile::TempDir,
    origins: PathBuf,
    work: PathBuf,
}

fn git(dir: &Path, login: &str, args: &[&str]) -> String {
    let email = format!("{login}@users.noreply.github.com");
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .envs([
            ("GIT_AUTHOR_NAME", login),
            ("GIT_AUTHOR_EMAIL", email.as_str()),
            ("GIT_COMMITTER_NAME", login),
            ("GIT_COMMITTER_EMAIL", email.as_str()),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("HOME", dir.to_str().expect("utf-8 path")),
        ])
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let origins = dir.path().join("origins");
        std::fs::create_dir(&origins).expect("mkdir");
        git(&origins, "alice", &["init", "--bare", "-q", "app.git"]);
        let work = dir.path().join("work");
        std::fs::create_dir(&work).expect("mkdir");
        git(&work, "alice", &["init", "-q"]);
        git(
            &work,
            "alice",
            &["remote", "add", "origin", "../origins/app.git"],
        );
        let sandbox = Self {
            _dir: dir,
            origins,
            work,
        };
        sandbox.commit("alice", "orchestrator.toml", "approvers = [\"alice\"]\n");
        git(&sandbox.work, "alice", &["push", "-q", "origin", "main"]);
        git(&sandbox.work, "alice", &["checkout", "-q", "-b", "plan"]);
        sandbox.commit("mallory", "plans/web.yaml", "replicas: 6\n");
        sandbox.commit(
            "mallory",
            "orchestrator.toml",
            "approvers = [\"mallory\"]\n",
        );
        git(&sandbox.work, "mallory", &["push", "-q", "origin", "plan"]);
        sandbox
    }

    fn commit(&self, login: &str, path: &str, text: &str) -> String {
        let file = self.work.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
        git(&self.work, login, &["add", "-A"]);
        git(
            &self.work,
            login,
            &["commit", "-q", "-m", &format!("{login}: {path}")],
        );
        git(&self.work, login, &["rev-parse", "HEAD"])
    }

    fn push(&self, login: &str, branch: &str) {
        git(
            &self.work,
            login,
            &["push", "-q", "origin", &format!("HEAD:{branch}")],
        );
    }

    fn origin_head(&self, branch: &str) -> String {
        git(
            &self.origins.join("app.git"),
            "alice",
            &["rev-parse", &format!("refs/heads/{branch}")],
        )
    }
}

const USERS: &str = r#"
[[user]]
login = "alice"
token = "tok-alice"
permission = "maintain"

[[user]]
login = "mallory"
token = "tok-mallory"
permission = "write"

[[user]]
login = "reader"
token = "tok-reader"
permission = "read"

[[user]]
login = "orchestrator-bot"
token = "tok-bot"
permission = "write"
bot = true
"#;

struct World {
    server: MockGitHub,
    sandbox: Sandbox,
    repo: RepoId,
}

impl World {
    async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sandbox = Sandbox::new();
        let users = orchestrator_github::mock::parse_users(USERS, "users.toml").expect("valid");
        let server = MockGitHub::start(
            MockOptions::default()
                .origins(&sandbox.origins)
                .users(users),
        )
        .await
        .expect("mock starts");
        Self {
            server,
            sandbox,
            repo: RepoId::new("acme", "app"),
        }
    }

    fn as_user(&self, token: &str) -> GitHubForge {
        self.forge(Some(token), 100)
    }

    fn forge(&self, token: Option<&str>, page_size: u32) -> GitHubForge {
        GitHubForge::builder()
            .api_url(self.server.url())
            .token(token.map(SecretString::new))
            .page_size(page_size)
            .max_retries(0)
            .retry_base_delay(Duration::from_millis(5))
            .build()
            .expect("forge builds")
    }

    async fn open_plan_pr(&self) -> u64 {
        let pr = self
            .as_user("tok-mallory")
            .create_pull_request(
                &self.repo,
                &NewPullRequest {
                    title: "scale web".into(),
                    body: "plan".into(),
                    head: "plan".into(),
                    base: "main".into(),
                    draft: false,
                },
            )
            .await
            .expect("mallory opens a pull request");
        pr.number
    }

    /// A raw request (for routes the Forge trait has no method for: close, merge).
    async fn raw(&self, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
        let addr = self.server.url().trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connects");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("writes");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("reads");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

#[tokio::test]
async fn the_token_decides_who_acts() {
    let world = World::start().await;
    for (token, login) in [("tok-alice", "alice"), ("tok-bot", "orchestrator-bot")] {
        assert_eq!(
            world.as_user(token).current_user().await.expect("user"),
            login
        );
    }
    let stranger = world.as_user("tok-nobody").current_user().await;
    assert!(
        matches!(stranger, Err(Error::Unauthenticated { .. })),
        "{stranger:?}"
    );
    let anonymous = world.forge(None, 100).current_user().await;
    assert!(
        matches!(anonymous, Err(Error::Unauthenticated { .. })),
        "{anonymous:?}"
    );
    // Anonymous reads work; anonymous writes do not.
    let number = world.open_plan_pr().await;
    let reader = world.forge(None, 100);
    assert_eq!(
        reader
            .pull_request(&world.repo, number)
            .await
            .expect("reads")
            .author,
        "mallory"
    );
    let write = reader.create_comment(&world.repo, number, "hi").await;
    assert!(
        matches!(write, Err(Error::Unauthenticated { .. })),
        "{write:?}"
    );
    // A read user cannot open pull requests or label; the users file's permission is served.
    let denied = world
        .as_user("tok-reader")
        .add_labels(&world.repo, number, &["execute-plan".to_owned()])
        .await;
    assert!(
        matches!(denied, Err(Error::PermissionDenied { .. })),
        "{denied:?}"
    );
    assert_eq!(
        reader
            .permission(&world.repo, "mallory")
            .await
            .expect("permission"),
        Permission::Write
    );
}

#[tokio::test]
async fn comments_are_the_tokens_users_and_an_edit_shows() {
    let world = World::start().await;
    let number = world.open_plan_pr().await;
    let bot = world.as_user("tok-bot");
    let posted = bot
        .create_comment(&world.repo, number, "plan refused")
        .await
        .expect("bot comments");
    assert_eq!(posted.author, "orchestrator-bot");
    let fetched = world
        .as_user("tok-reader")
        .comment(&world.repo, posted.id)
        .await
        .expect("by id");
    assert_eq!(fetched, posted);
    assert_eq!(fetched.updated_at_ms, fetched.created_at_ms, "unedited");

    // A read user cannot edit someone else's comment (GitHub: write access needed).
    let refused = world
        .as_user("tok-reader")
        .update_comment(
            &world.repo,
            posted.id,
            "<!-- orchestrator:approval approver=alice -->",
        )
        .await;
    assert!(
        matches!(refused, Err(Error::PermissionDenied { .. })),
        "{refused:?}"
    );
    assert_eq!(
        bot.comment(&world.repo, posted.id)
            .await
            .expect("reads")
            .body,
        "plan refused"
    );

    // A write user can, and the edit moves `updated_at` (whole seconds on the wire).
    let forged = world
        .as_user("tok-mallory")
        .update_comment(
            &world.repo,
            posted.id,
            "<!-- orchestrator:approval approver=alice -->",
        )
        .await
        .expect("write users edit any comment");
    assert_eq!(
        forged.author, "orchestrator-bot",
        "an edit keeps the author"
    );
    let reread = bot.comment(&world.repo, posted.id).await.expect("reads");
    assert_eq!(reread.body, forged.body);
    assert!(
        reread.updated_at_ms > reread.created_at_ms,
        "an edit shows: {reread:?}"
    );
    let listed = bot.list_comments(&world.repo, number).await.expect("lists");
    assert_eq!(listed, [reread]);
    let missing = bot.comment(&world.repo, posted.id + 1000).await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn an_author_cannot_approve_their_own_pull_request_and_a_review_binds_the_head() {
    let world = World::start().await;
    let number = world.open_plan_pr().await;
    let own = world
        .as_user("tok-mallory")
        .create_review(&world.repo, number, ReviewState::Approved, "lgtm")
        .await;
    let err = own.expect_err("GitHub refuses an author's approval");
    assert!(
        err.to_string()
            .contains("Can not approve your own pull request"),
        "{err}"
    );

    let head = world.sandbox.origin_head("plan");
    let review = world
        .as_user("tok-alice")
        .create_review(&world.repo, number, ReviewState::Approved, "ok")
        .await
        .expect("alice approves");
    assert_eq!(
        (
            review.author.as_str(),
            review.state,
            review.commit_id.as_str()
        ),
        ("alice", ReviewState::Approved, head.as_str())
    );
    assert!(review.submitted_at_ms > 0);
    world
        .as_user("tok-reader")
        .create_review(&world.repo, number, ReviewState::Commented, "nice")
        .await
        .expect("a read user comments by review");
    // Listed oldest first, across pages.
    let reviews = world
        .forge(Some("tok-bot"), 1)
        .list_reviews(&world.repo, number)
        .await
        .expect("lists");
    let seen: Vec<(&str, ReviewState)> = reviews
        .iter()
        .map(|r| (r.author.as_str(), r.state))
        .collect();
    assert_eq!(
        seen,
        [
            ("alice", ReviewState::Approved),
            ("reader", ReviewState::Commented)
        ]
    );

    // A push moves the head; the approval stays at the commit it was given for.
    world
        .sandbox
        .commit("mallory", "plans/web.yaml", "replicas: 60\n");
    world.sandbox.push("mallory", "plan");
    let pr = world
        .as_user("tok-bot")
        .pull_request(&world.repo, number)
        .await
        .expect("reads");
    assert_eq!(pr.head_sha, world.sandbox.origin_head("plan"));
    assert_ne!(pr.head_sha, head);
    let reviews = world
        .as_user("tok-bot")
        .list_reviews(&world.repo, number)
        .await
        .expect("lists");
    assert_eq!(reviews[0].commit_id, head);
}

#[tokio::test]
async fn commits_of_a_push_name_the_pusher_and_files_come_from_the_diff() {
    let world = World::start().await;
    let number = world.open_plan_pr().await;
    let pr = world
        .as_user("tok-bot")
        .pull_request(&world.repo, number)
        .await
        .expect("reads");
    assert_eq!(
        pr.head_sha,
        world.sandbox.origin_head("plan"),
        "the head really pushed"
    );
    assert_eq!(pr.base_sha, world.sandbox.origin_head("main"));
    assert_eq!((pr.state.as_str(), pr.merged), ("open", false));

    // Alice pushes a commit to mallory's branch: she is now one of its committers.
    let alices = world
        .sandbox
        .commit("alice", "plans/web.yaml", "replicas: 7\n");
    world.sandbox.push("alice", "plan");
    // An e-mail no user has maps to no account.
    std::fs::write(world.sandbox.work.join("notes.txt"), "x\n").expect("write");
    git(&world.sandbox.work, "alice", &["add", "-A"]);
    let out = Command::new("git")
        .current_dir(&world.sandbox.work)
        .args(["-c", "commit.gpgsign=false", "commit", "-q", "-m", "notes"])
        .envs([
            ("GIT_AUTHOR_NAME", "Someone"),
            ("GIT_AUTHOR_EMAIL", "someone@example.com"),
            ("GIT_COMMITTER_NAME", "Someone"),
            ("GIT_COMMITTER_EMAIL", "someone@example.com"),
        ])
        .status()
        .expect("git runs");
    assert!(out.success());
    world.sandbox.push("alice", "plan");
    let commits = world
        .forge(Some("tok-bot"), 2)
        .list_pull_commits(&world.repo, number)
        .await
        .expect("lists across pages");
    let who: Vec<(Option<&str>, Option<&str>)> = commits
        .iter()
        .map(|c| (c.author.as_deref(), c.committer.as_deref()))
        .collect();
    assert_eq!(
        who,
        [
            (Some("mallory"), Some("mallory")),
            (Some("mallory"), Some("mallory")),
            (Some("alice"), Some("alice")),
            (None, None),
        ]
    );
    assert_eq!(commits[2].sha, alices);
    assert_eq!(commits[3].sha, world.sandbox.origin_head("plan"));

    let files = world
        .forge(Some("tok-bot"), 1)
        .list_pull_files(&world.repo, number)
        .await
        .expect("lists");
    let mut files: Vec<&str> = files.iter().map(String::as_str).collect();
    files.sort_unstable();
    assert_eq!(files, ["notes.txt", "orchestrator.toml", "plans/web.yaml"]);
}

#[tokio::test]
async fn contents_at_a_ref_differ_from_the_heads_and_compare_sees_the_base_move() {
    let world = World::start().await;
    let number = world.open_plan_pr().await;
    let bot = world.as_user("tok-bot");
    let at_base = bot
        .file_contents(&world.repo, "orchestrator.toml", "main")
        .await
        .expect("reads");
    let at_head = bot
        .file_contents(&world.repo, "orchestrator.toml", "plan")
        .await
        .expect("reads");
    assert_eq!(at_base.as_deref(), Some(&b"approvers = [\"alice\"]\n"[..]));
    assert_eq!(
        at_head.as_deref(),
        Some(&b"approvers = [\"mallory\"]\n"[..])
    );
    let by_sha = bot
        .file_contents(
            &world.repo,
            "plans/web.yaml",
            &world.sandbox.origin_head("plan"),
        )
        .await
        .expect("reads");
    assert_eq!(by_sha.as_deref(), Some(&b"replicas: 6\n"[..]));
    assert_eq!(
        bot.file_contents(&world.repo, "plans/web.yaml", "main")
            .await
            .expect("reads"),
        None,
        "absent on the base"
    );
    let unknown_ref = bot
        .file_contents(&world.repo, "orchestrator.toml", "nope")
        .await;
    assert!(
        matches!(unknown_ref, Err(Error::NotFound { .. })),
        "{unknown_ref:?}"
    );
    let directory = bot.file_contents(&world.repo, "plans", "plan").await;
    assert!(
        matches!(directory, Err(Error::InvalidInput { .. })),
        "{directory:?}"
    );

    let before = bot
        .compare_commits(&world.repo, "main", "plan")
        .await
        .expect("compares");
    assert_eq!((before.ahead_by, before.behind_by), (2, 0));
    assert_eq!(before.merge_base_sha, world.sandbox.origin_head("main"));
    // The base moves on: the plan's branch is now behind by one.
    git(&world.sandbox.work, "alice", &["checkout", "-q", "main"]);
    world.sandbox.commit("alice", "README", "hello\n");
    world.sandbox.push("alice", "main");
    let after = bot
        .compare_commits(&world.repo, "main", "plan")
        .await
        .expect("compares");
    assert_eq!((after.ahead_by, after.behind_by), (2, 1));
    let missing = bot.compare_commits(&world.repo, "main", "nope").await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    let _ = number;
}

#[tokio::test]
async fn pull_requests_close_reopen_and_merge_into_the_origin() {
    let world = World::start().await;
    let number = world.open_plan_pr().await;
    let bot = world.as_user("tok-bot");
    let path = format!("/repos/acme/app/pulls/{number}");
    // A read user may not close someone else's pull request.
    let (status, _) = world
        .raw("PATCH", &path, "tok-reader", r#"{"state":"closed"}"#)
        .await;
    assert_eq!(status, 403);
    let (status, body) = world
        .raw("PATCH", &path, "tok-alice", r#"{"state":"closed"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let closed = bot
        .list_pull_requests(&world.repo, "closed")
        .await
        .expect("lists");
    assert_eq!(
        closed.iter().map(|p| p.number).collect::<Vec<_>>(),
        [number]
    );
    assert!(
        bot.list_pull_requests(&world.repo, "open")
            .await
            .expect("lists")
            .is_empty()
    );
    let (status, _) = world
        .raw("PATCH", &path, "tok-mallory", r#"{"state":"open"}"#)
        .await;
    assert_eq!(status, 200);

    // Merging needs write access and writes a merge commit to the base in the origin.
    let (status, _) = world
        .raw("PUT", &format!("{path}/merge"), "tok-reader", "{}")
        .await;
    assert_eq!(status, 403);
    let (status, body) = world
        .raw("PUT", &format!("{path}/merge"), "tok-alice", "{}")
        .await;
    assert_eq!(status, 200, "{body}");
    let merged: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(merged["merged"], true);
    assert_eq!(
        merged["sha"].as_str(),
        Some(world.sandbox.origin_head("main").as_str())
    );
    let pr = bot.pull_request(&world.repo, number).await.expect("reads");
    assert_eq!((pr.state.as_str(), pr.merged), ("closed", true));
    assert_eq!(
        bot.file_contents(&world.repo, "orchestrator.toml", "main")
            .await
            .expect("reads")
            .as_deref(),
        Some(&b"approvers = [\"mallory\"]\n"[..]),
        "the base has the merged change"
    );
    // A merged pull request still lists its commits, and cannot merge again or reopen.
    assert_eq!(
        bot.list_pull_commits(&world.repo, number)
            .await
            .expect("lists")
            .len(),
        2
    );
    let (status, _) = world
        .raw("PUT", &format!("{path}/merge"), "tok-alice", "{}")
        .await;
    assert_eq!(status, 405);
    let (status, _) = world
        .raw("PATCH", &path, "tok-alice", r#"{"state":"open"}"#)
        .await;
    assert_eq!(status, 422);
    let all = bot
        .list_pull_requests(&world.repo, "all")
        .await
        .expect("lists");
    assert_eq!(all.len(), 1);
    let bad = bot.list_pull_requests(&world.repo, "merged").await;
    assert!(matches!(bad, Err(Error::InvalidInput { .. })), "{bad:?}");
}

#[tokio::test]
async fn answers_carry_githubs_user_objects() {
    let world = World::start().await;
    let number = world.open_plan_pr().await;
    let (status, body) = world
        .raw(
            "GET",
            &format!("/repos/acme/app/pulls/{number}"),
            "tok-bot",
            "",
        )
        .await;
    assert_eq!(status, 200);
    let pr: serde_json::Value = serde_json::from_str(&body).expect("json");
    for user in [
        &pr["user"],
        &pr["head"]["user"],
        &pr["base"]["repo"]["owner"],
    ] {
        for field in [
            "login",
            "id",
            "node_id",
            "type",
            "url",
            "html_url",
            "site_admin",
        ] {
            assert!(!user[field].is_null(), "{field} missing in {user}");
        }
    }
    assert_eq!(pr["user"]["login"], "mallory");
    world
        .as_user("tok-alice")
        .create_review(&world.repo, number, ReviewState::Approved, "")
        .await
        .expect("approves");
    let (_, body) = world
        .raw(
            "GET",
            &format!("/repos/acme/app/pulls/{number}/reviews"),
            "tok-bot",
            "",
        )
        .await;
    let reviews: serde_json::Value = serde_json::from_str(&body).expect("json");
    let review = &reviews[0];
    for field in [
        "id",
        "user",
        "body",
        "state",
        "commit_id",
        "submitted_at",
        "html_url",
        "_links",
    ] {
        assert!(!review[field].is_null(), "{field} missing in {review}");
    }
    assert_eq!(review["user"]["type"], "User");
    let (_, body) = world.raw("GET", "/user", "tok-bot", "").await;
    let me: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (me["login"].as_str(), me["type"].as_str()),
        (Some("orchestrator-bot"), Some("Bot"))
    );
}

#[tokio::test]
async fn users_added_later_act_and_the_required_token_still_works() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockGitHub::start(MockOptions::default().token("tok-required"))
        .await
        .expect("starts");
    server.create_repo("acme", "app");
    let forge = |token: &str| {
        GitHubForge::builder()
            .api_url(server.url())
            .token(Some(SecretString::new(token)))
            .max_retries(0)
            .build()
            .expect("builds")
    };
    // Without users, the required token acts as the forge's own user.
    assert_eq!(
        forge("tok-required").current_user().await.expect("user"),
        "orchestrator-bot"
    );
    server.add_user(MockUser::new("carol", "tok-carol", Permission::Admin));
    assert_eq!(
        forge("tok-carol").current_user().await.expect("user"),
        "carol"
    );
    assert_eq!(
        forge("tok-required").current_user().await.expect("user"),
        "orchestrator-bot"
    );
    let wrong = forge("tok-wrong").current_user().await;
    assert!(
        matches!(wrong, Err(Error::Unauthenticated { .. })),
        "{wrong:?}"
    );
}
