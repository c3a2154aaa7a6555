//! Finding 7: binding another organization's plugin by its hash.

use crate::plugins;
use axum::http::{Method, StatusCode};
use serde_json::json;

use super::Tenant;
use crate::TestDatabase;
use crate::http::{config, state, upload};

/// Another organization's hash answers exactly like a hash nobody
/// uploaded; it is not listed; uploading the same bytes makes it one's own.
#[tokio::test]
async fn another_organizations_plugin_is_like_an_unknown_one() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let owner = Tenant::new(&app, "owner", "owner.example", "rsa.pem", true).await;
        let thief = Tenant::new(&app, "thief", "thief.example", "rsa-other.pem", true).await;
        let theirs = upload(&app, &owner.org, &owner.token, crate::component(plugins::DEFAULT_CREATOR)).await;
        let theirs =
            theirs.expect(StatusCode::CREATED, "upload")["plugin"]["hash"].as_str().unwrap_or_default().to_owned();
        let unknown = "0".repeat(64);

        let path = format!("/v1/orgs/{{org}}/domains/{}/bindings/{}", thief.domain, thief.idp);
        let mut messages = Vec::new();
        for hash in [&theirs, &unknown] {
            let refused = thief.call(&app, Method::PUT, &path, Some(json!({"creator": hash}))).await;
            let body = refused.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", hash);
            messages.push(body["message"].as_str().unwrap_or_default().replace(hash.as_str(), "HASH"));
        }
        assert_eq!(messages[0], messages[1], "another organization's hash answers like an unknown one");
        let listed = thief.call(&app, Method::GET, "/v1/orgs/{org}/plugins", None).await.expect(StatusCode::OK, "list");
        assert_eq!(listed, json!([]), "the thief lists nothing");

        // Having the bytes is having the plugin.
        let own = upload(&app, &thief.org, &thief.token, crate::component(plugins::DEFAULT_CREATOR)).await;
        assert_eq!(own.expect(StatusCode::CREATED, "upload")["plugin"]["hash"], theirs.as_str());
        thief.call(&app, Method::PUT, &path, Some(json!({"creator": theirs}))).await.expect(StatusCode::OK, "bind");
        store.close().await;
        db.cleanup().await;
    }
}
