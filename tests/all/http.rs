//! The HTTP API: most tests call the router directly (`tower::ServiceExt`),
//! one runs the whole story over a real port on 127.0.0.1.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use provisio::auth::{Argon2Params, AuthServices, Credential, Secret};
use provisio::engine::Host;
use provisio::http::{AppState, HttpConfig, SessionClaims};
use provisio::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::auth::TestKey;
use crate::engine::id_token;
use crate::{TestDatabase, component};

pub(crate) const OPERATOR: &str = "operator-secret-for-tests";
/// The test IdP of `engine::id_token`.
const IDP_ISSUER: &str = "https://idp.acme.example";
const IDP_AUDIENCE: &str = "provisio-test";

pub(crate) fn ok<T, E: std::fmt::Display>(r: Result<T, E>, doing: &str) -> T {
    r.unwrap_or_else(|e| panic!("{doing}: {e}"))
}

pub(crate) fn config() -> HttpConfig {
    HttpConfig { operator_token: Some(Secret::new(OPERATOR)), ..HttpConfig::default() }
}

/// The state over a fresh host on `store`, with cheap password hashing.
pub(crate) async fn state(store: &Store, config: HttpConfig) -> AppState {
    let auth = ok(AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build(), "auth services");
    let host = Host::builder().store(store.clone()).runtime(crate::runtime()).auth_services(Arc::new(auth)).build();
    ok(AppState::new(ok(host.await, "host"), config), "state")
}

/// An answer: status, `x-request-id`, and the body as JSON (or as a string
/// when it is not JSON).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    request_id: String,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn expect(self, status: StatusCode, doing: &str) -> Value {
        assert_eq!(self.status, status, "{doing}: {}", self.body);
        self.body
    }

    pub(crate) fn error(self, status: StatusCode, code: &str, doing: &str) -> Value {
        assert_eq!(self.status, status, "{doing}: {}", self.body);
        assert_eq!(self.body["code"], code, "{doing}: {}", self.body);
        assert_eq!(self.body["request_id"], self.request_id.as_str(), "{doing}: the body names the request");
        assert!(self.body["message"].is_string(), "{doing}");
        self.body
    }
}

fn request(method: Method, uri: &str, token: Option<&str>, body: Option<Body>, content_type: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    ok(builder.body(body.unwrap_or_else(Body::empty)), "request")
}

