//! A domain's claims on email domains: listed with their DNS challenges,
//! verified by their DNS challenge, or approved by the operator. Only
//! verified claims let a domain's providers vouch for addresses under them.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::domains::own_domain;
use super::views::ClaimView;
use crate::dns::DnsError;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::openapi::{AdminErrors, Conflict, OperatorErrors, Unprocessable};
use crate::http::tenancy::Caller;
use crate::store::{ClaimState, OrgId, StoreError, Unique, Verification};

/// `/v1/orgs/{org}/domains/{domain}/email-domains/{email_domain}/…`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ClaimPath {
    /// The organization's id.
    org: String,
    /// The domain's id.
    domain: String,
    /// The claimed email domain.
    email_domain: String,
}

/// Refuses email domains no organization may claim (public webmail), and
/// any that has no canonical form.
pub(crate) fn claimable(state: &AppState, email_domains: &[String]) -> Result<Vec<String>, ApiError> {
    let mut canonical = Vec::with_capacity(email_domains.len());
    for name in email_domains {
        let name = crate::canonical::email_domain(name).map_err(|e| {
            ApiError::BadRequest(format!(
                "invalid email domain {:?}: {e}",
                crate::canonical::escaped(name.get(..name.len().min(64)).unwrap_or_default()).to_string()
            ))
        })?;
        if state
            .config()
            .public_email_domains
            .iter()
            .any(|p| crate::canonical::email_domain(p).ok() == Some(name.clone()))
        {
            return Err(ApiError::Unprocessable(format!(
                "{name} is a public email domain: its addresses belong to their users, and no domain may claim it"
            )));
        }
        if !canonical.contains(&name) {
            canonical.push(name);
        }
    }
    Ok(canonical)
}

/// The domain's email domain claims, with the DNS challenge of each: publish
/// `challenge` as a TXT record at `challenge_name` (or ask the operator) to
/// have a claim verified.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/domains/{domain}/email-domains",
    tag = "admin",
    security(("bearer" = [])),
    params(super::DomainPath),
    responses((status = 200, description = "Its claims.", body = Vec<ClaimView>), AdminErrors),
)]
pub(crate) async fn list_claims(
    State(state): State<AppState>,
    caller: Caller,
    Path(super::DomainPath { org, domain }): Path<super::DomainPath>,
) -> Result<axum::Json<Vec<ClaimView>>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let domain = own_domain(&state, &org, &domain).await?;
    let claims = state.host.store().email_domain_claims(&domain.id).await?;
    Ok(axum::Json(claims.into_iter().map(ClaimView::from).collect()))
}

/// The operator approves a domain's claim: it becomes verified. `409` when
/// another domain's claim of the email domain is verified already.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/domains/{domain}/email-domains/{email_domain}/approve",
    tag = "admin",
    security(("bearer" = [])),
    params(ClaimPath),
    responses((status = 200, description = "Verified.", body = ClaimView), OperatorErrors, AdminErrors, Conflict),
)]
pub(crate) async fn approve_claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(ClaimPath { org, domain, email_domain }): Path<ClaimPath>,
) -> Result<axum::Json<ClaimView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    // Another organization's domain is not found, whoever asks; only then
    // is an organization's own token told it may not approve.
    own_domain(&state, &org, &domain).await?;
    caller.operator()?;
    verify(&state, &org, &domain, &email_domain, Verification::Operator).await
}

/// Verifies a domain's claim by its DNS challenge: when one of the TXT
/// records at the claim's `challenge_name` is exactly its `challenge`, the
/// claim becomes verified (`dns`). `422` when no such record is found, or
/// the lookup fails or times out ([`crate::dns::TIMEOUT`]): the claim stays
/// pending, and the message names the name looked up. `409` when another
/// domain's claim of the email domain is verified already.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/domains/{domain}/email-domains/{email_domain}/verify",
    tag = "admin",
    security(("bearer" = [])),
    params(ClaimPath),
    responses((status = 200, description = "Verified.", body = ClaimView), AdminErrors, Conflict, Unprocessable),
)]
pub(crate) async fn verify_claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(ClaimPath { org, domain, email_domain }): Path<ClaimPath>,
) -> Result<axum::Json<ClaimView>, ApiError> {
    let org = caller.org(&state, &org).await?;
    let owned = own_domain(&state, &org, &domain).await?;
    let name = crate::canonical::email_domain(&email_domain).map_err(|_| ApiError::NotFound)?;
    let claims = state.host.store().email_domain_claims(&owned.id).await?;
    let claim = claims.into_iter().find(|c| c.email_domain == name).ok_or(ApiError::NotFound)?;
    if claim.state == ClaimState::Verified {
        return Ok(axum::Json(claim.into()));
    }
    // Another domain's verified claim wins whatever the DNS says; the store
    // checks it again when verifying.
    if let Some(holder) = state.host.store().domain_by_email_domain(&name).await?
        && holder.id != owned.id
    {
        return Err(StoreError::Conflict { what: Unique::VerifiedEmailDomain }.into());
    }
    let challenge_name = claim.challenge_name();
    let not_found = |why: &str, then: &str| {
        ApiError::Unprocessable(format!("the challenge token was not found at {challenge_name}: {why}; {then}"))
    };
    let publish = "publish the claim's challenge as a TXT record there and try again";
    match state.dns().txt_values(&challenge_name).await {
        Ok(values) if values.contains(&claim.challenge) => {}
        Ok(_) => return Err(not_found("none of its TXT records is the token", publish)),
        Err(DnsError::NotFound { .. }) => return Err(not_found("the name has no TXT record", publish)),
        Err(DnsError::Timeout { .. }) => {
            return Err(not_found("the name server did not answer in time", "try again later"));
        }
        Err(error) => {
            tracing::warn!(
                name = %crate::canonical::escaped(&name),
                error = %crate::canonical::escaped(&error.to_string()),
                "DNS challenge lookup failed"
            );
            return Err(not_found("the DNS lookup failed", "try again later"));
        }
    }
    verify(&state, &org, &domain, &name, Verification::Dns).await
}

async fn verify(
    state: &AppState,
    org: &OrgId,
    domain: &str,
    email_domain: &str,
    by: Verification,
) -> Result<axum::Json<ClaimView>, ApiError> {
    let domain = own_domain(state, org, domain).await?;
    let claim = state.host.store().verify_email_domain(&domain.id, email_domain, by).await?;
    Ok(axum::Json(claim.into()))
}
