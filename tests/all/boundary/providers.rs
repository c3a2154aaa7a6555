//! Finding 6: providers that can never work, and providers that cannot be
//! changed or removed.

use axum::http::{Method, StatusCode};
use jsonwebtoken::Algorithm;
use serde_json::json;

use super::Tenant;
use crate::TestDatabase;
use crate::auth::TestKey;
use crate::http::{config, state};

/// A provider that could never authenticate anyone is refused when it is
/// added, with what is wrong, and the domain keeps working.
#[tokio::test]
async fn a_provider_that_can_never_work_is_refused() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
    let key = TestKey::load("rsa.pem", Algorithm::RS256, "k").jwk();
    let base = json!({"issuer": "https://idp.example", "audience": "x"});
    let with = |extra: serde_json::Value| {
        let mut config = base.clone();
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        config
    };
    let path = format!("/v1/orgs/{{org}}/domains/{}/providers", acme.domain);
    for (name, config) in [
        ("no keys", with(json!({}))),
        ("an empty JWKS", with(json!({"jwks": {"keys": []}}))),
        ("only a symmetric key", with(json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}))),
        ("both jwks and jwks_url", with(json!({"jwks": {"keys": [key]}, "jwks_url": "https://idp.example/jwks"}))),
        ("a plain http URL", with(json!({"jwks_url": "http://idp.example/jwks"}))),
        ("a loopback URL", with(json!({"jwks_url": "https://127.0.0.1/jwks"}))),
        ("a private URL", with(json!({"jwks_url": "https://10.1.2.3/jwks"}))),
        ("a link-local URL", with(json!({"jwks_url": "https://169.254.169.254/latest"}))),
        ("no audience", json!({"issuer": "https://idp.example", "audience": [], "jwks": {"keys": [key]}})),
    ] {
        let body = json!({"name": format!("p-{}", name.len()), "kind": "oidc", "config": config});
        let refused = acme.call(&app, Method::POST, &path, Some(body)).await;
        refused.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", name);
    }
    acme.id_login(&app, "jane", "jane@acme.example", json!({})).await.expect(StatusCode::OK, "the domain still works");
    store.close().await;
}

/// A provider's keys can be changed and the provider removed; another
/// organization can do neither.
#[tokio::test]
async fn providers_can_be_changed_and_removed_by_their_organization_only() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
        let rival = Tenant::new(&app, "rival", "rival.example", "rsa-other.pem", true).await;
        acme.id_login(&app, "jane", "jane@acme.example", json!({})).await.expect(StatusCode::OK, "before");
        let provider = format!("/v1/orgs/{}/domains/{}/providers/{}", acme.org, acme.domain, acme.idp);
        let rotated = TestKey::load("ec-p256.pem", Algorithm::ES256, "ec-1").jwk();
        let config = json!({"config": {"issuer": "https://idp.acme.test", "audience": "provisio-test", "jwks": {"keys": [rotated]}}});
        for method in [Method::PATCH, Method::DELETE] {
            let foreign = rival.call(&app, method.clone(), &provider, Some(config.clone())).await;
            foreign.error(StatusCode::NOT_FOUND, "not-found", "another organization's provider");
        }
        let bad = json!({"config": {"issuer": "https://idp.acme.test", "audience": "provisio-test"}});
        acme.call(&app, Method::PATCH, &provider, Some(bad)).await.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            "no keys",
        );
        acme.call(&app, Method::PATCH, &provider, Some(config)).await.expect(StatusCode::OK, "rotate the key");
        // The old key no longer signs in.
        let old = acme.id_login(&app, "jane", "jane@acme.example", json!({})).await;
        old.error(StatusCode::UNAUTHORIZED, "authentication-failed", "a token of the old key");
        acme.call(&app, Method::DELETE, &provider, None).await.expect(StatusCode::NO_CONTENT, "remove");
        let domain = acme.call(&app, Method::GET, &format!("/v1/orgs/{{org}}/domains/{}", acme.domain), None).await;
        let domain = domain.expect(StatusCode::OK, "domain");
        assert_eq!(domain["providers"].as_array().map(Vec::len), Some(1), "only the password provider: {domain}");
        store.close().await;
        db.cleanup().await;
    }
}
