//! Bindings and helpers for writing Provisio plugins.
//!
//! A Provisio plugin is a WebAssembly component that exports one or both of
//! the `provisio:plugin` interfaces `identity-creator` and
//! `assignment-provider`, and may import the host's `host` interface (logging
//! and binding configuration) and `wasi:random/random`. With this crate it is
//! a type implementing [`IdentityCreator`], [`AssignmentProvider`] or both,
//! exported by a macro:
//!
//! ```
//! use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result, default_creation, deny, info};
//!
//! struct Plugin;
//!
//! impl IdentityCreator for Plugin {
//!     fn create(principal: Principal, config: &Config) -> Result<Creation> {
//!         if !config.list("vips").contains(&principal.email) {
//!             return Ok(deny("not-a-vip", "This organization is invitation-only."));
//!         }
//!         info!("creating an account for {}", principal.email);
//!         default_creation(&principal, config)
//!     }
//! }
//!
//! provisio_plugin_sdk::export_identity_creator!(Plugin);
//!
//! // Natively, in the plugin's own `cargo test`:
//! # fn main() {
//! use provisio_plugin_sdk::testing;
//!
//! let config = testing::configure(r#"{"vips": ["jane@acme.example"], "digits": 0}"#);
//! let created = Plugin::create(testing::principal("jane@acme.example").build(), &config);
//! assert!(matches!(created, Ok(Creation::Create(account)) if account.username_hint.as_deref() == Some("jane")));
//! let denied = Plugin::create(testing::principal("joe@acme.example").build(), &config);
//! assert!(matches!(denied, Ok(Creation::Deny(_))));
//! # }
//! ```
//!
//! | world | trait(s) to implement | export macro |
//! | --- | --- | --- |
//! | `identity-creator-plugin` | [`IdentityCreator`] | [`export_identity_creator!`] |
//! | `assignment-provider-plugin` | [`AssignmentProvider`] | [`export_assignment_provider!`] |
//! | `provisioner` | both, on one type | [`export_provisioner!`] |
//!
//! - The plugin's `name()` is its crate's name (`CARGO_PKG_NAME`); the macros
//!   take another as `export_identity_creator!(Plugin, name = "vip-only")`.
//! - A hook returns [`Result`], whose [`Error`] is made from anything that
//!   displays, so `?` works on any error type; its text is the `err` the host
//!   records.
//! - The binding's configuration arrives as a [`Config`], made once per call:
//!   typed getters, each key asked of the host once.
//! - Logging is the macros [`trace!`], [`debug!`], [`info!`], [`warn!`] and
//!   [`error!`], with `format!` arguments.
//! - The default username rule and the group mapping rule are the host's own
//!   (crate `provisio-rules`): [`default_creation`], [`username_from`],
//!   [`group_mapping`].
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

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

mod account;
mod config;
mod log;

pub use account::{
    default_account, default_creation, deny, group_mapping, random_below, random_digits, random_u64, username_base,
    username_from,
};
#[doc(hidden)]
pub use alloc::format as __format;
pub use config::Config;
#[doc(hidden)]
pub use log::__log;
pub use provisio_rules::{
    DEFAULT_DIGITS, DIGITS_KEY, FALLBACK_USERNAME, MAX_CONFIG_KEY_BYTES, MAX_DIGITS, MAX_USERNAME_LEN, MappingError,
    email_domain, email_local_part, fit_username, parse_list, sanitize_username, truncate_str,
};

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

/// The longest log message the host accepts by default (longer ones stop the call).
pub const MAX_LOG_MESSAGE_BYTES: usize = 4096;

// ---------------------------------------------------------------------------
// Errors

