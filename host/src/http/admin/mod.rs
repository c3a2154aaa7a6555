//! The admin API: organizations (operator), and under `/v1/orgs/{org}/`
//! everything an organization owns. Every handler first checks the caller
//! may act on the organization in the path ([`Caller::org`]), then that each
//! object the request names belongs to that organization; anything else
//! answers `404 not-found`.
//!
//! [`Caller::org`]: super::Caller::org

mod claims;
mod domains;
mod org;
mod playground;
mod plugins;
mod replay;
mod scim_tokens;
mod tokens;
mod views;

pub(crate) use views::InvitationView;

use axum::extract::DefaultBodyLimit;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt as _};
use utoipa_axum::routes;

use super::AppState;

pub(super) fn routes(plugin_body_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(org::create_organization, org::list_organizations))
        .routes(routes!(org::get_organization))
        .routes(routes!(org::list_teams, org::create_team))
        .routes(routes!(org::list_roles, org::create_role))
        .routes(routes!(org::list_invitations, org::create_invitation))
        .routes(routes!(org::revoke_invitation))
        .routes(routes!(org::list_accounts))
        .routes(routes!(org::lock_account))
        .routes(routes!(org::unlock_account))
        .routes(routes!(domains::list_domains, domains::create_domain))
        .routes(routes!(domains::get_domain, domains::update_domain))
        .routes(routes!(domains::add_provider))
        .routes(routes!(domains::update_provider, domains::remove_provider))
        .routes(routes!(claims::list_claims))
        .routes(routes!(claims::approve_claim))
        .routes(routes!(claims::verify_claim))
        .routes(routes!(org::lock_platform_account))
        .routes(routes!(org::unlock_platform_account))
        .routes(routes!(domains::list_bindings))
        .routes(routes!(domains::put_binding))
        .routes(routes!(domains::change_canary))
        .routes(routes!(tokens::list_tokens, tokens::issue_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(scim_tokens::list_scim_tokens, scim_tokens::issue_scim_token))
        .routes(routes!(scim_tokens::revoke_scim_token))
        .routes(routes!(plugins::list_audit))
        .routes(routes!(plugins::list_plugins))
        .routes(routes!(plugins::upload_plugin).layer(DefaultBodyLimit::max(plugin_body_limit)))
        .routes(routes!(replay::replay))
        // A component travels in base64 (4 bytes per 3), beside a principal.
        .routes(
            routes!(playground::run_playground)
                .layer(DefaultBodyLimit::max(plugin_body_limit / 3 * 4 + PLAYGROUND_EXTRA_BYTES)),
        )
}

/// What a playground request may hold besides its component.
const PLAYGROUND_EXTRA_BYTES: usize = 1 << 20;

/// `/v1/orgs/{org}/…`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct OrgPath {
    /// The organization's id.
    pub(crate) org: String,
}

/// `/v1/orgs/{org}/accounts/{account}/…`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AccountPath {
    /// The organization's id.
    pub(crate) org: String,
    /// The account's id (a member of the organization).
    pub(crate) account: String,
}

/// `/v1/orgs/{org}/domains/{domain}/…`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DomainPath {
    /// The organization's id.
    pub(crate) org: String,
    /// The domain's id.
    pub(crate) domain: String,
}

/// `/v1/orgs/{org}/domains/{domain}/bindings/{provider}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct BindingPath {
    /// The organization's id.
    pub(crate) org: String,
    /// The domain's id.
    pub(crate) domain: String,
    /// The id of one of the domain's providers.
    pub(crate) provider: String,
}
