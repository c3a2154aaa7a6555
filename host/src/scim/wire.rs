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
    let parsed: crate_ast::Filter = match text.parse() {
        Ok(parsed) => parsed,
        Err(e) => match value_path_sub_attributes(text) {
            Some(rewritten) => {
                rewritten.parse().map_err(|_| ScimError::invalid_filter(format!("cannot parse the filter: {e}")))?
            }
            None => return Err(ScimError::invalid_filter(format!("cannot parse the filter: {e}"))),
        },
    };
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

/// Rewrites `attr[filter].sub op value` (a sub-attribute of the values a
/// bracket selects, which Entra ID and others send, and RFC 7644's grammar
/// lacks) as `attr[(filter) and sub op value]`, which means the same. Text
/// inside string literals is left alone; anything it does not recognise is
/// left for the parser to refuse.
fn value_path_sub_attributes(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let (mut i, mut copied, mut open) = (0, 0, None);
    let mut changed = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i)?,
            b'[' => {
                open = Some(i);
                i += 1;
            }
            b']' if bytes.get(i + 1) == Some(&b'.') => {
                let start = open.take()?;
                let sub_end = i
                    + 2
                    + bytes[i + 2..]
                        .iter()
                        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'$')
                        .count();
                let sub = &text[i + 2..sub_end];
                let (comparison, end) = comparison(text, sub_end)?;
                out.push_str(&text[copied..start]);
                out.push_str(&format!("[({}) and {sub} {comparison}]", &text[start + 1..i]));
                copied = end;
                i = end;
                changed = true;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    changed.then_some(out)
}

/// The end of the string literal that starts at `start`.
fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// ` op value` or ` pr` from `from`: its text, and where it ends.
fn comparison(text: &str, from: usize) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let skip_spaces = |mut i: usize| {
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    let op_start = skip_spaces(from);
    let op_end = op_start + bytes[op_start..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let op = &text[op_start..op_end];
    if op.eq_ignore_ascii_case("pr") {
        return Some((op.to_owned(), op_end));
    }
    if op.is_empty() {
        return None;
    }
    let value_start = skip_spaces(op_end);
    let value_end = match bytes.get(value_start) {
        Some(b'"') => skip_string(bytes, value_start)?,
        Some(_) => value_start + bytes[value_start..].iter().take_while(|b| !matches!(b, b' ' | b')' | b']')).count(),
        None => return None,
    };
    Some((format!("{op} {}", &text[value_start..value_end]), value_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_attribute_after_brackets_moves_inside_them() {
        let cases = [
            (r#"emails[type eq "work"].value eq "a@b.c""#, r#"emails[(type eq "work") and value eq "a@b.c"]"#),
            (
                r#"emails[type eq "work"].value pr and active eq true"#,
                r#"emails[(type eq "work") and value pr] and active eq true"#,
            ),
            (r#"(emails[type eq "a].b"].value co "x")"#, r#"(emails[(type eq "a].b") and value co "x"])"#),
        ];
        for (given, expected) in cases {
            assert_eq!(value_path_sub_attributes(given).as_deref(), Some(expected), "{given}");
            assert!(parse_filter(given).is_ok(), "{given}");
        }
        assert_eq!(value_path_sub_attributes(r#"userName eq "a[b].c d""#), None);
        assert_eq!(
            parse_filter(r#"emails[type eq "work"].value eq "a@b.c""#),
            parse_filter(r#"emails[type eq "work" and value eq "a@b.c"]"#),
            "the same filter"
        );
    }
}
