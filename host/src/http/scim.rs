//! The SCIM 2.0 routes, under `/scim/v2/{domain}` (the domain's id): the
//! protocol's own HTTP, apart from the admin API's. Every answer is
//! `application/scim+json`; every error, axum's own included (405, 413, a
//! path that names nothing), is in the SCIM error schema. Bodies are read
//! as JSON whatever their declared type (clients send both
//! `application/scim+json` and `application/json`), up to 1 MiB.
//!
//! These routes are described by the service's own discovery endpoints
//! (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`), not by
//! `/openapi.json`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::scim::discovery::{self, MAX_BODY};
use crate::scim::resource::{Base, etag, group_json, user_json};
use crate::scim::schema::{ERROR, SEARCH_REQUEST};
use crate::scim::service::{ListRequest, Scope, from_store, unauthorized};
use crate::scim::{ScimError, groups, search, users};

/// The media type of every SCIM answer.
const SCIM_JSON: &str = "application/scim+json";

/// Marks an answer as the SCIM service's own, so that the API's error
/// rewriting leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScimAnswer;

/// The SCIM routes.
pub(super) fn routes() -> Router<AppState> {
    const BASE: &str = "/scim/v2/{domain}";
    Router::new()
        .route(&format!("{BASE}/ServiceProviderConfig"), get(service_provider_config))
        .route(&format!("{BASE}/ResourceTypes"), get(resource_types))
        .route(&format!("{BASE}/ResourceTypes/{{name}}"), get(resource_type))
        .route(&format!("{BASE}/Schemas"), get(schemas))
        .route(&format!("{BASE}/Schemas/{{id}}"), get(schema))
        .route(&format!("{BASE}/Users"), get(list_users).post(create_user))
        .route(&format!("{BASE}/Users/.search"), axum::routing::post(search_users))
        .route(&format!("{BASE}/Users/{{id}}"), get(get_user).put(replace_user).patch(modify_user).delete(delete_user))
        .route(&format!("{BASE}/Groups"), get(list_groups).post(create_group))
        .route(&format!("{BASE}/Groups/.search"), axum::routing::post(search_groups))
        .route(
            &format!("{BASE}/Groups/{{id}}"),
            get(get_group).put(replace_group).patch(modify_group).delete(delete_group),
        )
        .route(&format!("{BASE}/.search"), axum::routing::post(search_all))
        .route(&format!("{BASE}/{{*rest}}"), axum::routing::any(nothing_here))
        .route(BASE, axum::routing::any(nothing_here))
        .layer(axum::middleware::from_fn(scim_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// A SCIM answer: a status and a JSON body in `application/scim+json`.
struct Answer {
    status: StatusCode,
    body: Option<Value>,
    headers: Vec<(header::HeaderName, String)>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body: Some(body), headers: Vec::new() }
    }

    /// A resource with its `ETag` (and, when created, its `Location`).
    fn resource(status: StatusCode, body: Value) -> Self {
        let mut headers = Vec::new();
        if let Some(version) = body.pointer("/meta/version").and_then(Value::as_str) {
            headers.push((header::ETAG, version.to_owned()));
        }
        if status == StatusCode::CREATED
            && let Some(location) = body.pointer("/meta/location").and_then(Value::as_str)
        {
            headers.push((header::LOCATION, location.to_owned()));
        }
        Self { status, body: Some(body), headers }
    }

    fn no_content() -> Self {
        Self { status: StatusCode::NO_CONTENT, body: None, headers: Vec::new() }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, [(header::CONTENT_TYPE, SCIM_JSON)], body.to_string()).into_response(),
            None => self.status.into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response.extensions_mut().insert(ScimAnswer);
        response
    }
}

/// A SCIM error as its answer.
struct Failure(ScimError);

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let e = self.0;
        let mut body = json!({ "schemas": [ERROR], "status": e.status.to_string(), "detail": e.detail });
        if let Some(t) = e.scim_type {
            body["scimType"] = json!(t.as_str());
        }
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut answer = Answer { status, body: Some(body), headers: Vec::new() };
        if status == StatusCode::UNAUTHORIZED {
            answer.headers.push((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\"".to_owned()));
        }
        answer.into_response()
    }
}

type Result<T> = std::result::Result<T, Failure>;

