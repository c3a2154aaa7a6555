//! SCIM users: reads by id and by filter, writes inside a [`Tx`], and the
//! memberships of source `scim` derived from users and groups.

use std::collections::{BTreeSet, HashMap};

use super::super::accounts::accounts_by_ids;
use super::super::db::{Conn, Query, Row, assembled, query};
use super::super::{Account, AccountId, DomainId, OrgId, Store, StoreError, Team, TeamId, Tx, check_text, now_ms};
use super::query::{Sql, USERS, bind_all};
use super::{Enterprise, ScimEmail, ScimListQuery, ScimPage, ScimUser, ScimUserFields, ScimUserId};

/// The columns `user_row` reads, in its order, of `scim_users u`.
const USER_COLUMNS: &str = "u.id, u.domain_id, u.account_id, u.user_name, u.external_id, u.display_name,
    u.employee_number, u.cost_center, u.organization, u.division, u.department, u.active, u.version,
    u.created_at, u.updated_at";

/// The `scim_users` row of a user, before its account, emails and groups
/// are read.
struct UserRow {
    id: ScimUserId,
    domain: DomainId,
    account: AccountId,
    fields: ScimUserFields,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

fn user_row(row: &Row) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: ScimUserId::new(row.get::<String>(0)?),
        domain: DomainId::new(row.get::<String>(1)?),
        account: AccountId::new(row.get::<String>(2)?),
        fields: ScimUserFields {
            user_name: row.get(3)?,
            external_id: row.get(4)?,
            display_name: row.get(5)?,
            enterprise: Enterprise {
                employee_number: row.get(6)?,
                cost_center: row.get(7)?,
                organization: row.get(8)?,
                division: row.get(9)?,
                department: row.get(10)?,
            },
            emails: Vec::new(),
            active: row.get(11)?,
        },
        version: row.get(12)?,
        created_at: row.get(13)?,
        updated_at: row.get(14)?,
    })
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The users of `rows`, complete: account, emails and groups.
async fn complete(c: &mut Conn<'_>, rows: Vec<UserRow>) -> Result<Vec<ScimUser>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut emails: HashMap<String, Vec<ScimEmail>> = HashMap::new();
    let sql = format!(
        "SELECT user_id, value, type, is_primary FROM scim_user_emails WHERE user_id IN ({}) ORDER BY user_id, position",
        placeholders(1, ids.len())
    );
    let q = ids.iter().fold(assembled(sql), |q, id| q.text(id));
    for row in c.fetch_all(q).await? {
        let email = ScimEmail { value: row.get(1)?, kind: row.get(2)?, primary: row.get(3)? };
        emails.entry(row.get(0)?).or_default().push(email);
    }
    let mut groups: HashMap<String, Vec<Team>> = HashMap::new();
    let sql = format!(
        "SELECT m.user_id, t.id, t.org_id, t.name FROM scim_members m JOIN teams t ON t.id = m.team_id
         WHERE m.user_id IN ({}) ORDER BY m.user_id, t.name",
        placeholders(1, ids.len())
    );
    let q = ids.iter().fold(assembled(sql), |q, id| q.text(id));
    for row in c.fetch_all(q).await? {
        let team =
            Team { id: TeamId::new(row.get::<String>(1)?), org: OrgId::new(row.get::<String>(2)?), name: row.get(3)? };
        groups.entry(row.get(0)?).or_default().push(team);
    }
    let account_ids: Vec<&AccountId> = rows.iter().map(|r| &r.account).collect();
    let mut accounts: HashMap<AccountId, Account> =
        accounts_by_ids(c, &account_ids).await?.into_iter().map(|a| (a.id.clone(), a)).collect();
    let mut users = Vec::with_capacity(rows.len());
    for mut row in rows {
        let account = accounts
            .remove(&row.account)
            .ok_or_else(|| StoreError::Corrupt { what: "account", of: format!("SCIM user {}", row.id.as_str()) })?;
        row.fields.emails = emails.remove(row.id.as_str()).unwrap_or_default();
        users.push(ScimUser {
            groups: groups.remove(row.id.as_str()).unwrap_or_default(),
            id: row.id,
            domain: row.domain,
            account,
            fields: row.fields,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        });
    }
    Ok(users)
}

