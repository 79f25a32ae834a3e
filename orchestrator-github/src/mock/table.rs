//! The table of routes the mock serves: one place, so that the router can refuse anything not in
//! it (a handler cannot be reached unless its route is listed), the stats name routes by it, and
//! the conformance test checks the table against GitHub's OpenAPI description operation by
//! operation (`orchestrator-github/tests/mock_openapi.rs`).

/// One route the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockRoute {
    /// `GET`, `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path template, spelled as GitHub's OpenAPI description spells it.
    pub path: &'static str,
    /// Whether the route is an operation of GitHub's REST API description (`false`: a web URL
    /// GitHub answers outside the API, such as an asset's `browser_download_url`).
    pub api: bool,
}

const fn api(method: &'static str, path: &'static str) -> MockRoute {
    MockRoute {
        method,
        path,
        api: true,
    }
}

const fn web(method: &'static str, path: &'static str) -> MockRoute {
    MockRoute {
        method,
        path,
        api: false,
    }
}

/// Every route the mock serves (besides the `/_mock/*` control plane).
pub const ROUTES: &[MockRoute] = &[
    api("GET", "/user"),
    api("GET", "/users/{username}"),
    api("GET", "/rate_limit"),
    api("GET", "/repos/{owner}/{repo}"),
    api("GET", "/repos/{owner}/{repo}/branches/{branch}"),
    api("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    // The spelling of the `url` GitHub writes into a ref; served as `git/ref/{ref}` is.
    MockRoute {
        method: "GET",
        path: "/repos/{owner}/{repo}/git/refs/{ref}",
        api: false,
    },
    api("POST", "/repos/{owner}/{repo}/git/refs"),
    api("GET", "/repos/{owner}/{repo}/releases"),
    api("POST", "/repos/{owner}/{repo}/releases"),
    api("GET", "/repos/{owner}/{repo}/releases/latest"),
    api("GET", "/repos/{owner}/{repo}/releases/tags/{tag}"),
    api("GET", "/repos/{owner}/{repo}/releases/assets/{asset_id}"),
    api("GET", "/repos/{owner}/{repo}/releases/{release_id}"),
    api("PATCH", "/repos/{owner}/{repo}/releases/{release_id}"),
    api("GET", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
    api("POST", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
    api("GET", "/repos/{owner}/{repo}/actions/workflows"),
    api(
        "GET",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}",
    ),
    api(
        "POST",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
    ),
    api(
        "GET",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
    ),
    api("GET", "/repos/{owner}/{repo}/actions/runs"),
    api("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    api("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
    api("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}"),
    api("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    api("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    api("GET", "/repos/{owner}/{repo}/labels/{name}"),
    api("POST", "/repos/{owner}/{repo}/dispatches"),
    api("GET", "/repos/{owner}/{repo}/pulls"),
    api("POST", "/repos/{owner}/{repo}/pulls"),
    api("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    api("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    api("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    api("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    api("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    api("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits"),
    api("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    api("POST", "/repos/{owner}/{repo}/issues"),
    api("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    api(
        "PATCH",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
    ),
    api("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
    api("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    api("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    api("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    api(
        "DELETE",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
    ),
    api(
        "GET",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    api(
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    api(
        "GET",
        "/repos/{owner}/{repo}/collaborators/{username}/permission",
    ),
    api("GET", "/repos/{owner}/{repo}/contents/{path}"),
    api("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
    MockRoute {
        method: "GET",
        path: "/{owner}/{repo}/releases/download/{tag}/{name}",
        api: false,
    },
    // The objects behind the URLs GitHub writes into its answers (see `routes/links.rs`).
    api("GET", "/users/{username}/followers"),
    api("GET", "/users/{username}/subscriptions"),
    api("GET", "/users/{username}/orgs"),
    api("GET", "/users/{username}/repos"),
    api("GET", "/users/{username}/received_events"),
    api("GET", "/repos/{owner}/{repo}/tarball/{ref}"),
    api("GET", "/repos/{owner}/{repo}/zipball/{ref}"),
    // Where the archive redirects lead (GitHub's are on codeload.github.com).
    web("GET", "/{owner}/{repo}/archive/{ref}"),
    api("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/logs"),
    // Where the logs redirect leads (GitHub's is on its blob storage).
    web("GET", "/{owner}/{repo}/actions/runs/{run_id}/logs.zip"),
    api(
        "GET",
        "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
    ),
    api("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"),
    api("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun"),
    api("GET", "/repos/{owner}/{repo}/check-suites/{check_suite_id}"),
    api(
        "GET",
        "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations",
    ),
    api("GET", "/repos/{owner}/{repo}/commits/{ref}"),
    api("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses"),
    api("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/comments"),
    // The spelling of a pull request's `statuses_url`: GitHub answers it as `commits/{ref}/statuses`.
    web("GET", "/repos/{owner}/{repo}/statuses/{sha}"),
    api("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    api("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}"),
    api("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}"),
    api(
        "GET",
        "/repos/{owner}/{repo}/issues/{issue_number}/reactions",
    ),
    api("GET", "/repos/{owner}/{repo}/issues/{issue_number}/events"),
    api(
        "GET",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    ),
    api("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/comments"),
    api("GET", "/repos/{owner}/{repo}/contributors"),
    api("GET", "/repos/{owner}/{repo}/deployments"),
    // GitHub retired the Downloads API from its description but still writes `downloads_url`.
    web("GET", "/repos/{owner}/{repo}/downloads"),
    api("GET", "/repos/{owner}/{repo}/events"),
    api("GET", "/repos/{owner}/{repo}/forks"),
    api("GET", "/repos/{owner}/{repo}/hooks"),
    api("GET", "/repos/{owner}/{repo}/languages"),
    api("GET", "/repos/{owner}/{repo}/stargazers"),
    api("GET", "/repos/{owner}/{repo}/subscribers"),
    api("GET", "/repos/{owner}/{repo}/subscription"),
    api("GET", "/repos/{owner}/{repo}/tags"),
    api("GET", "/repos/{owner}/{repo}/teams"),
    api("GET", "/repos/{owner}/{repo}/notifications"),
    // GitHub App authentication (see `routes/app.rs`).
    api("GET", "/app"),
    api("GET", "/repos/{owner}/{repo}/installation"),
    api("POST", "/app/installations/{installation_id}/access_tokens"),
    api("GET", "/installation/repositories"),
];

/// Parameters that take the rest of the path when they end a template (`contents/{path}` is a
/// file path, `git/ref/{ref}` is `tags/v1.0.0`).
const GREEDY: &[&str] = &["{path}", "{ref}"];

/// Whether `segments` (decoded path segments) fit `template`'s segments.
fn fits(template: &[&str], segments: &[&str]) -> bool {
    if let (Some(last), Some(_)) = (template.last(), segments.last())
        && GREEDY.contains(last)
        && segments.len() > template.len()
    {
        let head = template.len() - 1;
        return fits(&template[..head], &segments[..head]);
    }
    template.len() == segments.len()
        && template
            .iter()
            .zip(segments)
            .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
}

/// The route `method` and `segments` (the path split at `/`, decoded, without the leading empty
/// one) ask for: of the routes whose template fits, the one with the most literal segments (so
/// `releases/latest` beats `releases/{release_id}`). `None` when nothing in the table fits.
pub(crate) fn find(method: &str, segments: &[&str]) -> Option<&'static MockRoute> {
    ROUTES
        .iter()
        .filter(|r| r.method == method)
        .filter(|r| {
            let template: Vec<&str> = r.path.split('/').skip(1).collect();
            fits(&template, segments)
        })
        .max_by_key(|r| {
            // Literal segments first; among equals, the earlier entry (max_by_key keeps the last,
            // so the index is negated).
            let literal = r.path.split('/').filter(|s| !s.starts_with('{')).count();
            let index = ROUTES.iter().position(|x| x == *r).unwrap_or(0);
            (literal, usize::MAX - index)
        })
}

/// The route a request for `method` and `path` (`/repos/o/r/releases/1`, a query is ignored)
/// reaches, `None` when the mock does not serve it. For tests that follow URLs from answers and
/// want to know which of GitHub's operations answered.
pub fn route_for(method: &str, path: &str) -> Option<&'static MockRoute> {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    find(method, &segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Option<&'static str> {
        let segments: Vec<&str> = p.split('/').skip(1).collect();
        find("GET", &segments).map(|r| r.path)
    }

    #[test]
    fn paths_find_their_routes() {
        assert_eq!(
            path("/repos/o/r/releases/latest"),
            Some("/repos/{owner}/{repo}/releases/latest")
        );
        assert_eq!(
            path("/repos/o/r/releases/12"),
            Some("/repos/{owner}/{repo}/releases/{release_id}")
        );
        assert_eq!(
            path("/repos/o/r/releases/assets/12"),
            Some("/repos/{owner}/{repo}/releases/assets/{asset_id}")
        );
        assert_eq!(
            path("/repos/o/r/contents/a/b/c.txt"),
            Some("/repos/{owner}/{repo}/contents/{path}")
        );
        assert_eq!(
            path("/repos/o/r/git/ref/tags/v1.0.0"),
            Some("/repos/{owner}/{repo}/git/ref/{ref}")
        );
        assert_eq!(
            path("/o/r/releases/download/v1/a.tgz"),
            Some("/{owner}/{repo}/releases/download/{tag}/{name}")
        );
        assert_eq!(path("/repos/o/r/nothing"), None);
        assert_eq!(path("/repos/o/r/releases/"), None, "empty parameter");
    }

    #[test]
    fn every_route_is_found_by_a_path_of_its_own_shape() {
        for route in ROUTES {
            let sample: Vec<&str> = route
                .path
                .split('/')
                .skip(1)
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect();
            let found = find(route.method, &sample).map(|r| r.path);
            assert_eq!(found, Some(route.path), "{} {}", route.method, route.path);
        }
    }
}
