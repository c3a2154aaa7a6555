//! The default identity creator: creates the account from the principal.
//!
//! Email and names come from the principal; the username is the email's local
//! part (or `given.family` when that leaves nothing usable), lower-cased, cut to
//! `a-z 0-9 . _ -`, followed by random digits. Config: `digits` (default 4, 0 to 9).
//! The rule is the host's built-in one (`provisio_plugin_sdk::default_creation`).

use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result, default_creation};

struct DefaultCreator;

impl IdentityCreator for DefaultCreator {
    fn create(principal: Principal, config: &Config) -> Result<Creation> {
        default_creation(&principal, config)
    }
}

provisio_plugin_sdk::export_identity_creator!(DefaultCreator);

#[cfg(test)]
mod tests {
    use provisio_plugin_sdk::{Creation, IdentityCreator, testing};

    use super::DefaultCreator;

    #[test]
    fn the_username_is_the_local_part_and_the_configured_digits() {
        let config = testing::configure(r#"{"digits": 2}"#);
        let principal = testing::principal("Jane.O'Doe+tag@acme.example").names("Jane", "Doe").build();
        let Ok(Creation::Create(account)) = DefaultCreator::create(principal, &config) else { panic!("no account") };
        let hint = account.username_hint.unwrap_or_default();
        assert_eq!(hint.len(), "jane.odoetag".len() + 2, "{hint}");
        assert!(hint.starts_with("jane.odoetag") && hint[12..].bytes().all(|b| b.is_ascii_digit()), "{hint}");
        assert_eq!(
            (account.given_name.as_deref(), account.email.as_str()),
            (Some("Jane"), "Jane.O'Doe+tag@acme.example")
        );
    }

    #[test]
    fn an_empty_email_is_the_plugins_error() {
        let config = testing::configure("{}");
        assert!(DefaultCreator::create(testing::principal("").build(), &config).is_err());
    }
}
