//! SCIM PATCH (RFC 7644 §3.5.2): [`parse_request`] reads a request's
//! operations and [`apply`] applies them to a resource's JSON, as a GET shows
//! it, guided by the schema tables: attribute names are matched ignoring
//! case and written with their declared spelling, values are checked against
//! the declared types, and `readOnly` and `immutable` attributes are kept.
//!
//! Beyond the RFC, it accepts what Microsoft Entra ID and Okta send:
//! - `op` in any case (`Add`, `replace`, `REMOVE`), the body's keys in any
//!   case (`operations`), and an empty `path` as no path;
//! - booleans written as strings (`"True"`, `"false"`);
//! - keys of a path-less value that name a sub-attribute (`name.givenName`)
//!   or carry a schema URN prefix (`urn:…:enterprise:2.0:User:department`),
//!   and an extension's URN as a key holding its attributes;
//! - an extension's attribute without its URN prefix, when no core attribute
//!   has that name;
//! - `remove` of a multi-valued attribute with a `value`: the values listed
//!   are removed (matched by their `value` sub-attribute), not the attribute;
//! - a filtered `remove` that selects nothing: nothing happens; a filtered
//!   `add` or `replace` that selects nothing, when the filter is `eq`
//!   comparisons joined by `and` (`emails[type eq "work"].value`): a new value
//!   is made from those comparisons;
//! - `id` and `meta` given unchanged, and `schemas` naming only the
//!   resource's own schemas: accepted and ignored;
//! - `display`, `type`, `primary`, `value` or `$ref` in a value of a
//!   multi-valued attribute that does not declare it (RFC 7643 §2.4 defines
//!   them for every multi-valued attribute; Okta and the RFC's own examples
//!   send `display` with group members): dropped.
//!
//! Where the RFC leaves room:
//! - `add` to a multi-valued attribute merges a value whose `value`
//!   sub-attribute equals one present (compared as the schema says: ignoring
//!   case unless `caseExact`) into that one instead of adding it twice; a
//!   value without `value` is added unless an equal one is present;
//! - `add` or `replace` of a complex attribute sets the sub-attributes given
//!   and keeps the others (§3.5.2.3); a sub-attribute of a multi-valued
//!   attribute without a filter (`emails.type`) is set in every value;
//! - a null `value` of `add` or `replace` unassigns the target (§3.5.2); an
//!   empty array clears a multi-valued attribute under `replace` and changes
//!   nothing under `add`;
//! - a complex attribute all of whose sub-attributes are `readOnly` (a User's
//!   `groups`) is `readOnly` as a whole;
//! - when an operation makes a value `primary`, the attribute's other values
//!   that were primary get `primary: false`; making two primary at once is
//!   refused.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as Json};

use super::ScimError;
use super::filter::{AttrPath, CompareOp, Filter, PatchPath, Value};
use super::schema::{self, Attribute, Kind, Mutability, Schema};

type Object = Map<String, Json>;

/// An operation's verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `add`: set a single-valued attribute, append to a multi-valued one.
    Add,
    /// `replace`: set an attribute, replacing all the values of a
    /// multi-valued one.
    Replace,
    /// `remove`: unassign an attribute or remove selected values.
    Remove,
}

impl Op {
    fn parse(text: &str) -> Option<Self> {
        [Self::Add, Self::Replace, Self::Remove].into_iter().find(|op| op.name().eq_ignore_ascii_case(text.trim()))
    }

    fn name(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The verb.
    pub op: Op,
    /// The target; `None` targets the resource itself.
    pub path: Option<PatchPath>,
    /// The value: `None` when the operation has none, `Some(Null)` when it
    /// is `null`.
    pub value: Option<Json>,
}

/// Parses a PATCH request body (RFC 7644 §3.5.2): `schemas` must contain
/// [`schema::PATCH_OP`]; `Operations` (the key in any case) must be a
/// non-empty array of operations; each `op` is `add`, `replace` or `remove`
/// in any case; each `path` is parsed with `parse_path` (in the host
/// `wire::parse_patch_path`), an empty one meaning none. `add` and `replace`
/// need a `value`, `remove` a `path`.
///
/// An error's detail names the operation (`Operations[2]: …`).
pub fn parse_request(
    body: &Json,
    parse_path: impl Fn(&str) -> Result<PatchPath, ScimError>,
) -> Result<Vec<PatchOperation>, ScimError> {
    let Json::Object(body) = body else {
        return Err(ScimError::invalid_syntax(format!("the PATCH body must be a JSON object, not {}", describe(body))));
    };
    require_patch_schema(field(body, "schemas")?)?;
    let operations = match field(body, "Operations")? {
        Some(Json::Array(operations)) if !operations.is_empty() => operations,
        Some(Json::Array(_)) => {
            return Err(ScimError::invalid_syntax("Operations is empty: a PATCH request needs at least one operation"));
        }
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations must be an array of operations, not {}",
                describe(other)
            )));
        }
        None => return Err(ScimError::invalid_syntax("the PATCH body has no Operations")),
    };
    operations
        .iter()
        .enumerate()
        .map(|(index, operation)| parse_operation(operation, &parse_path).map_err(|e| at(index, e)))
        .collect()
}

/// Applies the operations in order to `resource`: the resource's JSON as a
/// GET shows it (core and common attributes at the top level with their
/// declared names, an extension's attributes in an object under the key of
/// its URN), described by `core` and `extensions`.
///
/// Afterwards keys whose value is null, an empty array or an empty object
/// are gone, at every level but `schemas`, which is left as it was: the
/// caller rebuilds it. `apply` checks the attributes' names, types and
/// mutability, not whether required attributes are left, canonical values,
/// uniqueness nor the meaning of values: the caller validates the result.
/// On error the resource may be half-changed: the caller discards it.
pub fn apply(
    resource: &mut Json,
    ops: &[PatchOperation],
    core: &Schema,
    extensions: &[&Schema],
) -> Result<(), ScimError> {
    let Json::Object(document) = resource else {
        return Err(ScimError::new(500, None, "the resource to patch is not a JSON object"));
    };
    let schemas = Schemas { core, extensions };
    for (index, operation) in ops.iter().enumerate() {
        schemas.apply_operation(document, operation).map_err(|e| at(index, e))?;
    }
    prune(document);
    Ok(())
}

// Parsing the request.

/// The member `name` of `object`, its name matched ignoring case.
fn field<'a>(object: &'a Object, name: &str) -> Result<Option<&'a Json>, ScimError> {
    let mut found = object.iter().filter(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value);
    let first = found.next();
    if found.next().is_some() {
        return Err(ScimError::invalid_syntax(format!("{name} is given twice, in different cases")));
    }
    Ok(first)
}

fn require_patch_schema(schemas: Option<&Json>) -> Result<(), ScimError> {
    let is_patch = |urn: &Json| urn.as_str().is_some_and(|urn| urn.eq_ignore_ascii_case(schema::PATCH_OP));
    let listed = match schemas {
        Some(Json::Array(urns)) => urns.iter().any(is_patch),
        Some(urn) => is_patch(urn),
        None => false,
    };
    if listed { Ok(()) } else { Err(ScimError::invalid_syntax(format!("schemas must contain {}", schema::PATCH_OP))) }
}

fn parse_operation(
    operation: &Json,
    parse_path: &impl Fn(&str) -> Result<PatchPath, ScimError>,
) -> Result<PatchOperation, ScimError> {
    let Json::Object(operation) = operation else {
        return Err(ScimError::invalid_syntax(format!(
            "an operation must be a JSON object, not {}",
            describe(operation)
        )));
    };
    let op = match field(operation, "op")? {
        Some(Json::String(text)) => Op::parse(text).ok_or_else(|| {
            ScimError::invalid_syntax(format!("op must be add, replace or remove, not {:?}", clip(text)))
        })?,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "op must be add, replace or remove, not {}",
                describe(other)
            )));
        }
        None => return Err(ScimError::invalid_syntax("the operation has no op")),
    };
    let path = match field(operation, "path")? {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) if text.trim().is_empty() => None,
        Some(Json::String(text)) => Some(parse_path(text.trim())?),
        Some(other) => return Err(ScimError::invalid_path(format!("path must be a string, not {}", describe(other)))),
    };
    let operation = PatchOperation { op, path, value: field(operation, "value")?.cloned() };
    check_operation(&operation)?;
    Ok(operation)
}

fn check_operation(operation: &PatchOperation) -> Result<(), ScimError> {
    match operation.op {
        Op::Remove if operation.path.is_none() => {
            Err(ScimError::no_target("remove needs a path: without one there is nothing to remove"))
        }
        Op::Add | Op::Replace if operation.value.is_none() => {
            Err(ScimError::invalid_value(format!("{} needs a value", operation.op.name())))
        }
        _ => Ok(()),
    }
}

/// `error`, its detail prefixed with the index of the operation it is about.
fn at(index: usize, error: ScimError) -> ScimError {
    ScimError { detail: format!("Operations[{index}]: {}", error.detail), ..error }
}

// Finding the target.

/// The schemas of the resource being patched.
struct Schemas<'s> {
    core: &'s Schema,
    extensions: &'s [&'s Schema],
}

/// What an operation acts on.
enum Target<'s> {
    /// The resource itself: no path, or the core schema's URN.
    Resource,
    /// An extension's object, named by its URN.
    Extension(&'s Schema),
    /// The `schemas` attribute.
    Schemas,
    /// An attribute, or a sub-attribute of it; `extension` is the URN of the
    /// extension holding it.
    Attr { extension: Option<&'static str>, attr: &'static Attribute, sub: Option<&'static Attribute> },
    /// The values of a multi-valued attribute that a filter selects, or a
    /// sub-attribute of them.
    Filtered { extension: Option<&'static str>, attr: &'static Attribute, cond: Cond, sub: Option<&'static Attribute> },
}

/// Where a name is looked up: an operation's path, a key of a path-less
/// value, or a key of an extension's object.
#[derive(Clone, Copy)]
enum Scope<'s> {
    Path,
    Key,
    ExtensionKey(&'s Schema),
}

impl Scope<'_> {
    /// An unknown name: `invalidPath` in a path, `invalidValue` in a value.
    fn error(self, detail: String) -> ScimError {
        match self {
            Scope::Path => ScimError::invalid_path(detail),
            Scope::Key | Scope::ExtensionKey(_) => ScimError::invalid_value(format!("in the value, {detail}")),
        }
    }

    fn whose_value(self) -> Cow<'static, str> {
        match self {
            Scope::Path | Scope::Key => Cow::Borrowed("without a path, the value"),
            Scope::ExtensionKey(extension) => Cow::Owned(format!("the value of {}", extension.id)),
        }
    }
}

impl<'s> Schemas<'s> {
    fn apply_operation(&self, document: &mut Object, operation: &PatchOperation) -> Result<(), ScimError> {
        check_operation(operation)?;
        let target = match &operation.path {
            None => Target::Resource,
            Some(PatchPath::Attr(path)) => self.resolve(path, Scope::Path)?,
            Some(PatchPath::Filtered { attr, filter, sub }) => self.resolve_filtered(attr, filter, sub.as_deref())?,
        };
        self.apply_to(document, operation.op, &target, operation.value.as_ref())
    }

    fn apply_to(
        &self,
        document: &mut Object,
        op: Op,
        target: &Target<'s>,
        value: Option<&Json>,
    ) -> Result<(), ScimError> {
        // RFC 7644 §3.5.2: a null value leaves the target unassigned.
        let (op, value) = match value {
            Some(Json::Null) if !matches!(target, Target::Resource) => (Op::Remove, None),
            _ => (op, value),
        };
        match target {
            Target::Resource if op == Op::Remove => {
                Err(ScimError::invalid_path("the resource itself cannot be removed"))
            }
            Target::Resource => self.apply_object(document, op, value, Scope::Key),
            Target::Extension(extension) if op == Op::Remove => {
                document.remove(extension.id);
                Ok(())
            }
            Target::Extension(extension) => self.apply_object(document, op, value, Scope::ExtensionKey(extension)),
            Target::Schemas => self.check_schemas(op, value),
            Target::Attr { extension, attr, sub } => within(document, *extension, |container| {
                write(container, attr, |old| change(op, attr, *sub, old, value))
            }),
            Target::Filtered { extension, attr, cond, sub } => within(document, *extension, |container| {
                write(container, attr, |old| change_filtered(op, attr, cond, *sub, old, value))
            }),
        }
    }

