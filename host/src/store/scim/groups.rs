//! Teams managed as SCIM groups of a domain, and their members.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::db::{Conn, Row, assembled, query};
use super::super::{
    AccountId, DomainId, OrgId, ScimGroupNames, Store, StoreError, Team, TeamId, Tx, check_name, check_text, now_ms,
};
use super::query::{Sql, bind_all, groups as group_mapping};
use super::{ScimGroup, ScimListQuery, ScimPage, ScimUserId, domain_org};

const GROUP_COLUMNS: &str = "t.id, t.org_id, t.name, o.name, g.external_id, g.version, g.created_at, g.updated_at";
const GROUP_FROM: &str = "FROM scim_groups g JOIN teams t ON t.id = g.team_id JOIN organizations o ON o.id = t.org_id";

fn group_row(row: &Row) -> Result<ScimGroup, StoreError> {
    Ok(ScimGroup {
        team: Team {
            id: TeamId::new(row.get::<String>(0)?),
            org: OrgId::new(row.get::<String>(1)?),
            name: row.get(2)?,
        },
        org_name: row.get(3)?,
        external_id: row.get(4)?,
        members: Vec::new(),
        version: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

async fn with_members(
    c: &mut Conn<'_>,
    domain: &DomainId,
    mut groups: Vec<ScimGroup>,
) -> Result<Vec<ScimGroup>, StoreError> {
    if groups.is_empty() {
        return Ok(groups);
    }
    let ids: Vec<String> = groups.iter().map(|g| g.team.id.as_str().to_owned()).collect();
    let list = (2..2 + ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT team_id, user_id FROM scim_members WHERE domain_id = $1 AND team_id IN ({list}) ORDER BY team_id, user_id"
    );
    let q = ids.iter().fold(assembled(sql).text(domain.as_str()), |q, id| q.text(id));
    let mut members: HashMap<String, Vec<ScimUserId>> = HashMap::new();
    for row in c.fetch_all(q).await? {
        members.entry(row.get(0)?).or_default().push(ScimUserId::new(row.get::<String>(1)?));
    }
    for group in &mut groups {
        group.members = members.remove(group.team.id.as_str()).unwrap_or_default();
    }
    Ok(groups)
}

async fn group_by_id(c: &mut Conn<'_>, domain: &DomainId, team: &TeamId) -> Result<Option<ScimGroup>, StoreError> {
    let sql = format!("SELECT {GROUP_COLUMNS} {GROUP_FROM} WHERE g.domain_id = $1 AND g.team_id = $2");
    let q = assembled(sql).text(domain.as_str()).text(team.as_str());
    let groups = c.fetch_all(q).await?.iter().map(group_row).collect::<Result<Vec<_>, _>>()?;
    Ok(with_members(c, domain, groups).await?.pop())
}

/// The accounts of the domain's live users among `users`; `NotFound`
/// when one is not.
async fn member_accounts(
    c: &mut Conn<'_>,
    domain: &DomainId,
    users: &[ScimUserId],
) -> Result<BTreeMap<ScimUserId, AccountId>, StoreError> {
    // Bounded statements, whatever the size of the group.
    const CHUNK: usize = 500;
    let mut found = BTreeMap::new();
    for chunk in users.chunks(CHUNK) {
        let list = (2..2 + chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql =
            format!("SELECT id, account_id FROM scim_users WHERE domain_id = $1 AND NOT deleted AND id IN ({list})");
        let q = chunk.iter().fold(assembled(sql).text(domain.as_str()), |q, u| q.text(u.as_str()));
        for row in c.fetch_all(q).await? {
            found.insert(ScimUserId::new(row.get::<String>(0)?), AccountId::new(row.get::<String>(1)?));
        }
    }
    if users.iter().any(|u| !found.contains_key(u)) {
        return Err(StoreError::NotFound { what: "member" });
    }
    Ok(found)
}

/// The group's members: each user with its account.
async fn members(
    c: &mut Conn<'_>,
    domain: &DomainId,
    team: &TeamId,
) -> Result<BTreeMap<ScimUserId, AccountId>, StoreError> {
    let q = query(
        "SELECT m.user_id, su.account_id FROM scim_members m JOIN scim_users su ON su.id = m.user_id
         WHERE m.domain_id = $1 AND m.team_id = $2",
    )
    .text(domain.as_str())
    .text(team.as_str());
    let rows = c.fetch_all(q).await?;
    rows.iter().map(|r| Ok((ScimUserId::new(r.get::<String>(0)?), AccountId::new(r.get::<String>(1)?)))).collect()
}

/// Moves the versions of users whose `groups` changed on.
async fn touch_users<'u>(c: &mut Conn<'_>, users: impl Iterator<Item = &'u ScimUserId>) -> Result<(), StoreError> {
    for user in users {
        let q = query("UPDATE scim_users SET version = version + 1, updated_at = $2 WHERE id = $1")
            .text(user.as_str())
            .int(now_ms());
        c.execute(q).await?;
    }
    Ok(())
}

/// SCIM groups, inside a transaction.
impl Tx {
    /// The domain's group of this team.
    pub(crate) async fn scim_group(
        &mut self,
        domain: &DomainId,
        team: &TeamId,
    ) -> Result<Option<ScimGroup>, StoreError> {
        group_by_id(&mut self.conn(), domain, team).await
    }

    /// Makes the organization's team of this name a group of the domain,
    /// creating the team when the organization has none of that name.
    /// `Conflict { what: Unique::ScimGroup }` when the domain manages the
    /// team already.
    pub(crate) async fn insert_scim_group(
        &mut self,
        domain: &DomainId,
        name: &str,
        external_id: Option<&str>,
    ) -> Result<TeamId, StoreError> {
        check_name("team name", name)?;
        if let Some(external_id) = external_id {
            check_text("externalId", external_id)?;
        }
        let mut c = self.conn();
        let org = domain_org(&mut c, domain).await?.ok_or(StoreError::NotFound { what: "domain" })?;
        let team = match super::super::orgs::team_by_name(&mut c, &org, name).await? {
            Some(team) => team.id,
            None => {
                let id = TeamId::random();
                let q = query("INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
                    .text(id.as_str())
                    .text(org.as_str())
                    .text(name)
                    .int(now_ms());
                c.execute_guarded(q).await?;
                id
            }
        };
        let now = now_ms();
        let q = query(
            "INSERT INTO scim_groups (domain_id, team_id, external_id, version, created_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $4)",
        )
        .text(domain.as_str())
        .text(team.as_str())
        .opt_text(external_id)
        .int(now);
        c.execute_guarded(q).await?;
        Ok(team)
    }

    /// Renames the group's team, sets its externalId and moves its version
    /// on. `Conflict { what: Unique::TeamName }` when the organization has
    /// another team of the name.
    pub(crate) async fn update_scim_group(
        &mut self,
        domain: &DomainId,
        team: &TeamId,
        name: &str,
        external_id: Option<&str>,
    ) -> Result<(), StoreError> {
        check_name("team name", name)?;
        if let Some(external_id) = external_id {
            check_text("externalId", external_id)?;
        }
        let mut c = self.conn();
        let q = query(
            "UPDATE scim_groups SET external_id = $3, version = version + 1, updated_at = $4
             WHERE domain_id = $1 AND team_id = $2",
        )
        .text(domain.as_str())
        .text(team.as_str())
        .opt_text(external_id)
        .int(now_ms());
        if c.execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "scim group" });
        }
        let q = query("UPDATE teams SET name = $2 WHERE id = $1 AND name <> $2").text(team.as_str()).text(name);
        if c.execute_guarded(q).await? > 0 {
            // The members' `groups` show the team's name.
            let members = members(&mut c, domain, team).await?;
            touch_users(&mut c, members.keys()).await?;
        }
        Ok(())
    }

    /// Makes `users` (the domain's users, by id) the group's members; the
    /// accounts whose membership changed, for
    /// [`Tx::sync_scim_memberships`]. `NotFound { what: "member" }` when an
    /// id is not a user of the domain.
    pub(crate) async fn set_scim_members(
        &mut self,
        domain: &DomainId,
        team: &TeamId,
        users: &[ScimUserId],
    ) -> Result<Vec<AccountId>, StoreError> {
        let mut c = self.conn();
        let wanted = member_accounts(&mut c, domain, users).await?;
        let before = members(&mut c, domain, team).await?;
        let mut affected = BTreeSet::new();
        for (user, account) in before.iter().filter(|(user, _)| !wanted.contains_key(*user)) {
            let q = query("DELETE FROM scim_members WHERE domain_id = $1 AND team_id = $2 AND user_id = $3")
                .text(domain.as_str())
                .text(team.as_str())
                .text(user.as_str());
            c.execute(q).await?;
            affected.insert(account.clone());
        }
        for (user, account) in wanted.iter().filter(|(user, _)| !before.contains_key(*user)) {
            let q = query("INSERT INTO scim_members (domain_id, team_id, user_id) VALUES ($1, $2, $3)")
                .text(domain.as_str())
                .text(team.as_str())
                .text(user.as_str());
            c.execute(q).await?;
            affected.insert(account.clone());
        }
        let changed = before
            .keys()
            .filter(|u| !wanted.contains_key(*u))
            .chain(wanted.keys().filter(|u| !before.contains_key(*u)));
        touch_users(&mut c, changed).await?;
        Ok(affected.into_iter().collect())
    }

    /// Stops managing the team as a group of the domain: its SCIM members
    /// leave it; the team stays. The accounts whose membership changed, or
    /// `None` when there was no such group.
    pub(crate) async fn delete_scim_group(
        &mut self,
        domain: &DomainId,
        team: &TeamId,
    ) -> Result<Option<Vec<AccountId>>, StoreError> {
        let mut c = self.conn();
        let members = members(&mut c, domain, team).await?;
        touch_users(&mut c, members.keys()).await?;
        let affected = members.into_values().collect();
        let q = query("DELETE FROM scim_groups WHERE domain_id = $1 AND team_id = $2")
            .text(domain.as_str())
            .text(team.as_str());
        match c.execute(q).await? {
            0 => Ok(None),
            _ => Ok(Some(affected)),
        }
    }
}

/// SCIM groups, read outside a transaction.
impl Store {
    /// The domain's group of this team.
    pub(crate) async fn scim_group(&self, domain: &DomainId, team: &TeamId) -> Result<Option<ScimGroup>, StoreError> {
        group_by_id(&mut self.conn().await?.conn(), domain, team).await
    }

    /// The domain's groups that `list.filter` selects, sorted and paged by
    /// the database; see [`Store::list_scim_users`] for the nested result.
    pub(crate) async fn list_scim_groups(
        &self,
        domain: &DomainId,
        display: ScimGroupNames,
        list: ScimListQuery<'_>,
    ) -> Result<Result<ScimPage<ScimGroup>, crate::scim::ScimError>, StoreError> {
        let mapping = group_mapping(display);
        let mut sql = Sql::new(&mapping, self.backend(), 2);
        let condition = match list.filter.map(|f| sql.condition(f)).transpose() {
            Ok(condition) => condition.unwrap_or_else(|| "TRUE".to_owned()),
            Err(e) => return Ok(Err(e)),
        };
        let order = match sql.order_by(list.sort_by, list.descending, "g.created_at", "g.team_id") {
            Ok(order) => order,
            Err(e) => return Ok(Err(e)),
        };
        let from = format!("{GROUP_FROM} WHERE g.domain_id = $1 AND ({condition})");
        let mut pooled = self.conn().await?;
        let mut c = pooled.conn();
        let count = bind_all(assembled(format!("SELECT COUNT(*) {from}")).text(domain.as_str()), sql.args.clone());
        let total: i64 = c.fetch_optional(count).await?.map(|r| r.get(0)).transpose()?.unwrap_or(0);
        let n = sql.args.len();
        let page = format!("SELECT {GROUP_COLUMNS} {from} ORDER BY {order} LIMIT ${} OFFSET ${}", n + 2, n + 3);
        let q = bind_all(assembled(page).text(domain.as_str()), sql.args)
            .int(i64::try_from(list.limit).unwrap_or(i64::MAX))
            .int(i64::try_from(list.offset).unwrap_or(i64::MAX));
        let groups = c.fetch_all(q).await?.iter().map(group_row).collect::<Result<Vec<_>, _>>()?;
        let items = with_members(&mut c, domain, groups).await?;
        Ok(Ok(ScimPage { total: u64::try_from(total).unwrap_or(0), items }))
    }
}
