//! The contract's structural rules for what a plugin returns: sizes and forms
//! that hold whatever the domain. Rules that need the login's context (the
//! email equals the verified one, names belong to the domain's organization)
//! are in `judge`, which the engine and `provisio plugin test` both call.

use super::{Assignment, Creation};

/// A broken rule: its stable name and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The stable name of the rule, recorded in audit events.
    pub rule: &'static str,
    /// What was wrong, without echoing large values.
    pub detail: String,
}

/// Most bytes in a plugin's `name()`.
pub const MAX_PLUGIN_NAME: usize = 128;
/// Most bytes in an email address.
pub const MAX_EMAIL: usize = 320;
/// Most characters in a username (the default username rule's bound too).
pub const MAX_USERNAME: usize = provisio_rules::MAX_USERNAME_LEN;
/// Most bytes in a given or family name.
pub const MAX_PERSON_NAME: usize = 255;
/// Most attributes on a new account.
pub const MAX_ATTRIBUTES: usize = 32;
/// Most bytes in an attribute name.
pub const MAX_ATTRIBUTE_NAME: usize = 64;
/// Most bytes in an attribute value.
pub const MAX_ATTRIBUTE_VALUE: usize = 1024;
/// Most bytes in a denial code.
pub const MAX_DENIAL_CODE: usize = 64;
/// Most bytes in a denial message.
pub const MAX_DENIAL_MESSAGE: usize = 512;
/// Most entries in an assignment answer.
pub const MAX_ASSIGNMENTS: usize = 256;
/// Most bytes in an assigned name.
pub const MAX_ASSIGNMENT_NAME: usize = 128;

fn violation(rule: &'static str, detail: impl Into<String>) -> Violation {
    Violation { rule, detail: detail.into() }
}

/// At most `max` bytes (`rule` names a breach) of text that may be stored
/// and shown: no control or invisible format character (`text_rule` names
/// a breach, see [`crate::canonical::text`]).
fn bounded(rule: &'static str, text_rule: &'static str, what: &str, value: &str, max: usize) -> Result<(), Violation> {
    if value.len() > max {
        return Err(violation(rule, format!("{what} is {} bytes, at most {max} allowed", value.len())));
    }
    if let Err(e) = crate::canonical::text(value) {
        return Err(violation(text_rule, format!("{what} {e}")));
    }
    Ok(())
}

/// Whether `name` is a well-formed username: 1 to 64 characters from
/// `a-z 0-9 . _ -` once lower-cased.
pub fn is_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USERNAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks a plugin's `name()`.
pub fn plugin_name(name: &str) -> Result<(), Violation> {
    if name.trim().is_empty() {
        return Err(violation("plugin-name", "the plugin's name is empty"));
    }
    bounded("plugin-name", "plugin-name", "the plugin's name", name, MAX_PLUGIN_NAME)
}

/// Checks an identity creator's decision.
pub fn creation(decision: &Creation) -> Result<(), Violation> {
    match decision {
        Creation::Create(account) => {
            if account.email.is_empty() || !account.email.contains('@') {
                return Err(violation("email-form", "the new account's email is not an address"));
            }
            bounded("email-form", "email-form", "the new account's email", &account.email, MAX_EMAIL)?;
            if let Some(hint) = &account.username_hint
                && !is_username(&hint.to_ascii_lowercase())
            {
                return Err(violation(
                    "username-form",
                    format!(
                        "the username hint must be 1 to {MAX_USERNAME} characters from a-z 0-9 . _ - (got {} bytes)",
                        hint.len()
                    ),
                ));
            }
            for (what, name) in [("given name", &account.given_name), ("family name", &account.family_name)] {
                if let Some(name) = name {
                    bounded("person-name-size", "person-name-text", what, name, MAX_PERSON_NAME)?;
                }
            }
            if account.attributes.len() > MAX_ATTRIBUTES {
                return Err(violation(
                    "attributes-size",
                    format!("{} attributes, at most {MAX_ATTRIBUTES} allowed", account.attributes.len()),
                ));
            }
            for (name, value) in &account.attributes {
                if name.is_empty() {
                    return Err(violation("attributes-size", "an attribute has an empty name"));
                }
                bounded("attributes-size", "attributes-text", "an attribute name", name, MAX_ATTRIBUTE_NAME)?;
                bounded("attributes-size", "attributes-text", "an attribute value", value, MAX_ATTRIBUTE_VALUE)?;
            }
            Ok(())
        }
        Creation::Deny(denial) => {
            let code_ok = !denial.code.is_empty()
                && denial.code.len() <= MAX_DENIAL_CODE
                && denial
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
            if !code_ok {
                return Err(violation(
                    "denial-code-form",
                    format!("a denial code is 1 to {MAX_DENIAL_CODE} characters from a-z 0-9 - _"),
                ));
            }
            if denial.message.trim().is_empty() {
                return Err(violation("denial-message-size", "the denial message is empty"));
            }
            bounded(
                "denial-message-size",
                "denial-message-text",
                "the denial message",
                &denial.message,
                MAX_DENIAL_MESSAGE,
            )
        }
    }
}

/// Checks an assignment provider's answer.
pub fn assignments(list: &[Assignment]) -> Result<(), Violation> {
    if list.len() > MAX_ASSIGNMENTS {
        return Err(violation(
            "assignments-size",
            format!("{} assignments, at most {MAX_ASSIGNMENTS} allowed", list.len()),
        ));
    }
    for a in list {
        if a.name().trim().is_empty() {
            return Err(violation("assignment-name-size", "an assignment names nothing"));
        }
        bounded("assignment-name-size", "assignment-name-text", "an assigned name", a.name(), MAX_ASSIGNMENT_NAME)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Denial, NewAccount};

    fn account(hint: Option<&str>) -> Creation {
        Creation::Create(NewAccount {
            email: "jane@example.com".into(),
            username_hint: hint.map(Into::into),
            given_name: None,
            family_name: None,
            attributes: vec![],
        })
    }

    #[test]
    fn rules_by_name() {
        let cases: Vec<(Creation, Option<&str>)> = vec![
            (account(Some("jane.doe1234")), None),
            (account(Some("Jane.Doe")), None),
            (account(None), None),
            (account(Some("")), Some("username-form")),
            (account(Some("jane doe")), Some("username-form")),
            (account(Some(&"a".repeat(65))), Some("username-form")),
            (Creation::Deny(Denial { code: "Not OK".into(), message: "no".into() }), Some("denial-code-form")),
            (Creation::Deny(Denial { code: "no".into(), message: " ".into() }), Some("denial-message-size")),
            (Creation::Deny(Denial { code: "no".into(), message: "x".repeat(513) }), Some("denial-message-size")),
        ];
        for (decision, expected) in cases {
            assert_eq!(creation(&decision).err().map(|v| v.rule), expected, "{decision:?}");
        }
        let many = vec![Assignment::Team("t".into()); MAX_ASSIGNMENTS + 1];
        assert_eq!(assignments(&many).err().map(|v| v.rule), Some("assignments-size"));
        assert_eq!(assignments(&[Assignment::Role("a\nb".into())]).err().map(|v| v.rule), Some("assignment-name-text"));
        assert_eq!(
            assignments(&[Assignment::Team("admins\u{200b}".into())]).err().map(|v| v.rule),
            Some("assignment-name-text"),
            "a look-alike team name"
        );
        let bidi = Creation::Deny(Denial { code: "no".into(), message: "unlock \u{202e}moc.live//:sptth".into() });
        assert_eq!(creation(&bidi).err().map(|v| v.rule), Some("denial-message-text"));
    }
}