/// Gives every answer that is not already the service's own (axum's 405,
/// the body limit's 413, a rejected extractor) the SCIM error form.
async fn scim_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.extensions().get::<ScimAnswer>().is_some() {
        return response;
    }
    let status = response.status();
    if status.is_success() {
        return response;
    }
    let (scim_type, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (None, "this endpoint does not take that method"),
        StatusCode::PAYLOAD_TOO_LARGE => (None, "the body is larger than 1 MiB"),
        StatusCode::NOT_FOUND => (None, "nothing is here"),
        s if s.is_server_error() => (None, "the service failed; try again"),
        _ => (Some(crate::scim::ScimType::InvalidSyntax), "the request is malformed"),
    };
    Failure(ScimError::new(status.as_u16(), scim_type, detail)).into_response()
}

async fn nothing_here() -> Failure {
    Failure(ScimError::not_found("SCIM endpoint"))
}

/// The domain a valid SCIM token of the named domain acts for.
struct Client(Scope);

impl FromRequestParts<AppState> for Client {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let domain = parts.uri.path().split('/').nth(3).unwrap_or_default().to_owned();
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.get(..7).filter(|s| s.eq_ignore_ascii_case("bearer ")).and(h.get(7..)))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthorized)?;
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let store = state.host.store();
        let client = store.scim_client(&hash).await.map_err(from_store)?.ok_or_else(unauthorized)?;
        let base = Base(format!("{}/scim/v2/{domain}", origin(&parts.headers)));
        Ok(Self(Scope::of(store, client, &domain, base).await?))
    }
}

/// `scheme://host` of the request, for `meta.location`: `https` when a
/// proxy in front says so.
fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p == "https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// A request body as JSON.
fn json_body(bytes: &Bytes) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| Failure(ScimError::invalid_syntax(format!("the body is not JSON: {e}"))))
}

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

/// A fetched resource: `304` when `If-None-Match` names its version, else
/// the resource (with the attributes asked for) and its `ETag`.
fn fetched(headers: &HeaderMap, request: &ListRequest, version: i64, mut json: Value) -> Response {
    if not_modified(headers, version) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.extensions_mut().insert(ScimAnswer);
        return response;
    }
    request.project(&mut json);
    let mut answer = Answer::ok(json);
    answer.headers.push((header::ETAG, etag(version)));
    answer.into_response()
}

/// `304` when `If-None-Match` names the resource's current version.
fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    let current = etag(version);
    headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|h| {
        h.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == current.trim_start_matches("W/"))
    })
}

/// A query string as a list request; a malformed one is `invalidValue`.
fn list_request(
    query: std::result::Result<Query<ListRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<ListRequest> {
    query.map(|Query(q)| q).map_err(|e| Failure(ScimError::invalid_value(format!("bad query parameters: {e}"))))
}

/// A `POST /.search` body as a list request.
fn search_request(bytes: &Bytes) -> Result<ListRequest> {
    let body = json_body(bytes)?;
    if !body.is_object() {
        return Err(Failure(ScimError::invalid_syntax("a search request must be a JSON object")));
    }
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_none_or(|s| s.iter().any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(SEARCH_REQUEST))));
    if !schemas_ok {
        return Err(Failure(ScimError::invalid_syntax(format!("a search request's schemas must be {SEARCH_REQUEST}"))));
    }
    let list = |key: &str| -> Result<Option<String>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) => {
                let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                names
                    .map(|n| Some(n.join(",")))
                    .ok_or_else(|| Failure(ScimError::invalid_value(format!("{key} must hold strings"))))
            }
            Some(_) => Err(Failure(ScimError::invalid_value(format!("{key} must be a list of strings")))),
        }
    };
    let text = |key: &str| -> Result<Option<String>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Failure(ScimError::invalid_value(format!("{key} must be a string")))),
        }
    };
    let number = |key: &str| -> Result<Option<i64>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| Failure(ScimError::invalid_value(format!("{key} must be an integer")))),
        }
    };
    Ok(ListRequest {
        filter: text("filter")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        start_index: number("startIndex")?,
        count: number("count")?,
        attributes: list("attributes")?,
        excluded_attributes: list("excludedAttributes")?,
    })
}

// Discovery: the token is required here too (a domain's SCIM service is
// its own business), and the documents are the same for every domain.

async fn service_provider_config(Client(scope): Client) -> Answer {
    Answer::ok(discovery::service_provider_config(&scope.base))
}

async fn resource_types(Client(scope): Client) -> Answer {
    Answer::ok(discovery::resource_types(&scope.base))
}

async fn resource_type(Client(scope): Client, Path((_, name)): Path<(String, String)>) -> Result<Answer> {
    Ok(Answer::ok(discovery::resource_type(&scope.base, &name)?))
}

