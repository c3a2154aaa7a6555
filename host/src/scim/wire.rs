//! The one file that knows the `scim_v2` crate: its parsers of the filter
//! and PATCH path grammars, turned into the host's own types
//! ([`super::filter`]). A parse failure is a [`ScimError`] with `scimType`
//! `invalidFilter` or `invalidPath`, never a panic; the crate bounds the
//! depth and size of what it accepts.

use scim_v2::filter as crate_ast;

use super::ScimError;
use super::filter::{AttrPath, CompareOp, Filter, PatchPath, Value};

/// Parses the text of a `filter` parameter.
pub fn parse_filter(text: &str) -> Result<Filter, ScimError> {
    let parsed: crate_ast::Filter =
        text.parse().map_err(|e| ScimError::invalid_filter(format!("cannot parse the filter: {e}")))?;
    Ok(filter(parsed))
}

/// Parses the `path` of a PATCH operation.
pub fn parse_patch_path(text: &str) -> Result<PatchPath, ScimError> {
    let parsed: crate_ast::PatchPath =
        text.parse().map_err(|e| ScimError::invalid_path(format!("cannot parse the path {text:?}: {e}")))?;
    Ok(match parsed {
        crate_ast::PatchPath::Attr(path) => PatchPath::Attr(attr_path(path)),
        crate_ast::PatchPath::Value(v) => {
            PatchPath::Filtered { attr: attr_path(v.attr), filter: val_filter(v.filter), sub: v.sub_attr }
        }
    })
}

fn filter(f: crate_ast::Filter) -> Filter {
    match f {
        crate_ast::Filter::Attr(e) => attr_exp(e),
        crate_ast::Filter::ValuePath(v) => {
            Filter::Within { attr: attr_path(v.attr), filter: Box::new(val_filter(*v.filter)) }
        }
        crate_ast::Filter::Not(inner) => Filter::Not(Box::new(filter(*inner))),
        crate_ast::Filter::And(items) => Filter::And(items.into_vec().into_iter().map(filter).collect()),
        crate_ast::Filter::Or(items) => Filter::Or(items.into_vec().into_iter().map(filter).collect()),
    }
}

fn val_filter(f: crate_ast::ValFilter) -> Filter {
    match f {
        crate_ast::ValFilter::Attr(e) => attr_exp(e),
        crate_ast::ValFilter::Not(inner) => Filter::Not(Box::new(val_filter(*inner))),
        crate_ast::ValFilter::And(items) => Filter::And(items.into_vec().into_iter().map(val_filter).collect()),
        crate_ast::ValFilter::Or(items) => Filter::Or(items.into_vec().into_iter().map(val_filter).collect()),
    }
}

fn attr_exp(e: crate_ast::AttrExp) -> Filter {
    match e {
        crate_ast::AttrExp::Present(path) => Filter::Present(attr_path(path)),
        crate_ast::AttrExp::Comparison(path, op, value) => {
            Filter::Compare { path: attr_path(path), op: compare_op(op), value: comp_value(value) }
        }
    }
}

fn attr_path(p: crate_ast::AttrPath) -> AttrPath {
    AttrPath { schema: p.uri, name: p.name, sub: p.sub_attr }
}

fn compare_op(op: crate_ast::CompareOp) -> CompareOp {
    match op {
        crate_ast::CompareOp::Eq => CompareOp::Eq,
        crate_ast::CompareOp::Ne => CompareOp::Ne,
        crate_ast::CompareOp::Co => CompareOp::Co,
        crate_ast::CompareOp::Sw => CompareOp::Sw,
        crate_ast::CompareOp::Ew => CompareOp::Ew,
        crate_ast::CompareOp::Gt => CompareOp::Gt,
        crate_ast::CompareOp::Ge => CompareOp::Ge,
        crate_ast::CompareOp::Lt => CompareOp::Lt,
        crate_ast::CompareOp::Le => CompareOp::Le,
    }
}

fn comp_value(v: crate_ast::CompValue) -> Value {
    match v {
        crate_ast::CompValue::False => Value::Bool(false),
        crate_ast::CompValue::True => Value::Bool(true),
        crate_ast::CompValue::Null => Value::Null,
        crate_ast::CompValue::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        crate_ast::CompValue::Str(s) => Value::Str(s),
    }
}
