//! Bad input gets a precise SCIM error, never a 500, and changes nothing.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{patch, scim_tenant, user_body};
use crate::TestDatabase;
use crate::http::{config, state};

#[tokio::test]
async fn malformed_requests_are_refused_precisely_and_lose_nothing() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (_, _, _, _, scim) = scim_tenant(&app, "acme").await;
        let jane = scim.user(user_body("jane@acme.example")).await;
        let group = scim.group(json!({"displayName": "eng"})).await;
        let user = format!("/Users/{}", jane["id"].as_str().unwrap_or_default());
        let team = format!("/Groups/{}", group["id"].as_str().unwrap_or_default());

        // (method, path, raw body, status, scimType)
        let raw: Vec<(Method, String, &str, StatusCode, Option<&str>)> = vec![
            (Method::POST, "/Users".into(), "{not json", StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            (Method::POST, "/Users".into(), "", StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            (Method::PATCH, user.clone(), "[1, 2", StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            (Method::POST, "/Users/.search".into(), "\"filter\"", StatusCode::BAD_REQUEST, Some("invalidSyntax")),
        ];
        for (method, path, body, status, scim_type) in raw {
            let uri = format!("{}{path}", scim.base);
            let reply = scim.raw(Some(&scim.token), method.clone(), &uri, Some(Body::from(body)), &[]).await;
            reply.error(status, scim_type, &format!("{method} {path} with {body:?}"));
        }

        let nul = "jane\u{0}@acme.example";
        let bidi = "jane\u{202e}@acme.example";
        let bodies: Vec<(Method, String, Value, StatusCode, Option<&str>)> = vec![
            (Method::POST, "/Users".into(), json!([]), StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            (
                Method::POST,
                "/Users".into(),
                json!({"not": "a scim resource"}),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            ),
            (Method::POST, "/Users".into(), json!({"userName": 42}), StatusCode::BAD_REQUEST, Some("invalidValue")),
            (Method::POST, "/Users".into(), user_body(nul), StatusCode::BAD_REQUEST, Some("invalidValue")),
            (Method::POST, "/Users".into(), user_body(bidi), StatusCode::BAD_REQUEST, Some("invalidValue")),
            (
                Method::POST,
                "/Users".into(),
                json!({"userName": "x@acme.example", "displayName": "a\u{0}b"}),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            ),
            (
                Method::POST,
                "/Users".into(),
                json!({"userName": "x@acme.example", "emails": {"value": "x@acme.example"}}),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            ),
            (Method::POST, "/Users".into(), user_body("jane@acme.example"), StatusCode::CONFLICT, Some("uniqueness")),
            (
                Method::PUT,
                user.clone(),
                json!({"displayName": "no userName"}),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            ),
            (Method::PATCH, user.clone(), json!({"Operations": []}), StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            (
                Method::PATCH,
                user.clone(),
                patch(json!([{"op": "frobnicate", "path": "active"}])),
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
            ),
            (
                Method::PATCH,
                user.clone(),
                patch(json!([{"op": "add", "path": "emails[", "value": "x"}])),
                StatusCode::BAD_REQUEST,
                Some("invalidPath"),
            ),
            (
                Method::PATCH,
                user.clone(),
                patch(json!([{"op": "add", "path": "password", "value": "x"}])),
                StatusCode::BAD_REQUEST,
                Some("invalidPath"),
            ),
            (Method::PATCH, user.clone(), patch(json!([{"op": "remove"}])), StatusCode::BAD_REQUEST, Some("noTarget")),
            (
                Method::PATCH,
                user.clone(),
                patch(json!([{"op": "replace", "path": "id", "value": "mine"}])),
                StatusCode::BAD_REQUEST,
                Some("mutability"),
            ),
            (
                Method::PATCH,
                user.clone(),
                patch(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            ),
            (
                Method::PATCH,
                user.clone(),
                patch(json!([{"op": "replace", "path": "userName", "value": ""}])),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            ),
            (
                Method::PATCH,
                team.clone(),
                patch(json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}])),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            ),
            (Method::POST, "/Groups".into(), json!({"displayName": "eng"}), StatusCode::CONFLICT, Some("uniqueness")),
            (Method::POST, "/Groups".into(), json!({"members": []}), StatusCode::BAD_REQUEST, Some("invalidValue")),
            (Method::GET, "/Users/nonexistent-id-000000".into(), Value::Null, StatusCode::NOT_FOUND, None),
            (Method::GET, "/Groups/%00".into(), Value::Null, StatusCode::NOT_FOUND, None),
            (Method::GET, "/Nothing/here".into(), Value::Null, StatusCode::NOT_FOUND, None),
            (Method::POST, "/ServiceProviderConfig".into(), json!({}), StatusCode::METHOD_NOT_ALLOWED, None),
            (Method::DELETE, "/Schemas".into(), Value::Null, StatusCode::METHOD_NOT_ALLOWED, None),
            (Method::GET, "/Schemas/urn:example:nothing".into(), Value::Null, StatusCode::NOT_FOUND, None),
            (Method::GET, "/ResourceTypes/Printer".into(), Value::Null, StatusCode::NOT_FOUND, None),
        ];
        for (method, path, body, status, scim_type) in bodies {
            let body = (!body.is_null()).then_some(body);
            let reply = scim.call(method.clone(), &path, body).await;
            reply.error(status, scim_type, &format!("{method} {path}"));
        }

        // Over 1 MiB.
        let mut huge = user_body("big@acme.example");
        huge["displayName"] = json!("x".repeat(1024 * 1024));
        scim.call(Method::POST, "/Users", Some(huge)).await.error(StatusCode::PAYLOAD_TOO_LARGE, None, "1 MiB");

        // Nothing changed.
        let now = scim.call(Method::GET, &user, None).await.expect(StatusCode::OK, "jane");
        assert_eq!(now, jane, "no refused request changed her");
        let users = scim.call(Method::GET, "/Users", None).await.expect(StatusCode::OK, "list");
        assert_eq!(users["totalResults"], 1, "{users}");
        let groups = scim.call(Method::GET, "/Groups", None).await.expect(StatusCode::OK, "list");
        assert_eq!(groups["totalResults"], 1, "{groups}");
        store.close().await;
        db.cleanup().await;
    }
}
