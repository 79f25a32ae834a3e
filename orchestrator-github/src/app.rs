//! Authenticating as a GitHub App: the app's id and private key sign a short-lived JWT (RS256),
//! the JWT buys an installation access token (`POST /app/installations/{id}/access_tokens`), and
//! the installation token authenticates every other request until shortly before it expires.
//!
//! Why an App and not a personal token: its tokens are scoped to the installation, expire within
//! the hour, and its actions (unlike `GITHUB_TOKEN`'s) trigger workflows, which a `serve`
//! deployment needs. The JWT is signed with `ring` (already the process's one crypto provider
//! through rustls) rather than `jsonwebtoken`, whose RSA backends would add either aws-lc-rs or
//! the `rsa` crate (RUSTSEC-2023-0071) to the build; the JWT itself is three base64url parts.
//!
//! The private key, the JWT and the installation tokens are secrets: [`GitHubApp`]'s `Debug`
//! shows the app id and installation only, and no message carries them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use orchestrator_core::secret::SecretString;
use orchestrator_core::{Error, Result};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};

/// How long a JWT is valid (GitHub allows at most 10 minutes).
const JWT_LIFETIME_SECS: i64 = 9 * 60;
/// How far `iat` is back-dated, for clocks that run ahead of GitHub's (GitHub's advice: 60 s).
const JWT_BACKDATE_SECS: i64 = 60;
/// An installation token is replaced this long before it expires, so no request carries a token
/// that expires in flight.
pub const REFRESH_MARGIN_SECS: i64 = 5 * 60;

/// A GitHub App's credentials: its id, its private key, and the installation to act as (looked
/// up by repository owner when not given).
pub struct GitHubApp {
    app_id: u64,
    key: RsaKeyPair,
    installation_id: Option<u64>,
}

impl fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubApp")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl GitHubApp {
    /// The app `app_id` with `private_key_pem` (the `.pem` GitHub hands out: PKCS#1 `RSA PRIVATE
    /// KEY`, or PKCS#8 `PRIVATE KEY`), acting as `installation_id` when given. Fails with
    /// [`Error::InvalidInput`] when the key is not an RSA private key in PEM, before any request.
    pub fn new(
        app_id: u64,
        private_key_pem: &SecretString,
        installation_id: Option<u64>,
    ) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid_input(format!(
                "the GitHub App private key (ORCHESTRATOR_APP_PRIVATE_KEY or \
                 ORCHESTRATOR_APP_PRIVATE_KEY_FILE) is not an RSA private key in PEM: {why}"
            ))
        };
        let (label, der) = pem_decode(private_key_pem.expose()).map_err(|e| bad(&e))?;
        let key = match label.as_str() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            other => return Err(bad(&format!("a PEM block of type {other:?}"))),
        }
        .map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            app_id,
            key,
            installation_id,
        })
    }

    /// The app's id.
    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// The installation given at construction, if any.
    pub fn installation_id(&self) -> Option<u64> {
        self.installation_id
    }

    /// A JWT for the app, valid from a minute ago for nine minutes from `now` (Unix seconds):
    /// what buys installation tokens. Public for tools and tests that talk to GitHub as the app.
    pub fn jwt(&self, now: i64) -> Result<SecretString> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iat": now - JWT_BACKDATE_SECS,
            "exp": now + JWT_LIFETIME_SECS,
            "iss": self.app_id.to_string(),
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::invalid_input("signing the GitHub App JWT failed"))?;
        Ok(SecretString::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// Why a JWT was refused (what GitHub's `401` says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtRejection {
    /// Not three parts, not RS256, bad base64 or JSON, or a signature the key does not verify.
    Undecodable,
    /// `exp` is past, or more than 10 minutes ahead of `iat`.
    Expired,
    /// `iss` is not the app's id.
    WrongIssuer,
}

impl JwtRejection {
    /// GitHub's message for it.
    pub fn message(&self) -> &'static str {
        match self {
            JwtRejection::Undecodable => "A JSON web token could not be decoded",
            JwtRejection::Expired => {
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
            }
            JwtRejection::WrongIssuer => "'Issuer' claim ('iss') must be an Integer",
        }
    }
}

/// Checks `jwt` as GitHub does for app `app_id` whose public key is `public_key_der` (PKCS#1
/// `RSAPublicKey`, see [`public_key_der`]) at `now` (Unix seconds).
pub fn verify_jwt(
    jwt: &str,
    app_id: u64,
    public_key_der: &[u8],
    now: i64,
) -> std::result::Result<(), JwtRejection> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtRejection::Undecodable);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let json = |part: &str| {
        decode(part).and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    };
    let (Some(header), Some(claims), Some(signature)) =
        (json(header), json(claims), decode(signature))
    else {
        return Err(JwtRejection::Undecodable);
    };
    if header["alg"] != "RS256" {
        return Err(JwtRejection::Undecodable);
    }
    let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| JwtRejection::Undecodable)?;
    let number = |v: &serde_json::Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    if number(&claims["iss"]) != i64::try_from(app_id).ok() {
        return Err(JwtRejection::WrongIssuer);
    }
    match (number(&claims["iat"]), number(&claims["exp"])) {
        (Some(iat), Some(exp)) if exp > now && exp - iat <= 600 => Ok(()),
        _ => Err(JwtRejection::Expired),
    }
}