async fn user_by_id(c: &mut Conn<'_>, domain: &DomainId, id: &ScimUserId) -> Result<Option<ScimUser>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM scim_users u WHERE u.domain_id = $1 AND u.id = $2 AND NOT u.deleted");
    let q = assembled(sql).text(domain.as_str()).text(id.as_str());
    let rows = c.fetch_all(q).await?.iter().map(user_row).collect::<Result<Vec<_>, _>>()?;
    Ok(complete(c, rows).await?.pop())
}

fn check_fields(fields: &ScimUserFields) -> Result<(), StoreError> {
    super::super::check_name("userName", &fields.user_name)?;
    let e = &fields.enterprise;
    let texts = [
        ("externalId", &fields.external_id),
        ("displayName", &fields.display_name),
        ("employeeNumber", &e.employee_number),
        ("costCenter", &e.cost_center),
        ("organization", &e.organization),
        ("division", &e.division),
        ("department", &e.department),
    ];
    for (what, value) in texts {
        if let Some(value) = value {
            check_text(what, value)?;
        }
    }
    for email in &fields.emails {
        if let Some(kind) = &email.kind {
            check_text("emails.type", kind)?;
        }
    }
    Ok(())
}

/// `q` with the columns a client writes of a user, in the order
/// `user_name, user_name_key, external_id, display_name, employee_number,
/// cost_center, organization, division, department, active`: the insert and
/// the update list them alike.
fn bind_fields(q: Query, fields: &ScimUserFields) -> Query {
    let e = &fields.enterprise;
    q.text(&fields.user_name)
        .text(&user_name_key(&fields.user_name))
        .opt_text(fields.external_id.as_deref())
        .opt_text(fields.display_name.as_deref())
        .opt_text(e.employee_number.as_deref())
        .opt_text(e.cost_center.as_deref())
        .opt_text(e.organization.as_deref())
        .opt_text(e.division.as_deref())
        .opt_text(e.department.as_deref())
        .opt_bool(fields.active)
}

/// The key `userName` is unique by in a domain: ASCII letters lower-cased.
fn user_name_key(user_name: &str) -> String {
    user_name.to_ascii_lowercase()
}

async fn write_emails(c: &mut Conn<'_>, id: &ScimUserId, emails: &[ScimEmail]) -> Result<(), StoreError> {
    c.execute(query("DELETE FROM scim_user_emails WHERE user_id = $1").text(id.as_str())).await?;
    for (position, email) in emails.iter().enumerate() {
        let q = query(
            "INSERT INTO scim_user_emails (user_id, position, value, type, is_primary) VALUES ($1, $2, $3, $4, $5)",
        )
        .text(id.as_str())
        .int(i64::try_from(position).unwrap_or(i64::MAX))
        .text(&email.value)
        .opt_text(email.kind.as_deref())
        .bool(email.primary);
        c.execute(q).await?;
    }
    Ok(())
}

/// SCIM users, inside a transaction.
impl Tx {
    /// The domain's user with this id, unless deleted.
    pub(crate) async fn scim_user(
        &mut self,
        domain: &DomainId,
        id: &ScimUserId,
    ) -> Result<Option<ScimUser>, StoreError> {
        user_by_id(&mut self.conn(), domain, id).await
    }

    /// The id of the domain's user that is this account, unless deleted.
    pub(crate) async fn scim_user_of_account(
        &mut self,
        domain: &DomainId,
        account: &AccountId,
    ) -> Result<Option<ScimUserId>, StoreError> {
        let q = query("SELECT id FROM scim_users WHERE domain_id = $1 AND account_id = $2 AND NOT deleted")
            .text(domain.as_str())
            .text(account.as_str());
        self.conn().fetch_optional(q).await?.map(|r| r.get::<String>(0).map(ScimUserId::new)).transpose()
    }

