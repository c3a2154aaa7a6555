//! An `ldap` provider's settings, as a tenant admin writes them, and their
//! checks. The service account's password is write-only: [`LdapConfig::public`]
//! is what the admin API shows back, and [`LdapConfig::keep_password`] carries
//! the stored one over when an update leaves it out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::Secret;
use super::super::chain::ConfigError;

/// Most servers in `urls`.
const MAX_URLS: usize = 8;
/// Most attributes copied into the principal's claims.
const MAX_CLAIM_ATTRIBUTES: usize = 32;
/// Most bytes in a DN, a filter template or an attribute name of the settings.
const MAX_SETTING_BYTES: usize = 1024;
/// Most bytes of PEM in `ca_pem`.
const MAX_CA_PEM_BYTES: usize = 64 * 1024;
/// Bounds of `timeout_ms`.
const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=30_000;
/// Bounds of `max_connections`.
const CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=64;
/// Deepest nesting followed when `groups.nested` is on.
pub(super) const MAX_NESTING: usize = 8;

/// The `ldap` provider's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// The directory's servers, tried in order: `ldap://host[:port]` or
    /// `ldaps://host[:port]`.
    pub urls: Vec<String>,
    /// Upgrade `ldap://` connections with StartTLS (refused if the server
    /// cannot).
    #[serde(default)]
    pub starttls: bool,
    /// The CA certificates (PEM) that TLS connections trust; when absent, the
    /// bundled webpki roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The service account that searches the directory.
    pub bind_dn: String,
    /// Its password. Write-only: never shown back by the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_password: Option<BindPassword>,
    /// Where users are searched (the whole subtree).
    pub base_dn: String,
    /// The search filter; `{login}` is replaced by what the user typed,
    /// escaped (RFC 4515).
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Which attributes hold what.
    #[serde(default)]
    pub attributes: AttributeMap,
    /// How the user's groups are found.
    #[serde(default)]
    pub groups: GroupLookup,
    /// How an account disabled in the directory is recognized; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<DisabledRule>,
    /// Whether the directory's email is taken as verified (the organization's
    /// own directory vouches for it). Default true.
    #[serde(default = "yes")]
    pub email_verified: bool,
    /// The most one login may wait for the directory, in milliseconds
    /// (connecting, searching and binding together). Default 3000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The most connections open to the directory at once. Default 8.
    #[serde(default = "default_connections")]
    pub max_connections: u32,
}

/// The service account's password: `Debug` never shows it, and it is
/// serialized only into the stored configuration.
#[derive(Clone)]
pub struct BindPassword(Secret);

impl BindPassword {
    /// The password, to bind with.
    pub(super) fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::fmt::Debug for BindPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindPassword(***)")
    }
}

impl PartialEq for BindPassword {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Serialize for BindPassword {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for BindPassword {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self(Secret::new(s)))
    }
}

/// The directory's attribute names for what a principal carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeMap {
    /// The stable unique id: `entryUUID` (OpenLDAP), `objectGUID` (Active
    /// Directory, binary, shown as a GUID).
    pub subject: String,
    /// The email address.
    pub email: String,
    /// The given name.
    pub given_name: String,
    /// The family name.
    pub family_name: String,
    /// The display name (claim `name`).
    pub display_name: String,
    /// The login name (claim `preferred_username`; the built-in creator's
    /// username): `uid`, or `sAMAccountName`.
    pub username: String,
    /// Other attributes copied into the principal's claims under their own
    /// names (first value), e.g. `departmentNumber`, `title`.
    pub claims: Vec<String>,
}

impl Default for AttributeMap {
    fn default() -> Self {
        Self {
            subject: "entryUUID".into(),
            email: "mail".into(),
            given_name: "givenName".into(),
            family_name: "sn".into(),
            display_name: "displayName".into(),
            username: "uid".into(),
            claims: Vec::new(),
        }
    }
}

/// How a user's groups are found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "from")]
pub enum GroupLookup {
    /// Read from an attribute of the user's entry holding group DNs
    /// (`memberOf`); a group's name is the value of its DN's first RDN.
    Attribute {
        /// The attribute. Default `memberOf`.
        #[serde(default = "default_member_of")]
        attribute: String,
    },
    /// Searched: groups whose entries match `filter`, where `{dn}` is the
    /// user's DN and `{login}` what the user typed, both escaped.
    Search {
        /// Where groups are searched (the whole subtree).
        base_dn: String,
        /// Default `(&(objectClass=groupOfNames)(member={dn}))`. On Active
        /// Directory, `(member:1.2.840.113556.1.4.1941:={dn})` gives the
        /// nested groups in one search.
        #[serde(default = "default_group_filter")]
        filter: String,
        /// The attribute holding a group's name. Default `cn`.
        #[serde(default = "default_group_name")]
        name_attribute: String,
        /// Also the groups of the groups found, searched again with `{dn}`
        /// the group's DN, up to 8 levels deep.
        #[serde(default)]
        nested: bool,
    },
    /// The directory's groups are not read.
    None,
}

