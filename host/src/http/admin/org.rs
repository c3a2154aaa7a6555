//! Organizations, teams, roles, invitations and accounts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::{InvitationView, OrganizationView, RoleView, TeamView};
use super::{AccountPath, OrgPath};
use crate::http::AppState;
use crate::http::error::{ApiError, Json, Query};
use crate::http::login::AccountView;
use crate::http::openapi::{AdminErrors, BodyErrors, Conflict, OperatorErrors, QueryError, Unprocessable};
use crate::http::tenancy::Caller;
use crate::store::{Account, AccountId, AccountState, OrgId, TeamId};

/// `{ "name": … }`: what creating an organization, team or role needs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameBody {
    /// The name, unique among its kind (organizations platform-wide, teams
    /// and roles in their organization).
    name: String,
}

/// The name of the API token an organization is created with.
const FIRST_TOKEN: &str = "initial";

/// A new organization and its first API token, shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedOrganization {
    organization: OrganizationView,
    /// The organization's first API token (`pvo_…`); only its hash is kept.
    api_token: String,
}

/// Creates an organization and its first API token.
#[utoipa::path(
    post,
    path = "/v1/organizations",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NameBody,
    responses(
        (status = 201, description = "Created; the token is shown only this once.", body = CreatedOrganization),
        BodyErrors,
        OperatorErrors,
        Conflict,
    ),
)]
pub(crate) async fn create_organization(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NameBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.operator()?;
    let organization = state.host.store().create_organization(&body.name).await?;
    let api_token = state.issue_api_token(&organization.id, FIRST_TOKEN).await?.token.expose().to_owned();
    let organization = organization.into();
    Ok((StatusCode::CREATED, axum::Json(CreatedOrganization { organization, api_token })))
}

/// Lists every organization.
#[utoipa::path(
    get,
    path = "/v1/organizations",
    tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, description = "Every organization.", body = Vec<OrganizationView>), OperatorErrors),
)]
pub(crate) async fn list_organizations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<OrganizationView>>, ApiError> {
    caller.operator()?;
    Ok(axum::Json(views(state.host.store().list_organizations().await?)))
}

/// The organization.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    responses((status = 200, description = "The organization.", body = OrganizationView), AdminErrors),
)]
pub(crate) async fn get_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<axum::Json<OrganizationView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let organization = state.host.store().organization(&org).await?.ok_or(ApiError::NotFound)?;
    Ok(axum::Json(organization.into()))
}

/// The organization's teams.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/teams",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    responses((status = 200, description = "Its teams.", body = Vec<TeamView>), AdminErrors),
)]
pub(crate) async fn list_teams(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<axum::Json<Vec<TeamView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(views(state.host.store().list_teams(&org).await?)))
}

/// Creates a team.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/teams",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = NameBody,
    responses((status = 201, description = "Created.", body = TeamView), BodyErrors, AdminErrors, Conflict),
)]
pub(crate) async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Json(body): Json<NameBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let team = TeamView::from(state.host.store().create_team(&org, &body.name).await?);
    Ok((StatusCode::CREATED, axum::Json(team)))
}

/// The organization's roles.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/roles",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    responses((status = 200, description = "Its roles.", body = Vec<RoleView>), AdminErrors),
)]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<axum::Json<Vec<RoleView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(views(state.host.store().list_roles(&org).await?)))
}

/// Creates a role.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/roles",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = NameBody,
    responses((status = 201, description = "Created.", body = RoleView), BodyErrors, AdminErrors, Conflict),
)]
pub(crate) async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Json(body): Json<NameBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let role = RoleView::from(state.host.store().create_role(&org, &body.name).await?);
    Ok((StatusCode::CREATED, axum::Json(role)))
}

/// Checks that `team` is a team of `org`; `NotFound` otherwise.
pub(crate) async fn own_team(state: &AppState, org: &OrgId, team: &str) -> Result<TeamId, ApiError> {
    let teams = state.host.store().list_teams(org).await?;
    teams.into_iter().find(|t| t.id.as_str() == team).map(|t| t.id).ok_or(ApiError::NotFound)
}

/// An invitation to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvitationBody {
    /// The invited email; the invitation is accepted at its first login.
    email: String,
    /// A team of the organization the invitee joins.
    #[serde(default)]
    team: Option<String>,
}

/// The organization's invitations.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/invitations",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    responses((status = 200, description = "Its invitations.", body = Vec<InvitationView>), AdminErrors),
)]
pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<axum::Json<Vec<InvitationView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(views(state.host.store().list_invitations(&org).await?)))
}

/// `/v1/orgs/{org}/invitations/{invitation}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct InvitationPath {
    /// The organization's id.
    org: String,
    /// The invitation's id.
    invitation: String,
}

/// Revokes a pending invitation of the organization: it can no longer be
/// accepted. Another organization's invitation, or one no longer pending,
/// is `404`.
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/invitations/{invitation}",
    tag = "admin",
    security(("bearer" = [])),
    params(InvitationPath),
    responses((status = 204, description = "Revoked."), AdminErrors),
)]
pub(crate) async fn revoke_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path(InvitationPath { org, invitation }): Path<InvitationPath>,
) -> Result<StatusCode, ApiError> {
    let org = caller.org(&state, &org).await?;
    let store = state.host.store();
    let pending = store
        .list_invitations(&org)
        .await?
        .into_iter()
        .find(|i| i.id.as_str() == invitation && i.state == crate::store::InvitationState::Pending);
    let invitation = pending.ok_or(ApiError::NotFound)?;
    store.revoke_invitation(&invitation.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invites an email address to the organization, optionally into a team.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/invitations",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = InvitationBody,
    responses((status = 201, description = "Created.", body = InvitationView), BodyErrors, AdminErrors, Conflict),
)]
pub(crate) async fn create_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Json(body): Json<InvitationBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let team = match &body.team {
        Some(team) => Some(own_team(&state, &org, team).await?),
        None => None,
    };
    let invitation = state.host.store().create_invitation(&org, &body.email, team.as_ref()).await?;
    Ok((StatusCode::CREATED, axum::Json(InvitationView::from(invitation))))
}

