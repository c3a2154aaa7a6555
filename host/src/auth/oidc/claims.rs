//! From verified claims to a [`Principal`]: the registered-claim checks and
//! the mapping, with its bounds.
//!
//! - `sub` is required (a non-empty string); `email` (or the configured
//!   claim) too, in its canonical form (`crate::canonical::email`); `email_verified` is true only for `true` or
//!   the string `"true"`.
//! - `given_name` and `family_name` are taken as sent (at most 255 bytes
//!   each; other types are ignored). A lone `name` is **not** split into
//!   given and family names: no rule splits every culture's names right. It
//!   is copied into `claims` like any other string claim, for a creator that
//!   wants it.
//! - Groups: an array of strings or a single string; at most 1,000 groups of
//!   at most 256 bytes; any other type is a malformed claim (groups drive
//!   memberships, so they are never guessed). Empty names are dropped, and
//!   repeated ones kept once, in the order sent.
//! - Other top-level string claims are copied into `claims` (name at most
//!   256 bytes, value at most 1 KiB), except registered and protocol claims
//!   and anything whose name contains `token`, `secret` or `password`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::auth::outcome::{Oversized, RejectReason};
use crate::auth::{MAX_CLAIM_BYTES, MAX_GROUP_BYTES, MAX_GROUPS};
use crate::plugin::Principal;
use crate::plugin::validate::{MAX_EMAIL, MAX_PERSON_NAME};

use super::OidcConfig;

/// A token's claims, as JSON.
pub(super) type Claims = Map<String, Value>;

/// Most bytes in the name of a copied claim.
const MAX_CLAIM_NAME_BYTES: usize = 256;

/// Claims never copied into [`Principal::claims`]: registered JWT claims,
/// what the principal holds elsewhere, and protocol values.
const NOT_COPIED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
    "sid",
    "email",
    "email_verified",
    "given_name",
    "family_name",
    "groups",
];

/// `iss`, `aud` and `azp`, `exp`, `nbf` and `iat`, at `now` (Unix seconds).
pub(super) fn check_registered(claims: &Claims, config: &OidcConfig, now: i64) -> Result<(), RejectReason> {
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err(RejectReason::WrongIssuer);
    }
    let ours = |a: &str| config.audience.iter().any(|c| c == a);
    let meant_for_us = |v: &Value| v.as_str().is_some_and(ours);
    let (audience_ok, audiences) = match claims.get("aud") {
        Some(Value::Array(list)) => (list.iter().any(meant_for_us), list.len()),
        Some(one) => (meant_for_us(one), 1),
        None => (false, 0),
    };
    if !audience_ok {
        return Err(RejectReason::WrongAudience);
    }
    // OpenID Connect Core 3.1.3.7, points 4 and 5: a token for several
    // audiences names the one it was issued to, and that must be us.
    match claims.get("azp") {
        None | Some(Value::Null) if audiences > 1 => return Err(RejectReason::WrongAuthorizedParty),
        None | Some(Value::Null) => {}
        Some(Value::String(azp)) if ours(azp) => {}
        Some(Value::String(_)) => return Err(RejectReason::WrongAuthorizedParty),
        Some(_) => return Err(RejectReason::MalformedClaim("azp".into())),
    }
    let leeway = i64::try_from(config.leeway_secs).unwrap_or(i64::MAX);
    let exp = numeric_date(claims, "exp")?.ok_or_else(|| RejectReason::MalformedClaim("exp".into()))?;
    if now >= exp.saturating_add(leeway) {
        return Err(RejectReason::Expired);
    }
    let lifetime = i64::try_from(config.max_token_lifetime_secs).unwrap_or(i64::MAX);
    if exp > now.saturating_add(lifetime).saturating_add(leeway) {
        return Err(RejectReason::LifetimeTooLong);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now.saturating_add(leeway) < nbf
    {
        return Err(RejectReason::NotYetValid);
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && now.saturating_add(leeway) < iat
    {
        return Err(RejectReason::IssuedInFuture);
    }
    Ok(())
}

/// A JWT NumericDate (seconds, possibly fractional), if present.
fn numeric_date(claims: &Claims, name: &str) -> Result<Option<i64>, RejectReason> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            // Fractional or huge: the `as` cast saturates, NaN cannot occur in JSON.
            None => n.as_f64().map(|f| Some(f.floor() as i64)).ok_or_else(|| RejectReason::MalformedClaim(name.into())),
        },
        Some(_) => Err(RejectReason::MalformedClaim(name.into())),
    }
}

