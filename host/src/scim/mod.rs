//! SCIM 2.0 provisioning (RFC 7643, RFC 7644): the second channel beside
//! just-in-time, through which a domain's identity provider (Okta, Entra ID,
//! OneLogin, JumpCloud) creates, changes and de-provisions the domain's
//! people and manages its teams as groups.
//!
//! This module knows the protocol and its rules, not HTTP: `http/scim.rs`
//! maps routes onto [`users`], [`groups`] and [`discovery`]. Only `wire.rs`
//! knows the `scim_v2` crate, whose parsers of the filter and PATCH path
//! grammars it turns into [`filter`]'s types; the store turns those into
//! SQL, so lists are filtered, sorted and paged by the database.
//!
//! The rules (ARCHITECTURE.md states them with the login flow's):
//! - A SCIM user is an account, found by email or created with the built-in
//!   username rule and the unusable-password marker. Every email it carries
//!   must be under one of the domain's verified email domains; anything else
//!   is refused (`invalidValue`) and audited.
//! - SCIM's memberships have source `scim` and are derived from the domain's
//!   users and groups: SCIM never removes another source's, and a login's
//!   sync never removes SCIM's.
//! - `active: false` and `DELETE` de-provision: the person loses every
//!   membership in the organization and counts as suspended there (logins
//!   and sessions refused) until `active: true` or a new `POST`.
//! - Every change writes an audit event in its own transaction, naming the
//!   token's public id and what changed.

pub mod discovery;
mod error;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod project;
pub mod resource;
pub mod schema;
pub mod search;
pub mod service;
pub mod time;
pub mod users;
pub mod wire;

pub use error::{ScimError, ScimType};
