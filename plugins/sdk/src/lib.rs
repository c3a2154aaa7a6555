//! Bindings and helpers for writing Provisio plugins.
//!
//! A Provisio plugin is a WebAssembly component that exports one or both of
//! the `provisio:plugin` interfaces `identity-creator` and
//! `assignment-provider`, and may import the host's `host` interface (logging
//! and binding configuration) and `wasi:random/random`.
//!
//! Pick the world by module:
//!
//! | module | world | trait(s) to implement | export macro |
//! | --- | --- | --- | --- |
//! | [`identity_creator`] | `identity-creator-plugin` | [`identity_creator::Guest`] | [`export_identity_creator!`] |
//! | [`assignment_provider`] | `assignment-provider-plugin` | [`assignment_provider::Guest`] | [`export_assignment_provider!`] |
//! | [`provisioner`] | `provisioner` | both | [`export_provisioner!`] |
//!
//! ```ignore
//! use provisio_plugin_sdk::identity_creator::Guest;
//! use provisio_plugin_sdk::{Creation, Principal, default_creation, info};
//!
//! struct Plugin;
//!
//! impl Guest for Plugin {
//!     fn name() -> String {
//!         "my-creator".into()
//!     }
//!
//!     fn create(principal: Principal) -> Result<Creation, String> {
//!         info!("creating an account for {}", principal.email);
//!         default_creation(&principal)
//!     }
//! }
//!
//! provisio_plugin_sdk::export_identity_creator!(Plugin);
//! ```
//!
//! A plugin's logic runs natively too, in its own crate's `cargo test`: on
//! any target but `wasm32`, the host's imports are answered by [`testing`]
//! (a configuration, the log lines, a seeded random source, per thread).
//!
//! Randomness comes from an explicit `wasi:random/random` import (see
//! `wit/sdk.wit`), so the same plugin source builds for `wasm32-wasip2` and for
//! `wasm32-unknown-unknown` followed by componentization.

#![cfg_attr(all(not(test), target_arch = "wasm32"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Generated bindings for the `identity-creator-plugin` world (plus the
/// `wasi:random/random` import). The shared types, the `host` import and the
/// random import live here; the other worlds reuse them.
#[doc(hidden)]
pub mod __bindings_identity_creator {
    wit_bindgen::generate!({
        path: ["../../wit", "wit"],
        world: "provisio:sdk/identity-creator-plugin",
        generate_all,
        additional_derives: [PartialEq, Eq],
        pub_export_macro: true,
        default_bindings_module: "$crate::__bindings_identity_creator",
        export_macro_name: "__export_identity_creator",
    });
}

/// Generated bindings for the `assignment-provider-plugin` world; its imports
/// and types are the ones of [`__bindings_identity_creator`].
#[doc(hidden)]
pub mod __bindings_assignment_provider {
    wit_bindgen::generate!({
        path: ["../../wit", "wit"],
        world: "provisio:sdk/assignment-provider-plugin",
        pub_export_macro: true,
        default_bindings_module: "$crate::__bindings_assignment_provider",
        export_macro_name: "__export_assignment_provider",
        with: {
            "provisio:plugin/types@0.1.0": crate::__bindings_identity_creator::provisio::plugin::types,
            "provisio:plugin/host@0.1.0": crate::__bindings_identity_creator::provisio::plugin::host,
            "wasi:random/random@0.2.0": crate::__bindings_identity_creator::wasi::random::random,
        },
    });
}

/// The raw generated imports, for plugins that need to call the host without
/// the helpers' guards (for example to test the host's limits).
pub mod raw {
    /// The `provisio:plugin/host` import: `log` and `config`, unchecked.
    pub use crate::__bindings_identity_creator::provisio::plugin::host;
    /// The `wasi:random/random` import.
    pub use crate::__bindings_identity_creator::wasi::random::random;
}

pub use crate::__bindings_identity_creator::provisio::plugin::host::Level;
pub use crate::__bindings_identity_creator::provisio::plugin::types::{
    Account, Assignment, Creation, Denial, NewAccount, Principal,
};

/// The `identity-creator-plugin` world: implement [`identity_creator::Guest`]
/// and export it with [`export_identity_creator!`].
pub mod identity_creator {
    pub use crate::__bindings_identity_creator::exports::provisio::plugin::identity_creator::Guest;
}

