//! The host's own form of a SCIM filter (RFC 7644 §3.4.2.2) and of a PATCH
//! path (§3.5.2): what `wire.rs` parses into, what the store turns into SQL
//! and what `patch.rs` evaluates against one resource.
//!
//! Attribute names keep the case they were sent in; every consumer compares
//! them case-insensitively, as RFC 7643 §2.1 asks.

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare { path: AttrPath, op: CompareOp, value: Value },
    /// `path pr`: the attribute has a value.
    Present(AttrPath),
    /// `not (…)`.
    Not(Box<Filter>),
    /// Two or more filters that must all hold.
    And(Vec<Filter>),
    /// Two or more filters of which one must hold.
    Or(Vec<Filter>),
    /// `attr[filter]`: one value of the multi-valued `attr` satisfies
    /// `filter`, whose paths name sub-attributes (`emails[type eq "work"]`).
    Within { attr: AttrPath, filter: Box<Filter> },
}

/// An attribute: `name`, `name.sub`, either prefixed by a schema URN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when the path was written with one.
    pub schema: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path of one attribute name.
    #[cfg(test)]
    pub fn named(name: &str) -> Self {
        Self { schema: None, name: name.to_owned(), sub: None }
    }

    /// Whether this path names `name` (and no sub-attribute), ignoring case.
    pub fn is(&self, name: &str) -> bool {
        self.sub.is_none() && self.name.eq_ignore_ascii_case(name)
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A literal a filter compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Number(f64),
    Null,
}

/// The target of a PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    /// An attribute or sub-attribute.
    Attr(AttrPath),
    /// The values of the multi-valued `attr` that satisfy `filter`, or their
    /// sub-attribute `sub` (`emails[type eq "work"].value`).
    Filtered { attr: AttrPath, filter: Filter, sub: Option<String> },
}
