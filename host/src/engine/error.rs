//! Why a login failed, as the engine's caller sees it: a stable code, a
//! message safe for end users, and the rule that was broken (for the audit).

use std::fmt;

use serde::Serialize;

use super::Hook;
use crate::canonical::TextError;
use crate::plugin::{CallFailure, LimitKind, judge};

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// No domain has that name, or claims the email's domain.
    #[error("no sign-in is configured for this domain")]
    UnknownDomain,
    /// An ID-token login must name its domain.
    #[error("the domain must be given for this credential")]
    DomainRequired,
    /// No provider of the domain accepted the credential. Deliberately vague.
    #[error("the sign-in failed")]
    AuthenticationFailed,
    /// The account is locked.
    #[error("this account is locked")]
    AccountLocked,
    /// The account is disabled.
    #[error("this account is disabled")]
    AccountDisabled,
    /// The domain's organization has suspended the account.
    #[error("this account is suspended in this organization")]
    AccountSuspended,
    /// The principal's email lies outside the domain's verified email
    /// domains: the domain may not vouch for it.
    #[error("this sign-in cannot be used for this email address")]
    ForeignEmail,
    /// The identity provider did not vouch for the email, so it may not be
    /// linked to an existing account nor used to create one.
    #[error("the identity provider has not verified this email address")]
    UnverifiedEmail,
    /// The identity creator refused; the message is the plugin's, for the end user.
    #[error("{message}")]
    Denied {
        /// The plugin's machine-readable code.
        code: String,
        /// The plugin's message for the end user.
        message: String,
    },
    /// JIT provisioning is off and the account is neither a member nor invited.
    #[error("access denied")]
    AccessDenied,
    /// A plugin failed (or broke a rule of the contract) and the binding fails closed.
    #[error("the sign-in could not be completed")]
    Provisioning {
        /// What went wrong, for the audit event.
        rule: Rule,
    },
    /// The store is unavailable or answered with an error.
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

impl LoginError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownDomain => "unknown-domain",
            Self::DomainRequired => "domain-required",
            Self::AuthenticationFailed => "authentication-failed",
            Self::AccountLocked => "account-locked",
            Self::AccountDisabled => "account-disabled",
            Self::AccountSuspended => "account-suspended",
            Self::ForeignEmail => "email-domain-not-verified",
            Self::UnverifiedEmail => "unverified-email",
            Self::Denied { .. } => "denied",
            Self::AccessDenied => "access-denied",
            Self::Provisioning { .. } => "provisioning-failed",
            Self::Unavailable => "unavailable",
        }
    }

    /// The message for the end user: never says which provider failed nor
    /// whether an account exists.
    pub fn public_message(&self) -> String {
        self.to_string()
    }
}

/// The rule a login broke when provisioning failed: what its audit event
/// names, by a stable string ([`Rule`]'s `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// A provider's stored configuration cannot be read (`provider-config`).
    ProviderConfig,
    /// The binding's stored configuration or limits cannot be read
    /// (`binding-config`).
    BindingConfig,
    /// A bound plugin's bytes are not in the store (`plugin-missing`).
    PluginMissing,
    /// A bound plugin no longer meets the contract (`plugin-refused`).
    PluginRefused,
    /// The organization's compile slot stayed busy (`plugin-compiles-saturated`).
    PluginCompilesSaturated,
    /// The organization's plugin calls stayed busy (`plugin-calls-saturated`).
    PluginCallsSaturated,
    /// The built-in group mapping's configuration is broken (`group-mapping-config`).
    GroupMappingConfig,
    /// The principal holds text the store refuses (`principal-control-character`,
    /// `principal-format-character`).
    PrincipalText(TextError),
    /// The account to create holds text the store refuses (`create-text`).
    CreateText,
    /// No free username was found for the account to create (`username-unavailable`).
    UsernameUnavailable,
    /// The host refused a plugin's decision: the judge's rule, for example
    /// `created-email-mismatch` or `assignment-unknown-team`.
    Decision(judge::Rule),
    /// A plugin call gave no decision and the binding fails closed:
    /// `<hook>-limit-<limit>`, `<hook>-<malformed rule>` or `<hook>-<kind>`.
    Hook {
        /// The hook that failed.
        hook: Hook,
        /// How it failed.
        failure: HookFailure,
    },
}

