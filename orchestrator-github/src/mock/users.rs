//! The mock's identities: users with tokens and permissions, read from a `--users` file, so a
//! rehearsal can play a maintainer, a contributor with write access and a read-only stranger
//! against one server, each request acting as the user its token belongs to.
//!
//! ```toml
//! # users.toml
//! [[user]]
//! login = "alice"           # the GitHub login requests with this token act as
//! token = "alice-token"     # what `Authorization: Bearer ...` carries
//! permission = "maintain"   # none, read, triage, write, maintain or admin (on every repo)
//! email = "alice@corp.example"  # optional: commits with this e-mail are hers
//! bot = false               # optional: a `Bot` account (type "Bot" in user objects)
//! ```
//!
//! Commits map to a user by a users-file `email`, or by GitHub's no-reply form
//! `login@users.noreply.github.com` (also `ID+login@users.noreply.github.com`).

use std::path::Path;

use orchestrator_core::forge::Permission;
use orchestrator_core::secret::SecretString;
use orchestrator_core::{Error, Result};
use serde::Deserialize;
use serde_json::{Value, json};

/// One user of the mock. `Debug` never shows the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// The login.
    pub login: String,
    /// The token that authenticates as this user.
    pub token: SecretString,
    /// Their permission on every repository of the mock.
    pub permission: Permission,
    /// An e-mail their commits carry (besides the no-reply form).
    pub email: Option<String>,
    /// A bot account (`"type": "Bot"`).
    pub bot: bool,
}

impl MockUser {
    /// A user with `login`, `token` and `permission`, no extra e-mail, not a bot.
    pub fn new(login: &str, token: &str, permission: Permission) -> Self {
        Self {
            login: login.to_owned(),
            token: SecretString::new(token),
            permission,
            email: None,
            bot: false,
        }
    }
}

/// The users file's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<UserEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    login: String,
    token: String,
    permission: Permission,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    bot: bool,
}

/// Reads a users file (see the module docs). Errors name the file, the line or entry, and the
/// field, never a token's value.
pub fn load_users(path: &Path) -> Result<Vec<MockUser>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid_input(format!("users file {}: cannot read: {e}", path.display()))
    })?;
    parse_users(&text, &path.display().to_string())
}

/// Parses a users file's text; `source` names it in errors.
pub fn parse_users(text: &str, source: &str) -> Result<Vec<MockUser>> {
    let file: UsersFile = toml::from_str(text).map_err(|e| {
        // The message only: toml's full rendering quotes the offending line, which may hold a
        // token.
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(" line {l}")).unwrap_or_default();
        Error::invalid_input(format!(
            "users file {source}{at}: {}",
            e.message().trim_end()
        ))
    })?;
    let mut users: Vec<MockUser> = Vec::new();
    for (i, entry) in file.user.into_iter().enumerate() {
        let which = format!("users file {source}: user #{}", i + 1);
        let login = entry.login.trim();
        if login.is_empty()
            || !login
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_[]".contains(c))
        {
            return Err(Error::invalid_input(format!(
                "{which}: login {:?} is not a GitHub login",
                entry.login
            )));
        }
        if entry.token.trim().is_empty() {
            return Err(Error::invalid_input(format!(
                "{which} ({login}): token is empty"
            )));
        }
        if let Some(other) = users.iter().find(|u| u.login.eq_ignore_ascii_case(login)) {
            return Err(Error::invalid_input(format!(
                "{which}: login {login:?} is already user {:?}",
                other.login
            )));
        }
        if let Some(other) = users
            .iter()
            .find(|u| u.token.expose() == entry.token.trim())
        {
            return Err(Error::invalid_input(format!(
                "{which} ({login}): token is the same as {}'s",
                other.login
            )));
        }
        users.push(MockUser {
            login: login.to_owned(),
            token: SecretString::new(entry.token.trim()),
            permission: entry.permission,
            email: entry
                .email
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty()),
            bot: entry.bot,
        });
    }
    Ok(users)
}

