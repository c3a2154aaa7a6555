//! Finding 9: the smaller holes.

use crate::plugins;
use axum::http::{Method, StatusCode};
use serde_json::json;

use super::Tenant;
use crate::TestDatabase;
use crate::http::{config, state, upload};

/// A failed plugin call is in the audit with its hash, outcome and failure.
#[tokio::test]
async fn a_failed_plugin_call_is_audited_with_its_hook() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
        let hash = upload(&app, &acme.org, &acme.token, crate::component(plugins::HOSTILE_PANIC)).await;
        let hash = hash.expect(StatusCode::CREATED, "upload")["plugin"]["hash"].clone();
        let path = format!("/v1/orgs/{{org}}/domains/{}/bindings/{}", acme.domain, acme.idp);
        acme.call(&app, Method::PUT, &path, Some(json!({"creator": hash}))).await.expect(StatusCode::OK, "bind");
        let refused = acme.id_login(&app, "p", "p@acme.example", json!({})).await;
        refused.error(StatusCode::FORBIDDEN, "provisioning-failed", "a panicking creator");
        let audit = acme.audit(&app).await;
        let event = audit.iter().find(|e| e["rule"] == "create-trap").unwrap_or_else(|| panic!("{audit:?}"));
        let hooks = event["detail"]["hooks"].as_array().cloned().unwrap_or_default();
        assert_eq!(hooks.len(), 1, "{event}");
        assert_eq!(hooks[0]["plugin"], hash, "{event}");
        assert_eq!(hooks[0]["outcome"], "trap", "{event}");
        assert!(hooks[0]["failure"].is_string(), "{event}");
        store.close().await;
        db.cleanup().await;
    }
}

/// Failed logins without an account are counted, not written a row each.
#[tokio::test]
async fn anonymous_failures_are_counted_not_written_one_each() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
        for i in 0..40 {
            let body = json!({"domain": "acme", "email": format!("nobody{i}@acme.example"), "password": "guess"});
            let refused = crate::http::json_call(&app, Method::POST, "/v1/login", None, Some(body)).await;
            refused.error(StatusCode::UNAUTHORIZED, "authentication-failed", "an unknown account");
        }
        let audit = acme.audit(&app).await;
        let failed: Vec<_> = audit.iter().filter(|e| e["outcome"] == "authentication-failed").collect();
        let counted: i64 = failed.iter().map(|e| e["occurrences"].as_i64().unwrap_or(0)).sum();
        assert_eq!(counted, 40, "every failure is counted: {failed:?}");
        assert!(failed.len() <= 2, "[{:?}] alike failures share a row per minute: {} rows", db.kind(), failed.len());
        store.close().await;
        db.cleanup().await;
    }
}

/// Wildcards, dots and webmail are no email domains to claim.
#[tokio::test]
async fn nonsense_and_webmail_claims_are_refused() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
    let path = format!("/v1/orgs/{{org}}/domains/{}", acme.domain);
    for claim in ["*", ".", "", "localhost", "*.acme.example", "a..b"] {
        let refused = acme.call(&app, Method::PATCH, &path, Some(json!({"email_domains": [claim]}))).await;
        refused.error(StatusCode::BAD_REQUEST, "bad-request", claim);
    }
    for webmail in ["gmail.com", "GMAIL.com.", "outlook.com"] {
        let refused = acme.call(&app, Method::PATCH, &path, Some(json!({"email_domains": [webmail]}))).await;
        refused.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", webmail);
    }
    let domain = acme.call(&app, Method::GET, &path, None).await.expect(StatusCode::OK, "domain");
    assert_eq!(domain["email_domains"], json!(["acme.example"]), "nothing was claimed: {domain}");
    store.close().await;
}

/// The shipped Python example (18 MB) fits the default upload limit: an
/// upload of its size is judged as a component, not refused for its size.
#[tokio::test]
async fn the_python_example_fits_the_default_upload_limit() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
    let python = std::fs::metadata(crate::root().join("target/plugins/python-allowlist.wasm"))
        .unwrap_or_else(|e| panic!("the Python example is built by scripts/build-plugins: {e}"))
        .len();
    let size = usize::try_from(python).unwrap_or(usize::MAX);
    let judged = upload(&app, &acme.org, &acme.token, vec![0; size]).await;
    judged.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "a body of the Python example's size");
    let limit = provisio::http::HttpConfig::default().plugin_body_limit;
    let refused = upload(&app, &acme.org, &acme.token, vec![0; limit + 1]).await;
    refused.error(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "over the limit");
    store.close().await;
}
