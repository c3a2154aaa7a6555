//! The authentication providers and the chain: real keys (test-only fixtures
//! under `tests/fixtures/auth/`), real signatures, a real HTTP server on
//! 127.0.0.1 for JWKS URLs, and a hand-moved clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provisio::auth::oidc::{FetchError, HttpFetcher, JwksAddresses, JwksCachePolicy, JwksFetcher as _};
use provisio::auth::{
    Answer, Argon2Params, AttemptKey, AttemptLedger, AttemptResult, AuthFailure, AuthServices, Authenticated, Chain,
    ConfigError, Credential, ManualClock, Oversized, PUBLIC_MESSAGE, PasswordAccount, ProviderConfig, RejectReason,
    Secret, Throttle, ThrottlePolicy, check_provider,
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

// ---------------------------------------------------------------- OIDC

#[tokio::test]
async fn valid_tokens_of_each_algorithm_give_the_principal() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec, &k.ed]) })))]);
    for key in [&k.rsa, &k.ec, &k.ed] {
        let p = verify(&chain, &key.sign(&claims())).await.unwrap_or_else(|r| panic!("{:?}: {r:?}", key.alg));
        assert_eq!(p.domain, "example.com");
        assert_eq!(p.provider, "corp");
        assert_eq!(p.subject, "00u1abcd");
        assert_eq!(p.email, "alice.liddell@example.com");
        assert!(p.email_verified);
        assert_eq!(p.given_name.as_deref(), Some("Alice"));
        assert_eq!(p.family_name.as_deref(), Some("Liddell"));
        assert_eq!(p.groups, ["engineering", "admins"]);
        let names: Vec<&str> = p.claims.keys().map(String::as_str).collect();
        // No protocol claims, nothing token-like, no non-strings; `name` is kept whole.
        assert_eq!(names, ["hd", "locale", "name"], "{:?}", key.alg);
        assert_eq!(p.claims["name"], "Alice Liddell");
    }
}