impl Default for GroupLookup {
    fn default() -> Self {
        Self::Attribute { attribute: default_member_of() }
    }
}

/// How an account disabled in the directory is recognized: by the presence
/// of `attribute` (OpenLDAP's `pwdAccountLockedTime`), by one of its values
/// (`equals`, case-insensitive), or by bits of its integer value (`bits`:
/// Active Directory's `userAccountControl` with 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisabledRule {
    /// The attribute read.
    pub attribute: String,
    /// Disabled when a value equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// Disabled when a value, as an integer, has any of these bits set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u64>,
}

impl DisabledRule {
    /// Whether the attribute's values say the account is disabled.
    pub(super) fn disabled(&self, values: &[String]) -> bool {
        match (&self.equals, self.bits) {
            (Some(wanted), _) => values.iter().any(|v| v.trim().eq_ignore_ascii_case(wanted.trim())),
            (None, Some(bits)) => values.iter().any(|v| v.trim().parse::<i64>().is_ok_and(|n| (n as u64) & bits != 0)),
            (None, None) => !values.is_empty(),
        }
    }
}

fn default_user_filter() -> String {
    "(&(objectClass=person)(|(uid={login})(mail={login})))".into()
}

fn default_member_of() -> String {
    "memberOf".into()
}

fn default_group_filter() -> String {
    "(&(objectClass=groupOfNames)(member={dn}))".into()
}

fn default_group_name() -> String {
    "cn".into()
}

fn yes() -> bool {
    true
}

fn default_timeout_ms() -> u64 {
    3000
}

fn default_connections() -> u32 {
    8
}

fn field(field: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Field { field, problem: problem.into() }
}

impl LdapConfig {
    /// The bound on one login's wait for the directory.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks every field; a configuration that could never work is refused
    /// with what is wrong.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.urls.is_empty() || self.urls.len() > MAX_URLS {
            return Err(field("urls", format!("must list 1 to {MAX_URLS} servers")));
        }
        for url in &self.urls {
            check_url(url)?;
            if self.starttls && url.starts_with("ldaps://") {
                return Err(field("starttls", "applies to `ldap://` servers only"));
            }
        }
        if let Some(pem) = &self.ca_pem
            && pem.len() > MAX_CA_PEM_BYTES
        {
            return Err(field("ca_pem", format!("is longer than {MAX_CA_PEM_BYTES} bytes")));
        }
        check_dn("bind_dn", &self.bind_dn)?;
        match &self.bind_password {
            Some(p) if !p.expose().is_empty() => {}
            _ => return Err(field("bind_password", "is required (a bind with an empty password is anonymous)")),
        }
        check_dn("base_dn", &self.base_dn)?;
        check_template("user_filter", &self.user_filter, &["{login}"])?;
        let a = &self.attributes;
        for (name, value) in [
            ("attributes.subject", &a.subject),
            ("attributes.email", &a.email),
            ("attributes.given_name", &a.given_name),
            ("attributes.family_name", &a.family_name),
            ("attributes.display_name", &a.display_name),
            ("attributes.username", &a.username),
        ] {
            check_attribute(name, value)?;
        }
        if a.claims.len() > MAX_CLAIM_ATTRIBUTES {
            return Err(field("attributes.claims", format!("names at most {MAX_CLAIM_ATTRIBUTES} attributes")));
        }
        for claim in &a.claims {
            check_attribute("attributes.claims", claim)?;
            let lower = claim.to_ascii_lowercase();
            if ["password", "secret", "token"].iter().any(|w| lower.contains(w)) {
                return Err(field("attributes.claims", format!("may not copy `{claim}`: it looks like a secret")));
            }
        }
        match &self.groups {
            GroupLookup::Attribute { attribute } => check_attribute("groups.attribute", attribute)?,
            GroupLookup::Search { base_dn, filter, name_attribute, .. } => {
                check_dn("groups.base_dn", base_dn)?;
                check_template("groups.filter", filter, &["{dn}", "{login}"])?;
                check_attribute("groups.name_attribute", name_attribute)?;
            }
            GroupLookup::None => {}
        }
        if let Some(rule) = &self.disabled {
            check_attribute("disabled.attribute", &rule.attribute)?;
            if rule.equals.is_some() && rule.bits.is_some() {
                return Err(field("disabled", "takes `equals` or `bits`, not both"));
            }
            if rule.bits == Some(0) {
                return Err(field("disabled.bits", "must have a bit set"));
            }
        }
        if !TIMEOUT_MS.contains(&self.timeout_ms) {
            return Err(field("timeout_ms", format!("must be within {}..={}", TIMEOUT_MS.start(), TIMEOUT_MS.end())));
        }
        if !CONNECTIONS.contains(&self.max_connections) {
            return Err(field(
                "max_connections",
                format!("must be within {}..={}", CONNECTIONS.start(), CONNECTIONS.end()),
            ));
        }
        Ok(())
    }

    /// The settings without the service account's password, for the admin
    /// API's answers.
    pub fn public(&self) -> Self {
        Self { bind_password: None, ..self.clone() }
    }

    /// Keeps `stored`'s password when this update leaves it out.
    pub fn keep_password(&mut self, stored: &Self) {
        if self.bind_password.is_none() {
            self.bind_password = stored.bind_password.clone();
        }
    }

    /// The names of the attributes a user search reads.
    pub(super) fn user_attributes(&self) -> Vec<&str> {
        let a = &self.attributes;
        let mut names: Vec<&str> =
            vec![&a.subject, &a.email, &a.given_name, &a.family_name, &a.display_name, &a.username];
        names.extend(a.claims.iter().map(String::as_str));
        if let GroupLookup::Attribute { attribute } = &self.groups {
            names.push(attribute);
        }
        if let Some(rule) = &self.disabled {
            names.push(&rule.attribute);
        }
        names.sort_unstable_by_key(|n| n.to_ascii_lowercase());
        names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        names
    }
}

