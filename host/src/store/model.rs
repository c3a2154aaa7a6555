//! The records the store reads and writes, in the host's own types.
//!
//! Times are unix milliseconds. Emails and email domains are stored
//! lower-cased: the store normalises whatever it is given.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::*;

/// The current time in unix milliseconds, as the store records it.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Its identifier.
    pub id: OrgId,
    /// Its unique name.
    pub name: String,
    /// When it was created.
    pub created_at: i64,
}

/// A group inside an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Its identifier.
    pub id: TeamId,
    /// The organization it belongs to.
    pub org: OrgId,
    /// Its name, unique in the organization.
    pub name: String,
}

/// A role inside an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Its identifier.
    pub id: RoleId,
    /// The organization it belongs to.
    pub org: OrgId,
    /// Its name, unique in the organization.
    pub name: String,
}

/// An organization API token as the store keeps it: never the token itself,
/// only its SHA-256, of which the first [`ApiTokenRecord::ID_LEN`] hex
/// characters are the token's public id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// Its public id: the start of the token's SHA-256 in lower-case hex.
    /// Names the token in lists and revocations; says nothing about the token.
    pub id: String,
    /// The organization it acts for.
    pub org: OrgId,
    /// What its maker called it.
    pub name: String,
    /// When it was made.
    pub created_at: i64,
    /// When it was revoked; a revoked token no longer authenticates.
    pub revoked_at: Option<i64>,
}

impl ApiTokenRecord {
    /// How many hex characters of the hash make the public id.
    pub const ID_LEN: usize = 16;
}

/// An authentication domain with everything a login needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// Its identifier.
    pub id: DomainId,
    /// The organization it belongs to.
    pub org: OrgId,
    /// Its unique name.
    pub name: String,
    /// Whether just-in-time provisioning of memberships is on.
    pub jit: bool,
    /// The team a new member joins when the IdP sent no group information.
    pub default_team: Option<TeamId>,
    /// How its SCIM groups name the organization's teams.
    pub scim_group_names: ScimGroupNames,
    /// The email domains it claims (pending or verified), in their
    /// canonical form, sorted.
    pub email_domains: Vec<String>,
    /// The claimed email domains that are verified: the only ones its
    /// providers may vouch for, sorted.
    pub verified_email_domains: Vec<String>,
    /// Its authentication providers, in the order a login tries them.
    pub providers: Vec<Provider>,
}

/// What `Store::create_domain` needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDomain {
    /// The organization it belongs to.
    pub org: OrgId,
    /// Its unique name.
    pub name: String,
    /// Whether just-in-time provisioning of memberships is on.
    pub jit: bool,
    /// A team of the same organization, or none.
    pub default_team: Option<TeamId>,
    /// Email domains to claim; the claims are pending until verified.
    pub email_domains: Vec<String>,
}

/// A domain's claim on an email domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailDomainClaim {
    /// The domain claiming.
    pub domain: DomainId,
    /// The email domain, in its canonical form (IDNA ASCII, lower case).
    pub email_domain: String,
    /// Pending or verified.
    pub state: ClaimState,
    /// The token that proves control of the email domain when published as
    /// a TXT record at `_provisio-challenge.<email_domain>`.
    pub challenge: String,
    /// When it was claimed.
    pub created_at: i64,
    /// When it was verified.
    pub verified_at: Option<i64>,
    /// How it was verified.
    pub verified_by: Option<Verification>,
}

impl EmailDomainClaim {
    /// The DNS name whose TXT record proves control of the email domain.
    pub fn challenge_name(&self) -> String {
        format!("_provisio-challenge.{}", self.email_domain)
    }
}

/// One way of checking credentials inside a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// Its identifier.
    pub id: ProviderId,
    /// The domain it belongs to.
    pub domain: DomainId,
    /// Its name, unique in the domain; what a principal's `provider` says.
    pub name: String,
    /// Its place in the domain's order (ascending).
    pub position: i64,
    /// How it checks credentials.
    pub kind: ProviderKind,
    /// Its settings, a JSON document the provider itself reads.
    pub config: String,
}

