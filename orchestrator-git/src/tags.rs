//! Annotated tags, written with gix so no `git tag` process is involved, except when the
//! repository's git config asks for signed tags (`tag.gpgSign` or `tag.forceSignAnnotated`):
//! gix cannot sign, so then `git tag -s` does it, with whatever `gpg.format` (OpenPGP, SSH, X.509)
//! and key the user configured, the way the bump commit (made by `git commit`) is signed.

use std::path::Path;
use std::time::SystemTime;

use gix::refs::transaction::PreviousValue;
use orchestrator_core::error::{Error, Result};
use orchestrator_core::vcs::tag_ref;

use crate::util::{gix_error, open};

/// The tagger used when the repository has no committer identity configured.
pub(crate) const FALLBACK_TAGGER: (&str, &str) = ("orchestrator", "orchestrator@localhost");

/// Creates the annotated tag `tag` at `commit`, never overwriting an existing tag.
///
/// A ref lock file (`refs/tags/<tag>.lock`) older than `stale_before` is a leftover of a process
/// killed mid-write (git leaves them behind too, and then refuses to write the ref): it is
/// removed, with a warning, instead of failing every later attempt. A younger one belongs to a
/// live writer and is reported.
pub(crate) fn create_tag(
    path: &Path,
    tag: &str,
    commit: &str,
    message: &str,
    stale_before: SystemTime,
) -> Result<()> {
    let repo = open(path)?;
    let lock = repo.common_dir().join(format!("{}.lock", tag_ref(tag)));
    if let Ok(modified) = std::fs::metadata(&lock).and_then(|m| m.modified())
        && modified < stale_before
    {
        tracing::warn!(lock = %lock.display(), "removing a ref lock left by an interrupted run");
        std::fs::remove_file(&lock).map_err(|err| {
            gix_error(
                path,
                &format!("cannot remove stale {}", lock.display()),
                err,
            )
        })?;
    }
    let result = create_tag_in(repo, path, tag, commit, message);
    if result.is_err() && lock.exists() {
        return Err(Error::Conflict {
            message: format!(
                "cannot create tag {tag} in {}: {} exists (another git process is writing it; if none is, remove the file)",
                path.display(),
                lock.display()
            ),
        });
    }
    result
}

/// [`create_tag`] on an opened repository (tests open it isolated from the environment).
fn create_tag_in(
    mut repo: gix::Repository,
    path: &Path,
    tag: &str,
    commit: &str,
    message: &str,
) -> Result<()> {
    let full_name = tag_ref(tag);
    if gix::refs::FullName::try_from(full_name.as_str()).is_err() {
        return Err(Error::invalid_input(format!("invalid tag name `{tag}`")));
    }
    let already_exists = || Error::AlreadyExists {
        what: format!("tag {tag} in {}", path.display()),
    };
    if tag_exists(&repo, path, &full_name)? {
        return Err(already_exists());
    }
    let id = gix::ObjectId::from_hex(commit.as_bytes())
        .map_err(|_| Error::invalid_input(format!("`{commit}` is not a full commit id")))?;
    let header = repo.find_header(id).map_err(|_| Error::NotFound {
        what: format!("commit {commit} in {}", path.display()),
    })?;
    if header.kind() != gix::objs::Kind::Commit {
        return Err(Error::invalid_input(format!(
            "`{commit}` is a {}, not a commit",
            header.kind()
        )));
    }
    if wants_signed_tags(&repo) {
        return create_signed_tag(path, tag, commit, message, &full_name, &repo);
    }
    // Installs the fallback only when neither the environment nor the config names a committer.
    repo.committer_or_set_fallback(FALLBACK_TAGGER.0, FALLBACK_TAGGER.1)
        .map_err(|err| gix_error(path, "cannot determine the tagger", err))?;
    let tagger = repo
        .committer()
        .expect("a fallback committer was just installed")
        .map_err(|err| gix_error(path, "cannot determine the tagger", err))?;
    // `git tag -m` ends messages with a newline; do the same so `git show` looks familiar.
    let message = if message.ends_with('\n') {
        message.to_owned()
    } else {
        format!("{message}\n")
    };
    let created = repo.tag(
        tag,
        id,
        gix::objs::Kind::Commit,
        Some(tagger),
        message,
        PreviousValue::MustNotExist,
    );
    match created {
        Ok(_) => Ok(()),
        // Someone created it between our check and our write.
        Err(_) if tag_exists(&repo, path, &full_name)? => Err(already_exists()),
        Err(err) => Err(gix_error(path, &format!("cannot create tag {tag}"), err)),
    }
}

/// Whether git would sign an annotated tag made here: `tag.gpgSign` or `tag.forceSignAnnotated`.
fn wants_signed_tags(repo: &gix::Repository) -> bool {
    let config = repo.config_snapshot();
    ["tag.gpgSign", "tag.forceSignAnnotated"]
        .iter()
        .any(|key| config.boolean(*key).unwrap_or(false))
}

