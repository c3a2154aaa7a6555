//! The gateway layer in front of a small axum service, over a real host on
//! SQLite: session tokens, ID tokens (JIT included), refusals, the cached
//! account-state check, offline verification against a served JWKS, and the
//! identity headers a forwarding gateway sets.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::BodyExt as _;
use provisio::auth::Credential;
use provisio::engine::{Host, LoginRequest};
use provisio::gateway::{Gateway, GatewayBuilder, Identity, SessionKeys, Via, forward_identity};
use provisio::http::{AppState, HttpConfig, SessionSigner};
use provisio::store::{AccountId, AccountState, OrgId, Store};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::TestDatabase;
use crate::engine::{Setup, id_token, prepare};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>, doing: &str) -> T {
    r.unwrap_or_else(|e| panic!("{doing}: {e}"))
}

fn signer() -> SessionSigner {
    ok(SessionSigner::new(None, "provisio", "provisio", Duration::from_secs(900)), "signer")
}

/// The downstream service: answers the identity it was handed.
fn app(gateway: &Gateway) -> Router {
    Router::new()
        .route("/", get(|Extension(identity): Extension<Identity>| async move { axum::Json(identity) }))
        .layer(gateway.layer())
}

async fn call(app: &Router, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().uri("/");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = ok(app.clone().oneshot(ok(request.body(Body::empty()), "request")).await, "call");
    let status = response.status();
    let bytes = ok(response.into_body().collect().await, "body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The compact ID token of a credential.
fn raw(credential: Credential) -> String {
    match credential {
        Credential::IdToken(secret) => secret.expose().to_owned(),
        Credential::Password { .. } => panic!("not an ID token"),
    }
}

async fn bearer(app: &Router, token: &str) -> (StatusCode, Value) {
    call(app, Some(&format!("Bearer {token}"))).await
}

fn refused(answer: (StatusCode, Value), status: StatusCode, code: &str, doing: &str) {
    assert_eq!(answer.0, status, "{doing}: {}", answer.1);
    assert_eq!(answer.1["code"], code, "{doing}: {}", answer.1);
    assert!(answer.1["message"].is_string() && answer.1["request_id"].is_string(), "{doing}: {}", answer.1);
}

/// Logs `credential` in and answers a session token for it, with the account id.
async fn session_token(host: &Host, signer: &SessionSigner, credential: Credential) -> (String, AccountId) {
    let login = host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await;
    let login = ok(login, "login");
    let token = ok(signer.sign(&signer.claims(&login)), "sign");
    (token, login.account.id)
}

async fn local(setup: &Setup, configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Fixture {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let (host, org) = prepare(&store, &crate::runtime(), setup).await;
    let signer = signer();
    let gateway = ok(configure(Gateway::local(host.clone(), &signer).id_token_domain("acme")).build(), "gateway");
    Fixture { _db: db, store, host, org, app: app(&gateway), signer }
}

struct Fixture {
    _db: TestDatabase,
    store: Store,
    host: Host,
    org: OrgId,
    app: Router,
    signer: SessionSigner,
}

#[tokio::test]
async fn a_session_token_passes_and_the_service_sees_the_identity() {
    let f = local(&Setup::default(), |b| b).await;
    let (token, account) = session_token(&f.host, &f.signer, id_token("jane", "jane@acme.example", true, &[])).await;
    let (status, body) = bearer(&f.app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let identity: Identity = ok(serde_json::from_value(body.clone()), "identity");
    assert_eq!(identity.account_id, account);
    assert_eq!(identity.email, "jane@acme.example");
    assert_eq!(identity.org.as_ref(), Some(&f.org));
    assert_eq!(identity.teams, vec!["everyone".to_owned()], "the default team of the JIT login");
    assert_eq!(identity.via, Via::SessionToken);
}

#[tokio::test]
async fn an_id_token_logs_in_just_in_time_and_passes() {
    let f = local(&Setup::default(), |b| b).await;
    let token = raw(id_token("bob", "bob@acme.example", true, &[]));
    let (status, body) = bearer(&f.app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "bob@acme.example");
    assert_eq!(body["via"], "id-token");
    assert_eq!(body["teams"], json!(["everyone"]));
    let created = ok(f.store.account(&AccountId::new(ok(body["account_id"].as_str().ok_or("id"), "id"))).await, "read");
    assert!(created.is_some(), "the first login provisioned the account");
    // A second request with the same token logs the same account in.
    let (status, again) = bearer(&f.app, &token).await;
    assert_eq!((status, &again["account_id"]), (StatusCode::OK, &body["account_id"]));
}

#[tokio::test]
async fn missing_garbage_expired_and_foreign_tokens_are_unauthorized() {
    let f = local(&Setup::default(), |b| b).await;
    let (token, _) = session_token(&f.host, &f.signer, id_token("jane", "jane@acme.example", true, &[])).await;
    refused(call(&f.app, None).await, StatusCode::UNAUTHORIZED, "unauthorized", "no header");
    refused(call(&f.app, Some(&format!("Basic {token}"))).await, StatusCode::UNAUTHORIZED, "unauthorized", "scheme");
    refused(bearer(&f.app, "garbage").await, StatusCode::UNAUTHORIZED, "unauthorized", "garbage");
    refused(bearer(&f.app, "a.b.c").await, StatusCode::UNAUTHORIZED, "unauthorized", "three garbage parts");

    // The same claims, expired beyond the leeway.
    let login = ok(
        f.host
            .login(LoginRequest {
                domain: Some("acme".into()),
                credential: id_token("x", "jane@acme.example", true, &[]),
                source: None,
            })
            .await,
        "login",
    )
    .account;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut claims = provisio::http::SessionClaims {
        iss: "provisio".into(),
        sub: login.id.to_string(),
        aud: "provisio".into(),
        exp: now - 120,
        iat: now - 1000,
        jti: "j".into(),
        email: login.email,
        username: login.username,
        org: None,
        teams: vec![],
        roles: vec![],
    };
    let expired = ok(f.signer.sign(&claims), "sign");
    refused(bearer(&f.app, &expired).await, StatusCode::UNAUTHORIZED, "unauthorized", "expired");

    claims.exp = now + 600;
    let foreign = ok(signer().sign(&claims), "sign with another key");
    refused(bearer(&f.app, &foreign).await, StatusCode::UNAUTHORIZED, "unauthorized", "another key");
    claims.aud = "elsewhere".into();
    let audience = ok(f.signer.sign(&claims), "sign");
    refused(bearer(&f.app, &audience).await, StatusCode::UNAUTHORIZED, "unauthorized", "another audience");

    // An ID token the domain's providers refuse (signed by the session key).
    let idp = json!({"iss": "https://idp.acme.example", "aud": "provisio-test", "sub": "m", "exp": now + 60,
        "email": "mallory@acme.example", "email_verified": true});
    let forged = ok(f.signer.sign_any(&idp), "sign");
    refused(bearer(&f.app, &forged).await, StatusCode::UNAUTHORIZED, "authentication-failed", "forged ID token");
}

/// Within the TTL the cached state still holds (the documented delay); once
/// it is past, the store is read again. Each half waits on its own side of
/// the TTL only: an hour that no test run reaches, and a sleep past a short
/// one.
#[tokio::test]
async fn a_locked_accounts_session_token_is_refused_after_the_cache_ttl() {
    let long = local(&Setup::default(), |b| b.account_check_ttl(Duration::from_secs(3600))).await;
    let credential = id_token("jane", "jane@acme.example", true, &[]);
    let (token, account) = session_token(&long.host, &long.signer, credential).await;
    assert_eq!(bearer(&long.app, &token).await.0, StatusCode::OK);
    ok(long.store.set_account_state(&account, AccountState::Locked).await, "lock");
    assert_eq!(bearer(&long.app, &token).await.0, StatusCode::OK, "cached for the TTL");

    let ttl = Duration::from_millis(200);
    let f = local(&Setup::default(), |b| b.account_check_ttl(ttl)).await;
    let (token, account) = session_token(&f.host, &f.signer, id_token("jane", "jane@acme.example", true, &[])).await;
    assert_eq!(bearer(&f.app, &token).await.0, StatusCode::OK);
    ok(f.store.set_account_state(&account, AccountState::Locked).await, "lock");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    refused(bearer(&f.app, &token).await, StatusCode::FORBIDDEN, "account-locked", "locked");
    ok(f.store.set_account_state(&account, AccountState::Disabled).await, "disable");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    refused(bearer(&f.app, &token).await, StatusCode::FORBIDDEN, "account-disabled", "disabled");
}

#[tokio::test]
async fn a_domain_that_refuses_jit_is_forbidden() {
    let f = local(&Setup { jit: false, ..Setup::default() }, |b| b).await;
    let token = raw(id_token("eve", "eve@acme.example", true, &[]));
    refused(bearer(&f.app, &token).await, StatusCode::FORBIDDEN, "access-denied", "JIT off, not a member");
}

#[tokio::test]
async fn offline_verification_against_the_served_jwks() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let (host, _) = prepare(&store, &crate::runtime(), &Setup::default()).await;
    let state = ok(AppState::new(host.clone(), HttpConfig::default()), "state");
    let listener = ok(tokio::net::TcpListener::bind("127.0.0.1:0").await, "bind");
    let addr = ok(listener.local_addr(), "address");
    let server = tokio::spawn(axum::serve(listener, provisio::http::router(state.clone())).into_future());

    let url = format!("http://{addr}/.well-known/jwks.json");
    let keys = ok(SessionKeys::url(&url, true), "keys");
    let gateway = ok(Gateway::offline(keys, "provisio", "provisio").build(), "gateway");
    let app = app(&gateway);
    let (token, account) = session_token(&host, state.signer(), id_token("jane", "jane@acme.example", true, &[])).await;
    let (status, body) = bearer(&app, &token).await;
    assert_eq!((status, &body["via"]), (StatusCode::OK, &json!("session-token")), "{body}");
    // Offline there is no account-state check: documented.
    ok(store.set_account_state(&account, AccountState::Locked).await, "lock");
    assert_eq!(bearer(&app, &token).await.0, StatusCode::OK);
    // Nor ID tokens: there is no host to log them in.
    let id = raw(id_token("bob", "bob@acme.example", true, &[]));
    refused(bearer(&app, &id).await, StatusCode::UNAUTHORIZED, "unauthorized", "ID token offline");
    // A token of another key names a kid the server never published.
    let kim = LoginRequest {
        domain: Some("acme".into()),
        credential: id_token("kim", "kim@acme.example", true, &[]),
        source: None,
    };
    let kim = ok(host.login(kim).await, "login");
    let foreign = ok(signer().sign(&state.signer().claims(&kim)), "sign");
    refused(bearer(&app, &foreign).await, StatusCode::UNAUTHORIZED, "unauthorized", "foreign key offline");

    // The same keys given as a document.
    let keys = ok(SessionKeys::jwks(state.signer().jwks()), "keys");
    let gateway = ok(Gateway::offline(keys, "provisio", "provisio").build(), "gateway");
    assert_eq!(bearer(&crate::gateway::app(&gateway), &token).await.0, StatusCode::OK);
    server.abort();
}

#[test]
fn forwarding_replaces_spoofed_identity_headers() {
    let mut headers = HeaderMap::new();
    headers.insert("X-Provisio-Account", HeaderValue::from_static("admin"));
    headers.insert("x-provisio-roles", HeaderValue::from_static("admin"));
    headers.insert("X-PROVISIO-ORG", HeaderValue::from_static("someone-else"));
    headers.insert("x-provisio-anything", HeaderValue::from_static("x"));
    headers.insert("x-other", HeaderValue::from_static("kept"));
    let identity = Identity {
        account_id: AccountId::new("a1"),
        email: "jane@acme.example".into(),
        username: "jane".into(),
        org: None,
        teams: vec!["engineering".into(), "everyone".into()],
        roles: vec![],
        via: Via::SessionToken,
    };
    ok(forward_identity(&mut headers, &identity), "forward");
    let get =
        |name: &str| headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("?").to_owned()).collect::<Vec<_>>();
    assert_eq!(get("x-provisio-account"), ["a1"]);
    assert_eq!(get("x-provisio-email"), ["jane@acme.example"]);
    assert_eq!(get("x-provisio-username"), ["jane"]);
    assert_eq!(get("x-provisio-teams"), ["engineering,everyone"]);
    assert_eq!(get("x-provisio-roles"), [""]);
    assert!(get("x-provisio-org").is_empty(), "no organization: the spoofed one is gone");
    assert!(get("x-provisio-anything").is_empty());
    assert_eq!(get("x-other"), ["kept"]);

    let bad = Identity { username: "bad\nname".into(), ..identity };
    let mut headers = HeaderMap::new();
    headers.insert("x-provisio-account", HeaderValue::from_static("admin"));
    assert!(forward_identity(&mut headers, &bad).is_err());
    assert!(headers.is_empty(), "nothing spoofed survives a failure");
}

/// A person the organization's SCIM client de-provisions loses its session
/// tokens for the organization once the account cache time has passed.
#[tokio::test]
async fn a_scim_deprovisioned_persons_session_token_is_refused() {
    use axum::http::Method;
    let ttl = Duration::from_millis(200);
    let f = local(&Setup::default(), |b| b.account_check_ttl(ttl)).await;
    let api = provisio::http::router(ok(AppState::new(f.host.clone(), crate::http::config()), "state"));
    let domain = ok(f.store.domain_by_name("acme").await, "domain").unwrap_or_else(|| panic!("the acme domain"));
    let (_, scim_token) =
        crate::http::scim::issue_token(&api, f.org.as_str(), crate::http::OPERATOR, domain.id.as_str()).await;
    let scim = crate::http::scim::Scim { app: api, base: format!("/scim/v2/{}", domain.id), token: scim_token };
    let jane = scim.user(crate::http::scim::user_body("jane@acme.example")).await;
    let (token, _) = session_token(&f.host, &f.signer, id_token("jane", "jane@acme.example", true, &[])).await;
    assert_eq!(bearer(&f.app, &token).await.0, StatusCode::OK);

    let off = crate::http::scim::patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let path = format!("/Users/{}", jane["id"].as_str().unwrap_or_default());
    scim.call(Method::PATCH, &path, Some(off)).await.expect(StatusCode::OK, "de-provision");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    refused(bearer(&f.app, &token).await, StatusCode::FORBIDDEN, "account-suspended", "de-provisioned");
}