async fn answer(response: axum::response::Response) -> Answer {
    let status = response.status();
    let request_id =
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(!request_id.is_empty(), "every answer has an x-request-id");
    let bytes = ok(response.into_body().collect().await, "body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer { status, request_id, body }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    answer(ok(app.clone().oneshot(request).await, "call")).await
}

pub(crate) async fn json_call(
    app: &Router,
    method: Method,
    uri: impl AsRef<str>,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let body = body.map(|b| Body::from(b.to_string()));
    send(app, request(method, uri.as_ref(), token, body, "application/json")).await
}

pub(crate) async fn upload(app: &Router, org: &str, token: &str, bytes: Vec<u8>) -> Answer {
    let uri = format!("/v1/orgs/{org}/plugins");
    send(app, request(Method::POST, &uri, Some(token), Some(Body::from(bytes)), "application/wasm")).await
}

/// An organization made by the operator: its id and API token.
pub(crate) async fn organization(app: &Router, name: &str) -> (String, String) {
    let body = json_call(app, Method::POST, "/v1/organizations", Some(OPERATOR), Some(json!({"name": name})))
        .await
        .expect(StatusCode::CREATED, "create organization");
    let id = body["organization"]["id"].as_str().unwrap_or_default().to_owned();
    let token = body["api_token"].as_str().unwrap_or_default().to_owned();
    assert!(token.starts_with("pvo_"), "{body}");
    (id, token)
}

/// The OIDC provider configuration of the test IdP.
fn oidc_config() -> Value {
    let key = TestKey::load("rsa.pem", Algorithm::RS256, "rsa-1");
    json!({"issuer": IDP_ISSUER, "audience": IDP_AUDIENCE, "jwks": {"keys": [key.jwk()]}})
}

/// Sets up an organization with a team, a domain `name` claiming
/// `<name>.example` with the test IdP as provider `okta`: (org, token, domain, provider).
async fn tenant(app: &Router, name: &str) -> (String, String, String, String) {
    let (org, token) = organization(app, name).await;
    let t = Some(token.as_str());
    let team = json_call(app, Method::POST, &format!("/v1/orgs/{org}/teams"), t, Some(json!({"name": "everyone"})))
        .await
        .expect(StatusCode::CREATED, "team");
    let domain =
        json!({"name": name, "jit": true, "default_team": team["id"], "email_domains": [format!("{name}.example")]});
    let domain = json_call(app, Method::POST, &format!("/v1/orgs/{org}/domains"), t, Some(domain))
        .await
        .expect(StatusCode::CREATED, "domain");
    let domain = domain["id"].as_str().unwrap_or_default().to_owned();
    approve(app, &org, &domain, &format!("{name}.example")).await;
    let provider = json!({"name": "okta", "kind": "oidc", "config": oidc_config()});
    let provider =
        json_call(app, Method::POST, &format!("/v1/orgs/{org}/domains/{domain}/providers"), t, Some(provider))
            .await
            .expect(StatusCode::CREATED, "provider");
    let provider = provider["id"].as_str().unwrap_or_default().to_owned();
    (org, token, domain, provider)
}

/// The operator approves the domain's claim on `email_domain`.
pub(crate) async fn approve(app: &Router, org: &str, domain: &str, email_domain: &str) {
    let uri = format!("/v1/orgs/{org}/domains/{domain}/email-domains/{email_domain}/approve");
    json_call(app, Method::POST, uri, Some(OPERATOR), None).await.expect(StatusCode::OK, "approve the claim");
}

fn raw_token(credential: Credential) -> String {
    match credential {
        Credential::IdToken(secret) => secret.expose().to_owned(),
        Credential::Password { .. } => panic!("not an ID token"),
    }
}

fn id_login(domain: &str, email: &str) -> Value {
    json!({"domain": domain, "id_token": raw_token(id_token(&format!("sub-{email}"), email, true, &[]))})
}

/// Checks a session token with nothing but the JWKS document.
fn verify(jwks: &Value, token: &str) -> SessionClaims {
    let set: JwkSet = ok(serde_json::from_value(jwks.clone()), "jwks");
    let header = ok(jsonwebtoken::decode_header(token), "header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.unwrap_or_default();
    let jwk = set.find(&kid).unwrap_or_else(|| panic!("no key {kid} in {jwks}"));
    let key = ok(DecodingKey::from_jwk(jwk), "decoding key");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["provisio"]);
    validation.set_issuer(&["provisio"]);
    ok(jsonwebtoken::decode::<SessionClaims>(token, &key, &validation), "session token").claims
}

/// A tiny HTTP/1 client for the real-port test.
struct Client {
    base: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<Bytes>,
    >,
}

impl Client {
    async fn call(&self, method: Method, path: impl AsRef<str>, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut builder = Request::builder().method(method).uri(format!("{}{}", self.base, path.as_ref()));
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(b) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        self.send(ok(builder.body(http_body_util::Full::new(body)), "request")).await
    }

    async fn upload(&self, org: &str, token: &str, bytes: Vec<u8>) -> Answer {
        let request = Request::post(format!("{}/v1/orgs/{org}/plugins", self.base))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(http_body_util::Full::new(Bytes::from(bytes)));
        self.send(ok(request, "request")).await
    }

    async fn send(&self, request: Request<http_body_util::Full<Bytes>>) -> Answer {
        let response = ok(self.client.request(request).await, "send");
        answer(response.map(Body::new)).await
    }
}

/// The issue's story over a real port: organization, domain, plugin upload,
/// binding, a first login provisioned by the plugin, its audit event, a
/// session token checked with the JWKS alone; then a new version denies, a
/// re-bind of the older one rolls back, and the next login uses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_a_real_port() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let state = state(&store, config()).await;
        let listener = ok(tokio::net::TcpListener::bind("127.0.0.1:0").await, "bind");
        let addr = ok(listener.local_addr(), "address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(provisio::http::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = Client {
            base: format!("http://{addr}"),
            client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
        };

        client.call(Method::GET, "/healthz", None, None).await.expect(StatusCode::OK, "healthz");
        client.call(Method::GET, "/readyz", None, None).await.expect(StatusCode::OK, "readyz");
        let created = client.call(Method::POST, "/v1/organizations", Some(OPERATOR), Some(json!({"name": "acme"})));
        let created = created.await.expect(StatusCode::CREATED, "organization");
        let org = created["organization"]["id"].as_str().unwrap_or_default().to_owned();
        let token = created["api_token"].as_str().unwrap_or_default().to_owned();
        let t = Some(token.as_str());
        let team = client.call(Method::POST, format!("/v1/orgs/{org}/teams"), t, Some(json!({"name": "everyone"})));
        let team = team.await.expect(StatusCode::CREATED, "team");
        let domain = json!({"name": "acme", "default_team": team["id"], "email_domains": ["acme.example"]});
        let domain = client.call(Method::POST, format!("/v1/orgs/{org}/domains"), t, Some(domain));
        let domain = domain.await.expect(StatusCode::CREATED, "domain")["id"].as_str().unwrap_or_default().to_owned();
        let approve = format!("/v1/orgs/{org}/domains/{domain}/email-domains/acme.example/approve");
        client.call(Method::POST, approve, Some(OPERATOR), None).await.expect(StatusCode::OK, "approve");
        let provider = json!({"name": "okta", "kind": "oidc", "config": oidc_config()});
        let provider =
            client.call(Method::POST, format!("/v1/orgs/{org}/domains/{domain}/providers"), t, Some(provider));
        let provider =
            provider.await.expect(StatusCode::CREATED, "provider")["id"].as_str().unwrap_or_default().to_owned();

        let uploaded = client.upload(&org, &token, component("default-creator")).await;
        let uploaded = uploaded.expect(StatusCode::CREATED, "upload default-creator");
        assert_eq!(uploaded["check"]["name"], "default-creator");
        assert_eq!(uploaded["check"]["world"], "identity-creator-plugin");
        let old = uploaded["plugin"]["hash"].as_str().unwrap_or_default().to_owned();
        assert_eq!(old.len(), 64);
        let binding_path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
        let bind =
            |hash: &str, config: Value| json!({"creator": hash, "config": config, "limits": {"wall_time": 1000}});
        let bound = client.call(Method::PUT, &binding_path, t, Some(bind(&old, json!({})))).await;
        assert_eq!(bound.expect(StatusCode::OK, "bind")["creator"], old.as_str());

        // The first login provisions the account through the plugin.
        let login = client.call(Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
        let login = login.expect(StatusCode::OK, "first login");
        assert_eq!(login["newly_created"], true);
        assert_eq!(login["account"]["email"], "jane@acme.example");
        assert!(login["account"]["username"].as_str().is_some_and(|u| u.starts_with("jane")), "{login}");
        let memberships = login["memberships"].to_string();
        assert!(memberships.contains("\"everyone\"") && memberships.contains("\"acme\""), "{memberships}");
        assert_eq!(login["expires_in"], 900);

        // The session token verifies with the published keys alone.
        let jwks = client.call(Method::GET, "/.well-known/jwks.json", None, None).await.expect(StatusCode::OK, "jwks");
        let claims = verify(&jwks, login["session_token"].as_str().unwrap_or_default());
        assert_eq!(claims.sub, login["account"]["id"].as_str().unwrap_or_default());
        assert_eq!(claims.email, "jane@acme.example");
        assert_eq!(claims.org.as_deref(), Some(org.as_str()));
        assert_eq!(claims.teams, ["everyone"]);
        assert!(claims.exp > claims.iat && claims.exp - claims.iat == 900);

        // The audit shows the login and the plugin that ran.
        let audit = client.call(Method::GET, &format!("/v1/orgs/{org}/audit?outcome=success"), t, None).await;
        let audit = audit.expect(StatusCode::OK, "audit");
        assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");
        assert_eq!(audit[0]["account"], login["account"]["id"]);
        assert!(audit[0]["detail"].to_string().contains(&old), "the audit names the plugin: {audit}");

        // A new version that denies everyone outside other.example …
        let new = client.upload(&org, &token, component("domain-allowlist")).await;
        let new = new.expect(StatusCode::CREATED, "upload domain-allowlist")["plugin"]["hash"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let allow = json!({"allowed-domains": ["other.example"]});
        client.call(Method::PUT, &binding_path, t, Some(bind(&new, allow))).await.expect(StatusCode::OK, "bind new");
        let denied = client.call(Method::POST, "/v1/login", None, Some(id_login("acme", "bob@acme.example"))).await;
        denied.error(StatusCode::FORBIDDEN, "denied", "the new version denies");
        // … rolled back by re-binding the older hash: the next login uses it.
        client
            .call(Method::PUT, &binding_path, t, Some(bind(&old, json!({}))))
            .await
            .expect(StatusCode::OK, "rollback");
        let bob = client.call(Method::POST, "/v1/login", None, Some(id_login("acme", "bob@acme.example"))).await;
        assert_eq!(bob.expect(StatusCode::OK, "after rollback")["newly_created"], true);
        let audit = client.call(Method::GET, &format!("/v1/orgs/{org}/audit?limit=1"), t, None).await;
        let audit = audit.expect(StatusCode::OK, "audit");
        assert!(audit[0]["detail"].to_string().contains(&old) && !audit[0]["detail"].to_string().contains(&new));
        let plugins = client.call(Method::GET, &format!("/v1/orgs/{org}/plugins"), t, None).await;
        assert_eq!(plugins.expect(StatusCode::OK, "plugins").as_array().map(Vec::len), Some(2));

        let metrics = client.call(Method::GET, "/metrics", None, None).await.expect(StatusCode::OK, "metrics");
        let metrics = metrics.as_str().unwrap_or_default().to_owned();
        assert!(metrics.contains("provisio_logins_total{outcome=\"success\"} 2"), "{metrics}");
        assert!(metrics.contains("provisio_logins_total{outcome=\"denied\"} 1"), "{metrics}");
        // The two uploads compiled the two plugins; the logins found them loaded.
        assert!(metrics.contains("provisio_plugin_cache_entries 2\n"), "{metrics}");
        assert!(metrics.contains("provisio_plugin_loads_total{source=\"compiled\"} 2\n"), "{metrics}");
        assert!(metrics.contains("provisio_plugin_cache_misses_total 0\n"), "{metrics}");

        let _ = stop.send(());
        ok(ok(server.await, "server task"), "serve");
        store.close().await;
        db.cleanup().await;
    }
}

/// Malformed bodies and unknown routes answer the JSON error form with the
/// request's id; a caller's own request id is echoed.
#[tokio::test]
async fn bad_requests_answer_json_errors() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);

    let malformed = request(Method::POST, "/v1/login", None, Some(Body::from("{\"domain\": ")), "application/json");
    send(&app, malformed).await.error(StatusCode::BAD_REQUEST, "bad-request", "malformed JSON");
    let wrong_type = json_call(&app, Method::POST, "/v1/login", None, Some(json!({"domain": 7}))).await;
    wrong_type.error(StatusCode::BAD_REQUEST, "bad-request", "a number for a string");
    let text = request(Method::POST, "/v1/login", None, Some(Body::from("{}")), "text/plain");
    send(&app, text).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "not JSON");
    let both = json!({"email": "a@b.example", "password": "x", "id_token": "y"});
    let both = json_call(&app, Method::POST, "/v1/login", None, Some(both)).await;
    both.error(StatusCode::BAD_REQUEST, "bad-request", "two credentials");
    let huge = json!({"email": "a@b.example", "password": "x".repeat(100 * 1024)});
    let huge = json_call(&app, Method::POST, "/v1/login", None, Some(huge)).await;
    huge.error(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "over the JSON body limit");
    json_call(&app, Method::GET, "/v1/nothing", None, None).await.error(StatusCode::NOT_FOUND, "not-found", "no route");
    let method = json_call(&app, Method::DELETE, "/v1/login", None, None).await;
    method.error(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "wrong method");

    let mut echoed = request(Method::GET, "/healthz", None, None, "");
    echoed.headers_mut().insert("x-request-id", header::HeaderValue::from_static("gateway-123"));
    assert_eq!(send(&app, echoed).await.request_id, "gateway-123");
    store.close().await;
}