    /// Applies each key of a path-less value (or of an extension's object)
    /// as if it were the path.
    fn apply_object(
        &self,
        document: &mut Object,
        op: Op,
        value: Option<&Json>,
        scope: Scope<'s>,
    ) -> Result<(), ScimError> {
        let entries = match required(value)? {
            Json::Object(entries) => entries,
            other => {
                return Err(ScimError::invalid_value(format!(
                    "{} must be an object of attributes, not {}",
                    scope.whose_value(),
                    describe(other)
                )));
            }
        };
        for (key, value) in entries {
            // An extension's object may name its own schema, as a client
            // serializing the extension as a resource of its own does.
            if matches!(scope, Scope::ExtensionKey(_)) && key.eq_ignore_ascii_case("schemas") {
                self.check_schemas(op, Some(value))?;
                continue;
            }
            if key.contains('[') {
                return Err(ScimError::invalid_value(format!(
                    "the value's key {:?} holds a filter: give it as a path",
                    clip(key)
                )));
            }
            let target = self.resolve(&key_path(key), scope)?;
            self.apply_to(document, op, &target, Some(value))?;
        }
        Ok(())
    }

    /// `schemas` is the server's: a value naming only the resource's own
    /// schemas changes nothing, anything else is refused.
    fn check_schemas(&self, op: Op, value: Option<&Json>) -> Result<(), ScimError> {
        let urns = match (op, value) {
            (Op::Remove, _) | (_, None) => {
                return Err(ScimError::mutability("schemas is set by the server: it cannot be removed"));
            }
            (_, Some(Json::String(urn))) => vec![urn.as_str()],
            (_, Some(Json::Array(items))) => items
                .iter()
                .map(|item| {
                    item.as_str().ok_or_else(|| {
                        ScimError::invalid_value(format!("schemas must list URNs, not {}", describe(item)))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            (_, Some(other)) => {
                return Err(ScimError::invalid_value(format!(
                    "schemas must be an array of URNs, not {}",
                    describe(other)
                )));
            }
        };
        match urns.into_iter().find(|urn| !self.is_schema(urn)) {
            Some(urn) => Err(ScimError::mutability(format!(
                "schemas is set by the server from the attributes present; {:?} is not a schema of this resource",
                clip(urn)
            ))),
            None => Ok(()),
        }
    }

    fn is_schema(&self, urn: &str) -> bool {
        urn.eq_ignore_ascii_case(self.core.id) || self.extension(urn).is_some()
    }

    fn extension(&self, urn: &str) -> Option<&'s Schema> {
        self.extensions.iter().find(|extension| extension.id.eq_ignore_ascii_case(urn)).copied()
    }

    fn resolve(&self, path: &AttrPath, scope: Scope<'s>) -> Result<Target<'s>, ScimError> {
        if let Some(target) = self.whole_schema(path, scope) {
            return Ok(target);
        }
        if path.is("schemas") && self.is_core_level(path, scope) {
            return Ok(Target::Schemas);
        }
        let (extension, attr) = self.attribute(path, scope)?;
        let sub = match &path.sub {
            Some(name) => Some(sub_attribute(attr, name, scope)?),
            None => None,
        };
        Ok(Target::Attr { extension, attr, sub })
    }

    /// The target when `path` is a schema's URN. The path parser splits a
    /// URN like any prefixed name: `urn:…:enterprise:2.0:User` arrives as the
    /// name `User` prefixed by `urn:…:enterprise:2.0`.
    fn whole_schema(&self, path: &AttrPath, scope: Scope<'s>) -> Option<Target<'s>> {
        let urn = path.schema.as_deref()?;
        if path.sub.is_some() || matches!(scope, Scope::ExtensionKey(_)) {
            return None;
        }
        let whole = format!("{urn}:{}", path.name);
        if let Some(extension) = self.extension(&whole) {
            return Some(Target::Extension(extension));
        }
        (matches!(scope, Scope::Path) && whole.eq_ignore_ascii_case(self.core.id)).then_some(Target::Resource)
    }

    fn is_core_level(&self, path: &AttrPath, scope: Scope<'s>) -> bool {
        match (&path.schema, scope) {
            (_, Scope::ExtensionKey(_)) => false,
            (None, _) => true,
            (Some(urn), _) => urn.eq_ignore_ascii_case(self.core.id),
        }
    }

    /// The attribute `path` names, and the URN of the extension holding it.
    fn attribute(
        &self,
        path: &AttrPath,
        scope: Scope<'s>,
    ) -> Result<(Option<&'static str>, &'static Attribute), ScimError> {
        let name = path.name.as_str();
        let (found, searched) = match (path.schema.as_deref(), scope) {
            (Some(urn), Scope::ExtensionKey(extension)) if !urn.eq_ignore_ascii_case(extension.id) => {
                return Err(scope.error(format!("{path} is not an attribute of {}", extension.id)));
            }
            (_, Scope::ExtensionKey(extension)) => (in_extension(extension, name), extension.id),
            (None, _) => {
                let found = self.in_core(name).or_else(|| self.extensions.iter().find_map(|e| in_extension(e, name)));
                (found, self.core.id)
            }
            (Some(urn), _) if urn.eq_ignore_ascii_case(self.core.id) => (self.in_core(name), self.core.id),
            (Some(urn), _) => match self.extension(urn) {
                Some(extension) => (in_extension(extension, name), extension.id),
                None => return Err(scope.error(format!("{:?} is not a schema of this resource", clip(urn)))),
            },
        };
        found.ok_or_else(|| scope.error(format!("{:?} is not an attribute of {searched}", clip(name))))
    }

    fn in_core(&self, name: &str) -> Option<(Option<&'static str>, &'static Attribute)> {
        let common = [&ID, &schema::EXTERNAL_ID, &META].into_iter().find(|a| a.name.eq_ignore_ascii_case(name));
        self.core.attribute(name).or(common).map(|attr| (None, attr))
    }

    fn resolve_filtered(&self, path: &AttrPath, filter: &Filter, sub: Option<&str>) -> Result<Target<'s>, ScimError> {
        let refused = || {
            ScimError::invalid_path(format!(
                "{path}[…]: a filter selects values of a multi-valued complex attribute, and {path} is not one"
            ))
        };
        let Target::Attr { extension, attr, sub: None } = self.resolve(path, Scope::Path)? else {
            return Err(refused());
        };
        if !attr.multi_valued || attr.kind != Kind::Complex {
            return Err(refused());
        }
        let cond = Cond::resolve(attr, filter)?;
        let sub = match sub {
            Some(name) => Some(sub_attribute(attr, name, Scope::Path)?),
            None => None,
        };
        Ok(Target::Filtered { extension, attr, cond, sub })
    }
}

fn in_extension(extension: &Schema, name: &str) -> Option<(Option<&'static str>, &'static Attribute)> {
    extension.attribute(name).map(|attr| (Some(extension.id), attr))
}

fn sub_attribute(attr: &Attribute, name: &str, scope: Scope<'_>) -> Result<&'static Attribute, ScimError> {
    attr.sub(name).ok_or_else(|| {
        scope.error(if attr.kind == Kind::Complex {
            format!("{} has no sub-attribute {:?}", attr.name, clip(name))
        } else {
            format!("{} has no sub-attributes", attr.name)
        })
    })
}

/// A key of a path-less value as a path: split like the path parser splits
/// an attribute path, at its last `:` and then at its first `.`.
fn key_path(key: &str) -> AttrPath {
    let (schema, rest) = match key.rsplit_once(':') {
        Some((urn, rest)) => (Some(urn.to_owned()), rest),
        None => (None, key),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub.to_owned())),
        None => (rest, None),
    };
    AttrPath { schema, name: name.to_owned(), sub }
}

// The common attributes (RFC 7643 §3.1) a PATCH may name; `externalId` is
// declared in `schema`.

const fn read_only(name: &'static str, kind: Kind, case_exact: bool, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact,
        mutability: Mutability::ReadOnly,
        unique: false,
        always_returned: false,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description,
    }
}

static ID: Attribute = read_only("id", Kind::String, true, "The resource's id, assigned by the server");

static META: Attribute = Attribute {
    sub_attributes: &[
        read_only("resourceType", Kind::String, true, "The resource's type"),
        read_only("created", Kind::DateTime, false, "When the resource was created"),
        read_only("lastModified", Kind::DateTime, false, "When the resource was last changed"),
        read_only("location", Kind::Reference, true, "The resource's URI"),
        read_only("version", Kind::String, true, "The resource's version"),
    ],
    ..read_only("meta", Kind::Complex, false, "The resource's metadata, kept by the server")
};

// Changing an attribute.

/// Runs `change` on `extension`'s object in `document`, or on `document`
/// itself.
fn within<T>(
    document: &mut Object,
    extension: Option<&str>,
    change: impl FnOnce(&mut Object) -> Result<T, ScimError>,
) -> Result<T, ScimError> {
    let Some(urn) = extension else { return change(document) };
    let mut container = match document.remove(urn) {
        Some(Json::Object(container)) => container,
        _ => Object::new(),
    };
    let result = change(&mut container);
    document.insert(urn.to_owned(), Json::Object(container));
    result
}

/// Replaces the value of `attr` in `container` by what `change` makes of it
/// (`None`: unassigned), unless `attr`'s mutability forbids the change.
fn write(
    container: &mut Object,
    attr: &Attribute,
    change: impl FnOnce(Option<Json>) -> Result<Option<Json>, ScimError>,
) -> Result<(), ScimError> {
    let old = container.remove(attr.name);
    let before = (mutability(attr) != Mutability::ReadWrite).then(|| old.clone());
    let new = change(old)?;
    if let Some(before) = before {
        check_mutability(attr, attr.name, before.as_ref(), new.as_ref())?;
    }
    if let Some(new) = new {
        container.insert(attr.name.to_owned(), new);
    }
    Ok(())
}

/// What an unfiltered operation makes of `old`, the value of `attr`.
fn change(
    op: Op,
    attr: &Attribute,
    sub: Option<&'static Attribute>,
    old: Option<Json>,
    value: Option<&Json>,
) -> Result<Option<Json>, ScimError> {
    let Some(sub) = sub else { return change_whole(op, attr, old, value) };
    let given = sub_value(op, attr, sub, value)?;
    if !attr.multi_valued {
        let mut object = into_object(old);
        merge(attr, &mut object, given)?;
        return Ok(from_object(object));
    }
    // `emails.type` without a filter: every value's sub-attribute.
    let mut values = into_list(old);
    if values.is_empty() && op != Op::Remove {
        values.push(Json::Object(Object::new()));
    }
    for value in &mut values {
        if let Json::Object(object) = value {
            merge(attr, object, given.clone())?;
        }
    }
    if sets_primary(attr, &given) {
        let all: Vec<usize> = (0..values.len()).collect();
        settle_primary(attr, &mut values, &all)?;
    }
    Ok(from_list(values))
}

fn change_whole(op: Op, attr: &Attribute, old: Option<Json>, value: Option<&Json>) -> Result<Option<Json>, ScimError> {
    if op == Op::Remove {
        return match value {
            Some(listed) if attr.multi_valued => remove_listed(attr, old, listed),
            _ => Ok(None),
        };
    }
    let value = required(value)?;
    if attr.multi_valued {
        let values = normalize_values(attr, value)?;
        let kept = if op == Op::Add { old } else { None };
        return add_values(attr, kept, values);
    }
    if attr.kind == Kind::Complex {
        let mut object = into_object(old);
        merge(attr, &mut object, normalize_object(attr, value)?)?;
        return Ok(from_object(object));
    }
    normalize_scalar(attr, attr.name, value).map(Some)
}

/// What a filtered operation makes of `old`, the values of `attr`.
fn change_filtered(
    op: Op,
    attr: &Attribute,
    cond: &Cond,
    sub: Option<&'static Attribute>,
    old: Option<Json>,
    value: Option<&Json>,
) -> Result<Option<Json>, ScimError> {
    let mut values = into_list(old);
    if op == Op::Remove && sub.is_none() {
        values.retain(|value| !cond.selects(value));
        return Ok(from_list(values));
    }
    let given = match sub {
        Some(sub) => sub_value(op, attr, sub, value)?,
        None => normalize_object(attr, required(value)?)?,
    };
    let mut selected: Vec<usize> =
        (0..values.len()).filter(|&i| values.get(i).is_some_and(|v| cond.selects(v))).collect();
    let created = selected.is_empty();
    if created {
        if op == Op::Remove {
            return Ok(from_list(values));
        }
        selected.push(create_value(attr, cond, &mut values)?);
    }
    for &index in &selected {
        if let Some(Json::Object(object)) = values.get_mut(index) {
            merge(attr, object, given.clone())?;
        }
    }
    // A value made from `primary eq true` is made primary too.
    let made_primary = sets_primary(attr, &given)
        || (created
            && selected
                .iter()
                .any(|&i| values.get(i).and_then(Json::as_object).is_some_and(|o| sets_primary(attr, o))));
    if made_primary {
        settle_primary(attr, &mut values, &selected)?;
    }
    Ok(from_list(values))
}

/// The sub-attribute `sub` of `attr` as an object of one member: its new
/// value, or null for a `remove`.
fn sub_value(op: Op, attr: &Attribute, sub: &Attribute, value: Option<&Json>) -> Result<Object, ScimError> {
    let new = match op {
        Op::Remove => Json::Null,
        Op::Add | Op::Replace => normalize_scalar(sub, &label(attr, sub), required(value)?)?,
    };
    Ok(Object::from_iter([(sub.name.to_owned(), new)]))
}

/// A value of `attr` made from a filter of `eq` comparisons joined by `and`,
/// pushed onto `values`; its index.
fn create_value(attr: &Attribute, cond: &Cond, values: &mut Vec<Json>) -> Result<usize, ScimError> {
    let mut equalities = Vec::new();
    if !cond.equalities(&mut equalities) {
        return Err(ScimError::no_target(format!(
            "no value of {} matches the filter, and a value is made only from eq comparisons joined by and",
            attr.name
        )));
    }
    let mut object = Object::new();
    for (sub, literal) in equalities {
        if let Some(json) = literal_json(literal) {
            object.insert(sub.name.to_owned(), normalize_scalar(sub, &label(attr, sub), &json)?);
        }
    }
    if !cond.holds(&object) {
        return Err(ScimError::no_target(format!(
            "no value of {} matches the filter, and no value can: its comparisons contradict one another",
            attr.name
        )));
    }
    let object = Json::Object(object);
    check_new_value(attr, &object)?;
    values.push(object);
    Ok(values.len() - 1)
}

/// Appends `new` to `old`, the values of `attr`: a value whose `value`
/// sub-attribute equals one present is merged into it (so one present is not
/// added twice), one without `value` is added unless an equal one is present.
fn add_values(attr: &Attribute, old: Option<Json>, new: Vec<Json>) -> Result<Option<Json>, ScimError> {
    let mut values = into_list(old);
    let mut positions = HashMap::new();
    for (index, value) in values.iter().enumerate() {
        positions.entry(identity(attr, value)).or_insert(index);
    }
    let mut made_primary = Vec::new();
    for item in new {
        let primary = item.as_object().is_some_and(|object| sets_primary(attr, object));
        let key = identity(attr, &item);
        let index = match positions.get(&key) {
            Some(&index) => {
                if let (Some(Json::Object(present)), Json::Object(item)) = (values.get_mut(index), item) {
                    merge(attr, present, item)?;
                }
                index
            }
            None => {
                let Some(item) = without_nulls(item) else { continue };
                check_new_value(attr, &item)?;
                values.push(item);
                positions.insert(key, values.len() - 1);
                values.len() - 1
            }
        };
        if primary {
            made_primary.push(index);
        }
    }
    settle_primary(attr, &mut values, &made_primary)?;
    Ok(from_list(values))
}

/// Removes from `old` the values of `attr` that `listed` names.
fn remove_listed(attr: &Attribute, old: Option<Json>, listed: &Json) -> Result<Option<Json>, ScimError> {
    let doomed: HashSet<String> = normalize_values(attr, listed)?.iter().map(|value| identity(attr, value)).collect();
    let mut values = into_list(old);
    values.retain(|value| !doomed.contains(&identity(attr, value)));
    Ok(from_list(values))
}

/// What tells a value of the multi-valued `attr` from the others: its
/// `value` sub-attribute, compared as the schema says, else all of it.
fn identity(attr: &Attribute, value: &Json) -> String {
    let Json::Object(object) = value else { return format!("={}", fold(attr, value)) };
    if let Some(sub) = attr.sub("value")
        && let Some(value) = object.get(sub.name).filter(|v| !v.is_null())
    {
        return format!("={}", fold(sub, value));
    }
    let mut members: Vec<(&str, String)> = object
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| (key.as_str(), attr.sub(key).map_or_else(|| value.to_string(), |sub| fold(sub, value))))
        .collect();
    members.sort();
    format!("{members:?}")
}

/// `value` as a text equal for values `attr` holds equal.
fn fold(attr: &Attribute, value: &Json) -> String {
    match value {
        Json::String(text) if !attr.case_exact => format!("{:?}", text.to_lowercase()),
        other => other.to_string(),
    }
}

/// Sets the sub-attributes `given` names in `target`, a value of the complex
/// `attr`; a null removes one.
fn merge(attr: &Attribute, target: &mut Object, given: Object) -> Result<(), ScimError> {
    for (key, value) in given {
        if let Some(sub) = attr.sub(&key) {
            set_sub(attr, sub, target, value)?;
        }
    }
    Ok(())
}

fn set_sub(attr: &Attribute, sub: &Attribute, target: &mut Object, value: Json) -> Result<(), ScimError> {
    let new = (!value.is_null()).then_some(value);
    if mutability(sub) != Mutability::ReadWrite {
        let old = target.get(sub.name);
        check_mutability(sub, &label(attr, sub), old, new.as_ref())?;
        if same(sub, old, new.as_ref()) {
            return Ok(());
        }
    }
    match new {
        Some(new) => target.insert(sub.name.to_owned(), new),
        None => target.remove(sub.name),
    };
    Ok(())
}

/// Refuses to change a `readOnly` attribute, or an `immutable` one that has
/// a value (RFC 7644 §3.5.2).
fn check_mutability(attr: &Attribute, label: &str, old: Option<&Json>, new: Option<&Json>) -> Result<(), ScimError> {
    let had_value = old.is_some_and(|old| !old.is_null());
    match mutability(attr) {
        Mutability::ReadWrite => Ok(()),
        _ if same(attr, old, new) => Ok(()),
        Mutability::ReadOnly => Err(ScimError::mutability(format!(
            "{label} is readOnly: the server sets it, and this operation would change it"
        ))),
        Mutability::Immutable if had_value => {
            Err(ScimError::mutability(format!("{label} is immutable: once set it cannot be changed or removed")))
        }
        Mutability::Immutable => Ok(()),
    }
}

/// An attribute's mutability; a complex attribute all of whose
/// sub-attributes are `readOnly` (a User's `groups`) is `readOnly` too.
fn mutability(attr: &Attribute) -> Mutability {
    let sub_attributes_read_only =
        !attr.sub_attributes.is_empty() && attr.sub_attributes.iter().all(|sub| sub.mutability == Mutability::ReadOnly);
    if sub_attributes_read_only { Mutability::ReadOnly } else { attr.mutability }
}

/// Refuses a new value of `attr` that sets a `readOnly` sub-attribute. (When
/// all of them are, [`write()`] compares the whole attribute instead.)
fn check_new_value(attr: &Attribute, value: &Json) -> Result<(), ScimError> {
    let Json::Object(object) = value else { return Ok(()) };
    if mutability(attr) == Mutability::ReadOnly {
        return Ok(());
    }
    for (key, value) in object {
        if let Some(sub) = attr.sub(key) {
            check_mutability(sub, &label(attr, sub), None, Some(value))?;
        }
    }
    Ok(())
}

/// Whether `a` and `b` are the same value of `attr`, strings compared as the
/// schema says.
fn same(attr: &Attribute, a: Option<&Json>, b: Option<&Json>) -> bool {
    match (a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null())) {
        (Some(Json::String(a)), Some(Json::String(b))) if !attr.case_exact => a.to_lowercase() == b.to_lowercase(),
        (a, b) => a == b,
    }
}

