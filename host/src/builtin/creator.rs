//! The built-in identity creator: the seeds' default rule.

use provisio_rules::{fit_username, is_usable_username, sanitize_username};
use rand::{Rng, RngExt};

use crate::auth::ldap::USERNAME_CLAIM;
use crate::plugin::validate::{MAX_ATTRIBUTE_NAME, MAX_ATTRIBUTES};
use crate::plugin::{BindingConfig, Creation, NewAccount, Principal};

pub use provisio_rules::{DEFAULT_DIGITS, MAX_DIGITS};

/// The username base of the default rule, without digits: the email's local
/// part (before the last `@`) lower-cased with every character outside
/// `a-z 0-9 . _ -` dropped; when no letter or digit is left, the same with
/// `given.family` (or whichever name is present); failing that, `user`.
pub fn username_base(principal: &Principal) -> String {
    provisio_rules::username_base(&principal.email, principal.given_name.as_deref(), principal.family_name.as_deref())
}

/// `base` cut so that it and `digits` random decimal digits (at most 9) fit
/// a username, followed by those digits.
pub fn username_with_digits(base: &str, digits: u32, rng: &mut impl Rng) -> String {
    provisio_rules::username_with_digits(base, digits, |bound| rng.random_range(0..bound))
}

/// The default creator's decision for `principal`: its email and names, and a
/// username from the default rule with the configured number of digits
/// (`digits`, default 4, at most 9).
pub fn default_creation(principal: &Principal, config: &BindingConfig, rng: &mut impl Rng) -> Creation {
    Creation::Create(default_account(principal, config, rng))
}

fn default_account(principal: &Principal, config: &BindingConfig, rng: &mut impl Rng) -> NewAccount {
    let digits = provisio_rules::configured_digits(config.get(provisio_rules::DIGITS_KEY));
    NewAccount {
        email: principal.email.clone(),
        username_hint: Some(username_with_digits(&username_base(principal), digits, rng)),
        given_name: principal.given_name.clone(),
        family_name: principal.family_name.clone(),
        attributes: Vec::new(),
    }
}

/// The default creator's decision for a principal a directory vouched for
/// (the AEM document's built-in creator, which "creates the user with the
/// information from the directory"): the directory's login name as the
/// username (made unique by the host, no digits added) when it gives a
/// usable one, else the default rule; its names; and the attributes it
/// copied into the claims (display name, `attributes.claims`) stored on the
/// account.
pub fn directory_creation(principal: &Principal, config: &BindingConfig, rng: &mut impl Rng) -> Creation {
    let mut account = default_account(principal, config, rng);
    if let Some(login) = principal.claims.get(USERNAME_CLAIM) {
        let login = fit_username(sanitize_username(login), "");
        if is_usable_username(&login) {
            account.username_hint = Some(login);
        }
    }
    account.attributes = principal
        .claims
        .iter()
        .filter(|(name, _)| name.as_str() != USERNAME_CLAIM && name.len() <= MAX_ATTRIBUTE_NAME)
        .take(MAX_ATTRIBUTES)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Creation::Create(account)
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn principal(email: &str, given: Option<&str>, family: Option<&str>) -> Principal {
        Principal {
            domain: "d".into(),
            provider: "p".into(),
            subject: "s".into(),
            email: email.into(),
            email_verified: true,
            given_name: given.map(Into::into),
            family_name: family.map(Into::into),
            groups: vec![],
            claims: Default::default(),
        }
    }

    /// The rule itself is tested in `provisio-rules`; this checks the wrappers.
    #[test]
    fn the_wrappers_pass_the_principal_and_the_rng_to_the_rule() {
        assert_eq!(username_base(&principal("+++@x.example", Some("Zoë"), Some("Ångström"))), "zo.ngstrm");
        let name = username_with_digits(&"a".repeat(80), 4, &mut rand::rng());
        assert_eq!(name.len(), provisio_rules::MAX_USERNAME_LEN);
        assert!(name[60..].bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert_eq!(username_with_digits("bob", 0, &mut rand::rng()), "bob");
    }

    #[test]
    fn directory_accounts_take_the_directory_login_and_attributes() {
        let mut p = principal("jane.doe@acme.example", Some("Jane"), Some("Doe"));
        p.claims.insert(USERNAME_CLAIM.into(), "JDoe".into());
        p.claims.insert("title".into(), "Engineer".into());
        let config = BindingConfig::default();
        let Creation::Create(account) = directory_creation(&p, &config, &mut rand::rng()) else {
            panic!("the built-in creator creates");
        };
        assert_eq!(account.username_hint.as_deref(), Some("jdoe"));
        assert_eq!(account.attributes, [("title".to_owned(), "Engineer".to_owned())]);
        assert_eq!(account.given_name.as_deref(), Some("Jane"));
        p.claims.insert(USERNAME_CLAIM.into(), "***".into());
        let Creation::Create(account) = directory_creation(&p, &config, &mut rand::rng()) else {
            panic!("the built-in creator creates");
        };
        assert!(account.username_hint.is_some_and(|u| u.starts_with("jane.doe")));
    }
}
