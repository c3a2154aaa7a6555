//! The admin API's answers: the store's and the runtime's records as the
//! API shows them, and what the OpenAPI document describes.
//!
//! Each view is made from its record by naming every field, so a field
//! added to a record does not compile here until the API decides whether
//! to show it. Times are unix milliseconds.

use serde::Serialize;
use utoipa::ToSchema;

use crate::plugin::PluginHash;
use crate::runtime::{PluginInfo, World};
use crate::store::{
    ApiTokenRecord, DomainId, Invitation, InvitationId, InvitationState, OrgId, Organization, PluginRecord, Provider,
    ProviderId, ProviderKind, Role, RoleId, Team, TeamId,
};

/// A tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OrganizationView {
    id: OrgId,
    /// Its unique name.
    name: String,
    created_at: i64,
}

impl From<Organization> for OrganizationView {
    fn from(Organization { id, name, created_at }: Organization) -> Self {
        Self { id, name, created_at }
    }
}

/// A team of an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TeamView {
    id: TeamId,
    org: OrgId,
    /// Its name, unique in the organization.
    name: String,
}

impl From<Team> for TeamView {
    fn from(Team { id, org, name }: Team) -> Self {
        Self { id, org, name }
    }
}

/// A role of an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct RoleView {
    id: RoleId,
    org: OrgId,
    /// Its name, unique in the organization.
    name: String,
}

impl From<Role> for RoleView {
    fn from(Role { id, org, name }: Role) -> Self {
        Self { id, org, name }
    }
}

/// An invitation of an email address to an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct InvitationView {
    id: InvitationId,
    org: OrgId,
    /// The invited email, lower-cased.
    email: String,
    /// The team the invitee joins on acceptance, if any.
    team: Option<TeamId>,
    state: InvitationState,
    created_at: i64,
}

impl From<Invitation> for InvitationView {
    fn from(Invitation { id, org, email, team, state, created_at }: Invitation) -> Self {
        Self { id, org, email, team, state, created_at }
    }
}

/// An authentication domain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DomainView {
    id: DomainId,
    org: OrgId,
    /// Its unique name: what a login's `domain` says.
    name: String,
    /// Whether just-in-time provisioning of memberships is on.
    jit: bool,
    /// The team a new member joins when the identity provider sent no group.
    default_team: Option<TeamId>,
    /// The email domains it claims, pending or verified, in their canonical
    /// (IDNA ASCII) form, sorted.
    email_domains: Vec<String>,
    /// The claimed email domains that are verified: its providers vouch only
    /// for addresses under these, and a password login's domain is found by
    /// them.
    verified_email_domains: Vec<String>,
    /// Its authentication providers, in the order a login tries them.
    providers: Vec<ProviderView>,
    /// How its SCIM groups name teams: `team` or `organization:team`.
    #[schema(value_type = String)]
    scim_group_names: crate::store::ScimGroupNames,
}

impl From<crate::store::Domain> for DomainView {
    fn from(d: crate::store::Domain) -> Self {
        let crate::store::Domain {
            id,
            org,
            name,
            jit,
            default_team,
            scim_group_names,
            email_domains,
            verified_email_domains,
            providers,
        } = d;
        let providers = providers.into_iter().map(ProviderView::from).collect();
        Self { id, org, name, jit, default_team, email_domains, verified_email_domains, providers, scim_group_names }
    }
}

/// A domain's SCIM token, as listed: never the token itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ScimTokenView {
    /// Its public id: the start of the token's SHA-256 in lower-case hex.
    id: String,
    domain: DomainId,
    /// What its maker called it.
    name: String,
    created_at: i64,
    /// When it was revoked; a revoked token no longer authenticates.
    revoked_at: Option<i64>,
}

impl From<crate::store::ScimTokenRecord> for ScimTokenView {
    fn from(
        crate::store::ScimTokenRecord { id, domain, name, created_at, revoked_at }: crate::store::ScimTokenRecord,
    ) -> Self {
        Self { id, domain, name, created_at, revoked_at }
    }
}