// `primary` (RFC 7643 §2.4): true for at most one value.

fn sets_primary(attr: &Attribute, given: &Object) -> bool {
    attr.sub("primary").is_some_and(|primary| given.get(primary.name) == Some(&Json::Bool(true)))
}

/// When the operation made the values at `made` primary: refuses more than
/// one, and sets `primary` to false in the others that had it.
fn settle_primary(attr: &Attribute, values: &mut [Json], made: &[usize]) -> Result<(), ScimError> {
    let Some(primary) = attr.sub("primary") else { return Ok(()) };
    let mut made = made.to_vec();
    made.sort_unstable();
    made.dedup();
    match made.as_slice() {
        [] => Ok(()),
        [keep] => {
            for (index, value) in values.iter_mut().enumerate() {
                if index != *keep
                    && let Json::Object(object) = value
                    && let Some(flag) = object.get_mut(primary.name)
                {
                    *flag = Json::Bool(false);
                }
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "at most one value of {} may be primary, and this operation makes {} primary",
            attr.name,
            made.len()
        ))),
    }
}

// Checking and normalizing values.

fn required(value: Option<&Json>) -> Result<&Json, ScimError> {
    value.ok_or_else(|| ScimError::invalid_value("the operation needs a value"))
}

/// The client's values for the multi-valued `attr`: an array, or one value.
fn normalize_values(attr: &Attribute, value: &Json) -> Result<Vec<Json>, ScimError> {
    let items = match value {
        Json::Array(items) => items.as_slice(),
        one => std::slice::from_ref(one),
    };
    items
        .iter()
        .filter(|item| !item.is_null())
        .map(|item| match attr.kind {
            Kind::Complex => normalize_object(attr, item).map(Json::Object),
            _ => normalize_scalar(attr, attr.name, item),
        })
        .collect()
}

/// The client's value for the complex `attr`, its keys spelled as declared;
/// a null sub-attribute is kept, to be removed.
fn normalize_object(attr: &Attribute, value: &Json) -> Result<Object, ScimError> {
    let Json::Object(given) = value else {
        return Err(ScimError::invalid_value(format!(
            "{} must be an object of sub-attributes, not {}",
            attr.name,
            describe(value)
        )));
    };
    let mut object = Object::new();
    for (key, value) in given {
        let Some(sub) = attr.sub(key) else {
            if attr.multi_valued && STANDARD_SUB_ATTRIBUTES.iter().any(|name| name.eq_ignore_ascii_case(key)) {
                continue;
            }
            return Err(ScimError::invalid_value(format!("{} has no sub-attribute {:?}", attr.name, clip(key))));
        };
        let label = label(attr, sub);
        if object.contains_key(sub.name) {
            return Err(ScimError::invalid_value(format!("{label} is given twice, in different cases")));
        }
        let value = if value.is_null() { Json::Null } else { normalize_scalar(sub, &label, value)? };
        object.insert(sub.name.to_owned(), value);
    }
    Ok(object)
}

/// The sub-attributes RFC 7643 §2.4 defines for every multi-valued attribute.
const STANDARD_SUB_ATTRIBUTES: [&str; 5] = ["type", "primary", "display", "value", "$ref"];

/// The client's value for the simple `attr`, called `label` in errors.
fn normalize_scalar(attr: &Attribute, label: &str, value: &Json) -> Result<Json, ScimError> {
    match (attr.kind, value) {
        (Kind::Boolean, Json::Bool(_)) => Ok(value.clone()),
        (Kind::Boolean, Json::String(text)) => parse_bool(text)
            .map(Json::Bool)
            .ok_or_else(|| ScimError::invalid_value(format!("{label} must be a boolean, not {}", describe(value)))),
        (Kind::Boolean, _) => {
            Err(ScimError::invalid_value(format!("{label} must be a boolean, not {}", describe(value))))
        }
        (Kind::Complex, _) => {
            Err(ScimError::invalid_value(format!("{label} must be an object, not {}", describe(value))))
        }
        (Kind::String | Kind::DateTime | Kind::Reference, Json::String(_)) => Ok(value.clone()),
        (Kind::String | Kind::DateTime | Kind::Reference, _) => {
            Err(ScimError::invalid_value(format!("{label} must be a string, not {}", describe(value))))
        }
    }
}

/// `true` or `false` in any case: Entra ID sends booleans as strings.
fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn label(attr: &Attribute, sub: &Attribute) -> String {
    format!("{}.{}", attr.name, sub.name)
}

fn into_list(old: Option<Json>) -> Vec<Json> {
    match old {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(values)) => values,
        Some(one) => vec![one],
    }
}

fn into_object(old: Option<Json>) -> Object {
    match old {
        Some(Json::Object(object)) => object,
        _ => Object::new(),
    }
}

fn from_list(mut values: Vec<Json>) -> Option<Json> {
    values.retain(has_content);
    (!values.is_empty()).then_some(Json::Array(values))
}

fn from_object(mut object: Object) -> Option<Json> {
    object.retain(|_, value| has_content(value));
    (!object.is_empty()).then_some(Json::Object(object))
}

/// A new value of a multi-valued attribute, its null members dropped;
/// `None` if nothing is left.
fn without_nulls(value: Json) -> Option<Json> {
    match value {
        Json::Object(mut object) => {
            object.retain(|_, value| !value.is_null());
            (!object.is_empty()).then_some(Json::Object(object))
        }
        other => Some(other),
    }
}