#[tokio::test]
async fn claims_are_read_with_their_variants() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let custom = oidc_config(json!({
        "jwks": jwks(&[&k.rsa]), "groups_claim": "realm_access.roles", "email_claim": "upn",
        "audience": ["other-client", AUDIENCE],
    }));
    let chain_default = chain(&services, vec![("corp", oidc_config(json!({ "jwks": jwks(&[&k.rsa]) })))]);
    let chain_custom = chain(&services, vec![("corp", custom)]);
    let sign = |changes: Value| k.rsa.sign(&with(claims(), changes));

    let p = verify(&chain_default, &sign(json!({ "email_verified": false }))).await;
    assert!(!p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
    let p = verify(&chain_default, &sign(json!({ "email_verified": "true" }))).await;
    assert!(p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
    let p = verify(&chain_default, &sign(json!({ "email_verified": null, "groups": "solo" }))).await;
    let p = p.unwrap_or_else(|r| panic!("{r:?}"));
    assert!(!p.email_verified);
    assert_eq!(p.groups, ["solo"]);
    let p = verify(&chain_default, &sign(json!({ "groups": null, "given_name": null }))).await;
    let p = p.unwrap_or_else(|r| panic!("{r:?}"));
    assert!(p.groups.is_empty());
    assert_eq!(p.given_name, None);
    // Audience as a list; a nested groups claim; another email claim.
    let token = sign(json!({
        "aud": ["someone", AUDIENCE], "azp": AUDIENCE, "upn": "Bob@Example.org", "email": null,
        "realm_access": { "roles": ["r1", "r2"] },
    }));
    let p = verify(&chain_custom, &token).await.unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!((p.email.as_str(), p.groups.as_slice()), ("bob@example.org", &["r1".to_owned(), "r2".to_owned()][..]));
    // Within the leeway (60 s) on both sides, and within the lifetime bound.
    for changes in [
        json!({ "exp": NOW - 59 }),
        json!({ "nbf": NOW + 59 }),
        json!({ "iat": NOW + 59 }),
        json!({ "exp": NOW + 86_400 + 59 }),
        // Several audiences with ours as the authorized party; `azp` alone.
        json!({ "aud": [AUDIENCE, "another-client"], "azp": AUDIENCE }),
        json!({ "azp": AUDIENCE }),
    ] {
        assert!(verify(&chain_default, &sign(changes.clone())).await.is_ok(), "{changes}");
    }
    // An IdP that never sends `email_verified` (Entra ID) can be trusted to
    // own its emails; an explicit `false` is never overridden.
    let trusting = oidc_config(json!({ "jwks": jwks(&[&k.rsa]), "assume_email_verified": true }));
    let chain_trusting = chain(&services, vec![("corp", trusting)]);
    let p = verify(&chain_trusting, &sign(json!({ "email_verified": null }))).await;
    assert!(p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
    let p = verify(&chain_trusting, &sign(json!({ "email_verified": false }))).await;
    assert!(!p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
}

#[tokio::test]
async fn bad_tokens_are_rejected_with_their_reason() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec, &k.ed]) })))]);
    let sign = |changes: Value| k.rsa.sign(&with(claims(), changes));
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let public_pem = fixture("rsa.pub.pem");
    let hs256 = EncodingKey::from_secret(public_pem.as_bytes());
    let good = sign(json!({}));
    let (head, rest) = good.split_once('.').unwrap_or_else(|| panic!("token"));
    let (_, signature) = rest.split_once('.').unwrap_or_else(|| panic!("token"));
    let tampered = format!("{head}.{}.{signature}", b64(&with(claims(), json!({ "sub": "admin" }))));
    let header = |alg: Algorithm, kid: &str, typ: &str| Header {
        kid: Some(kid.to_owned()),
        typ: Some(typ.to_owned()),
        ..Header::new(alg)
    };

    let cases: Vec<(&str, String, RejectReason)> = vec![
        ("expired", sign(json!({ "exp": NOW - 61 })), RejectReason::Expired),
        ("not yet valid", sign(json!({ "nbf": NOW + 61 })), RejectReason::NotYetValid),
        ("no exp", sign(json!({ "exp": null })), RejectReason::MalformedClaim("exp".into())),
        ("wrong audience", sign(json!({ "aud": "someone-else" })), RejectReason::WrongAudience),
        ("no audience", sign(json!({ "aud": null })), RejectReason::WrongAudience),
        ("wrong issuer", sign(json!({ "iss": "https://evil.example" })), RejectReason::WrongIssuer),
        ("another key, same kid", k.other.sign(&claims()), RejectReason::BadSignature),
        ("tampered claims", tampered, RejectReason::BadSignature),
        (
            "alg none",
            format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), b64(&claims())),
            RejectReason::UnsupportedAlgorithm,
        ),
        (
            "HS256 with the public key as secret",
            jsonwebtoken::encode(&header(Algorithm::HS256, "rsa-1", "JWT"), &claims(), &hs256)
                .unwrap_or_else(|e| panic!("{e}")),
            RejectReason::UnsupportedAlgorithm,
        ),
        (
            "RS384 not allowed by default",
            k.rsa.sign_with(header(Algorithm::RS384, "rsa-1", "JWT"), &claims()),
            RejectReason::UnsupportedAlgorithm,
        ),
        ("unknown kid", k.rsa.sign_with(header(Algorithm::RS256, "rsa-2", "JWT"), &claims()), RejectReason::UnknownKey),
        (
            "ES256 header with the RSA key's kid",
            k.ec.sign_with(header(Algorithm::ES256, "rsa-1", "JWT"), &claims()),
            RejectReason::UnknownKey,
        ),
        (
            "access token",
            k.rsa.sign_with(header(Algorithm::RS256, "rsa-1", "at+jwt"), &claims()),
            RejectReason::WrongTokenType,
        ),
        ("not a JWT", "definitely not a token".into(), RejectReason::MalformedToken),
        ("two parts", "eyJhbGciOiJSUzI1NiJ9.e30".into(), RejectReason::MalformedToken),
        ("header not JSON", format!("bm90IGpzb24.{}.c2ln", b64(&claims())), RejectReason::MalformedToken),
        ("claims not JSON", format!("{head}.bm90IGpzb24.{signature}"), RejectReason::BadSignature),
        (
            "crit header",
            format!("{}.{}.c2ln", b64(&json!({ "alg": "RS256", "kid": "rsa-1", "crit": ["exp"] })), b64(&claims())),
            RejectReason::MalformedToken,
        ),
        (
            "oversized token",
            sign(json!({ "padding": "x".repeat(17 * 1024) })),
            RejectReason::OversizedClaims(Oversized::Token(0)),
        ),
        (
            "too many groups",
            sign(json!({ "groups": (0..1001).map(|i| format!("g{i}")).collect::<Vec<_>>() })),
            RejectReason::OversizedClaims(Oversized::GroupCount(1001)),
        ),
        (
            "oversized group",
            sign(json!({ "groups": ["ok", "g".repeat(257)] })),
            RejectReason::OversizedClaims(Oversized::Group(257)),
        ),
        (
            "oversized claim",
            sign(json!({ "department": "d".repeat(1025) })),
            RejectReason::OversizedClaims(Oversized::Claim("department".into(), 1025)),
        ),
        ("groups not strings", sign(json!({ "groups": ["a", 7] })), RejectReason::MalformedClaim("groups".into())),
        ("groups an object", sign(json!({ "groups": {"a": 1} })), RejectReason::MalformedClaim("groups".into())),
        ("missing email", sign(json!({ "email": null })), RejectReason::MissingEmail),
        ("email not an address", sign(json!({ "email": "alice" })), RejectReason::InvalidEmail),
        ("email not a string", sign(json!({ "email": ["a@b.c"] })), RejectReason::InvalidEmail),
        ("missing subject", sign(json!({ "sub": null })), RejectReason::MissingSubject),
        ("empty subject", sign(json!({ "sub": "" })), RejectReason::MissingSubject),
        // OpenID Connect Core 3.1.3.7: several audiences need an `azp`, and
        // an `azp` must be ours.
        (
            "several audiences, no azp",
            sign(json!({ "aud": [AUDIENCE, "another-client"] })),
            RejectReason::WrongAuthorizedParty,
        ),
        (
            "several audiences, azp another client",
            sign(json!({ "aud": [AUDIENCE, "another-client"], "azp": "another-client" })),
            RejectReason::WrongAuthorizedParty,
        ),
        ("azp another client", sign(json!({ "azp": "another-client" })), RejectReason::WrongAuthorizedParty),
        ("azp not a string", sign(json!({ "azp": 7 })), RejectReason::MalformedClaim("azp".into())),
        // Tokens that claim to live for ever, or to come from the future.
        ("exp 1e300", sign(json!({ "exp": 1e300 })), RejectReason::LifetimeTooLong),
        ("exp past the lifetime bound", sign(json!({ "exp": NOW + 86_400 + 61 })), RejectReason::LifetimeTooLong),
        ("iat in the future", sign(json!({ "iat": NOW + 61 })), RejectReason::IssuedInFuture),
        ("iat far in the future", sign(json!({ "iat": 1e300 })), RejectReason::IssuedInFuture),
        ("iat not a number", sign(json!({ "iat": "now" })), RejectReason::MalformedClaim("iat".into())),
    ];
    let mut wrong = Vec::new();
    for (name, token, expected) in cases {
        let got = verify(&chain, &token).await;
        let same = match (&got, &expected) {
            // The token's exact size does not matter here.
            (
                Err(RejectReason::OversizedClaims(Oversized::Token(n))),
                RejectReason::OversizedClaims(Oversized::Token(_)),
            ) => *n > 16 * 1024,
            (Err(got), expected) => got == expected,
            (Ok(_), _) => false,
        };
        if !same {
            wrong.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn provider_configurations_are_checked() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let strict = Arc::new(
        AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build().unwrap_or_else(|e| panic!("{e}")),
    );
    let inline = jwks(&[&k.rsa]);
    let parse = |config: Value| ProviderConfig::from_parts("oidc", &config);
    let make = |services: &Arc<AuthServices>, config: Value| {
        parse(config).and_then(|c| Chain::new(services.clone(), [("p".to_owned(), c)]))
    };
    let base = json!({ "issuer": ISSUER, "audience": AUDIENCE });

    // The defaults and the stored form.
    let config = oidc_config(json!({ "jwks_url": "https://idp.example.com/keys" }));
    let ProviderConfig::Oidc(oidc) = &config else { panic!("kind") };
    assert_eq!((oidc.jwks_cache_ttl_secs, oidc.leeway_secs, oidc.max_token_lifetime_secs), (300, 60, 86_400));
    assert_eq!((oidc.groups_claim.as_str(), oidc.email_claim.as_str()), ("groups", "email"));
    assert_eq!(oidc.audience, [AUDIENCE]);
    let stored = serde_json::to_value(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored["kind"], "oidc");
    assert_eq!(ProviderConfig::from_parts("oidc", &stored["config"]), Ok(config.clone()));
    assert_eq!(ProviderConfig::from_parts("oidc", &config.config_json()), Ok(config));

    // HMAC and `none` cannot even be named.
    for alg in ["HS256", "none"] {
        assert!(matches!(
            parse(with(base.clone(), json!({ "jwks": inline, "algorithms": [alg] }))),
            Err(ConfigError::Json(_))
        ));
    }
    assert!(matches!(parse(with(base.clone(), json!({ "jwks": inline, "typo": 1 }))), Err(ConfigError::Json(_))));
    assert!(matches!(ProviderConfig::from_parts("saml", &json!({})), Err(ConfigError::UnknownKind(_))));
    let refused = [
        json!({}),
        json!({ "jwks": inline, "jwks_url": "https://idp.example.com/keys" }),
        json!({ "jwks_url": "http://idp.example.com/keys" }),
        json!({ "jwks_url": "ftp://idp.example.com/keys" }),
        json!({ "jwks_url": "not a url" }),
        json!({ "jwks": { "keys": [] } }),
        json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } }),
        json!({ "jwks": inline, "audience": [] }),
        json!({ "jwks": inline, "leeway_secs": 3600 }),
        json!({ "jwks": inline, "jwks_cache_ttl_secs": 1 }),
        json!({ "jwks": inline, "max_token_lifetime_secs": 10 }),
        json!({ "jwks": inline, "max_token_lifetime_secs": 30 * 86_400 }),
    ];
    for extra in refused {
        assert!(make(&services, with(base.clone(), extra.clone())).is_err(), "{extra}");
    }
    // Plain HTTP on loopback only where the services allow it.
    let local = with(base.clone(), json!({ "jwks_url": "http://127.0.0.1:9/keys" }));
    assert!(make(&services, local.clone()).is_ok());
    assert!(matches!(make(&strict, local), Err(ConfigError::Field { field: "jwks_url", .. })));

    let password = ProviderConfig::from_parts("password", &json!({})).unwrap_or_else(|e| panic!("{e}"));
    let twice = Chain::new(services.clone(), [("a".to_owned(), password.clone()), ("b".to_owned(), password.clone())]);
    assert_eq!(twice.err(), Some(ConfigError::SecondPasswordProvider));
    let same_name =
        Chain::new(services, [("a".to_owned(), password), ("a".to_owned(), oidc_config(json!({ "jwks": inline })))]);
    assert_eq!(same_name.err(), Some(ConfigError::DuplicateName("a".into())));
}

