//! The store's typed error, and how database errors become one.

use std::borrow::Cow;

/// Why a store operation failed. Never carries a secret: no password, no
/// password hash, no database URL credentials, no bound values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule was broken: the record already exists. A login
    /// that races another one gets this and retries (see the `store`
    /// module documentation).
    #[error("{what} already exists")]
    Conflict {
        /// Which uniqueness rule.
        what: Unique,
    },
    /// The record asked for, or one it refers to, does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was missing, e.g. `"organization"`, `"team"`, `"account"`.
        what: &'static str,
    },
    /// A value the store refuses before asking the database (an empty name,
    /// a malformed email domain, a schema name that is not an identifier).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The value's name.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The database stayed busy (locked by another writer, or a
    /// serialization failure) longer than the store waits. Transient:
    /// retrying the whole transaction may succeed.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// A value the store wrote itself no longer reads (edited by hand, or
    /// by another version): an error, never a default.
    #[error("the stored {what} of {of} cannot be read")]
    Corrupt {
        /// Which value, e.g. `"configuration"`.
        what: &'static str,
        /// Whose, for the operator to find the row (e.g. `the binding of
        /// domain … and provider …`).
        of: String,
    },
    /// The database URL or the store options cannot be used.
    #[error("cannot use the database configuration: {0}")]
    Config(String),
    /// Applying the migrations failed (a migration was edited after it was
    /// applied, or the database refused one).
    #[error("database migration failed: {0}")]
    Migration(String),
    /// Any other database failure: connection lost, a constraint the store
    /// did not expect, a value it cannot read.
    #[error("database error: {0}")]
    Database(String),
}

/// The uniqueness rules of the store: which record a [`StoreError::Conflict`]
/// says already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unique {
    /// An account with the email (in canonical form).
    AccountEmail,
    /// An account with the username (case-insensitively).
    AccountUsername,
    /// A link of the identity at the provider.
    Link,
    /// An organization with the name.
    OrganizationName,
    /// A team with the name in the organization.
    TeamName,
    /// A role with the name in the organization.
    RoleName,
    /// A domain with the name.
    DomainName,
    /// The domain's claim on the email domain.
    EmailDomainClaim,
    /// A verified claim on the email domain, by any domain.
    VerifiedEmailDomain,
    /// A provider with the name in the domain.
    ProviderName,
    /// An API token with the same hash.
    ApiToken,
    /// A SCIM user with the userName in the domain (case-insensitively).
    ScimUserName,
    /// A SCIM user of the account in the domain.
    ScimUserAccount,
    /// The team is already a SCIM group of the domain.
    ScimGroup,
    /// A SCIM token with the same hash.
    ScimToken,
    /// A rule the database did not name.
    Record,
}

impl Unique {
    /// The rule's name, as error messages say it: `account email`, `link`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountEmail => "account email",
            Self::AccountUsername => "account username",
            Self::Link => "link",
            Self::OrganizationName => "organization name",
            Self::TeamName => "team name",
            Self::RoleName => "role name",
            Self::DomainName => "domain name",
            Self::EmailDomainClaim => "email domain claim",
            Self::VerifiedEmailDomain => "verified email domain",
            Self::ProviderName => "provider name",
            Self::ApiToken => "api token",
            Self::ScimUserName => "scim user name",
            Self::ScimUserAccount => "scim user of the account",
            Self::ScimGroup => "scim group",
            Self::ScimToken => "scim token",
            Self::Record => "record",
        }
    }
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Uniqueness rules by the name PostgreSQL gives them and the text SQLite puts
/// after `UNIQUE constraint failed: `. Both spellings come from the
/// migrations under `host/migrations/`.
const UNIQUE_RULES: &[(&str, &str, Unique)] = &[
    ("accounts_email_key", "accounts.email", Unique::AccountEmail),
    ("accounts_username_key", "index 'accounts_username_key'", Unique::AccountUsername),
    ("links_pkey", "links.provider_id, links.subject", Unique::Link),
    ("organizations_name_key", "organizations.name", Unique::OrganizationName),
    ("teams_org_id_name_key", "teams.org_id, teams.name", Unique::TeamName),
    ("roles_org_id_name_key", "roles.org_id, roles.name", Unique::RoleName),
    ("domains_name_key", "domains.name", Unique::DomainName),
    (
        "email_domain_claims_pkey",
        "email_domain_claims.domain_id, email_domain_claims.email_domain",
        Unique::EmailDomainClaim,
    ),
    ("email_domain_claims_verified", "email_domain_claims.email_domain", Unique::VerifiedEmailDomain),
    ("providers_domain_id_name_key", "providers.domain_id, providers.name", Unique::ProviderName),
    ("api_tokens_pkey", "api_tokens.hash", Unique::ApiToken),
    ("scim_users_user_name", "index 'scim_users_user_name'", Unique::ScimUserName),
    ("scim_users_domain_id_account_id_key", "scim_users.domain_id, scim_users.account_id", Unique::ScimUserAccount),
    ("scim_groups_pkey", "scim_groups.domain_id, scim_groups.team_id", Unique::ScimGroup),
    ("scim_tokens_pkey", "scim_tokens.hash", Unique::ScimToken),
];