    /// Records the account as a new user of the domain, replacing a deleted
    /// user of the same account. `Conflict` with `Unique::ScimUserName` or
    /// `Unique::ScimUserAccount` when the userName or the account is taken in
    /// the domain.
    pub(crate) async fn insert_scim_user(
        &mut self,
        domain: &DomainId,
        account: &AccountId,
        fields: &ScimUserFields,
    ) -> Result<ScimUserId, StoreError> {
        check_fields(fields)?;
        let mut c = self.conn();
        let q = query("DELETE FROM scim_users WHERE domain_id = $1 AND account_id = $2 AND deleted")
            .text(domain.as_str())
            .text(account.as_str());
        c.execute(q).await?;
        let id = ScimUserId::random();
        let q = query(
            "INSERT INTO scim_users (id, domain_id, account_id, user_name, user_name_key, external_id, display_name,
                employee_number, cost_center, organization, division, department, active, deleted, version,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, FALSE, 1, $14, $14)",
        )
        .text(id.as_str())
        .text(domain.as_str())
        .text(account.as_str());
        let q = bind_fields(q, fields).int(now_ms()).refers_to("domain or account");
        c.execute_guarded(q).await?;
        write_emails(&mut c, &id, &fields.emails).await?;
        Ok(id)
    }

    /// Replaces what the client wrote of the user and moves its version on.
    /// `NotFound` when the domain has no such user; `Conflict` as
    /// [`Tx::insert_scim_user`].
    pub(crate) async fn update_scim_user(
        &mut self,
        domain: &DomainId,
        id: &ScimUserId,
        fields: &ScimUserFields,
    ) -> Result<(), StoreError> {
        check_fields(fields)?;
        let q = query(
            "UPDATE scim_users SET user_name = $3, user_name_key = $4, external_id = $5, display_name = $6,
                employee_number = $7, cost_center = $8, organization = $9, division = $10, department = $11,
                active = $12, version = version + 1, updated_at = $13
             WHERE domain_id = $1 AND id = $2 AND NOT deleted",
        )
        .text(domain.as_str())
        .text(id.as_str());
        let q = bind_fields(q, fields).int(now_ms());
        let mut c = self.conn();
        if c.execute_guarded(q).await? == 0 {
            return Err(StoreError::NotFound { what: "scim user" });
        }
        write_emails(&mut c, id, &fields.emails).await
    }

    /// Deletes the user: it leaves the domain's groups and is kept hidden and
    /// inactive, so the person stays de-provisioned. Whether there was one.
    pub(crate) async fn delete_scim_user(&mut self, domain: &DomainId, id: &ScimUserId) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE scim_users SET deleted = TRUE, active = FALSE, version = version + 1, updated_at = $3
             WHERE domain_id = $1 AND id = $2 AND NOT deleted",
        )
        .text(domain.as_str())
        .text(id.as_str())
        .int(now_ms());
        let mut c = self.conn();
        if c.execute(q).await? == 0 {
            return Ok(false);
        }
        // The groups it leaves show one member fewer.
        let q = query(
            "UPDATE scim_groups SET version = version + 1, updated_at = $2
             WHERE (domain_id, team_id) IN (SELECT domain_id, team_id FROM scim_members WHERE user_id = $1)",
        )
        .text(id.as_str())
        .int(now_ms());
        c.execute(q).await?;
        c.execute(query("DELETE FROM scim_members WHERE user_id = $1").text(id.as_str())).await?;
        Ok(true)
    }

    /// Changes the account's email (in canonical form). `Conflict { what:
    /// Unique::AccountEmail }` when another account has it.
    pub(crate) async fn set_account_email(&mut self, account: &AccountId, email: &str) -> Result<(), StoreError> {
        let q = query("UPDATE accounts SET email = $2 WHERE id = $1").text(account.as_str()).text(email);
        match self.conn().execute_guarded(q).await? {
            0 => Err(StoreError::NotFound { what: "account" }),
            _ => Ok(()),
        }
    }

    /// Brings the account's memberships of source `scim` in the organization
    /// in line with its SCIM users and groups there. A person that a SCIM
    /// user of the organization marks inactive (or deleted) is
    /// de-provisioned: every membership in the organization goes, whatever
    /// its source. Otherwise an active SCIM user makes the account a member
    /// of the organization and of its groups' teams.
    pub(crate) async fn sync_scim_memberships(&mut self, org: &OrgId, account: &AccountId) -> Result<(), StoreError> {
        let mut c = self.conn();
        let q = query(
            "SELECT su.active FROM scim_users su JOIN domains d ON d.id = su.domain_id
             WHERE d.org_id = $1 AND su.account_id = $2",
        )
        .text(org.as_str())
        .text(account.as_str());
        let states: Vec<Option<bool>> = c.fetch_all(q).await?.iter().map(|r| r.get(0)).collect::<Result<_, _>>()?;
        if states.contains(&Some(false)) {
            let q = query("DELETE FROM memberships WHERE org_id = $1 AND account_id = $2")
                .text(org.as_str())
                .text(account.as_str());
            c.execute(q).await?;
            return Ok(());
        }
        let q = query(
            "SELECT DISTINCT m.team_id FROM scim_members m
             JOIN scim_users su ON su.id = m.user_id
             JOIN domains d ON d.id = su.domain_id
             WHERE d.org_id = $1 AND su.account_id = $2 AND COALESCE(su.active, TRUE) AND NOT su.deleted",
        )
        .text(org.as_str())
        .text(account.as_str());
        let mut wanted: BTreeSet<(&str, String)> =
            c.fetch_all(q).await?.iter().map(|r| r.get(0).map(|t| ("team", t))).collect::<Result<_, _>>()?;
        if !states.is_empty() {
            wanted.insert(("organization", org.as_str().to_owned()));
        }
        let q =
            query("SELECT kind, target_id FROM memberships WHERE org_id = $1 AND account_id = $2 AND source = 'scim'")
                .text(org.as_str())
                .text(account.as_str());
        let held: BTreeSet<(String, String)> =
            c.fetch_all(q).await?.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect::<Result<_, StoreError>>()?;
        for (kind, target) in &held {
            if !wanted.contains(&(kind.as_str(), target.clone())) {
                let q = query(
                    "DELETE FROM memberships
                     WHERE account_id = $1 AND org_id = $2 AND kind = $3 AND target_id = $4 AND source = 'scim'",
                )
                .text(account.as_str())
                .text(org.as_str())
                .text(kind)
                .text(target);
                c.execute(q).await?;
            }
        }
        for (kind, target) in &wanted {
            if !held.contains(&((*kind).to_owned(), target.clone())) {
                let q = query(
                    "INSERT INTO memberships (account_id, org_id, kind, target_id, source, created_at)
                     VALUES ($1, $2, $3, $4, 'scim', $5) ON CONFLICT DO NOTHING",
                )
                .text(account.as_str())
                .text(org.as_str())
                .text(kind)
                .text(target)
                .int(now_ms());
                c.execute(q).await?;
            }
        }
        Ok(())
    }
}

