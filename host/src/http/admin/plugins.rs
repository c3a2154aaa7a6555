//! Plugin uploads and the audit log.
//!
//! The store keeps plugin versions by content hash, with the organizations
//! that uploaded each: an organization lists and binds only the versions it
//! uploaded itself. Uploading bytes another organization uploaded before
//! answers the same report (the bytes are the proof of having them) and
//! makes the uploader an owner too; knowing a hash alone gives nothing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};

use super::OrgPath;
use super::domains::own_domain;
use super::views::{PluginCheck, PluginView};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, Query, RawBody};
use crate::http::openapi::{AdminErrors, QueryError};
use crate::http::tenancy::Caller;
use crate::store::AuditFilter;

/// An upload's answer: the stored version and the `plugin check` report.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UploadAnswer {
    plugin: PluginView,
    check: PluginCheck,
}

/// What an upload may answer about the component.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum UploadErrors {
    /// `payload-too-large`: over the plugin upload limit (32 MiB by default).
    #[response(status = 413)]
    PayloadTooLarge(ErrorBody),
    /// `plugin-refused`: not a component, no Provisio world, a forbidden
    /// import, or its `name()` failed; the message names the problem.
    #[response(status = 422)]
    PluginRefused(ErrorBody),
}

/// Uploads a plugin: the component's bytes as the body. It is checked
/// against the contract and precompiled before it is stored, and answers
/// the `provisio plugin check` report. Uploading a stored version again
/// answers the same.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/plugins",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body(content = [u8], content_type = "application/wasm", description = "A WebAssembly component."),
    responses(
        (status = 201, description = "Accepted and stored, with the check report.", body = UploadAnswer),
        AdminErrors,
        UploadErrors,
    ),
)]
pub(crate) async fn upload_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    RawBody(bytes): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let uploaded = state.host.upload_plugin(bytes.to_vec(), &org).await?;
    let answer = UploadAnswer { plugin: uploaded.record.into(), check: uploaded.info.into() };
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// The plugin versions the organization uploaded: the only ones it may
/// bind. Another organization's versions are not listed, even when they
/// are the same bytes.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/plugins",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    responses((status = 200, description = "Its plugin versions.", body = Vec<PluginView>), AdminErrors),
)]
pub(crate) async fn list_plugins(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<axum::Json<Vec<PluginView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let plugins = state.host.store().list_owned_plugins(&org).await?;
    Ok(axum::Json(plugins.into_iter().map(PluginView::from).collect()))
}

/// Which audit events to list: all of the organization's, or only those of
/// one of its domains, of one account, with one outcome, in a time range (unix
/// milliseconds), newest first, at most `limit` (default 100, at most 1000);
/// `before` is the last id of the previous page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only this domain's (one of the organization's).
    #[serde(default)]
    domain: Option<String>,
    /// Only with this outcome (`success` or a login error's code).
    #[serde(default)]
    outcome: Option<String>,
    /// Only this account's (by its id).
    #[serde(default)]
    account: Option<String>,
    /// Only at or after this time.
    #[serde(default)]
    since: Option<i64>,
    /// Only before this time.
    #[serde(default)]
    until: Option<i64>,
    /// Only with an id below this one: the last id of the previous page.
    #[serde(default)]
    before: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    limit: Option<u32>,
}

/// An audit event as the API shows it: its `detail` as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditView {
    /// Increasing with insertion order.
    id: i64,
    /// When it happened, unix milliseconds.
    at: i64,
    /// The domain's id, when it was resolved.
    domain: Option<String>,
    /// The provider's name, when known.
    provider: Option<String>,
    /// The account's id, when there is one.
    account: Option<String>,
    /// How many alike events this one stands for: failed logins without an
    /// account are counted per domain, outcome and minute rather than
    /// written one each.
    occurrences: i64,
    /// `success`, or the login error's code.
    outcome: String,
    /// The rule that failed, if one did.
    rule: Option<String>,
    /// Everything else: the provider attempts, each plugin call (hook,
    /// plugin hash, outcome, duration, fuel) and the decisions. Never a
    /// credential.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

/// The organization's audit events, newest first.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/audit",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath, AuditQuery),
    responses(
        (status = 200, description = "A page of events, newest first.", body = Vec<AuditView>),
        QueryError,
        AdminErrors,
    ),
)]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<Vec<AuditView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = match &query.domain {
        Some(domain) => Some(own_domain(&state, &org, domain).await?.id),
        None => None,
    };
    let filter = AuditFilter {
        org: Some(org),
        domain,
        account: query.account.map(crate::store::AccountId::new),
        outcome: query.outcome,
        since: query.since,
        until: query.until,
        before_id: query.before,
        limit: query.limit.unwrap_or(100).min(1000),
    };
    let events = state.host.store().list_audit(&filter).await?;
    let views = events
        .into_iter()
        .map(|e| AuditView {
            id: e.id,
            at: e.event.at,
            domain: e.event.domain.map(|d| d.to_string()),
            provider: e.event.provider,
            account: e.event.account.map(|a| a.to_string()),
            occurrences: e.occurrences,
            outcome: e.event.outcome,
            rule: e.event.rule,
            detail: serde_json::from_str(&e.event.detail).unwrap_or(serde_json::Value::String(e.event.detail)),
        })
        .collect();
    Ok(axum::Json(views))
}
