//! Facts the mock reads from a repository's bare origin with the git CLI: branch heads (so a
//! pull request's head SHA is the commit really pushed), a pull request's commits and changed
//! files, file contents at a ref, comparisons, and merges. A rehearsal pushes with plain `git`,
//! and the mock answers what GitHub would answer about those pushes.

use std::path::Path;
use std::process::{Command, Stdio};

/// One commit as git recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitCommit {
    pub(crate) sha: String,
    pub(crate) author_name: String,
    pub(crate) author_email: String,
    pub(crate) author_date: String,
    pub(crate) committer_name: String,
    pub(crate) committer_email: String,
    pub(crate) committer_date: String,
    pub(crate) message: String,
    pub(crate) parents: Vec<String>,
    /// The SHA of the commit's tree.
    pub(crate) tree: String,
}

/// A changed file: GitHub's status word, the path, and the old path of a rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangedFile {
    pub(crate) status: &'static str,
    pub(crate) path: String,
    pub(crate) previous: Option<String>,
}

/// What [`read_path`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathAt {
    /// A file's bytes and blob SHA.
    File(Vec<u8>, String),
    /// A directory's entries: (name, `file`/`dir`, blob or tree SHA).
    Dir(Vec<(String, &'static str, String)>),
    /// No such path at that commit.
    Missing,
}

fn git(origin: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(origin)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}

fn git_text(origin: &Path, args: &[&str]) -> Option<String> {
    git(origin, args).map(|out| String::from_utf8_lossy(&out).trim_end().to_owned())
}

/// The commit `rev` (a branch, tag or SHA) names, or `None`.
pub(crate) fn resolve(origin: &Path, rev: &str) -> Option<String> {
    if rev.starts_with('-') || rev.is_empty() {
        return None;
    }
    git_text(
        origin,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .filter(|sha| !sha.is_empty())
}

/// The commit branch `name` points at, or `None` when the branch does not exist.
pub(crate) fn branch_head(origin: &Path, name: &str) -> Option<String> {
    let name = name.strip_prefix("refs/heads/").unwrap_or(name);
    resolve(origin, &format!("refs/heads/{name}"))
}

/// Creates branch `name` at commit `sha`; `false` when the commit does not exist (or git fails).
pub(crate) fn create_branch(origin: &Path, name: &str, sha: &str) -> bool {
    if name.starts_with('-') || resolve(origin, sha).is_none() {
        return false;
    }
    // The empty old value: only when the branch does not exist yet.
    git(
        origin,
        &["update-ref", &format!("refs/heads/{name}"), sha, ""],
    )
    .is_some()
}

/// The default branch (what `HEAD` points at), `main` when unreadable.
pub(crate) fn default_branch(origin: &Path) -> String {
    git_text(origin, &["symbolic-ref", "--short", "HEAD"]).unwrap_or_else(|| "main".to_owned())
}

/// `git log` format of one commit: fields split by NUL, records by RS.
const LOG_FORMAT: &str =
    "--format=%H%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%P%x00%T%x00%B%x1e";

fn parse_commit(record: &str) -> Option<GitCommit> {
    let fields: Vec<&str> = record.trim_start_matches('\n').split('\0').collect();
    let [sha, an, ae, ad, cn, ce, cd, parents, tree, message] = fields.as_slice() else {
        return None;
    };
    Some(GitCommit {
        sha: (*sha).to_owned(),
        author_name: (*an).to_owned(),
        author_email: (*ae).to_owned(),
        author_date: (*ad).to_owned(),
        committer_name: (*cn).to_owned(),
        committer_email: (*ce).to_owned(),
        committer_date: (*cd).to_owned(),
        message: message.trim_end().to_owned(),
        parents: parents.split_whitespace().map(str::to_owned).collect(),
        tree: (*tree).to_owned(),
    })
}

/// Commits reachable from `head` but not from `base`, oldest first.
pub(crate) fn commits(origin: &Path, base: &str, head: &str) -> Vec<GitCommit> {
    let range = format!("{base}..{head}");
    git_text(origin, &["log", "--reverse", LOG_FORMAT, &range])
        .map(|out| out.split('\u{1e}').filter_map(parse_commit).collect())
        .unwrap_or_default()
}

/// One commit, or `None` when `rev` names none.
pub(crate) fn commit(origin: &Path, rev: &str) -> Option<GitCommit> {
    let sha = resolve(origin, rev)?;
    let out = git_text(origin, &["log", "-1", LOG_FORMAT, &sha])?;
    parse_commit(out.trim_end_matches('\u{1e}'))
}

/// The merge base of two commits.
pub(crate) fn merge_base(origin: &Path, a: &str, b: &str) -> Option<String> {
    git_text(origin, &["merge-base", a, b]).filter(|s| !s.is_empty())
}

/// Files that differ between the merge base of `base` and `head`, and `head` (what a pull
/// request changes), renames detected.
pub(crate) fn changed_files(origin: &Path, base: &str, head: &str) -> Vec<ChangedFile> {
    let Some(from) = merge_base(origin, base, head) else {
        return Vec::new();
    };
    let Some(out) = git(origin, &["diff", "--name-status", "-z", "-M", &from, head]) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&out);
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    let mut files = Vec::new();
    while let Some(code) = fields.next() {
        let status = match code.chars().next() {
            Some('A') => "added",
            Some('D') => "removed",
            Some('R') => "renamed",
            Some('C') => "copied",
            Some('M') => "modified",
            _ => "changed",
        };
        let (previous, path) = if matches!(status, "renamed" | "copied") {
            let old = fields.next().map(str::to_owned);
            (old, fields.next().map(str::to_owned))
        } else {
            (None, fields.next().map(str::to_owned))
        };
        if let Some(path) = path {
            files.push(ChangedFile {
                status,
                path,
                previous: previous.filter(|_| status == "renamed"),
            });
        }
    }
    files
}

/// What `path` is at commit `sha`.
pub(crate) fn read_path(origin: &Path, sha: &str, path: &str) -> PathAt {
    let path = path.trim_matches('/');
    let spec = format!("{sha}:{path}");
    match git_text(origin, &["cat-file", "-t", &spec]).as_deref() {
        Some("blob") => {
            let blob = git_text(origin, &["rev-parse", &spec]).unwrap_or_default();
            match git(origin, &["cat-file", "blob", &spec]) {
                Some(bytes) => PathAt::File(bytes, blob),
                None => PathAt::Missing,
            }
        }
        Some("tree") => {
            let Some(out) = git(origin, &["ls-tree", "-z", &spec]) else {
                return PathAt::Missing;
            };
            let text = String::from_utf8_lossy(&out);
            let entries = text
                .split('\0')
                .filter_map(|line| {
                    let (meta, name) = line.split_once('\t')?;
                    let mut meta = meta.split(' ');
                    let (_mode, kind, object) = (meta.next()?, meta.next()?, meta.next()?);
                    let kind = if kind == "tree" { "dir" } else { "file" };
                    Some((name.to_owned(), kind, object.to_owned()))
                })
                .collect();
            PathAt::Dir(entries)
        }
        _ => PathAt::Missing,
    }
}

/// `(ahead_by, behind_by)` of `head` against `base` (both commits).
pub(crate) fn ahead_behind(origin: &Path, base: &str, head: &str) -> Option<(u64, u64)> {
    let out = git_text(
        origin,
        &[
            "rev-list",
            "--left-right",
            "--count",
            &format!("{base}...{head}"),
        ],
    )?;
    let mut counts = out.split_whitespace().map(|n| n.parse::<u64>().ok());
    let behind = counts.next()??;
    let ahead = counts.next()??;
    Some((ahead, behind))
}

/// Why a merge did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MergeError {
    /// The branches conflict.
    Conflict,
    /// The base branch is gone or git failed.
    Failed,
}

