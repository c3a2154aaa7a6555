//! Randomness, and the host's own rules (crate `provisio-rules`) on the SDK's
//! types: the default username rule, the default creator's decision, the
//! group mapping.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use provisio_rules::Membership;

use crate::{Assignment, Config, Creation, Denial, NewAccount, Principal, Result};

/// A random `u64` from the host's `wasi:random/random`.
pub fn random_u64() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return crate::raw::random::get_random_u64();
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::random_u64();
}

/// A uniformly distributed random number in `0..bound` (`0` when `bound` is 0).
pub fn random_below(bound: u64) -> u64 {
    if bound <= 1 {
        return 0;
    }
    // Reject the top partial range so every value is equally likely.
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let r = random_u64();
        if r < zone {
            return r % bound;
        }
    }
}

/// `n` random decimal digits (`n` is capped at 19), for example `"0427"` for 4.
pub fn random_digits(n: u32) -> String {
    provisio_rules::random_digits(n, random_below)
}

/// The username base (without random digits) of the default rule:
///
/// 1. the email's local part, sanitised with [`sanitize_username`](crate::sanitize_username);
/// 2. if that has no letter or digit left: `given.family` from the principal's
///    names (only the one that is present when the other is missing), sanitised;
/// 3. if that has no letter or digit either: [`FALLBACK_USERNAME`](crate::FALLBACK_USERNAME).
pub fn username_base(principal: &Principal) -> String {
    provisio_rules::username_base(&principal.email, principal.given_name.as_deref(), principal.family_name.as_deref())
}

/// The default username rule: [`username_base`] cut so that it and `digits`
/// random decimal digits (capped at [`MAX_DIGITS`](crate::MAX_DIGITS)) fit in
/// [`MAX_USERNAME_LEN`](crate::MAX_USERNAME_LEN) characters, followed by those digits.
///
/// `jane.doe@example.com` with 4 digits gives for example `jane.doe0427`.
pub fn username_from(principal: &Principal, digits: u32) -> String {
    provisio_rules::username_with_digits(&username_base(principal), digits, random_below)
}

/// The account the default rule creates for `principal`, with `digits` random
/// digits after the username: the principal's email and names, a username
/// from [`username_from`], no attributes.
///
/// Fails only when the principal has no email (which the host never sends).
pub fn default_account(principal: &Principal, digits: u32) -> Result<NewAccount> {
    if principal.email.trim().is_empty() {
        return Err("the principal has no email address".into());
    }
    Ok(NewAccount {
        email: principal.email.clone(),
        username_hint: Some(username_from(principal, digits)),
        given_name: principal.given_name.clone(),
        family_name: principal.family_name.clone(),
        attributes: Vec::new(),
    })
}

/// The default creator's whole decision, the host's built-in one:
/// [`default_account`] with the binding's [`Config::digits`], as a `create` decision.
pub fn default_creation(principal: &Principal, config: &Config) -> Result<Creation> {
    default_account(principal, config.digits()).map(Creation::Create)
}

/// A `deny` decision with `code` (machine-readable) and `message` (shown to the end user).
pub fn deny(code: &str, message: &str) -> Creation {
    Creation::Deny(Denial { code: code.to_string(), message: message.to_string() })
}

/// The group mapping rule, the host's built-in assignment provider: for each
/// of the principal's groups in order, the memberships listed by
/// `groups.<group>` (`team:<name>`, `role:<name>`, `organization:<name>`,
/// comma-separated or a JSON array); `default-team` when the principal has
/// no groups; `default-role` for everyone; each membership once. A malformed
/// item fails the call with an error naming it and its key.
pub fn group_mapping(principal: &Principal, config: &Config) -> Result<Vec<Assignment>> {
    let memberships = provisio_rules::group_mapping(&principal.groups, |key| config.get(key))?;
    Ok(memberships
        .into_iter()
        .map(|m| match m {
            Membership::Organization(name) => Assignment::Organization(name),
            Membership::Team(name) => Assignment::Team(name),
            Membership::Role(name) => Assignment::Role(name),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn the_default_rule_takes_the_configured_digits_from_the_seeded_source() {
        let config = testing::configure(r#"{"digits": 3}"#);
        testing::seed(7);
        let principal = testing::principal("Jane.Doe@acme.example").build();
        let Ok(Creation::Create(first)) = default_creation(&principal, &config) else { panic!("no account") };
        testing::seed(7);
        let Ok(Creation::Create(again)) = default_creation(&principal, &config) else { panic!("no account") };
        let hint = first.username_hint.clone().unwrap_or_default();
        assert!(hint.starts_with("jane.doe") && hint.len() == "jane.doe".len() + 3, "{hint}");
        assert_eq!(first, again);
        assert!(default_creation(&testing::principal(" ").build(), &config).is_err());
    }

    #[test]
    fn group_mapping_answers_assignments_and_fails_on_a_malformed_item() {
        let config = testing::configure(r#"{"groups": {"A": "team:a, organization:acme", "B": "squad:b"}}"#);
        let principal = testing::principal("jane@acme.example").groups(["A"]).build();
        assert_eq!(
            group_mapping(&principal, &config),
            Ok(vec![Assignment::Team("a".into()), Assignment::Organization("acme".into())])
        );
        let principal = testing::principal("jane@acme.example").groups(["B"]).build();
        let error = group_mapping(&principal, &config).err().map(crate::Error::into_message).unwrap_or_default();
        assert!(error.contains("`squad:b` in config key `groups.B`"), "{error}");
    }
}