/// `git tag -s`: the user's signing setup applies (a missing key is git's clear error).
fn create_signed_tag(
    path: &Path,
    tag: &str,
    commit: &str,
    message: &str,
    full_name: &str,
    repo: &gix::Repository,
) -> Result<()> {
    crate::cli::check_arg("tag", tag)?;
    let mut args = crate::commit::identity_overrides(path)?;
    args.extend(
        ["tag", "-s", "-m", message, tag, commit]
            .iter()
            .map(|a| (*a).to_owned()),
    );
    let mut cmd = crate::cli::command(path);
    cmd.args(&args);
    let out = crate::cli::output(&mut cmd, path)?;
    if out.success {
        return Ok(());
    }
    if tag_exists(repo, path, full_name)? {
        return Err(Error::AlreadyExists {
            what: format!("tag {tag} in {}", path.display()),
        });
    }
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    Err(crate::cli::failure(path, &args, &out))
}

fn tag_exists(repo: &gix::Repository, path: &Path, full_name: &str) -> Result<bool> {
    let found = repo
        .try_find_reference(full_name)
        .map_err(|err| gix_error(path, &format!("cannot read {full_name}"), err))?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Sandbox, git};

    /// With `tag.gpgSign` and `gpg.format = ssh`, the tag carries an SSH signature that
    /// `git tag -v` verifies against an allowed-signers file; without it, no signature.
    #[test]
    fn signs_tags_when_git_config_asks() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let key = dir.path().join("key");
        let generated = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "release", "-f"])
            .arg(&key)
            .output();
        if !generated.as_ref().is_ok_and(|o| o.status.success()) {
            if std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
                panic!("ssh-keygen failed or is missing: {generated:?}");
            }
            eprintln!("skipped: ssh-keygen not installed (install openssh-client)");
            return;
        }
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        let repo = sandbox.create_repo("signed", &[]).expect("create_repo");
        let head = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
        let vcs_tag = |name: &str| {
            create_tag(&repo.clone, name, &head, "Release", SystemTime::UNIX_EPOCH)
                .expect("create_tag");
            git(
                &repo.clone,
                &["cat-file", "-p", &format!("refs/tags/{name}")],
            )
            .expect("cat-file")
        };
        assert!(!vcs_tag("unsigned").contains("SSH SIGNATURE"));

        let public = std::fs::read_to_string(dir.path().join("key.pub")).expect("public key");
        let email = git(&repo.clone, &["config", "user.email"]).expect("email");
        let signers = dir.path().join("allowed_signers");
        std::fs::write(&signers, format!("{email} {public}")).expect("allowed signers");
        for (k, v) in [
            ("tag.gpgSign", "true"),
            ("gpg.format", "ssh"),
            ("user.signingKey", &key.display().to_string()),
            ("gpg.ssh.allowedSignersFile", &signers.display().to_string()),
        ] {
            git(&repo.clone, &["config", k, v]).expect("config");
        }
        let body = vcs_tag("v1.0.0");
        assert!(body.contains("-----BEGIN SSH SIGNATURE-----"), "{body}");
        let verified = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo.clone)
            .args(["tag", "-v", "v1.0.0"])
            .output()
            .expect("git tag -v");
        assert!(
            verified.status.success(),
            "{}",
            String::from_utf8_lossy(&verified.stderr)
        );
        assert!(
            String::from_utf8_lossy(&verified.stderr).contains("Good \"git\" signature"),
            "{verified:?}"
        );
        // Still never overwritten.
        let again = create_tag(
            &repo.clone,
            "v1.0.0",
            &head,
            "Release",
            SystemTime::UNIX_EPOCH,
        );
        assert!(
            matches!(again, Err(Error::AlreadyExists { .. })),
            "{again:?}"
        );
    }

    #[test]
    fn tagger_falls_back_when_no_identity_is_configured() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sandbox = Sandbox::new(dir.path()).expect("sandbox");
        let repo = sandbox.create_repo("anonymous", &[]).expect("create_repo");
        git(&repo.clone, &["config", "--unset", "user.name"]).expect("unset name");
        git(&repo.clone, &["config", "--unset", "user.email"]).expect("unset email");
        let head = git(&repo.clone, &["rev-parse", "HEAD"]).expect("rev-parse");
        // Isolated: neither the caller's environment nor their global config names a committer.
        let opened = gix::open_opts(&repo.clone, gix::open::Options::isolated()).expect("open");
        create_tag_in(opened, &repo.clone, "v1", &head, "m").expect("create_tag");
        let body = git(&repo.clone, &["cat-file", "-p", "refs/tags/v1"]).expect("cat-file");
        assert!(
            body.contains("tagger orchestrator <orchestrator@localhost> "),
            "{body}"
        );
    }
}