/// Merges `head` into branch `base` with a merge commit by `name <email>` (GitHub's default merge
/// method), moving the branch; the new commit.
pub(crate) fn merge(
    origin: &Path,
    base: &str,
    head: &str,
    message: &str,
    (name, email): (&str, &str),
) -> Result<String, MergeError> {
    let base_sha = branch_head(origin, base).ok_or(MergeError::Failed)?;
    let tree = Command::new("git")
        .arg("--git-dir")
        .arg(origin)
        .args(["merge-tree", "--write-tree", &base_sha, head])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| MergeError::Failed)?;
    match tree.status.code() {
        Some(0) => {}
        Some(1) => return Err(MergeError::Conflict),
        _ => return Err(MergeError::Failed),
    }
    let tree = String::from_utf8_lossy(&tree.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(origin)
        .args([
            "commit-tree",
            &tree,
            "-p",
            &base_sha,
            "-p",
            head,
            "-m",
            message,
        ])
        .envs([
            ("GIT_AUTHOR_NAME", name),
            ("GIT_AUTHOR_EMAIL", email),
            ("GIT_COMMITTER_NAME", "GitHub"),
            ("GIT_COMMITTER_EMAIL", "noreply@github.com"),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| MergeError::Failed)?;
    if !output.status.success() {
        return Err(MergeError::Failed);
    }
    let merged = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let branch = format!(
        "refs/heads/{}",
        base.strip_prefix("refs/heads/").unwrap_or(base)
    );
    git(origin, &["update-ref", &branch, &merged, &base_sha]).ok_or(MergeError::Failed)?;
    Ok(merged)
}

/// One entry of a tree, as `git ls-tree -l` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeEntry {
    /// The file mode (`100644`, `040000`...).
    pub(crate) mode: String,
    /// `blob`, `tree` or `commit` (a submodule).
    pub(crate) kind: String,
    /// The object's SHA.
    pub(crate) sha: String,
    /// A blob's size in bytes.
    pub(crate) size: Option<u64>,
    /// The path inside the tree.
    pub(crate) path: String,
}

