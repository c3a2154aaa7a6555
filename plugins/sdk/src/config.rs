//! The binding's configuration, as a hook receives it.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::MAX_CONFIG_KEY_BYTES;

/// The binding's configuration for one call, handed to each hook by the
/// export macros.
///
/// The host answers one key at a time: `Config` asks for a key the first time
/// a getter reads it and keeps the answer for the rest of the call. Nested
/// objects are reached with dotted keys (`groups.engineering`); values that
/// are not JSON strings come back as JSON text (`4`, `true`, `["a","b"]`),
/// which the typed getters read. A key longer than
/// [`MAX_CONFIG_KEY_BYTES`] is not sent to the host (which would stop the
/// call) and reads as absent: no configuration can be reached by it.
///
/// In a native test, [`testing::configure`](crate::testing::configure) sets
/// the answers and returns the `Config` to pass to the hook.
#[derive(Debug, Default)]
pub struct Config {
    answers: RefCell<BTreeMap<String, Option<String>>>,
}

impl Config {
    /// The configuration of the binding that is calling: the host's, or
    /// natively the one [`testing::configure`](crate::testing::configure) set.
    pub fn from_host() -> Self {
        Self::default()
    }

    /// The value of `key`, as the host answers it; `None` when absent.
    pub fn get(&self, key: &str) -> Option<String> {
        if key.len() > MAX_CONFIG_KEY_BYTES {
            return None;
        }
        if let Some(answer) = self.answers.borrow().get(key) {
            return answer.clone();
        }
        let answer = host_config(key);
        self.answers.borrow_mut().insert(key.to_string(), answer.clone());
        answer
    }

    /// [`get`](Self::get), with surrounding whitespace removed and an empty
    /// value read as absent.
    pub fn trimmed(&self, key: &str) -> Option<String> {
        let value = self.get(key)?;
        let trimmed = value.trim();
        if trimmed.is_empty() {
            None
        } else if trimmed.len() == value.len() {
            Some(value)
        } else {
            Some(trimmed.to_string())
        }
    }

    /// `key` as a non-negative decimal integer (surrounding whitespace
    /// ignored); `None` when absent or not such a number.
    pub fn u32(&self, key: &str) -> Option<u32> {
        self.get(key)?.trim().parse().ok()
    }

    /// `key` as `true`/`false` (JSON booleans or the same words as strings,
    /// case-insensitive); `None` when absent or anything else.
    pub fn bool(&self, key: &str) -> Option<bool> {
        let value = self.get(key)?;
        let value = value.trim();
        if value.eq_ignore_ascii_case("true") {
            Some(true)
        } else if value.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }

    /// `key` as a list of strings, a JSON array or comma-separated text (see
    /// [`parse_list`](crate::parse_list)); empty when absent.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key).map(|v| crate::parse_list(&v)).unwrap_or_default()
    }

    /// The number of random digits after a derived username, from the
    /// [`DIGITS_KEY`](crate::DIGITS_KEY) key: [`DEFAULT_DIGITS`](crate::DEFAULT_DIGITS)
    /// when absent or not a non-negative integer, at most [`MAX_DIGITS`](crate::MAX_DIGITS).
    pub fn digits(&self) -> u32 {
        provisio_rules::configured_digits(self.get(crate::DIGITS_KEY).as_deref())
    }
}

#[cfg(target_arch = "wasm32")]
fn host_config(key: &str) -> Option<String> {
    crate::raw::host::config(key)
}

#[cfg(not(target_arch = "wasm32"))]
fn host_config(key: &str) -> Option<String> {
    crate::testing::config(key)
}

#[cfg(test)]
mod tests {
    use crate::testing;

    #[test]
    fn typed_getters_read_the_hosts_answers() {
        let config = testing::configure(
            r#"{"n": 4, "s": " x ", "empty": " ", "yes": true, "no": "False", "list": ["a", " b"], "csv": "c, d",
                "nested": {"key": "v"}}"#,
        );
        assert_eq!(config.get("s").as_deref(), Some(" x "));
        assert_eq!(config.trimmed("s").as_deref(), Some("x"));
        assert_eq!(config.trimmed("empty"), None);
        assert_eq!((config.u32("n"), config.u32("s"), config.u32("absent")), (Some(4), None, None));
        assert_eq!((config.bool("yes"), config.bool("no"), config.bool("n")), (Some(true), Some(false), None));
        assert_eq!(config.list("list"), ["a", "b"]);
        assert_eq!(config.list("csv"), ["c", "d"]);
        assert_eq!(config.get("nested.key").as_deref(), Some("v"));
        assert_eq!(config.get(&"k".repeat(crate::MAX_CONFIG_KEY_BYTES + 1)), None);
        assert_eq!(config.digits(), crate::DEFAULT_DIGITS);
    }

    #[test]
    fn each_key_is_asked_once_per_call() {
        let config = testing::configure(r#"{"digits": 2}"#);
        assert_eq!(config.digits(), 2);
        testing::configure(r#"{"digits": 7}"#);
        assert_eq!(config.digits(), 2, "the first answer stays for the call");
    }
}
