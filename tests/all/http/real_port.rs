//! The story end to end over a real port on 127.0.0.1, with a
//! small HTTP/1 client.

use crate::plugins;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use provisio::http::SessionClaims;
use serde_json::{Value, json};

use super::{Answer, OPERATOR, answer, config, id_login, oidc_config, ok, state};
use crate::{TestDatabase, component};

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

/// The story over a real port: organization, domain, plugin upload,
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

        let uploaded = client.upload(&org, &token, component(plugins::DEFAULT_CREATOR)).await;
        let uploaded = uploaded.expect(StatusCode::CREATED, "upload default-creator");
        assert_eq!(uploaded["check"]["name"], plugins::DEFAULT_CREATOR);
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
        let new = client.upload(&org, &token, component(plugins::DOMAIN_ALLOWLIST)).await;
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
