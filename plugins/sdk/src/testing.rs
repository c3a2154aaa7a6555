//! A plugin's logic in its own crate's `cargo test`, natively, without a
//! host: set the binding configuration (which gives the [`Config`] to pass
//! to the hook), call the hook, read what it logged. Each test thread has
//! its own configuration, log and random source (seeded 0 until [`seed`]
//! says otherwise).
//!
//! ```
//! # use provisio_plugin_sdk::{Account, Config, Principal, Result, group_mapping};
//! # struct Plugin;
//! # impl AssignmentProvider for Plugin {
//! #     fn assign(_: Account, principal: Principal, config: &Config) -> Result<Vec<Assignment>> {
//! #         group_mapping(&principal, config)
//! #     }
//! # }
//! use provisio_plugin_sdk::{Assignment, AssignmentProvider, testing};
//!
//! // In a `#[test]` of the plugin's crate:
//! let config = testing::configure(r#"{"groups": {"Engineering": "team:engineering"}}"#);
//! let principal = testing::principal("jane@acme.example").groups(["Engineering"]).build();
//! let answer = Plugin::assign(testing::account(&principal), principal, &config);
//! assert_eq!(answer, Ok(vec![Assignment::Team("engineering".into())]));
//! assert_eq!(testing::logs(), vec![]);
//! ```

extern crate std;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use std::thread_local;

use crate::{Account, Config, Level, Principal};

thread_local! {
    static CONFIG: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
    static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    static RANDOM: RefCell<u64> = const { RefCell::new(0) };
}

/// Sets this thread's binding configuration from a JSON object, as the
/// host answers it: nested objects by dotted keys, strings as they are,
/// anything else as its JSON text; empties the log. Returns the [`Config`]
/// a call would get, to pass to the hook. Panics on JSON that is not an object.
pub fn configure(json: &str) -> Config {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("the configuration is not JSON: {e}"));
    let serde_json::Value::Object(fields) = value else { panic!("the configuration is not a JSON object") };
    let mut flat = BTreeMap::new();
    flatten("", &fields, &mut flat);
    CONFIG.with(|c| *c.borrow_mut() = flat);
    LOGS.with(|l| l.borrow_mut().clear());
    Config::from_host()
}

fn flatten(prefix: &str, fields: &serde_json::Map<String, serde_json::Value>, out: &mut BTreeMap<String, String>) {
    for (key, value) in fields {
        let key = if prefix.is_empty() { key.clone() } else { alloc::format!("{prefix}.{key}") };
        match value {
            serde_json::Value::Object(inner) => flatten(&key, inner, out),
            serde_json::Value::String(text) => {
                out.insert(key, text.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

/// Seeds this thread's random source (`random_digits` and the default
/// username rule then give the same digits on every run).
pub fn seed(seed: u64) {
    RANDOM.with(|r| *r.borrow_mut() = seed);
}

/// The log lines of this thread since [`configure`], or since the last
/// call of `logs`, which empties them.
pub fn logs() -> Vec<(Level, String)> {
    LOGS.with(|l| core::mem::take(&mut *l.borrow_mut()))
}

pub(crate) fn config(key: &str) -> Option<String> {
    CONFIG.with(|c| c.borrow().get(key).cloned())
}

pub(crate) fn log(level: Level, message: &str) {
    LOGS.with(|l| l.borrow_mut().push((level, message.to_string())));
}

/// SplitMix64: small, and the same numbers on every platform.
pub(crate) fn random_u64() -> u64 {
    RANDOM.with(|r| {
        let mut state = r.borrow_mut();
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A principal with this email (verified), from domain `acme` and
/// provider `okta`, to fill in further.
pub fn principal(email: &str) -> PrincipalBuilder {
    PrincipalBuilder(Principal {
        domain: "acme".into(),
        provider: "okta".into(),
        subject: alloc::format!("sub-{email}"),
        email: email.into(),
        email_verified: true,
        given_name: None,
        family_name: None,
        groups: Vec::new(),
        claims: Vec::new(),
    })
}

/// Builds a [`Principal`] for a test.
#[derive(Debug, Clone)]
pub struct PrincipalBuilder(Principal);

impl PrincipalBuilder {
    /// Its given and family names.
    pub fn names(mut self, given: &str, family: &str) -> Self {
        self.0.given_name = Some(given.into());
        self.0.family_name = Some(family.into());
        self
    }

    /// Its IdP groups, in order.
    pub fn groups<'a>(mut self, groups: impl IntoIterator<Item = &'a str>) -> Self {
        self.0.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the provider verified the email.
    pub fn verified(mut self, verified: bool) -> Self {
        self.0.email_verified = verified;
        self
    }

    /// A claim.
    pub fn claim(mut self, name: &str, value: &str) -> Self {
        self.0.claims.push((name.into(), value.into()));
        self
    }

    /// The principal.
    pub fn build(self) -> Principal {
        self.0
    }
}

/// The account a login would hand the assignment provider for a new
/// person: the email's local part as username.
pub fn account(principal: &Principal) -> Account {
    Account {
        id: "test".into(),
        username: provisio_rules::email_local_part(&principal.email).to_string(),
        email: principal.email.clone(),
        given_name: principal.given_name.clone(),
        family_name: principal.family_name.clone(),
        newly_created: true,
    }
}