/// The type git gives object `sha` (`commit`, `tree`, `blob`, `tag`), `None` when there is none.
pub(crate) fn object_type(origin: &Path, sha: &str) -> Option<String> {
    if sha.starts_with('-') || sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    git_text(origin, &["cat-file", "-t", sha]).filter(|t| !t.is_empty())
}

/// The entries of tree `sha` (a tree, or a commit's tree), every level when `recursive`.
pub(crate) fn tree(origin: &Path, sha: &str, recursive: bool) -> Option<Vec<TreeEntry>> {
    if !matches!(object_type(origin, sha).as_deref(), Some("tree" | "commit")) {
        return None;
    }
    let mut args = vec!["ls-tree", "-l", "-z"];
    if recursive {
        // `-t` lists the subtrees themselves too, as GitHub's recursive tree does.
        args.extend(["-r", "-t"]);
    }
    args.push(sha);
    let out = git(origin, &args)?;
    let text = String::from_utf8_lossy(&out);
    Some(
        text.split('\0')
            .filter_map(|line| {
                let (meta, path) = line.split_once('\t')?;
                let mut meta = meta.split_whitespace();
                let (mode, kind, sha, size) =
                    (meta.next()?, meta.next()?, meta.next()?, meta.next()?);
                Some(TreeEntry {
                    mode: mode.to_owned(),
                    kind: kind.to_owned(),
                    sha: sha.to_owned(),
                    size: size.parse().ok(),
                    path: path.to_owned(),
                })
            })
            .collect(),
    )
}

/// The bytes of blob `sha`, `None` when it is not a blob.
pub(crate) fn blob(origin: &Path, sha: &str) -> Option<Vec<u8>> {
    if object_type(origin, sha).as_deref() != Some("blob") {
        return None;
    }
    git(origin, &["cat-file", "blob", sha])
}

/// An archive of commit `sha` (`tar.gz` or `zip`) whose paths start with `prefix/`, as GitHub's
/// tarball and zipball.
pub(crate) fn archive(origin: &Path, sha: &str, format: &str, prefix: &str) -> Option<Vec<u8>> {
    if object_type(origin, sha).as_deref() != Some("commit") || prefix.starts_with('-') {
        return None;
    }
    git(
        origin,
        &[
            "archive",
            &format!("--format={format}"),
            &format!("--prefix={prefix}/"),
            sha,
        ],
    )
}

/// Every tag and the commit it points at, by name.
pub(crate) fn tags(origin: &Path) -> Vec<(String, String)> {
    git_text(
        origin,
        &[
            "for-each-ref",
            "--sort=-creatordate",
            "--format=%(refname:short)%00%(objectname)%00%(*objectname)",
            "refs/tags",
        ],
    )
    .map(|out| {
        out.lines()
            .filter_map(|line| {
                let mut f = line.split('\0');
                let (name, object, peeled) = (f.next()?, f.next()?, f.next().unwrap_or(""));
                // An annotated tag's commit is its peeled object.
                let sha = if peeled.is_empty() { object } else { peeled };
                Some((name.to_owned(), sha.to_owned()))
            })
            .collect()
    })
    .unwrap_or_default()
}