/// An account as the admin API shows it (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminAccount {
    #[serde(flatten)]
    account: AccountView,
    state: AccountState,
    /// Whether this organization has suspended the account (its lock here).
    suspended: bool,
    /// When it was created, unix milliseconds.
    created_at: i64,
}

impl From<Account> for AdminAccount {
    fn from(a: Account) -> Self {
        Self {
            state: a.state,
            suspended: false,
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

/// A page of accounts, ordered by email.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccountPage {
    /// The last email of the previous page.
    #[serde(default)]
    after: Option<String>,
    /// At most this many (default 100).
    #[serde(default)]
    limit: Option<u32>,
}

/// The organization's members' accounts, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/accounts",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath, AccountPage),
    responses((status = 200, description = "A page of accounts.", body = Vec<AdminAccount>), QueryError, AdminErrors),
)]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Query(page): Query<AccountPage>,
) -> Result<axum::Json<Vec<AdminAccount>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let limit = page.limit.unwrap_or(100);
    let store = state.host.store();
    let accounts = store.list_accounts(Some(&org), page.after.as_deref(), limit).await?;
    let mut views = Vec::with_capacity(accounts.len());
    for account in accounts {
        let suspended = store.is_suspended(&org, &account.id).await?;
        views.push(AdminAccount { suspended, ..AdminAccount::from(account) });
    }
    Ok(axum::Json(views))
}

/// Suspends a member in the organization: logins through the
/// organization's domains are refused (`account-suspended`) and its session
/// tokens stop working there, until unlocked. The account, its memberships
/// and its standing in other organizations are untouched: locking the
/// platform-wide account is the operator's (`POST /v1/accounts/{account}/lock`).
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/accounts/{account}/lock",
    tag = "admin",
    security(("bearer" = [])),
    params(AccountPath),
    responses((status = 204, description = "Suspended in the organization."), AdminErrors),
)]
pub(crate) async fn lock_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(AccountPath { org, account }): Path<AccountPath>,
) -> Result<StatusCode, ApiError> {
    let (org, account) = member(&state, &caller, &org, &account).await?;
    state.host.store().suspend(&org, &account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts the organization's suspension of a member.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/accounts/{account}/unlock",
    tag = "admin",
    security(("bearer" = [])),
    params(AccountPath),
    responses((status = 204, description = "No longer suspended."), AdminErrors),
)]
pub(crate) async fn unlock_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(AccountPath { org, account }): Path<AccountPath>,
) -> Result<StatusCode, ApiError> {
    let (org, account) = member(&state, &caller, &org, &account).await?;
    state.host.store().reinstate(&org, &account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization in the path and one of its members; anything else is
/// `NotFound`.
async fn member(state: &AppState, caller: &Caller, org: &str, account: &str) -> Result<(OrgId, AccountId), ApiError> {
    let org = caller.org(state, org).await?;
    let account = AccountId::new(account);
    if state.host.store().memberships(&account, Some(&org)).await?.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok((org, account))
}

/// `/v1/accounts/{account}/…`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PlatformAccountPath {
    /// The account's id.
    account: String,
}

/// The operator locks an account platform-wide: its logins are refused in
/// every organization (`account-locked`) until unlocked.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account}/lock",
    tag = "admin",
    security(("bearer" = [])),
    params(PlatformAccountPath),
    responses((status = 204, description = "Locked."), OperatorErrors, Unprocessable),
)]
pub(crate) async fn lock_platform_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(PlatformAccountPath { account }): Path<PlatformAccountPath>,
) -> Result<StatusCode, ApiError> {
    set_state(&state, &caller, &account, AccountState::Locked).await
}

/// The operator unlocks an account platform-wide.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account}/unlock",
    tag = "admin",
    security(("bearer" = [])),
    params(PlatformAccountPath),
    responses((status = 204, description = "Unlocked."), OperatorErrors, Unprocessable),
)]
pub(crate) async fn unlock_platform_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(PlatformAccountPath { account }): Path<PlatformAccountPath>,
) -> Result<StatusCode, ApiError> {
    set_state(&state, &caller, &account, AccountState::Active).await
}

/// The platform-wide account state is the operator's alone.
async fn set_state(state: &AppState, caller: &Caller, account: &str, to: AccountState) -> Result<StatusCode, ApiError> {
    caller.operator()?;
    let account = AccountId::new(account);
    let current = state.host.store().account(&account).await?.ok_or(ApiError::NotFound)?;
    if current.state == AccountState::Disabled {
        return Err(ApiError::Unprocessable("the account is disabled, not locked".into()));
    }
    state.host.store().set_account_state(&account, to).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records as their views.
fn views<R, V: From<R>>(records: Vec<R>) -> Vec<V> {
    records.into_iter().map(V::from).collect()
}
