//! The service's own routes: liveness, readiness, metrics, the session
//! token keys, and the OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use jsonwebtoken::jwk::Jwk;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use crate::store::OrgId;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(jwks))
        .routes(routes!(openapi))
}

/// `{ "status": … }`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok` for liveness, `ready` for readiness.
    pub status: String,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "Alive.", body = Status)),
)]
async fn healthz() -> axum::Json<Status> {
    axum::Json(Status { status: "ok".into() })
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    responses(
        (status = 200, description = "Ready.", body = Status),
        (status = 503, description = "`unavailable`: the database does not answer.", body = super::error::ErrorBody),
    ),
)]
async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Status>, ApiError> {
    match state.host.store().organization(&OrgId::new("")).await {
        Ok(_) => Ok(axum::Json(Status { status: "ready".into() })),
        Err(_) => Err(ApiError::Unavailable),
    }
}

/// Metrics in the OpenMetrics text format: logins by outcome and duration,
/// plugin call durations, plugin failures by kind, limit hits by limit,
/// audit write failures, responses by status class, and the plugin and
/// artifact caches (see `metrics.rs` for the names).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses((status = 200, description = "The OpenMetrics text format.", body = String, content_type = "application/openmetrics-text")),
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], state.metrics.render())
}

/// A JSON Web Key Set (RFC 7517).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    /// The Ed25519 public keys (`kty` `OKP`, `crv` `Ed25519`, `alg` `EdDSA`),
    /// each named by its `kid`.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<Jwk>,
}

/// The public keys that verify session tokens, for gateways to verify them
/// offline.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "login",
    responses((status = 200, description = "The key set.", body = Jwks)),
)]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let keys = state.signer.jwks().keys.clone();
    ([(header::CACHE_CONTROL, "public, max-age=300")], axum::Json(Jwks { keys }))
}

/// The document the router was built with, in the request's extensions.
#[derive(Clone)]
pub(super) struct Document(pub(super) Arc<utoipa::openapi::OpenApi>);

/// This document: the OpenAPI description of every route.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "An OpenAPI 3.1 document.", body = Object)),
)]
async fn openapi(
    axum::Extension(Document(document)): axum::Extension<Document>,
) -> Result<impl IntoResponse, ApiError> {
    let json = document.to_json().map_err(|e| ApiError::Internal(format!("OpenAPI document: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json))
}
