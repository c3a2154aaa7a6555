//! An organization's API tokens: issue another (shown once), list, revoke.
//! Tokens are named by their public id, the start of their SHA-256; the
//! token itself is never shown again nor kept.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::OrgPath;
use super::views::TokenView;
use crate::http::AppState;
use crate::http::error::{ApiError, Json};
use crate::http::openapi::{AdminErrors, BodyErrors};
use crate::http::tenancy::Caller;

/// `{ "name": … }`: what the new token is for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    name: String,
}

/// A new API token, shown only this once, and its record.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssuedToken {
    token: TokenView,
    /// The token (`pvo_…`); only its hash is kept.
    api_token: String,
}

/// Issues another API token for the organization.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/tokens",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = TokenBody,
    responses(
        (status = 201, description = "Issued; the token is shown only this once.", body = IssuedToken),
        BodyErrors,
        AdminErrors,
    ),
)]
pub(crate) async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Json(body): Json<TokenBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let issued = state.issue_api_token(&org, &body.name).await?;
    let view = IssuedToken { token: issued.record.into(), api_token: issued.token.expose().to_owned() };
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// The organization's API tokens, revoked ones included.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/tokens",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    responses((status = 200, description = "Its tokens.", body = Vec<TokenView>), AdminErrors),
)]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<axum::Json<Vec<TokenView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(state.tokens.list(&org).await?.into_iter().map(TokenView::from).collect()))
}

/// Revokes one of the organization's tokens (the caller's own included):
/// it stops authenticating at once. Revoking it again changes nothing.
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/tokens/{token}",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("org" = String, Path, description = "The organization's id."),
        ("token" = String, Path, description = "The token's public id."),
    ),
    responses((status = 204, description = "Revoked."), AdminErrors),
)]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let org = caller.org(&state, &org).await?;
    state.tokens.revoke(&org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