/// A domain's claim on an email domain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ClaimView {
    /// The email domain, in its canonical (IDNA ASCII) form.
    email_domain: String,
    /// `pending` or `verified`: only verified claims count.
    #[schema(value_type = String)]
    state: crate::store::ClaimState,
    /// The DNS name to publish the challenge at, as a TXT record.
    challenge_name: String,
    /// The TXT record's value that proves control of the email domain.
    challenge: String,
    /// When it was verified, unix milliseconds.
    verified_at: Option<i64>,
    /// `dns` or `operator`.
    #[schema(value_type = Option<String>)]
    verified_by: Option<crate::store::Verification>,
}

impl From<crate::store::EmailDomainClaim> for ClaimView {
    fn from(c: crate::store::EmailDomainClaim) -> Self {
        Self {
            challenge_name: c.challenge_name(),
            email_domain: c.email_domain,
            state: c.state,
            challenge: c.challenge,
            verified_at: c.verified_at,
            verified_by: c.verified_by,
        }
    }
}

/// One way of checking credentials inside a domain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ProviderView {
    id: ProviderId,
    domain: DomainId,
    /// Its name, unique in the domain.
    name: String,
    /// Its place in the domain's order (ascending).
    position: i64,
    kind: ProviderKind,
    /// Its settings, as JSON text, without secrets (an `ldap` provider's
    /// `bind_password` is write-only).
    config: String,
}

impl From<Provider> for ProviderView {
    fn from(Provider { id, domain, name, position, kind, config }: Provider) -> Self {
        let config = crate::auth::public_config(kind, &config);
        Self { id, domain, name, position, kind, config }
    }
}

/// An uploaded plugin version, named by its content hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PluginView {
    /// SHA-256 of its bytes, in lower-case hex: what a binding names.
    #[schema(value_type = String)]
    hash: PluginHash,
    /// Size of its bytes.
    size: i64,
    /// The world it implements.
    world: String,
    /// What its `name()` returned.
    name: String,
    /// When it was first uploaded.
    uploaded_at: i64,
    /// Who first uploaded it (`org:<id>` for an organization's token).
    uploaded_by: String,
}

impl From<PluginRecord> for PluginView {
    fn from(PluginRecord { hash, size, world, name, uploaded_at, uploaded_by }: PluginRecord) -> Self {
        Self { hash, size, world, name, uploaded_at, uploaded_by }
    }
}

/// The `provisio plugin check` report of an upload.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PluginCheck {
    /// SHA-256 of its bytes, in hex.
    #[schema(value_type = String)]
    hash: PluginHash,
    world: World,
    /// What its `name()` returned.
    name: String,
    /// Everything it imports.
    imports: Vec<String>,
    /// Size of the component in bytes.
    size_bytes: u64,
    /// Milliseconds spent compiling it (or loading its precompiled artifact).
    compile_ms: f64,
    /// Size of its compiled image in memory, in bytes.
    compiled_bytes: u64,
    /// Whether the precompiled artifact came from the disk cache.
    from_disk_cache: bool,
}

impl From<PluginInfo> for PluginCheck {
    fn from(info: PluginInfo) -> Self {
        let PluginInfo { hash, world, name, imports, size_bytes, compile_time, compiled_bytes, from_disk_cache } = info;
        Self {
            hash,
            world,
            name,
            imports,
            size_bytes,
            compile_ms: compile_time.as_secs_f64() * 1000.0,
            compiled_bytes,
            from_disk_cache,
        }
    }
}

/// An organization API token's record; the token itself is never shown again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TokenView {
    /// Its public id: the start of the token's SHA-256 in lower-case hex.
    id: String,
    org: OrgId,
    /// What its maker called it.
    name: String,
    created_at: i64,
    /// When it was revoked; a revoked token no longer authenticates.
    revoked_at: Option<i64>,
}

impl From<ApiTokenRecord> for TokenView {
    fn from(ApiTokenRecord { id, org, name, created_at, revoked_at }: ApiTokenRecord) -> Self {
        Self { id, org, name, created_at, revoked_at }
    }
}