fn has_content(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Array(values) => !values.is_empty(),
        Json::Object(object) => !object.is_empty(),
        Json::Bool(_) | Json::Number(_) | Json::String(_) => true,
    }
}

/// Drops null, empty-array and empty-object members, as deep as a resource
/// goes (an extension's object, a multi-valued attribute, its values'
/// sub-attributes); `schemas` is left alone.
fn prune(document: &mut Object) {
    fn prune_within(value: &mut Json, depth: usize) {
        if depth == 0 {
            return;
        }
        match value {
            Json::Object(object) => {
                object.values_mut().for_each(|value| prune_within(value, depth - 1));
                object.retain(|_, value| has_content(value));
            }
            Json::Array(values) => {
                values.iter_mut().for_each(|value| prune_within(value, depth - 1));
                values.retain(has_content);
            }
            Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) => {}
        }
    }
    for (key, value) in document.iter_mut() {
        if key != "schemas" {
            prune_within(value, 3);
        }
    }
    document.retain(|key, value| key == "schemas" || has_content(value));
}

// Filters on the values of a multi-valued attribute.

/// A filter whose names are resolved to the sub-attributes of the attribute
/// whose values it selects.
#[derive(Debug)]
enum Cond {
    Compare { sub: &'static Attribute, op: CompareOp, value: Value },
    Present(&'static Attribute),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    fn resolve(attr: &Attribute, filter: &Filter) -> Result<Self, ScimError> {
        let all = |filters: &[Filter]| filters.iter().map(|f| Self::resolve(attr, f)).collect::<Result<Vec<_>, _>>();
        Ok(match filter {
            Filter::Compare { path, op, value } => {
                let sub = filter_sub(attr, path)?;
                check_comparable(attr, sub, *op, value)?;
                Self::Compare { sub, op: *op, value: value.clone() }
            }
            Filter::Present(path) => Self::Present(filter_sub(attr, path)?),
            Filter::Not(inner) => Self::Not(Box::new(Self::resolve(attr, inner)?)),
            Filter::And(filters) => Self::And(all(filters)?),
            Filter::Or(filters) => Self::Or(all(filters)?),
            Filter::Within { .. } => {
                return Err(ScimError::invalid_path(format!("the filter of {}[…] cannot hold another […]", attr.name)));
            }
        })
    }

    fn selects(&self, value: &Json) -> bool {
        value.as_object().is_some_and(|object| self.holds(object))
    }

    fn holds(&self, object: &Object) -> bool {
        match self {
            Self::Compare { sub, op, value } => compare(sub, *op, object.get(sub.name).filter(|v| !v.is_null()), value),
            Self::Present(sub) => object.get(sub.name).is_some_and(is_present),
            Self::Not(inner) => !inner.holds(object),
            Self::And(conds) => conds.iter().all(|cond| cond.holds(object)),
            Self::Or(conds) => conds.iter().any(|cond| cond.holds(object)),
        }
    }

    /// Collects the `eq` comparisons of a filter made only of them, joined by
    /// `and`; false for any other filter.
    fn equalities<'c>(&'c self, out: &mut Vec<(&'static Attribute, &'c Value)>) -> bool {
        match self {
            Self::Compare { sub, op: CompareOp::Eq, value } => {
                out.push((sub, value));
                true
            }
            Self::And(conds) => conds.iter().all(|cond| cond.equalities(out)),
            _ => false,
        }
    }
}

/// Present (RFC 7644 §3.4.2.2 `pr`): a non-empty value.
fn is_present(value: &Json) -> bool {
    has_content(value) && value.as_str().is_none_or(|text| !text.is_empty())
}

fn filter_sub(attr: &Attribute, path: &AttrPath) -> Result<&'static Attribute, ScimError> {
    if path.schema.is_some() || path.sub.is_some() {
        return Err(ScimError::invalid_path(format!("in {}[…], name a sub-attribute alone, not {path}", attr.name)));
    }
    sub_attribute(attr, &path.name, Scope::Path)
}

/// Refuses the comparisons RFC 7644 §3.4.2.2 does not define.
fn check_comparable(attr: &Attribute, sub: &Attribute, op: CompareOp, value: &Value) -> Result<(), ScimError> {
    let equality = matches!(op, CompareOp::Eq | CompareOp::Ne);
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let refused = match value {
        Value::Null | Value::Bool(_) => !equality,
        Value::Number(_) => substring,
        Value::Str(_) => false,
    } || (sub.kind == Kind::Boolean && !equality);
    if refused {
        return Err(ScimError::invalid_filter(format!(
            "{} {} {}: the operator does not apply to this value",
            label(attr, sub),
            op_name(op),
            literal_text(value)
        )));
    }
    Ok(())
}

fn compare(sub: &Attribute, op: CompareOp, actual: Option<&Json>, expected: &Value) -> bool {
    match (actual, expected) {
        (None, Value::Null) => op == CompareOp::Eq,
        (Some(_), Value::Null) => op == CompareOp::Ne,
        (Some(Json::String(actual)), Value::Str(expected)) => compare_text(sub.case_exact, op, actual, expected),
        (Some(Json::Bool(actual)), Value::Bool(expected)) => compare_equality(op, actual == expected),
        (Some(Json::Bool(actual)), Value::Str(expected)) => {
            parse_bool(expected).is_some_and(|expected| compare_equality(op, *actual == expected))
        }
        (Some(Json::Number(actual)), Value::Number(expected)) => {
            actual.as_f64().is_some_and(|actual| compare_numbers(op, actual, *expected))
        }
        _ => op == CompareOp::Ne,
    }
}

fn compare_equality(op: CompareOp, equal: bool) -> bool {
    match op {
        CompareOp::Eq => equal,
        CompareOp::Ne => !equal,
        _ => false,
    }
}

fn compare_text(case_exact: bool, op: CompareOp, actual: &str, expected: &str) -> bool {
    let (actual, expected) = if case_exact {
        (Cow::Borrowed(actual), Cow::Borrowed(expected))
    } else {
        (Cow::Owned(actual.to_lowercase()), Cow::Owned(expected.to_lowercase()))
    };
    match op {
        CompareOp::Eq => actual == expected,
        CompareOp::Ne => actual != expected,
        CompareOp::Co => actual.contains(&*expected),
        CompareOp::Sw => actual.starts_with(&*expected),
        CompareOp::Ew => actual.ends_with(&*expected),
        CompareOp::Gt => actual > expected,
        CompareOp::Ge => actual >= expected,
        CompareOp::Lt => actual < expected,
        CompareOp::Le => actual <= expected,
    }
}

fn compare_numbers(op: CompareOp, actual: f64, expected: f64) -> bool {
    match op {
        CompareOp::Eq => actual == expected,
        CompareOp::Ne => actual != expected,
        CompareOp::Gt => actual > expected,
        CompareOp::Ge => actual >= expected,
        CompareOp::Lt => actual < expected,
        CompareOp::Le => actual <= expected,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn op_name(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "eq",
        CompareOp::Ne => "ne",
        CompareOp::Co => "co",
        CompareOp::Sw => "sw",
        CompareOp::Ew => "ew",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "ge",
        CompareOp::Lt => "lt",
        CompareOp::Le => "le",
    }
}

fn literal_json(literal: &Value) -> Option<Json> {
    match literal {
        Value::Str(text) => Some(Json::String(text.clone())),
        Value::Bool(b) => Some(Json::Bool(*b)),
        Value::Number(n) => serde_json::Number::from_f64(*n).map(Json::Number),
        Value::Null => None,
    }
}

fn literal_text(literal: &Value) -> String {
    match literal {
        Value::Str(text) => format!("{:?}", clip(text)),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".to_owned(),
    }
}

// Describing what a client sent, briefly.

fn describe(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(text) => format!("the string {:?}", clip(text)),
        Json::Array(_) => "an array".to_owned(),
        Json::Object(_) => "an object".to_owned(),
    }
}

