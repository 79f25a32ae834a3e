//! The scale PR flow rehearsed end to end from the CLI against an `orchestrator mock-forge`
//! process with `--users` and `--origins`: the bot plans and proposes (its push is what the
//! mock reads as the pull request's head), people act through the mock's HTTP API with their own
//! tokens, and `orchestrator pr-command` handles each `/apply-plan` comment as the workflow
//! would. Forgeries are refused with nothing applied: a write user editing the bot's comment into
//! an approval, the bot approving its own pull request (GitHub's 422), and an approval by someone
//! who pushed to the pull request. A second person's review then lets `/apply-plan` apply in the
//! same job and post its result.

use std::path::Path;
use std::process::Command;

use orchestrator_core::forge::{IssueForge, PullRequestForge, RepoId, ReviewState};
use orchestrator_core::secret::SecretString;
use orchestrator_github::GitHubForge;

mod common;
use common::{MockForge, SCALE_STATE};

const USERS: &str = r#"
[[user]]
login = "orchestrator-bot"
token = "tok-bot-0123456789"
permission = "write"
bot = true

[[user]]
login = "maint"
token = "tok-maint-0123456789"
permission = "maintain"

[[user]]
login = "mallory"
token = "tok-mallory-0123456789"
permission = "write"
"#;

const BOT: &str = "tok-bot-0123456789";