// ---------------------------------------------------------------- JWKS URL

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

#[tokio::test]
async fn jwks_url_is_fetched_cached_and_refreshed() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let server = JwksServer::start(jwks(&[&k.rsa])).await;
    // Tokens that outlive the clock's moves (longer than the default bound).
    let config = oidc_config(json!({ "jwks_url": server.url, "max_token_lifetime_secs": 200_000 }));
    let chain = chain(&services, vec![("corp", config)]);
    let ok = |r: Result<Principal, RejectReason>| r.unwrap_or_else(|r| panic!("{r:?}"));
    let claims = || with(claims(), json!({ "exp": NOW + 100_000 }));

    // First use fetches, the second is served from the cache.
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 1);
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 1);

    // The IdP rotates in a new key: an unknown kid makes the cache fetch again.
    clock.advance(Duration::from_secs(31));
    server.serve(200, jwks(&[&k.rsa, &k.ec]));
    ok(verify(&chain, &k.ec.sign(&claims())).await);
    assert_eq!(server.hits(), 2);

    // Forged kids cannot make it fetch more than once per refresh interval.
    let forged =
        |kid: &str| k.rsa.sign_with(Header { kid: Some(kid.to_owned()), ..Header::new(Algorithm::RS256) }, &claims());
    for i in 0..5 {
        assert_eq!(verify(&chain, &forged(&format!("forged-{i}"))).await, Err(RejectReason::UnknownKey));
    }
    assert_eq!(server.hits(), 2);
    clock.advance(Duration::from_secs(31));
    assert_eq!(verify(&chain, &forged("forged-late")).await, Err(RejectReason::UnknownKey));
    assert_eq!(server.hits(), 3);

    // After the TTL (5 minutes) the document is fetched again.
    clock.advance(Duration::from_secs(299));
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 3);
    clock.advance(Duration::from_secs(2));
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 4);

    // When the IdP fails, the last document is still used for a while.
    server.serve(500, json!({}));
    clock.advance(Duration::from_secs(301));
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 5);
    clock.advance(Duration::from_secs(3600));
    let failure = login_token(&chain, &k.rsa.sign(&claims())).await.err().unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(only_reason(&failure), RejectReason::KeysUnavailable(_)), "{failure:?}");
    assert!(failure.unavailable());
    assert_eq!(failure.to_string(), PUBLIC_MESSAGE);
}