/// Login refusals map the engine's codes to statuses, with safe messages,
/// and the counters behind /metrics move.
#[tokio::test]
async fn login_refusals_and_metrics() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let state = state(&store, config()).await;
    let app = provisio::http::router(state.clone());
    tenant(&app, "acme").await;

    let unknown = json!({"email": "jane@nowhere.example", "password": "pw"});
    let unknown = json_call(&app, Method::POST, "/v1/login", None, Some(unknown)).await;
    unknown.error(StatusCode::NOT_FOUND, "unknown-domain", "unknown domain");
    let bad = json_call(&app, Method::POST, "/v1/login", None, Some(json!({"domain": "acme", "id_token": "x.y.z"})));
    let bad = bad.await.error(StatusCode::UNAUTHORIZED, "authentication-failed", "forged token");
    assert_eq!(bad["message"], "the sign-in failed");
    let no_domain = json!({"id_token": raw_token(id_token("s", "jane@acme.example", true, &[]))});
    let no_domain = json_call(&app, Method::POST, "/v1/login", None, Some(no_domain)).await;
    no_domain.error(StatusCode::BAD_REQUEST, "domain-required", "ID token without a domain");
    let unverified = json!({"domain": "acme", "id_token": raw_token(id_token("s", "jane@acme.example", false, &[]))});
    let unverified = json_call(&app, Method::POST, "/v1/login", None, Some(unverified)).await;
    unverified.error(StatusCode::FORBIDDEN, "unverified-email", "unverified email");
    let fine = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    fine.expect(StatusCode::OK, "login with the built-in creator");

    assert_eq!(state.metrics().logins("authentication-failed"), 1);
    let metrics = json_call(&app, Method::GET, "/metrics", None, None).await.expect(StatusCode::OK, "metrics");
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    for line in [
        "provisio_logins_total{outcome=\"success\"} 1",
        "provisio_logins_total{outcome=\"unknown-domain\"} 1",
        "provisio_logins_total{outcome=\"domain-required\"} 1",
        "provisio_logins_total{outcome=\"unverified-email\"} 1",
        "provisio_login_duration_seconds_count 5",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    store.close().await;
}