/// The `assignment-provider-plugin` world: implement
/// [`assignment_provider::Guest`] and export it with
/// [`export_assignment_provider!`].
pub mod assignment_provider {
    pub use crate::__bindings_assignment_provider::exports::provisio::plugin::assignment_provider::Guest;
}

/// The `provisioner` world: implement both [`identity_creator::Guest`] and
/// [`assignment_provider::Guest`] on one type and export it with
/// [`export_provisioner!`].
pub mod provisioner {
    pub use crate::assignment_provider::Guest as AssignmentProvider;
    pub use crate::identity_creator::Guest as IdentityCreator;
}

/// Exports a type implementing [`identity_creator::Guest`] as this component's
/// `provisio:plugin/identity-creator` (world `identity-creator-plugin`).
/// Takes a type name (an identifier in scope), as `export_identity_creator!(Plugin);`.
///
/// Every call first installs a panic hook that sends the panic message to the
/// host log at `error` level, so that the host can report it on any target
/// (`wasm32-unknown-unknown` has no stderr).
#[macro_export]
macro_rules! export_identity_creator {
    ($ty:ident) => {
        struct __ProvisioCreatorExport;
        impl $crate::identity_creator::Guest for __ProvisioCreatorExport {
            fn name() -> ::std::string::String {
                $crate::__install_panic_hook!();
                <$ty as $crate::identity_creator::Guest>::name()
            }
            fn create(
                principal: $crate::Principal,
            ) -> ::std::result::Result<$crate::Creation, ::std::string::String> {
                $crate::__install_panic_hook!();
                <$ty as $crate::identity_creator::Guest>::create(principal)
            }
        }
        $crate::__bindings_identity_creator::__export_identity_creator!(__ProvisioCreatorExport);
    };
}