#[tokio::test]
async fn unreachable_or_broken_jwks_urls_are_unavailable_not_rejections() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let server = JwksServer::start(json!({ "not": "a jwks" })).await;
    // A port nobody listens on: bind one, then free it.
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().unwrap_or_else(|e| panic!("{e}"))
    };
    let token = k.rsa.sign(&claims());
    for (url, hits) in [(format!("http://{closed}/keys"), 0), (server.url.clone(), 1)] {
        let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks_url": url })))]);
        let reason = verify(&chain, &token).await.err();
        assert!(matches!(reason, Some(RejectReason::KeysUnavailable(_))), "{url}: {reason:?}");
        // Failures are not retried before the refresh interval.
        let _ = verify(&chain, &token).await;
        assert_eq!(server.hits(), hits);
    }
}

// ---------------------------------------------------------------- password

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

#[tokio::test]
async fn passwords_right_wrong_unknown_and_unusable() {
    let clock = clock();
    let services = password_services(&clock, Argon2Params::INSECURE_FOR_TESTS);
    let accounts = accounts(&services);
    let chain = password_chain(&services);
    let login = |email: &'static str, pw: &'static str| {
        let chain = &chain;
        let accounts = &accounts;
        async move { chain.authenticate("example.com", &password(email, pw), accounts, None).await }
    };

    let done = login("  ALICE0@Example.com ", "correct horse battery").await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(done.principal.subject, "acc-0");
    assert_eq!(done.principal.email, "alice0@example.com");
    assert_eq!(done.principal.provider, "local");
    assert!(done.principal.email_verified);

    let mut failures = Vec::new();
    for (email, pw, reason) in [
        ("alice0@example.com", "wrong", RejectReason::WrongPassword),
        ("nobody@example.com", "correct horse battery", RejectReason::UnknownAccount),
        ("idp-user0@example.com", "correct horse battery", RejectReason::UnusablePassword),
        ("idp-user0@example.com", "", RejectReason::UnusablePassword),
    ] {
        let failure = login(email, pw).await.err().unwrap_or_else(|| panic!("{email} accepted"));
        assert_eq!(only_reason(&failure), reason);
        assert!(!failure.unavailable());
        failures.push(failure);
    }
    // What the caller can show is the same for all.
    assert!(failures.iter().all(|f| f.to_string() == PUBLIC_MESSAGE));
    // The credential appears in no error, reason or debug output.
    for f in &failures {
        let text = format!("{f:?} {f} {}", f.summary());
        assert!(!text.contains("correct horse") && !text.contains("wrong\""), "{text}");
    }
    let debug = format!("{:?}", password("a@b.c", "correct horse battery"));
    assert!(!debug.contains("correct horse"), "{debug}");

    let long = "x".repeat(2000);
    let failure = chain.authenticate("example.com", &password("alice1@example.com", &long), &accounts, None).await;
    assert_eq!(failure.err().map(|f| only_reason(&f)), Some(RejectReason::OversizedCredential));

    // The caller may also hand over a lookup result it already has.
    let one = accounts.get("alice1@example.com").cloned();
    let done =
        chain.authenticate("example.com", &password("alice1@example.com", "correct horse battery"), &one, None).await;
    assert_eq!(done.map(|d| d.principal.subject).ok().as_deref(), Some("acc-1"));
    let other =
        chain.authenticate("example.com", &password("alice2@example.com", "correct horse battery"), &one, None).await;
    assert_eq!(other.err().map(|f| only_reason(&f)), Some(RejectReason::UnknownAccount));
}

