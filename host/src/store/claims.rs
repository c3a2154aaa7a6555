//! Domains' claims on email domains: pending until verified (by the DNS
//! challenge or the operator), and only then counted. Several domains may
//! claim one email domain while pending; one claim of it may be verified,
//! platform-wide (a unique index).

use super::db::{Conn, Row, query};
use super::{
    ClaimState, Domain, DomainId, EmailDomainClaim, Store, StoreError, Unique, Verification, now_ms, parse_stored,
};

/// An email domain as stored: its canonical form.
pub(crate) fn email_domain(value: &str) -> Result<String, StoreError> {
    crate::canonical::email_domain(value).map_err(|e| StoreError::Invalid {
        what: "email domain",
        reason: format!("{}: {e}", crate::canonical::escaped(value.get(..value.len().min(64)).unwrap_or_default())),
    })
}

const CLAIM_COLUMNS: &str = "domain_id, email_domain, state, challenge, created_at, verified_at, verified_by";

fn claim(row: &Row) -> Result<EmailDomainClaim, StoreError> {
    Ok(EmailDomainClaim {
        domain: DomainId::new(row.get::<String>(0)?),
        email_domain: row.get(1)?,
        state: parse_stored(ClaimState::parse, "claim state", row.get(2)?)?,
        challenge: row.get(3)?,
        created_at: row.get(4)?,
        verified_at: row.get(5)?,
        verified_by: match row.get::<Option<String>>(6)? {
            Some(v) => Some(parse_stored(Verification::parse, "verification", v)?),
            None => None,
        },
    })
}

/// The domain's claims, by email domain.
pub(crate) async fn claims_of(c: &mut Conn<'_>, domain: &DomainId) -> Result<Vec<EmailDomainClaim>, StoreError> {
    let q = super::db::assembled(format!(
        "SELECT {CLAIM_COLUMNS} FROM email_domain_claims WHERE domain_id = $1 ORDER BY email_domain"
    ))
    .text(domain.as_str());
    c.fetch_all(q).await?.iter().map(claim).collect()
}

/// Adds a pending claim (canonical `name`) with a fresh challenge token.
/// `Conflict { what: Unique::VerifiedEmailDomain }` when another domain
/// holds it verified; `Conflict { what: Unique::EmailDomainClaim }` when
/// this domain claims it already.
pub(crate) async fn insert_claim(c: &mut Conn<'_>, domain: &DomainId, name: &str) -> Result<(), StoreError> {
    let verified = query("SELECT 1 FROM email_domain_claims WHERE email_domain = $1 AND state = 'verified'").text(name);
    if c.fetch_optional(verified).await?.is_some() {
        return Err(StoreError::Conflict { what: Unique::VerifiedEmailDomain });
    }
    let q = query(
        "INSERT INTO email_domain_claims (domain_id, email_domain, state, challenge, created_at)
         VALUES ($1, $2, 'pending', $3, $4)",
    )
    .text(domain.as_str())
    .text(name)
    .text(&format!("provisio-verify={}", hex::encode(rand::random::<[u8; 20]>())))
    .int(now_ms())
    .refers_to("domain");
    c.execute(q).await.map(|_| ())
}

/// Email domain claims.
impl Store {
    /// The domain's claims, pending and verified, with their challenges.
    pub async fn email_domain_claims(&self, domain: &DomainId) -> Result<Vec<EmailDomainClaim>, StoreError> {
        claims_of(&mut self.conn().await?.conn(), domain).await
    }

    /// Claims another email domain for the domain; the claim is pending
    /// until verified. `Conflict { what: Unique::VerifiedEmailDomain }` when
    /// another domain holds it verified; `Conflict { what:
    /// Unique::EmailDomainClaim }` when this domain claims it already.
    pub async fn add_email_domain(&self, id: &DomainId, email_domain_name: &str) -> Result<(), StoreError> {
        let name = email_domain(email_domain_name)?;
        let mut tx = self.db.begin().await?;
        insert_claim(&mut tx.conn(), id, &name).await?;
        tx.commit().await
    }

    /// Gives up a claim; `NotFound` when the domain does not claim it.
    pub async fn remove_email_domain(&self, id: &DomainId, email_domain_name: &str) -> Result<(), StoreError> {
        let q = query("DELETE FROM email_domain_claims WHERE email_domain = $1 AND domain_id = $2")
            .text(&email_domain(email_domain_name)?)
            .text(id.as_str());
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "email domain claim" });
        }
        tx.commit().await
    }

    /// Marks the domain's claim verified. `NotFound` when it has no such
    /// claim; `Conflict { what: Unique::VerifiedEmailDomain }` when another
    /// domain's claim of it is verified already. Verifying a verified claim
    /// again changes nothing.
    pub async fn verify_email_domain(
        &self,
        id: &DomainId,
        email_domain_name: &str,
        by: Verification,
    ) -> Result<EmailDomainClaim, StoreError> {
        let name = email_domain(email_domain_name)?;
        let q = query(
            "UPDATE email_domain_claims SET state = 'verified', verified_at = $3, verified_by = $4
             WHERE domain_id = $1 AND email_domain = $2 AND state = 'pending'",
        )
        .text(id.as_str())
        .text(&name)
        .int(now_ms())
        .text(by.as_str());
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        c.execute_guarded(q).await?;
        let found = claims_of(&mut c, id).await?.into_iter().find(|claim| claim.email_domain == name);
        let claim = found.ok_or(StoreError::NotFound { what: "email domain claim" })?;
        tx.commit().await?;
        Ok(claim)
    }

    /// The domain holding a verified claim on this email domain: how a
    /// password login without a domain finds its domain from the email.
    pub async fn domain_by_email_domain(&self, email_domain_name: &str) -> Result<Option<Domain>, StoreError> {
        let Ok(name) = email_domain(email_domain_name) else {
            return Ok(None);
        };
        let q = query(concat!(
            "SELECT ",
            super::orgs::domain_columns!(),
            " FROM domains
             WHERE id = (SELECT domain_id FROM email_domain_claims WHERE email_domain = $1 AND state = 'verified')",
        ))
        .text(&name);
        super::orgs::load_domain(&mut self.conn().await?.conn(), q).await
    }
}
