//! Organization API tokens: another organization's token sees nothing;
//! tokens survive a restart and die when revoked.

use crate::plugins;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{OPERATOR, config, id_login, json_call, organization, state, tenant, upload};
use crate::{TestDatabase, component};

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
            (Method::GET, format!("/v1/orgs/{o}/domains/{d}/scim-tokens"), None),
            (Method::POST, format!("/v1/orgs/{o}/domains/{d}/scim-tokens"), body(json!({"name": "stolen"}))),
            (Method::DELETE, format!("/v1/orgs/{o}/domains/{d}/scim-tokens/0123456789abcdef"), None),
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
        let upload = upload(&app, &org, &other, component(plugins::NOOP)).await;
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