/// With the production parameters, an unknown account and an unusable
/// password cost about as much as a wrong password. Behaviour, not a
/// benchmark: the bound is loose.
#[tokio::test]
async fn unknown_accounts_take_as_long_as_wrong_passwords() {
    let clock = clock();
    let services = password_services(&clock, Argon2Params::default());
    let accounts = accounts(&services);
    let chain = password_chain(&services);
    let time = |email: String, pw: &'static str| {
        let (chain, accounts) = (&chain, &accounts);
        async move {
            let started = Instant::now();
            let result = chain.authenticate("example.com", &password(&email, pw), accounts, None).await;
            assert!(result.is_err());
            started.elapsed()
        }
    };
    let (mut wrong, mut unknown, mut unusable) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for i in 0..3 {
        wrong = wrong.min(time(format!("alice{i}@example.com"), "wrong").await);
        unknown = unknown.min(time(format!("nobody{i}@example.com"), "wrong").await);
        unusable = unusable.min(time(format!("idp-user{i}@example.com"), "wrong").await);
    }
    assert!(wrong > Duration::from_millis(1), "the default parameters hash for real: {wrong:?}");
    assert!(unknown >= wrong / 3, "unknown {unknown:?} vs wrong {wrong:?}");
    assert!(unusable >= wrong / 3, "unusable {unusable:?} vs wrong {wrong:?}");
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_until_the_lockout_ends() {
    let clock = clock();
    let services = password_services(&clock, Argon2Params::INSECURE_FOR_TESTS);
    let accounts = accounts(&services);
    let chain = password_chain(&services);
    let reason = |email: &'static str, pw: &'static str| {
        let (chain, accounts) = (&chain, &accounts);
        async move {
            match chain.authenticate("example.com", &password(email, pw), accounts, None).await {
                Ok(_) => None,
                Err(f) => Some(only_reason(&f)),
            }
        }
    };

    // Failures spread over more than the window do not add up.
    for _ in 0..4 {
        assert_eq!(reason("alice0@example.com", "wrong").await, Some(RejectReason::WrongPassword));
    }
    clock.advance(Duration::from_secs(15 * 60 + 1));
    for _ in 0..4 {
        assert_eq!(reason("alice0@example.com", "wrong").await, Some(RejectReason::WrongPassword));
    }
    assert_eq!(reason("alice0@example.com", "correct horse battery").await, None);

    // Five within the window lock the account, even for the right password;
    // the key is the normalized email; other accounts are not affected.
    for _ in 0..5 {
        assert_eq!(reason("alice1@example.com", "wrong").await, Some(RejectReason::WrongPassword));
    }
    assert_eq!(reason("ALICE1@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
    assert_eq!(reason("alice2@example.com", "correct horse battery").await, None);
    clock.advance(Duration::from_secs(59));
    assert_eq!(reason("alice1@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
    clock.advance(Duration::from_secs(2));
    assert_eq!(reason("alice1@example.com", "correct horse battery").await, None);

    // Unknown accounts are throttled the same way: no difference to observe.
    for _ in 0..5 {
        assert_eq!(reason("ghost@example.com", "x").await, Some(RejectReason::UnknownAccount));
    }
    assert_eq!(reason("ghost@example.com", "x").await, Some(RejectReason::Throttled));
}

// ---------------------------------------------------------------- chain

#[tokio::test]
async fn the_chain_tries_providers_in_order_and_the_first_success_wins() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let accounts = accounts(&services);
    let other_issuer = oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec]), "issuer": "https://other.example" }));
    let main = || oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec]) }));
    let local = || ProviderConfig::from_parts("password", &json!({})).unwrap_or_else(|e| panic!("{e}"));
    let chain =
        chain(&services, vec![("local", local()), ("other", other_issuer), ("main", main()), ("main-2", main())]);
    let names = |attempts: &[provisio::auth::Attempt]| -> Vec<(String, String)> {
        attempts
            .iter()
            .map(|a| {
                let result = match &a.result {
                    AttemptResult::Authenticated => "authenticated".to_owned(),
                    AttemptResult::Rejected(r) => r.code().to_owned(),
                    AttemptResult::NotApplicable => "not_applicable".to_owned(),
                };
                (a.provider.clone(), result)
            })
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    };

    // Not applicable skipped, a rejection passed over, the first success wins.
    let done = login_token(&chain, &k.ec.sign(&claims())).await.unwrap_or_else(|f| panic!("{f:?}"));
    assert_eq!(done.principal.provider, "main");
    assert_eq!(
        names(&done.attempts),
        pairs(&[("local", "not_applicable"), ("other", "wrong_issuer"), ("main", "authenticated")])
    );

    // A password goes to the password provider only.
    let done = chain
        .authenticate("example.com", &password("alice0@example.com", "correct horse battery"), &accounts, None)
        .await;
    let done = done.unwrap_or_else(|f| panic!("{f:?}"));
    assert_eq!(done.principal.provider, "local");
    assert_eq!(names(&done.attempts), pairs(&[("local", "authenticated")]));

    // All fail: one generic failure, every reason kept, the token in none.
    let token = k.other.sign(&claims());
    let failure = login_token(&chain, &token).await.err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(failure.to_string(), PUBLIC_MESSAGE);
    assert_eq!(
        names(&failure.attempts),
        pairs(&[
            ("local", "not_applicable"),
            ("other", "bad_signature"),
            ("main", "bad_signature"),
            ("main-2", "bad_signature")
        ])
    );
    assert_eq!(
        failure.summary(),
        "local: not_applicable, other: bad_signature, main: bad_signature, main-2: bad_signature"
    );
    let signature = token.rsplit('.').next().unwrap_or_default();
    assert!(!format!("{failure:?}").contains(signature));
    assert!(!format!("{:?}", Credential::IdToken(Secret::new(token.clone()))).contains(signature));

    // A single provider answers on its own too.
    let provider = &chain.providers()[0];
    let answer = provider
        .authenticate(&services, "example.com", &Credential::IdToken(Secret::new(token)), &accounts, None)
        .await;
    assert_eq!(answer, Answer::NotApplicable);

    // No provider at all: the same generic failure.
    let empty = Chain::new(services.clone(), []).unwrap_or_else(|e| panic!("{e}"));
    let failure = login_token(&empty, "x").await.err().unwrap_or_else(|| panic!("accepted"));
    assert!(failure.attempts.is_empty());
    assert_eq!(failure.to_string(), PUBLIC_MESSAGE);
}

