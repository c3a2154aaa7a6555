//! The authentication providers and the chain: real keys (test-only fixtures
//! under `tests/fixtures/auth/`), real signatures, a real HTTP server on
//! 127.0.0.1 for JWKS URLs, and a hand-moved clock.

mod chain;
mod jwks_addresses;
mod jwks_url;
mod oidc;
mod password;
mod throttle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provisio::auth::oidc::JwksCachePolicy;
use provisio::auth::{
    Argon2Params, AttemptResult, AuthFailure, AuthServices, Authenticated, Chain, Credential, ManualClock,
    PasswordAccount, ProviderConfig, RejectReason, Secret,
};
use provisio::plugin::Principal;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "provisio-client";

// ---------------------------------------------------------------- keys

/// A test-only signing key from `tests/fixtures/auth/` and its `kid`.
pub(crate) struct TestKey {
    alg: Algorithm,
    kid: &'static str,
    key: EncodingKey,
}

impl TestKey {
    pub(crate) fn load(file: &str, alg: Algorithm, kid: &'static str) -> Self {
        let der = pem_to_der(&fixture(file));
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_der(&der),
            Algorithm::ES256 => EncodingKey::from_ec_der(&der),
            Algorithm::EdDSA => EncodingKey::from_ed_der(&der),
            other => panic!("no test key for {other:?}"),
        };
        Self { alg, kid, key }
    }

    /// The public key as a JWK, with this key's `kid`.
    pub(crate) fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap_or_else(|e| panic!("jwk: {e}"));
        jwk.common.key_id = Some(self.kid.to_owned());
        serde_json::to_value(jwk).unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = Header { kid: Some(self.kid.to_owned()), ..Header::new(self.alg) };
        self.sign_with(header, claims)
    }

    pub(crate) fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).unwrap_or_else(|e| panic!("sign: {e}"))
    }
}

/// A file under `tests/fixtures/auth/`.
pub(crate) fn fixture(name: &str) -> String {
    let path = crate::root().join("tests/fixtures/auth").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap_or_else(|e| panic!("pem: {e}"))
}

struct Keys {
    rsa: TestKey,
    ec: TestKey,
    ed: TestKey,
    /// Not in the provider's JWKS: an attacker's key.
    other: TestKey,
}

fn keys() -> Keys {
    Keys {
        rsa: TestKey::load("rsa.pem", Algorithm::RS256, "rsa-1"),
        ec: TestKey::load("ec-p256.pem", Algorithm::ES256, "ec-1"),
        ed: TestKey::load("ed25519.pem", Algorithm::EdDSA, "ed-1"),
        other: TestKey::load("rsa-other.pem", Algorithm::RS256, "rsa-1"),
    }
}

/// The public JWKS document of these keys.
pub(crate) fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// Claims of a good ID token at [`NOW`].
fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "00u1abcd",
        "exp": NOW + 300,
        "iat": NOW,
        "nonce": "n-0S6_WzA2Mj",
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "email": "Alice.Liddell@Example.COM",
        "email_verified": true,
        "given_name": "Alice",
        "family_name": "Liddell",
        "name": "Alice Liddell",
        "groups": ["engineering", "admins", "engineering"],
        "hd": "example.com",
        "refresh_token_hint": "do-not-copy",
        "locale": "en",
        "amr": ["pwd"],
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    if let (Value::Object(c), Value::Object(changes)) = (&mut claims, changes) {
        for (k, v) in changes {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    claims
}

// ---------------------------------------------------------------- set-up

fn services(clock: &Arc<ManualClock>) -> Arc<AuthServices> {
    Arc::new(
        AuthServices::builder()
            .clock(clock.clone())
            .argon2(Argon2Params::INSECURE_FOR_TESTS)
            .allow_http_loopback(true)
            .jwks_cache(JwksCachePolicy { refresh_interval: Duration::from_secs(30), ..Default::default() })
            .build()
            .unwrap_or_else(|e| panic!("services: {e}")),
    )
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_unix(NOW))
}

fn oidc_config(extra: Value) -> ProviderConfig {
    let config = with(json!({ "issuer": ISSUER, "audience": AUDIENCE }), extra);
    ProviderConfig::from_parts("oidc", &config).unwrap_or_else(|e| panic!("config: {e}"))
}

fn chain(services: &Arc<AuthServices>, providers: Vec<(&str, ProviderConfig)>) -> Chain {
    let providers = providers.into_iter().map(|(n, c)| (n.to_owned(), c));
    Chain::new(services.clone(), providers).unwrap_or_else(|e| panic!("chain: {e}"))
}

fn no_accounts() -> HashMap<String, PasswordAccount> {
    HashMap::new()
}

async fn login_token(chain: &Chain, token: &str) -> Result<Authenticated, AuthFailure> {
    chain.authenticate("example.com", &Credential::IdToken(Secret::new(token)), &no_accounts(), None).await
}

/// The principal, or the reason the only provider gave.
async fn verify(chain: &Chain, token: &str) -> Result<Principal, RejectReason> {
    match login_token(chain, token).await {
        Ok(done) => Ok(done.principal),
        Err(failure) => Err(only_reason(&failure)),
    }
}

fn only_reason(failure: &AuthFailure) -> RejectReason {
    match failure.attempts.as_slice() {
        [one] => match &one.result {
            AttemptResult::Rejected(r) => r.clone(),
            other => panic!("not a rejection: {other:?}"),
        },
        many => panic!("expected one attempt, got {many:?}"),
    }
}

// ---------------------------------------------------------------- JWKS server

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers every request with the
/// current status and body, and counts requests.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    answer: Arc<Mutex<(u16, String)>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(body: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let hits = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new((200, body.to_string())));
        let (h, a) = (hits.clone(), answer.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (hits, answer) = (h.clone(), a.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = answer.lock().map(|a| a.clone()).unwrap_or_default();
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url: format!("http://{addr}/.well-known/jwks.json"), hits, answer, task }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn serve(&self, status: u16, body: Value) {
        if let Ok(mut a) = self.answer.lock() {
            *a = (status, body.to_string());
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------- passwords

fn password_services(clock: &Arc<ManualClock>, params: Argon2Params) -> Arc<AuthServices> {
    let services = AuthServices::builder().clock(clock.clone()).argon2(params).build();
    Arc::new(services.unwrap_or_else(|e| panic!("{e}")))
}

fn accounts(services: &AuthServices) -> HashMap<String, PasswordAccount> {
    let hash = services.hasher().hash("correct horse battery").unwrap_or_else(|e| panic!("{e}"));
    let account = |id: &str, email: &str, hash| PasswordAccount {
        id: id.into(),
        email: email.into(),
        hash,
        given_name: Some("Alice".into()),
        family_name: None,
    };
    let mut map = HashMap::new();
    for i in 0..4 {
        map.insert(
            format!("alice{i}@example.com"),
            account(&format!("acc-{i}"), &format!("Alice{i}@example.com"), Some(hash.clone())),
        );
        map.insert(
            format!("idp-user{i}@example.com"),
            account(&format!("idp-{i}"), &format!("idp-user{i}@example.com"), None),
        );
    }
    map
}

fn password(email: &str, password: &str) -> Credential {
    Credential::Password { email: email.into(), password: Secret::new(password) }
}

fn password_chain(services: &Arc<AuthServices>) -> Chain {
    let config = ProviderConfig::from_parts("password", &json!({})).unwrap_or_else(|e| panic!("{e}"));
    chain(services, vec![("local", config)])
}
