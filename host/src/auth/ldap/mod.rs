//! The `ldap` provider: a domain whose people live in an LDAP directory
//! (OpenLDAP, Active Directory).
//!
//! A login is a search, then a bind *as the user*: the service account finds
//! the one entry that `user_filter` matches for what the user typed (escaped
//! per RFC 4515: it can never change the filter), its groups are read, and a
//! simple bind with the entry's DN (from the directory, never built from
//! input) and the given password checks the password. An empty password is
//! refused before anything is sent: a simple bind with one is an
//! unauthenticated bind that succeeds.
//!
//! Answers, in the chain's terms:
//! - no entry matches: *not applicable* (the next provider is tried);
//! - wrong password, several entries, an account disabled in the
//!   directory, an entry without an id or email: *rejected*;
//! - the directory cannot be reached, or does not answer within
//!   `timeout_ms` all told: *unreachable*, which the chain treats as not
//!   applicable and the audit records.
//!
//! Attempts are counted by the password throttle, per (domain, provider,
//! login) and per source address, so that a guesser can neither use the
//! host against the directory nor lock the directory's own account out.
//! Connections are pooled per (domain, provider, settings) and bounded
//! ([`pool`]); nothing read at a login is kept for the next one.

mod config;
mod connection;
mod pool;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::time::Instant;

use crate::plugin::Principal;
use crate::plugin::validate::{MAX_EMAIL, MAX_PERSON_NAME};

pub use config::{AttributeMap, BindPassword, DisabledRule, GroupLookup, LdapConfig};
pub use pool::LdapPools;

use super::chain::ConfigError;
use super::outcome::{Answer, Oversized, RejectReason};
use super::password::PasswordServices;
use super::throttle::{AttemptKey, ReserveError};
use super::{MAX_CLAIM_BYTES, MAX_EMAIL_BYTES, MAX_GROUP_BYTES, MAX_GROUPS, MAX_PASSWORD_BYTES};
use connection::{Connection, Entry, Fault, Found, Target};
use pool::Pool;

/// The claim holding the directory's login name (`attributes.username`).
pub const USERNAME_CLAIM: &str = "preferred_username";
/// The claim holding the directory's display name.
pub const DISPLAY_NAME_CLAIM: &str = "name";

/// A checked `ldap` provider configuration, ready to authenticate.
#[derive(Debug, Clone)]
pub(crate) struct LdapProvider {
    config: LdapConfig,
    /// The SHA-256 of the settings (hex): with the domain and provider
    /// names, the key of this provider's connection pool. A hash, so that
    /// no `Debug` output shows the service password.
    key: String,
    target: Target,
}

/// What the directory provider uses of the shared services.
pub(crate) struct LdapServices<'a> {
    pub(crate) pools: &'a LdapPools,
    pub(crate) addresses: super::oidc::JwksAddresses,
    pub(crate) throttle: PasswordServices<'a>,
}

