//! Domains, their providers, and the plugin bindings of their providers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::org::own_team;
use super::views::{DomainView, ProviderView};
use super::{BindingPath, DomainPath, OrgPath};
use crate::http::AppState;
use crate::http::error::{ApiError, Json};
use crate::http::openapi::{AdminErrors, BodyErrors, Conflict, Unprocessable};
use crate::http::tenancy::Caller;
use crate::plugin::PluginHash;
use crate::store::{
    Binding, Canary, Domain, DomainId, FailurePolicy, NewDomain, NewProvider, OrgId, ProviderKind, Shadow, SyncMode,
};

/// The domain with this id, if it belongs to `org`; `NotFound` otherwise.
pub(crate) async fn own_domain(state: &AppState, org: &OrgId, domain: &str) -> Result<Domain, ApiError> {
    match state.host.store().domain(&DomainId::new(domain)).await? {
        Some(d) if d.org == *org => Ok(d),
        _ => Err(ApiError::NotFound),
    }
}

/// The domain's provider with this id; `NotFound` otherwise.
pub(crate) fn own_provider<'a>(domain: &'a Domain, provider: &str) -> Result<&'a crate::store::Provider, ApiError> {
    domain.providers.iter().find(|p| p.id.as_str() == provider).ok_or(ApiError::NotFound)
}

/// A domain to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DomainBody {
    /// Its unique name: what a login's `domain` says.
    name: String,
    /// Whether just-in-time provisioning of memberships is on (default on).
    #[serde(default = "yes")]
    #[schema(default = true)]
    jit: bool,
    /// A team of the organization that a new member joins when the
    /// identity provider sent no group.
    #[serde(default)]
    default_team: Option<String>,
    /// Email domains to claim. Claims are pending until verified (by the
    /// DNS challenge, or the operator's approval): only verified ones let
    /// the domain's providers vouch for addresses under them.
    #[serde(default)]
    email_domains: Vec<String>,
}

fn yes() -> bool {
    true
}

/// The organization's domains.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/domains",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    responses((status = 200, description = "Its domains.", body = Vec<DomainView>), AdminErrors),
)]
pub(crate) async fn list_domains(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<axum::Json<Vec<DomainView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domains = state.host.store().list_domains(&org).await?;
    Ok(axum::Json(domains.into_iter().map(DomainView::from).collect()))
}

/// Creates a domain (without providers: add them next).
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/domains",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = DomainBody,
    responses((status = 201, description = "Created.", body = DomainView), BodyErrors, AdminErrors, Conflict),
)]
pub(crate) async fn create_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Json(body): Json<DomainBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let default_team = match &body.default_team {
        Some(team) => Some(own_team(&state, &org, team).await?),
        None => None,
    };
    let email_domains = super::claims::claimable(&state, &body.email_domains)?;
    let new = NewDomain { org, name: body.name, jit: body.jit, default_team, email_domains };
    let domain = DomainView::from(state.host.store().create_domain(new).await?);
    Ok((StatusCode::CREATED, axum::Json(domain)))
}

/// The domain, with its providers in order.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/domains/{domain}",
    tag = "admin",
    security(("bearer" = [])),
    params(DomainPath),
    responses((status = 200, description = "The domain.", body = DomainView), AdminErrors),
)]
pub(crate) async fn get_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path(DomainPath { org, domain }): Path<DomainPath>,
) -> Result<axum::Json<DomainView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    Ok(axum::Json(own_domain(&state, &org, &domain).await?.into()))
}

/// A change to a domain: fields left out keep their value; `default_team:
/// null` removes the default team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DomainPatch {
    /// Turns just-in-time provisioning of memberships on or off.
    #[serde(default)]
    jit: Option<bool>,
    /// A team of the organization, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    default_team: Option<Option<String>>,
    /// The complete list of email domains the domain claims (replaces the
    /// current one; new claims are pending; an email domain another domain
    /// holds verified answers 409).
    #[serde(default)]
    email_domains: Option<Vec<String>>,
    /// The domain's provider ids in the order to try them (each exactly once).
    #[serde(default)]
    provider_order: Option<Vec<String>>,
    /// How its SCIM groups name teams: `team` (the default) or
    /// `organization:team` (Docker's convention).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    scim_group_names: Option<crate::store::ScimGroupNames>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes the domain's JIT switch, default team, claimed email domains,
