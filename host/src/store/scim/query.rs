//! SCIM filters and sort orders as SQL, so that a list is filtered, sorted
//! and paged by the database. Every value goes through a placeholder; the
//! SQL itself is assembled only from the fixed fragments of this file.
//!
//! Strings that are not case-exact are compared through `lower()` (all of
//! Unicode on PostgreSQL, ASCII letters on SQLite). A comparison with an
//! absent value is false, and `not` of it true, as RFC 7644 §3.4.2.2 reads.

use crate::scim::ScimError;
use crate::scim::filter::{AttrPath, CompareOp, Filter, Value};
use crate::scim::schema::{ENTERPRISE, GROUP, USER};
use crate::store::db::Query;
use crate::store::{BackendKind, ScimGroupNames};

/// A value bound to a placeholder of an assembled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// `q` with the values a [`Sql`] bound, in order.
pub(crate) fn bind_all(q: Query, args: Vec<Bound>) -> Query {
    args.into_iter().fold(q, |q, arg| match arg {
        Bound::Text(t) => q.text(&t),
        Bound::Int(i) => q.int(i),
        Bound::Bool(b) => q.bool(b),
    })
}

/// What a column holds, which decides how it is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    /// Text compared ignoring case.
    Text,
    /// Text compared exactly.
    ExactText,
    /// Text kept with its ASCII letters lower-cased (and indexed so), which
    /// a value is compared with in the same form.
    Folded,
    Bool,
    /// Unix milliseconds, compared with an RFC 3339 date-time.
    Time,
}

/// Where an attribute's values are.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A column of the resource's own row.
    Column(&'static str, ColumnKind),
    /// The rows of a multi-valued attribute: `<row> IN (SELECT <key> <from>
    /// WHERE …)` (one pass over the values, rather than one subquery a
    /// resource), with the sub-attributes' columns in `subs`.
    Values {
        row: &'static str,
        key: &'static str,
        from: &'static str,
        subs: &'static [(&'static str, &'static str, ColumnKind)],
    },
}

/// A resource type's attributes as SQL.
pub(crate) struct Mapping {
    schemas: &'static [&'static str],
    attributes: &'static [(&'static str, Source)],
}

const EMAIL_SUBS: &[(&str, &str, ColumnKind)] = &[
    ("value", "e.value", ColumnKind::Text),
    ("type", "e.type", ColumnKind::Text),
    ("primary", "e.is_primary", ColumnKind::Bool),
];
const USER_GROUP_SUBS: &[(&str, &str, ColumnKind)] =
    &[("value", "gm.team_id", ColumnKind::ExactText), ("display", "gt.name", ColumnKind::Text)];
const MEMBER_SUBS: &[(&str, &str, ColumnKind)] = &[("value", "m.user_id", ColumnKind::ExactText)];

/// Users: `u` is the `scim_users` row, `a` its account.
pub(crate) static USERS: Mapping = Mapping {
    schemas: &[USER, ENTERPRISE],
    attributes: &[
        ("id", Source::Column("u.id", ColumnKind::ExactText)),
        ("externalId", Source::Column("u.external_id", ColumnKind::ExactText)),
        ("userName", Source::Column("u.user_name_key", ColumnKind::Folded)),
        ("displayName", Source::Column("u.display_name", ColumnKind::Text)),
        ("name.givenName", Source::Column("a.given_name", ColumnKind::Text)),
        ("name.familyName", Source::Column("a.family_name", ColumnKind::Text)),
        ("active", Source::Column("u.active", ColumnKind::Bool)),
        ("meta.created", Source::Column("u.created_at", ColumnKind::Time)),
        ("meta.lastModified", Source::Column("u.updated_at", ColumnKind::Time)),
        ("employeeNumber", Source::Column("u.employee_number", ColumnKind::Text)),
        ("costCenter", Source::Column("u.cost_center", ColumnKind::Text)),
        ("organization", Source::Column("u.organization", ColumnKind::Text)),
        ("division", Source::Column("u.division", ColumnKind::Text)),
        ("department", Source::Column("u.department", ColumnKind::Text)),
        ("emails", Source::Values { row: "u.id", key: "e.user_id", from: "FROM scim_user_emails e", subs: EMAIL_SUBS }),
        (
            "groups",
            Source::Values {
                row: "u.id",
                key: "gm.user_id",
                from: "FROM scim_members gm JOIN teams gt ON gt.id = gm.team_id",
                subs: USER_GROUP_SUBS,
            },
        ),
    ],
};