/// Uploads: the check report, 422 naming what breaks the contract, 413 over
/// the upload limit.
#[tokio::test]
async fn plugin_uploads_are_checked() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token) = organization(&app, "acme").await;

    let refused = upload(&app, &org, &token, b"not wasm at all".to_vec()).await;
    let refused = refused.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "not wasm");
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("not a WebAssembly file")), "{refused}");
    let wrong = upload(&app, &org, &token, component("hostile-wrong-world")).await;
    let wrong = wrong.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "wrong world");
    assert!(wrong["message"].as_str().is_some_and(|m| m.contains("implements no Provisio world")), "{wrong}");
    let import = upload(&app, &org, &token, component("hostile-forbidden-import")).await;
    let import = import.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "forbidden import");
    assert!(import["message"].as_str().is_some_and(|m| m.contains("which plugins may not use")), "{import}");

    let mapper = upload(&app, &org, &token, component("group-mapper")).await.expect(StatusCode::CREATED, "upload");
    assert_eq!(mapper["check"]["world"], "assignment-provider-plugin");
    assert_eq!(mapper["plugin"]["hash"], mapper["check"]["hash"]);

    // A small upload limit, and a component over it.
    let small = HttpConfig { plugin_body_limit: 1024, ..config() };
    let small = provisio::http::router(state(&store, small).await);
    let (org, token) = organization(&small, "other").await;
    let big = upload(&small, &org, &token, component("noop")).await;
    big.error(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "over the upload limit");
    store.close().await;
}

/// Bindings are checked: an unknown hash, or a plugin in the wrong slot, is
/// a 422 that says so.
#[tokio::test]
async fn bindings_are_checked() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let t = Some(token.as_str());
    let mapper = upload(&app, &org, &token, component("group-mapper")).await.expect(StatusCode::CREATED, "upload");
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");

    let slot = json_call(&app, Method::PUT, &path, t, Some(json!({"creator": mapper["plugin"]["hash"]}))).await;
    let slot = slot.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "assigner as creator");
    assert!(slot["message"].as_str().is_some_and(|m| m.contains("cannot serve as the identity creator")), "{slot}");
    let unknown = json_call(&app, Method::PUT, &path, t, Some(json!({"creator": "00".repeat(32)}))).await;
    unknown.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "unknown hash");
    let policy = json_call(&app, Method::PUT, &path, t, Some(json!({"failure_policy": "sometimes"}))).await;
    policy.error(StatusCode::BAD_REQUEST, "bad-request", "unknown failure policy");
    let good = json!({"assigner": mapper["plugin"]["hash"], "failure_policy": "fall-back", "sync_mode": "every-login"});
    let good = json_call(&app, Method::PUT, &path, t, Some(good)).await.expect(StatusCode::OK, "bind");
    assert_eq!(good["sync_mode"], "every-login");
    let list = json_call(&app, Method::GET, &format!("/v1/orgs/{org}/domains/{domain}/bindings"), t, None).await;
    assert_eq!(list.expect(StatusCode::OK, "bindings")[0]["failure_policy"], "fall-back");
    store.close().await;
}

