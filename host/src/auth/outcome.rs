//! What one provider answers, and the typed reason behind a rejection.
//!
//! Reasons are for the audit log and for operators, never for the end user
//! (who only ever sees [`PUBLIC_MESSAGE`](super::PUBLIC_MESSAGE)). No reason
//! carries the credential or any part of it.

use std::fmt;

use crate::plugin::Principal;

use super::oidc::FetchError;

/// A provider's answer to one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The credential is good: this is who it vouches for.
    Authenticated(Principal),
    /// The credential is for this provider and is not good.
    Rejected(RejectReason),
    /// The credential is not for this provider (a password given to an OIDC
    /// provider, an ID token given to the password provider, a login the
    /// directory does not know).
    NotApplicable,
    /// The provider could not check the credential: its directory did not
    /// answer in time, or could not be reached (why, without any credential).
    /// The chain goes on as for [`Answer::NotApplicable`].
    Unreachable(String),
}

/// Why a provider rejected a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// No account has this email.
    UnknownAccount,
    /// The account has the unusable-password marker (it logs in through an IdP).
    UnusablePassword,
    /// The password does not match the account's hash.
    WrongPassword,
    /// Too many recent failures for this account or from this source
    /// address: attempts are refused for a while.
    Throttled,
    /// The attempt ledger could not be used (an infrastructure problem): the
    /// password was not checked.
    ThrottleUnavailable(String),
    /// The email or password is longer than any real one.
    OversizedCredential,
    /// The caller's account lookup failed (an infrastructure problem).
    AccountLookupFailed(String),
    /// The password is empty: refused before the directory is asked.
    EmptyPassword,
    /// The directory's user filter matched several entries for this login.
    AmbiguousLogin,
    /// The directory says the account is disabled or locked.
    DirectoryAccountDisabled,
    /// The directory's entry lacks an attribute the provider needs (its name).
    DirectoryAttributeMissing(String),
    /// The ID token is not a well-formed compact JWS with JSON header and claims.
    MalformedToken,
    /// The token's `typ` says it is not an ID token (e.g. an access token).
    WrongTokenType,
    /// The token's `alg` is not in the provider's allowed list (this covers
    /// `none` and every HMAC algorithm).
    UnsupportedAlgorithm,
    /// No key of the provider's key set matches the token's `kid` and `alg`.
    UnknownKey,
    /// The signature does not verify with the selected key.
    BadSignature,
    /// `exp` is in the past (beyond the leeway), or missing.
    Expired,
    /// `exp` lies further in the future than the provider's
    /// `max_token_lifetime_secs` (plus the leeway).
    LifetimeTooLong,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` names none of the configured audiences.
    WrongAudience,
    /// `azp` is missing while `aud` names several audiences, or it is not
    /// one of the configured audiences (OpenID Connect Core 3.1.3.7).
    WrongAuthorizedParty,
    /// No usable `sub` claim.
    MissingSubject,
    /// No email claim (under the configured name).
    MissingEmail,
    /// The email claim is not an email address.
    InvalidEmail,
    /// A claim the provider reads has the wrong type (its name is given).
    MalformedClaim(String),
    /// The token or one of its claims is larger than the bounds.
    OversizedClaims(Oversized),
    /// The provider's keys could not be fetched (an infrastructure problem).
    KeysUnavailable(FetchError),
}

/// Which bound an oversized token broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Oversized {
    /// The whole token, in bytes.
    Token(usize),
    /// The number of groups.
    GroupCount(usize),
    /// One group name, in bytes.
    Group(usize),
    /// One claim value, in bytes; the claim's name (cut to 64 bytes).
    Claim(String, usize),
}

impl RejectReason {
    /// A short stable code, for the audit log and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownAccount => "unknown_account",
            Self::UnusablePassword => "unusable_password",
            Self::WrongPassword => "wrong_password",
            Self::Throttled => "throttled",
            Self::ThrottleUnavailable(_) => "throttle_unavailable",
            Self::OversizedCredential => "oversized_credential",
            Self::AccountLookupFailed(_) => "account_lookup_failed",
            Self::EmptyPassword => "empty_password",
            Self::AmbiguousLogin => "ambiguous_login",
            Self::DirectoryAccountDisabled => "directory_account_disabled",
            Self::DirectoryAttributeMissing(_) => "directory_attribute_missing",
            Self::MalformedToken => "malformed_token",
            Self::WrongTokenType => "wrong_token_type",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongAuthorizedParty => "wrong_authorized_party",
            Self::MissingSubject => "missing_subject",
            Self::MissingEmail => "missing_email",
            Self::InvalidEmail => "invalid_email",
            Self::MalformedClaim(_) => "malformed_claim",
            Self::OversizedClaims(_) => "oversized_claims",
            Self::KeysUnavailable(_) => "keys_unavailable",
        }
    }

    /// True when the rejection says nothing about the credential: something
    /// the provider depends on (the account lookup, the attempt ledger, the
    /// IdP's keys) failed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::AccountLookupFailed(_) | Self::ThrottleUnavailable(_) | Self::KeysUnavailable(_))
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownAccount => f.write_str("no account has this email"),
            Self::UnusablePassword => f.write_str("the account has no usable password"),
            Self::WrongPassword => f.write_str("wrong password"),
            Self::Throttled => f.write_str("too many recent failures for this account or source"),
            Self::ThrottleUnavailable(e) => write!(f, "the attempt ledger is unavailable: {e}"),
            Self::OversizedCredential => f.write_str("the email or password is too long"),
            Self::AccountLookupFailed(e) => write!(f, "the account lookup failed: {e}"),
            Self::EmptyPassword => f.write_str("the password is empty"),
            Self::AmbiguousLogin => f.write_str("the directory has several entries for this login"),
            Self::DirectoryAccountDisabled => f.write_str("the directory says the account is disabled"),
            Self::DirectoryAttributeMissing(a) => write!(f, "the directory's entry has no `{a}`"),
            Self::MalformedToken => f.write_str("the ID token is malformed"),
            Self::WrongTokenType => f.write_str("the token is not an ID token"),
            Self::UnsupportedAlgorithm => f.write_str("the token's algorithm is not allowed"),
            Self::UnknownKey => f.write_str("no key matches the token's key id and algorithm"),
            Self::BadSignature => f.write_str("the token's signature does not verify"),
            Self::Expired => f.write_str("the token has expired"),
            Self::LifetimeTooLong => f.write_str("the token expires further in the future than allowed"),
            Self::NotYetValid => f.write_str("the token is not valid yet"),
            Self::IssuedInFuture => f.write_str("the token was issued in the future"),
            Self::WrongIssuer => f.write_str("the token's issuer is not the configured one"),
            Self::WrongAudience => f.write_str("the token is not meant for this audience"),
            Self::WrongAuthorizedParty => f.write_str("the token's authorized party is missing or not ours"),
            Self::MissingSubject => f.write_str("the token has no subject"),
            Self::MissingEmail => f.write_str("the token has no email claim"),
            Self::InvalidEmail => f.write_str("the token's email claim is not an email address"),
            Self::MalformedClaim(c) => write!(f, "the token's `{c}` claim has the wrong type"),
            Self::OversizedClaims(o) => write!(f, "the token is too large: {o}"),
            Self::KeysUnavailable(e) => write!(f, "the provider's keys are unavailable: {e}"),
        }
    }
}

impl fmt::Display for Oversized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(n) => write!(f, "{n} bytes of token"),
            Self::GroupCount(n) => write!(f, "{n} groups"),
            Self::Group(n) => write!(f, "a group name of {n} bytes"),
            Self::Claim(name, n) => write!(f, "{n} bytes in claim `{name}`"),
        }
    }
}
