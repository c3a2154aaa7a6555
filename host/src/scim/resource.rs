//! Users and Groups as JSON: rendered exactly as the schemas declare them,
//! read liberally (attribute names in any case, Entra's string booleans,
//! unknown and read-only attributes ignored as RFC 7644 §3.3 allows).

use serde_json::{Map, Value, json};

use super::ScimError;
use super::schema::{ENTERPRISE, GROUP, USER};
use super::time::format_ms;
use crate::store::{Enterprise, ScimGroup, ScimGroupNames, ScimUser};

/// Where resources live: `…/scim/v2/{domain}`, for `meta.location` and
/// `$ref`.
#[derive(Debug, Clone)]
pub struct Base(pub String);

impl Base {
    /// The URI of a resource.
    pub fn location(&self, kind: &str, id: &str) -> String {
        format!("{}/{kind}/{id}", self.0)
    }
}

/// The `ETag` of a version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn meta(kind: &str, location: String, created: i64, modified: i64, version: i64) -> Value {
    json!({
        "resourceType": kind,
        "created": format_ms(created),
        "lastModified": format_ms(modified),
        "location": location,
        "version": etag(version),
    })
}

/// Sets `key` unless `value` is `None`.
fn put(object: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// A user as GET answers it.
pub fn user_json(user: &ScimUser, base: &Base) -> Value {
    let mut o = Map::new();
    let f = &user.fields;
    let e = &f.enterprise;
    let has_enterprise = *e != Enterprise::default();
    let schemas = if has_enterprise { json!([USER, ENTERPRISE]) } else { json!([USER]) };
    o.insert("schemas".into(), schemas);
    o.insert("id".into(), json!(user.id.as_str()));
    put(&mut o, "externalId", f.external_id.as_deref());
    o.insert("userName".into(), json!(f.user_name));
    let mut name = Map::new();
    put(&mut name, "givenName", user.account.given_name.as_deref());
    put(&mut name, "familyName", user.account.family_name.as_deref());
    if !name.is_empty() {
        o.insert("name".into(), Value::Object(name));
    }
    put(&mut o, "displayName", f.display_name.as_deref());
    if !f.emails.is_empty() {
        let emails = f
            .emails
            .iter()
            .map(|m| {
                let mut email = Map::new();
                email.insert("value".into(), json!(m.value));
                put(&mut email, "type", m.kind.as_deref());
                email.insert("primary".into(), json!(m.primary));
                Value::Object(email)
            })
            .collect();
        o.insert("emails".into(), Value::Array(emails));
    }
    if let Some(active) = f.active {
        o.insert("active".into(), json!(active));
    }
    if !user.groups.is_empty() {
        let groups = user
            .groups
            .iter()
            .map(|t| json!({ "value": t.id.as_str(), "$ref": base.location("Groups", t.id.as_str()), "display": t.name }))
            .collect();
        o.insert("groups".into(), Value::Array(groups));
    }
    if has_enterprise {
        let mut x = Map::new();
        put(&mut x, "employeeNumber", e.employee_number.as_deref());
        put(&mut x, "costCenter", e.cost_center.as_deref());
        put(&mut x, "organization", e.organization.as_deref());
        put(&mut x, "division", e.division.as_deref());
        put(&mut x, "department", e.department.as_deref());
        o.insert(ENTERPRISE.into(), Value::Object(x));
    }
    let location = base.location("Users", user.id.as_str());
    o.insert("meta".into(), meta("User", location, user.created_at, user.updated_at, user.version));
    Value::Object(o)
}

/// The display name of a group's team under the domain's convention.
pub fn group_display_name(group: &ScimGroup, names: ScimGroupNames) -> String {
    match names {
        ScimGroupNames::Team => group.team.name.clone(),
        ScimGroupNames::OrganizationTeam => format!("{}:{}", group.org_name, group.team.name),
    }
}

/// A group as GET answers it.
pub fn group_json(group: &ScimGroup, names: ScimGroupNames, base: &Base) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([GROUP]));
    o.insert("id".into(), json!(group.team.id.as_str()));
    put(&mut o, "externalId", group.external_id.as_deref());
    o.insert("displayName".into(), json!(group_display_name(group, names)));
    if !group.members.is_empty() {
        let members = group
            .members
            .iter()
            .map(|m| json!({ "value": m.as_str(), "$ref": base.location("Users", m.as_str()), "type": "User" }))
            .collect();
        o.insert("members".into(), Value::Array(members));
    }
    let location = base.location("Groups", group.team.id.as_str());
    o.insert("meta".into(), meta("Group", location, group.created_at, group.updated_at, group.version));
    Value::Object(o)
}

/// An email as a client wrote it, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailInput {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// A user as a client wrote it (POST, PUT, or the result of a PATCH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Vec<EmailInput>,
    /// `None` when the client did not say (which counts as active).
    pub active: Option<bool>,
    pub enterprise: Enterprise,
}

/// A group as a client wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// The members' User ids.
    pub members: Vec<String>,
}

/// The value of `key` in `object`, ignoring the key's case.
fn get<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// An optional string attribute: absent or null is `None`.
fn string(object: &Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    match get(object, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::invalid_value(format!("{key} must be a string"))),
    }
}

/// A boolean attribute; Entra sends `"True"` and `"False"`.
fn boolean(object: &Map<String, Value>, key: &str) -> Result<Option<bool>, ScimError> {
    match get(object, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ScimError::invalid_value(format!("{key} must be true or false"))),
    }
}

fn object<'v>(value: &'v Value, what: &str) -> Result<&'v Map<String, Value>, ScimError> {
    value.as_object().ok_or_else(|| ScimError::invalid_syntax(format!("{what} must be a JSON object")))
}