#[tokio::test]
async fn keys_are_chosen_by_kid_and_algorithm() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let no_kid = |key: &TestKey| {
        let mut jwk = key.jwk();
        if let Value::Object(o) = &mut jwk {
            o.remove("kid");
        }
        jwk
    };
    let unsigned = |key: &TestKey| key.sign_with(Header::new(key.alg), &claims());
    // Keys that cannot verify are skipped: symmetric, encryption-only, unknown curves.
    let noise = [
        json!({ "kty": "oct", "k": "c2VjcmV0", "kid": "hmac" }),
        with(k.ec.jwk(), json!({ "use": "enc", "kid": "enc-1" })),
        json!({ "kty": "OKP", "crv": "X25519", "x": "AAAA", "kid": "x" }),
        json!({ "kty": "RSA", "kid": "broken" }),
    ];
    let mut cases = vec![
        // One key without a kid: tokens with or without a kid use it.
        (json!({ "keys": [no_kid(&k.rsa)] }), k.rsa.sign(&claims()), None),
        (json!({ "keys": [no_kid(&k.rsa)] }), unsigned(&k.rsa), None),
        // No kid in the token: the only key of the right type.
        (jwks(&[&k.rsa, &k.ec]), unsigned(&k.ec), None),
        // No kid and two candidates: ambiguous.
        (
            jwks(&[&k.rsa, &TestKey::load("rsa-other.pem", Algorithm::RS256, "rsa-2")]),
            unsigned(&k.rsa),
            Some(RejectReason::UnknownKey),
        ),
        // A key whose own `alg` differs from the token's is not used.
        (
            json!({ "keys": [with(k.rsa.jwk(), json!({ "alg": "PS256" }))] }),
            k.rsa.sign(&claims()),
            Some(RejectReason::UnknownKey),
        ),
    ];
    let mut with_noise = noise.to_vec();
    with_noise.push(k.ed.jwk());
    cases.push((json!({ "keys": with_noise }), k.ed.sign(&claims()), None));
    for (i, (set, token, expected)) in cases.into_iter().enumerate() {
        let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks": set })))]);
        assert_eq!(verify(&chain, &token).await.err(), expected, "case {i}");
    }
}

/// The login engine runs the chain inside multi-threaded servers.
#[test]
fn the_chain_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let clock = clock();
    let services = services(&clock);
    let chain = password_chain(&services);
    let accounts = no_accounts();
    let credential = password("a@b.c", "x");
    is_send(&chain.authenticate("example.com", &credential, &accounts, None));
}

// ---------------------------------------------------------------- throttle

/// Services for the throttle tests: cheap hashes, this clock and ledger.
fn throttled_services(clock: &Arc<ManualClock>, ledger: Arc<dyn AttemptLedger>) -> Arc<AuthServices> {
    let services =
        AuthServices::builder().clock(clock.clone()).argon2(Argon2Params::INSECURE_FOR_TESTS).attempt_ledger(ledger);
    Arc::new(services.build().unwrap_or_else(|e| panic!("services: {e}")))
}

/// Runs `test` with each ledger: in memory, then the store of a fresh
/// database of each backend.
async fn each_ledger(test: impl AsyncFn(&str, Arc<dyn AttemptLedger>)) {
    test("memory", Arc::new(Throttle::new(100_000))).await;
    for db in crate::TestDatabase::all() {
        let store = db.open().await;
        test(&db.kind().to_string(), Arc::new(store.clone())).await;
        store.close().await;
        db.cleanup().await;
    }
}

fn reason_of(result: &Result<Authenticated, AuthFailure>) -> Option<RejectReason> {
    result.as_ref().err().map(only_reason)
}

