//! Logins from a real OpenID provider: the npm package `oidc-provider`
//! (`tests/oidc-provider/server.mjs`) runs on 127.0.0.1; the test drives an
//! authorization code flow with PKCE as a client over HTTP, takes the ID
//! token from the token endpoint, and logs in to a domain whose `oidc`
//! provider is configured from the provider's discovery document (issuer and
//! `jwks_uri`), with the example plugins bound. Then the refusals, each with
//! the reason the audit log keeps.
//!
//! Node.js and the package are needed (`npm ci --prefix tests/oidc-provider`,
//! which `scripts/test` runs): without them the test fails, it never skips.

use crate::plugins;
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt as _, Full};
use jsonwebtoken::{Algorithm, Header};
use provisio::auth::{Argon2Params, AuthServices, Credential, ManualClock, Secret};
use provisio::engine::{Host, LoginRequest, LoginSuccess};
use provisio::plugin::{BindingConfig, Limits};
use provisio::store::{
    AuditFilter, Binding, FailurePolicy, NewAccount, NewDomain, NewProvider, OrgId, ProviderKind, Store, SyncMode,
};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::TestDatabase;
use crate::auth::TestKey;

/// The client the domain's provider accepts tokens for.
const CLIENT: &str = "provisio-test";
/// Another application of the same provider.
const OTHER_CLIENT: &str = "provisio-other";
/// The test clients' redirect URI: never followed, the code is read from the
/// `Location` header.
const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";

fn ok<T, E: std::fmt::Display>(r: Result<T, E>, doing: &str) -> T {
    r.unwrap_or_else(|e| panic!("{doing}: {e}"))
}

// ---------------------------------------------------------------- the provider