/// A sub-object such as `name`, or an empty one.
fn sub_object<'v>(o: &'v Map<String, Value>, key: &str) -> Result<Option<&'v Map<String, Value>>, ScimError> {
    match get(o, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(ScimError::invalid_value(format!("{key} must be an object"))),
    }
}

/// A multi-valued attribute: absent or null is empty.
fn array<'v>(o: &'v Map<String, Value>, key: &str) -> Result<&'v [Value], ScimError> {
    match get(o, key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ScimError::invalid_value(format!("{key} must be an array"))),
    }
}

fn check_schemas(o: &Map<String, Value>, core: &str, allowed: &[&str]) -> Result<(), ScimError> {
    // Clients such as Entra ID send `schemas`; a body without it is accepted
    // (be liberal), one naming a schema Provisio does not serve is not.
    let Some(schemas) = get(o, "schemas") else { return Ok(()) };
    let schemas = schemas.as_array().ok_or_else(|| ScimError::invalid_syntax("schemas must be an array"))?;
    for s in schemas {
        let s = s.as_str().ok_or_else(|| ScimError::invalid_syntax("schemas must hold strings"))?;
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) {
            return Err(ScimError::invalid_syntax(format!("unsupported schema {s}; expected {core}")));
        }
    }
    Ok(())
}

/// Reads a User body.
pub fn parse_user(value: &Value) -> Result<UserInput, ScimError> {
    let o = object(value, "a User")?;
    check_schemas(o, USER, &[USER, ENTERPRISE])?;
    let user_name = string(o, "userName")?.filter(|s| !s.trim().is_empty());
    let user_name = user_name.ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let name = sub_object(o, "name")?;
    let (given_name, family_name) = match name {
        Some(n) => (string(n, "givenName")?, string(n, "familyName")?),
        None => (None, None),
    };
    let mut emails = Vec::new();
    for item in array(o, "emails")? {
        let m = object(item, "an email")?;
        let value = string(m, "value")?.ok_or_else(|| ScimError::invalid_value("an email needs a value"))?;
        emails.push(EmailInput { value, kind: string(m, "type")?, primary: boolean(m, "primary")?.unwrap_or(false) });
    }
    if emails.iter().filter(|e| e.primary).count() > 1 {
        return Err(ScimError::invalid_value("at most one email may be primary"));
    }
    let enterprise = match sub_object(o, ENTERPRISE)? {
        Some(x) => Enterprise {
            employee_number: string(x, "employeeNumber")?,
            cost_center: string(x, "costCenter")?,
            organization: string(x, "organization")?,
            division: string(x, "division")?,
            department: string(x, "department")?,
        },
        None => Enterprise::default(),
    };
    Ok(UserInput {
        user_name,
        external_id: string(o, "externalId")?,
        display_name: string(o, "displayName")?,
        given_name,
        family_name,
        emails,
        active: boolean(o, "active")?,
        enterprise,
    })
}

/// Reads a Group body.
pub fn parse_group(value: &Value) -> Result<GroupInput, ScimError> {
    let o = object(value, "a Group")?;
    check_schemas(o, GROUP, &[GROUP])?;
    let display_name = string(o, "displayName")?.filter(|s| !s.trim().is_empty());
    let display_name = display_name.ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    let mut members = Vec::new();
    for item in array(o, "members")? {
        let m = object(item, "a member")?;
        let value = string(m, "value")?.ok_or_else(|| ScimError::invalid_value("a member needs a value"))?;
        if let Some(kind) = string(m, "type")?
            && !kind.eq_ignore_ascii_case("User")
        {
            return Err(ScimError::invalid_value("members must be Users"));
        }
        if !members.contains(&value) {
            members.push(value);
        }
    }
    Ok(GroupInput { display_name, external_id: string(o, "externalId")?, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_read_liberally() -> Result<(), ScimError> {
        let user = parse_user(&json!({
            "schemas": [USER, ENTERPRISE],
            "USERNAME": "Jane@Acme.example",
            "name": {"GivenName": "Jane"},
            "emails": [{"value": "jane@acme.example", "type": "work", "primary": "True"}],
            "active": "False",
            "phoneNumbers": [{"value": "+1"}],
            ENTERPRISE: {"department": "Eng"},
        }))?;
        assert_eq!(user.user_name, "Jane@Acme.example");
        assert_eq!(user.given_name.as_deref(), Some("Jane"));
        assert!(user.emails[0].primary);
        assert_eq!(user.active, Some(false));
        assert_eq!(user.enterprise.department.as_deref(), Some("Eng"));
        Ok(())
    }

    #[test]
    fn malformed_users_are_refused_precisely() {
        for (body, scim_type) in [
            (json!([]), super::super::ScimType::InvalidSyntax),
            (json!({"userName": 7}), super::super::ScimType::InvalidValue),
            (json!({"name": {"givenName": "x"}}), super::super::ScimType::InvalidValue),
            (json!({"userName": "x", "active": "maybe"}), super::super::ScimType::InvalidValue),
            (json!({"userName": "x", "emails": "a@b.c"}), super::super::ScimType::InvalidValue),
            (json!({"userName": "x", "schemas": ["urn:example:Other"]}), super::super::ScimType::InvalidSyntax),
            (
                json!({"userName": "x", "emails": [{"value": "a@b.c", "primary": true}, {"value": "d@b.c", "primary": true}]}),
                super::super::ScimType::InvalidValue,
            ),
        ] {
            let error = parse_user(&body).err();
            assert_eq!(error.map(|e| e.scim_type), Some(Some(scim_type)), "{body}");
        }
    }
}
