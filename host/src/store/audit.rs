//! Audit events: appended at every login (inside the login's transaction
//! on success, on their own otherwise) and listed with filters.

use super::db::{Conn, Row, assembled, query};
use super::{AccountId, AuditEvent, AuditFilter, DomainId, NewAuditEvent, OrgId, Store, StoreError};

/// Most events one `list_audit` call returns.
const MAX_PAGE: u32 = 1000;

fn event(row: &Row) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        id: row.get(0)?,
        occurrences: row.get(9)?,
        event: NewAuditEvent {
            at: row.get(1)?,
            org: row.get::<Option<String>>(2)?.map(OrgId::new),
            domain: row.get::<Option<String>>(3)?.map(DomainId::new),
            provider: row.get(4)?,
            account: row.get::<Option<String>>(5)?.map(AccountId::new),
            outcome: row.get(6)?,
            rule: row.get(7)?,
            detail: row.get(8)?,
        },
    })
}

pub(crate) async fn append(c: &mut Conn<'_>, e: &NewAuditEvent) -> Result<i64, StoreError> {
    let q = query(
        "INSERT INTO audit_events (at, org_id, domain_id, provider, account_id, outcome, rule, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .int(e.at)
    .opt_text(e.org.as_ref().map(OrgId::as_str))
    .opt_text(e.domain.as_ref().map(DomainId::as_str))
    .opt_text(e.provider.as_deref())
    .opt_text(e.account.as_ref().map(AccountId::as_str))
    .text(&e.outcome)
    .opt_text(e.rule.as_deref())
    .text(&e.detail);
    let row = c.fetch_optional(q).await?.ok_or_else(|| StoreError::Database("no id for the audit event".into()))?;
    row.get(0)
}

/// A filter value bound to the next placeholder.
enum Value<'a> {
    Text(&'a str),
    Int(i64),
}

/// Audit events.
impl Store {
    /// Records an audit event on its own (a login that failed before or
    /// outside its transaction); its id.
    pub async fn append_audit(&self, event: &NewAuditEvent) -> Result<i64, StoreError> {
        let mut tx = self.db.begin().await?;
        let id = append(&mut tx.conn(), event).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records events together, in one transaction (a batch of shadow
    /// comparisons): all of them, or none.
    pub async fn append_audits(&self, events: &[NewAuditEvent]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for event in events {
            append(&mut tx.conn(), event).await?;
        }
        tx.commit().await
    }

    /// Counts an event that is one of many alike (a failed login without an
    /// account): events with the same organization, domain, outcome and rule
    /// within one minute are one row, whose `occurrences` grows and whose
    /// time and detail are the latest's. Keeps a flood of failures from
    /// growing the audit log by a row each.
    pub async fn count_audit(&self, event: &NewAuditEvent) -> Result<(), StoreError> {
        let text = |v: Option<&str>| v.unwrap_or("-").to_owned();
        let key = format!(
            "{}|{}|{}|{}|{}",
            text(event.org.as_ref().map(OrgId::as_str)),
            text(event.domain.as_ref().map(DomainId::as_str)),
            event.outcome,
            text(event.rule.as_deref()),
            event.at.div_euclid(60_000),
        );
        let q = query(
            "INSERT INTO audit_events (at, org_id, domain_id, provider, account_id, outcome, rule, detail, aggregate_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (aggregate_key) DO UPDATE SET
                 occurrences = audit_events.occurrences + 1, at = excluded.at, detail = excluded.detail",
        )
        .int(event.at)
        .opt_text(event.org.as_ref().map(OrgId::as_str))
        .opt_text(event.domain.as_ref().map(DomainId::as_str))
        .opt_text(event.provider.as_deref())
        .opt_text(event.account.as_ref().map(AccountId::as_str))
        .text(&event.outcome)
        .opt_text(event.rule.as_deref())
        .text(&event.detail)
        .text(&key);
        let mut tx = self.db.begin().await?;
        tx.conn().execute(q).await?;
        tx.commit().await
    }

    /// Removes the principal (`detail.principal`) from every event before
    /// `before` (unix milliseconds) that keeps one, in batches; the rest of
    /// each event stays. How many events changed.
    pub async fn forget_audit_principals(&self, before: i64) -> Result<u64, StoreError> {
        // Compact JSON of the typed detail: the principal is a top-level object.
        const KEPT: &str = "%\"principal\":{%";
        let (mut forgotten, mut after_id) = (0, 0);
        loop {
            let q = query(
                "SELECT id, detail FROM audit_events WHERE at < $1 AND id > $2 AND detail LIKE $3 ORDER BY id LIMIT 500",
            )
            .int(before)
            .int(after_id)
            .text(KEPT);
            let rows = self.conn().await?.conn().fetch_all(q).await?;
            let Some(last) = rows.last() else { return Ok(forgotten) };
            after_id = last.get(0)?;
            let mut tx = self.db.begin().await?;
            for row in &rows {
                let (id, detail): (i64, String) = (row.get(0)?, row.get(1)?);
                let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_str(&detail) else { continue };
                if fields.remove("principal").is_none() {
                    continue;
                }
                let detail = serde_json::Value::Object(fields).to_string();
                tx.conn()
                    .execute(query("UPDATE audit_events SET detail = $1 WHERE id = $2").text(&detail).int(id))
                    .await?;
                forgotten += 1;
            }
            tx.commit().await?;
        }
    }

    /// The events matching `filter`, newest first (by time, then id).
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let conditions: [(&str, Option<Value<'_>>); 7] = [
            ("org_id =", filter.org.as_ref().map(|v| Value::Text(v.as_str()))),
            ("domain_id =", filter.domain.as_ref().map(|v| Value::Text(v.as_str()))),
            ("account_id =", filter.account.as_ref().map(|v| Value::Text(v.as_str()))),
            ("outcome =", filter.outcome.as_deref().map(Value::Text)),
            ("at >=", filter.since.map(Value::Int)),
            ("at <", filter.until.map(Value::Int)),
            ("id <", filter.before_id.map(Value::Int)),
        ];
        // Only fixed fragments go into the text; every value is a placeholder.
        let mut sql = String::from(
            "SELECT id, at, org_id, domain_id, provider, account_id, outcome, rule, detail, occurrences
             FROM audit_events WHERE 1 = 1",
        );
        let mut values = Vec::new();
        for (condition, value) in conditions {
            if let Some(value) = value {
                values.push(value);
                sql.push_str(&format!(" AND {condition} ${}", values.len()));
            }
        }
        sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT ${}", values.len() + 1));
        let mut q = assembled(sql);
        for value in values {
            q = match value {
                Value::Text(v) => q.text(v),
                Value::Int(v) => q.int(v),
            };
        }
        let q = q.int(i64::from(filter.limit.min(MAX_PAGE)));
        self.conn().await?.conn().fetch_all(q).await?.iter().map(event).collect()
    }
}
