//! Domain updates: JIT switch, default team, email domain claims and the
//! order of the providers.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{approve, config, json_call, organization, state, tenant};
use crate::TestDatabase;

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