/// The running provider, stopped when dropped.
struct Idp {
    child: Child,
    /// `http://127.0.0.1:PORT`, the issuer.
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Idp {
    fn start() -> Self {
        let dir = crate::root().join("tests/oidc-provider");
        let package = dir.join("node_modules/oidc-provider/package.json");
        assert!(
            package.is_file(),
            "the npm package oidc-provider is not installed in {}: run `npm ci --prefix tests/oidc-provider` \
             (scripts/test does)",
            dir.display()
        );
        let child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg("0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = child.unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): Node.js 20 or later is needed for the OpenID provider tests")
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    stderr.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading so the provider never blocks on a full pipe.
            for _ in lines {}
        });
        let first = rx.recv_timeout(Duration::from_secs(30));
        let mut idp = Self { child, base: String::new(), stderr };
        match first {
            Ok(Some(Ok(line))) if line.starts_with("listening http://127.0.0.1:") => {
                line.trim_start_matches("listening ").clone_into(&mut idp.base);
                idp
            }
            other => panic!("the OpenID provider did not start ({other:?}); its stderr:\n{}", idp.stderr()),
        }
    }

    fn stderr(&self) -> String {
        // Give the reader thread a moment to catch up with a dying process.
        std::thread::sleep(Duration::from_millis(100));
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- the client

/// An HTTP/1 client with a cookie jar (cookies are sent to every path: their
/// names are distinct here).
struct Browser {
    client: hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    cookies: HashMap<String, String>,
}

struct Response {
    status: StatusCode,
    location: Option<String>,
    body: Bytes,
}

impl Browser {
    fn new() -> Self {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Self { client, cookies: HashMap::new() }
    }

    async fn send(&mut self, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> Response {
        let mut builder = Request::builder().method(method).uri(url);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header(header::COOKIE, jar.join("; "));
        }
        let body = match form {
            Some(form) => {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(form_encode(form))
            }
            None => Bytes::new(),
        };
        let response = ok(self.client.request(ok(builder.body(Full::new(body)), "request")).await, url);
        for cookie in response.headers().get_all(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap_or_default();
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let status = response.status();
        let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = ok(response.into_body().collect().await, "body").to_bytes();
        Response { status, location, body }
    }

    async fn json(&mut self, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> Value {
        let response = self.send(method, url, form).await;
        let body = String::from_utf8_lossy(&response.body);
        assert_eq!(response.status, StatusCode::OK, "{url}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<String> =
        pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
    pairs.join("&")
}

/// The query parameters of a URL.
fn query(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

/// What the discovery document says.
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

async fn discover(idp: &Idp) -> Discovery {
    let doc = Browser::new().json(Method::GET, &format!("{}/.well-known/openid-configuration", idp.base), None).await;
    let field = |name: &str| doc[name].as_str().unwrap_or_else(|| panic!("discovery has no {name}: {doc}")).to_owned();
    let methods = doc["code_challenge_methods_supported"].as_array().cloned().unwrap_or_default();
    assert!(methods.contains(&json!("S256")), "PKCE with S256: {doc}");
    Discovery {
        issuer: field("issuer"),
        authorization_endpoint: field("authorization_endpoint"),
        token_endpoint: field("token_endpoint"),
        jwks_uri: field("jwks_uri"),
    }
}

/// An authorization code flow with PKCE, as `client`, for the test user
/// `user` (named by `login_hint`; the provider's interaction logs them in
/// without a form): the ID token from the token endpoint.
async fn id_token(idp: &Idp, disco: &Discovery, client: &str, user: &str) -> String {
    let mut browser = Browser::new();
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let params = form_encode(&[
        ("client_id", client),
        ("response_type", "code"),
        ("scope", "openid email profile groups"),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", &state),
        ("nonce", &nonce),
        ("login_hint", user),
    ]);
    let mut url = format!("{}?{params}", disco.authorization_endpoint);
    let mut redirects = 0;
    let callback = loop {
        let response = browser.send(Method::GET, &url, None).await;
        let body = String::from_utf8_lossy(&response.body);
        assert!(response.status.is_redirection(), "{url}: {} {body}\n{}", response.status, idp.stderr());
        let location = response.location.unwrap_or_else(|| panic!("{url}: a redirect without Location"));
        url = if location.starts_with('/') { format!("{}{location}", idp.base) } else { location };
        if url.starts_with(REDIRECT_URI) {
            break query(&url);
        }
        redirects += 1;
        assert!(redirects < 10, "too many redirects, at {url}");
    };
    assert_eq!(callback.get("state"), Some(&state), "{callback:?}");
    assert_eq!(callback.get("iss"), Some(&disco.issuer), "{callback:?}");
    let code = callback.get("code").unwrap_or_else(|| panic!("no code: {callback:?}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", client),
        ("code_verifier", &verifier),
    ];
    let tokens = browser.json(Method::POST, &disco.token_endpoint, Some(&form)).await;
    let id_token = tokens["id_token"].as_str().unwrap_or_else(|| panic!("no id_token: {tokens}")).to_owned();
    assert_eq!(claims(&id_token)["nonce"], nonce.as_str());
    id_token
}

/// A compact JWS's header and payload.
fn parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = |what: &str| {
        let part = parts.next().unwrap_or_else(|| panic!("no {what} in {token}"));
        let bytes = ok(URL_SAFE_NO_PAD.decode(part), what);
        ok(serde_json::from_slice::<Value>(&bytes), what)
    };
    (decode("header"), decode("payload"))
}

fn claims(token: &str) -> Value {
    parts(token).1
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

// ---------------------------------------------------------------- Provisio

/// The domain `acme`, whose one provider is the running IdP, configured from
/// its discovery document, with `default-creator` and `group-mapper` bound.
async fn host(store: &Store, disco: &Discovery, clock: Arc<ManualClock>) -> (Host, OrgId) {
    let auth =
        AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).clock(clock).allow_http_loopback(true).build();
    let auth = Arc::new(ok(auth, "auth services"));
    let org = ok(store.create_organization("acme").await, "organization");
    let mut teams = Vec::new();
    for name in ["engineering", "everyone", "sales"] {
        teams.push(ok(store.create_team(&org.id, name).await, "team"));
    }
    ok(store.create_role(&org.id, "developer").await, "role");
    let domain = NewDomain {
        org: org.id.clone(),
        name: "acme".into(),
        jit: true,
        default_team: Some(teams[1].id.clone()),
        email_domains: vec!["acme.example".into()],
    };
    let domain = ok(store.create_domain(domain).await, "domain");
    let verified = store.verify_email_domain(&domain.id, "acme.example", provisio::store::Verification::Operator).await;
    ok(verified, "verify claim");
    let config = json!({"issuer": disco.issuer, "audience": CLIENT, "jwks_url": disco.jwks_uri});
    let idp = NewProvider { name: "corp-idp".into(), kind: ProviderKind::Oidc, config: config.to_string() };
    let idp = ok(store.add_provider(&domain.id, idp).await, "oidc provider");

    let host = Host::builder().store(store.clone()).runtime(crate::runtime()).auth_services(auth).build().await;
    let host = ok(host, "host");
    let creator =
        ok(host.upload_plugin(crate::component(plugins::DEFAULT_CREATOR), &org.id).await, "upload").record.hash;
    let assigner = ok(host.upload_plugin(crate::component(plugins::GROUP_MAPPER), &org.id).await, "upload").record.hash;
    let mapping = json!({
        "groups": {"Engineering": "team:engineering, role:developer", "Sales": "team:sales"},
        "default-team": "everyone",
        "digits": 4,
    });
    let binding = Binding {
        domain: domain.id.clone(),
        provider: idp.id.clone(),
        creator: Some(creator),
        assigner: Some(assigner),
        config: ok(BindingConfig::from_json(&mapping), "mapping"),
        limits: Some(Limits { wall_time: std::time::Duration::from_millis(1000), ..Limits::default() }),
        failure_policy: FailurePolicy::FailClosed,
        sync_mode: SyncMode::OnCreate,
        canary: None,
        shadow: None,
    };
    ok(host.bind(&binding).await, "bind");
    (host, org.id)
}

async fn login(host: &Host, token: &str) -> Result<LoginSuccess, provisio::engine::LoginError> {
    let credential = Credential::IdToken(Secret::new(token));
    host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await
}

use crate::engine::membership_rows as rows;

fn expected(rows: &[(&str, &str)]) -> Vec<(String, String, String)> {
    rows.iter().map(|(k, n)| ((*k).to_owned(), (*n).to_owned(), "idp".to_owned())).collect()
}

/// The login is refused with `code`, and the audit event says why the
/// provider rejected the token (`reason`, when the token was the problem).
async fn refused(host: &Host, store: &Store, org: &OrgId, token: &str, code: &str, reason: Option<&str>, what: &str) {
    let error = login(host, token).await.err().unwrap_or_else(|| panic!("{what}: the login succeeded"));
    assert_eq!(error.code(), code, "{what}: {error}");
    let filter = AuditFilter { org: Some(org.clone()), ..AuditFilter::default() };
    let events = ok(store.list_audit(&filter).await, "audit");
    let event = events.first().unwrap_or_else(|| panic!("{what}: no audit event"));
    assert_eq!(event.event.outcome, code, "{what}: {event:?}");
    if let Some(reason) = reason {
        let detail: Value = ok(serde_json::from_str(&event.event.detail), "audit detail");
        assert_eq!(detail["attempts"], format!("corp-idp: {reason}"), "{what}: {event:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_from_a_real_openid_provider() {
    let idp = Idp::start();
    let disco = discover(&idp).await;
    assert_eq!(disco.issuer, idp.base, "the issuer is the provider's URL");

    let alice = id_token(&idp, &disco, CLIENT, "alice").await;
    let bob = id_token(&idp, &disco, CLIENT, "bob").await;
    let carol = id_token(&idp, &disco, CLIENT, "carol").await;
    let alice_elsewhere = id_token(&idp, &disco, OTHER_CLIENT, "alice").await;
    let (header, payload) = parts(&alice);
    assert_eq!(header["alg"], "RS256", "{header}");
    assert_eq!(payload["aud"], CLIENT, "{payload}");
    assert_eq!(payload["groups"], json!(["Engineering", "Everyone"]), "groups are in the ID token: {payload}");
    assert_eq!(payload["email_verified"], true, "{payload}");
    assert_eq!(claims(&carol)["email_verified"], false);
    assert_eq!(claims(&alice_elsewhere)["aud"], OTHER_CLIENT);

    // Forgeries from the real token: the claims signed by a key the provider
    // does not hold (under the provider's own `kid`), the claims changed
    // under the provider's signature, and no signature at all.
    let kid = header["kid"].as_str().unwrap_or_default().to_owned();
    let foreign = TestKey::load("rsa-other.pem", Algorithm::RS256, "unused");
    let other_key = foreign.sign_with(Header { kid: Some(kid), ..Header::new(Algorithm::RS256) }, &payload);
    let signature = alice.rsplit('.').next().unwrap_or_default();
    let mut promoted = payload.clone();
    promoted["groups"] = json!(["Engineering", "Admins"]);
    let tampered = format!("{}.{}.{signature}", b64_json(&header), b64_json(&promoted));
    let unsigned = format!("{}.{}.", b64_json(&json!({"alg": "none", "typ": "JWT"})), b64_json(&payload));

    for db in TestDatabase::all() {
        let label = format!("{:?}", db.kind());
        let store = db.open().await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let (host, org) = host(&store, &disco, clock.clone()).await;

        // The first login provisions through the example plugins: the
        // creator names the account, the mapper turns groups into teams.
        let first = ok(login(&host, &alice).await, &format!("[{label}] alice"));
        assert!(first.newly_created, "[{label}]");
        assert!(first.account.username.starts_with("alice"), "[{label}] {}", first.account.username);
        assert_eq!(first.account.email, "alice@acme.example");
        assert_eq!(first.account.given_name.as_deref(), Some("Alice"));
        assert_eq!(first.principal.provider, "corp-idp");
        assert_eq!(first.principal.subject, "alice");
        assert!(first.principal.email_verified);
        assert_eq!(first.principal.groups, ["Engineering", "Everyone"]);
        let engineering = expected(&[("organization", "acme"), ("role", "developer"), ("team", "engineering")]);
        assert_eq!(rows(&first), engineering, "[{label}] alice's memberships");
        let again = ok(login(&host, &alice).await, "alice again");
        assert!(!again.newly_created && again.account.id == first.account.id, "[{label}] found by its link");

        let sales = ok(login(&host, &bob).await, &format!("[{label}] bob"));
        assert_eq!(rows(&sales), expected(&[("organization", "acme"), ("team", "sales")]), "[{label}] bob");

        // Refusals.
        refused(&host, &store, &org, &alice_elsewhere, "authentication-failed", Some("wrong_audience"), "audience")
            .await;
        refused(&host, &store, &org, &other_key, "authentication-failed", Some("bad_signature"), "another key").await;
        refused(&host, &store, &org, &tampered, "authentication-failed", Some("bad_signature"), "tampered").await;
        refused(&host, &store, &org, &unsigned, "authentication-failed", Some("unsupported_algorithm"), "alg none")
            .await;

        // An unverified email neither creates an account nor links to an
        // existing one with that address.
        refused(&host, &store, &org, &carol, "unverified-email", None, "unverified, no account").await;
        assert!(ok(store.account_by_email("carol@acme.example").await, "lookup").is_none(), "[{label}]");
        let existing = NewAccount {
            email: "carol@acme.example".into(),
            username: "carol".into(),
            given_name: Some("Carol".into()),
            family_name: None,
            password_hash: None,
            attributes: vec![],
        };
        let existing = ok(store.create_account(existing).await, "existing account");
        refused(&host, &store, &org, &carol, "unverified-email", None, "unverified, existing account").await;
        let memberships = ok(store.memberships(&existing.id, Some(&org)).await, "memberships");
        assert!(memberships.is_empty(), "[{label}] nothing was linked or assigned: {memberships:?}");

        // Once the token's lifetime and any leeway are past, the same token
        // is expired. The host's clock is set from the token's own `exp`,
        // an hour past it (beyond the largest leeway a provider may have,
        // ten minutes), whatever the real time and however long the test
        // took to get here.
        let exp = payload["exp"].as_u64().unwrap_or_else(|| panic!("no exp: {payload}"));
        clock.set(SystemTime::UNIX_EPOCH + Duration::from_secs(exp + 3600));
        refused(&host, &store, &org, &alice, "authentication-failed", Some("expired"), "expired").await;

        store.close().await;
        db.cleanup().await;
    }
    drop(idp);
}
