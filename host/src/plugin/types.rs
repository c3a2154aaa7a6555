//! The values of the `provisio:plugin/types` WIT interface, as plain Rust types.
//!
//! Their JSON form (serde) is what `provisio plugin test` reads and prints and
//! what the recorded principals under `examples/principals/` are written in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an authentication provider vouched for after a successful login.
///
/// Never holds a credential: no password, no raw token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// The authentication domain the login happened in.
    pub domain: String,
    /// The provider inside the domain that authenticated the user.
    pub provider: String,
    /// The provider's stable identifier for the user.
    pub subject: String,
    /// The email address the provider vouched for.
    pub email: String,
    /// Whether the provider asserted it verified the email.
    pub email_verified: bool,
    /// Given name, when sent.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name, when sent.
    #[serde(default)]
    pub family_name: Option<String>,
    /// IdP group names, in the order sent; empty when none were sent.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Other non-secret string claims, by name.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

/// The account an identity creator asks the host to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// Must be the principal's verified email.
    pub email: String,
    /// The username the plugin would like; the host makes it unique.
    pub username_hint: Option<String>,
    /// Given name to store.
    pub given_name: Option<String>,
    /// Family name to store.
    pub family_name: Option<String>,
    /// Extra attributes to store, in the order returned.
    pub attributes: Vec<(String, String)>,
}

/// A refusal a plugin chose to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// Short machine-readable reason, recorded in the audit event.
    pub code: String,
    /// Message safe to show to the end user.
    pub message: String,
}

/// An identity creator's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Creation {
    /// Create this account.
    Create(NewAccount),
    /// Refuse the login with this denial.
    Deny(Denial),
}

/// The account an assignment provider is asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The host's identifier of the account.
    pub id: String,
    /// The account's unique username.
    pub username: String,
    /// The account's email address.
    pub email: String,
    /// Given name, if any.
    pub given_name: Option<String>,
    /// Family name, if any.
    pub family_name: Option<String>,
    /// True when the account was created during this login.
    pub newly_created: bool,
}

/// One membership an assignment provider wants the account to have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Membership of the organization with this name.
    Organization(String),
    /// Membership of the team with this name.
    Team(String),
    /// The organization role with this name.
    Role(String),
}

impl Assignment {
    /// The name the assignment refers to.
    pub fn name(&self) -> &str {
        match self {
            Self::Organization(n) | Self::Team(n) | Self::Role(n) => n,
        }
    }
}

impl Creation {
    /// Bytes of text in the decision: what the output-size limit counts.
    pub fn text_bytes(&self) -> usize {
        match self {
            Self::Create(a) => {
                a.email.len()
                    + opt_len(&a.username_hint)
                    + opt_len(&a.given_name)
                    + opt_len(&a.family_name)
                    + a.attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            }
            Self::Deny(d) => d.code.len() + d.message.len(),
        }
    }
}

/// Bytes of text in an assignment answer: what the output-size limit counts.
pub(crate) fn assignments_text_bytes(list: &[Assignment]) -> usize {
    list.iter().map(|a| a.name().len()).sum()
}

fn opt_len(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}
