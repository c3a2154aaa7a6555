//! Why a login failed, as the engine's caller sees it: a stable code, a
//! message safe for end users, and the rule that was broken (for the audit).

use serde::Serialize;

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
        /// The stable name of what went wrong, for the audit event.
        rule: String,
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

/// The outcome recorded in an audit event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Failure {
    pub(crate) error: LoginError,
    pub(crate) rule: Option<String>,
}

impl From<LoginError> for Failure {
    fn from(error: LoginError) -> Self {
        let rule = match &error {
            LoginError::Provisioning { rule } => Some(rule.clone()),
            LoginError::Denied { code, .. } => Some(format!("plugin-denied:{code}")),
            _ => None,
        };
        Self { error, rule }
    }
}

impl Serialize for LoginError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}
