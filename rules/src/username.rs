//! The default username rule: an email's local part (or the person's names),
//! kept to the username alphabet, followed by random digits.

use alloc::format;
use alloc::string::{String, ToString};

use crate::truncate_str;

/// The longest username the host accepts.
pub const MAX_USERNAME_LEN: usize = 64;

/// The base used when neither the email nor the names give a usable username.
pub const FALLBACK_USERNAME: &str = "user";

/// The configuration key that sets how many random digits follow a derived username.
pub const DIGITS_KEY: &str = "digits";

/// How many random digits follow a derived username when `digits` is not set.
pub const DEFAULT_DIGITS: u32 = 4;

/// The most random digits a derived username gets.
pub const MAX_DIGITS: u32 = 9;

/// Lower-cases `s` and drops every character outside `a-z 0-9 . _ -`.
pub fn sanitize_username(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).filter(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')).collect()
}

/// Whether `s` has a letter or a digit: a sanitised name without one
/// (`...`, `-_-`) is not used as a username.
pub fn is_usable_username(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_alphanumeric())
}

/// The part of `email` before its last `@` (the whole string when it has none).
pub fn email_local_part(email: &str) -> &str {
    email.rsplit_once('@').map_or(email, |(local, _)| local)
}

/// The part of `email` after its last `@`, lower-cased; `None` when it has no
/// `@` or nothing after it.
pub fn email_domain(email: &str) -> Option<String> {
    match email.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => Some(domain.to_ascii_lowercase()),
        _ => None,
    }
}

/// The username base (without random digits) of the default rule:
///
/// 1. the email's local part, sanitised with [`sanitize_username`];
/// 2. if that has no letter or digit left: `given.family` from the names
///    (only the one that is present when the other is missing), sanitised;
/// 3. if that has no letter or digit either: [`FALLBACK_USERNAME`].
pub fn username_base(email: &str, given_name: Option<&str>, family_name: Option<&str>) -> String {
    let local = sanitize_username(email_local_part(email));
    if is_usable_username(&local) {
        return local;
    }
    let given = given_name.unwrap_or("").trim();
    let family = family_name.unwrap_or("").trim();
    let names = match (given.is_empty(), family.is_empty()) {
        (false, false) => sanitize_username(&format!("{given}.{family}")),
        (false, true) => sanitize_username(given),
        (true, false) => sanitize_username(family),
        (true, true) => String::new(),
    };
    if is_usable_username(&names) { names } else { FALLBACK_USERNAME.to_string() }
}

/// `base` cut so that it followed by `suffix` fits in [`MAX_USERNAME_LEN`]
/// bytes, followed by `suffix`. `base` and `suffix` are expected to be ASCII
/// (as [`sanitize_username`] and [`random_digits`] make them); a cut never
/// splits a character in any case.
pub fn fit_username(mut base: String, suffix: &str) -> String {
    let keep = truncate_str(&base, MAX_USERNAME_LEN.saturating_sub(suffix.len())).len();
    base.truncate(keep);
    base.push_str(suffix);
    base
}

/// `n` decimal digits (`n` capped at 19) of a number drawn by `random_below`,
/// which answers a uniformly distributed number below its argument: `"0427"`
/// for 4 digits and 427. Empty, without drawing, for 0.
pub fn random_digits(n: u32, random_below: impl FnOnce(u64) -> u64) -> String {
    let n = n.min(19);
    if n == 0 {
        return String::new();
    }
    let bound = 10u64.pow(n);
    let value = random_below(bound) % bound;
    format!("{value:0width$}", width = n as usize)
}

/// The default rule's username from its base: `base` cut so that it and
/// `digits` random digits (capped at [`MAX_DIGITS`]) fit in
/// [`MAX_USERNAME_LEN`], followed by those digits, drawn by `random_below`
/// as in [`random_digits`].
pub fn username_with_digits(base: &str, digits: u32, random_below: impl FnOnce(u64) -> u64) -> String {
    fit_username(base.to_string(), &random_digits(digits.min(MAX_DIGITS), random_below))
}