const SQLITE_UNIQUE_PREFIX: &str = "UNIQUE constraint failed: ";

/// Turns a database error into a `StoreError`. `refers_to` names what the
/// statement refers to, reported as `NotFound` when a foreign key fails.
pub(crate) fn from_sqlx(error: sqlx::Error, refers_to: Option<&'static str>) -> StoreError {
    use sqlx::error::ErrorKind;
    match &error {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict { what: unique_rule(db.constraint(), db.message()) },
            ErrorKind::ForeignKeyViolation => StoreError::NotFound { what: refers_to.unwrap_or("referenced record") },
            _ if is_busy(db.code()) => StoreError::Busy(db.message().to_owned()),
            _ => StoreError::Database(db.message().to_owned()),
        },
        sqlx::Error::PoolTimedOut => StoreError::Busy("no database connection became free in time".into()),
        // Connection errors, protocol errors, decoding errors: sqlx's text
        // names the problem and never the URL or the bound values.
        other => StoreError::Database(other.to_string()),
    }
}

fn unique_rule(constraint: Option<&str>, message: &str) -> Unique {
    let sqlite_detail = message.strip_prefix(SQLITE_UNIQUE_PREFIX);
    UNIQUE_RULES
        .iter()
        .find(|(pg, sqlite, _)| constraint == Some(*pg) || sqlite_detail == Some(*sqlite))
        .map_or(Unique::Record, |(_, _, what)| *what)
}

/// PostgreSQL `serialization_failure`, `deadlock_detected` and
/// `lock_not_available` (SQLSTATEs are always five characters); SQLite
/// `SQLITE_BUSY` (5), `SQLITE_LOCKED` (6) and their extended codes (numbers
/// of at most four digits whose low byte is the primary code).
fn is_busy(code: Option<Cow<'_, str>>) -> bool {
    let Some(code) = code else { return false };
    let code = code.as_ref();
    if code.len() == 5 {
        return matches!(code, "40001" | "40P01" | "55P03");
    }
    code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_a_unique_rule_name_it() {
        assert_eq!(unique_rule(Some("accounts_email_key"), "duplicate key"), Unique::AccountEmail);
        let sqlite = |detail: &str| unique_rule(None, &format!("{SQLITE_UNIQUE_PREFIX}{detail}"));
        assert_eq!(sqlite("index 'accounts_username_key'"), Unique::AccountUsername);
        assert_eq!(sqlite("accounts.email"), Unique::AccountEmail);
        assert_eq!(sqlite("links.provider_id, links.subject"), Unique::Link);
        assert_eq!(sqlite("elsewhere.x"), Unique::Record);
    }

    #[test]
    fn busy_codes() {
        assert!(is_busy(Some("5".into())));
        assert!(is_busy(Some("517".into())));
        assert!(is_busy(Some("40001".into())));
        assert!(!is_busy(Some("2067".into())));
        assert!(!is_busy(Some("23505".into())));
        assert!(!is_busy(Some("25006".into())));
        assert!(!is_busy(None));
    }
}