fn check_url(url: &str) -> Result<(), ConfigError> {
    let rest = url.strip_prefix("ldap://").or_else(|| url.strip_prefix("ldaps://"));
    let Some(rest) = rest else {
        return Err(field("urls", "each must start with `ldap://` or `ldaps://`"));
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty()
        || host.len() > 255
        || host.contains(['/', '?', '#', '@'])
        || host.chars().any(char::is_whitespace)
    {
        return Err(field("urls", "each must be `ldap[s]://host[:port]`, nothing more"));
    }
    Ok(())
}

fn check_text(name: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(field(name, "is empty"));
    }
    if value.len() > MAX_SETTING_BYTES {
        return Err(field(name, format!("is longer than {MAX_SETTING_BYTES} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(field(name, "contains a control character"));
    }
    Ok(())
}

fn check_dn(name: &'static str, value: &str) -> Result<(), ConfigError> {
    check_text(name, value)?;
    if !value.contains('=') {
        return Err(field(name, "is not a DN"));
    }
    Ok(())
}

fn check_attribute(name: &'static str, value: &str) -> Result<(), ConfigError> {
    check_text(name, value)?;
    // RFC 4512 descriptors (`mail`) or numeric OIDs (`0.9.2342.19200300.100.1.3`).
    let ok = value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        return Err(field(name, format!("`{value}` is not an attribute name")));
    }
    Ok(())
}

/// A filter template: one balanced parenthesized filter that uses only the
/// given placeholders, at least one of them.
fn check_template(name: &'static str, value: &str, placeholders: &[&str]) -> Result<(), ConfigError> {
    check_text(name, value)?;
    let mut rest = value.to_owned();
    let mut used = false;
    for p in placeholders {
        used |= rest.contains(p);
        rest = rest.replace(p, "x");
    }
    if !used {
        return Err(field(name, format!("must use {}", placeholders.join(" or "))));
    }
    if rest.contains(['{', '}']) {
        return Err(field(name, format!("may only use the placeholders {}", placeholders.join(", "))));
    }
    let mut depth = 0i32;
    for c in rest.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return Err(field(name, "has unbalanced parentheses"));
        }
    }
    if depth != 0 || !rest.starts_with('(') || !rest.ends_with(')') {
        return Err(field(name, "must be one parenthesized filter"));
    }
    Ok(())
}