/// Exports a type implementing [`assignment_provider::Guest`] as this
/// component's `provisio:plugin/assignment-provider` (world
/// `assignment-provider-plugin`). Takes a type name, as
/// `export_assignment_provider!(Plugin);`. Installs the same panic hook as
/// [`export_identity_creator!`].
#[macro_export]
macro_rules! export_assignment_provider {
    ($ty:ident) => {
        struct __ProvisioAssignerExport;
        impl $crate::assignment_provider::Guest for __ProvisioAssignerExport {
            fn name() -> ::std::string::String {
                $crate::__install_panic_hook!();
                <$ty as $crate::assignment_provider::Guest>::name()
            }
            fn assign(
                account: $crate::Account,
                principal: $crate::Principal,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Assignment>, ::std::string::String> {
                $crate::__install_panic_hook!();
                <$ty as $crate::assignment_provider::Guest>::assign(account, principal)
            }
        }
        $crate::__bindings_assignment_provider::__export_assignment_provider!(__ProvisioAssignerExport);
    };
}

/// Exports a type implementing both traits as this component's
/// `identity-creator` and `assignment-provider` (world `provisioner`).
/// Takes a type name, as `export_provisioner!(Plugin);`.
#[macro_export]
macro_rules! export_provisioner {
    ($ty:ident) => {
        $crate::export_identity_creator!($ty);
        $crate::export_assignment_provider!($ty);
    };
}

/// Sends panic messages to the host log (`error`, starting `panicked at`).
/// Expanded in the plugin crate, which has `std`.
#[doc(hidden)]
#[macro_export]
macro_rules! __install_panic_hook {
    () => {
        ::std::panic::set_hook(::std::boxed::Box::new(|info| {
            $crate::log($crate::Level::Error, &::std::format!("{info}"));
        }));
    };
}

// ---------------------------------------------------------------------------
// Configuration

/// The longest configuration key the host answers (longer keys stop the call).
pub const MAX_CONFIG_KEY_BYTES: usize = 256;

/// The longest log message the host accepts by default (longer ones stop the call).
pub const MAX_LOG_MESSAGE_BYTES: usize = 4096;

/// The value of `key` in the binding's configuration, or `None`.
///
/// Nested objects are reached with dotted keys (`groups.engineering`); values
/// that are not JSON strings come back as JSON text (`4`, `true`, `["a","b"]`).
/// A key longer than [`MAX_CONFIG_KEY_BYTES`] is not sent to the host (which
/// would stop the call) and reads as absent: no configuration can be reached by it.
pub fn config(key: &str) -> Option<String> {
    if key.len() > MAX_CONFIG_KEY_BYTES {
        return None;
    }
    host_config(key)
}

#[cfg(target_arch = "wasm32")]
fn host_config(key: &str) -> Option<String> {
    raw::host::config(key)
}

#[cfg(not(target_arch = "wasm32"))]
fn host_config(key: &str) -> Option<String> {
    testing::config(key)
}

/// [`config`], with surrounding whitespace removed and an empty value read as absent.
pub fn config_trimmed(key: &str) -> Option<String> {
    let value = config(key)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == value.len() {
        Some(value)
    } else {
        Some(trimmed.to_string())
    }
}

/// `key` parsed as a non-negative decimal integer (surrounding whitespace
/// ignored); `None` when absent or not such a number.
pub fn config_u32(key: &str) -> Option<u32> {
    config(key)?.trim().parse().ok()
}

/// `key` parsed as a non-negative integer, or `default` when absent or invalid.
pub fn config_u32_or(key: &str, default: u32) -> u32 {
    config_u32(key).unwrap_or(default)
}

/// `key` read as `true`/`false` (JSON booleans or the same words as strings,
/// case-insensitive); `None` when absent or anything else.
pub fn config_bool(key: &str) -> Option<bool> {
    let value = config(key)?;
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `key` read as a list of strings: see [`parse_list`]. Empty when absent.
pub fn config_list(key: &str) -> Vec<String> {
    config(key).map(|v| parse_list(&v)).unwrap_or_default()
}

/// Splits a configuration value into a list of strings.
///
/// Accepts either a comma-separated string (`"a, b,c"`) or a JSON array of
/// strings (`["a", "b", "c"]`, which is how the host returns a JSON array).
/// Items are trimmed and empty items dropped. A value that starts with `[`
/// but is not a valid JSON array of strings is split on commas like any
/// other string.
pub fn parse_list(value: &str) -> Vec<String> {
    let trimmed = value.trim();
    if trimmed.starts_with('[')
        && let Some(items) = parse_json_string_array(trimmed)
    {
        return items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    trimmed
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(ToString::to_string)
        .collect()
}

/// Parses a JSON array whose elements are all strings; `None` for anything else.
fn parse_json_string_array(text: &str) -> Option<Vec<String>> {
    let mut chars = text.chars().peekable();
    let skip_ws = |chars: &mut core::iter::Peekable<core::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
    };
    let mut items = Vec::new();
    if chars.next()? != '[' {
        return None;
    }
    skip_ws(&mut chars);
    if chars.peek() == Some(&']') {
        chars.next();
    } else {
        loop {
            skip_ws(&mut chars);
            if chars.next()? != '"' {
                return None;
            }
            let mut item = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        '"' => item.push('"'),
                        '\\' => item.push('\\'),
                        '/' => item.push('/'),
                        'b' => item.push('\u{8}'),
                        'f' => item.push('\u{c}'),
                        'n' => item.push('\n'),
                        'r' => item.push('\r'),
                        't' => item.push('\t'),
                        'u' => {
                            let mut code = 0u32;
                            for _ in 0..4 {
                                code = code * 16 + chars.next()?.to_digit(16)?;
                            }
                            // Surrogate pairs are not needed for domain or group
                            // names; a lone surrogate becomes U+FFFD.
                            item.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return None,
                    },
                    c => item.push(c),
                }
            }
            items.push(item);
            skip_ws(&mut chars);
            match chars.next()? {
                ',' => continue,
                ']' => break,
                _ => return None,
            }
        }
    }
    skip_ws(&mut chars);
    if chars.next().is_some() {
        return None;
    }
    Some(items)
}

// ---------------------------------------------------------------------------
// Logging

/// Appends `message` to this call's guest log at `level`.
///
/// A message longer than [`MAX_LOG_MESSAGE_BYTES`] is cut (at a character
/// boundary) to that length, so that a long message does not stop the call.
/// The host's per-call log budget still applies.
pub fn log(level: Level, message: &str) {
    let message = truncate_str(message, MAX_LOG_MESSAGE_BYTES);
    #[cfg(target_arch = "wasm32")]
    raw::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    testing::log(level, message);
}

/// [`log`] at `trace` level.
pub fn log_trace(message: &str) {
    log(Level::Trace, message);
}
/// [`log`] at `debug` level.
pub fn log_debug(message: &str) {
    log(Level::Debug, message);
}
/// [`log`] at `info` level.
pub fn log_info(message: &str) {
    log(Level::Info, message);
}
/// [`log`] at `warn` level.
pub fn log_warn(message: &str) {
    log(Level::Warn, message);
}
/// [`log`] at `error` level.
pub fn log_error(message: &str) {
    log(Level::Error, message);
}

