//! Malformed requests answer the JSON error form with the request's id.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::json;

use super::{config, json_call, request, send, state};
use crate::TestDatabase;

/// Malformed bodies and unknown routes answer the JSON error form with the
/// request's id; a caller's own request id is echoed.
#[tokio::test]
async fn bad_requests_answer_json_errors() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);

    let malformed = request(Method::POST, "/v1/login", None, Some(Body::from("{\"domain\": ")), "application/json");
    send(&app, malformed).await.error(StatusCode::BAD_REQUEST, "bad-request", "malformed JSON");
    let wrong_type = json_call(&app, Method::POST, "/v1/login", None, Some(json!({"domain": 7}))).await;
    wrong_type.error(StatusCode::BAD_REQUEST, "bad-request", "a number for a string");
    let text = request(Method::POST, "/v1/login", None, Some(Body::from("{}")), "text/plain");
    send(&app, text).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "not JSON");
    let both = json!({"email": "a@b.example", "password": "x", "id_token": "y"});
    let both = json_call(&app, Method::POST, "/v1/login", None, Some(both)).await;
    both.error(StatusCode::BAD_REQUEST, "bad-request", "two credentials");
    let huge = json!({"email": "a@b.example", "password": "x".repeat(100 * 1024)});
    let huge = json_call(&app, Method::POST, "/v1/login", None, Some(huge)).await;
    huge.error(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "over the JSON body limit");
    json_call(&app, Method::GET, "/v1/nothing", None, None).await.error(StatusCode::NOT_FOUND, "not-found", "no route");
    let method = json_call(&app, Method::DELETE, "/v1/login", None, None).await;
    method.error(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "wrong method");

    let mut echoed = request(Method::GET, "/healthz", None, None, "");
    echoed.headers_mut().insert("x-request-id", header::HeaderValue::from_static("gateway-123"));
    assert_eq!(send(&app, echoed).await.request_id, "gateway-123");
    store.close().await;
}