/// The PKCS#1 `RSAPublicKey` DER of a PEM public key (`PUBLIC KEY`, as `openssl rsa -pubout`
/// writes it, or `RSA PUBLIC KEY`).
pub fn public_key_der(pem: &str) -> std::result::Result<Vec<u8>, String> {
    let (label, der) = pem_decode(pem)?;
    match label.as_str() {
        "RSA PUBLIC KEY" => Ok(der),
        "PUBLIC KEY" => spki_rsa_key(&der).ok_or_else(|| "not an RSA public key".to_owned()),
        other => Err(format!("a PEM block of type {other:?}, not a public key")),
    }
}

/// The label and bytes of the first PEM block in `text`.
fn pem_decode(text: &str) -> std::result::Result<(String, Vec<u8>), String> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| "no \"-----BEGIN\" line".to_owned())?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let (label, rest) = rest
        .split_once("-----")
        .ok_or_else(|| "a malformed BEGIN line".to_owned())?;
    let end = format!("-----END {label}-----");
    let body = rest
        .split(end.as_str())
        .next()
        .filter(|_| rest.contains(end.as_str()))
        .ok_or_else(|| format!("no \"{end}\" line"))?;
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(body)
        .map_err(|e| format!("its base64 does not decode: {e}"))?;
    Ok((label.to_owned(), der))
}

/// One DER element at the start of `der`: (tag, content, the rest).
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The `RSAPublicKey` inside a `SubjectPublicKeyInfo` whose algorithm is rsaEncryption.
fn spki_rsa_key(der: &[u8]) -> Option<Vec<u8>> {
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (0x30, spki, _) = der_element(der)? else {
        return None;
    };
    let (0x30, algorithm, rest) = der_element(spki)? else {
        return None;
    };
    let (0x06, oid, _) = der_element(algorithm)? else {
        return None;
    };
    if oid != RSA_ENCRYPTION {
        return None;
    }
    let (0x03, bits, _) = der_element(rest)? else {
        return None;
    };
    // A BIT STRING starts with its count of unused bits: 0 for a key.
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    Some(key.to_vec())
}

/// Whether a token expiring at `expires_at` must be replaced at `now` (both Unix seconds).
pub(crate) fn needs_refresh(expires_at: i64, now: i64) -> bool {
    expires_at - now <= REFRESH_MARGIN_SECS
}

/// The installation tokens in use, by installation id, and the installations by account.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<u64, (SecretString, i64)>>,
    installations: Mutex<HashMap<String, u64>>,
}

impl TokenCache {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The token of `installation` while it is good for longer than the margin.
    pub(crate) fn fresh(&self, installation: u64, now: i64) -> Option<SecretString> {
        Self::lock(&self.tokens)
            .get(&installation)
            .filter(|(_, expires)| !needs_refresh(*expires, now))
            .map(|(t, _)| t.clone())
    }

    pub(crate) fn store(&self, installation: u64, token: SecretString, expires_at: i64) {
        Self::lock(&self.tokens).insert(installation, (token, expires_at));
    }

    /// Forgets every token (GitHub refused one: revoked, or expired early by a skewed clock).
    pub(crate) fn clear(&self) {
        Self::lock(&self.tokens).clear();
    }

    pub(crate) fn installation_of(&self, account: &str) -> Option<u64> {
        Self::lock(&self.installations)
            .get(&account.to_ascii_lowercase())
            .copied()
    }

    pub(crate) fn remember_installation(&self, account: &str, id: u64) {
        Self::lock(&self.installations).insert(account.to_ascii_lowercase(), id);
    }
}

/// Unix seconds now.
pub(crate) fn now_secs() -> i64 {
    orchestrator_core::state::now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_replaced_within_the_margin_of_its_expiry() {
        assert!(!needs_refresh(1000 + REFRESH_MARGIN_SECS + 1, 1000));
        assert!(needs_refresh(1000 + REFRESH_MARGIN_SECS, 1000));
        assert!(needs_refresh(999, 1000), "an expired token");
    }

    #[test]
    fn garbage_is_not_a_key_and_the_error_names_the_variables() {
        let err = GitHubApp::new(1, &SecretString::new("not a key"), None).expect_err("no PEM");
        let text = err.to_string();
        assert!(text.contains("ORCHESTRATOR_APP_PRIVATE_KEY"), "{text}");
        assert!(
            !text.contains("not a key"),
            "the key's text is not echoed: {text}"
        );
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(GitHubApp::new(1, &SecretString::new(pem), None).is_err());
    }

    #[test]
    fn a_tampered_or_foreign_jwt_is_rejected() {
        // Without a key pair generator in ring, only the decoding paths are checked here; the
        // signature paths run against keys made by openssl in tests/app_auth.rs.
        assert_eq!(verify_jwt("a.b", 1, &[], 0), Err(JwtRejection::Undecodable));
        assert_eq!(
            verify_jwt("e30.e30.AA", 1, &[], 0),
            Err(JwtRejection::Undecodable),
            "no alg"
        );
    }
}
