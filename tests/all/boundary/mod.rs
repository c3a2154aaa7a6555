//! The tenant boundary, tried from outside as a hostile organization would:
//! its own identity provider and key, its own admin token, its plugins, its
//! bursts. One module per finding; every test runs on SQLite and, from
//! `PROVISIO_TEST_DATABASE_URL`, on PostgreSQL.

mod hygiene;
mod identifiers;
mod plugins;
mod providers;
mod smaller;
mod stall;
mod takeover;
mod throttle;

use axum::Router;
use axum::http::{Method, StatusCode};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::auth::TestKey;
use crate::http::{OPERATOR, approve, json_call, organization};

/// The audience every tenant's IdP issues its tokens for.
const AUDIENCE: &str = "provisio-test";

/// An organization set up through the API as its admin would: a team, a
/// domain named after it claiming `email_domain` (approved by the operator
/// unless `verified` is false), an OIDC provider `idp` with a key of its
/// own, and a `password` provider.
pub(crate) struct Tenant {
    pub(crate) name: String,
    pub(crate) org: String,
    pub(crate) token: String,
    pub(crate) domain: String,
    pub(crate) idp: String,
    key: TestKey,
}

impl Tenant {
    pub(crate) async fn new(app: &Router, name: &str, email_domain: &str, key: &str, verified: bool) -> Self {
        let (org, token) = organization(app, name).await;
        let t = Some(token.as_str());
        let team = json_call(app, Method::POST, format!("/v1/orgs/{org}/teams"), t, Some(json!({"name": "everyone"})))
            .await
            .expect(StatusCode::CREATED, "team");
        let domain = json!({"name": name, "default_team": team["id"], "email_domains": [email_domain]});
        let domain = json_call(app, Method::POST, format!("/v1/orgs/{org}/domains"), t, Some(domain))
            .await
            .expect(StatusCode::CREATED, "domain");
        let domain = domain["id"].as_str().unwrap_or_default().to_owned();
        if verified {
            approve(app, &org, &domain, email_domain).await;
        }
        let key = match key {
            "ec-p256.pem" => TestKey::load(key, Algorithm::ES256, "ec-1"),
            other => TestKey::load(other, Algorithm::RS256, "rsa-1"),
        };
        let config = json!({"issuer": issuer(name), "audience": AUDIENCE, "jwks": {"keys": [key.jwk()]}});
        let providers = format!("/v1/orgs/{org}/domains/{domain}/providers");
        let idp =
            json_call(app, Method::POST, &providers, t, Some(json!({"name": "idp", "kind": "oidc", "config": config})))
                .await
                .expect(StatusCode::CREATED, "oidc provider");
        let idp = idp["id"].as_str().unwrap_or_default().to_owned();
        json_call(app, Method::POST, &providers, t, Some(json!({"name": "password", "kind": "password"})))
            .await
            .expect(StatusCode::CREATED, "password provider");
        Self { name: name.to_owned(), org, token, domain, idp, key }
    }

    /// An ID token this tenant's IdP mints, with these claims over the
    /// defaults (a verified email, one hour of life).
    pub(crate) fn id_token(&self, subject: &str, email: &str, extra: Value) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut claims = json!({
            "iss": issuer(&self.name), "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 3600,
            "email": email, "email_verified": true,
        });
        if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            claims.extend(extra);
        }
        self.key.sign(&claims)
    }

    /// Logs in through this tenant's domain with an ID token of its IdP.
    pub(crate) async fn id_login(&self, app: &Router, subject: &str, email: &str, extra: Value) -> crate::http::Answer {
        let body = json!({"domain": self.name, "id_token": self.id_token(subject, email, extra)});
        json_call(app, Method::POST, "/v1/login", None, Some(body)).await
    }

    /// A call with this tenant's admin token.
    pub(crate) async fn call(
        &self,
        app: &Router,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> crate::http::Answer {
        json_call(app, method, path.replace("{org}", &self.org), Some(&self.token), body).await
    }

    /// This tenant's audit events, newest first.
    pub(crate) async fn audit(&self, app: &Router) -> Vec<Value> {
        let events = self.call(app, Method::GET, "/v1/orgs/{org}/audit", None).await.expect(StatusCode::OK, "audit");
        events.as_array().cloned().unwrap_or_default()
    }
}

fn issuer(name: &str) -> String {
    format!("https://idp.{name}.test")
}

/// The operator's view of an account by email, straight from the store.
pub(crate) async fn account(store: &provisio::store::Store, email: &str) -> Option<provisio::store::Account> {
    store.account_by_email(email).await.unwrap_or_else(|e| panic!("lookup {email}: {e}"))
}

/// A call with the operator token.
pub(crate) async fn operator(app: &Router, method: Method, path: &str, body: Option<Value>) -> crate::http::Answer {
    json_call(app, method, path, Some(OPERATOR), body).await
}