/// What `Store::add_provider` needs; the provider goes last in the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProvider {
    /// Its name, unique in the domain.
    pub name: String,
    /// How it checks credentials.
    pub kind: ProviderKind,
    /// Its settings as JSON.
    pub config: String,
}

/// An argon2id password hash in PHC form. Never empty; its `Debug` does not
/// show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string; `None` when it is empty (an empty hash is never
    /// stored: an account without a password has no hash at all).
    pub fn new(phc: impl Into<String>) -> Option<Self> {
        let phc = phc.into();
        (!phc.is_empty()).then_some(Self(phc))
    }

    /// The PHC string, for the password verifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A user, platform-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its identifier.
    pub id: AccountId,
    /// Its email, in its canonical form (`crate::canonical::email`); unique.
    pub email: String,
    /// Its username; unique case-insensitively.
    pub username: String,
    /// Given name, if known.
    pub given_name: Option<String>,
    /// Family name, if known.
    pub family_name: Option<String>,
    /// Whether it may log in.
    pub state: AccountState,
    /// Its password hash; `None` is the unusable-password marker of an
    /// account that logs in only through an identity provider.
    pub password_hash: Option<PasswordHash>,
    /// Extra attributes the identity creator asked to store, in order.
    pub attributes: Vec<(String, String)>,
    /// When it was created.
    pub created_at: i64,
}

/// What `Tx::insert_account` needs. The store gives it an id, lower-cases
/// the email, and makes it active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Email; must not be taken (case-insensitively).
    pub email: String,
    /// Username; must not be taken (case-insensitively).
    pub username: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// `None` for an account without a usable password.
    pub password_hash: Option<PasswordHash>,
    /// Extra attributes to store.
    pub attributes: Vec<(String, String)>,
}

/// What a membership points at inside its organization.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipTarget {
    /// The organization itself.
    Organization,
    /// One of its teams.
    Team(TeamId),
    /// One of its roles.
    Role(RoleId),
}

impl MembershipTarget {
    /// The kind of membership.
    pub fn kind(&self) -> MembershipKind {
        match self {
            Self::Organization => MembershipKind::Organization,
            Self::Team(_) => MembershipKind::Team,
            Self::Role(_) => MembershipKind::Role,
        }
    }
}

/// One membership of an account, with who gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Membership {
    /// The member.
    pub account: AccountId,
    /// The organization.
    pub org: OrgId,
    /// The organization, team or role.
    pub target: MembershipTarget,
    /// Who gave it.
    pub source: MembershipSource,
}

/// A membership as a login reads it: with the name of what it points at
/// (the organization's, team's or role's name), which is what assignment
/// providers and group mappings speak in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamedMembership {
    /// The membership.
    #[serde(flatten)]
    pub membership: Membership,
    /// The organization's, team's or role's name.
    pub name: String,
}

/// An invitation of an email address to an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Its identifier.
    pub id: InvitationId,
    /// The organization invited to.
    pub org: OrgId,
    /// The invited email, in its canonical form.
    pub email: String,
    /// The team the invitee joins on acceptance, if any.
    pub team: Option<TeamId>,
    /// Where it stands.
    pub state: InvitationState,
    /// When it was made.
    pub created_at: i64,
}

/// What `Store::put_plugin` needs. The store names the version by the
/// SHA-256 of `bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlugin {
    /// The component's bytes.
    pub bytes: Vec<u8>,
    /// The world it implements (`identity-creator-plugin`, …).
    pub world: String,
    /// What its `name()` returned.
    pub name: String,
    /// The organization uploading it: it becomes one of the version's
    /// owners, and only owners may bind it.
    pub owner: OrgId,
}

/// An uploaded plugin version, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// Its name: the SHA-256 of its bytes.
    pub hash: crate::plugin::PluginHash,
    /// Size of its bytes.
    pub size: i64,
    /// The world it implements.
    pub world: String,
    /// What its `name()` returned.
    pub name: String,
    /// When it was first uploaded (by the organization asking, in the
    /// answers of [`super::Store::owned_plugin`] and [`super::Store::list_owned_plugins`]).
    pub uploaded_at: i64,
    /// Who first uploaded it: `org:<id>`.
    pub uploaded_by: String,
}