async fn schemas(Client(scope): Client) -> Answer {
    Answer::ok(discovery::schemas(&scope.base))
}

async fn schema(Client(scope): Client, Path((_, id)): Path<(String, String)>) -> Result<Answer> {
    Ok(Answer::ok(discovery::schema(&scope.base, &id)?))
}

// Users.

async fn list_users(
    State(state): State<AppState>,
    Client(scope): Client,
    query: std::result::Result<Query<ListRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<Answer> {
    let request = list_request(query)?;
    Ok(Answer::ok(users::list(state.host.store(), &scope, &request).await?))
}

async fn search_users(State(state): State<AppState>, Client(scope): Client, body: Bytes) -> Result<Answer> {
    let request = search_request(&body)?;
    Ok(Answer::ok(users::list(state.host.store(), &scope, &request).await?))
}

async fn create_user(State(state): State<AppState>, Client(scope): Client, body: Bytes) -> Result<Answer> {
    let user = users::create(state.host.store(), &scope, &json_body(&body)?).await?;
    Ok(Answer::resource(StatusCode::CREATED, user_json(&user, &scope.base)))
}

async fn get_user(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: std::result::Result<Query<ListRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let request = list_request(query)?;
    let user = users::get(state.host.store(), &scope, &id).await?;
    Ok(fetched(&headers, &request, user.version, user_json(&user, &scope.base)))
}

async fn replace_user(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer> {
    let body = json_body(&body)?;
    let user = users::replace(state.host.store(), &scope, &id, &body, if_match(&headers)).await?;
    Ok(Answer::resource(StatusCode::OK, user_json(&user, &scope.base)))
}

async fn modify_user(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer> {
    let body = json_body(&body)?;
    let user = users::modify(state.host.store(), &scope, &id, &body, if_match(&headers)).await?;
    Ok(Answer::resource(StatusCode::OK, user_json(&user, &scope.base)))
}

async fn delete_user(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Answer> {
    users::delete(state.host.store(), &scope, &id, if_match(&headers)).await?;
    Ok(Answer::no_content())
}

// Groups.

async fn list_groups(
    State(state): State<AppState>,
    Client(scope): Client,
    query: std::result::Result<Query<ListRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<Answer> {
    let request = list_request(query)?;
    Ok(Answer::ok(groups::list(state.host.store(), &scope, &request).await?))
}

async fn search_groups(State(state): State<AppState>, Client(scope): Client, body: Bytes) -> Result<Answer> {
    let request = search_request(&body)?;
    Ok(Answer::ok(groups::list(state.host.store(), &scope, &request).await?))
}

async fn create_group(State(state): State<AppState>, Client(scope): Client, body: Bytes) -> Result<Answer> {
    let group = groups::create(state.host.store(), &scope, &json_body(&body)?).await?;
    Ok(Answer::resource(StatusCode::CREATED, group_json(&group, scope.domain.scim_group_names, &scope.base)))
}

async fn get_group(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: std::result::Result<Query<ListRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let request = list_request(query)?;
    let group = groups::get(state.host.store(), &scope, &id).await?;
    Ok(fetched(&headers, &request, group.version, group_json(&group, scope.domain.scim_group_names, &scope.base)))
}

async fn replace_group(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer> {
    let body = json_body(&body)?;
    let group = groups::replace(state.host.store(), &scope, &id, &body, if_match(&headers)).await?;
    Ok(Answer::resource(StatusCode::OK, group_json(&group, scope.domain.scim_group_names, &scope.base)))
}

async fn modify_group(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer> {
    let body = json_body(&body)?;
    let group = groups::modify(state.host.store(), &scope, &id, &body, if_match(&headers)).await?;
    Ok(Answer::resource(StatusCode::OK, group_json(&group, scope.domain.scim_group_names, &scope.base)))
}

async fn delete_group(
    State(state): State<AppState>,
    Client(scope): Client,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Answer> {
    groups::delete(state.host.store(), &scope, &id, if_match(&headers)).await?;
    Ok(Answer::no_content())
}

/// `POST /.search`: Users, then Groups, as one list; a filter naming an
/// attribute one resource type lacks matches none of that type.
async fn search_all(State(state): State<AppState>, Client(scope): Client, body: Bytes) -> Result<Answer> {
    let request = search_request(&body)?;
    Ok(Answer::ok(search::all(state.host.store(), &scope, &request).await?))
}
