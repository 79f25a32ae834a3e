//! Reading `orchestrator.toml` from disk. What is not a regular file is refused by name before
//! any read: a FIFO would block the read forever, and a dangling symbolic link would read as
//! "not found" while the link itself is right there.

use std::path::Path;

use crate::error::{Error, Result};

/// The text of the config file, or an error naming the file and what is wrong with it.
pub(super) fn read(file: &Path) -> Result<String> {
    let refuse = |message: String| Error::Config {
        file: file.to_owned(),
        line: None,
        key: None,
        message,
    };
    match std::fs::metadata(file) {
        Ok(meta) if !meta.is_file() => {
            let kind = file_kind(&meta.file_type());
            return Err(refuse(format!("cannot read: {kind}, not a regular file")));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Ok(target) = std::fs::read_link(file) {
                return Err(refuse(format!(
                    "cannot read: a symbolic link to {}, which does not exist",
                    target.display()
                )));
            }
        }
        _ => {}
    }
    std::fs::read_to_string(file).map_err(|e| refuse(format!("cannot read: {e}")))
}

/// What a non-regular file is, for an error message.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn a_fifo_or_a_dangling_link_as_config_is_refused_saying_what_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("orchestrator.toml");
        std::os::unix::fs::symlink(dir.path().join("gone.toml"), &link).expect("symlink");
        let found = Config::discover(dir.path()).expect("the link counts as the config");
        let e = Config::load(&found).expect_err("dangling").to_string();
        assert!(
            e.contains("a symbolic link to") && e.contains("gone.toml, which does not exist"),
            "{e}"
        );
        let fifo = dir.path().join("fifo.toml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let e = Config::load(&fifo).expect_err("fifo").to_string();
        assert!(e.contains("a FIFO (named pipe), not a regular file"), "{e}");
        let e = Config::load(dir.path()).expect_err("directory").to_string();
        assert!(e.contains("a directory, not a regular file"), "{e}");
    }
}