/// The login an e-mail maps to: a user's configured `email`, else GitHub's no-reply form.
pub(crate) fn login_for_email(users: &[MockUser], email: &str) -> Option<String> {
    if let Some(user) = users.iter().find(|u| {
        u.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    }) {
        return Some(user.login.clone());
    }
    let (local, domain) = email.rsplit_once('@')?;
    if !domain.to_ascii_lowercase().starts_with("users.noreply") {
        return None;
    }
    let login = local.split_once('+').map_or(local, |(_, login)| login);
    if login.is_empty() {
        return None;
    }
    // A configured user's spelling wins; any other no-reply login is taken as is.
    Some(
        users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
            .map_or_else(|| login.to_owned(), |u| u.login.clone()),
    )
}

/// A stable numeric id for `login` (GitHub's ids are stable per account).
pub(crate) fn user_id(login: &str) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in login.to_ascii_lowercase().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % 100_000_000 + 1
}

/// A user object as GitHub embeds it (`simple-user`: every field GitHub's OpenAPI requires).
pub(crate) fn user_json(base_url: &str, users: &[MockUser], login: &str) -> Value {
    let bot = login.ends_with("[bot]")
        || users
            .iter()
            .any(|u| u.bot && u.login.eq_ignore_ascii_case(login));
    let id = user_id(login);
    let api = format!("{base_url}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_mock{id}"),
        "avatar_url": format!("{base_url}/avatars/u/{id}"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{base_url}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": if bot { "Bot" } else { "User" },
        "site_admin": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[user]]
login = "alice"
token = "tok-alice"
permission = "maintain"
email = "alice@corp.example"

[[user]]
login = "mallory"
token = "tok-mallory"
permission = "write"

[[user]]
login = "ci-bot[bot]"
token = "tok-bot"
permission = "write"
bot = true
"#;

    #[test]
    fn a_users_file_reads_into_users() {
        let users = parse_users(FILE, "users.toml").expect("valid");
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].login, "alice");
        assert_eq!(users[0].permission, Permission::Maintain);
        assert_eq!(users[0].token.expose(), "tok-alice");
        assert!(users[2].bot);
        assert!(!format!("{users:?}").contains("tok-"), "Debug hides tokens");
    }

    #[test]
    fn bad_users_files_name_the_field_and_never_the_token() {
        let cases = [
            (FILE.replace("\"maintain\"", "\"superuser\""), "line 5"),
            (
                FILE.replace("login = \"mallory\"", "login = \"al ice\""),
                "user #2",
            ),
            (
                FILE.replace("\"tok-mallory\"", "\"tok-alice\""),
                "same as alice's",
            ),
            (
                FILE.replace("login = \"mallory\"", "login = \"Alice\""),
                "already user",
            ),
            (
                FILE.replace("bot = true", "bot = true\nadmin = 1"),
                "unknown field",
            ),
            // A syntax error on a token's line: the line is named, its text is not shown.
            (
                FILE.replace("token = \"tok-mallory\"", "token = tok-mallory"),
                "line 10",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_users(&text, "users.toml").expect_err(expected);
            let message = err.to_string();
            assert!(message.contains("users.toml"), "{message}");
            assert!(message.contains(expected), "{expected}: {message}");
            assert!(!message.contains("tok-"), "a token leaked: {message}");
        }
    }

    #[test]
    fn e_mails_map_to_logins() {
        let users = parse_users(FILE, "users.toml").expect("valid");
        let login = |e: &str| login_for_email(&users, e);
        assert_eq!(login("alice@corp.example").as_deref(), Some("alice"));
        assert_eq!(
            login("mallory@users.noreply.github.com").as_deref(),
            Some("mallory")
        );
        assert_eq!(
            login("1234+MALLORY@users.noreply.github.com").as_deref(),
            Some("mallory")
        );
        assert_eq!(login("stranger@example.com"), None);
        assert_eq!(user_id("alice"), user_id("Alice"));
        let user = user_json("http://x", &users, "ci-bot[bot]");
        assert_eq!(user["type"], "Bot");
        assert_eq!(user_json("http://x", &users, "alice")["type"], "User");
    }
}