/// How a plugin call failed, as a [`Rule::Hook`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookFailure {
    /// A limit was exceeded.
    Limit(LimitKind),
    /// The decision broke a structural rule (its stable name).
    Malformed(&'static str),
    /// Any other failure kind (`plugin-error`, `trap`, `unavailable`).
    Other(&'static str),
}

impl From<&CallFailure> for HookFailure {
    fn from(failure: &CallFailure) -> Self {
        match failure {
            CallFailure::LimitExceeded { limit, .. } => Self::Limit(*limit),
            CallFailure::Malformed { rule, .. } => Self::Malformed(rule),
            other => Self::Other(other.kind()),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::ProviderConfig => "provider-config",
            Self::BindingConfig => "binding-config",
            Self::PluginMissing => "plugin-missing",
            Self::PluginRefused => "plugin-refused",
            Self::PluginCompilesSaturated => "plugin-compiles-saturated",
            Self::PluginCallsSaturated => "plugin-calls-saturated",
            Self::GroupMappingConfig => "group-mapping-config",
            Self::CreateText => "create-text",
            Self::UsernameUnavailable => "username-unavailable",
            Self::PrincipalText(e) => return write!(f, "principal-{}", e.rule()),
            Self::Decision(rule) => rule.as_str(),
            Self::Hook { hook, failure: HookFailure::Limit(limit) } => return write!(f, "{hook}-limit-{limit}"),
            Self::Hook { hook, failure: HookFailure::Malformed(rule) | HookFailure::Other(rule) } => {
                return write!(f, "{hook}-{rule}");
            }
        };
        f.write_str(name)
    }
}

impl From<Rule> for LoginError {
    fn from(rule: Rule) -> Self {
        Self::Provisioning { rule }
    }
}

impl LoginError {
    /// The rule its audit event records: the provisioning rule, or the
    /// plugin's denial code as `plugin-denied:<code>`.
    pub(crate) fn audit_rule(&self) -> Option<String> {
        match self {
            Self::Provisioning { rule } => Some(rule.to_string()),
            Self::Denied { code, .. } => Some(format!("plugin-denied:{code}")),
            _ => None,
        }
    }
}

impl Serialize for LoginError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::judge;

    #[test]
    fn every_rule_has_its_stable_name() {
        let hook = |hook, failure| Rule::Hook { hook, failure };
        for (rule, name) in [
            (Rule::ProviderConfig, "provider-config"),
            (Rule::BindingConfig, "binding-config"),
            (Rule::PluginMissing, "plugin-missing"),
            (Rule::PluginRefused, "plugin-refused"),
            (Rule::PluginCompilesSaturated, "plugin-compiles-saturated"),
            (Rule::PluginCallsSaturated, "plugin-calls-saturated"),
            (Rule::GroupMappingConfig, "group-mapping-config"),
            (Rule::PrincipalText(TextError::Control(0)), "principal-control-character"),
            (Rule::PrincipalText(TextError::Format(0x200b)), "principal-format-character"),
            (Rule::CreateText, "create-text"),
            (Rule::UsernameUnavailable, "username-unavailable"),
            (Rule::Decision(judge::Rule::AssignmentUnknownTeam), "assignment-unknown-team"),
            (hook(Hook::Create, HookFailure::Limit(LimitKind::Fuel)), "create-limit-fuel"),
            (hook(Hook::Assign, HookFailure::Limit(LimitKind::WallTime)), "assign-limit-wall-time"),
            (hook(Hook::Assign, HookFailure::Malformed("abi")), "assign-abi"),
            (hook(Hook::Create, HookFailure::Other("trap")), "create-trap"),
        ] {
            assert_eq!(rule.to_string(), name);
        }
        let denied = LoginError::Denied { code: "not-a-vip".into(), message: "no".into() };
        assert_eq!(denied.audit_rule().as_deref(), Some("plugin-denied:not-a-vip"));
        assert_eq!(LoginError::AccessDenied.audit_rule(), None);
    }
}
