//! Organizations, teams, roles, invitations and accounts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use crate::http::AppState;
use crate::http::error::{ApiError, Json, Query};
use crate::http::login::AccountView;
use crate::http::tenancy::Caller;
use crate::store::{Account, AccountId, AccountState, Invitation, OrgId, Organization, Role, Team, TeamId};

/// `{ "name": … }`: what creating an organization, team or role needs.
#[derive(Debug, Deserialize)]
pub(crate) struct NameBody {
    name: String,
}

/// A new organization and its first API token, shown only this once.
#[derive(Debug, Serialize)]
pub(crate) struct CreatedOrganization {
    organization: Organization,
    api_token: String,
}

pub(crate) async fn create_organization(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NameBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.operator()?;
    let organization = state.host.store().create_organization(&body.name).await?;
    let api_token = state.issue_api_token(&organization.id).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedOrganization { organization, api_token })))
}

pub(crate) async fn list_organizations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<Organization>>, ApiError> {
    caller.operator()?;
    Ok(axum::Json(state.host.store().list_organizations().await?))
}

pub(crate) async fn get_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<axum::Json<Organization>, ApiError> {
    let org = caller.org(&state, &org).await?;
    state.host.store().organization(&org).await?.map(axum::Json).ok_or(ApiError::NotFound)
}

pub(crate) async fn list_teams(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<axum::Json<Vec<Team>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(state.host.store().list_teams(&org).await?))
}

pub(crate) async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Json(body): Json<NameBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok((StatusCode::CREATED, axum::Json(state.host.store().create_team(&org, &body.name).await?)))
}

pub(crate) async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<axum::Json<Vec<Role>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(state.host.store().list_roles(&org).await?))
}

pub(crate) async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Json(body): Json<NameBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok((StatusCode::CREATED, axum::Json(state.host.store().create_role(&org, &body.name).await?)))
}

/// Checks that `team` is a team of `org`; `NotFound` otherwise.
pub(crate) async fn own_team(state: &AppState, org: &OrgId, team: &str) -> Result<TeamId, ApiError> {
    let teams = state.host.store().list_teams(org).await?;
    teams.into_iter().find(|t| t.id.as_str() == team).map(|t| t.id).ok_or(ApiError::NotFound)
}

/// An invitation to make.
#[derive(Debug, Deserialize)]
pub(crate) struct InvitationBody {
    email: String,
    #[serde(default)]
    team: Option<String>,
}

pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<axum::Json<Vec<Invitation>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(state.host.store().list_invitations(&org).await?))
}

pub(crate) async fn create_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Json(body): Json<InvitationBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let team = match &body.team {
        Some(team) => Some(own_team(&state, &org, team).await?),
        None => None,
    };
    let invitation = state.host.store().create_invitation(&org, &body.email, team.as_ref()).await?;
    Ok((StatusCode::CREATED, axum::Json(invitation)))
}

/// An account as the admin API shows it (never its password hash).
#[derive(Debug, Serialize)]
pub(crate) struct AdminAccount {
    #[serde(flatten)]
    account: AccountView,
    state: AccountState,
    created_at: i64,
}

impl From<Account> for AdminAccount {
    fn from(a: Account) -> Self {
        Self {
            state: a.state,
            created_at: a.created_at,
            account: AccountView {
                id: a.id.to_string(),
                email: a.email,
                username: a.username,
                given_name: a.given_name,
                family_name: a.family_name,
            },
        }
    }
}

/// A page of accounts: `after` is the last email of the previous page.
#[derive(Debug, Deserialize)]
pub(crate) struct AccountPage {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Query(page): Query<AccountPage>,
) -> Result<axum::Json<Vec<AdminAccount>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let limit = page.limit.unwrap_or(100);
    let accounts = state.host.store().list_accounts(Some(&org), page.after.as_deref(), limit).await?;
    Ok(axum::Json(accounts.into_iter().map(AdminAccount::from).collect()))
}

pub(crate) async fn lock_account(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, account)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_state(&state, &caller, &org, &account, AccountState::Locked).await
}

pub(crate) async fn unlock_account(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, account)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_state(&state, &caller, &org, &account, AccountState::Active).await
}

/// Accounts are platform-wide: an organization may lock or unlock only its
/// members, and a lock holds for every organization the account is in.
async fn set_state(
    state: &AppState,
    caller: &Caller,
    org: &str,
    account: &str,
    to: AccountState,
) -> Result<StatusCode, ApiError> {
    let org = caller.org(state, org).await?;
    let account = AccountId::new(account);
    if state.host.store().memberships(&account, Some(&org)).await?.is_empty() {
        return Err(ApiError::NotFound);
    }
    let current = state.host.store().account(&account).await?.ok_or(ApiError::NotFound)?;
    if current.state == AccountState::Disabled {
        return Err(ApiError::Unprocessable("the account is disabled, not locked".into()));
    }
    state.host.store().set_account_state(&account, to).await?;
    Ok(StatusCode::NO_CONTENT)
}
