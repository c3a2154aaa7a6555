//! The SCIM 2.0 service, as an identity provider's provisioning engine
//! uses it, on both backends. The independent conformance checkers run in
//! `scim_conformance.rs` against a real server; these tests cover what they
//! do not: the tenant boundary, filters evaluated by the database, paging,
//! versions, de-provisioning and its effect on logins, ownership of
//! memberships between SCIM and JIT, malformed input, and races.

mod boundary;
mod filters;
mod lifecycle;
mod malformed;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::{json_call, ok, tenant};

/// A domain's SCIM client: the router, the domain's base path and a token.
pub(crate) struct Scim {
    pub(crate) app: Router,
    pub(crate) base: String,
    pub(crate) token: String,
}

/// A SCIM answer: status, headers and the body as JSON (`Null` when empty).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn expect(self, status: StatusCode, doing: &str) -> Value {
        assert_eq!(self.status, status, "{doing}: {}", self.body);
        if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
            assert_eq!(
                self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
                Some("application/scim+json"),
                "{doing}"
            );
        }
        self.body
    }

    /// A SCIM error with this status and `scimType` (`None`: without one).
    pub(crate) fn error(self, status: StatusCode, scim_type: Option<&str>, doing: &str) -> Value {
        let body = self.expect(status, doing);
        assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{doing}: {body}");
        assert_eq!(body["status"], json!(status.as_u16().to_string()), "{doing}: {body}");
        assert_eq!(body.get("scimType").and_then(Value::as_str), scim_type, "{doing}: {body}");
        assert!(body["detail"].is_string(), "{doing}: {body}");
        body
    }
}

impl Scim {
    /// Calls `path` (relative to the domain's base) with the client's token.
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(Some(&self.token), method, path, body, &[]).await
    }

    /// Calls with extra headers.
    pub(crate) async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.call_as(Some(&self.token), method, path, body, headers).await
    }

    /// Calls with another token (or none).
    pub(crate) async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = body.map(|b| Body::from(b.to_string()));
        self.raw(token, method, &format!("{}{path}", self.base), body, headers).await
    }

    /// Sends `body` as it is to the absolute `uri`.
    pub(crate) async fn raw(
        &self,
        token: Option<&str>,
        method: Method,
        uri: &str,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri).header(header::HOST, "scim.test");
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/scim+json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = ok(builder.body(body.unwrap_or_else(Body::empty)), "request");
        let response = ok(self.app.clone().oneshot(request).await, "call");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = ok(response.into_body().collect().await, "body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    /// Creates a user; its JSON.
    pub(crate) async fn user(&self, body: Value) -> Value {
        self.call(Method::POST, "/Users", Some(body)).await.expect(StatusCode::CREATED, "create a user")
    }

    /// Creates a group; its JSON.
    pub(crate) async fn group(&self, body: Value) -> Value {
        self.call(Method::POST, "/Groups", Some(body)).await.expect(StatusCode::CREATED, "create a group")
    }
}

/// A User body: `userName` and one primary work email, both `email`.
pub(crate) fn user_body(email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true,
    })
}

/// A PATCH request of these operations.
pub(crate) fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// Issues a SCIM token for the domain through the admin API.
pub(crate) async fn issue_token(app: &Router, org: &str, token: &str, domain: &str) -> (String, String) {
    let uri = format!("/v1/orgs/{org}/domains/{domain}/scim-tokens");
    let issued = json_call(app, Method::POST, &uri, Some(token), Some(json!({"name": "okta"}))).await;
    let issued = issued.expect(StatusCode::CREATED, "issue a SCIM token");
    let scim_token = issued["scim_token"].as_str().unwrap_or_default().to_owned();
    assert!(scim_token.starts_with("pvs_"), "{issued}");
    (issued["token"]["id"].as_str().unwrap_or_default().to_owned(), scim_token)
}

/// A tenant (see `tenant`: domain `name` with verified `<name>.example`)
/// with a SCIM client: (org, API token, domain, provider, client).
pub(crate) async fn scim_tenant(app: &Router, name: &str) -> (String, String, String, String, Scim) {
    let (org, token, domain, provider) = tenant(app, name).await;
    let (_, scim_token) = issue_token(app, &org, &token, &domain).await;
    let scim = Scim { app: app.clone(), base: format!("/scim/v2/{domain}"), token: scim_token };
    (org, token, domain, provider, scim)
}