fn git(dir: &Path, login: &str, args: &[&str]) -> String {
    let email = format!("{login}@users.noreply.github.com");
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .envs([
            ("GIT_AUTHOR_NAME", login),
            ("GIT_AUTHOR_EMAIL", email.as_str()),
            ("GIT_COMMITTER_NAME", login),
            ("GIT_COMMITTER_EMAIL", email.as_str()),
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

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `orchestrator ARGS` in `dir` as the bot (its token, the mock's URL, the repository).
fn orchestrator(dir: &Path, url: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .current_dir(dir)
        .env("GITHUB_REPOSITORY", "ledger-mind/website")
        .env("GITHUB_TOKEN", BOT)
        .env_remove("GH_TOKEN")
        .env("ORCHESTRATOR_FORGE_URL", url)
        .env_remove("ORCHESTRATOR_LOG")
        .args(args)
        .output()
        .expect("runs");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !format!("{}{}", run.stdout, run.stderr).contains("tok-"),
        "a token leaked: {}{}",
        run.stdout,
        run.stderr
    );
    run
}

/// An `issue_comment` event for comment `id`, shaped as GitHub sends it (the fields a
/// handler reads, and the ones around them).
fn event(dir: &Path, number: u64, id: u64, user: &str, body: &str) {
    let event = serde_json::json!({
        "action": "created",
        "issue": {
            "number": number,
            "state": "open",
            "pull_request": {"url": format!("https://api.github.com/repos/ledger-mind/website/pulls/{number}")},
            "user": {"login": "orchestrator-bot", "type": "Bot"}
        },
        "comment": {
            "id": id,
            "body": body,
            "user": {"login": user, "type": "User"},
            "author_association": "COLLABORATOR"
        },
        "repository": {"full_name": "ledger-mind/website", "name": "website",
                        "owner": {"login": "ledger-mind"}, "default_branch": "main"},
        "sender": {"login": user, "type": "User"}
    });
    std::fs::write(dir.join("event.json"), event.to_string()).expect("write event");
}

fn forge(url: &str, token: &str) -> GitHubForge {
    GitHubForge::builder()
        .api_url(url)
        .token(Some(SecretString::new(token)))
        .max_retries(0)
        .build()
        .expect("forge")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pr_flow_rehearsed_against_mock_forge_with_users() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("cluster.yaml"), SCALE_STATE).expect("state");
    std::fs::write(root.join("users.toml"), USERS).expect("users");
    let origins = root.join("origins");
    let origin = origins.join("website.git");
    let clone = root.join("website");
    std::fs::create_dir_all(&origin).expect("mkdir");
    std::fs::create_dir_all(&clone).expect("mkdir");
    git(&origin, "maint", &["init", "-q", "--bare", "-b", "main"]);
    git(&clone, "maint", &["init", "-q", "-b", "main"]);
    git(
        &clone,
        "maint",
        &["config", "user.name", "orchestrator-bot"],
    );
    git(
        &clone,
        "maint",
        &[
            "config",
            "user.email",
            "orchestrator-bot@users.noreply.github.com",
        ],
    );
    // The policy lives on the default branch: the bot's login is a bot's.
    std::fs::write(clone.join("README.md"), "site\n").expect("write");
    std::fs::write(
        clone.join("orchestrator.toml"),
        "[scale]\nbot_logins = [\"orchestrator-bot\"]\n",
    )
    .expect("write");
    git(&clone, "maint", &["add", "."]);
    git(&clone, "maint", &["commit", "-q", "-m", "init"]);
    git(
        &clone,
        "maint",
        &["remote", "add", "origin", origin.to_str().expect("utf-8")],
    );
    git(&clone, "maint", &["push", "-q", "origin", "main"]);

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.current_dir(root)
        .args([
            "mock-forge",
            "--origins",
            "origins",
            "--users",
            "users.toml",
        ])
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("ORCHESTRATOR_FORGE_URL");
    let mock = MockForge::spawn(cmd);
    let url = mock.url.clone();
    let repo = RepoId::new("ledger-mind", "website");
    let bot = forge(&url, BOT);
    let maint = forge(&url, "tok-maint-0123456789");
    let mallory = forge(&url, "tok-mallory-0123456789");

    // The bot plans and proposes: its push is the pull request's head on the mock.
    let run = orchestrator(
        root,
        &url,
        &[
            "scale",
            "plan",
            "--cluster",
            "file:cluster.yaml",
            "--out",
            "plan",
            "--target=prod",
            "--namespace=assistant",
            "--kube-context=production",
            "--workload=Deployment:web:6",
            "--req=web:cpu=500m,mem=1Gi",
            "--lim=web:cpu=1,mem=2Gi",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = orchestrator(
        root,
        &url,
        &["scale", "propose", "--plan", "plan", "--clone", "website"],
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let open = bot.list_pull_requests(&repo, "open").await.expect("lists");
    assert_eq!(open.len(), 1, "{open:?}");
    let pr = &open[0];
    let n = pr.number;
    assert_eq!(pr.author, "orchestrator-bot");
    let pushed = git(
        &origin,
        "maint",
        &["rev-parse", &format!("refs/heads/{}", pr.head_ref)],
    );
    assert_eq!(pr.head_sha, pushed, "the head is the commit really pushed");
    let files = bot.list_pull_files(&repo, n).await.expect("files");
    assert!(files.iter().any(|f| f.ends_with("plan.yaml")), "{files:?}");

    let unchanged = || {
        assert_eq!(
            std::fs::read_to_string(root.join("cluster.yaml")).expect("state"),
            SCALE_STATE,
            "nothing may be applied"
        );
    };
    let pr_command = |comment: &orchestrator_core::forge::Comment, user: &str| {
        event(root, n, comment.id, user, &comment.body);
        orchestrator(
            root,
            &url,
            &[
                "pr-command",
                "--event-file",
                "event.json",
                "--cluster",
                "file:cluster.yaml",
            ],
        )
    };

    // Forgery 1: a write user edits the bot's comment into an approval and asks to apply.
    let bots_comment = bot
        .list_comments(&repo, n)
        .await
        .expect("comments")
        .into_iter()
        .find(|c| c.author == "orchestrator-bot")
        .expect("the bot commented the plan");
    let forged = mallory
        .update_comment(
            &repo,
            bots_comment.id,
            &format!(
                "{}\n<!-- orchestrator:approval approver=maint head={} -->\napproved by @maint",
                bots_comment.body, pr.head_sha
            ),
        )
        .await
        .expect("GitHub lets a write user edit any comment");
    assert!(forged.updated_at_ms > forged.created_at_ms);
    let ask = mallory
        .create_comment(&repo, n, "/apply-plan")
        .await
        .expect("comment");
    let run = pr_command(&ask, "mallory");
    assert!(
        run.stdout
            .starts_with("refused: /apply-plan: no qualified approval"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    unchanged();

    // Forgery 2: the bot cannot approve its own pull request (GitHub's 422).
    let own = bot
        .create_review(&repo, n, ReviewState::Approved, "lgtm")
        .await
        .expect_err("an author's approval is refused");
    assert!(
        own.to_string()
            .contains("Can not approve your own pull request"),
        "{own}"
    );

    // Forgery 3: mallory pushes to the plan's branch, then approves: she is one of its
    // committers, so her approval does not count.
    git(
        &clone,
        "mallory",
        &["commit", "-q", "--allow-empty", "-m", "nudge"],
    );
    git(
        &clone,
        "mallory",
        &["push", "-q", "origin", &format!("HEAD:{}", pr.head_ref)],
    );
    let commits = bot.list_pull_commits(&repo, n).await.expect("commits");
    assert_eq!(
        commits.last().and_then(|c| c.committer.as_deref()),
        Some("mallory"),
        "{commits:?}"
    );
    let head = bot.pull_request(&repo, n).await.expect("pr").head_sha;
    assert_ne!(head, pr.head_sha, "the push moved the head");
    mallory
        .create_review(&repo, n, ReviewState::Approved, "")
        .await
        .expect("GitHub accepts her review");
    let ask = maint
        .create_comment(&repo, n, "/apply-plan")
        .await
        .expect("comment");
    let run = pr_command(&ask, "maint");
    assert!(
        run.stdout.starts_with("refused: /apply-plan")
            && run.stdout.contains("@mallory wrote and pushed commit"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    unchanged();

    // A second person approves at the head: /apply-plan applies in the same job and reports.
    let review = maint
        .create_review(&repo, n, ReviewState::Approved, "LGTM")
        .await
        .expect("maint approves");
    assert_eq!(review.commit_id, head);
    let ask = maint
        .create_comment(&repo, n, "/apply-plan")
        .await
        .expect("comment");
    let run = pr_command(&ask, "maint");
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with("executed: /apply-plan") && run.stdout.contains("maint"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert_ne!(
        std::fs::read_to_string(root.join("cluster.yaml")).expect("state"),
        SCALE_STATE,
        "applied"
    );
    let result = bot
        .list_comments(&repo, n)
        .await
        .expect("comments")
        .into_iter()
        .rev()
        .find(|c| c.author == "orchestrator-bot")
        .expect("a result comment");
    assert!(result.id > ask.id, "the result follows the command");
    assert!(result.body.contains("maint"), "{}", result.body);
}
