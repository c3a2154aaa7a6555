//! The OpenAPI document and the router are one list of routes.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{config, id_login, json_call, ok, organization, state, tenant};
use crate::TestDatabase;

/// `/openapi.json` is an OpenAPI 3.x document generated from the handlers:
/// every operation it lists is served (an admin one answers 401 without a
/// token, as its `bearer` security says, and 404 to another organization's
/// token), every error answer is an `ErrorBody`, every `$ref` resolves; and
/// the router has no route outside the `routes!` lists the document is
/// made from.
#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let document = json_call(&app, Method::GET, "/openapi.json", None, None).await.expect(StatusCode::OK, "openapi");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", document["openapi"]);
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["type"], "http");
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    // Every `$ref` names a schema of the document.
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(document["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }

    // The objects another organization's token will name.
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let (_, other) = organization(&app, "globex").await;
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    let account = login.expect(StatusCode::OK, "login")["account"]["id"].as_str().unwrap_or_default().to_owned();
    let tokens = json_call(&app, Method::GET, format!("/v1/orgs/{org}/tokens"), Some(&token), None).await;
    let token_id = tokens.expect(StatusCode::OK, "tokens")[0]["id"].as_str().unwrap_or_default().to_owned();
    let value_of = |name: &str| match name {
        "org" => org.clone(),
        "domain" => domain.clone(),
        "provider" => provider.clone(),
        "account" => account.clone(),
        "token" => token_id.clone(),
        "email_domain" => "acme.example".to_owned(),
        "invitation" => "0".repeat(32),
        "action" => "abort".to_owned(),
        other => panic!("no test value for the path parameter {{{other}}}"),
    };
    // A body every JSON route accepts, so that only the caller decides.
    let body = json!({"name": "x", "email": "x@acme.example", "kind": "password"});

    let mut operations = Vec::new();
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        for (method, operation) in item.as_object().cloned().unwrap_or_default() {
            let method = ok(Method::from_bytes(method.to_uppercase().as_bytes()), "method");
            let mut uri = path.clone();
            for name in path.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(name, _)| name) {
                uri = uri.replace(&format!("{{{name}}}"), &value_of(name));
            }
            let label = format!("{method} {path}");
            let responses = operation["responses"].as_object().cloned().unwrap_or_default();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{label}: no success answer");
            for (status, response) in &responses {
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{label} {status}");
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = response["content"]["application/json"]["schema"]["$ref"].as_str();
                    assert_eq!(schema, Some("#/components/schemas/ErrorBody"), "{label} {status}");
                }
            }
            let admin = ["/v1/org", "/v1/accounts", "/v1/me"].iter().any(|p| path.starts_with(p));
            let security = operation["security"].to_string();
            assert_eq!(security == r#"[{"bearer":[]}]"#, admin, "{label}: security {security}");

            // Served: not the router's 404 nor a 405; an admin route wants a token.
            let has_body = operation.get("requestBody").is_some();
            let request_body = has_body.then(|| body.clone());
            let answer = json_call(&app, method.clone(), &uri, None, request_body.clone()).await;
            if admin {
                answer.error(StatusCode::UNAUTHORIZED, "unauthorized", &format!("{label} without a token"));
                if path.starts_with("/v1/orgs/{org}") {
                    let answer = json_call(&app, method.clone(), &uri, Some(&other), request_body).await;
                    answer.error(StatusCode::NOT_FOUND, "not-found", &format!("{label} with another's token"));
                }
            } else {
                assert!(![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&answer.status), "{label}");
            }
            operations.push(label);
        }
    }
    for expected in [
        "POST /v1/login",
        "GET /openapi.json",
        "GET /metrics",
        "PUT /v1/orgs/{org}/domains/{domain}/bindings/{provider}",
        "POST /v1/orgs/{org}/plugins",
    ] {
        assert!(operations.iter().any(|o| o == expected), "{expected} in {operations:?}");
    }

    // Every route is registered through `routes!`, which documents it: the
    // router and the document are one list.
    let mut sources = vec![crate::root().join("host/src/http")];
    while let Some(path) = sources.pop() {
        if path.is_dir() {
            sources.extend(ok(std::fs::read_dir(&path), "read_dir").map(|e| ok(e, "entry").path()));
        } else if path.ends_with("scim.rs") {
            // The SCIM protocol's own routes describe themselves at
            // `/Schemas` and `/ResourceTypes` (RFC 7644), not in the OpenAPI
            // document: every one of them lies under `/scim/v2/{domain}`.
            let source = ok(std::fs::read_to_string(&path), "source");
            assert!(source.contains(r#"const BASE: &str = "/scim/v2/{domain}";"#), "{}", path.display());
            for (i, part) in source.split(".route(").enumerate().skip(1) {
                let part = part.trim_start();
                assert!(part.starts_with("&format!(\"{BASE}") || part.starts_with("BASE,"), "route {i}: {part:.60}");
            }
        } else if path.parent().is_some_and(|p| p.ends_with("console")) {
            // The console's pages are HTML for browsers, not API operations:
            // every one lies under `/console` (and `/` leads there).
            let source = ok(std::fs::read_to_string(&path), "source");
            for (i, part) in source.split(".route(").enumerate().skip(1) {
                let part = part.trim_start();
                assert!(part.starts_with("\"/console") || part.starts_with("\"/\","), "route {i}: {part:.60}");
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = ok(std::fs::read_to_string(&path), "source");
            for bypass in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                assert!(!source.contains(bypass), "{} registers a route outside `routes!`: {bypass}", path.display());
            }
            let routers = source.matches("Router::new()").count();
            assert_eq!(routers, source.matches("OpenApiRouter::new()").count(), "{}: a plain Router", path.display());
        }
    }
    store.close().await;
}
