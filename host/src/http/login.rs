//! `POST /v1/login`: a password or an ID token in, the account, its
//! memberships and a session token out.
//!
//! A refused login answers the engine's stable code with its safe message:
//! `authentication-failed` 401; `account-locked`, `account-disabled`,
//! `unverified-email`, `denied`, `access-denied` and `provisioning-failed`
//! 403; `unknown-domain` 404; `domain-required` 400; `unavailable` 503.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json};
use crate::auth::{Credential, Secret};
use crate::engine::{LoginRequest, LoginSuccess};
use crate::store::{MembershipKind, MembershipSource};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login))
}

/// What a login presents: an `id_token`, or an `email` and a `password`.
/// `domain` names the domain; without it a password login's domain is found
/// from the email.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"domain": "acme", "email": "jane@acme.example", "password": "correct horse"}))]
pub struct LoginBody {
    /// The domain's name.
    #[serde(default)]
    pub domain: Option<String>,
    /// The email, for a password login; for a directory (`ldap`) provider,
    /// what its user filter matches (an email or a login name such as
    /// `jane`; `login` is accepted as this field's other name).
    #[serde(default, alias = "login")]
    pub email: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// An OpenID Connect ID token.
    #[serde(default)]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody").field("domain", &self.domain).field("email", &self.email).finish_non_exhaustive()
    }
}

/// The account part of a login's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// Its id.
    pub id: String,
    /// Its email.
    pub email: String,
    /// Its username.
    pub username: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
}

/// One membership in a login's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MembershipView {
    /// `organization`, `team` or `role`.
    pub kind: MembershipKind,
    /// Its name.
    pub name: String,
    /// Who gave it: `idp`, `admin`, `invitation` or `scim`.
    pub source: MembershipSource,
}

/// A successful login's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// The account.
    pub account: AccountView,
    /// Its memberships in the domain's organization.
    pub memberships: Vec<MembershipView>,
    /// Whether this login created the account.
    pub newly_created: bool,
    /// A JWT (EdDSA) verifiable with `/.well-known/jwks.json`.
    pub session_token: String,
    /// Seconds until the session token expires.
    pub expires_in: u64,
}

/// Logs in with a password or an ID token; the first login of a person
/// provisions their account. A refused login answers the engine's stable
/// code with a message safe for end users.
#[utoipa::path(
    post,
    path = "/v1/login",
    tag = "login",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in.", body = LoginResponse),
        (status = 400, description = "`bad-request` (malformed body, or not exactly one credential), or \
            `domain-required` (an ID token without a domain).", body = ErrorBody),
        (status = 401, description = "`authentication-failed`, whatever the reason.", body = ErrorBody),
        (status = 403, description = "`account-locked`, `account-disabled`, `unverified-email`, `denied` (by \
            the tenant's plugin), `access-denied` (JIT off, not a member) or `provisioning-failed` (a plugin \
            failed and its binding fails closed).", body = ErrorBody),
        (status = 404, description = "`unknown-domain`.", body = ErrorBody),
        (status = 413, description = "`payload-too-large`.", body = ErrorBody),
        (status = 415, description = "`unsupported-media-type`: not `application/json`.", body = ErrorBody),
        (status = 503, description = "`unavailable`: retrying may succeed.", body = ErrorBody),
    ),
)]
async fn login(
    State(state): State<AppState>,
    connection: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Result<axum::Json<LoginResponse>, ApiError> {
    let source = client_address(&state, connection.map(|c| c.0.0), &headers);
    let LoginBody { domain, email, password, id_token } = body;
    let credential = match (id_token, email, password) {
        (Some(token), None, None) => Credential::IdToken(Secret::new(token)),
        (None, Some(email), Some(password)) => Credential::Password { email, password: Secret::new(password) },
        _ => return Err(ApiError::BadRequest("give either `id_token`, or `email` and `password`".into())),
    };
    let started = Instant::now();
    let result = state.host.login(LoginRequest { domain, credential, source }).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => e.code(),
    };
    state.metrics.login(outcome, started.elapsed());
    let success = result?;
    let claims = state.signer.claims(&success);
    let token = state.signer.sign(&claims).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(axum::Json(response(success, token, state.signer.ttl().as_secs())))
}

/// The client's address: from the trusted proxy's header when one is
/// configured (its last entry, the one the proxy added), else the
/// connection's peer.
pub(super) fn client_address(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    match &state.config().trusted_proxy_header {
        Some(name) => {
            let value = headers.get_all(name.as_str()).iter().filter_map(|v| v.to_str().ok()).next_back()?;
            value.rsplit(',').next().and_then(|last| last.trim().parse().ok())
        }
        None => peer.map(|p| p.ip()),
    }
}

fn response(success: LoginSuccess, session_token: String, expires_in: u64) -> LoginResponse {
    let account = success.account;
    LoginResponse {
        account: AccountView {
            id: account.id.to_string(),
            email: account.email,
            username: account.username,
            given_name: account.given_name,
            family_name: account.family_name,
        },
        memberships: success
            .memberships
            .into_iter()
            .map(|m| MembershipView { kind: m.membership.target.kind(), name: m.name, source: m.membership.source })
            .collect(),
        newly_created: success.newly_created,
        session_token,
        expires_in,
    }
}
