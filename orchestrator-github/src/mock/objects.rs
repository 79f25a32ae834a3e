//! GitHub's objects in full: every field GitHub's OpenAPI description requires of a repository,
//! release, asset, pull request, issue, label, workflow, workflow run, job and check run, so an
//! independent, schema-checking client accepts the mock's answers. The route handlers build the
//! fields they model (ids, states, times, URLs the mock serves); [`fill`] adds the rest with
//! GitHub's neutral values (counts of 0, `null` where GitHub allows it, URL templates).
//!
//! The conformance test `orchestrator-github/tests/mock_openapi.rs` checks the result against the
//! pinned description; when GitHub adds a required field, it names the operation and the field.

use orchestrator_core::forge::RepoId;
use serde_json::{Map, Value, json};

use super::users::{MockUser, user_id, user_json};

/// When every mock repository was created (GitHub requires a date; nothing depends on it).
pub(crate) const REPO_CREATED: &str = "2020-01-01T00:00:00Z";

/// The user CI-made releases and assets are authored by, as on GitHub.
pub(crate) const ACTIONS_BOT: &str = "github-actions[bot]";

/// Inserts `extra`'s fields that `value` lacks (both objects); returns `value`.
pub(crate) fn fill(mut value: Value, extra: Value) -> Value {
    if let (Some(obj), Value::Object(extra)) = (value.as_object_mut(), extra) {
        for (key, field) in extra {
            obj.entry(key).or_insert(field);
        }
    }
    value
}

/// A stable id for anything named by a string (GitHub ids are stable).
pub(crate) fn stable_id(what: &str) -> u64 {
    user_id(what)
}

/// A repository as GitHub embeds it (`minimal-repository`, also the `repository` of runs).
pub(crate) fn repo_minimal(base_url: &str, users: &[MockUser], repo: &RepoId) -> Value {
    let api = format!("{base_url}/repos/{repo}");
    let id = stable_id(&repo.to_string());
    let mut obj = Map::new();
    obj.insert("id".into(), json!(id));
    obj.insert("node_id".into(), json!(format!("R_mock{id}")));
    obj.insert("name".into(), json!(repo.name));
    obj.insert("full_name".into(), json!(repo.to_string()));
    obj.insert("owner".into(), user_json(base_url, users, &repo.owner));
    obj.insert("private".into(), json!(false));
    obj.insert("html_url".into(), json!(format!("{base_url}/{repo}")));
    obj.insert("description".into(), Value::Null);
    obj.insert("fork".into(), json!(false));
    obj.insert("url".into(), json!(api));
    // GitHub's URL templates, spelled as GitHub spells them.
    for (field, tail) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        obj.insert(field.into(), json!(format!("{api}{tail}")));
    }
    Value::Object(obj)
}

/// A repository as `GET /repos/{owner}/{repo}` answers it (`full-repository`).
pub(crate) fn repo_full(
    base_url: &str,
    users: &[MockUser],
    repo: &RepoId,
    default_branch: &str,
) -> Value {
    let host = base_url
        .split_once("://")
        .map_or(base_url, |(_, h)| h)
        .to_owned();
    fill(
        repo_minimal(base_url, users, repo),
        json!({
            "clone_url": format!("{base_url}/{repo}.git"),
            "git_url": format!("git://{host}/{repo}.git"),
            "ssh_url": format!("git@{host}:{repo}.git"),
            "svn_url": format!("{base_url}/{repo}"),
            "mirror_url": null,
            "homepage": null,
            "language": null,
            "license": null,
            "default_branch": default_branch,
            "forks": 0, "forks_count": 0,
            "stargazers_count": 0, "watchers": 0, "watchers_count": 0,
            "open_issues": 0, "open_issues_count": 0,
            "size": 0,
            "network_count": 0, "subscribers_count": 0,
            "has_issues": true, "has_projects": false, "has_wiki": false,
            "has_pages": false, "has_downloads": true, "has_discussions": false,
            "archived": false, "disabled": false,
            "visibility": "public",
            "topics": [],
            "is_template": false,
            "allow_forking": true,
            "web_commit_signoff_required": false,
            "pushed_at": REPO_CREATED,
            "created_at": REPO_CREATED,
            "updated_at": REPO_CREATED,
            "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
        }),
    )
}

/// A user as `GET /user` (`private-user`) or `GET /users/{username}` (`public-user`) answers it.
pub(crate) fn user_full(base_url: &str, users: &[MockUser], login: &str, private: bool) -> Value {
    let email = users
        .iter()
        .find(|u| u.login.eq_ignore_ascii_case(login))
        .and_then(|u| u.email.clone());
    let mut value = fill(
        user_json(base_url, users, login),
        json!({
            "name": null, "company": null, "blog": "", "location": null,
            "email": email, "hireable": null, "bio": null,
            "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": REPO_CREATED, "updated_at": REPO_CREATED,
        }),
    );
    if private {
        value = fill(
            value,
            json!({
                "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
                "disk_usage": 0, "collaborators": 0, "two_factor_authentication": false,
            }),
        );
    }
    value
}

/// A label (`label`): GitHub's grey for labels made on the fly.
pub(crate) fn label(base_url: &str, repo: &RepoId, name: &str) -> Value {
    let id = stable_id(&format!("{repo}#label#{name}"));
    json!({
        "id": id,
        "node_id": format!("LA_mock{id}"),
        "url": format!("{base_url}/repos/{repo}/labels/{}", encode_segment(name)),
        "name": name,
        "description": null,
        "color": "ededed",
        "default": false,
    })
}

/// The reactions summary GitHub embeds in issues, comments and releases (none here).
pub(crate) fn reactions(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"),
        "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "confused": 0,
        "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0,
    })
}

/// Percent-encodes one path segment (a label name may hold spaces).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_keeps_what_is_there() {
        let value = fill(json!({"a": 1, "b": null}), json!({"a": 2, "b": 3, "c": 4}));
        assert_eq!(value, json!({"a": 1, "b": null, "c": 4}));
    }

    #[test]
    fn repositories_carry_their_url_templates() {
        let repo = RepoId::new("o", "r");
        let value = repo_full("http://127.0.0.1:1", &[], &repo, "main");
        assert_eq!(value["url"], "http://127.0.0.1:1/repos/o/r");
        assert_eq!(
            value["pulls_url"],
            "http://127.0.0.1:1/repos/o/r/pulls{/number}"
        );
        assert_eq!(value["ssh_url"], "git@127.0.0.1:1:o/r.git");
        assert_eq!(value["default_branch"], "main");
        assert_eq!(value["owner"]["login"], "o");
    }
}