/// `template` with each placeholder replaced by its value, escaped as a
/// filter's assertion value (RFC 4515): `*`, `(`, `)`, `\` and NUL cannot
/// change the filter.
pub(super) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    'outer: while !rest.is_empty() {
        for (placeholder, value) in values {
            if let Some(after) = rest.strip_prefix(placeholder) {
                out.push_str(&ldap3::ldap_escape(*value));
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn config() -> LdapConfig {
        serde_json::from_value(serde_json::json!({
            "urls": ["ldap://127.0.0.1:3890"],
            "bind_dn": "cn=svc,dc=x",
            "bind_password": "pw",
            "base_dn": "dc=x",
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_are_openldap_and_valid() {
        let c = config();
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.attributes.subject, "entryUUID");
        assert_eq!(c.groups, GroupLookup::Attribute { attribute: "memberOf".into() });
        assert!(c.email_verified);
        assert!(!format!("{c:?}").contains("\"pw\""), "{c:?}");
    }

    #[test]
    fn the_password_is_write_only() {
        let c = config();
        let shown = serde_json::to_value(c.public()).unwrap_or_default();
        assert!(shown.get("bind_password").is_none(), "{shown}");
        let mut update = c.public();
        update.keep_password(&c);
        assert_eq!(update, c);
    }

    #[test]
    fn refusals_name_the_field() {
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (serde_json::json!({"urls": []}), "urls"),
            (serde_json::json!({"urls": ["http://x"]}), "urls"),
            (serde_json::json!({"urls": ["ldap://x/dc=a?uid"]}), "urls"),
            (serde_json::json!({"urls": ["ldaps://x"], "starttls": true}), "starttls"),
            (serde_json::json!({"bind_password": ""}), "bind_password"),
            (serde_json::json!({"user_filter": "(uid=jane)"}), "user_filter"),
            (serde_json::json!({"user_filter": "(uid={login}"}), "user_filter"),
            (serde_json::json!({"user_filter": "(uid={user})"}), "user_filter"),
            (serde_json::json!({"base_dn": "nothing"}), "base_dn"),
            (serde_json::json!({"attributes": {"email": "mail)(x"}}), "attributes.email"),
            (serde_json::json!({"attributes": {"claims": ["userPassword"]}}), "attributes.claims"),
            (serde_json::json!({"timeout_ms": 0}), "timeout_ms"),
            (serde_json::json!({"max_connections": 1000}), "max_connections"),
            (serde_json::json!({"disabled": {"attribute": "userAccountControl", "bits": 0}}), "disabled.bits"),
        ];
        for (patch, name) in cases {
            let mut value = serde_json::to_value(config()).unwrap_or_default();
            for (k, v) in patch.as_object().into_iter().flatten() {
                if let Some(obj) = value.get_mut("attributes").filter(|_| k == "attributes") {
                    for (k2, v2) in v.as_object().into_iter().flatten() {
                        obj[k2] = v2.clone();
                    }
                } else {
                    value[k] = v.clone();
                }
            }
            let parsed: LdapConfig = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
            match parsed.check() {
                Err(ConfigError::Field { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn fill_escapes_every_special_character() {
        let filter = "(&(objectClass=person)(|(uid={login})(mail={login})))";
        for (login, escaped) in [
            ("*", "\\2a"),
            ("admin)(uid=*", "admin\\29\\28uid=\\2a"),
            ("\\00", "\\5c00"),
            ("a\0b", "a\\00b"),
            ("jane", "jane"),
        ] {
            let filled = fill(filter, &[("{login}", login)]);
            assert_eq!(filled, format!("(&(objectClass=person)(|(uid={escaped})(mail={escaped})))"), "{login:?}");
        }
        assert_eq!(fill("(member={dn})", &[("{dn}", "cn=a\\,b,dc=x")]), "(member=cn=a\\5c,b,dc=x)");
    }

    #[test]
    fn disabled_rules() {
        let present = DisabledRule { attribute: "pwdAccountLockedTime".into(), equals: None, bits: None };
        assert!(present.disabled(&["000001010000Z".into()]));
        assert!(!present.disabled(&[]));
        let ad = DisabledRule { attribute: "userAccountControl".into(), equals: None, bits: Some(2) };
        assert!(ad.disabled(&["514".into()]));
        assert!(!ad.disabled(&["512".into()]));
        assert!(!ad.disabled(&["junk".into()]));
        let flag = DisabledRule { attribute: "nsAccountLock".into(), equals: Some("TRUE".into()), bits: None };
        assert!(flag.disabled(&["true".into()]));
        assert!(!flag.disabled(&["false".into()]));
    }
}
