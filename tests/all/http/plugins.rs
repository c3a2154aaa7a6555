//! Plugin uploads and bindings, as the admin API checks them.

use crate::plugins;
use axum::http::{Method, StatusCode};
use provisio::http::HttpConfig;
use serde_json::json;

use super::{config, json_call, organization, state, tenant, upload};
use crate::{TestDatabase, component};

/// Uploads: the check report, 422 naming what breaks the contract, 413 over
/// the upload limit.
#[tokio::test]
async fn plugin_uploads_are_checked() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token) = organization(&app, "acme").await;

    let refused = upload(&app, &org, &token, b"not wasm at all".to_vec()).await;
    let refused = refused.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "not wasm");
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("not a WebAssembly file")), "{refused}");
    let wrong = upload(&app, &org, &token, component(plugins::HOSTILE_WRONG_WORLD)).await;
    let wrong = wrong.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "wrong world");
    assert!(wrong["message"].as_str().is_some_and(|m| m.contains("implements no Provisio world")), "{wrong}");
    let import = upload(&app, &org, &token, component(plugins::HOSTILE_FORBIDDEN_IMPORT)).await;
    let import = import.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "forbidden import");
    assert!(import["message"].as_str().is_some_and(|m| m.contains("which plugins may not use")), "{import}");

    let mapper =
        upload(&app, &org, &token, component(plugins::GROUP_MAPPER)).await.expect(StatusCode::CREATED, "upload");
    assert_eq!(mapper["check"]["world"], "assignment-provider-plugin");
    assert_eq!(mapper["plugin"]["hash"], mapper["check"]["hash"]);

    // A small upload limit, and a component over it.
    let small = HttpConfig { plugin_body_limit: 1024, ..config() };
    let small = provisio::http::router(state(&store, small).await);
    let (org, token) = organization(&small, "other").await;
    let big = upload(&small, &org, &token, component(plugins::NOOP)).await;
    big.error(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "over the upload limit");
    store.close().await;
}

/// Bindings are checked: an unknown hash, or a plugin in the wrong slot, is
/// a 422 that says so.
#[tokio::test]
async fn bindings_are_checked() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let t = Some(token.as_str());
    let mapper =
        upload(&app, &org, &token, component(plugins::GROUP_MAPPER)).await.expect(StatusCode::CREATED, "upload");
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");

    let slot = json_call(&app, Method::PUT, &path, t, Some(json!({"creator": mapper["plugin"]["hash"]}))).await;
    let slot = slot.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "assigner as creator");
    assert!(slot["message"].as_str().is_some_and(|m| m.contains("cannot serve as the identity creator")), "{slot}");
    let unknown = json_call(&app, Method::PUT, &path, t, Some(json!({"creator": "00".repeat(32)}))).await;
    unknown.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "unknown hash");
    let policy = json_call(&app, Method::PUT, &path, t, Some(json!({"failure_policy": "sometimes"}))).await;
    policy.error(StatusCode::BAD_REQUEST, "bad-request", "unknown failure policy");
    let good = json!({"assigner": mapper["plugin"]["hash"], "failure_policy": "fall-back", "sync_mode": "every-login"});
    let good = json_call(&app, Method::PUT, &path, t, Some(good)).await.expect(StatusCode::OK, "bind");
    assert_eq!(good["sync_mode"], "every-login");
    let list = json_call(&app, Method::GET, &format!("/v1/orgs/{org}/domains/{domain}/bindings"), t, None).await;
    assert_eq!(list.expect(StatusCode::OK, "bindings")[0]["failure_policy"], "fall-back");
    store.close().await;
}