/// `text`, cut short enough to quote in an error.
fn clip(text: &str) -> Cow<'_, str> {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => Cow::Owned(format!("{}…", text.get(..end).unwrap_or_default())),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::ScimType;
    use super::*;

    const ENTERPRISE: &str = schema::ENTERPRISE;
    const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
    const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";

    // Building operations by hand, as `wire::parse_patch_path` would.

    fn path(text: &str) -> Option<PatchPath> {
        Some(PatchPath::Attr(key_path(text)))
    }

    fn filtered(attr: &str, filter: Filter, sub: Option<&str>) -> Option<PatchPath> {
        Some(PatchPath::Filtered { attr: key_path(attr), filter, sub: sub.map(str::to_owned) })
    }

    fn cmp(sub: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare { path: AttrPath::named(sub), op, value }
    }

    fn eq(sub: &str, value: &str) -> Filter {
        cmp(sub, CompareOp::Eq, Value::Str(value.to_owned()))
    }

    fn op(op: Op, path: Option<PatchPath>, value: Json) -> PatchOperation {
        PatchOperation { op, path, value: Some(value) }
    }

    fn remove(path: Option<PatchPath>) -> PatchOperation {
        PatchOperation { op: Op::Remove, path, value: None }
    }

    /// A path parser for the shapes the tests send: `a`, `a.b`, `urn:…:a`,
    /// `a[b eq "v"]` and `a[b eq "v"].c`.
    fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
        let refused = || ScimError::invalid_path(format!("cannot parse the path {text:?}"));
        let Some((attr, rest)) = text.split_once('[') else {
            return if text.contains([' ', '"', ']']) { Err(refused()) } else { Ok(PatchPath::Attr(key_path(text))) };
        };
        let (inside, after) = rest.split_once(']').ok_or_else(refused)?;
        let (name, literal) = inside.split_once(" eq ").ok_or_else(refused)?;
        let sub = after.strip_prefix('.').map(str::to_owned);
        Ok(PatchPath::Filtered { attr: key_path(attr), filter: eq(name, literal.trim_matches('"')), sub })
    }

    fn user() -> Json {
        json!({
            "schemas": [schema::USER, ENTERPRISE],
            "id": "2819c223",
            "externalId": "bjensen",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "active": true,
            "groups": [{"value": "g1", "$ref": "https://example.com/v2/Groups/g1", "display": "Tour Guides"}],
            ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
            "meta": {
                "resourceType": "User",
                "created": "2024-01-23T04:56:22Z",
                "lastModified": "2024-05-13T04:42:34Z",
                "location": "https://example.com/v2/Users/2819c223",
                "version": "W/\"a330bc54f0671c9\""
            }
        })
    }

    fn bare_user() -> Json {
        json!({"schemas": [schema::USER], "id": "u1", "userName": "jdoe@example.com", "active": true})
    }

    fn member(id: &str) -> Json {
        json!({"value": id, "$ref": format!("https://example.com/v2/Users/{id}"), "type": "User"})
    }

    fn group() -> Json {
        json!({
            "schemas": [schema::GROUP],
            "id": "acbf3ae7",
            "displayName": "Tour Guides",
            "members": [member(BABS), member(MANDY)]
        })
    }

    fn patch_user(mut resource: Json, ops: &[PatchOperation]) -> Result<Json, ScimError> {
        apply(&mut resource, ops, &schema::USER_SCHEMA, &[&schema::ENTERPRISE_SCHEMA])?;
        Ok(resource)
    }

    fn patch_group(mut resource: Json, ops: &[PatchOperation]) -> Result<Json, ScimError> {
        apply(&mut resource, ops, &schema::GROUP_SCHEMA, &[])?;
        Ok(resource)
    }

    /// `base` with the top-level members of `changes` set (null: removed).
    fn with(mut base: Json, changes: Json) -> Json {
        if let (Json::Object(base), Json::Object(changes)) = (&mut base, changes) {
            for (key, value) in changes {
                if value.is_null() {
                    base.remove(&key);
                } else {
                    base.insert(key, value);
                }
            }
        }
        base
    }

    fn scim_type<T>(result: &Result<T, ScimError>) -> Option<ScimType> {
        result.as_ref().err().and_then(|e| e.scim_type)
    }

    // parse_request

    #[test]
    fn a_request_is_parsed_whatever_the_case_of_its_keys_and_verbs() {
        let body = json!({
            "schemas": [schema::PATCH_OP],
            "operations": [
                {"op": "Add", "path": "members", "value": [{"value": BABS}]},
                {"OP": "replace", "Path": "emails[type eq \"work\"].value", "Value": "a@b.c"},
                {"op": "REMOVE", "path": "displayName"},
                {"op": "replace", "path": "", "value": {"active": false}},
                {"op": "add", "path": null, "value": {"displayName": null}},
                {"op": " remove ", "path": " members[value eq \"x\"] "}
            ]
        });
        let expected = vec![
            op(Op::Add, path("members"), json!([{"value": BABS}])),
            op(Op::Replace, filtered("emails", eq("type", "work"), Some("value")), json!("a@b.c")),
            remove(path("displayName")),
            op(Op::Replace, None, json!({"active": false})),
            op(Op::Add, None, json!({"displayName": null})),
            remove(filtered("members", eq("value", "x"), None)),
        ];
        assert_eq!(parse_request(&body, parse_path), Ok(expected));
    }

    #[test]
    fn a_null_value_is_kept_apart_from_a_missing_one() {
        let body = json!({"schemas": [schema::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": null}]});
        assert_eq!(parse_request(&body, parse_path), Ok(vec![op(Op::Replace, path("displayName"), Json::Null)]));
    }

    #[test]
    fn a_malformed_request_is_refused_with_a_precise_detail() {
        let patch = |operations: Json| json!({"schemas": [schema::PATCH_OP], "Operations": operations});
        let cases = [
            (json!([]), ScimType::InvalidSyntax, "the PATCH body must be a JSON object, not an array".to_owned()),
            (
                json!({"Operations": [{"op": "remove", "path": "x"}]}),
                ScimType::InvalidSyntax,
                format!("schemas must contain {}", schema::PATCH_OP),
            ),
            (
                json!({"schemas": [schema::USER], "Operations": []}),
                ScimType::InvalidSyntax,
                format!("schemas must contain {}", schema::PATCH_OP),
            ),
            (
                json!({"schemas": [schema::PATCH_OP]}),
                ScimType::InvalidSyntax,
                "the PATCH body has no Operations".to_owned(),
            ),
            (
                patch(json!([])),
                ScimType::InvalidSyntax,
                "Operations is empty: a PATCH request needs at least one operation".to_owned(),
            ),
            (
                patch(json!({"op": "add"})),
                ScimType::InvalidSyntax,
                "Operations must be an array of operations, not an object".to_owned(),
            ),
            (
                json!({"schemas": [schema::PATCH_OP], "Operations": [], "operations": []}),
                ScimType::InvalidSyntax,
                "Operations is given twice, in different cases".to_owned(),
            ),
            (
                patch(json!(["add"])),
                ScimType::InvalidSyntax,
                "Operations[0]: an operation must be a JSON object, not the string \"add\"".to_owned(),
            ),
            (
                patch(json!([{"path": "x"}])),
                ScimType::InvalidSyntax,
                "Operations[0]: the operation has no op".to_owned(),
            ),
            (
                patch(json!([{"op": "remove", "path": "a"}, {"op": "delete", "path": "x"}])),
                ScimType::InvalidSyntax,
                "Operations[1]: op must be add, replace or remove, not \"delete\"".to_owned(),
            ),
            (
                patch(json!([{"op": 1}])),
                ScimType::InvalidSyntax,
                "Operations[0]: op must be add, replace or remove, not the number 1".to_owned(),
            ),
            (
                patch(json!([{"op": "add", "path": ["a"], "value": 1}])),
                ScimType::InvalidPath,
                "Operations[0]: path must be a string, not an array".to_owned(),
            ),
            (
                patch(json!([{"op": "add", "path": "user name", "value": 1}])),
                ScimType::InvalidPath,
                "Operations[0]: cannot parse the path \"user name\"".to_owned(),
            ),
            (
                patch(json!([{"op": "add", "path": "displayName"}])),
                ScimType::InvalidValue,
                "Operations[0]: add needs a value".to_owned(),
            ),
            (
                patch(json!([{"op": "Replace"}])),
                ScimType::InvalidValue,
                "Operations[0]: replace needs a value".to_owned(),
            ),
            (
                patch(json!([{"op": "remove", "value": {"displayName": "x"}}])),
                ScimType::NoTarget,
                "Operations[0]: remove needs a path: without one there is nothing to remove".to_owned(),
            ),
        ];
        for (body, scim_type, detail) in cases {
            let error = parse_request(&body, parse_path).err();
            assert_eq!(
                error.as_ref().map(|e| (e.status, e.scim_type, e.detail.as_str())),
                Some((400, Some(scim_type), detail.as_str())),
                "{body}"
            );
        }
    }

    #[test]
    fn schemas_may_be_a_lone_urn_in_any_case() {
        let body = json!({"Schemas": schema::PATCH_OP.to_uppercase(), "Operations": [{"op": "remove", "path": "displayName"}]});
        assert_eq!(parse_request(&body, parse_path), Ok(vec![remove(path("displayName"))]));
    }

    // RFC 7644 §3.5.2 examples

    #[test]
    fn rfc_add_a_member() {
        let group = json!({"schemas": [schema::GROUP], "id": "acbf3ae7", "displayName": "Tour Guides", "members": [member(MANDY)]});
        let add = op(
            Op::Add,
            path("members"),
            json!([{"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS}]),
        );
        let expected = with(
            group.clone(),
            json!({"members": [member(MANDY), {"value": BABS, "$ref": format!("https://example.com/v2/Users/{BABS}")}]}),
        );
        assert_eq!(patch_group(group, &[add]), Ok(expected));
    }

    #[test]
    fn rfc_add_attributes_without_a_path() {
        let add =
            op(Op::Add, None, json!({"emails": [{"value": "babs@jensen.org", "type": "home"}], "displayName": "Babs"}));
        let expected =
            with(bare_user(), json!({"emails": [{"value": "babs@jensen.org", "type": "home"}], "displayName": "Babs"}));
        assert_eq!(patch_user(bare_user(), &[add]), Ok(expected));
    }

    #[test]
    fn rfc_remove_all_members() {
        assert_eq!(patch_group(group(), &[remove(path("members"))]), Ok(with(group(), json!({"members": null}))));
    }

    #[test]
    fn rfc_remove_one_member() {
        let ops = [remove(filtered("members", eq("value", BABS), None))];
        assert_eq!(patch_group(group(), &ops), Ok(with(group(), json!({"members": [member(MANDY)]}))));
    }

    #[test]
    fn rfc_remove_multiple_members() {
        let ops = [
            remove(filtered("members", eq("value", BABS), None)),
            remove(filtered("members", eq("value", MANDY), None)),
        ];
        assert_eq!(patch_group(group(), &ops), Ok(with(group(), json!({"members": null}))));
    }

    #[test]
    fn rfc_remove_emails_by_a_complex_filter() {
        let filter =
            Filter::And(vec![eq("type", "work"), cmp("value", CompareOp::Ew, Value::Str("EXAMPLE.com".into()))]);
        let expected = with(user(), json!({"emails": [{"value": "babs@jensen.org", "type": "home"}]}));
        assert_eq!(patch_user(user(), &[remove(filtered("emails", filter, None))]), Ok(expected));
    }

    #[test]
    fn rfc_replace_all_members_by_remove_then_add() {
        let ops =
            [remove(path("members")), op(Op::Add, path("members"), json!([{"display": "James", "value": "08e1d05d"}]))];
        assert_eq!(patch_group(group(), &ops), Ok(with(group(), json!({"members": [{"value": "08e1d05d"}]}))));
    }

    #[test]
    fn rfc_replace_all_members() {
        let replace = op(
            Op::Replace,
            path("members"),
            json!([
                {"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS},
                {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
            ]),
        );
        let expected = with(
            group(),
            json!({"members": [
                {"value": BABS, "$ref": format!("https://example.com/v2/Users/{BABS}")},
                {"value": "08e1d05d", "$ref": "https://example.com/v2/Users/08e1d05d"}
            ]}),
        );
        assert_eq!(patch_group(group(), &[replace]), Ok(expected));
    }

    #[test]
    fn rfc_replace_a_filtered_value() {
        let replace = op(
            Op::Replace,
            filtered("emails", eq("type", "work"), None),
            json!({"type": "work", "value": "babs@example.org"}),
        );
        let expected = with(
            user(),
            json!({"emails": [
                {"value": "babs@example.org", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ]}),
        );
        assert_eq!(patch_user(user(), &[replace]), Ok(expected));
    }

    #[test]
    fn rfc_replace_a_filtered_sub_attribute() {
        let replace = op(Op::Replace, filtered("emails", eq("type", "home"), Some("value")), json!("babs@jensen.net"));
        let expected = with(
            user(),
            json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.net", "type": "home"}
            ]}),
        );
        assert_eq!(patch_user(user(), &[replace]), Ok(expected));
    }

    #[test]
    fn rfc_replace_several_attributes_without_a_path() {
        let replace = op(
            Op::Replace,
            None,
            json!({"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}], "displayName": "Babs"}),
        );
        let expected = with(
            user(),
            json!({"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}], "displayName": "Babs"}),
        );
        assert_eq!(patch_user(user(), &[replace]), Ok(expected));
    }

    #[test]
    fn rfc_replace_a_complex_attribute_keeps_the_sub_attributes_not_given() {
        let replace = op(Op::Replace, path("name"), json!({"givenName": "Babs"}));
        let expected = with(user(), json!({"name": {"givenName": "Babs", "familyName": "Jensen"}}));
        assert_eq!(patch_user(user(), &[replace]), Ok(expected));
    }

    // What Entra ID and Okta send

    #[test]
    fn entra_booleans_as_strings_are_stored_as_booleans() {
        let cases =
            [("False", Ok(false)), ("false", Ok(false)), ("True", Ok(true)), ("TRUE", Ok(true)), ("yes", Err(()))];
        for (text, expected) in cases {
            let result = patch_user(bare_user(), &[op(Op::Replace, path("active"), json!(text))]);
            match expected {
                Ok(active) => assert_eq!(result, Ok(with(bare_user(), json!({"active": active})))),
                Err(()) => assert_eq!(
                    result,
                    Err(ScimError::invalid_value("Operations[0]: active must be a boolean, not the string \"yes\""))
                ),
            }
        }
    }

    #[test]
    fn entra_add_without_a_path_with_dotted_and_prefixed_keys() {
        let add = op(
            Op::Add,
            None,
            json!({"name.givenName": "J", format!("{ENTERPRISE}:department"): "Eng", "externalId": "jd"}),
        );
        let expected = with(
            bare_user(),
            json!({"name": {"givenName": "J"}, ENTERPRISE: {"department": "Eng"}, "externalId": "jd"}),
        );
        assert_eq!(patch_user(bare_user(), &[add]), Ok(expected));
    }

    #[test]
    fn entra_filtered_replace_on_a_user_without_emails_makes_the_email() {
        let replace = op(Op::Replace, filtered("emails", eq("type", "work"), Some("value")), json!("a@b.c"));
        let expected = with(bare_user(), json!({"emails": [{"type": "work", "value": "a@b.c"}]}));
        assert_eq!(patch_user(bare_user(), &[replace]), Ok(expected));
    }

    #[test]
    fn entra_filtered_add_of_a_primary_email_makes_it_the_only_primary() {
        let filter = Filter::And(vec![eq("type", "other"), cmp("primary", CompareOp::Eq, Value::Bool(true))]);
        let add = op(Op::Add, filtered("emails", filter, Some("value")), json!("b@example.com"));
        let expected = with(
            user(),
            json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": false},
                {"value": "babs@jensen.org", "type": "home"},
                {"type": "other", "primary": true, "value": "b@example.com"}
            ]}),
        );
        assert_eq!(patch_user(user(), &[add]), Ok(expected));
    }

    #[test]
    fn entra_removes_the_members_listed_in_the_value() {
        let remove = op(Op::Remove, path("members"), json!([{"value": BABS}, {"value": "not-a-member"}]));
        assert_eq!(patch_group(group(), &[remove]), Ok(with(group(), json!({"members": [member(MANDY)]}))));
    }

    #[test]
    fn entra_whole_extension_as_a_key_or_a_path() {
        let by_key = op(Op::Replace, None, json!({ENTERPRISE: {"DEPARTMENT": "Eng", "costCenter": "42"}}));
        let by_path = op(Op::Replace, path(ENTERPRISE), json!({"department": "Eng", "costCenter": "42"}));
        let expected =
            with(user(), json!({ENTERPRISE: {"employeeNumber": "701984", "department": "Eng", "costCenter": "42"}}));
        assert_eq!(patch_user(user(), &[by_key]), Ok(expected.clone()));
        assert_eq!(patch_user(user(), &[by_path]), Ok(expected));
    }

    #[test]
    fn an_extension_value_may_name_its_own_schema() {
        let value = json!({"schemas": [ENTERPRISE], "department": "Eng"});
        let by_path = op(Op::Add, path(ENTERPRISE), value);
        let expected = with(user(), json!({ENTERPRISE: {"employeeNumber": "701984", "department": "Eng"}}));
        assert_eq!(patch_user(user(), &[by_path]), Ok(expected));
        let other = op(Op::Add, path(ENTERPRISE), json!({"schemas": ["urn:example:other"], "department": "Eng"}));
        assert!(patch_user(user(), &[other]).is_err(), "another schema is refused");
    }

    #[test]
    fn okta_replace_with_the_unchanged_id_is_accepted() {
        let replace = op(Op::Replace, None, json!({"id": "2819c223", "active": false}));
        assert_eq!(patch_user(user(), &[replace]), Ok(with(user(), json!({"active": false}))));
        let changed = op(Op::Replace, None, json!({"id": "2819C223", "active": false}));
        assert_eq!(
            patch_user(user(), &[changed]),
            Err(ScimError::mutability(
                "Operations[0]: id is readOnly: the server sets it, and this operation would change it"
            ))
        );
    }

    #[test]
    fn okta_removing_a_member_already_gone_changes_nothing() {
        let ops = [remove(filtered("members", eq("value", "00u1gone"), None))];
        assert_eq!(patch_group(group(), &ops), Ok(group()));
    }

    #[test]
    fn okta_replaces_members_with_display_names() {
        let replace = op(
            Op::Replace,
            path("members"),
            json!([{"value": "00u1", "display": "a@example.com"}, {"value": "00u2", "display": "b@example.com"}]),
        );
        assert_eq!(
            patch_group(group(), &[replace]),
            Ok(with(group(), json!({"members": [{"value": "00u1"}, {"value": "00u2"}]})))
        );
    }

    #[test]
    fn okta_renames_a_group_without_a_path() {
        let replace = op(Op::Replace, None, json!({"id": "acbf3ae7", "displayName": "Guides"}));
        assert_eq!(patch_group(group(), &[replace]), Ok(with(group(), json!({"displayName": "Guides"}))));
    }

    #[test]
    fn entra_user_update_end_to_end() {
        let body = json!({
            "schemas": [schema::PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Jane Doe"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "jane@example.com"},
                {"op": "Replace", "path": "emails[type eq \"work\"].primary", "value": "True"},
                {"op": "Add", "value": {"name.givenName": "Jane", "name.familyName": "Doe"}},
                {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Eng"},
                {"op": "Replace", "path": "active", "value": "False"}
            ]
        });
        let expected = with(
            bare_user(),
            json!({
                "displayName": "Jane Doe",
                "emails": [{"type": "work", "value": "jane@example.com", "primary": true}],
                "name": {"givenName": "Jane", "familyName": "Doe"},
                ENTERPRISE: {"department": "Eng"},
                "active": false
            }),
        );
        let ops = parse_request(&body, parse_path);
        assert_eq!(ops.and_then(|ops| patch_user(bare_user(), &ops)), Ok(expected));
    }

    #[test]
    fn okta_group_update_end_to_end() {
        let body = json!({
            "schemas": [schema::PATCH_OP],
            "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{MANDY}\"]")},
                {"op": "remove", "path": "members[value eq \"00u1gone\"]"},
                {"op": "add", "path": "members", "value": [{"value": "00u2new", "display": "new@example.com"}]},
                {"op": "replace", "value": {"id": "acbf3ae7", "displayName": "Guides"}}
            ]
        });
        let expected = with(group(), json!({"displayName": "Guides", "members": [member(BABS), {"value": "00u2new"}]}));
        let ops = parse_request(&body, parse_path);
        assert_eq!(ops.and_then(|ops| patch_group(group(), &ops)), Ok(expected));
    }

    // Names

    #[test]
    fn names_match_ignoring_case_and_are_written_as_declared() {
        let ops = [
            op(Op::Replace, path("USERNAME"), json!("j@example.com")),
            op(
                Op::Add,
                None,
                json!({"NAME": {"GIVENNAME": "J"}, "Emails": [{"VALUE": "j@example.com", "Type": "work"}]}),
            ),
            op(Op::Add, path(&format!("{}:DisplayName", schema::USER.to_uppercase())), json!("J")),
            op(Op::Add, path(&format!("{}:EMPLOYEENUMBER", ENTERPRISE.to_lowercase())), json!("7")),
        ];
        let expected = with(
            bare_user(),
            json!({
                "userName": "j@example.com",
                "name": {"givenName": "J"},
                "emails": [{"value": "j@example.com", "type": "work"}],
                "displayName": "J",
                ENTERPRISE: {"employeeNumber": "7"}
            }),
        );
        assert_eq!(patch_user(bare_user(), &ops), Ok(expected));
    }

    #[test]
    fn an_extension_attribute_may_lose_its_prefix() {
        let add = op(Op::Add, path("department"), json!("Eng"));
        assert_eq!(patch_user(bare_user(), &[add]), Ok(with(bare_user(), json!({ENTERPRISE: {"department": "Eng"}}))));
    }

    #[test]
    fn unknown_names_are_refused() {
        let cases = [
            (
                op(Op::Add, path("nickName"), json!("x")),
                ScimError::invalid_path(format!("\"nickName\" is not an attribute of {}", schema::USER)),
            ),
            (
                op(Op::Add, path("name.middleName"), json!("x")),
                ScimError::invalid_path("name has no sub-attribute \"middleName\""),
            ),
            (
                op(Op::Add, path("userName.first"), json!("x")),
                ScimError::invalid_path("userName has no sub-attributes"),
            ),
            (
                op(Op::Add, path(&format!("{ENTERPRISE}:manager")), json!("x")),
                ScimError::invalid_path(format!("\"manager\" is not an attribute of {ENTERPRISE}")),
            ),
            (
                op(Op::Add, path("urn:example:params:Thing:x"), json!("x")),
                ScimError::invalid_path("\"urn:example:params:Thing\" is not a schema of this resource"),
            ),
            (
                op(Op::Add, None, json!({"nickName": "x"})),
                ScimError::invalid_value(format!("in the value, \"nickName\" is not an attribute of {}", schema::USER)),
            ),
            (
                op(Op::Add, None, json!({"name": {"middleName": "x"}})),
                ScimError::invalid_value("name has no sub-attribute \"middleName\""),
            ),
            (
                op(Op::Add, None, json!({ENTERPRISE: {"manager": "x"}})),
                ScimError::invalid_value(format!("in the value, \"manager\" is not an attribute of {ENTERPRISE}")),
            ),
            (
                op(Op::Add, None, json!({ENTERPRISE: {format!("{}:department", schema::USER): "x"}})),
                ScimError::invalid_value(format!(
                    "in the value, {}:department is not an attribute of {ENTERPRISE}",
                    schema::USER
                )),
            ),
            (
                op(Op::Add, None, json!({"emails[type eq \"work\"].value": "x"})),
                ScimError::invalid_value(
                    "the value's key \"emails[type eq \\\"work\\\"].value\" holds a filter: give it as a path",
                ),
            ),
            (
                op(Op::Add, None, json!(["x"])),
                ScimError::invalid_value("without a path, the value must be an object of attributes, not an array"),
            ),
            (
                op(Op::Add, path(ENTERPRISE), json!("x")),
                ScimError::invalid_value(format!(
                    "the value of {ENTERPRISE} must be an object of attributes, not the string \"x\""
                )),
            ),
            (
                op(Op::Add, filtered("userName", eq("value", "x"), None), json!("x")),
                ScimError::invalid_path(
                    "userName[…]: a filter selects values of a multi-valued complex attribute, and userName is not one",
                ),
            ),
            (
                op(Op::Add, filtered("emails", eq("kind", "x"), None), json!({})),
                ScimError::invalid_path("emails has no sub-attribute \"kind\""),
            ),
            (
                op(Op::Add, filtered("emails", eq("type", "work"), Some("label")), json!("x")),
                ScimError::invalid_path("emails has no sub-attribute \"label\""),
            ),
        ];
        for (operation, expected) in cases {
            let expected = ScimError { detail: format!("Operations[0]: {}", expected.detail), ..expected };
            assert_eq!(patch_user(user(), std::slice::from_ref(&operation)), Err(expected), "{operation:?}");
        }
    }

    #[test]
    fn a_key_is_split_like_a_path() {
        let cases = [
            ("userName", AttrPath { schema: None, name: "userName".into(), sub: None }),
            ("name.givenName", AttrPath { schema: None, name: "name".into(), sub: Some("givenName".into()) }),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
                AttrPath { schema: Some(schema::USER.into()), name: "name".into(), sub: Some("givenName".into()) },
            ),
            (
                ENTERPRISE,
                AttrPath {
                    schema: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0".into()),
                    name: "User".into(),
                    sub: None,
                },
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(key_path(key), expected, "{key}");
        }
    }

    // Mutability

    #[test]
    fn read_only_attributes_may_only_be_given_unchanged() {
        let groups = json!([{"value": "g1", "$ref": "https://example.com/v2/Groups/g1", "display": "Tour Guides"}]);
        let meta = user()["meta"].clone();
        let accepted = [
            op(Op::Replace, path("id"), json!("2819c223")),
            op(Op::Add, path("groups"), json!([{"value": "G1"}])),
            op(Op::Replace, path("groups"), groups.clone()),
            op(Op::Replace, None, json!({"meta": meta, "groups": groups, "schemas": [schema::USER]})),
            op(Op::Replace, path("meta.resourceType"), json!("User")),
            op(Op::Add, path("schemas"), json!([ENTERPRISE.to_uppercase(), schema::USER])),
            op(Op::Add, path("schemas"), json!(schema::USER)),
            remove(filtered("groups", eq("value", "g2"), None)),
        ];
        for operation in accepted {
            assert_eq!(patch_user(user(), std::slice::from_ref(&operation)), Ok(user()), "{operation:?}");
        }
        let refused = [
            (
                op(Op::Replace, path("id"), json!("other")),
                "id is readOnly: the server sets it, and this operation would change it",
            ),
            (remove(path("id")), "id is readOnly: the server sets it, and this operation would change it"),
            (
                op(Op::Add, path("groups"), json!({"value": "g2"})),
                "groups is readOnly: the server sets it, and this operation would change it",
            ),
            (remove(path("groups")), "groups is readOnly: the server sets it, and this operation would change it"),
            (
                op(Op::Replace, filtered("groups", eq("value", "g1"), Some("display")), json!("x")),
                "groups.display is readOnly: the server sets it, and this operation would change it",
            ),
            (
                op(Op::Replace, path("meta.version"), json!("W/\"1\"")),
                "meta.version is readOnly: the server sets it, and this operation would change it",
            ),
            (
                op(Op::Replace, None, json!({"meta": {"location": "x"}})),
                "meta.location is readOnly: the server sets it, and this operation would change it",
            ),
            (remove(path("schemas")), "schemas is set by the server: it cannot be removed"),
            (op(Op::Replace, path("schemas"), Json::Null), "schemas is set by the server: it cannot be removed"),
            (
                op(Op::Add, path("schemas"), json!(["urn:example:Thing"])),
                "schemas is set by the server from the attributes present; \"urn:example:Thing\" is not a schema of this resource",
            ),
        ];
        for (operation, detail) in refused {
            let expected = ScimError::mutability(format!("Operations[0]: {detail}"));
            assert_eq!(patch_user(user(), std::slice::from_ref(&operation)), Err(expected), "{operation:?}");
        }
    }

    #[test]
    fn immutable_sub_attributes_are_set_once() {
        let set_type = op(Op::Replace, path("members.type"), json!("User"));
        let untyped = with(group(), json!({"members": [{"value": BABS}]}));
        assert_eq!(
            patch_group(untyped, &[set_type]),
            Ok(with(group(), json!({"members": [{"value": BABS, "type": "User"}]})))
        );
        let refused = [
            op(Op::Replace, filtered("members", eq("value", BABS), Some("value")), json!("other")),
            op(Op::Replace, filtered("members", eq("value", BABS), None), json!({"value": "other"})),
            remove(filtered("members", eq("value", BABS), Some("$ref"))),
            op(Op::Add, path("members"), json!({"value": BABS, "type": "Group"})),
        ];
        for operation in refused {
            assert_eq!(
                scim_type(&patch_group(group(), std::slice::from_ref(&operation))),
                Some(ScimType::Mutability),
                "{operation:?}"
            );
        }
        let same = op(Op::Add, path("members"), json!({"value": BABS.to_uppercase(), "type": "user"}));
        assert_eq!(patch_group(group(), &[same]), Ok(group()));
    }

    // Values

    #[test]
    fn values_must_have_the_declared_type() {
        let cases = [
            (op(Op::Replace, path("userName"), json!(5)), "userName must be a string, not the number 5"),
            (op(Op::Replace, path("userName"), json!(["a"])), "userName must be a string, not an array"),
            (op(Op::Replace, path("active"), json!(1)), "active must be a boolean, not the number 1"),
            (
                op(Op::Replace, path("name"), json!("Babs")),
                "name must be an object of sub-attributes, not the string \"Babs\"",
            ),
            (
                op(Op::Replace, path("name"), json!({"givenName": true})),
                "name.givenName must be a string, not the boolean true",
            ),
            (
                op(Op::Replace, path("name"), json!({"givenName": "a", "GIVENNAME": "b"})),
                "name.givenName is given twice, in different cases",
            ),
            (
                op(Op::Add, path("emails"), json!(["a@b.c"])),
                "emails must be an object of sub-attributes, not the string \"a@b.c\"",
            ),
            (
                op(Op::Add, path("emails"), json!([{"value": "a@b.c", "primary": "yes"}])),
                "emails.primary must be a boolean, not the string \"yes\"",
            ),
            (
                op(Op::Add, path("emails"), json!([{"value": "a@b.c", "label": "x"}])),
                "emails has no sub-attribute \"label\"",
            ),
            (
                op(Op::Replace, filtered("emails", eq("type", "work"), Some("value")), json!(7)),
                "emails.value must be a string, not the number 7",
            ),
            (
                op(Op::Replace, path("emails.primary"), json!("x")),
                "emails.primary must be a boolean, not the string \"x\"",
            ),
            (
                op(Op::Add, path(&format!("{ENTERPRISE}:department")), json!({"name": "x"})),
                "department must be a string, not an object",
            ),
            (op(Op::Add, path("schemas"), json!([1])), "schemas must list URNs, not the number 1"),
        ];
        for (operation, detail) in cases {
            let expected = ScimError::invalid_value(format!("Operations[0]: {detail}"));
            assert_eq!(patch_user(user(), std::slice::from_ref(&operation)), Err(expected), "{operation:?}");
        }
    }

    #[test]
    fn a_long_value_is_clipped_in_the_error() {
        let long = "x".repeat(10_000);
        let result = patch_user(user(), &[op(Op::Replace, path("active"), json!(long))]);
        let expected = format!("Operations[0]: active must be a boolean, not the string \"{}…\"", "x".repeat(64));
        assert_eq!(result.map_err(|e| e.detail), Err(expected));
    }

    #[test]
    fn null_unassigns_and_an_empty_array_clears() {
        let cases = [
            (op(Op::Replace, path("displayName"), Json::Null), json!({"displayName": null})),
            (op(Op::Add, path("emails"), Json::Null), json!({"emails": null})),
            (op(Op::Replace, path("emails"), json!([])), json!({"emails": null})),
            (op(Op::Add, path("emails"), json!([])), json!({})),
            (
                op(Op::Replace, None, json!({"displayName": null, "name": {"givenName": null}})),
                json!({"displayName": null, "name": {"familyName": "Jensen"}}),
            ),
            (op(Op::Replace, path("name"), json!({"givenName": null, "familyName": null})), json!({"name": null})),
            (op(Op::Replace, path(ENTERPRISE), Json::Null), json!({ENTERPRISE: null})),
            (
                op(Op::Replace, filtered("emails", eq("type", "home"), None), Json::Null),
                json!({"emails": [user()["emails"][0].clone()]}),
            ),
            (op(Op::Replace, filtered("emails", eq("type", "nope"), Some("value")), Json::Null), json!({})),
        ];
        for (operation, changes) in cases {
            assert_eq!(
                patch_user(user(), std::slice::from_ref(&operation)),
                Ok(with(user(), changes)),
                "{operation:?}"
            );
        }
    }

    #[test]
    fn removing_the_last_sub_attribute_or_extension_attribute_drops_the_container() {
        let ops = [
            remove(path("name.givenName")),
            remove(path("NAME.familyName")),
            remove(path(&format!("{ENTERPRISE}:department"))),
            remove(path("employeeNumber")),
            remove(filtered("emails", eq("type", "home"), Some("value"))),
            remove(filtered("emails", eq("type", "home"), Some("type"))),
        ];
        let expected = with(user(), json!({"name": null, ENTERPRISE: null, "emails": [user()["emails"][0].clone()]}));
        assert_eq!(patch_user(user(), &ops), Ok(expected));
    }

    #[test]
    fn removing_an_extension_by_its_urn() {
        assert_eq!(patch_user(user(), &[remove(path(ENTERPRISE))]), Ok(with(user(), json!({ENTERPRISE: null}))));
    }

    #[test]
    fn schemas_is_never_touched() {
        let mut resource = with(bare_user(), json!({"schemas": []}));
        let result = apply(&mut resource, &[op(Op::Add, path("displayName"), json!("J"))], &schema::USER_SCHEMA, &[]);
        assert_eq!(result, Ok(()));
        assert_eq!(resource, with(bare_user(), json!({"schemas": [], "displayName": "J"})));
    }

    #[test]
    fn remove_of_a_single_valued_attribute_ignores_a_value() {
        let ops = [op(Op::Remove, path("displayName"), json!("whatever"))];
        assert_eq!(patch_user(user(), &ops), Ok(with(user(), json!({"displayName": null}))));
    }

    #[test]
    fn the_resource_cannot_be_removed_and_its_urn_is_no_path() {
        let by_urn = op(Op::Replace, path(schema::USER), json!({"displayName": "B"}));
        assert_eq!(patch_user(user(), &[by_urn]), Ok(with(user(), json!({"displayName": "B"}))));
        assert_eq!(
            patch_user(user(), &[remove(path(schema::USER))]),
            Err(ScimError::invalid_path("Operations[0]: the resource itself cannot be removed"))
        );
        assert_eq!(
            patch_user(user(), &[remove(None)]),
            Err(ScimError::no_target("Operations[0]: remove needs a path: without one there is nothing to remove"))
        );
    }

    // Multi-valued attributes

    #[test]
    fn add_appends_once_and_merges_a_value_present() {
        let add = op(
            Op::Add,
            path("emails"),
            json!([
                {"value": "BJENSEN@example.com", "type": "other"},
                {"value": "new@example.com", "type": "work"},
                {"value": "new@example.com"},
                {"type": "home"},
                {"type": "home"}
            ]),
        );
        let expected = with(
            user(),
            json!({"emails": [
                {"value": "BJENSEN@example.com", "type": "other", "primary": true},
                {"value": "babs@jensen.org", "type": "home"},
                {"value": "new@example.com", "type": "work"},
                {"type": "home"}
            ]}),
        );
        assert_eq!(patch_user(user(), &[add]), Ok(expected));
    }

    #[test]
    fn a_value_that_is_not_an_array_is_one_value() {
        let add = op(Op::Add, path("members"), json!({"value": "08e1d05d"}));
        assert_eq!(
            patch_group(group(), &[add]),
            Ok(with(group(), json!({"members": [member(BABS), member(MANDY), {"value": "08e1d05d"}]})))
        );
    }

    #[test]
    fn a_sub_attribute_without_a_filter_is_set_in_every_value() {
        let cases = [
            (
                op(Op::Replace, path("emails.type"), json!("other")),
                json!({"emails": [
                    {"value": "bjensen@example.com", "type": "other", "primary": true},
                    {"value": "babs@jensen.org", "type": "other"}
                ]}),
            ),
            (
                remove(path("emails.type")),
                json!({"emails": [
                    {"value": "bjensen@example.com", "primary": true},
                    {"value": "babs@jensen.org"}
                ]}),
            ),
        ];
        for (operation, changes) in cases {
            assert_eq!(
                patch_user(user(), std::slice::from_ref(&operation)),
                Ok(with(user(), changes)),
                "{operation:?}"
            );
        }
        let onto_nothing = op(Op::Add, path("emails.value"), json!("j@example.com"));
        assert_eq!(
            patch_user(bare_user(), &[onto_nothing]),
            Ok(with(bare_user(), json!({"emails": [{"value": "j@example.com"}]})))
        );
    }

    #[test]
    fn primary_is_held_by_one_value_at_most() {
        let home = filtered("emails", eq("type", "home"), Some("primary"));
        let made_primary = json!({"emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": false},
            {"value": "babs@jensen.org", "type": "home", "primary": true}
        ]});
        assert_eq!(patch_user(user(), &[op(Op::Replace, home, json!("True"))]), Ok(with(user(), made_primary.clone())));
        let add = op(Op::Add, path("emails"), json!({"value": "babs@jensen.org", "primary": true}));
        assert_eq!(patch_user(user(), &[add]), Ok(with(user(), made_primary)));

        let too_many = [
            op(
                Op::Add,
                path("emails"),
                json!([{"value": "a@x.y", "primary": true}, {"value": "b@x.y", "primary": true}]),
            ),
            op(
                Op::Replace,
                path("emails"),
                json!([{"value": "a@x.y", "primary": true}, {"value": "b@x.y", "primary": "true"}]),
            ),
            op(Op::Replace, path("emails.primary"), json!(true)),
            op(
                Op::Replace,
                filtered("emails", cmp("value", CompareOp::Co, Value::Str("@".into())), None),
                json!({"primary": true}),
            ),
        ];
        for operation in too_many {
            assert_eq!(
                patch_user(user(), std::slice::from_ref(&operation)),
                Err(ScimError::invalid_value(
                    "Operations[0]: at most one value of emails may be primary, and this operation makes 2 primary"
                )),
                "{operation:?}"
            );
        }
    }

    #[test]
    fn a_filtered_add_or_replace_that_selects_nothing() {
        let made = [
            (
                op(
                    Op::Add,
                    filtered("emails", Filter::And(vec![eq("type", "work"), eq("value", "w@x.y")]), Some("primary")),
                    json!(false),
                ),
                json!({"emails": [{"type": "work", "value": "w@x.y", "primary": false}]}),
            ),
            (
                op(Op::Replace, filtered("emails", eq("type", "home"), None), json!({"value": "h@x.y"})),
                json!({"emails": [{"type": "home", "value": "h@x.y"}]}),
            ),
            (
                op(
                    Op::Replace,
                    filtered("emails", cmp("primary", CompareOp::Eq, Value::Str("True".into())), Some("value")),
                    json!("p@x.y"),
                ),
                json!({"emails": [{"primary": true, "value": "p@x.y"}]}),
            ),
        ];
        for (operation, changes) in made {
            assert_eq!(
                patch_user(bare_user(), std::slice::from_ref(&operation)),
                Ok(with(bare_user(), changes)),
                "{operation:?}"
            );
        }
        let refused = [
            (
                op(
                    Op::Replace,
                    filtered("emails", cmp("type", CompareOp::Sw, Value::Str("w".into())), Some("value")),
                    json!("a@b.c"),
                ),
                "no value of emails matches the filter, and a value is made only from eq comparisons joined by and",
            ),
            (
                op(
                    Op::Replace,
                    filtered("emails", Filter::Or(vec![eq("type", "work"), eq("type", "home")]), Some("value")),
                    json!("a@b.c"),
                ),
                "no value of emails matches the filter, and a value is made only from eq comparisons joined by and",
            ),
            (
                op(
                    Op::Add,
                    filtered("emails", Filter::And(vec![eq("type", "work"), eq("type", "home")]), Some("value")),
                    json!("a@b.c"),
                ),
                "no value of emails matches the filter, and no value can: its comparisons contradict one another",
            ),
        ];
        for (operation, detail) in refused {
            assert_eq!(
                patch_user(bare_user(), std::slice::from_ref(&operation)),
                Err(ScimError::no_target(format!("Operations[0]: {detail}"))),
                "{operation:?}"
            );
        }
        let wrong_type = op(
            Op::Add,
            filtered("emails", cmp("type", CompareOp::Eq, Value::Number(5.0)), Some("value")),
            json!("a@b.c"),
        );
        assert_eq!(scim_type(&patch_user(bare_user(), &[wrong_type])), Some(ScimType::InvalidValue));
    }

    #[test]
    fn a_filtered_replace_merges_into_every_value_selected() {
        let replace = op(
            Op::Replace,
            filtered("emails", Filter::Present(AttrPath::named("type")), None),
            json!({"type": "other", "primary": null}),
        );
        let expected = with(
            user(),
            json!({"emails": [{"value": "bjensen@example.com", "type": "other"}, {"value": "babs@jensen.org", "type": "other"}]}),
        );
        assert_eq!(patch_user(user(), &[replace]), Ok(expected));
    }

    #[test]
    fn operations_apply_in_order_and_an_error_names_its_operation() {
        let ops = [
            op(Op::Replace, path("displayName"), json!("B")),
            remove(path("displayName")),
            op(Op::Add, path("displayName"), json!("C")),
        ];
        assert_eq!(patch_user(user(), &ops), Ok(with(user(), json!({"displayName": "C"}))));
        let failing = [op(Op::Replace, path("displayName"), json!("B")), op(Op::Replace, path("nope"), json!("x"))];
        assert_eq!(
            patch_user(user(), &failing),
            Err(ScimError::invalid_path(format!("Operations[1]: \"nope\" is not an attribute of {}", schema::USER)))
        );
    }

    #[test]
    fn a_resource_that_is_not_an_object_is_an_internal_error() {
        let mut resource = json!([]);
        let result = apply(&mut resource, &[remove(path("displayName"))], &schema::USER_SCHEMA, &[]);
        assert_eq!(result.map_err(|e| (e.status, e.scim_type)), Err((500, None)));
    }

    // Filters

    const fn text(name: &'static str, case_exact: bool) -> Attribute {
        Attribute {
            name,
            kind: Kind::String,
            multi_valued: false,
            required: false,
            case_exact,
            mutability: Mutability::ReadWrite,
            unique: false,
            always_returned: false,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description: "",
        }
    }

    static TAGS: Attribute = Attribute {
        kind: Kind::Complex,
        multi_valued: true,
        sub_attributes: &[
            text("code", true),
            text("label", false),
            text("rank", false),
            Attribute { kind: Kind::Boolean, ..text("primary", false) },
        ],
        ..text("tags", false)
    };

    #[test]
    fn filters_compare_as_the_rfc_says() {
        let tag = json!({"code": "AbC", "label": "Work", "rank": 3, "primary": true});
        let s = |text: &str| Value::Str(text.to_owned());
        let cases = [
            (cmp("label", CompareOp::Eq, s("WORK")), true),
            (cmp("code", CompareOp::Eq, s("abc")), false),
            (cmp("code", CompareOp::Eq, s("AbC")), true),
            (cmp("code", CompareOp::Ne, s("abc")), true),
            (cmp("label", CompareOp::Co, s("OR")), true),
            (cmp("code", CompareOp::Co, s("BC")), false),
            (cmp("label", CompareOp::Sw, s("wo")), true),
            (cmp("label", CompareOp::Ew, s("RK")), true),
            (cmp("label", CompareOp::Gt, s("VORK")), true),
            (cmp("label", CompareOp::Ge, s("work")), true),
            (cmp("label", CompareOp::Lt, s("work")), false),
            (cmp("label", CompareOp::Le, s("WORK")), true),
            (cmp("code", CompareOp::Gt, s("a")), false),
            (cmp("rank", CompareOp::Gt, Value::Number(2.5)), true),
            (cmp("rank", CompareOp::Le, Value::Number(2.5)), false),
            (cmp("rank", CompareOp::Eq, Value::Number(3.0)), true),
            (cmp("rank", CompareOp::Eq, s("3")), false),
            (cmp("primary", CompareOp::Eq, Value::Bool(true)), true),
            (cmp("primary", CompareOp::Ne, Value::Bool(true)), false),
            (cmp("primary", CompareOp::Eq, s("True")), true),
            (cmp("primary", CompareOp::Eq, s("maybe")), false),
            (cmp("label", CompareOp::Eq, Value::Bool(true)), false),
            (cmp("label", CompareOp::Ne, Value::Bool(true)), true),
            (cmp("label", CompareOp::Eq, Value::Null), false),
            (cmp("label", CompareOp::Ne, Value::Null), true),
            (Filter::Present(AttrPath::named("label")), true),
            (Filter::Not(Box::new(Filter::Present(AttrPath::named("label")))), false),
            (Filter::And(vec![cmp("label", CompareOp::Eq, s("work")), cmp("code", CompareOp::Eq, s("x"))]), false),
            (Filter::Or(vec![cmp("label", CompareOp::Eq, s("home")), cmp("code", CompareOp::Eq, s("AbC"))]), true),
        ];
        for (filter, expected) in cases {
            let cond = Cond::resolve(&TAGS, &filter);
            assert_eq!(cond.map(|c| c.selects(&tag)), Ok(expected), "{filter:?}");
        }
        let sparse = json!({"code": "", "label": null});
        let absent = [
            (Filter::Present(AttrPath::named("code")), false),
            (Filter::Present(AttrPath::named("label")), false),
            (Filter::Present(AttrPath::named("rank")), false),
            (cmp("label", CompareOp::Eq, Value::Null), true),
            (cmp("rank", CompareOp::Ne, s("3")), true),
            (cmp("rank", CompareOp::Eq, s("3")), false),
            (cmp("rank", CompareOp::Lt, s("3")), false),
        ];
        for (filter, expected) in absent {
            assert_eq!(Cond::resolve(&TAGS, &filter).map(|c| c.selects(&sparse)), Ok(expected), "{filter:?}");
        }
        assert_eq!(
            Cond::resolve(&TAGS, &Filter::Present(AttrPath::named("code"))).map(|c| c.selects(&json!("AbC"))),
            Ok(false)
        );
    }

    #[test]
    fn comparisons_the_rfc_does_not_define_are_refused() {
        let cases = [
            (cmp("primary", CompareOp::Gt, Value::Bool(true)), ScimType::InvalidFilter),
            (cmp("primary", CompareOp::Co, Value::Str("t".into())), ScimType::InvalidFilter),
            (cmp("label", CompareOp::Sw, Value::Null), ScimType::InvalidFilter),
            (cmp("label", CompareOp::Lt, Value::Bool(false)), ScimType::InvalidFilter),
            (cmp("rank", CompareOp::Co, Value::Number(1.0)), ScimType::InvalidFilter),
            (cmp("colour", CompareOp::Eq, Value::Null), ScimType::InvalidPath),
            (
                Filter::Compare {
                    path: AttrPath { sub: Some("x".into()), ..AttrPath::named("label") },
                    op: CompareOp::Eq,
                    value: Value::Null,
                },
                ScimType::InvalidPath,
            ),
            (
                Filter::Compare {
                    path: AttrPath { schema: Some(schema::USER.into()), ..AttrPath::named("label") },
                    op: CompareOp::Eq,
                    value: Value::Null,
                },
                ScimType::InvalidPath,
            ),
            (
                Filter::Within {
                    attr: AttrPath::named("tags"),
                    filter: Box::new(Filter::Present(AttrPath::named("label"))),
                },
                ScimType::InvalidPath,
            ),
            (
                Filter::Not(Box::new(Filter::And(vec![cmp("primary", CompareOp::Le, Value::Bool(true))]))),
                ScimType::InvalidFilter,
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(scim_type(&Cond::resolve(&TAGS, &filter)), Some(expected), "{filter:?}");
        }
        let refused =
            op(Op::Remove, filtered("emails", cmp("primary", CompareOp::Gt, Value::Bool(true)), None), Json::Null);
        assert_eq!(
            patch_user(bare_user(), &[refused]),
            Err(ScimError::invalid_filter(
                "Operations[0]: emails.primary gt true: the operator does not apply to this value"
            ))
        );
    }

    // Hostile input

    fn deep(levels: usize) -> Json {
        (0..levels)
            .fold(json!("bottom"), |inner, level| if level % 2 == 0 { json!([inner]) } else { json!({"name": inner}) })
    }

    #[test]
    fn hostile_requests_are_refused_without_panicking() {
        let junk: Vec<Json> = (0..100_000).map(Json::from).collect();
        let bodies = [
            Json::Null,
            json!("PATCH"),
            json!({"schemas": schema::PATCH_OP, "Operations": junk}),
            json!({"schemas": [schema::PATCH_OP], "Operations": [deep(1000)]}),
            json!({"schemas": [deep(1000)], "Operations": [{"op": "add", "value": {}}]}),
            json!({"schemas": [schema::PATCH_OP], "Operations": [{"op": deep(1000), "value": 1}]}),
            json!({"schemas": [schema::PATCH_OP], "Operations": [{"op": "add", "path": deep(1000), "value": 1}]}),
            json!({"schemas": [schema::PATCH_OP], "Operations": [{"op": "add", "path": "\u{0}[\u{202e}", "value": 1}]}),
            json!({"schemas": [schema::PATCH_OP], "Operations": [{"op": "remove", "path": "a", "value": 1}, {"op": "", "path": "a"}]}),
        ];
        for body in bodies {
            assert!(parse_request(&body, parse_path).is_err(), "{body}");
        }
        let deep_value = json!({"schemas": [schema::PATCH_OP], "Operations": [{"op": "add", "value": deep(1000)}]});
        assert_eq!(parse_request(&deep_value, parse_path).map(|ops| ops.len()), Ok(1));
    }

    #[test]
    fn hostile_operations_are_refused_without_panicking() {
        let junk: Vec<Json> = (0..50_000).map(|i| if i % 2 == 0 { json!(i) } else { json!({"value": i}) }).collect();
        let objects: Vec<Json> = (0..20_000).map(|i| json!({"type": format!("t{i}")})).collect();
        let groups: Vec<Json> = (0..20_000).map(|i| json!({"value": format!("g{i}")})).collect();
        let keys: Map<String, Json> = (0..10_000).map(|i| (format!("k{i}"), json!(i))).collect();
        let refused = [
            op(Op::Add, path("emails"), Json::Array(junk.clone())),
            op(Op::Remove, path("members"), Json::Array(junk)),
            op(Op::Replace, path("name"), deep(1000)),
            op(Op::Replace, path("meta"), deep(1000)),
            op(Op::Replace, None, deep(1000)),
            op(Op::Replace, None, Json::Object(keys)),
            op(Op::Replace, None, json!({ENTERPRISE: deep(1000)})),
            op(Op::Add, path("schemas"), deep(1000)),
            op(Op::Add, path("groups"), Json::Array(groups)),
            op(Op::Replace, filtered("emails", Filter::Not(Box::new(eq("type", "x"))), Some("value")), deep(1000)),
        ];
        for operation in refused {
            assert!(patch_user(user(), std::slice::from_ref(&operation)).is_err(), "{:?}", operation.path);
        }
        // Many distinct values without a `value` are not compared pairwise.
        let added = patch_user(bare_user(), &[op(Op::Add, path("emails"), Json::Array(objects))]);
        assert_eq!(added.map(|user| user["emails"].as_array().map(Vec::len)), Ok(Some(20_000)));
    }

    #[test]
    fn large_groups_are_changed_in_linear_time() {
        let present: Vec<Json> = (0..20_000).map(|i| member(&format!("u{i}"))).collect();
        let big = with(group(), json!({"members": present}));
        let added: Vec<Json> = (10_000..30_000).map(|i| json!({"value": format!("U{i}")})).collect();
        let removed: Vec<Json> = (0..5_000).map(|i| json!({"value": format!("u{i}")})).collect();
        let ops =
            [op(Op::Add, path("members"), Json::Array(added)), op(Op::Remove, path("members"), Json::Array(removed))];
        let result = patch_group(big, &ops);
        assert_eq!(result.map(|group| group["members"].as_array().map(Vec::len)), Ok(Some(25_000)));
    }

    #[test]
    fn no_operation_panics_whatever_its_path_and_value() {
        let paths = [
            None,
            path("userName"),
            path("name"),
            path("name.givenName"),
            path("emails"),
            path("emails.value"),
            path("emails.primary"),
            path("groups"),
            path("id"),
            path("meta"),
            path("schemas"),
            path(ENTERPRISE),
            path(&format!("{ENTERPRISE}:department")),
            path(schema::USER),
            path("members"),
            filtered("emails", eq("type", "work"), None),
            filtered("emails", eq("type", "work"), Some("primary")),
            filtered(
                "emails",
                Filter::Or(vec![eq("type", "work"), cmp("primary", CompareOp::Eq, Value::Bool(true))]),
                Some("value"),
            ),
            filtered("groups", Filter::Present(AttrPath::named("value")), None),
        ];
        let values = [
            Json::Null,
            json!(true),
            json!("False"),
            json!(1.5),
            json!("x"),
            json!([]),
            json!([null, "x", {"value": "a@b.c", "primary": true}, {"value": "a@b.c", "primary": "true"}]),
            json!({}),
            json!({"givenName": "J", "value": "v", "primary": true, "type": "work"}),
            json!({"name.givenName": "J", "emails": {"value": "x"}, ENTERPRISE: {"department": 1}}),
            deep(50),
        ];
        let mut accepted = 0;
        for path in &paths {
            for value in &values {
                for verb in [Op::Add, Op::Replace, Op::Remove] {
                    let operation = PatchOperation { op: verb, path: path.clone(), value: Some(value.clone()) };
                    let bare = PatchOperation { value: None, ..operation.clone() };
                    for resource in [user(), bare_user(), json!({"emails": "corrupt", ENTERPRISE: 5, "name": []})] {
                        accepted += usize::from(patch_user(resource.clone(), std::slice::from_ref(&operation)).is_ok());
                        accepted += usize::from(patch_user(resource, std::slice::from_ref(&bare)).is_ok());
                    }
                }
            }
        }
        assert!(accepted > 100, "{accepted}");
    }
}
