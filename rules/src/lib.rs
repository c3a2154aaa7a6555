//! The rules Provisio's built-in providers and its plugin SDK share: the
//! default username rule and the group mapping rule, in one place so that a
//! built-in and the example plugin it stands in for cannot decide differently.
//!
//! ```
//! use provisio_rules::{Membership, group_mapping, username_base, username_with_digits};
//!
//! let base = username_base("Jane.O'Doe+tag@acme.example", Some("Jane"), Some("Doe"));
//! assert_eq!(base, "jane.odoetag");
//! // Randomness stays with the caller: a function answering a number below its argument.
//! assert_eq!(username_with_digits(&base, 4, |_| 427), "jane.odoetag0427");
//!
//! let config = |key: &str| (key == "groups.Engineering").then_some("team:engineering, role:developer");
//! let groups = ["Everyone".to_string(), "Engineering".to_string()];
//! assert_eq!(
//!     group_mapping(&groups, config),
//!     Ok(vec![Membership::Team("engineering".into()), Membership::Role("developer".into())]),
//! );
//! ```
//!
//! The crate has no dependencies and is `no_std` (with `alloc`), so that it
//! builds natively for the host and for WebAssembly inside the SDK. It knows
//! neither the host's nor the SDK's types: callers pass strings and a
//! configuration lookup, and convert [`Membership`] to their own assignment type.

#![no_std]

extern crate alloc;

mod groups;
mod list;
mod username;

pub use groups::{
    DEFAULT_ROLE_KEY, DEFAULT_TEAM_KEY, GROUPS_PREFIX, MappingError, Membership, group_mapping, parse_membership,
};
pub use list::parse_list;
pub use username::{
    DEFAULT_DIGITS, DIGITS_KEY, FALLBACK_USERNAME, MAX_DIGITS, MAX_USERNAME_LEN, configured_digits, email_domain,
    email_local_part, fit_username, is_usable_username, random_digits, sanitize_username, username_base,
    username_with_digits,
};

/// The longest configuration key a plugin may ask the host for (longer keys
/// stop the call). The group mapping rule never looks such a key up, so a
/// built-in and a plugin treat a very long group name alike.
pub const MAX_CONFIG_KEY_BYTES: usize = 256;

/// The longest prefix of `s` that is at most `max` bytes and ends on a
/// character boundary.
pub fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate_str;

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncate_str("héllo", 2), "h");
        assert_eq!(truncate_str("héllo", 3), "hé");
        assert_eq!(truncate_str("abc", 10), "abc");
        assert_eq!(truncate_str("", 0), "");
    }
}
