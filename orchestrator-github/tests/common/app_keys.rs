//! RSA key pairs for GitHub App tests, made by `openssl` in a temporary directory (no private key
//! is committed). `openssl` is a system tool: when it is missing the caller skips, unless
//! `ORCHESTRATOR_REQUIRE_EXTERNAL=1` (CI), where that is a failure.

use std::path::Path;
use std::process::Command;

/// One key pair: the private key as GitHub hands it out and the public key the mock verifies with.
pub(crate) struct AppKeys {
    _dir: tempfile::TempDir,
    /// PKCS#1 (`RSA PRIVATE KEY`) when openssl can write it, else PKCS#8.
    pub(crate) private_pem: String,
    /// `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub(crate) public_pem: String,
    /// Where `public_pem` is on disk (for `mock-forge --app-public-key`).
    pub(crate) public_path: std::path::PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh key pair, `None` (after one "skipped" line) when openssl is not installed.
pub(crate) fn app_keys() -> Option<AppKeys> {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key8.pem",
        ],
    ) && openssl(
        dir.path(),
        &["rsa", "-in", "key8.pem", "-pubout", "-out", "pub.pem"],
    );
    if !made {
        assert!(
            std::env::var("ORCHESTRATOR_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "openssl is needed to make GitHub App test keys (apt-get install openssl)"
        );
        eprintln!("skipped: openssl not installed (apt-get install openssl)");
        return None;
    }
    // GitHub's keys are PKCS#1; OpenSSL 3 writes that with -traditional.
    let private = if openssl(
        dir.path(),
        &["rsa", "-in", "key8.pem", "-traditional", "-out", "key1.pem"],
    ) {
        "key1.pem"
    } else {
        "key8.pem"
    };
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("read key");
    Some(AppKeys {
        private_pem: read(private),
        public_pem: read("pub.pem"),
        public_path: dir.path().join("pub.pem"),
        _dir: dir,
    })
}