/// provider order or SCIM group naming. Each given field is applied in turn.
#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/domains/{domain}",
    tag = "admin",
    security(("bearer" = [])),
    params(DomainPath),
    request_body = DomainPatch,
    responses((status = 200, description = "The domain as changed.", body = DomainView), BodyErrors, AdminErrors),
)]
pub(crate) async fn update_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path(DomainPath { org, domain }): Path<DomainPath>,
    Json(patch): Json<DomainPatch>,
) -> Result<axum::Json<DomainView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let current = own_domain(&state, &org, &domain).await?;
    let default_team = match patch.default_team {
        None => current.default_team.clone(),
        Some(None) => None,
        Some(Some(team)) => Some(own_team(&state, &org, &team).await?),
    };
    let jit = patch.jit.unwrap_or(current.jit);
    let store = state.host.store();
    store.update_domain(&current.id, jit, default_team.as_ref()).await?;
    if let Some(wanted) = patch.email_domains {
        let wanted = super::claims::claimable(&state, &wanted)?;
        for added in wanted.iter().filter(|d| !current.email_domains.contains(d)) {
            store.add_email_domain(&current.id, added).await?;
        }
        for removed in current.email_domains.iter().filter(|d| !wanted.contains(d)) {
            store.remove_email_domain(&current.id, removed).await?;
        }
    }
    if let Some(names) = patch.scim_group_names {
        store.set_scim_group_names(&current.id, names).await?;
    }
    if let Some(order) = patch.provider_order {
        let order: Vec<crate::store::ProviderId> = order.into_iter().map(crate::store::ProviderId::new).collect();
        store.set_provider_order(&current.id, &order).await?;
    }
    Ok(axum::Json(own_domain(&state, &org, &domain).await?.into()))
}

/// A provider to add at the end of the domain's order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderBody {
    /// Its name, unique in the domain: what a principal's `provider` says.
    name: String,
    kind: ProviderKind,
    /// Its settings: `{}` for `password`; for `oidc`, `issuer`, `audience`
    /// and the keys (`jwks` inline or `jwks_url`); for `ldap`, `urls`,
    /// `bind_dn`, `bind_password` (write-only), `base_dn` and optionally
    /// `user_filter`, `attributes`, `groups`, `disabled` (see README).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Adds a provider at the end of the domain's order; its configuration is
/// checked now.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/domains/{domain}/providers",
    tag = "admin",
    security(("bearer" = [])),
    params(DomainPath),
    request_body = ProviderBody,
    responses(
        (status = 201, description = "Added.", body = ProviderView),
        BodyErrors,
        AdminErrors,
        Conflict,
        Unprocessable,
    ),
)]
pub(crate) async fn add_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(DomainPath { org, domain }): Path<DomainPath>,
    Json(body): Json<ProviderBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    // Checked now, so that a provider that could never work is refused here
    // rather than at every login.
    check_provider(&state, body.kind, &body.config)?;
    let new = NewProvider { name: body.name, kind: body.kind, config: body.config.to_string() };
    let provider = ProviderView::from(state.host.store().add_provider(&domain.id, new).await?);
    Ok((StatusCode::CREATED, axum::Json(provider)))
}

/// Refuses a provider configuration that could never work, naming what is
/// wrong.
fn check_provider(state: &AppState, kind: ProviderKind, config: &serde_json::Value) -> Result<(), ApiError> {
    state
        .host
        .check_provider(kind, config)
        .map_err(|e| ApiError::Unprocessable(format!("invalid provider configuration: {e}")))
}

/// `/v1/orgs/{org}/domains/{domain}/providers/{provider}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ProviderPath {
    /// The organization's id.
    org: String,
    /// The domain's id.
    domain: String,
    /// The provider's id.
    provider: String,
}

/// A provider's new settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderPatch {
    /// Its settings, replacing the current ones; checked as at creation.
    #[schema(value_type = Object)]
    config: serde_json::Value,
}