/// Groups: `g` is the `scim_groups` row, `t` its team, `o` the team's
/// organization; `display` is the SQL of the display name.
pub(crate) fn groups(display: ScimGroupNames) -> Mapping {
    let attributes: &'static [(&'static str, Source)] = match display {
        ScimGroupNames::Team => &GROUP_ATTRIBUTES_TEAM,
        ScimGroupNames::OrganizationTeam => &GROUP_ATTRIBUTES_ORG_TEAM,
    };
    Mapping { schemas: &[GROUP], attributes }
}

const GROUP_MEMBERS: Source = Source::Values {
    row: "(g.domain_id, g.team_id)",
    key: "m.domain_id, m.team_id",
    from: "FROM scim_members m",
    subs: MEMBER_SUBS,
};

static GROUP_ATTRIBUTES_TEAM: [(&str, Source); 6] = [
    ("id", Source::Column("g.team_id", ColumnKind::ExactText)),
    ("displayName", Source::Column("t.name", ColumnKind::Text)),
    ("externalId", Source::Column("g.external_id", ColumnKind::ExactText)),
    ("meta.created", Source::Column("g.created_at", ColumnKind::Time)),
    ("meta.lastModified", Source::Column("g.updated_at", ColumnKind::Time)),
    ("members", GROUP_MEMBERS),
];

static GROUP_ATTRIBUTES_ORG_TEAM: [(&str, Source); 6] = [
    ("id", Source::Column("g.team_id", ColumnKind::ExactText)),
    ("displayName", Source::Column("(o.name || ':' || t.name)", ColumnKind::Text)),
    ("externalId", Source::Column("g.external_id", ColumnKind::ExactText)),
    ("meta.created", Source::Column("g.created_at", ColumnKind::Time)),
    ("meta.lastModified", Source::Column("g.updated_at", ColumnKind::Time)),
    ("members", GROUP_MEMBERS),
];

/// Builds the SQL of a filter, numbering placeholders after those the
/// statement already has.
pub(crate) struct Sql<'m> {
    mapping: &'m Mapping,
    backend: BackendKind,
    pub(crate) args: Vec<Bound>,
    first_placeholder: usize,
}

impl<'m> Sql<'m> {
    /// `first_placeholder` is the number of the first `$n` this builder
    /// may use.
    pub(crate) fn new(mapping: &'m Mapping, backend: BackendKind, first_placeholder: usize) -> Self {
        Self { mapping, backend, args: Vec::new(), first_placeholder }
    }

    fn bind(&mut self, value: Bound) -> String {
        self.args.push(value);
        format!("${}", self.first_placeholder + self.args.len() - 1)
    }

    /// The condition of `filter`.
    pub(crate) fn condition(&mut self, filter: &Filter) -> Result<String, ScimError> {
        match filter {
            Filter::And(items) => self.join(items, " AND "),
            Filter::Or(items) => self.join(items, " OR "),
            Filter::Not(inner) => Ok(format!("NOT ({})", self.condition(inner)?)),
            Filter::Present(path) => self.attribute(path, &|sql, column, kind| Ok(sql.present(column, kind))),
            Filter::Compare { path, op, value } => {
                self.attribute(path, &|sql, column, kind| sql.compare(column, kind, *op, value))
            }
            Filter::Within { attr, filter } => {
                let source = self.source(attr)?;
                let Source::Values { row, key, from, subs } = source else {
                    return Err(ScimError::invalid_filter(format!("{attr} is not multi-valued")));
                };
                let inner = self.within(filter, subs)?;
                Ok(format!("{row} IN (SELECT {key} {from} WHERE {inner})"))
            }
        }
    }