/// Tenancy: no token is 401, an organization's token cannot create
/// organizations, and every admin endpoint answers 404 to another
/// organization's token, for its organization and for its objects.
#[tokio::test]
async fn another_organizations_token_sees_nothing() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let state = state(&store, config()).await;
        let app = provisio::http::router(state.clone());
        let (org, token, domain, provider) = tenant(&app, "acme").await;
        let (other_org, other) = organization(&app, "globex").await;
        let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
        let account = login.expect(StatusCode::OK, "login")["account"]["id"].as_str().unwrap_or_default().to_owned();
        let tokens = json_call(&app, Method::GET, &format!("/v1/orgs/{org}/tokens"), Some(&token), None).await;
        let token_id = tokens.expect(StatusCode::OK, "tokens")[0]["id"].as_str().unwrap_or_default().to_owned();

        json_call(&app, Method::GET, &format!("/v1/orgs/{org}/teams"), None, None).await.error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no token",
        );
        json_call(&app, Method::GET, &format!("/v1/orgs/{org}/teams"), Some("pvo_forged"), None).await.error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        );
        json_call(&app, Method::POST, "/v1/organizations", Some(&token), Some(json!({"name": "x"}))).await.error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "an organization's token creates no organization",
        );

        let o = &org;
        let d = &domain;
        let body = |v: Value| Some(v);
        let endpoints: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/orgs/{o}"), None),
            (Method::GET, format!("/v1/orgs/{o}/teams"), None),
            (Method::POST, format!("/v1/orgs/{o}/teams"), body(json!({"name": "t"}))),
            (Method::GET, format!("/v1/orgs/{o}/roles"), None),
            (Method::POST, format!("/v1/orgs/{o}/roles"), body(json!({"name": "r"}))),
            (Method::GET, format!("/v1/orgs/{o}/invitations"), None),
            (Method::POST, format!("/v1/orgs/{o}/invitations"), body(json!({"email": "x@acme.example"}))),
            (Method::GET, format!("/v1/orgs/{o}/accounts"), None),
            (Method::POST, format!("/v1/orgs/{o}/accounts/{account}/lock"), None),
            (Method::POST, format!("/v1/orgs/{o}/accounts/{account}/unlock"), None),
            (Method::GET, format!("/v1/orgs/{o}/domains"), None),
            (Method::POST, format!("/v1/orgs/{o}/domains"), body(json!({"name": "x"}))),
            (Method::GET, format!("/v1/orgs/{o}/domains/{d}"), None),
            (Method::PATCH, format!("/v1/orgs/{o}/domains/{d}"), body(json!({"jit": false}))),
            (
                Method::POST,
                format!("/v1/orgs/{o}/domains/{d}/providers"),
                body(json!({"name": "p", "kind": "password"})),
            ),
            (Method::GET, format!("/v1/orgs/{o}/domains/{d}/email-domains"), None),
            (Method::POST, format!("/v1/orgs/{o}/domains/{d}/email-domains/acme.example/verify"), None),
            (Method::POST, format!("/v1/orgs/{o}/domains/{d}/email-domains/acme.example/approve"), None),
            (Method::PATCH, format!("/v1/orgs/{o}/domains/{d}/providers/{provider}"), body(json!({"config": {}}))),
            (Method::DELETE, format!("/v1/orgs/{o}/domains/{d}/providers/{provider}"), None),
            (Method::GET, format!("/v1/orgs/{o}/domains/{d}/bindings"), None),
            (Method::PUT, format!("/v1/orgs/{o}/domains/{d}/bindings/{provider}"), body(json!({}))),
            (Method::GET, format!("/v1/orgs/{o}/audit"), None),
            (Method::GET, format!("/v1/orgs/{o}/plugins"), None),
            (Method::GET, format!("/v1/orgs/{o}/tokens"), None),
            (Method::POST, format!("/v1/orgs/{o}/tokens"), body(json!({"name": "stolen"}))),
            (Method::DELETE, format!("/v1/orgs/{o}/tokens/{token_id}"), None),
        ];
        for (method, path, body) in &endpoints {
            // With the other organization's token on this organization's path …
            let answer = json_call(&app, method.clone(), path, Some(&other), body.clone()).await;
            answer.error(StatusCode::NOT_FOUND, "not-found", &format!("{method} {path} with another token"));
            // … and on its own path, naming this organization's objects.
            let own = path.replacen(o.as_str(), &other_org, 1);
            if own.contains(d.as_str()) || own.contains(&account) || own.contains(&token_id) {
                let answer = json_call(&app, method.clone(), &own, Some(&other), body.clone()).await;
                answer.error(StatusCode::NOT_FOUND, "not-found", &format!("{method} {own}: another's object"));
            }
        }
        let upload = upload(&app, &org, &other, component("noop")).await;
        upload.error(StatusCode::NOT_FOUND, "not-found", "upload into another organization");
        let audit =
            json_call(&app, Method::GET, format!("/v1/orgs/{other_org}/audit?domain={domain}"), Some(&other), None);
        audit.await.error(StatusCode::NOT_FOUND, "not-found", "audit of another's domain");

        // Nothing changed, and the owner still sees everything.
        let t = Some(token.as_str());
        let tokens = json_call(&app, Method::GET, &format!("/v1/orgs/{org}/tokens"), t, None).await;
        let tokens = tokens.expect(StatusCode::OK, "tokens");
        assert_eq!(tokens.as_array().map(Vec::len), Some(1), "{tokens}");
        assert!(tokens[0]["revoked_at"].is_null(), "{tokens}");
        let teams = json_call(&app, Method::GET, &format!("/v1/orgs/{org}/teams"), t, None).await;
        assert_eq!(teams.expect(StatusCode::OK, "teams").as_array().map(Vec::len), Some(1));
        let accounts = json_call(&app, Method::GET, &format!("/v1/orgs/{org}/accounts"), t, None).await;
        let accounts = accounts.expect(StatusCode::OK, "accounts");
        assert_eq!(accounts[0]["state"], "active");
        assert!(accounts[0].get("password_hash").is_none());
        let other_accounts = json_call(&app, Method::GET, format!("/v1/orgs/{other_org}/accounts"), Some(&other), None);
        assert_eq!(other_accounts.await.expect(StatusCode::OK, "accounts").as_array().map(Vec::len), Some(0));
        // The operator may act on any organization.
        let lock =
            json_call(&app, Method::POST, format!("/v1/orgs/{org}/accounts/{account}/lock"), Some(OPERATOR), None);
        assert_eq!(lock.await.status, StatusCode::NO_CONTENT);
        let locked =
            json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
        locked.error(StatusCode::FORBIDDEN, "account-suspended", "suspended in the organization");
        let unlock = json_call(&app, Method::POST, &format!("/v1/orgs/{org}/accounts/{account}/unlock"), t, None).await;
        assert_eq!(unlock.status, StatusCode::NO_CONTENT);
        store.close().await;
        db.cleanup().await;
    }
}

