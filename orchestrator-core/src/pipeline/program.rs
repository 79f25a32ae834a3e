//! Finding a step's program on `PATH` (or as a path) before anything runs, so a typo is refused
//! at plan time rather than half-way through a run.

use std::path::{Path, PathBuf};

/// Resolves `run[0]`: a path (with a `/`) relative to the config's directory, or a name on `PATH`.
pub(crate) fn find_program(
    program: &str,
    root: &Path,
    path: Option<&str>,
) -> std::result::Result<PathBuf, String> {
    if program.contains('/') {
        let resolved = root.join(program);
        return match std::fs::metadata(&resolved) {
            Ok(m) if m.is_file() && is_executable(&m) => Ok(resolved),
            Ok(m) if m.is_file() => Err(format!(
                "script {program} is not executable (chmod +x {}, or run = [\"sh\", \"{program}\"])",
                resolved.display()
            )),
            _ => Err(format!(
                "script {program} not found at {}",
                resolved.display()
            )),
        };
    }
    for dir in std::env::split_paths(path.unwrap_or_default()) {
        let candidate = dir.join(program);
        if let Ok(m) = std::fs::metadata(&candidate)
            && m.is_file()
            && is_executable(&m)
        {
            return Ok(candidate);
        }
    }
    Err(format!("program {program} not found on PATH"))
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}