    fn join(&mut self, items: &[Filter], with: &str) -> Result<String, ScimError> {
        let parts = items.iter().map(|f| self.condition(f).map(|c| format!("({c})"))).collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join(with))
    }

    /// A filter inside `attr[…]`, whose paths name sub-attributes.
    fn within(&mut self, filter: &Filter, subs: &[(&str, &'static str, ColumnKind)]) -> Result<String, ScimError> {
        let column_of = |path: &AttrPath| -> Result<(&'static str, ColumnKind), ScimError> {
            if path.sub.is_some() || path.schema.is_some() {
                return Err(ScimError::invalid_filter(format!("{path} cannot be used inside brackets")));
            }
            subs.iter()
                .find(|(name, _, _)| name.eq_ignore_ascii_case(&path.name))
                .map(|&(_, column, kind)| (column, kind))
                .ok_or_else(|| ScimError::invalid_filter(format!("unknown sub-attribute {path}")))
        };
        match filter {
            Filter::And(items) | Filter::Or(items) => {
                let with = if matches!(filter, Filter::And(_)) { " AND " } else { " OR " };
                let parts = items
                    .iter()
                    .map(|f| self.within(f, subs).map(|c| format!("({c})")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(parts.join(with))
            }
            Filter::Not(inner) => Ok(format!("NOT ({})", self.within(inner, subs)?)),
            Filter::Present(path) => {
                let (column, kind) = column_of(path)?;
                Ok(self.present(column, kind))
            }
            Filter::Compare { path, op, value } => {
                let (column, kind) = column_of(path)?;
                self.compare(column, kind, *op, value)
            }
            Filter::Within { .. } => Err(ScimError::invalid_filter("brackets cannot be nested")),
        }
    }

    /// Resolves `path` and applies `test` to its column: directly for a
    /// column of the row, inside `IN (SELECT …)` for a multi-valued attribute.
    fn attribute(
        &mut self,
        path: &AttrPath,
        test: &dyn Fn(&mut Self, &str, ColumnKind) -> Result<String, ScimError>,
    ) -> Result<String, ScimError> {
        match self.source(path)? {
            Source::Column(column, kind) => test(self, column, kind),
            Source::Values { row, key, from, subs } => {
                // `emails` alone stands for its `value` (RFC 7644 §3.4.2.2).
                let sub = path.sub.as_deref().unwrap_or("value");
                let &(_, column, kind) = subs
                    .iter()
                    .find(|(name, _, _)| name.eq_ignore_ascii_case(sub))
                    .ok_or_else(|| ScimError::invalid_filter(format!("unknown attribute {path}")))?;
                let inner = test(self, column, kind)?;
                Ok(format!("{row} IN (SELECT {key} {from} WHERE {inner})"))
            }
        }
    }

    /// Where `path`'s values are. A path naming a multi-valued attribute
    /// keeps its sub-attribute for the caller.
    fn source(&self, path: &AttrPath) -> Result<Source, ScimError> {
        let unknown = || ScimError::invalid_filter(format!("unknown attribute {path}"));
        if let Some(schema) = &path.schema
            && !self.mapping.schemas.iter().any(|s| s.eq_ignore_ascii_case(schema))
        {
            return Err(unknown());
        }
        let full = match &path.sub {
            Some(sub) => format!("{}.{sub}", path.name),
            None => path.name.clone(),
        };
        let found = |name: &str| self.mapping.attributes.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        if let Some((_, source)) = found(&full) {
            return Ok(*source);
        }
        match found(&path.name) {
            Some((_, source @ Source::Values { .. })) => Ok(*source),
            _ => Err(unknown()),
        }
    }

    fn present(&self, column: &str, kind: ColumnKind) -> String {
        match kind {
            ColumnKind::Text | ColumnKind::ExactText | ColumnKind::Folded => {
                format!("({column} IS NOT NULL AND {column} <> '')")
            }
            ColumnKind::Bool | ColumnKind::Time => format!("{column} IS NOT NULL"),
        }
    }

    fn compare(&mut self, column: &str, kind: ColumnKind, op: CompareOp, value: &Value) -> Result<String, ScimError> {
        if *value == Value::Null {
            return match op {
                CompareOp::Eq => Ok(format!("NOT {}", self.present(column, kind))),
                CompareOp::Ne => Ok(self.present(column, kind)),
                _ => Err(ScimError::invalid_filter("null can only be compared with eq or ne")),
            };
        }
        let condition = match kind {
            ColumnKind::Text | ColumnKind::ExactText | ColumnKind::Folded => {
                let Value::Str(text) = value else {
                    return Err(ScimError::invalid_filter("a text attribute takes a string"));
                };
                // Both sides through the database's own lower() when case
                // is ignored, so that they fold alike on each backend.
                let (left, right) = match kind {
                    ColumnKind::Text => {
                        (format!("lower({column})"), format!("lower({})", self.bind(Bound::Text(text.clone()))))
                    }
                    ColumnKind::Folded => (column.to_owned(), self.bind(Bound::Text(text.to_ascii_lowercase()))),
                    _ => (column.to_owned(), self.bind(Bound::Text(text.clone()))),
                };
                self.text_comparison(&left, op, &right)
            }
            ColumnKind::Bool => {
                let Value::Bool(b) = value else {
                    return Err(ScimError::invalid_filter("a boolean attribute takes true or false"));
                };
                let sql_op = match op {
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "<>",
                    _ => return Err(ScimError::invalid_filter("a boolean attribute takes only eq or ne")),
                };
                let arg = self.bind(Bound::Bool(*b));
                format!("{column} {sql_op} {arg}")
            }
            ColumnKind::Time => {
                let Value::Str(text) = value else {
                    return Err(ScimError::invalid_filter("a date-time attribute takes an RFC 3339 string"));
                };
                let ms = crate::scim::time::parse_ms(text)
                    .ok_or_else(|| ScimError::invalid_filter(format!("{text:?} is not an RFC 3339 date-time")))?;
                let sql_op = match op {
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "<>",
                    CompareOp::Gt => ">",
                    CompareOp::Ge => ">=",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    _ => return Err(ScimError::invalid_filter("a date-time attribute takes eq ne gt ge lt le")),
                };
                let arg = self.bind(Bound::Int(ms));
                format!("{column} {sql_op} {arg}")
            }
        };
        // An absent value is never unknown: it is not equal to anything (so
        // `ne` holds) and compares false otherwise, so that `not` holds too.
        // Written with IS [NOT] NULL, which an index can still serve.
        Ok(match op {
            CompareOp::Ne => format!("({column} IS NULL OR {condition})"),
            _ => format!("({column} IS NOT NULL AND {condition})"),
        })
    }

    fn text_comparison(&self, left: &str, op: CompareOp, arg: &str) -> String {
        match op {
            CompareOp::Eq => format!("{left} = {arg}"),
            CompareOp::Ne => format!("{left} <> {arg}"),
            CompareOp::Gt => format!("{left} > {arg}"),
            CompareOp::Ge => format!("{left} >= {arg}"),
            CompareOp::Lt => format!("{left} < {arg}"),
            CompareOp::Le => format!("{left} <= {arg}"),
            CompareOp::Co => match self.backend {
                BackendKind::Sqlite => format!("instr({left}, {arg}) > 0"),
                BackendKind::Postgres => format!("strpos({left}, {arg}) > 0"),
            },
            CompareOp::Sw => format!("substr({left}, 1, length({arg})) = {arg}"),
            CompareOp::Ew => {
                format!(
                    "length({left}) >= length({arg}) AND substr({left}, length({left}) - length({arg}) + 1) = {arg}"
                )
            }
        }
    }

    /// The `ORDER BY` of a list: by `sort_by` (text ignoring case,
    /// unassigned values last when ascending and first when descending,
    /// RFC 7644 §3.4.2.3), else by `default`; ties by `tie`. A multi-valued
    /// attribute sorts by the account's email for `emails`, and not at all
    /// otherwise.
    pub(crate) fn order_by(
        &self,
        sort_by: Option<&AttrPath>,
        descending: bool,
        default: &str,
        tie: &str,
    ) -> Result<String, ScimError> {
        let direction = if descending { "DESC" } else { "ASC" };
        let Some(path) = sort_by else {
            return Ok(format!("{default} {direction}, {tie} {direction}"));
        };
        let invalid = || ScimError::invalid_value(format!("cannot sort by {path}"));
        let expression = match self.source(path).map_err(|_| invalid())? {
            Source::Column(column, ColumnKind::Text) => format!("lower({column})"),
            Source::Column(column, _) => column.to_owned(),
            Source::Values { .. }
                if path.name.eq_ignore_ascii_case("emails") && self.mapping.schemas.contains(&USER) =>
            {
                "a.email".to_owned()
            }
            Source::Values { .. } => return Err(invalid()),
        };
        Ok(format!("({expression} IS NULL) {direction}, {expression} {direction}, {tie} {direction}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::wire::parse_filter;

    fn sql(filter: &str) -> Result<(String, Vec<Bound>), ScimError> {
        let filter = parse_filter(filter)?;
        let mut sql = Sql::new(&USERS, BackendKind::Postgres, 3);
        let condition = sql.condition(&filter)?;
        Ok((condition, sql.args))
    }

    #[test]
    fn values_are_bound_never_spliced() -> Result<(), ScimError> {
        let (condition, args) = sql(r#"userName eq "o'brien\"; DROP TABLE accounts; --""#)?;
        assert!(!condition.contains("DROP"), "{condition}");
        assert_eq!(args, vec![Bound::Text("o'brien\"; drop table accounts; --".into())]);
        assert!(condition.contains("$3"), "{condition}");
        Ok(())
    }

    #[test]
    fn placeholders_are_numbered_in_order() -> Result<(), ScimError> {
        let (condition, args) =
            sql(r#"userName sw "a" and (active eq true or emails[type eq "work" and value co "x"])"#)?;
        assert_eq!(args.len(), 4);
        for n in 3..=6 {
            assert!(condition.contains(&format!("${n}")), "{condition}");
        }
        Ok(())
    }

    #[test]
    fn unknown_attributes_and_mistyped_values_are_invalid_filters() {
        for bad in [
            r#"password eq "x""#,
            r#"active eq "yes""#,
            r#"userName eq true"#,
            r#"active co true"#,
            r#"meta.created gt "yesterday""#,
            r#"emails[nope eq "x"]"#,
            r#"userName[value eq "x"]"#,
            r#"urn:example:other:userName eq "x""#,
        ] {
            let error = sql(bad).err().unwrap_or_else(ScimError::unavailable);
            assert_eq!(error.scim_type, Some(crate::scim::ScimType::InvalidFilter), "{bad}: {error}");
        }
    }

    #[test]
    fn attribute_names_ignore_case_and_schema_prefixes() -> Result<(), ScimError> {
        let (a, _) = sql(r#"USERNAME eq "x""#)?;
        let (b, _) = sql(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#)?;
        assert_eq!(a, b);
        let (c, _) = sql(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#)?;
        assert!(c.contains("u.department"), "{c}");
        Ok(())
    }
}
