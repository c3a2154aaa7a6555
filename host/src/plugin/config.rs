//! A binding's configuration as a plugin sees it through the `config` import:
//! a JSON object flattened into dotted keys with string values.

use std::collections::BTreeMap;

use serde_json::Value;

/// Most keys a binding configuration may have once flattened.
pub const MAX_CONFIG_KEYS: usize = 4096;
/// Most bytes of keys and values together.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// A binding's configuration, validated and ready for lookups. It keeps the
/// JSON object it was made from, which is what it serializes to (and what
/// the admin API shows back); deserializing validates again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingConfig {
    source: serde_json::Map<String, Value>,
    entries: BTreeMap<String, String>,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration is not a JSON object.
    #[error("a binding configuration must be a JSON object")]
    NotAnObject,
    /// Too many keys, or too many bytes.
    #[error("the binding configuration is too large (at most {MAX_CONFIG_KEYS} keys and {MAX_CONFIG_BYTES} bytes)")]
    TooLarge,
}

impl BindingConfig {
    /// Flattens a JSON object: nested objects become dotted keys
    /// (`{"groups": {"eng": "team:x"}}` gives `groups.eng`), strings are kept
    /// as they are, and any other value becomes its JSON text.
    pub fn from_json(value: &Value) -> Result<Self, ConfigError> {
        let Value::Object(map) = value else {
            return Err(ConfigError::NotAnObject);
        };
        let mut entries = BTreeMap::new();
        let mut bytes = 0;
        flatten("", map, &mut entries, &mut bytes)?;
        Ok(Self { source: map.clone(), entries })
    }

    /// The JSON object it was made from.
    pub fn to_json(&self) -> Value {
        Value::Object(self.source.clone())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl serde::Serialize for BindingConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.source.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for BindingConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

fn flatten(
    prefix: &str,
    map: &serde_json::Map<String, Value>,
    out: &mut BTreeMap<String, String>,
    bytes: &mut usize,
) -> Result<(), ConfigError> {
    for (k, v) in map {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(inner) => flatten(&key, inner, out, bytes)?,
            other => {
                let text = match other {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                *bytes += key.len() + text.len();
                out.insert(key, text);
                if out.len() > MAX_CONFIG_KEYS || *bytes > MAX_CONFIG_BYTES {
                    return Err(ConfigError::TooLarge);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_objects() {
        let c = BindingConfig::from_json(&serde_json::json!({
            "digits": 4, "groups": {"Engineering": "team:eng", "ops": {"oncall": "role:admin"}},
            "flag": true, "list": ["a"]
        }))
        .unwrap_or_default();
        assert_eq!(c.get("digits"), Some("4"));
        assert_eq!(c.get("groups.Engineering"), Some("team:eng"));
        assert_eq!(c.get("groups.ops.oncall"), Some("role:admin"));
        assert_eq!(c.get("flag"), Some("true"));
        assert_eq!(c.get("list"), Some("[\"a\"]"));
        assert_eq!(c.get("groups"), None);
        assert_eq!(BindingConfig::from_json(&serde_json::json!([1])), Err(ConfigError::NotAnObject));
    }
}