/// Organization API tokens live in the store: one issued by `POST
/// /v1/organizations` still works for a new state over a new connection to
/// the same database (as after a restart); another is issued and shown
/// once; a revoked one is refused at once, by every host.
#[tokio::test]
async fn api_tokens_survive_a_restart_and_die_when_revoked() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let before = provisio::http::router(state(&store, config()).await);
        let (org, first) = organization(&before, "acme").await;
        store.close().await;

        // A new host: a new pool, a new state, a new router.
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let teams = format!("/v1/orgs/{org}/teams");
        json_call(&app, Method::GET, &teams, Some(&first), None).await.expect(StatusCode::OK, "after a restart");

        let tokens = format!("/v1/orgs/{org}/tokens");
        let issued = json_call(&app, Method::POST, &tokens, Some(&first), Some(json!({"name": "ci"}))).await;
        let issued = issued.expect(StatusCode::CREATED, "issue");
        let second = issued["api_token"].as_str().unwrap_or_default().to_owned();
        assert!(second.starts_with("pvo_") && second != first, "{issued}");
        assert_eq!(issued["token"]["name"], "ci");
        json_call(&app, Method::GET, &teams, Some(&second), None).await.expect(StatusCode::OK, "the new token");
        let unnamed = json_call(&app, Method::POST, &tokens, Some(&first), Some(json!({"name": ""}))).await;
        unnamed.error(StatusCode::BAD_REQUEST, "bad-request", "a token without a name");

        // Listed by name and public id, never the token itself.
        let listed = json_call(&app, Method::GET, &tokens, Some(OPERATOR), None).await.expect(StatusCode::OK, "list");
        let text = listed.to_string();
        assert!(!text.contains(&first) && !text.contains(&second) && !text.contains("pvo_"), "{text}");
        let names: Vec<&str> = listed.as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names.len(), 2, "{listed}");
        assert!(names.contains(&"initial") && names.contains(&"ci"), "{listed}");
        let first_id = listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == "initial")
            .and_then(|t| t["id"].as_str())
            .unwrap_or_default()
            .to_owned();

        // Revoked with the other token: refused at once, here and on another
        // host sharing the database.
        let revoke = format!("{tokens}/{first_id}");
        let revoked = json_call(&app, Method::DELETE, &revoke, Some(&second), None).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
        let refused = json_call(&app, Method::GET, &teams, Some(&first), None).await;
        refused.error(StatusCode::UNAUTHORIZED, "unauthorized", "a revoked token");
        let other_store = db.open().await;
        let other_host = provisio::http::router(state(&other_store, config()).await);
        let refused = json_call(&other_host, Method::GET, &teams, Some(&first), None).await;
        refused.error(StatusCode::UNAUTHORIZED, "unauthorized", "a revoked token on another host");
        other_store.close().await;
        json_call(&app, Method::GET, &teams, Some(&second), None).await.expect(StatusCode::OK, "the other token");
        let listed = json_call(&app, Method::GET, &tokens, Some(&second), None).await.expect(StatusCode::OK, "list");
        let revoked_at = listed.as_array().into_iter().flatten().find(|t| t["id"] == first_id.as_str());
        assert!(revoked_at.is_some_and(|t| t["revoked_at"].is_i64()), "{listed}");
        let again = json_call(&app, Method::DELETE, &revoke, Some(&second), None).await;
        assert_eq!(again.status, StatusCode::NO_CONTENT, "revoking twice changes nothing");
        let unknown = json_call(&app, Method::DELETE, format!("{tokens}/0123456789abcdef"), Some(&second), None);
        unknown.await.error(StatusCode::NOT_FOUND, "not-found", "an unknown token id");
        store.close().await;
        db.cleanup().await;
    }
}