/// Replaces a provider's settings; checked as at creation, effective at the
/// next login.
#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/domains/{domain}/providers/{provider}",
    tag = "admin",
    security(("bearer" = [])),
    params(ProviderPath),
    request_body = ProviderPatch,
    responses((status = 200, description = "Changed.", body = ProviderView), BodyErrors, AdminErrors, Unprocessable),
)]
pub(crate) async fn update_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(ProviderPath { org, domain, provider }): Path<ProviderPath>,
    Json(patch): Json<ProviderPatch>,
) -> Result<axum::Json<ProviderView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let mut found = domain.providers.into_iter().find(|p| p.id.as_str() == provider).ok_or(ApiError::NotFound)?;
    let config = state
        .host
        .check_provider_update(found.kind, &patch.config, &found.config)
        .map_err(|e| ApiError::Unprocessable(format!("invalid provider configuration: {e}")))?;
    found.config = config.to_string();
    state.host.store().set_provider_config(&found.id, &found.config).await?;
    Ok(axum::Json(found.into()))
}

/// Removes a provider from its domain, with its binding and the links of
/// its identities to accounts (the accounts stay; a later login through
/// another provider links again by verified email).
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/domains/{domain}/providers/{provider}",
    tag = "admin",
    security(("bearer" = [])),
    params(ProviderPath),
    responses((status = 204, description = "Removed."), AdminErrors),
)]
pub(crate) async fn remove_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(ProviderPath { org, domain, provider }): Path<ProviderPath>,
) -> Result<StatusCode, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let found = own_provider(&domain, &provider)?;
    state.host.store().remove_provider(&domain.id, &found.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A binding of a domain's provider, as the API reads and writes it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BindingBody {
    /// The identity creator's hash; none for the built-in one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    creator: Option<PluginHash>,
    /// The assignment provider's hash; none for the built-in group mapping.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    assigner: Option<PluginHash>,
    /// The plugins' configuration, a JSON object.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    config: serde_json::Value,
    /// Limit overrides, a JSON object: `wall_time` (milliseconds), `fuel`,
    /// `memory_bytes`, `output_bytes`, `log_bytes`, `host_argument_bytes`.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    limits: serde_json::Value,
    #[serde(default)]
    failure_policy: FailurePolicy,
    #[serde(default)]
    sync_mode: SyncMode,
    /// Candidate versions for a share of the logins (a stable hash of the
    /// principal's provider and subject picks who): promoted with
    /// `…/canary/promote`, dropped with `…/canary/abort` or by binding
    /// without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    canary: Option<CanaryBody>,
    /// Versions that run after each login's live decision, off its path,
    /// with the same inputs and limits: their decisions are compared with
    /// the live ones (audit outcome `plugin-shadow-agreed` or
    /// `plugin-shadow-differed`, and `/metrics`) and never take effect.
    /// Dropped by binding without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shadow: Option<ShadowBody>,
}

/// A binding's shadow versions, as the API reads and writes them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShadowBody {
    /// The shadow identity creator's hash, if any.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    creator: Option<PluginHash>,
    /// The shadow assignment provider's hash, if any.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    assigner: Option<PluginHash>,
}

/// A binding's canary, as the API reads and writes it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CanaryBody {
    /// The candidate identity creator's hash; none: the bound one runs.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    creator: Option<PluginHash>,
    /// The candidate assignment provider's hash; likewise.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    assigner: Option<PluginHash>,
    /// The share of logins it serves, in percent (1 to 100).
    percent: u8,
}

/// A binding in an answer: the provider it is for, and the binding.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BindingView {
    /// The provider's id.
    provider: String,
    #[serde(flatten)]
    binding: BindingBody,
}

impl From<Binding> for BindingView {
    fn from(b: Binding) -> Self {
        // Limits serialize to an object of numbers: never an error.
        let limits = b.limits.map_or_else(empty_object, |l| serde_json::to_value(l).unwrap_or_else(|_| empty_object()));
        BindingView {
            provider: b.provider.to_string(),
            binding: BindingBody {
                creator: b.creator,
                assigner: b.assigner,
                config: b.config.to_json(),
                limits,
                failure_policy: b.failure_policy,
                sync_mode: b.sync_mode,
                canary: b.canary.map(|c| CanaryBody { creator: c.creator, assigner: c.assigner, percent: c.percent }),
                shadow: b.shadow.map(|s| ShadowBody { creator: s.creator, assigner: s.assigner }),
            },
        }
    }
}

