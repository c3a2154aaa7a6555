//! Organizations, their teams and roles, their authentication domains and
//! the domains' ordered providers (email domain claims are in `claims.rs`).

use super::db::{Conn, Row, query};
use super::{
    ClaimState, Domain, DomainId, NewDomain, NewProvider, OrgId, Organization, Provider, ProviderId, ProviderKind,
    Role, RoleId, ScimGroupNames, Store, StoreError, Team, TeamId, check_name, now_ms, parse_stored,
};

fn organization(row: &Row) -> Result<Organization, StoreError> {
    Ok(Organization { id: OrgId::new(row.get::<String>(0)?), name: row.get(1)?, created_at: row.get(2)? })
}

fn team(row: &Row) -> Result<Team, StoreError> {
    Ok(Team { id: TeamId::new(row.get::<String>(0)?), org: OrgId::new(row.get::<String>(1)?), name: row.get(2)? })
}

fn role(row: &Row) -> Result<Role, StoreError> {
    Ok(Role { id: RoleId::new(row.get::<String>(0)?), org: OrgId::new(row.get::<String>(1)?), name: row.get(2)? })
}

fn provider(row: &Row) -> Result<Provider, StoreError> {
    Ok(Provider {
        id: ProviderId::new(row.get::<String>(0)?),
        domain: DomainId::new(row.get::<String>(1)?),
        name: row.get(2)?,
        position: row.get(3)?,
        kind: parse_stored(ProviderKind::parse, "provider kind", row.get(4)?)?,
        config: row.get(5)?,
    })
}

pub(crate) async fn team_by_name(c: &mut Conn<'_>, org: &OrgId, name: &str) -> Result<Option<Team>, StoreError> {
    let q = query("SELECT id, org_id, name FROM teams WHERE org_id = $1 AND name = $2").text(org.as_str()).text(name);
    c.fetch_optional(q).await?.as_ref().map(team).transpose()
}

pub(crate) async fn role_by_name(c: &mut Conn<'_>, org: &OrgId, name: &str) -> Result<Option<Role>, StoreError> {
    let q = query("SELECT id, org_id, name FROM roles WHERE org_id = $1 AND name = $2").text(org.as_str()).text(name);
    c.fetch_optional(q).await?.as_ref().map(role).transpose()
}

pub(crate) async fn organization_by_id(c: &mut Conn<'_>, id: &OrgId) -> Result<Option<Organization>, StoreError> {
    let q = query("SELECT id, name, created_at FROM organizations WHERE id = $1").text(id.as_str());
    c.fetch_optional(q).await?.as_ref().map(organization).transpose()
}

/// The domain whose row `q` selects (the columns of `domain_columns!`), with
/// its email domains and providers.
pub(crate) async fn load_domain(c: &mut Conn<'_>, q: super::db::Query) -> Result<Option<Domain>, StoreError> {
    let Some(row) = c.fetch_optional(q).await? else {
        return Ok(None);
    };
    let id = DomainId::new(row.get::<String>(0)?);
    let claims = super::claims::claims_of(c, &id).await?;
    let verified_email_domains =
        claims.iter().filter(|c| c.state == ClaimState::Verified).map(|c| c.email_domain.clone()).collect();
    let email_domains = claims.into_iter().map(|c| c.email_domain).collect();
    let providers = providers_of(c, &id).await?;
    Ok(Some(Domain {
        org: OrgId::new(row.get::<String>(1)?),
        name: row.get(2)?,
        jit: row.get(3)?,
        default_team: row.get::<Option<String>>(4)?.map(TeamId::new),
        scim_group_names: parse_stored(ScimGroupNames::parse, "scim group names", row.get(5)?)?,
        email_domains,
        verified_email_domains,
        providers,
        id,
    }))
}

async fn providers_of(c: &mut Conn<'_>, domain: &DomainId) -> Result<Vec<Provider>, StoreError> {
    let q = query(
        "SELECT id, domain_id, name, position, kind, config FROM providers
         WHERE domain_id = $1 ORDER BY position, name",
    )
    .text(domain.as_str());
    c.fetch_all(q).await?.iter().map(provider).collect()
}

/// Organizations, teams and roles.
impl Store {
    /// Creates an organization; `Conflict { what: Unique::OrganizationName }`
    /// when the name is taken.
    pub async fn create_organization(&self, name: &str) -> Result<Organization, StoreError> {
        check_name("organization name", name)?;
        let org = Organization { id: OrgId::random(), name: name.to_owned(), created_at: now_ms() };
        let q = query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .text(org.id.as_str())
            .text(&org.name)
            .int(org.created_at);
        let mut tx = self.db.begin().await?;
        tx.conn().execute(q).await?;
        tx.commit().await?;
        Ok(org)
    }