/// Logs a `format!`-style message at `trace` level.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log($crate::Level::Trace, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `debug` level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log($crate::Level::Debug, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `info` level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log($crate::Level::Info, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `warn` level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log($crate::Level::Warn, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `error` level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log($crate::Level::Error, &$crate::__format!($($arg)+)) };
}

#[doc(hidden)]
pub use alloc::format as __format;

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

// ---------------------------------------------------------------------------
// Randomness

/// A random `u64` from the host's `wasi:random/random`.
pub fn random_u64() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return raw::random::get_random_u64();
    #[cfg(not(target_arch = "wasm32"))]
    return testing::random_u64();
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
    let n = n.min(19);
    if n == 0 {
        return String::new();
    }
    let value = random_below(10u64.pow(n));
    format!("{value:0width$}", width = n as usize)
}

// ---------------------------------------------------------------------------
// Accounts and usernames

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
    s.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
        .collect()
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
/// 2. if that has no letter or digit left: `given.family` from the principal's
///    names (only the one that is present when the other is missing), sanitised;
/// 3. if that has no letter or digit either: [`FALLBACK_USERNAME`].
pub fn username_base(principal: &Principal) -> String {
    let usable = |s: &String| s.chars().any(|c| c.is_ascii_alphanumeric());
    let local = sanitize_username(email_local_part(&principal.email));
    if usable(&local) {
        return local;
    }
    let given = principal.given_name.as_deref().unwrap_or("").trim();
    let family = principal.family_name.as_deref().unwrap_or("").trim();
    let names = match (given.is_empty(), family.is_empty()) {
        (false, false) => sanitize_username(&format!("{given}.{family}")),
        (false, true) => sanitize_username(given),
        (true, false) => sanitize_username(family),
        (true, true) => String::new(),
    };
    if usable(&names) {
        return names;
    }
    FALLBACK_USERNAME.to_string()
}

/// The default username rule: [`username_base`] cut so that it and `digits`
/// random decimal digits (capped at [`MAX_DIGITS`]) fit in
/// [`MAX_USERNAME_LEN`] characters, followed by those digits.
///
/// `jane.doe@example.com` with 4 digits gives for example `jane.doe0427`.
pub fn username_from(principal: &Principal, digits: u32) -> String {
    let digits = digits.min(MAX_DIGITS);
    fit_username(username_base(principal), &random_digits(digits))
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

/// The number of random digits configured by the binding's `digits` key:
/// [`DEFAULT_DIGITS`] when absent or not a non-negative integer, at most [`MAX_DIGITS`].
pub fn configured_digits() -> u32 {
    config_u32_or(DIGITS_KEY, DEFAULT_DIGITS).min(MAX_DIGITS)
}

/// The account the default rule creates for `principal`, with `digits` random
/// digits after the username: the principal's email and names, a username
/// from [`username_from`], no attributes.
///
/// Fails only when the principal has no email (which the host never sends).
pub fn default_account(principal: &Principal, digits: u32) -> Result<NewAccount, String> {
    if principal.email.trim().is_empty() {
        return Err("the principal has no email address".to_string());
    }
    Ok(NewAccount {
        email: principal.email.clone(),
        username_hint: Some(username_from(principal, digits)),
        given_name: principal.given_name.clone(),
        family_name: principal.family_name.clone(),
        attributes: Vec::new(),
    })
}

/// The default creator's whole decision: [`default_account`] with the
/// binding's [`configured_digits`], as a `create` decision.
pub fn default_creation(principal: &Principal) -> Result<Creation, String> {
    default_account(principal, configured_digits()).map(Creation::Create)
}

/// A `deny` decision with `code` (machine-readable) and `message` (shown to the end user).
pub fn deny(code: &str, message: &str) -> Creation {
    Creation::Deny(Denial {
        code: code.to_string(),
        message: message.to_string(),
    })
}

#[cfg(test)]
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
            groups: Vec::new(),
            claims: Vec::new(),
        }
    }

    #[test]
    fn sanitizes_to_the_username_alphabet() {
        assert_eq!(sanitize_username("Jane.O'Doe+Tag_1-x"), "jane.odoetag_1-x");
        assert_eq!(sanitize_username("Ñandú"), "and");
        assert_eq!(sanitize_username("ÉLISE"), "lise");
    }

    #[test]
    fn splits_emails_at_the_last_at_sign() {
        assert_eq!(email_local_part("a@b@Example.COM"), "a@b");
        assert_eq!(
            email_domain("a@b@Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(email_local_part("no-at-sign"), "no-at-sign");
        assert_eq!(email_domain("no-at-sign"), None);
        assert_eq!(email_domain("trailing@"), None);
    }

    #[test]
    fn username_base_falls_back_to_names_then_user() {
        let base = |e, g, f| username_base(&principal(e, g, f));
        assert_eq!(
            base("jane.doe@example.com", Some("X"), Some("Y")),
            "jane.doe"
        );
        assert_eq!(
            base("éé+@example.com", Some("Jane"), Some("Doe")),
            "jane.doe"
        );
        assert_eq!(base("...@example.com", None, Some("Doe")), "doe");
        assert_eq!(base("...@example.com", Some("Jane"), None), "jane");
        assert_eq!(base("...@example.com", Some("李"), Some("王")), "user");
        assert_eq!(base("@example.com", None, None), "user");
    }

    #[test]
    fn fit_username_keeps_the_whole_within_64() {
        let long = "a".repeat(100);
        let name = fit_username(long.clone(), "123456789");
        assert_eq!(name.len(), MAX_USERNAME_LEN);
        assert!(name.ends_with("123456789"));
        assert_eq!(fit_username(long, "").len(), MAX_USERNAME_LEN);
        assert_eq!(fit_username("jane".into(), "0427"), "jane0427");
    }

    #[test]
    fn parses_comma_lists_and_json_arrays() {
        assert_eq!(parse_list(" a, b ,,c "), ["a", "b", "c"]);
        assert_eq!(
            parse_list(r#"["a", " b", "c,d", "\u0041\"x"]"#),
            ["a", "b", "c,d", "A\"x"]
        );
        assert_eq!(parse_list("[]"), Vec::<String>::new());
        assert_eq!(parse_list(""), Vec::<String>::new());
        // Not a JSON array of strings: split on commas like any string.
        assert_eq!(parse_list("[1, 2]"), ["[1", "2]"]);
    }

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncate_str("héllo", 2), "h");
        assert_eq!(truncate_str("héllo", 3), "hé");
        assert_eq!(truncate_str("abc", 10), "abc");
    }
}

