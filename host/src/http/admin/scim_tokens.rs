//! A domain's SCIM tokens: issue another (shown once), list, revoke. What
//! a domain's identity provider authenticates its SCIM requests with; only
//! its SHA-256 is kept, as for API tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::DomainPath;
use super::domains::own_domain;
use super::views::ScimTokenView;
use crate::http::AppState;
use crate::http::error::{ApiError, Json};
use crate::http::openapi::{AdminErrors, BodyErrors};
use crate::http::tenancy::{Caller, new_token_with_prefix};

/// The start of every SCIM token.
pub(crate) const SCIM_TOKEN_PREFIX: &str = "pvs_";

/// `{ "name": … }`: what the new token is for (e.g. `okta`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScimTokenBody {
    name: String,
}

/// A new SCIM token, shown only this once, and its record.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssuedScimToken {
    token: ScimTokenView,
    /// The token (`pvs_…`) to give the identity provider; only its hash is
    /// kept.
    scim_token: String,
}

/// Issues a SCIM token for the domain: its identity provider's credential
/// for `/scim/v2/{domain}`.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/domains/{domain}/scim-tokens",
    tag = "admin",
    security(("bearer" = [])),
    params(DomainPath),
    request_body = ScimTokenBody,
    responses(
        (status = 201, description = "Issued; the token is shown only this once.", body = IssuedScimToken),
        BodyErrors,
        AdminErrors,
    ),
)]
pub(crate) async fn issue_scim_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(DomainPath { org, domain }): Path<DomainPath>,
    Json(body): Json<ScimTokenBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let new = new_token_with_prefix(SCIM_TOKEN_PREFIX);
    let record = state.host.store().create_scim_token(&domain.id, &body.name, &new.hash).await?;
    let view = IssuedScimToken { token: record.into(), scim_token: new.token.expose().to_owned() };
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// The domain's SCIM tokens, revoked ones included.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/domains/{domain}/scim-tokens",
    tag = "admin",
    security(("bearer" = [])),
    params(DomainPath),
    responses((status = 200, description = "Its SCIM tokens.", body = Vec<ScimTokenView>), AdminErrors),
)]
pub(crate) async fn list_scim_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(DomainPath { org, domain }): Path<DomainPath>,
) -> Result<axum::Json<Vec<ScimTokenView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let tokens = state.host.store().list_scim_tokens(&domain.id).await?;
    Ok(axum::Json(tokens.into_iter().map(ScimTokenView::from).collect()))
}

/// Revokes one of the domain's SCIM tokens: it stops authenticating at once.
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/domains/{domain}/scim-tokens/{token}",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("org" = String, Path, description = "The organization's id."),
        ("domain" = String, Path, description = "The domain's id."),
        ("token" = String, Path, description = "The SCIM token's public id."),
    ),
    responses((status = 204, description = "Revoked."), AdminErrors),
)]
pub(crate) async fn revoke_scim_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, domain, id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    state.host.store().revoke_scim_token(&domain.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
