//! The HTTP API: most tests call the router directly (`tower::ServiceExt`),
//! one runs the whole story over a real port on 127.0.0.1. One module per
//! concern; the helpers here serve them and the other test modules.

mod console;
mod domains;
mod errors;
mod login;
mod metrics;
mod openapi;
mod playground;
mod plugins;
mod real_port;
mod safe_changes;
pub(crate) mod scim;
mod session_key;
mod tenancy;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use jsonwebtoken::Algorithm;
use provisio::auth::{Argon2Params, AuthServices, Credential, Secret};
use provisio::engine::Host;
use provisio::http::{AppState, HttpConfig};
use provisio::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::auth::TestKey;
use crate::engine::id_token;

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
    // The test directory (tests/all/ldap) listens on loopback.
    let auth = AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).allow_private_directories(true);
    let auth = ok(auth.build(), "auth services");
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
pub(crate) async fn tenant(app: &Router, name: &str) -> (String, String, String, String) {
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

pub(crate) fn raw_token(credential: Credential) -> String {
    match credential {
        Credential::IdToken(secret) => secret.expose().to_owned(),
        Credential::Password { .. } => panic!("not an ID token"),
    }
}

fn id_login(domain: &str, email: &str) -> Value {
    json!({"domain": domain, "id_token": raw_token(id_token(&format!("sub-{email}"), email, true, &[]))})
}