impl LdapProvider {
    /// Checks `config` completely (TLS roots included). Connects nowhere.
    pub(crate) fn new(config: LdapConfig) -> Result<Self, ConfigError> {
        config.check()?;
        let target = Target::new(&config.urls, config.starttls, config.ca_pem.as_deref())?;
        let json = serde_json::to_string(&config).map_err(|e| ConfigError::Json(e.to_string()))?;
        let key = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(json.as_bytes()));
        Ok(Self { config, key, target })
    }

    /// This provider's answer to a login and password.
    pub(crate) async fn authenticate(
        &self,
        services: LdapServices<'_>,
        provider: &str,
        domain: &str,
        login: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Answer {
        if login.trim().is_empty() {
            return Answer::NotApplicable;
        }
        if login.len() > MAX_EMAIL_BYTES || password.len() > MAX_PASSWORD_BYTES {
            return Answer::Rejected(RejectReason::OversizedCredential);
        }
        if password.is_empty() {
            return Answer::Rejected(RejectReason::EmptyPassword);
        }
        let PasswordServices { policy, ledger, clock, .. } = services.throttle;
        let mut keys = vec![AttemptKey::directory(domain, provider, login)];
        keys.extend(source.map(AttemptKey::source));
        match ledger.reserve(&keys, policy, clock.now()).await {
            Ok(()) => {}
            Err(ReserveError::Locked(_)) => return Answer::Rejected(RejectReason::Throttled),
            Err(ReserveError::Unavailable(e)) => return Answer::Rejected(RejectReason::ThrottleUnavailable(e.0)),
        }
        let pool = services.pools.get(&[domain, provider, &self.key], || {
            let secret = self.config.bind_password.as_ref().map_or("", BindPassword::expose);
            Pool::new(self.target.clone(), &self.config.bind_dn, secret, self.config.max_connections)
        });
        let deadline = Instant::now() + self.config.timeout();
        let login_as = Login { provider, domain, login, password };
        let checked = self.check(&pool, &login_as, deadline, services.addresses);
        let answer = match tokio::time::timeout(self.config.timeout(), checked).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(Fault::Timeout)) | Err(_) => {
                Answer::Unreachable(format!("no answer within {} ms", self.config.timeout_ms))
            }
            Ok(Err(fault)) => Answer::Unreachable(fault.to_string()),
        };
        if matches!(answer, Answer::Authenticated(_)) {
            // Not remembering the success only leaves a count that expires.
            let _ = ledger.succeeded(&keys, policy, clock.now()).await;
        }
        answer
    }

    /// Search, groups, bind; a [`Fault`] when the directory did not answer.
    async fn check(
        &self,
        pool: &Pool,
        login: &Login<'_>,
        deadline: Instant,
        addresses: super::oidc::JwksAddresses,
    ) -> Result<Answer, Fault> {
        let left = || deadline.saturating_duration_since(Instant::now());
        let mut lease = pool.lease(deadline, addresses).await?;
        let filter = config::fill(&self.config.user_filter, &[("{login}", login.login)]);
        let found = lease.conn.search(&self.config.base_dn, &filter, &self.config.user_attributes(), 1, left()).await?;
        let entry = match found {
            Found::TooMany => {
                pool.release(lease);
                return Ok(Answer::Rejected(RejectReason::AmbiguousLogin));
            }
            // An entry always has a DN; an empty one would make the bind
            // below anonymous.
            Found::Entries(mut entries) => match entries.pop().filter(|e| !e.dn.trim().is_empty()) {
                Some(entry) => entry,
                None => {
                    pool.release(lease);
                    return Ok(Answer::NotApplicable);
                }
            },
        };
        if let Some(rule) = &self.config.disabled
            && rule.disabled(entry.values(&rule.attribute))
        {
            pool.release(lease);
            return Ok(Answer::Rejected(RejectReason::DirectoryAccountDisabled));
        }
        let groups = match self.groups(&mut lease.conn, &entry, login.login, deadline).await? {
            Ok(groups) => groups,
            Err(reason) => {
                pool.release(lease);
                return Ok(Answer::Rejected(reason));
            }
        };
        match lease.conn.bind(&entry.dn, login.password, left()).await {
            Ok(()) => {}
            Err(Fault::InvalidCredentials) => {
                pool.release(lease);
                return Ok(Answer::Rejected(RejectReason::WrongPassword));
            }
            Err(fault) => return Err(fault),
        }
        pool.release(lease);
        Ok(match self.principal(&entry, groups, login) {
            Ok(principal) => Answer::Authenticated(principal),
            Err(reason) => Answer::Rejected(reason),
        })
    }

    /// The user's groups' names, as configured; the outer error when the
    /// directory did not answer, the inner one when there are too many.
    async fn groups(
        &self,
        conn: &mut Connection,
        entry: &Entry,
        login: &str,
        deadline: Instant,
    ) -> Result<Result<Vec<String>, RejectReason>, Fault> {
        let too_many = |n: usize| RejectReason::OversizedClaims(Oversized::GroupCount(n));
        let (base, filter, name_attribute, nested) = match &self.config.groups {
            GroupLookup::None => return Ok(Ok(Vec::new())),
            GroupLookup::Attribute { attribute } => {
                let dns = entry.values(attribute);
                if dns.len() > MAX_GROUPS {
                    return Ok(Err(too_many(dns.len())));
                }
                return Ok(Ok(dns.iter().map(|dn| first_rdn_value(dn).unwrap_or_else(|| dn.clone())).collect()));
            }
            GroupLookup::Search { base_dn, filter, name_attribute, nested } => {
                (base_dn, filter, name_attribute, *nested)
            }
        };
        let mut names = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut frontier = vec![entry.dn.clone()];
        let depth = if nested { config::MAX_NESTING } else { 1 };
        for _ in 0..depth {
            let mut next = Vec::new();
            for dn in &frontier {
                if names.len() >= MAX_GROUPS {
                    // A size limit of 0 would mean "no limit" to the server.
                    return Ok(Err(too_many(names.len() + 1)));
                }
                let filter = config::fill(filter, &[("{dn}", dn), ("{login}", login)]);
                let limit = MAX_GROUPS - names.len();
                let left = deadline.saturating_duration_since(Instant::now());
                let found = conn.search(base, &filter, &[name_attribute.as_str()], limit, left).await?;
                let Found::Entries(groups) = found else {
                    return Ok(Err(too_many(MAX_GROUPS + 1)));
                };
                for group in groups {
                    if seen.insert(group.dn.to_lowercase()) {
                        names.push(group.first(name_attribute).unwrap_or_else(|| group.dn.clone()));
                        next.push(group.dn);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(Ok(names))
    }

    /// The principal the directory vouches for.
    fn principal(&self, entry: &Entry, groups: Vec<String>, login: &Login<'_>) -> Result<Principal, RejectReason> {
        let a = &self.config.attributes;
        let missing = |name: &str| RejectReason::DirectoryAttributeMissing(name.chars().take(64).collect());
        let subject = entry.first(&a.subject).filter(|s| !s.is_empty()).ok_or_else(|| missing(&a.subject))?;
        let subject = bounded(&a.subject, subject, MAX_CLAIM_BYTES)?;
        let email = entry.first(&a.email).ok_or_else(|| missing(&a.email))?;
        let email =
            crate::canonical::email(&bounded(&a.email, email, MAX_EMAIL)?).map_err(|_| RejectReason::InvalidEmail)?;
        let name = |attribute: &str| -> Result<Option<String>, RejectReason> {
            match entry.first(attribute) {
                Some(v) if !v.trim().is_empty() => Ok(Some(bounded(attribute, v, MAX_PERSON_NAME)?)),
                _ => Ok(None),
            }
        };
        let mut claims = BTreeMap::new();
        for (claim, attribute) in [(USERNAME_CLAIM, &a.username), (DISPLAY_NAME_CLAIM, &a.display_name)] {
            if let Some(value) = name(attribute)? {
                claims.insert(claim.to_owned(), value);
            }
        }
        for attribute in &a.claims {
            if let Some(value) = entry.first(attribute) {
                claims.insert(attribute.clone(), bounded(attribute, value, MAX_CLAIM_BYTES)?);
            }
        }
        for group in &groups {
            if group.len() > MAX_GROUP_BYTES {
                return Err(RejectReason::OversizedClaims(Oversized::Group(group.len())));
            }
        }
        Ok(Principal {
            domain: login.domain.to_owned(),
            provider: login.provider.to_owned(),
            subject,
            email,
            email_verified: self.config.email_verified,
            given_name: name(&a.given_name)?,
            family_name: name(&a.family_name)?,
            groups,
            claims,
        })
    }
}

/// One login's facts, passed down together.
struct Login<'a> {
    provider: &'a str,
    domain: &'a str,
    login: &'a str,
    password: &'a str,
}

fn bounded(attribute: &str, value: String, max: usize) -> Result<String, RejectReason> {
    if value.len() > max {
        let name: String = attribute.chars().take(64).collect();
        return Err(RejectReason::OversizedClaims(Oversized::Claim(name, value.len())));
    }
    Ok(value)
}

/// The value of a DN's first RDN (`Engineering` for
/// `cn=Engineering,ou=groups,dc=acme,dc=example`), with RFC 4514's escapes
/// (`\,`, `\2C`) undone; the first value of a multi-valued RDN.
fn first_rdn_value(dn: &str) -> Option<String> {
    let (_, value) = dn.split_once('=')?;
    let mut bytes = Vec::with_capacity(value.len());
    let mut chars = value.bytes().peekable();
    while let Some(b) = chars.next() {
        match b {
            b',' | b'+' => break,
            b'\\' => {
                let first = chars.next()?;
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(first), chars.peek().copied().and_then(hex)) {
                    (Some(h), Some(l)) => {
                        chars.next();
                        bytes.push((h * 16 + l) as u8);
                    }
                    _ => bytes.push(first),
                }
            }
            _ => bytes.push(b),
        }
    }
    let value = String::from_utf8(bytes).ok()?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn group_names_come_from_the_first_rdn() {
        for (dn, name) in [
            ("cn=Engineering,ou=groups,dc=acme,dc=example", Some("Engineering")),
            ("CN=Sales\\, EMEA,OU=Groups,DC=corp", Some("Sales, EMEA")),
            ("cn=R\\26D,dc=x", Some("R&D")),
            ("cn=Z\\C3\\BCrich,dc=x", Some("Zürich")),
            ("cn=a+uid=b,dc=x", Some("a")),
            ("cn=,dc=x", None),
            ("no equals sign", None),
        ] {
            assert_eq!(first_rdn_value(dn).as_deref(), name, "{dn}");
        }
    }

    fn provider(extra: serde_json::Value) -> LdapProvider {
        let mut config = serde_json::json!({
            "urls": ["ldap://127.0.0.1:1"], "bind_dn": "cn=svc,dc=x", "bind_password": "pw", "base_dn": "dc=x",
            "attributes": {"claims": ["title"]},
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            config[k] = v.clone();
        }
        let config: LdapConfig = serde_json::from_value(config).unwrap_or_else(|e| panic!("{e}"));
        LdapProvider::new(config).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_principal_carries_what_the_directory_vouched_for() {
        let entry = Entry::with(
            "uid=jane,ou=people,dc=x",
            &[
                ("entryUUID", &["5f3c"]),
                ("mail", &["Jane@ACME.example"]),
                ("givenName", &["Jane"]),
                ("sn", &["Doe"]),
                ("displayName", &["Jane Doe"]),
                ("uid", &["jane"]),
                ("title", &["Engineer"]),
                ("userPassword", &["{SSHA}never"]),
            ],
        );
        let login = Login { provider: "corp", domain: "acme", login: "jane", password: "x" };
        let p = provider(serde_json::json!({})).principal(&entry, vec!["Engineering".into()], &login);
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.subject.as_str(), p.email.as_str(), p.email_verified), ("5f3c", "jane@acme.example", true));
        assert_eq!((p.given_name.as_deref(), p.family_name.as_deref()), (Some("Jane"), Some("Doe")));
        assert_eq!(p.groups, ["Engineering"]);
        let claims: Vec<(&str, &str)> = p.claims.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(claims, [("name", "Jane Doe"), ("preferred_username", "jane"), ("title", "Engineer")]);

        let unverified = provider(serde_json::json!({"email_verified": false})).principal(&entry, vec![], &login);
        assert!(!unverified.unwrap_or_else(|e| panic!("{e}")).email_verified);

        let no_id = Entry::with("uid=x,dc=x", &[("mail", &["x@acme.example"])]);
        let refused = provider(serde_json::json!({})).principal(&no_id, vec![], &login);
        assert_eq!(refused, Err(RejectReason::DirectoryAttributeMissing("entryUUID".into())));
    }
}