/// A hook's failure: the `err` the host records (never shown to the end
/// user), after which the binding's failure policy applies.
///
/// Made from anything that displays, so `?` works on any error type in a hook
/// (`"text".into()` and `format!(..).into()` too); the text is that value's
/// `Display`. Like `anyhow::Error`, it does not implement `Display` itself
/// (that would clash with the blanket `From`): read it with [`Error::message`].
#[derive(Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// The text the host records.
    pub fn message(&self) -> &str {
        &self.0
    }

    /// The text the host records, by value.
    pub fn into_message(self) -> String {
        self.0
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<E: fmt::Display> From<E> for Error {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

/// A hook's answer: `Result<T, Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

// ---------------------------------------------------------------------------
// The hooks and their export

/// An identity creator (world `identity-creator-plugin`): turns a principal
/// without an account into a new account, or refuses to. Export it with
/// [`export_identity_creator!`].
pub trait IdentityCreator {
    /// Called once, when a login's principal has no account yet:
    /// `Ok(Creation::Create(..))` asks the host to create the account,
    /// `Ok(Creation::Deny(..))` (see [`deny`]) refuses the login with a
    /// message for the end user, `Err(..)` reports a plugin failure.
    fn create(principal: Principal, config: &Config) -> Result<Creation>;
}

/// An assignment provider (world `assignment-provider-plugin`): gives an
/// account its memberships. Export it with [`export_assignment_provider!`].
pub trait AssignmentProvider {
    /// Called for every newly created account and, in sync mode, at every
    /// login: the complete set of memberships the identity provider grants.
    fn assign(account: Account, principal: Principal, config: &Config) -> Result<Vec<Assignment>>;
}

/// Exports a type implementing [`IdentityCreator`] as this component's
/// `provisio:plugin/identity-creator` (world `identity-creator-plugin`):
/// `export_identity_creator!(Plugin);`, or
/// `export_identity_creator!(Plugin, name = "vip-only");` for a `name()`
/// other than the crate's name.
///
/// Every call first installs a panic hook that sends the panic message to the
/// host log at `error` level, so that the host can report it on any target
/// (`wasm32-unknown-unknown` has no stderr); `create` then reads the
/// configuration into a [`Config`] and hands it to the hook.
#[macro_export]
macro_rules! export_identity_creator {
    ($ty:ident) => {
        $crate::export_identity_creator!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ident, name = $name:expr) => {
        struct __ProvisioCreatorExport;
        impl $crate::__bindings_identity_creator::exports::provisio::plugin::identity_creator::Guest
            for __ProvisioCreatorExport
        {
            fn name() -> ::std::string::String {
                $crate::__install_panic_hook!();
                ::std::string::String::from($name)
            }
            fn create(principal: $crate::Principal) -> ::std::result::Result<$crate::Creation, ::std::string::String> {
                $crate::__install_panic_hook!();
                let config = $crate::Config::from_host();
                <$ty as $crate::IdentityCreator>::create(principal, &config).map_err($crate::Error::into_message)
            }
        }
        $crate::__bindings_identity_creator::__export_identity_creator!(__ProvisioCreatorExport);
    };
}

/// Exports a type implementing [`AssignmentProvider`] as this component's
/// `provisio:plugin/assignment-provider` (world
/// `assignment-provider-plugin`): `export_assignment_provider!(Plugin);` or
/// `export_assignment_provider!(Plugin, name = "...");`. Installs the same
/// panic hook as [`export_identity_creator!`].
#[macro_export]
macro_rules! export_assignment_provider {
    ($ty:ident) => {
        $crate::export_assignment_provider!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ident, name = $name:expr) => {
        struct __ProvisioAssignerExport;
        impl $crate::__bindings_assignment_provider::exports::provisio::plugin::assignment_provider::Guest
            for __ProvisioAssignerExport
        {
            fn name() -> ::std::string::String {
                $crate::__install_panic_hook!();
                ::std::string::String::from($name)
            }
            fn assign(
                account: $crate::Account,
                principal: $crate::Principal,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Assignment>, ::std::string::String> {
                $crate::__install_panic_hook!();
                let config = $crate::Config::from_host();
                <$ty as $crate::AssignmentProvider>::assign(account, principal, &config)
                    .map_err($crate::Error::into_message)
            }
        }
        $crate::__bindings_assignment_provider::__export_assignment_provider!(__ProvisioAssignerExport);
    };
}

/// Exports a type implementing both [`IdentityCreator`] and
/// [`AssignmentProvider`] as this component's `identity-creator` and
/// `assignment-provider` (world `provisioner`): `export_provisioner!(Plugin);`
/// or `export_provisioner!(Plugin, name = "...");`.
#[macro_export]
macro_rules! export_provisioner {
    ($ty:ident) => {
        $crate::export_provisioner!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ident, name = $name:expr) => {
        $crate::export_identity_creator!($ty, name = $name);
        $crate::export_assignment_provider!($ty, name = $name);
    };
}

/// Sends panic messages to the host log (`error`, starting `panicked at`).
/// Expanded in the plugin crate, which has `std`.
#[doc(hidden)]
#[macro_export]
macro_rules! __install_panic_hook {
    () => {
        ::std::panic::set_hook(::std::boxed::Box::new(|info| {
            $crate::error!("{info}");
        }));
    };
}

#[cfg(test)]
mod tests {
    use alloc::string::String;

    use super::{Error, Result};

    fn parse(text: &str) -> Result<u32> {
        Ok(text.parse::<u32>()?)
    }

    #[test]
    fn anything_that_displays_is_an_error_with_its_text() {
        assert_eq!(parse("12"), Ok(12));
        let error = parse("x").err().map(Error::into_message);
        assert_eq!(error.as_deref(), Some("invalid digit found in string"));
        let error: Error = "plain text".into();
        assert_eq!(error.message(), "plain text");
        let error: Error = String::from("owned").into();
        assert_eq!(alloc::format!("{error:?}"), "\"owned\"");
    }
}

// ---------------------------------------------------------------------------
// Native tests

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