/// Which plugins a domain's provider uses, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The domain.
    pub domain: DomainId,
    /// The provider, one of the domain's.
    pub provider: ProviderId,
    /// The identity creator's version, or none for the built-in one.
    pub creator: Option<crate::plugin::PluginHash>,
    /// The assignment provider's version, or none for the built-in group
    /// mapping.
    pub assigner: Option<crate::plugin::PluginHash>,
    /// The plugins' configuration, validated when it was bound.
    pub config: crate::plugin::BindingConfig,
    /// The binding's limits; `None` for the runtime's defaults. A login
    /// caps them at the operator's ceilings of the moment.
    pub limits: Option<crate::plugin::Limits>,
    /// What a failing plugin does to the login.
    pub failure_policy: FailurePolicy,
    /// When the assignment provider runs.
    pub sync_mode: SyncMode,
    /// Candidate versions a share of the logins runs instead, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// Candidate versions run beside every login, whose decisions are
    /// compared with the live ones and never applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Shadow>,
}

/// Candidate versions of a binding, run for a share of the logins chosen by
/// a stable hash of the principal's provider and subject (a person always
/// sees the same version); promoted to the live ones, or dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// The candidate identity creator; the live one runs when none.
    pub creator: Option<crate::plugin::PluginHash>,
    /// The candidate assignment provider; likewise.
    pub assigner: Option<crate::plugin::PluginHash>,
    /// The share of logins, in percent (1 to 100).
    pub percent: u8,
}

/// Candidate versions of a binding run after each login's live decision,
/// off the login's path, on the same inputs and limits: their decisions
/// are compared with the live ones (the audit and `/metrics` say whether
/// they agreed) and never take effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shadow {
    /// The shadow identity creator, if any.
    pub creator: Option<crate::plugin::PluginHash>,
    /// The shadow assignment provider, if any.
    pub assigner: Option<crate::plugin::PluginHash>,
}

/// An audit event to record. Holds no secret: the engine puts decisions,
/// hashes, durations and rule names in `detail`, never credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    /// When it happened (see [`now_ms`]).
    pub at: i64,
    /// The organization, when known.
    pub org: Option<OrgId>,
    /// The domain, when it was resolved.
    pub domain: Option<DomainId>,
    /// The provider's name, when known.
    pub provider: Option<String>,
    /// The account, when there is one.
    pub account: Option<AccountId>,
    /// The outcome's name (the engine's vocabulary, e.g. `success`).
    pub outcome: String,
    /// The rule that failed, if one did.
    pub rule: Option<String>,
    /// Everything else, as a JSON object.
    pub detail: String,
}

/// A recorded audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Increasing with insertion order.
    pub id: i64,
    /// How many alike events this row stands for (see
    /// [`super::Store::count_audit`]); 1 for an event recorded on its own.
    pub occurrences: i64,
    /// What was recorded.
    #[serde(flatten)]
    pub event: NewAuditEvent,
}

/// Which audit events `Store::list_audit` returns: those matching every
/// field that is set, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only this organization's.
    pub org: Option<OrgId>,
    /// Only this domain's.
    pub domain: Option<DomainId>,
    /// Only this account's.
    pub account: Option<AccountId>,
    /// Only with this outcome.
    pub outcome: Option<String>,
    /// Only at or after this time.
    pub since: Option<i64>,
    /// Only before this time.
    pub until: Option<i64>,
    /// Only with an id below this one: the next page after a page whose
    /// last event had this id.
    pub before_id: Option<i64>,
    /// At most this many (capped at 1000).
    pub limit: u32,
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self {
            org: None,
            domain: None,
            account: None,
            outcome: None,
            since: None,
            until: None,
            before_id: None,
            limit: 100,
        }
    }
}
