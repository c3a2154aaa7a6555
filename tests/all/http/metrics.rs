//! Plugin calls on `/metrics`, whatever the login's outcome.

use crate::plugins;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{config, id_login, json_call, state, tenant, upload};
use crate::{TestDatabase, component};

/// Plugin calls reach /metrics whatever the login's outcome: a creator that
/// loops until its fuel runs out (the binding fails closed) is a limit hit,
/// a failure by kind and a duration sample; a creator that decides is one
/// more sample and no failure.
#[tokio::test]
async fn plugin_calls_reach_the_metrics() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let t = Some(token.as_str());
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    let hash = |v: Value| v["plugin"]["hash"].as_str().unwrap_or_default().to_owned();
    let looping =
        hash(upload(&app, &org, &token, component(plugins::HOSTILE_LOOP)).await.expect(StatusCode::CREATED, "upload"));
    let fine = hash(
        upload(&app, &org, &token, component(plugins::DEFAULT_CREATOR)).await.expect(StatusCode::CREATED, "upload"),
    );
    let metrics = || async {
        let body = json_call(&app, Method::GET, "/metrics", None, None).await.expect(StatusCode::OK, "metrics");
        body.as_str().unwrap_or_default().to_owned()
    };
    assert!(!metrics().await.contains("provisio_plugin_call_duration_seconds_count"), "no call yet");

    let bind =
        json!({"creator": looping, "failure_policy": "fail-closed", "limits": {"fuel": 1_000_000, "wall_time": 1000}});
    json_call(&app, Method::PUT, &path, t, Some(bind)).await.expect(StatusCode::OK, "bind hostile-loop");
    let refused = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    refused.error(StatusCode::FORBIDDEN, "provisioning-failed", "the creator ran out of fuel");
    let after_limit = metrics().await;
    for line in [
        "provisio_plugin_limit_hits_total{limit=\"fuel\"} 1",
        "provisio_plugin_failures_total{hook=\"create\",kind=\"limit-exceeded\"} 1",
        "provisio_plugin_call_duration_seconds_count{hook=\"create\"} 1",
        "provisio_plugin_call_duration_seconds_bucket{le=\"+Inf\",hook=\"create\"} 1",
        "provisio_logins_total{outcome=\"provisioning-failed\"} 1",
    ] {
        assert!(after_limit.contains(line), "{line} in {after_limit}");
    }
    assert!(!after_limit.contains("hook=\"assign\""), "no assignment provider ran: {after_limit}");

    json_call(&app, Method::PUT, &path, t, Some(json!({"creator": fine}))).await.expect(StatusCode::OK, "bind");
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    login.expect(StatusCode::OK, "login through default-creator");
    let after_success = metrics().await;
    for line in [
        "provisio_plugin_call_duration_seconds_count{hook=\"create\"} 2",
        "provisio_plugin_failures_total{hook=\"create\",kind=\"limit-exceeded\"} 1",
        "provisio_plugin_limit_hits_total{limit=\"fuel\"} 1",
    ] {
        assert!(after_success.contains(line), "{line} in {after_success}");
    }
    store.close().await;
}