// ---------------------------------------------------------------------------
// Native tests

#[cfg(not(target_arch = "wasm32"))]
pub mod testing {
    //! A plugin's logic in its own crate's `cargo test`, natively, without a
    //! host: set the binding configuration, call the hook, read what it
    //! logged. Each test thread has its own configuration, log and random
    //! source (seeded 0 until [`seed`] says otherwise).
    //!
    //! ```ignore
    //! use provisio_plugin_sdk::testing;
    //!
    //! #[test]
    //! fn maps_engineering() {
    //!     testing::configure(r#"{"groups": {"Engineering": "team:engineering"}}"#);
    //!     let principal = testing::principal("jane@acme.example").groups(["Engineering"]).build();
    //!     let answer = Plugin::assign(testing::account(&principal), principal);
    //!     assert_eq!(answer, Ok(vec![provisio_plugin_sdk::Assignment::Team("engineering".into())]));
    //!     assert_eq!(testing::logs(), vec![]);
    //! }
    //! ```

    extern crate std;

    use alloc::collections::BTreeMap;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use core::cell::RefCell;
    use std::thread_local;

    use crate::{Account, Level, Principal};

    thread_local! {
        static CONFIG: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
        static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
        static RANDOM: RefCell<u64> = const { RefCell::new(0) };
    }

    /// Sets this thread's binding configuration from a JSON object, as the
    /// host answers it: nested objects by dotted keys, strings as they are,
    /// anything else as its JSON text. Panics on JSON that is not an object.
    pub fn configure(json: &str) {
        let value: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("the configuration is not JSON: {e}"));
        let serde_json::Value::Object(fields) = value else { panic!("the configuration is not a JSON object") };
        let mut flat = BTreeMap::new();
        flatten("", &fields, &mut flat);
        CONFIG.with(|c| *c.borrow_mut() = flat);
        LOGS.with(|l| l.borrow_mut().clear());
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
            username: crate::email_local_part(&principal.email).to_string(),
            email: principal.email.clone(),
            given_name: principal.given_name.clone(),
            family_name: principal.family_name.clone(),
            newly_created: true,
        }
    }
}
