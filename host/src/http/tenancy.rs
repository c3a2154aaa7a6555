//! Who is calling the admin API, and what they may see.
//!
//! Two kinds of bearer token: the **operator token** from the
//! configuration (creates organizations, and may act on any of them), and
//! **organization API tokens**, one organization each, shown once when made
//! and kept only as their SHA-256 (they are 32 random bytes, so a plain hash
//! is enough). An organization's token gets `404 not-found` for anything
//! outside its organization, exactly as if it did not exist.
//!
//! [`ApiTokens`] is where organization tokens are kept: by default
//! [`StoreApiTokens`], the store's `api_tokens` table, so tokens survive a
//! restart and are shared by every host on one database. A revoked token
//! stops authenticating at its next request.

use std::future::Future;
use std::pin::Pin;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::auth::Secret;
use crate::store::{ApiTokenRecord, OrgId, Store, StoreError};

/// The prefix of every organization API token, so that a leaked one is easy
/// to recognise in logs and scanners.
pub const TOKEN_PREFIX: &str = "pvo_";

/// A boxed future, for the object-safe [`ApiTokens`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where organization API tokens are kept, by the SHA-256 of the token
/// (never the token itself).
pub trait ApiTokens: Send + Sync + 'static {
    /// Remembers that the token with this hash acts for `org`, under `name`.
    fn insert<'a>(
        &'a self,
        hash: [u8; 32],
        org: &'a OrgId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ApiTokenRecord, StoreError>>;
    /// The organization the token with this hash acts for, unless revoked.
    fn find(&self, hash: [u8; 32]) -> BoxFuture<'_, Result<Option<OrgId>, StoreError>>;
    /// The organization's tokens, revoked ones included.
    fn list<'a>(&'a self, org: &'a OrgId) -> BoxFuture<'a, Result<Vec<ApiTokenRecord>, StoreError>>;
    /// Revokes the organization's token with this public id; `NotFound`
    /// when it has none.
    fn revoke<'a>(&'a self, org: &'a OrgId, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// API tokens in the store: they survive restarts and are shared by every
/// host on the same database.
#[derive(Debug, Clone)]
pub struct StoreApiTokens {
    store: Store,
}

impl StoreApiTokens {
    /// Tokens kept in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl ApiTokens for StoreApiTokens {
    fn insert<'a>(
        &'a self,
        hash: [u8; 32],
        org: &'a OrgId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ApiTokenRecord, StoreError>> {
        Box::pin(async move { self.store.create_api_token(org, name, &hash).await })
    }

    fn find(&self, hash: [u8; 32]) -> BoxFuture<'_, Result<Option<OrgId>, StoreError>> {
        Box::pin(async move { self.store.api_token_org(&hash).await })
    }

    fn list<'a>(&'a self, org: &'a OrgId) -> BoxFuture<'a, Result<Vec<ApiTokenRecord>, StoreError>> {
        Box::pin(self.store.list_api_tokens(org))
    }

    fn revoke<'a>(&'a self, org: &'a OrgId, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.store.revoke_api_token(org, id))
    }
}

/// A new organization API token, to show once, and the hash to keep.
pub(crate) struct NewToken {
    pub(crate) token: Secret,
    pub(crate) hash: [u8; 32],
}

/// A new organization API token.
pub(crate) fn new_token() -> NewToken {
    new_token_with_prefix(TOKEN_PREFIX)
}

/// A new random token that starts with `prefix`, and its SHA-256.
pub(crate) fn new_token_with_prefix(prefix: &str) -> NewToken {
    let token = format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()));
    let hash = digest(&token);
    NewToken { token: Secret::new(token), hash }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The operator token.
    Operator,
    /// An API token of this organization.
    Org(OrgId),
}

impl Caller {
    /// Refuses anyone but the operator.
    pub fn operator(&self) -> Result<(), ApiError> {
        match self {
            Self::Operator => Ok(()),
            Self::Org(_) => Err(ApiError::Forbidden),
        }
    }

    /// The organization named in the path, if the caller may act on it: its
    /// own token, or the operator (when the organization exists). Anything
    /// else is `NotFound`, whether or not the organization exists.
    pub async fn org(&self, state: &AppState, org: &str) -> Result<OrgId, ApiError> {
        let org = OrgId::new(org);
        match self {
            Self::Org(own) if *own == org => Ok(org),
            Self::Org(_) => Err(ApiError::NotFound),
            Self::Operator => match state.host.store().organization(&org).await? {
                Some(_) => Ok(org),
                None => Err(ApiError::NotFound),
            },
        }
    }
}

/// Before anything else of a request under `/v1/orgs/{org}/` is read (its
/// body included), checks that the caller may act on that organization: a
/// request with another organization's token answers `404` whatever its
/// body, exactly as for an organization that does not exist. The caller is
/// kept in the request's extensions for the handler.
pub(crate) async fn org_scope(
    axum::extract::State(state): axum::extract::State<AppState>,
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if !matched.is_some_and(|m| m.as_str().starts_with("/v1/orgs/{org}")) {
        return next.run(request).await;
    }
    let org = request.uri().path().split('/').nth(3).unwrap_or_default().to_owned();
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = caller.org(&state, &org).await {
        return e.into_response();
    }
    parts.extensions.insert(caller);
    next.run(axum::extract::Request::from_parts(parts, body)).await
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        Self::from_token(state, token).await
    }
}

impl Caller {
    /// Who a bearer token is: the operator, or an organization by one of its
    /// API tokens; `Unauthorized` for anything else (the console's sign-in
    /// uses this too).
    pub(crate) async fn from_token(state: &AppState, token: &str) -> Result<Self, ApiError> {
        if token.is_empty() {
            return Err(ApiError::Unauthorized);
        }
        let hash = digest(token);
        // Comparing digests: the time taken says nothing about the token.
        if let Some(operator) = &state.config.operator_token
            && !operator.expose().is_empty()
            && digest(operator.expose()) == hash
        {
            return Ok(Self::Operator);
        }
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(ApiError::Unauthorized);
        }
        match state.tokens.find(hash).await? {
            Some(org) => Ok(Self::Org(org)),
            None => Err(ApiError::Unauthorized),
        }
    }
}
