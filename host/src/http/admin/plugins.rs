//! Plugin uploads and the audit log.
//!
//! The store keeps plugin versions by content hash only, with the first
//! uploader: an organization's plugin list is the versions it uploaded first
//! and those its domains' bindings name. Uploading bytes another
//! organization uploaded before answers the same report (the bytes are the
//! proof of having them), and the version is then listed once bound.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::domains::own_domain;
use crate::http::AppState;
use crate::http::error::{ApiError, Query, RawBody};
use crate::http::tenancy::Caller;
use crate::runtime::PluginInfo;
use crate::store::{AuditFilter, OrgId, PluginRecord};

/// The `uploaded_by` an organization's uploads are recorded with.
fn uploader(org: &OrgId) -> String {
    format!("org:{org}")
}

/// An upload's answer: the stored version and the `plugin check` report.
#[derive(Debug, Serialize)]
pub(crate) struct UploadAnswer {
    plugin: PluginRecord,
    check: PluginInfo,
}

/// `POST /v1/orgs/{org}/plugins` with the component's bytes as the body.
/// `201` with the report; `422 plugin-refused` naming what breaks the
/// contract; `413` over the upload limit.
pub(crate) async fn upload_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    RawBody(bytes): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let org = caller.org(&state, &org).await?;
    let uploaded = state.host.upload_plugin(bytes.to_vec(), &uploader(&org)).await?;
    Ok((StatusCode::CREATED, axum::Json(UploadAnswer { plugin: uploaded.record, check: uploaded.info })))
}

pub(crate) async fn list_plugins(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<axum::Json<Vec<PluginRecord>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let store = state.host.store();
    let mut bound = BTreeSet::new();
    for domain in store.list_domains(&org).await? {
        for binding in store.list_bindings(&domain.id).await? {
            bound.extend(binding.creator);
            bound.extend(binding.assigner);
        }
    }
    let mine = uploader(&org);
    let plugins = store.list_plugins().await?;
    Ok(axum::Json(plugins.into_iter().filter(|p| p.uploaded_by == mine || bound.contains(&p.hash)).collect()))
}

/// Which audit events to list: all of the organization's, or only those of
/// one of its domains, with one outcome, in a time range (unix
/// milliseconds), newest first, at most `limit` (default 100, at most 1000);
/// `before` is the last id of the previous page.
#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    since: Option<i64>,
    #[serde(default)]
    until: Option<i64>,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// An audit event as the API shows it: its `detail` as JSON.
#[derive(Debug, Serialize)]
pub(crate) struct AuditView {
    id: i64,
    at: i64,
    domain: Option<String>,
    provider: Option<String>,
    account: Option<String>,
    outcome: String,
    rule: Option<String>,
    detail: serde_json::Value,
}

pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
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
        account: None,
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
            outcome: e.event.outcome,
            rule: e.event.rule,
            detail: serde_json::from_str(&e.event.detail).unwrap_or(serde_json::Value::String(e.event.detail)),
        })
        .collect();
    Ok(axum::Json(views))
}
