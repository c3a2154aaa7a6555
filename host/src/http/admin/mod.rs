//! The admin API: organizations (operator), and under `/v1/orgs/{org}/`
//! everything an organization owns. Every handler first checks the caller
//! may act on the organization in the path ([`Caller::org`]), then that each
//! object the request names belongs to that organization; anything else
//! answers `404 not-found`.
//!
//! [`Caller::org`]: super::Caller::org

mod domains;
mod org;
mod plugins;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use super::AppState;

pub(super) fn routes(plugin_body_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/v1/organizations", post(org::create_organization).get(org::list_organizations))
        .route("/v1/orgs/{org}", get(org::get_organization))
        .route("/v1/orgs/{org}/teams", get(org::list_teams).post(org::create_team))
        .route("/v1/orgs/{org}/roles", get(org::list_roles).post(org::create_role))
        .route("/v1/orgs/{org}/invitations", get(org::list_invitations).post(org::create_invitation))
        .route("/v1/orgs/{org}/accounts", get(org::list_accounts))
        .route("/v1/orgs/{org}/accounts/{account}/lock", post(org::lock_account))
        .route("/v1/orgs/{org}/accounts/{account}/unlock", post(org::unlock_account))
        .route("/v1/orgs/{org}/domains", get(domains::list_domains).post(domains::create_domain))
        .route("/v1/orgs/{org}/domains/{domain}", get(domains::get_domain).patch(domains::update_domain))
        .route("/v1/orgs/{org}/domains/{domain}/providers", post(domains::add_provider))
        .route("/v1/orgs/{org}/domains/{domain}/bindings", get(domains::list_bindings))
        .route("/v1/orgs/{org}/domains/{domain}/bindings/{provider}", put(domains::put_binding))
        .route("/v1/orgs/{org}/audit", get(plugins::list_audit))
        .route("/v1/orgs/{org}/plugins", get(plugins::list_plugins))
        .route("/v1/orgs/{org}/plugins", post(plugins::upload_plugin).layer(DefaultBodyLimit::max(plugin_body_limit)))
}
