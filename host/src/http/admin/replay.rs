//! Replay: candidate plugin versions run on the recorded principals of a
//! provider's past logins, compared with what the logins decided
//! (`Host::replay`). Writes nothing.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::OrgPath;
use super::domains::{own_domain, own_provider};
use crate::engine::{MAX_REPLAY_LOGINS, ReplayReport, ReplayRequest};
use crate::http::AppState;
use crate::http::error::{ApiError, Json};
use crate::http::openapi::{AdminErrors, BodyErrors, Unprocessable};
use crate::http::tenancy::Caller;
use crate::plugin::PluginHash;

/// What to replay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayBody {
    /// The domain's id.
    domain: String,
    /// The provider's id (one of the domain's).
    provider: String,
    /// The candidate identity creator (a version the organization uploaded);
    /// without it, creations are not replayed.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    creator: Option<PluginHash>,
    /// The candidate assignment provider; without it, memberships are not replayed.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    assigner: Option<PluginHash>,
    /// Only logins at or after this time (unix milliseconds; default: 7 days ago).
    #[serde(default)]
    since: Option<i64>,
    /// At most this many logins, newest first (default 500, at most 5000).
    #[serde(default)]
    limit: Option<usize>,
}

/// What the replay found.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReplayAnswer {
    /// Logins replayed, how many changed, how creations changed, memberships
    /// added and removed per team, role and organization, and examples.
    #[schema(value_type = Object)]
    #[serde(flatten)]
    report: ReplayReport,
}

/// Replays a provider's past logins through candidate versions: how many of
/// their decisions would change, and how. Each login's audit event keeps the
/// principal the plugins saw; the candidates run on it with the binding's
/// configuration and limits, in the organization's own plugin-call slots.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/replay",
    tag = "admin",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = ReplayBody,
    responses(
        (status = 200, description = "What would change.", body = ReplayAnswer),
        BodyErrors,
        AdminErrors,
        Unprocessable,
    ),
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(OrgPath { org }): Path<OrgPath>,
    Json(body): Json<ReplayBody>,
) -> Result<axum::Json<ReplayAnswer>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &body.domain).await?;
    let provider = own_provider(&domain, &body.provider)?;
    if body.creator.is_none() && body.assigner.is_none() {
        return Err(ApiError::BadRequest("name a candidate: `creator`, `assigner` or both".into()));
    }
    let week_ago = crate::store::now_ms() - 7 * 24 * 3600 * 1000;
    let request = ReplayRequest {
        domain: domain.id.clone(),
        provider: provider.id.clone(),
        creator: body.creator,
        assigner: body.assigner,
        since: body.since.unwrap_or(week_ago),
        limit: body.limit.unwrap_or(500).min(MAX_REPLAY_LOGINS),
    };
    let report = state.host.replay(&org, &request).await?;
    Ok(axum::Json(ReplayAnswer { report }))
}
