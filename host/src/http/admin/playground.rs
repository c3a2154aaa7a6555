//! The playground: runs a plugin on a principal and answers what it
//! decided, how a login would judge that, and what each call cost, without
//! writing anything (`Host::try_plugin`).

use axum::extract::{Path, State};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::OrgPath;
use super::domains::{own_domain, own_provider};
use crate::engine::{PlaygroundRun, TrialPlugin};
use crate::http::AppState;
use crate::http::error::{ApiError, Json};
use crate::http::openapi::{AdminErrors, BodyErrors, Unprocessable};
use crate::http::tenancy::Caller;
use crate::plugin::{BindingConfig, Limits, PluginHash, Principal};
use crate::runtime::Hooks;

/// What to run, and on what.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaygroundBody {
    /// A version the organization uploaded, by hash. Exactly one of
    /// `plugin` and `component`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    plugin: Option<PluginHash>,
    /// A component's bytes in base64, checked and compiled as an upload
    /// would be, and not stored.
    #[serde(default)]
    component: Option<String>,
    /// The principal, as `examples/principals/*.json` and each login's audit
    /// event (`detail.principal`) write it.
    #[schema(value_type = Object)]
    principal: Principal,
    /// Use this binding's configuration and limits where the request gives none.
    #[serde(default)]
    binding: Option<BindingRef>,
    /// The configuration, a JSON object; else the binding's, else none.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
    /// Limits as a binding writes them; else the binding's, else the
    /// defaults. Above the operator's ceilings is refused.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    limits: Option<Limits>,
    /// `create`, `assign` or `both` (the default): what the plugin exports,
    /// the creator first.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    hooks: Hooks,
    /// Makes random numbers and clocks deterministic.
    #[serde(default)]
    seed: Option<u64>,
}

/// A binding, by its domain and provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BindingRef {
    /// The domain's id.
    domain: String,
    /// The provider's id.
    provider: String,
}

/// What the run found. Every string in it came from the plugin or the
/// principal: a page shows it escaped.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaygroundAnswer {
    /// The limits each call ran under.
    #[schema(value_type = Object)]
    limits: Limits,
    /// The plugin, as `plugin check` reports it.
    #[schema(value_type = Object)]
    plugin: crate::runtime::PluginInfo,
    /// The identity creator's call: `decision` or `failure` (a trap with its
    /// `backtrace`, a limit, an error), `stats` (`duration_us`, `fuel_used`,
    /// `peak_memory_bytes`, `logs`), and `judged.refused`, the rule a login
    /// would refuse the decision under.
    #[schema(value_type = Option<Object>)]
    create: Option<Value>,
    /// The assignment provider's call, alike.
    #[schema(value_type = Option<Object>)]
    assign: Option<Value>,
}

/// Runs a plugin version (or a component that is not stored) on a
/// principal, with a binding's or the request's configuration and limits,
/// in the organization's own plugin-call slots. Writes nothing: no account,
/// no membership, no audit event, no plugin version.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/playground",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = PlaygroundBody,
    responses(
        (status = 200, description = "What the plugin decided and what it cost.", body = PlaygroundAnswer),
        BodyErrors,
        AdminErrors,
        Unprocessable,
    ),
)]
pub(crate) async fn run_playground(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Json(body): Json<PlaygroundBody>,
) -> Result<axum::Json<PlaygroundAnswer>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let plugin = match (body.plugin, body.component) {
        (Some(hash), None) => TrialPlugin::Stored(hash),
        (None, Some(text)) => TrialPlugin::Component(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| ApiError::BadRequest(format!("`component` is not base64: {e}")))?,
        ),
        _ => return Err(ApiError::BadRequest("give exactly one of `plugin` and `component`".into())),
    };
    let binding = match &body.binding {
        None => None,
        Some(BindingRef { domain, provider }) => {
            let domain = own_domain(&state, &org, domain).await?;
            let provider = own_provider(&domain, provider)?;
            Some((domain.id.clone(), provider.id.clone()))
        }
    };
    let config = match &body.config {
        None => None,
        Some(value) => Some(
            BindingConfig::from_json(value)
                .map_err(|e| ApiError::Unprocessable(format!("invalid configuration: {e}")))?,
        ),
    };
    let run = PlaygroundRun {
        plugin,
        principal: body.principal,
        binding,
        config,
        limits: body.limits,
        hooks: body.hooks,
        seed: body.seed,
    };
    let found = state.host.try_plugin(&org, run).await?;
    // Plain data always serializes.
    Ok(axum::Json(PlaygroundAnswer {
        limits: found.limits,
        create: found.report.create.as_ref().map(|c| serde_json::to_value(c).unwrap_or_default()),
        assign: found.report.assign.as_ref().map(|a| serde_json::to_value(a).unwrap_or_default()),
        plugin: found.report.plugin,
    }))
}
