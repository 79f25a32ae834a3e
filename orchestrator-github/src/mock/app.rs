//! The mock as a GitHub App's GitHub: it knows one app (its id and public key), verifies the
//! app's JWTs as GitHub does (RS256 signature, issuer, expiry; GitHub's `401` bodies otherwise),
//! has the app installed on every account it hosts repositories of, mints installation tokens
//! (`ghs_...`, good for an hour unless told otherwise) and accepts them until they expire.

use std::collections::BTreeMap;
use std::time::Duration;

use ring::rand::{SecureRandom as _, SystemRandom};

/// The GitHub App the mock knows: `orchestrator mock-forge --app-id N --app-public-key FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockApp {
    /// The app's id (the JWT's `iss`).
    pub id: u64,
    /// The app's public key, PKCS#1 `RSAPublicKey` DER.
    public_key: Vec<u8>,
    /// How long an installation token is good for (GitHub: one hour).
    pub token_lifetime: Duration,
}

impl MockApp {
    /// App `id` whose JWTs verify with `public_key_pem` (`PUBLIC KEY`, as `openssl rsa -pubout`
    /// writes it, or `RSA PUBLIC KEY`); the error says what is wrong with the key.
    pub fn new(id: u64, public_key_pem: &str) -> Result<Self, String> {
        Ok(Self {
            id,
            public_key: crate::app::public_key_der(public_key_pem)?,
            token_lifetime: Duration::from_secs(3600),
        })
    }

    /// Sets [`MockApp::token_lifetime`].
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    pub(super) fn public_key(&self) -> &[u8] {
        &self.public_key
    }
}

/// Installation tokens the mock minted: token → (expiry in Unix seconds, installation id).
#[derive(Debug, Default)]
pub(super) struct AppTokens {
    tokens: BTreeMap<String, (i64, u64)>,
}

impl AppTokens {
    /// A new token for `installation`, good until `expires_at`.
    pub(super) fn mint(&mut self, installation: u64, expires_at: i64) -> String {
        let mut bytes = [0u8; 18];
        // The system's randomness; a clock-derived fallback keeps the mock serving if it fails.
        if SystemRandom::new().fill(&mut bytes).is_err() {
            let seed = orchestrator_core::state::now_ms().to_le_bytes();
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = seed[i % seed.len()] ^ (i as u8);
            }
        }
        let token = format!(
            "ghs_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        self.tokens
            .insert(token.clone(), (expires_at, installation));
        token
    }

    /// The installation `token` acts for: `Some(Ok(id))` while good, `Some(Err(()))` once
    /// expired, `None` when the mock never minted it.
    pub(super) fn check(&self, token: &str, now: i64) -> Option<Result<u64, ()>> {
        self.tokens
            .get(token)
            .map(|(expires, id)| if *expires > now { Ok(*id) } else { Err(()) })
    }

    /// Makes every token expired.
    pub(super) fn expire_all(&mut self, now: i64) {
        for (expires, _) in self.tokens.values_mut() {
            *expires = now - 1;
        }
    }
}

/// The installation id of the app on `account` (stable, as GitHub's are).
pub(super) fn installation_id(account: &str) -> u64 {
    super::objects::stable_id(&format!("installation:{}", account.to_ascii_lowercase()))
}