/// The number of random digits the binding's [`DIGITS_KEY`] value asks for:
/// [`DEFAULT_DIGITS`] when absent or not a non-negative integer (surrounding
/// whitespace ignored), at most [`MAX_DIGITS`].
pub fn configured_digits(value: Option<&str>) -> u32 {
    value.and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(DEFAULT_DIGITS).min(MAX_DIGITS)
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn sanitizes_to_the_username_alphabet() {
        assert_eq!(sanitize_username("Jane.O'Doe+Tag_1-x"), "jane.odoetag_1-x");
        assert_eq!(sanitize_username("Ñandú"), "and");
        assert_eq!(sanitize_username("ÉLISE"), "lise");
        assert!(!is_usable_username("-_."));
        assert!(is_usable_username("-a-"));
    }

    #[test]
    fn splits_emails_at_the_last_at_sign() {
        assert_eq!(email_local_part("a@b@Example.COM"), "a@b");
        assert_eq!(email_domain("a@b@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(email_local_part("no-at-sign"), "no-at-sign");
        assert_eq!(email_domain("no-at-sign"), None);
        assert_eq!(email_domain("trailing@"), None);
    }

    #[test]
    fn username_base_falls_back_to_names_then_user() {
        for (email, given, family, base) in [
            ("jane.doe@example.com", Some("X"), Some("Y"), "jane.doe"),
            ("Jane.O'Doe+tag@x.example", None, None, "jane.odoetag"),
            ("éé+@example.com", Some("Jane"), Some("Doe"), "jane.doe"),
            ("+++@x.example", Some("Zoë"), Some("Ångström"), "zo.ngstrm"),
            ("...@example.com", None, Some("Doe"), "doe"),
            ("...@example.com", Some("Jane"), None, "jane"),
            ("...@example.com", Some(" "), Some(" Doe "), "doe"),
            ("...@example.com", Some("李"), Some("王"), "user"),
            ("@example.com", None, None, "user"),
        ] {
            assert_eq!(username_base(email, given, family), base, "{email} {given:?} {family:?}");
        }
    }

    #[test]
    fn fit_username_keeps_the_whole_within_64() {
        let long = "a".repeat(100);
        let name = fit_username(long.clone(), "123456789");
        assert_eq!(name.len(), MAX_USERNAME_LEN);
        assert!(name.ends_with("123456789"));
        assert_eq!(fit_username(long, "").len(), MAX_USERNAME_LEN);
        assert_eq!(fit_username("jane".to_string(), "0427"), "jane0427");
    }

    #[test]
    fn digits_are_zero_padded_capped_and_drawn_only_when_asked() {
        assert_eq!(random_digits(4, |bound| bound - 1), "9999");
        assert_eq!(random_digits(4, |_| 42), "0042");
        assert_eq!(random_digits(0, |_| unreachable!("no digits, no draw")), "");
        assert_eq!(random_digits(25, |_| 7).len(), 19);
        assert_eq!(username_with_digits("bob", 0, |_| unreachable!("no digits, no draw")), "bob");
        assert_eq!(username_with_digits("bob", 12, |bound| bound - 1), "bob999999999");
        let name = username_with_digits(&"a".repeat(80), 4, |_| 1);
        assert_eq!(name.len(), MAX_USERNAME_LEN);
        assert!(name.ends_with("a0001"), "{name}");
    }

    #[test]
    fn the_digits_key_defaults_to_four_and_caps_at_nine() {
        for (value, digits) in
            [(None, 4), (Some("2"), 2), (Some(" 0 "), 0), (Some("12"), 9), (Some("-1"), 4), (Some("two"), 4)]
        {
            assert_eq!(configured_digits(value), digits, "{value:?}");
        }
    }
}
