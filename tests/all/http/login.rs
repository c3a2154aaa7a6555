//! Login refusals: the engine's codes as statuses with safe messages, and
//! the login counters behind `/metrics`.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{config, id_login, json_call, raw_token, state, tenant};
use crate::TestDatabase;
use crate::engine::id_token;

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