/// The principal the claims describe.
pub(super) fn principal(
    mut claims: Claims,
    config: &OidcConfig,
    provider: &str,
    domain: &str,
) -> Result<Principal, RejectReason> {
    let subject = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => bounded("sub", s, MAX_CLAIM_BYTES)?.to_owned(),
        _ => return Err(RejectReason::MissingSubject),
    };
    let email = match claims.get(&config.email_claim) {
        None | Some(Value::Null) => return Err(RejectReason::MissingEmail),
        Some(Value::String(e)) => crate::canonical::email(bounded(&config.email_claim, e, MAX_EMAIL)?)
            .map_err(|_| RejectReason::InvalidEmail)?,
        Some(_) => return Err(RejectReason::InvalidEmail),
    };
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        None | Some(Value::Null) => config.assume_email_verified,
        Some(_) => false,
    };
    let name = |claims: &Claims, key: &str| -> Result<Option<String>, RejectReason> {
        match claims.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(bounded(key, s, MAX_PERSON_NAME)?.to_owned())),
            _ => Ok(None),
        }
    };
    let given_name = name(&claims, "given_name")?;
    let family_name = name(&claims, "family_name")?;
    let groups = groups(&claims, &config.groups_claim)?;

    let mut copied = BTreeMap::new();
    for (key, value) in std::mem::take(&mut claims) {
        let Value::String(value) = value else {
            continue;
        };
        if !copyable(&key, config) {
            continue;
        }
        if key.len() > MAX_CLAIM_NAME_BYTES {
            return Err(oversized(&key, key.len()));
        }
        bounded(&key, &value, MAX_CLAIM_BYTES)?;
        copied.insert(key, value);
    }
    Ok(Principal {
        domain: domain.to_owned(),
        provider: provider.to_owned(),
        subject,
        email,
        email_verified,
        given_name,
        family_name,
        groups,
        claims: copied,
    })
}

fn groups(claims: &Claims, claim: &str) -> Result<Vec<String>, RejectReason> {
    let value = claims.get(claim).or_else(|| {
        // `realm_access.roles`: a path into nested objects.
        let mut parts = claim.split('.');
        let first = claims.get(parts.next()?)?;
        parts.try_fold(first, |v, part| v.get(part))
    });
    let list: Vec<&Value> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::String(_)) => vec![one],
        Some(_) => return Err(RejectReason::MalformedClaim(claim.into())),
    };
    if list.len() > MAX_GROUPS {
        return Err(RejectReason::OversizedClaims(Oversized::GroupCount(list.len())));
    }
    let mut groups: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        let Value::String(group) = item else {
            return Err(RejectReason::MalformedClaim(claim.into()));
        };
        if group.len() > MAX_GROUP_BYTES {
            return Err(RejectReason::OversizedClaims(Oversized::Group(group.len())));
        }
        if !group.is_empty() && !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    Ok(groups)
}

fn copyable(key: &str, config: &OidcConfig) -> bool {
    let lower = key.to_ascii_lowercase();
    !NOT_COPIED.contains(&key)
        && key != config.email_claim
        && key != config.groups_claim
        && !["token", "secret", "password"].iter().any(|w| lower.contains(w))
}

fn bounded<'a>(name: &str, value: &'a str, max: usize) -> Result<&'a str, RejectReason> {
    if value.len() > max { Err(oversized(name, value.len())) } else { Ok(value) }
}

fn oversized(name: &str, len: usize) -> RejectReason {
    let mut cut = name.len().min(64);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    RejectReason::OversizedClaims(Oversized::Claim(name[..cut].to_owned(), len))
}
