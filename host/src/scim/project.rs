//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): which
//! attributes of a rendered resource an answer keeps. `schemas` and `id`
//! are always returned.

use serde_json::{Map, Value};

use super::schema::{ENTERPRISE, GROUP, USER};

/// One attribute named in `attributes` or `excludedAttributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selected {
    /// The extension's URN when the attribute is one of its own.
    extension: Option<&'static str>,
    name: String,
    sub: Option<String>,
}

/// A parsed `attributes` or `excludedAttributes` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection(Vec<Selected>);

impl Selection {
    /// Parses a comma-separated list of attribute paths, each optionally
    /// prefixed by its schema's URN.
    pub fn parse(list: &str) -> Self {
        Self(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(selected).collect())
    }

    /// Whether nothing was named.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

fn selected(path: &str) -> Selected {
    let (extension, rest) = if let Some(rest) = strip_prefix_ignore_case(path, ENTERPRISE) {
        (Some(ENTERPRISE), rest.strip_prefix(':').unwrap_or(rest))
    } else if let Some(rest) = [USER, GROUP].iter().find_map(|urn| strip_prefix_ignore_case(path, urn)) {
        (None, rest.strip_prefix(':').unwrap_or(rest))
    } else {
        (None, path)
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name.to_owned(), Some(sub.to_owned())),
        None => (rest.to_owned(), None),
    };
    Selected { extension, name, sub }
}

fn always_returned(key: &str) -> bool {
    key == "schemas" || key == "id"
}

fn find_key(object: &Map<String, Value>, name: &str) -> Option<String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Keeps only the attributes of `keep` (and those always returned).
pub fn keep_only(resource: &mut Value, keep: &Selection) {
    let Value::Object(object) = resource else { return };
    let mut kept = Map::new();
    for (key, value) in std::mem::take(object) {
        if always_returned(&key) {
            kept.insert(key, value);
            continue;
        }
        let in_extension = key.eq_ignore_ascii_case(ENTERPRISE);
        let wanted: Vec<&Selected> = keep
            .0
            .iter()
            .filter(|s| match (in_extension, s.extension) {
                (true, Some(_)) => true,
                (true, None) => s.name.eq_ignore_ascii_case(ENTERPRISE),
                (false, None) => s.name.eq_ignore_ascii_case(&key),
                (false, Some(_)) => false,
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let whole = wanted.iter().any(|s| s.sub.is_none() && !(in_extension && s.extension.is_some()));
        if whole {
            kept.insert(key, value);
            continue;
        }
        // Only some sub-attributes (or, in the extension, some attributes).
        let names: Vec<&str> = wanted
            .iter()
            .filter_map(
                |s| if in_extension && s.extension.is_some() { Some(s.name.as_str()) } else { s.sub.as_deref() },
            )
            .collect();
        if let Some(value) = keep_subs(value, &names) {
            kept.insert(key, value);
        }
    }
    *object = kept;
}

/// `value` (an object, or an array of objects) with only the keys `names`.
fn keep_subs(value: Value, names: &[&str]) -> Option<Value> {
    let keep = |o: Map<String, Value>| -> Map<String, Value> {
        o.into_iter().filter(|(k, _)| names.iter().any(|n| n.eq_ignore_ascii_case(k))).collect()
    };
    match value {
        Value::Object(o) => Some(Value::Object(keep(o))).filter(|v| v.as_object().is_some_and(|o| !o.is_empty())),
        Value::Array(items) => {
            let items: Vec<Value> = items
                .into_iter()
                .filter_map(|i| match i {
                    Value::Object(o) => Some(Value::Object(keep(o))),
                    _ => None,
                })
                .collect();
            Some(Value::Array(items))
        }
        _ => None,
    }
}

/// Removes the attributes of `drop` (never those always returned).
pub fn remove(resource: &mut Value, drop: &Selection) {
    let Value::Object(object) = resource else { return };
    for s in &drop.0 {
        let container = match s.extension {
            Some(urn) => match find_key(object, urn).and_then(|k| object.get_mut(&k)) {
                Some(Value::Object(x)) => x,
                _ => continue,
            },
            None => &mut *object,
        };
        let Some(key) = find_key(container, &s.name) else { continue };
        if s.extension.is_none() && always_returned(&key) {
            continue;
        }
        match &s.sub {
            None => {
                container.remove(&key);
            }
            Some(sub) => match container.get_mut(&key) {
                Some(Value::Object(o)) => {
                    if let Some(k) = find_key(o, sub) {
                        o.remove(&k);
                    }
                }
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item
                            && let Some(k) = find_key(o, sub)
                        {
                            o.remove(&k);
                        }
                    }
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER, ENTERPRISE],
            "id": "1",
            "userName": "jane",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"value": "jane@acme.example", "primary": true}],
            ENTERPRISE: {"department": "Eng", "division": "R&D"},
            "meta": {"resourceType": "User"},
        })
    }

    #[test]
    fn attributes_keep_only_what_is_named_and_the_id() {
        let mut u = user();
        keep_only(&mut u, &Selection::parse(&format!("USERNAME,name.familyName,emails.value,{ENTERPRISE}:department")));
        assert_eq!(
            u,
            json!({
                "schemas": [USER, ENTERPRISE],
                "id": "1",
                "userName": "jane",
                "name": {"familyName": "Doe"},
                "emails": [{"value": "jane@acme.example"}],
                ENTERPRISE: {"department": "Eng"},
            })
        );
    }

    #[test]
    fn excluded_attributes_go_but_never_the_id() {
        let mut u = user();
        remove(&mut u, &Selection::parse(&format!("id,name.givenName,emails,{ENTERPRISE}:division,meta")));
        assert_eq!(
            u,
            json!({
                "schemas": [USER, ENTERPRISE],
                "id": "1",
                "userName": "jane",
                "name": {"familyName": "Doe"},
                ENTERPRISE: {"department": "Eng"},
            })
        );
    }
}