    /// Every organization, by name.
    pub async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        let q = query("SELECT id, name, created_at FROM organizations ORDER BY name");
        self.conn().await?.conn().fetch_all(q).await?.iter().map(organization).collect()
    }

    /// The organization with this id.
    pub async fn organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        organization_by_id(&mut self.conn().await?.conn(), id).await
    }

    /// The organization with this name.
    pub async fn organization_by_name(&self, name: &str) -> Result<Option<Organization>, StoreError> {
        let q = query("SELECT id, name, created_at FROM organizations WHERE name = $1").text(name);
        self.conn().await?.conn().fetch_optional(q).await?.as_ref().map(organization).transpose()
    }

    /// Creates a team; `Conflict { what: Unique::TeamName }` when the
    /// organization has one of that name, `NotFound` without the organization.
    pub async fn create_team(&self, org: &OrgId, name: &str) -> Result<Team, StoreError> {
        check_name("team name", name)?;
        let team = Team { id: TeamId::random(), org: org.clone(), name: name.to_owned() };
        let sql = "INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)";
        self.insert_named(sql, team.id.as_str(), org, name).await?;
        Ok(team)
    }

    /// The organization's teams, by name.
    pub async fn list_teams(&self, org: &OrgId) -> Result<Vec<Team>, StoreError> {
        let q = query("SELECT id, org_id, name FROM teams WHERE org_id = $1 ORDER BY name").text(org.as_str());
        self.conn().await?.conn().fetch_all(q).await?.iter().map(team).collect()
    }

    /// The organization's team of this name.
    pub async fn team_by_name(&self, org: &OrgId, name: &str) -> Result<Option<Team>, StoreError> {
        team_by_name(&mut self.conn().await?.conn(), org, name).await
    }

    /// Creates a role; `Conflict { what: Unique::RoleName }` when the organization
    /// has one of that name, `NotFound` without the organization.
    pub async fn create_role(&self, org: &OrgId, name: &str) -> Result<Role, StoreError> {
        check_name("role name", name)?;
        let role = Role { id: RoleId::random(), org: org.clone(), name: name.to_owned() };
        let sql = "INSERT INTO roles (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)";
        self.insert_named(sql, role.id.as_str(), org, name).await?;
        Ok(role)
    }

    /// The organization's roles, by name.
    pub async fn list_roles(&self, org: &OrgId) -> Result<Vec<Role>, StoreError> {
        let q = query("SELECT id, org_id, name FROM roles WHERE org_id = $1 ORDER BY name").text(org.as_str());
        self.conn().await?.conn().fetch_all(q).await?.iter().map(role).collect()
    }

    /// The organization's role of this name.
    pub async fn role_by_name(&self, org: &OrgId, name: &str) -> Result<Option<Role>, StoreError> {
        role_by_name(&mut self.conn().await?.conn(), org, name).await
    }

    /// Inserts a named object of an organization (a team or a role) with
    /// `sql`, whose parameters are id, organization, name and creation time.
    async fn insert_named(&self, sql: &'static str, id: &str, org: &OrgId, name: &str) -> Result<(), StoreError> {
        let q = query(sql).text(id).text(org.as_str()).text(name).int(now_ms()).refers_to("organization");
        let mut tx = self.db.begin().await?;
        tx.conn().execute(q).await?;
        tx.commit().await
    }
}

/// The columns [`load_domain`] reads, in its order: every query that loads a
/// domain selects them through this one list.
macro_rules! domain_columns {
    () => {
        "id, org_id, name, jit, default_team_id, scim_group_names"
    };
}
pub(crate) use domain_columns;

const DOMAIN_BY_ID: &str = concat!("SELECT ", domain_columns!(), " FROM domains WHERE id = $1");

