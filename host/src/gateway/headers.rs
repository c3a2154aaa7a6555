//! An [`Identity`] as request headers, for a gateway that forwards requests
//! to an upstream that trusts it.

use axum::http::header::InvalidHeaderValue;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::Identity;

/// Every identity header starts with this (header names are matched
/// case-insensitively).
pub const HEADER_PREFIX: &str = "x-provisio-";
/// The account's id.
pub const HEADER_ACCOUNT: &str = "x-provisio-account";
/// The account's email.
pub const HEADER_EMAIL: &str = "x-provisio-email";
/// The account's username.
pub const HEADER_USERNAME: &str = "x-provisio-username";
/// The organization's id; absent when the account has no membership.
pub const HEADER_ORG: &str = "x-provisio-org";
/// Team names, comma-separated (empty when none).
pub const HEADER_TEAMS: &str = "x-provisio-teams";
/// Role names, comma-separated (empty when none).
pub const HEADER_ROLES: &str = "x-provisio-roles";

/// Removes every `X-Provisio-*` header, whatever its case: what a client
/// sent is never passed on as if the gateway had said it.
pub fn strip_identity_headers(headers: &mut HeaderMap) {
    let spoofed: Vec<HeaderName> =
        headers.keys().filter(|name| name.as_str().starts_with(HEADER_PREFIX)).cloned().collect();
    for name in spoofed {
        headers.remove(name);
    }
}

/// Replaces the identity headers of `headers` with `identity`'s: strips
/// every `X-Provisio-*` header, then sets [`HEADER_ACCOUNT`],
/// [`HEADER_EMAIL`], [`HEADER_USERNAME`], [`HEADER_ORG`] (when there is
/// one), [`HEADER_TEAMS`] and [`HEADER_ROLES`]. A value that cannot be a
/// header (a control character) is an error, and then no identity header
/// is left set.
pub fn forward_identity(headers: &mut HeaderMap, identity: &Identity) -> Result<(), InvalidHeaderValue> {
    strip_identity_headers(headers);
    let mut values = vec![
        (HEADER_ACCOUNT, HeaderValue::from_str(identity.account_id.as_str())),
        (HEADER_EMAIL, HeaderValue::from_bytes(identity.email.as_bytes())),
        (HEADER_USERNAME, HeaderValue::from_bytes(identity.username.as_bytes())),
        (HEADER_TEAMS, HeaderValue::from_bytes(identity.teams.join(",").as_bytes())),
        (HEADER_ROLES, HeaderValue::from_bytes(identity.roles.join(",").as_bytes())),
    ];
    if let Some(org) = &identity.org {
        values.push((HEADER_ORG, HeaderValue::from_str(org.as_str())));
    }
    let mut checked = Vec::with_capacity(values.len());
    for (name, value) in values {
        checked.push((name, value?));
    }
    for (name, value) in checked {
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(())
}