/// Domains: JIT switch and default team update; a team of another
/// organization is not found.
#[tokio::test]
async fn domain_updates() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, _) = tenant(&app, "acme").await;
    let (other_org, other) = organization(&app, "globex").await;
    let foreign =
        json_call(&app, Method::POST, format!("/v1/orgs/{other_org}/teams"), Some(&other), Some(json!({"name": "x"})));
    let foreign = foreign.await.expect(StatusCode::CREATED, "team");
    let path = format!("/v1/orgs/{org}/domains/{domain}");
    let t = Some(token.as_str());

    let off = json_call(&app, Method::PATCH, &path, t, Some(json!({"jit": false}))).await.expect(StatusCode::OK, "jit");
    assert_eq!(off["jit"], false);
    assert!(off["default_team"].is_string(), "the default team is kept: {off}");
    let cleared = json_call(&app, Method::PATCH, &path, t, Some(json!({"default_team": null}))).await;
    assert!(cleared.expect(StatusCode::OK, "clear")["default_team"].is_null());
    let stolen = json_call(&app, Method::PATCH, &path, t, Some(json!({"default_team": foreign["id"]}))).await;
    stolen.error(StatusCode::NOT_FOUND, "not-found", "another organization's team");
    let taken = json!({"name": "acme2", "email_domains": ["acme.example"]});
    let taken = json_call(&app, Method::POST, &format!("/v1/orgs/{org}/domains"), t, Some(taken)).await;
    taken.error(StatusCode::CONFLICT, "conflict", "an email domain verified by another domain");
    let bad = json!({"name": "p", "kind": "oidc", "config": {"issuer": 3}});
    let bad = json_call(&app, Method::POST, &format!("{path}/providers"), t, Some(bad)).await;
    bad.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "invalid provider configuration");

    // Claimed email domains are replaced by the list given.
    let claims = json!({"email_domains": ["acme.example", "ACME.test"]});
    let claimed = json_call(&app, Method::PATCH, &path, t, Some(claims)).await.expect(StatusCode::OK, "claims");
    assert_eq!(claimed["email_domains"], json!(["acme.example", "acme.test"]), "{claimed}");
    let pending = store.domain_by_email_domain("acme.test").await.ok().flatten();
    assert!(pending.is_none(), "a pending claim finds no domain");
    approve(&app, &org, &domain, "acme.test").await;
    let found = store.domain_by_email_domain("acme.test").await.ok().flatten().map(|d| d.id.as_str().to_owned());
    assert_eq!(found.as_deref(), claimed["id"].as_str());
    let dropped = json_call(&app, Method::PATCH, &path, t, Some(json!({"email_domains": ["acme.test"]}))).await;
    assert_eq!(dropped.expect(StatusCode::OK, "drop")["email_domains"], json!(["acme.test"]));

    // Providers are tried in the order given; the order must name each exactly once.
    let second = json!({"name": "local", "kind": "password"});
    let second = json_call(&app, Method::POST, &format!("{path}/providers"), t, Some(second)).await;
    let second = second.expect(StatusCode::CREATED, "second provider");
    let current = json_call(&app, Method::GET, &path, t, None).await.expect(StatusCode::OK, "domain");
    let ids: Vec<Value> =
        current["providers"].as_array().map(|p| p.iter().map(|p| p["id"].clone()).collect()).unwrap_or_default();
    assert_eq!(ids.last(), Some(&second["id"]), "a new provider goes last: {current}");
    let reversed: Vec<Value> = ids.iter().rev().cloned().collect();
    let moved = json_call(&app, Method::PATCH, &path, t, Some(json!({"provider_order": reversed}))).await;
    let moved = moved.expect(StatusCode::OK, "reorder");
    assert_eq!(moved["providers"][0]["id"], second["id"], "{moved}");
    let partial = json_call(&app, Method::PATCH, &path, t, Some(json!({"provider_order": [second["id"]]}))).await;
    partial.error(StatusCode::BAD_REQUEST, "bad-request", "an order that leaves a provider out");
    store.close().await;
}

/// The signing key is made once, kept with mode 0600, and read back.
#[tokio::test]
async fn the_session_key_persists() {
    let dir = ok(tempfile::tempdir(), "tempdir");
    let path = dir.path().join("session-key.pem");
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let with_key = || HttpConfig { signing_key_path: Some(path.clone()), ..config() };
    let first = state(&store, with_key()).await;
    let second = state(&store, with_key()).await;
    assert_eq!(first.signer().kid(), second.signer().kid());
    assert_ne!(first.signer().kid(), state(&store, config()).await.signer().kid());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = ok(std::fs::metadata(&path), "metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    ok(std::fs::write(&path, "garbage"), "overwrite");
    let refused = AppState::new(first.host().clone(), with_key());
    assert!(refused.is_err_and(|e| e.to_string().contains("not an Ed25519")));
    store.close().await;
}

/// Plugin calls reach /metrics whatever the login's outcome: a creator that
/// loops until its fuel runs out (the binding fails closed) is a limit hit,
/// a failure by kind and a duration sample; a creator that decides is one
/// more sample and no failure.
#[tokio::test]
async fn plugin_calls_reach_the_metrics() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let t = Some(token.as_str());
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    let hash = |v: Value| v["plugin"]["hash"].as_str().unwrap_or_default().to_owned();
    let looping =
        hash(upload(&app, &org, &token, component("hostile-loop")).await.expect(StatusCode::CREATED, "upload"));
    let fine =
        hash(upload(&app, &org, &token, component("default-creator")).await.expect(StatusCode::CREATED, "upload"));
    let metrics = || async {
        let body = json_call(&app, Method::GET, "/metrics", None, None).await.expect(StatusCode::OK, "metrics");
        body.as_str().unwrap_or_default().to_owned()
    };
    assert!(!metrics().await.contains("provisio_plugin_call_duration_seconds_count"), "no call yet");

    let bind =
        json!({"creator": looping, "failure_policy": "fail-closed", "limits": {"fuel": 1_000_000, "wall_time": 1000}});
    json_call(&app, Method::PUT, &path, t, Some(bind)).await.expect(StatusCode::OK, "bind hostile-loop");
    let refused = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    refused.error(StatusCode::FORBIDDEN, "provisioning-failed", "the creator ran out of fuel");
    let after_limit = metrics().await;
    for line in [
        "provisio_plugin_limit_hits_total{limit=\"fuel\"} 1",
        "provisio_plugin_failures_total{hook=\"create\",kind=\"limit-exceeded\"} 1",
        "provisio_plugin_call_duration_seconds_count{hook=\"create\"} 1",
        "provisio_plugin_call_duration_seconds_bucket{le=\"+Inf\",hook=\"create\"} 1",
        "provisio_logins_total{outcome=\"provisioning-failed\"} 1",
    ] {
        assert!(after_limit.contains(line), "{line} in {after_limit}");
    }
    assert!(!after_limit.contains("hook=\"assign\""), "no assignment provider ran: {after_limit}");

    json_call(&app, Method::PUT, &path, t, Some(json!({"creator": fine}))).await.expect(StatusCode::OK, "bind");
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    login.expect(StatusCode::OK, "login through default-creator");
    let after_success = metrics().await;
    for line in [
        "provisio_plugin_call_duration_seconds_count{hook=\"create\"} 2",
        "provisio_plugin_failures_total{hook=\"create\",kind=\"limit-exceeded\"} 1",
        "provisio_plugin_limit_hits_total{limit=\"fuel\"} 1",
    ] {
        assert!(after_success.contains(line), "{line} in {after_success}");
    }
    store.close().await;
}

