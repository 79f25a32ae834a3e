//! `X-Hub-Signature-256`: GitHub signs each webhook body with HMAC-SHA256 under the webhook's
//! secret. Anyone can reach a public `/webhook`; only a correct signature proves GitHub sent it.
//! The comparison is constant-time (`hmac`'s `verify_slice`), so timing reveals nothing about the
//! expected value.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The webhook secret. Its `Debug` never shows the value, so it cannot leak into logs.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// The secret as configured in the GitHub App or repository webhook settings.
    ///
    /// # Errors
    /// [`orchestrator_core::Error::InvalidInput`] when it is empty: an empty key would accept
    /// anyone who computes HMAC under the empty key.
    pub fn new(secret: impl Into<Vec<u8>>) -> orchestrator_core::Result<Self> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(orchestrator_core::Error::invalid_input(
                "ORCHESTRATOR_WEBHOOK_SECRET is empty: set the webhook's secret",
            ));
        }
        Ok(Self(secret))
    }

    /// The `X-Hub-Signature-256` value GitHub would send for `body` (`sha256=<hex>`): for tests
    /// and for tools that deliver webhooks (the mock forge).
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Why a signature was refused (each answers 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    Malformed,
    /// Well-formed, but not the body's HMAC under our secret.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "missing X-Hub-Signature-256 header",
            Self::Malformed => "X-Hub-Signature-256 is not sha256=<64 hex digits>",
            Self::Mismatch => "X-Hub-Signature-256 does not match the body",
        })
    }
}

impl std::error::Error for SignatureError {}

/// Checks `header` (the `X-Hub-Signature-256` value, if any) against `body` in constant time.
///
/// # Errors
/// The [`SignatureError`] that says why the request is refused.
pub fn verify_signature(
    secret: &WebhookSecret,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digits = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digits).map_err(|_| SignatureError::Malformed)?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::new("It's a Secret to Everybody").expect("not empty")
    }

    /// GitHub's documented example (docs: "Validating webhook deliveries").
    #[test]
    fn githubs_documented_example_verifies() {
        let body = b"Hello, World!";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(secret().sign(body), header);
        assert_eq!(verify_signature(&secret(), body, Some(header)), Ok(()));
    }

    #[test]
    fn bad_missing_and_malformed_signatures_are_refused() {
        let body = b"Hello, World!";
        let other = WebhookSecret::new("another").expect("not empty").sign(body);
        assert_eq!(
            verify_signature(&secret(), body, Some(&other)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&secret(), b"Hello, World?", Some(&secret().sign(body))),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&secret(), body, None),
            Err(SignatureError::Missing)
        );
        for bad in ["sha1=abc", "sha256=zz", "sha256=abcd", ""] {
            assert_eq!(
                verify_signature(&secret(), body, Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        assert_eq!(format!("{:?}", secret()), "WebhookSecret(<redacted>)");
        assert!(WebhookSecret::new("").is_err());
    }
}