/// SCIM users, read outside a transaction.
impl Store {
    /// The domain's user with this id, unless deleted.
    pub(crate) async fn scim_user(&self, domain: &DomainId, id: &ScimUserId) -> Result<Option<ScimUser>, StoreError> {
        user_by_id(&mut self.conn().await?.conn(), domain, id).await
    }

    /// The domain's users that `list.filter` selects, sorted and paged by the
    /// database. A filter or sort the store cannot translate is a SCIM
    /// error, not a store error: hence the nested result.
    pub(crate) async fn list_scim_users(
        &self,
        domain: &DomainId,
        list: ScimListQuery<'_>,
    ) -> Result<Result<ScimPage<ScimUser>, crate::scim::ScimError>, StoreError> {
        let mut sql = Sql::new(&USERS, self.backend(), 2);
        let condition = match list.filter.map(|f| sql.condition(f)).transpose() {
            Ok(condition) => condition.unwrap_or_else(|| "TRUE".to_owned()),
            Err(e) => return Ok(Err(e)),
        };
        let order = match sql.order_by(list.sort_by, list.descending, "u.created_at", "u.id") {
            Ok(order) => order,
            Err(e) => return Ok(Err(e)),
        };
        let from = format!(
            "FROM scim_users u JOIN accounts a ON a.id = u.account_id
             WHERE u.domain_id = $1 AND NOT u.deleted AND ({condition})"
        );
        let mut pooled = self.conn().await?;
        let mut c = pooled.conn();
        let count = bind_all(assembled(format!("SELECT COUNT(*) {from}")).text(domain.as_str()), sql.args.clone());
        let total: i64 = c.fetch_optional(count).await?.map(|r| r.get(0)).transpose()?.unwrap_or(0);
        let n = sql.args.len();
        let page = format!("SELECT {USER_COLUMNS} {from} ORDER BY {order} LIMIT ${} OFFSET ${}", n + 2, n + 3);
        let q = bind_all(assembled(page).text(domain.as_str()), sql.args)
            .int(i64::try_from(list.limit).unwrap_or(i64::MAX))
            .int(i64::try_from(list.offset).unwrap_or(i64::MAX));
        let rows = c.fetch_all(q).await?.iter().map(user_row).collect::<Result<Vec<_>, _>>()?;
        let items = complete(&mut c, rows).await?;
        Ok(Ok(ScimPage { total: u64::try_from(total).unwrap_or(0), items }))
    }
}