/// The bindings of the domain's providers.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/domains/{domain}/bindings",
    tag = "admin",
    security(("bearer" = [])),
    params(DomainPath),
    responses((status = 200, description = "Its bindings.", body = Vec<BindingView>), AdminErrors),
)]
pub(crate) async fn list_bindings(
    State(state): State<AppState>,
    caller: Caller,
    Path(DomainPath { org, domain }): Path<DomainPath>,
) -> Result<axum::Json<Vec<BindingView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let bindings = state.host.store().list_bindings(&domain.id).await?;
    Ok(axum::Json(bindings.into_iter().map(BindingView::from).collect()))
}

/// Binds (or re-binds: the rollback) plugins to a provider of the domain;
/// effective at the next login. `422 unprocessable` names what is wrong.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/domains/{domain}/bindings/{provider}",
    tag = "admin",
    security(("bearer" = [])),
    params(BindingPath),
    request_body = BindingBody,
    responses(
        (status = 200, description = "Bound; effective at the next login.", body = BindingView),
        BodyErrors,
        AdminErrors,
        Unprocessable,
    ),
)]
pub(crate) async fn put_binding(
    State(state): State<AppState>,
    caller: Caller,
    Path(BindingPath { org, domain, provider }): Path<BindingPath>,
    Json(body): Json<BindingBody>,
) -> Result<axum::Json<BindingView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let provider = own_provider(&domain, &provider)?;
    for object in [&body.config, &body.limits] {
        if !object.is_object() {
            return Err(ApiError::Unprocessable("`config` and `limits` must be JSON objects".into()));
        }
    }
    let (config, limits) = crate::engine::binding_settings(&body.config, &body.limits)?;
    let binding = Binding {
        domain: domain.id.clone(),
        provider: provider.id.clone(),
        creator: body.creator,
        assigner: body.assigner,
        config,
        limits,
        failure_policy: body.failure_policy,
        sync_mode: body.sync_mode,
        canary: body.canary.map(|c| Canary { creator: c.creator, assigner: c.assigner, percent: c.percent }),
        // A shadow naming neither hook is none.
        shadow: body
            .shadow
            .filter(|s| s.creator.is_some() || s.assigner.is_some())
            .map(|s| Shadow { creator: s.creator, assigner: s.assigner }),
    };
    state.host.bind(&binding).await?;
    Ok(axum::Json(BindingView::from(binding)))
}

/// `/v1/orgs/{org}/domains/{domain}/bindings/{provider}/canary/{action}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct CanaryPath {
    /// The organization's id.
    org: String,
    /// The domain's id.
    domain: String,
    /// The id of one of the domain's providers.
    provider: String,
    /// `promote` (the canary's versions become the bound ones) or `abort`
    /// (the canary is dropped).
    action: String,
}

/// Promotes or aborts a binding's canary, effective at the next login and
/// audited as a binding change. `422` when the binding has no canary.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/domains/{domain}/bindings/{provider}/canary/{action}",
    tag = "admin",
    security(("bearer" = [])),
    params(CanaryPath),
    responses(
        (status = 200, description = "The binding as it now is.", body = BindingView),
        AdminErrors,
        Unprocessable,
    ),
)]
pub(crate) async fn change_canary(
    State(state): State<AppState>,
    caller: Caller,
    Path(CanaryPath { org, domain, provider, action }): Path<CanaryPath>,
) -> Result<axum::Json<BindingView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let provider = own_provider(&domain, &provider)?;
    let binding = match action.as_str() {
        "promote" => state.host.promote_canary(&domain.id, &provider.id).await?,
        "abort" => state.host.abort_canary(&domain.id, &provider.id).await?,
        _ => return Err(ApiError::NotFound),
    };
    Ok(axum::Json(BindingView::from(binding)))
}