/// Authentication domains and their providers.
impl Store {
    /// Creates a domain with its email domains. `NotFound` when the
    /// organization is missing or the default team is not one of its teams;
    /// `Conflict` when the name (`"domain name"`) or an email domain
    /// (`"email domain"`) is taken.
    pub async fn create_domain(&self, new: NewDomain) -> Result<Domain, StoreError> {
        check_name("domain name", &new.name)?;
        let mut email_domains: Vec<String> =
            new.email_domains.iter().map(|d| super::claims::email_domain(d)).collect::<Result<_, _>>()?;
        email_domains.sort();
        email_domains.dedup();
        let id = DomainId::random();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if organization_by_id(&mut c, &new.org).await?.is_none() {
            return Err(StoreError::NotFound { what: "organization" });
        }
        let insert = query(
            "INSERT INTO domains (id, org_id, name, jit, default_team_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .text(id.as_str())
        .text(new.org.as_str())
        .text(&new.name)
        .bool(new.jit)
        .opt_text(new.default_team.as_ref().map(TeamId::as_str))
        .int(now_ms())
        .refers_to("team of the organization");
        c.execute(insert).await?;
        for d in &email_domains {
            super::claims::insert_claim(&mut c, &id, d).await?;
        }
        let domain = load_domain(&mut c, query(DOMAIN_BY_ID).text(id.as_str())).await?;
        tx.commit().await?;
        domain.ok_or(StoreError::NotFound { what: "domain" })
    }

    /// The domain with this id.
    pub async fn domain(&self, id: &DomainId) -> Result<Option<Domain>, StoreError> {
        load_domain(&mut self.conn().await?.conn(), query(DOMAIN_BY_ID).text(id.as_str())).await
    }

    /// The domain with this name: how a login names its domain.
    pub async fn domain_by_name(&self, name: &str) -> Result<Option<Domain>, StoreError> {
        let q = query(concat!("SELECT ", domain_columns!(), " FROM domains WHERE name = $1")).text(name);
        load_domain(&mut self.conn().await?.conn(), q).await
    }

    /// The organization's domains, by name.
    pub async fn list_domains(&self, org: &OrgId) -> Result<Vec<Domain>, StoreError> {
        let mut pooled = self.conn().await?;
        let mut c = pooled.conn();
        let q = query("SELECT id FROM domains WHERE org_id = $1 ORDER BY name").text(org.as_str());
        let ids: Vec<String> = c.fetch_all(q).await?.iter().map(|r| r.get(0)).collect::<Result<_, _>>()?;
        let mut domains = Vec::with_capacity(ids.len());
        for id in ids {
            domains.extend(load_domain(&mut c, query(DOMAIN_BY_ID).text(&id)).await?);
        }
        Ok(domains)
    }

    /// Switches just-in-time provisioning on or off and sets the default
    /// team (which must be a team of the domain's organization).
    pub async fn update_domain(
        &self,
        id: &DomainId,
        jit: bool,
        default_team: Option<&TeamId>,
    ) -> Result<(), StoreError> {
        let q = query("UPDATE domains SET jit = $2, default_team_id = $3 WHERE id = $1")
            .text(id.as_str())
            .bool(jit)
            .opt_text(default_team.map(TeamId::as_str))
            .refers_to("team of the organization");
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "domain" });
        }
        tx.commit().await
    }

    /// Sets how the domain's SCIM groups name teams.
    pub async fn set_scim_group_names(&self, id: &DomainId, names: ScimGroupNames) -> Result<(), StoreError> {
        let q = query("UPDATE domains SET scim_group_names = $2 WHERE id = $1").text(id.as_str()).text(names.as_str());
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "domain" });
        }
        tx.commit().await
    }

    /// Adds a provider at the end of the domain's order; `Conflict { what:
    /// "provider name" }` when the domain has one of that name.
    pub async fn add_provider(&self, domain: &DomainId, new: NewProvider) -> Result<Provider, StoreError> {
        check_name("provider name", &new.name)?;
        let id = ProviderId::random();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let q =
            query("SELECT COALESCE(MAX(position), 0) + 1 FROM providers WHERE domain_id = $1").text(domain.as_str());
        let position: i64 = c.fetch_optional(q).await?.map(|r| r.get(0)).transpose()?.unwrap_or(1);
        let insert = query(
            "INSERT INTO providers (id, domain_id, name, position, kind, config, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .text(id.as_str())
        .text(domain.as_str())
        .text(&new.name)
        .int(position)
        .text(new.kind.as_str())
        .text(&new.config)
        .int(now_ms())
        .refers_to("domain");
        c.execute(insert).await?;
        tx.commit().await?;
        Ok(Provider { id, domain: domain.clone(), name: new.name, position, kind: new.kind, config: new.config })
    }

    /// The domain's providers, in the order a login tries them.
    pub async fn list_providers(&self, domain: &DomainId) -> Result<Vec<Provider>, StoreError> {
        providers_of(&mut self.conn().await?.conn(), domain).await
    }

    /// Removes a provider of the domain, with its binding and its links to
    /// accounts; `NotFound` when the domain has no such provider.
    pub async fn remove_provider(&self, domain: &DomainId, provider: &ProviderId) -> Result<(), StoreError> {
        let q = query("DELETE FROM providers WHERE id = $1 AND domain_id = $2")
            .text(provider.as_str())
            .text(domain.as_str());
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "provider" });
        }
        tx.commit().await
    }

    /// Replaces a provider's settings.
    pub async fn set_provider_config(&self, provider: &ProviderId, config: &str) -> Result<(), StoreError> {
        let q = query("UPDATE providers SET config = $2 WHERE id = $1").text(provider.as_str()).text(config);
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "provider" });
        }
        tx.commit().await
    }

    /// Puts the domain's providers in this order. `order` must name each of
    /// the domain's providers exactly once.
    pub async fn set_provider_order(&self, domain: &DomainId, order: &[ProviderId]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut current: Vec<ProviderId> = providers_of(&mut c, domain).await?.into_iter().map(|p| p.id).collect();
        let mut wanted = order.to_vec();
        current.sort();
        wanted.sort();
        if current != wanted {
            return Err(StoreError::Invalid {
                what: "provider order",
                reason: "must name each of the domain's providers exactly once".into(),
            });
        }
        for (position, id) in (1..).zip(order) {
            let q = query("UPDATE providers SET position = $3 WHERE id = $1 AND domain_id = $2")
                .text(id.as_str())
                .text(domain.as_str())
                .int(position);
            c.execute(q).await?;
        }
        tx.commit().await
    }
}