/// `/openapi.json` is an OpenAPI 3.x document generated from the handlers:
/// every operation it lists is served (an admin one answers 401 without a
/// token, as its `bearer` security says, and 404 to another organization's
/// token), every error answer is an `ErrorBody`, every `$ref` resolves; and
/// the router has no route outside the `routes!` lists the document is
/// made from.
#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let document = json_call(&app, Method::GET, "/openapi.json", None, None).await.expect(StatusCode::OK, "openapi");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", document["openapi"]);
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["type"], "http");
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    // Every `$ref` names a schema of the document.
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(document["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }

    // The objects another organization's token will name.
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let (_, other) = organization(&app, "globex").await;
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    let account = login.expect(StatusCode::OK, "login")["account"]["id"].as_str().unwrap_or_default().to_owned();
    let tokens = json_call(&app, Method::GET, format!("/v1/orgs/{org}/tokens"), Some(&token), None).await;
    let token_id = tokens.expect(StatusCode::OK, "tokens")[0]["id"].as_str().unwrap_or_default().to_owned();
    let value_of = |name: &str| match name {
        "org" => org.clone(),
        "domain" => domain.clone(),
        "provider" => provider.clone(),
        "account" => account.clone(),
        "token" => token_id.clone(),
        "email_domain" => "acme.example".to_owned(),
        "invitation" => "0".repeat(32),
        other => panic!("no test value for the path parameter {{{other}}}"),
    };
    // A body every JSON route accepts, so that only the caller decides.
    let body = json!({"name": "x", "email": "x@acme.example", "kind": "password"});

    let mut operations = Vec::new();
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        for (method, operation) in item.as_object().cloned().unwrap_or_default() {
            let method = ok(Method::from_bytes(method.to_uppercase().as_bytes()), "method");
            let mut uri = path.clone();
            for name in path.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(name, _)| name) {
                uri = uri.replace(&format!("{{{name}}}"), &value_of(name));
            }
            let label = format!("{method} {path}");
            let responses = operation["responses"].as_object().cloned().unwrap_or_default();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{label}: no success answer");
            for (status, response) in &responses {
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{label} {status}");
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = response["content"]["application/json"]["schema"]["$ref"].as_str();
                    assert_eq!(schema, Some("#/components/schemas/ErrorBody"), "{label} {status}");
                }
            }
            let admin = ["/v1/org", "/v1/accounts", "/v1/me"].iter().any(|p| path.starts_with(p));
            let security = operation["security"].to_string();
            assert_eq!(security == r#"[{"bearer":[]}]"#, admin, "{label}: security {security}");

            // Served: not the router's 404 nor a 405; an admin route wants a token.
            let has_body = operation.get("requestBody").is_some();
            let request_body = has_body.then(|| body.clone());
            let answer = json_call(&app, method.clone(), &uri, None, request_body.clone()).await;
            if admin {
                answer.error(StatusCode::UNAUTHORIZED, "unauthorized", &format!("{label} without a token"));
                if path.starts_with("/v1/orgs/{org}") {
                    let answer = json_call(&app, method.clone(), &uri, Some(&other), request_body).await;
                    answer.error(StatusCode::NOT_FOUND, "not-found", &format!("{label} with another's token"));
                }
            } else {
                assert!(![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&answer.status), "{label}");
            }
            operations.push(label);
        }
    }
    for expected in [
        "POST /v1/login",
        "GET /openapi.json",
        "GET /metrics",
        "PUT /v1/orgs/{org}/domains/{domain}/bindings/{provider}",
        "POST /v1/orgs/{org}/plugins",
    ] {
        assert!(operations.iter().any(|o| o == expected), "{expected} in {operations:?}");
    }

    // Every route is registered through `routes!`, which documents it: the
    // router and the document are one list.
    let mut sources = vec![crate::root().join("host/src/http")];
    while let Some(path) = sources.pop() {
        if path.is_dir() {
            sources.extend(ok(std::fs::read_dir(&path), "read_dir").map(|e| ok(e, "entry").path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = ok(std::fs::read_to_string(&path), "source");
            for bypass in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                assert!(!source.contains(bypass), "{} registers a route outside `routes!`: {bypass}", path.display());
            }
            let routers = source.matches("Router::new()").count();
            assert_eq!(routers, source.matches("OpenApiRouter::new()").count(), "{}: a plain Router", path.display());
        }
    }
    store.close().await;
}
