//! An identity provider that mints ID tokens for the benchmarks' logins.

use std::path::Path;
use std::time::Duration;

use provisio::http::SessionSigner;
use serde_json::{Value, json};

use crate::Bytes;
use crate::env::unix_now;

/// An OpenID identity provider the benchmark owns: an Ed25519 key whose
/// public half goes inline into the provider's configuration, and ID tokens
/// signed with it (EdDSA), as `provisio demo token` mints them.
pub struct IdP {
    signer: SessionSigner,
}

impl IdP {
    /// The `iss` of its tokens.
    pub const ISSUER: &'static str = "https://idp.bench.example";
    /// The `aud` of its tokens.
    pub const AUDIENCE: &'static str = "provisio-bench";
    /// How long its tokens stay valid, in seconds (long enough to pre-mint
    /// them before a run).
    pub const TOKEN_TTL_SECS: u64 = 3600;

    /// An identity provider with its key kept at `key_file` (created when missing).
    pub fn new(key_file: &Path) -> Self {
        let signer =
            SessionSigner::new(Some(key_file), Self::ISSUER, Self::AUDIENCE, Duration::from_secs(Self::TOKEN_TTL_SECS))
                .unwrap_or_else(|e| panic!("identity provider key: {e}"));
        Self { signer }
    }

    /// The configuration of an `oidc` provider that trusts it (JWKS inline).
    pub fn provider_config(&self) -> Value {
        json!({"issuer": Self::ISSUER, "audience": Self::AUDIENCE, "jwks": self.signer.jwks()})
    }

    /// An ID token for `email` (verified) with these IdP groups, valid for
    /// [`IdP::TOKEN_TTL_SECS`].
    pub fn id_token(&self, email: &str, groups: &[&str]) -> String {
        let now = unix_now();
        let claims = json!({
            "iss": Self::ISSUER, "aud": Self::AUDIENCE, "sub": format!("bench|{email}"),
            "iat": now, "exp": now + Self::TOKEN_TTL_SECS, "email": email, "email_verified": true,
            "given_name": "Bench", "family_name": "User", "groups": groups,
        });
        self.signer.sign_any(&claims).unwrap_or_else(|e| panic!("signing an ID token: {e}"))
    }

    /// The body of `POST /v1/login` for an ID token of `email` at `domain`.
    pub fn login_body(&self, domain: &str, email: &str, groups: &[&str]) -> Bytes {
        Bytes::from(json!({"domain": domain, "id_token": self.id_token(email, groups)}).to_string())
    }
}