/// Sends every credential at once, each from `source`, and answers the
/// results in the order given.
async fn burst(
    chain: &Chain,
    accounts: &Arc<HashMap<String, PasswordAccount>>,
    credentials: Vec<(Credential, Option<IpAddr>)>,
) -> Vec<Result<Authenticated, AuthFailure>> {
    let tasks: Vec<_> = credentials
        .into_iter()
        .map(|(credential, source)| {
            let (chain, accounts) = (chain.clone(), accounts.clone());
            tokio::spawn(async move { chain.authenticate("example.com", &credential, &*accounts, source).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_of_guesses_gets_no_more_hash_checks_than_the_allowance() {
    each_ledger(async |ledger_name, ledger| {
        let clock = clock();
        let services = throttled_services(&clock, ledger);
        let accounts = Arc::new(accounts(&services));
        let chain = password_chain(&services);
        let before = services.hasher().verifications();
        // 200 wrong guesses and, sent with them, the right password.
        let mut credentials: Vec<_> =
            (0..200).map(|i| (password("alice0@example.com", &format!("guess-{i}")), None)).collect();
        credentials.push((password("alice0@example.com", "correct horse battery"), None));
        let results = burst(&chain, &accounts, credentials).await;

        let checks = services.hasher().verifications() - before;
        let max = services.throttle_policy().max_failures;
        assert!((1..=u64::from(max)).contains(&checks), "[{ledger_name}] {checks} hash checks for one account");
        let wrong = results.iter().filter(|r| reason_of(r) == Some(RejectReason::WrongPassword)).count();
        let throttled = results.iter().filter(|r| reason_of(r) == Some(RejectReason::Throttled)).count();
        assert_eq!((wrong as u64, wrong + throttled), (checks, 201), "[{ledger_name}]");
        assert_eq!(reason_of(&results[200]), Some(RejectReason::Throttled), "[{ledger_name}] the right password");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_allow_together_what_one_allows() {
    for db in crate::TestDatabase::all() {
        let clock = clock();
        let (store_a, store_b) = (db.open().await, db.open().await);
        let node_a = throttled_services(&clock, Arc::new(store_a.clone()));
        let node_b = throttled_services(&clock, Arc::new(store_b.clone()));
        let accounts = Arc::new(accounts(&node_a));
        let (chain_a, chain_b) = (password_chain(&node_a), password_chain(&node_b));
        let before = node_a.hasher().verifications() + node_b.hasher().verifications();
        let guesses = |node: &str| -> Vec<(Credential, Option<IpAddr>)> {
            (0..100).map(|i| (password("alice1@example.com", &format!("{node}-{i}")), None)).collect()
        };
        let (a, b) = tokio::join!(burst(&chain_a, &accounts, guesses("a")), burst(&chain_b, &accounts, guesses("b")));

        let checks = node_a.hasher().verifications() + node_b.hasher().verifications() - before;
        let max = u64::from(node_a.throttle_policy().max_failures);
        assert!((1..=max).contains(&checks), "[{}] {checks} hash checks over two nodes", db.kind());
        let refused = a.iter().chain(&b).filter(|r| reason_of(r) == Some(RejectReason::Throttled)).count();
        assert_eq!(refused as u64, 200 - checks, "[{}]", db.kind());
        // Either node now refuses the right password too.
        let right = password("alice1@example.com", "correct horse battery");
        for chain in [&chain_a, &chain_b] {
            let result = chain.authenticate("example.com", &right, &*accounts, None).await;
            assert_eq!(reason_of(&result), Some(RejectReason::Throttled), "[{}]", db.kind());
        }
        store_a.close().await;
        store_b.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn spraying_many_accounts_from_one_source_is_stopped_by_the_source_counter() {
    each_ledger(async |ledger_name, ledger| {
        let clock = clock();
        let services = throttled_services(&clock, ledger);
        let hash = services.hasher().hash("a real password").unwrap_or_else(|e| panic!("{e}"));
        let accounts: HashMap<String, PasswordAccount> = (0..301)
            .map(|i| {
                let email = format!("user{i}@example.com");
                let account = PasswordAccount {
                    id: format!("acc-{i}"),
                    email: email.clone(),
                    hash: Some(hash.clone()),
                    given_name: None,
                    family_name: None,
                };
                (email, account)
            })
            .collect();
        let chain = password_chain(&services);
        let sprayer: IpAddr = "2001:db8:7:7::1".parse().unwrap_or_else(|e| panic!("{e}"));
        let neighbour: IpAddr = "2001:db8:7:7:ffff::2".parse().unwrap_or_else(|e| panic!("{e}"));
        let elsewhere: IpAddr = "203.0.113.9".parse().unwrap_or_else(|e| panic!("{e}"));
        let attempt = |i: usize, pw: &'static str, source: IpAddr| {
            let (chain, accounts) = (&chain, &accounts);
            async move {
                let credential = password(&format!("user{i}@example.com"), pw);
                reason_of(&chain.authenticate("example.com", &credential, accounts, Some(source)).await)
            }
        };

        let before = services.hasher().verifications();
        let mut reasons = Vec::new();
        for i in 0..300 {
            reasons.push(attempt(i, "Summer2026!", sprayer).await);
        }
        let allowed = u64::from(services.throttle_policy().max_failures_per_source);
        assert_eq!(services.hasher().verifications() - before, allowed, "[{ledger_name}]");
        let (first, rest) = reasons.split_at(usize::try_from(allowed).unwrap_or(usize::MAX));
        assert!(first.iter().all(|r| *r == Some(RejectReason::WrongPassword)), "[{ledger_name}] {first:?}");
        assert!(rest.iter().all(|r| *r == Some(RejectReason::Throttled)), "[{ledger_name}] {rest:?}");
        // The whole IPv6 /64 is one source; another address is not affected,
        // and no account was locked by the spray.
        assert_eq!(attempt(300, "a real password", neighbour).await, Some(RejectReason::Throttled));
        assert_eq!(attempt(300, "a real password", elsewhere).await, None, "[{ledger_name}]");
        assert_eq!(attempt(0, "a real password", elsewhere).await, None, "[{ledger_name}]");
    })
    .await;
}

#[tokio::test]
async fn a_success_forgets_the_account_and_lockouts_end_on_time() {
    each_ledger(async |ledger_name, ledger| {
        let clock = clock();
        let services = throttled_services(&clock, ledger);
        let accounts = accounts(&services);
        let chain = password_chain(&services);
        let source: IpAddr = "198.51.100.4".parse().unwrap_or_else(|e| panic!("{e}"));
        let reason = |email: &'static str, pw: &'static str| {
            let (chain, accounts) = (&chain, &accounts);
            async move {
                reason_of(&chain.authenticate("example.com", &password(email, pw), accounts, Some(source)).await)
            }
        };
        let wrong = Some(RejectReason::WrongPassword);

        // Four failures, a success: the count starts again, so five more
        // failures are checked before the lockout.
        for _ in 0..4 {
            assert_eq!(reason("alice2@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, None, "[{ledger_name}]");
        for _ in 0..5 {
            assert_eq!(reason("alice2@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, Some(RejectReason::Throttled));

        // The lockout lasts a minute, then doubles at the next one.
        clock.advance(Duration::from_secs(59));
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
        clock.advance(Duration::from_secs(2));
        for _ in 0..5 {
            assert_eq!(reason("alice2@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        clock.advance(Duration::from_secs(119));
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
        clock.advance(Duration::from_secs(2));
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, None, "[{ledger_name}]");
        // Failures spread over more than the window do not add up.
        for _ in 0..4 {
            assert_eq!(reason("alice3@example.com", "wrong").await, wrong);
        }
        clock.advance(Duration::from_secs(15 * 60 + 1));
        for _ in 0..4 {
            assert_eq!(reason("alice3@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        assert_eq!(reason("alice3@example.com", "correct horse battery").await, None, "[{ledger_name}]");
    })
    .await;
}

#[test]
fn the_in_memory_ledger_gives_the_source_its_reservation_back_on_success() {
    let throttle = Throttle::new(100);
    let policy = ThrottlePolicy::default();
    let now = std::time::UNIX_EPOCH + Duration::from_secs(NOW);
    let source = AttemptKey::source("192.0.2.55".parse().unwrap_or_else(|e| panic!("{e}")));
    let keys = [AttemptKey::account("Alice@Example.com"), source.clone()];
    for _ in 0..3 {
        assert_eq!(throttle.reserve(&keys, &policy, now), Ok(()));
    }
    throttle.succeeded(&keys, &policy);
    assert_eq!(throttle.record(&AttemptKey::account("alice@example.com")), None);
    assert_eq!(throttle.record(&source).map(|r| r.failures), Some(2));
}

// ---------------------------------------------------------------- JWKS addresses

fn strict_services() -> Arc<AuthServices> {
    let services = AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build();
    Arc::new(services.unwrap_or_else(|e| panic!("{e}")))
}

fn url_check(services: &AuthServices, url: &str) -> Result<ProviderConfig, ConfigError> {
    check_provider("oidc", &json!({ "issuer": ISSUER, "audience": AUDIENCE, "jwks_url": url }), services)
}

#[test]
fn jwks_urls_on_private_addresses_are_refused_unless_allowed() {
    let strict = strict_services();
    let loopback_ok = services(&clock());
    let anything = Arc::new(
        AuthServices::builder()
            .argon2(Argon2Params::INSECURE_FOR_TESTS)
            .allow_private_jwks_urls(true)
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let cases = [
        ("https://127.0.0.1/keys", "loopback"),
        ("https://127.8.9.10/keys", "loopback"),
        ("https://[::1]/keys", "loopback"),
        ("https://localhost/keys", "loopback"),
        ("https://LOCALHOST./keys", "loopback"),
        ("https://10.0.0.8/keys", "private"),
        ("https://172.16.3.4/keys", "private"),
        ("https://192.168.1.1:8443/keys", "private"),
        ("https://[fd12::1]/keys", "private"),
        ("https://[::ffff:10.0.0.1]/keys", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/keys", "link-local"),
        ("https://0.0.0.0/keys", "unspecified"),
        ("https://[::]/keys", "unspecified"),
    ];
    for (url, kind) in cases {
        match url_check(&strict, url) {
            Err(ConfigError::Field { field: "jwks_url", problem }) => {
                assert!(problem.contains(kind), "{url}: {problem}")
            }
            other => panic!("{url}: {other:?}"),
        }
        assert!(url_check(&anything, url).is_ok(), "{url} with private URLs allowed");
        // Allowing loopback (for a local IdP) allows loopback only.
        assert_eq!(url_check(&loopback_ok, url).is_ok(), kind == "loopback", "{url}");
    }
    // An IPv4 address in a notation `getaddrinfo` accepts is no host name.
    for url in ["https://2130706433/keys", "https://127.1/keys", "https://0x7f.0.0.1/keys"] {
        assert!(matches!(url_check(&strict, url), Err(ConfigError::Field { field: "jwks_url", .. })), "{url}");
    }
    for url in ["https://idp.example.com/keys", "https://8.8.8.8/keys", "https://[2606:4700::1111]/keys"] {
        assert!(url_check(&strict, url).is_ok(), "{url}");
    }
}

#[tokio::test]
async fn the_fetcher_connects_to_allowed_addresses_only() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.rsa])).await;
    let port = server.url.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap_or_default().to_owned();
    let by_name = format!("http://localhost:{port}/.well-known/jwks.json");
    let timeout = Duration::from_secs(5);
    let public = HttpFetcher::with_addresses(true, timeout, JwksAddresses::Public).unwrap_or_else(|e| panic!("{e}"));
    let loopback =
        HttpFetcher::with_addresses(true, timeout, JwksAddresses::PublicAndLoopback).unwrap_or_else(|e| panic!("{e}"));

    // An address literal is refused before connecting; a name whose only
    // addresses are loopback fails to resolve (at every connection, which
    // is what stops DNS rebinding).
    let literal = public.fetch(&server.url).await;
    assert!(matches!(literal, Err(FetchError::NonPublicAddress(_))), "{literal:?}");
    match public.fetch(&by_name).await {
        Err(FetchError::Transport(e)) => assert!(e.contains("no public address"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits(), 0);
    // Allowed, both work.
    assert!(loopback.fetch(&server.url).await.is_ok());
    assert!(loopback.fetch(&by_name).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[test]
fn providers_are_checked_completely_at_creation() {
    let k = keys();
    let strict = strict_services();
    let base = json!({ "issuer": ISSUER, "audience": AUDIENCE });
    let check = |extra: Value| check_provider("oidc", &with(base.clone(), extra), &strict);

    let cases: Vec<(&str, Value, &str)> = vec![
        ("no keys", json!({}), "`jwks` give exactly one of `jwks` and `jwks_url`"),
        ("an empty JWKS", json!({ "jwks": { "keys": [] } }), "no usable signature key"),
        ("only an oct key", json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } }), "no usable"),
        (
            "both jwks and jwks_url",
            json!({ "jwks": jwks(&[&k.rsa]), "jwks_url": "https://idp.example.com/keys" }),
            "exactly one",
        ),
        ("an http:// URL", json!({ "jwks_url": "http://idp.example.com/keys" }), "https://"),
        ("a private address", json!({ "jwks_url": "https://10.1.2.3/keys" }), "private address"),
        ("an unknown field", json!({ "jwks": jwks(&[&k.rsa]), "typo": true }), "typo"),
    ];
    for (name, extra, expected) in cases {
        match check(extra) {
            Err(e) => assert!(e.to_string().contains(expected), "{name}: {e}"),
            Ok(c) => panic!("{name}: accepted {c:?}"),
        }
    }
    // What passes is what would be stored.
    let good = check(json!({ "jwks": jwks(&[&k.rsa]) })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good.kind().as_str(), "oidc");
    assert!(check(json!({ "jwks_url": "https://idp.example.com/keys" })).is_ok());
    assert!(check_provider("password", &json!({}), &strict).is_ok());
    assert!(matches!(check_provider("saml", &json!({}), &strict), Err(ConfigError::UnknownKind(_))));
}
