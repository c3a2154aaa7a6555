//! Finding 3 over HTTP: the password throttle per source address, with the
//! client address from a trusted proxy's header, shared by two hosts on one
//! database. (The burst on one account is in `auth.rs`.)

use std::sync::Arc;

use axum::http::StatusCode;
use provisio::auth::{Argon2Params, AuthServices};
use provisio::engine::Host;
use provisio::http::{AppState, HttpConfig};
use serde_json::json;

use super::Tenant;
use crate::TestDatabase;
use crate::http::{config, ok};

/// A host over `store` whose password throttle counts in the store, as
/// `provisio serve`'s does, trusting `x-forwarded-for`.
async fn app(store: &provisio::store::Store) -> (axum::Router, Arc<AuthServices>) {
    let auth = AuthServices::builder()
        .argon2(Argon2Params::INSECURE_FOR_TESTS)
        .attempt_ledger(Arc::new(store.clone()))
        .build();
    let auth = Arc::new(ok(auth, "auth services"));
    let host = Host::builder().store(store.clone()).runtime(crate::runtime()).auth_services(auth.clone()).build();
    let config = HttpConfig { trusted_proxy_header: Some("x-forwarded-for".into()), ..config() };
    (provisio::http::router(ok(AppState::new(ok(host.await, "host"), config), "state")), auth)
}

async fn guess(app: &axum::Router, email: &str, from: &str) -> StatusCode {
    let body = json!({"email": email, "password": "not it"}).to_string();
    let request = axum::http::Request::post("/v1/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", format!("203.0.113.250, {from}"))
        .body(axum::body::Body::from(body));
    let response = tower::ServiceExt::oneshot(app.clone(), ok(request, "request")).await;
    ok(response, "call").status()
}

/// One address spraying one password over many accounts, half through each
/// of two hosts on one database, gets the per-source allowance in all (100
/// by default), not twice it; another address is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spraying_from_one_address_is_throttled_across_hosts() {
    for db in TestDatabase::all() {
        let (first, second) = (db.open().await, db.open().await);
        let (one, auth_one) = app(&first).await;
        let (two, auth_two) = app(&second).await;
        Tenant::new(&one, "acme", "acme.example", "rsa.pem", true).await;
        let checks = || auth_one.hasher().verifications() + auth_two.hasher().verifications();
        let before = checks();
        let mut answers = Vec::new();
        for i in 0..150 {
            let app = if i % 2 == 0 { &one } else { &two };
            answers.push(guess(app, &format!("user{i}@acme.example"), "198.51.100.7").await);
        }
        assert!(answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "[{:?}] {answers:?}", db.kind());
        let hashed = checks() - before;
        assert_eq!(hashed, 100, "[{:?}] the source's allowance, across both hosts", db.kind());
        let before = checks();
        assert_eq!(guess(&two, "user0@acme.example", "198.51.100.8").await, StatusCode::UNAUTHORIZED);
        assert_eq!(checks() - before, 1, "[{:?}] another address is still heard", db.kind());
        first.close().await;
        second.close().await;
        db.cleanup().await;
    }
}
