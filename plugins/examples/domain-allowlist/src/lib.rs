//! Creates accounts like `default-creator`, but only for email addresses whose
//! domain is listed in the binding's `allowed-domains`; denies every other one.

use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result, default_creation, deny, email_domain};

/// The configuration key listing the allowed email domains.
const ALLOWED_DOMAINS_KEY: &str = "allowed-domains";

struct DomainAllowlist;

/// Whether `domain` (lower-cased) is one of the configured domains. Entries are
/// compared case-insensitively, with an optional leading `@` ignored.
fn is_allowed(domain: &str, config: &Config) -> bool {
    config.list(ALLOWED_DOMAINS_KEY).iter().any(|entry| entry.trim_start_matches('@').eq_ignore_ascii_case(domain))
}

impl IdentityCreator for DomainAllowlist {
    fn create(principal: Principal, config: &Config) -> Result<Creation> {
        if principal.email.trim().is_empty() {
            return Err("the principal has no email address".into());
        }
        match email_domain(&principal.email) {
            Some(domain) if is_allowed(&domain, config) => default_creation(&principal, config),
            _ => {
                Ok(deny("domain-not-allowed", "Sign-up with this email address is not allowed for this organization."))
            }
        }
    }
}

provisio_plugin_sdk::export_identity_creator!(DomainAllowlist);

#[cfg(test)]
mod tests {
    use provisio_plugin_sdk::{Creation, IdentityCreator, testing};

    use super::DomainAllowlist;

    #[test]
    fn only_the_listed_domains_get_an_account() {
        let config = testing::configure(r#"{"allowed-domains": ["@Acme.example", "corp.example"], "digits": 0}"#);
        let allowed = DomainAllowlist::create(testing::principal("jane@ACME.example").build(), &config);
        assert!(
            matches!(allowed, Ok(Creation::Create(ref a)) if a.username_hint.as_deref() == Some("jane")),
            "{allowed:?}"
        );
        let denied = DomainAllowlist::create(testing::principal("jane@sub.acme.example").build(), &config);
        assert!(matches!(denied, Ok(Creation::Deny(ref d)) if d.code == "domain-not-allowed"), "{denied:?}");
    }

    #[test]
    fn no_list_allows_nobody() {
        let config = testing::configure("{}");
        let denied = DomainAllowlist::create(testing::principal("jane@acme.example").build(), &config);
        assert!(matches!(denied, Ok(Creation::Deny(_))), "{denied:?}");
    }
}
