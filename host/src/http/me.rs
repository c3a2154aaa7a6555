//! What a signed-in person does for themself, with their session token:
//! see the invitations other organizations sent to their email, and accept
//! one.
//!
//! A login accepts its own organization's invitations by itself. An
//! invitation from another organization is never accepted behind the
//! person's back (that would show their account to an organization they
//! never chose): they accept it here, signed in through the domain that
//! vouches for their email, and become a member of the inviting
//! organization (and of the invitation's team).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::admin::InvitationView;
use super::error::ApiError;
use super::openapi::AdminErrors;
use crate::store::{Account, AccountId, AccountState, InvitationId};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(my_invitations)).routes(routes!(accept_invitation))
}

/// The account of a valid session token, when it is active.
pub(crate) struct Me(Account);

impl FromRequestParts<AppState> for Me {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthorized)?;
        let (scheme, token) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthorized);
        }
        let claims = state.signer().verify(token.trim()).ok_or(ApiError::Unauthorized)?;
        let account = state.host().store().account(&AccountId::new(claims.sub)).await?;
        match account {
            Some(a) if a.state == AccountState::Active => Ok(Self(a)),
            Some(_) => Err(ApiError::Forbidden),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// The pending invitations of the signed-in person's email, from every
/// organization.
#[utoipa::path(
    get,
    path = "/v1/me/invitations",
    tag = "login",
    security(("bearer" = [])),
    responses((status = 200, description = "Pending invitations.", body = Vec<InvitationView>), AdminErrors),
)]
pub(crate) async fn my_invitations(
    State(state): State<AppState>,
    Me(account): Me,
) -> Result<axum::Json<Vec<InvitationView>>, ApiError> {
    let invitations = state.host().store().invitations_for(&account.email).await?;
    Ok(axum::Json(invitations.into_iter().map(InvitationView::from).collect()))
}

/// `/v1/me/invitations/{invitation}/accept`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct InvitationPath {
    /// The invitation's id.
    invitation: String,
}

/// Accepts an invitation to the signed-in person's email: they become a
/// member of the inviting organization (and of its team). Someone else's
/// invitation answers `404`.
#[utoipa::path(
    post,
    path = "/v1/me/invitations/{invitation}/accept",
    tag = "login",
    security(("bearer" = [])),
    params(InvitationPath),
    responses((status = 200, description = "Accepted.", body = InvitationView), AdminErrors),
)]
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    Me(account): Me,
    Path(InvitationPath { invitation }): Path<InvitationPath>,
) -> Result<axum::Json<InvitationView>, ApiError> {
    let accepted = state.host().store().accept_invitation(&InvitationId::new(invitation), &account).await?;
    Ok(axum::Json(accepted.into()))
}
