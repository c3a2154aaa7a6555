//! Identifier newtypes and the small closed sets of names the store keeps
//! as text (account states, membership sources, …).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        ///
        /// A random identifier made by the store: 16 random bytes in hex.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random identifier.
            pub fn random() -> Self {
                Self(hex::encode(rand::random::<[u8; 16]>()))
            }

            /// An identifier read from outside (an API path, a stored event).
            /// Whether it names anything is for the store to say.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}

id_type! {
    /// Identifies an organization.
    OrgId;
    /// Identifies a team.
    TeamId;
    /// Identifies a role.
    RoleId;
    /// Identifies an authentication domain.
    DomainId;
    /// Identifies an authentication provider of a domain.
    ProviderId;
    /// Identifies an account.
    AccountId;
    /// Identifies an invitation.
    InvitationId;
    /// Identifies a SCIM user of a domain.
    ScimUserId;
}

macro_rules! text_enum {
    ($(
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }
    )+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The value's name, as stored and as written in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            /// The value with this name.
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

text_enum! {
    /// How a domain's SCIM groups name the organization's teams.
    ScimGroupNames {
        /// The team's name.
        Team = "team",
        /// `organization:team`, the organization's name first (Docker's
        /// convention).
        OrganizationTeam = "organization:team",
    }

    /// Which database a store talks to.
    BackendKind {
        /// SQLite: one file, the embedded default.
        Sqlite = "sqlite",
        /// PostgreSQL: shared by several hosts.
        Postgres = "postgres",
    }

    /// Whether an account may log in.
    AccountState {
        /// May log in.
        Active = "active",
        /// Refused at login until unlocked.
        Locked = "locked",
        /// Refused at login.
        Disabled = "disabled",
    }

    /// How an authentication provider checks credentials.
    ProviderKind {
        /// A local password (argon2id hash on the account).
        Password = "password",
        /// An OpenID Connect ID token from an identity provider.
        Oidc = "oidc",
        /// A login and password checked against an LDAP directory.
        Ldap = "ldap",
    }

    /// What a membership makes the account: a member of the organization, of
    /// one of its teams, or the holder of one of its roles.
    MembershipKind {
        /// Member of the organization.
        Organization = "organization",
        /// Member of a team of the organization.
        Team = "team",
        /// Holder of a role of the organization.
        Role = "role",
    }

    /// Who gave a membership. A sync at login adds and removes only the
    /// identity provider's; the others are never removed by a login.
    MembershipSource {
        /// The identity provider, through the assignment provider or group
        /// mapping at login.
        Idp = "idp",
        /// An administrator, by hand.
        Admin = "admin",
        /// An accepted invitation.
        Invitation = "invitation",
        /// SCIM provisioning.
        Scim = "scim",
    }

    /// Where a domain's claim on an email domain stands.
    ClaimState {
        /// Claimed, not yet verified: counts for nothing.
        Pending = "pending",
        /// Verified: the domain's providers and SCIM client vouch for
        /// addresses under it.
        Verified = "verified",
    }

    /// How a claim was verified.
    Verification {
        /// The challenge token was found in the email domain's DNS.
        Dns = "dns",
        /// The operator approved it.
        Operator = "operator",
    }

    /// Where an invitation stands.
    InvitationState {
        /// Waiting for the invited email's first login.
        Pending = "pending",
        /// Accepted at a login.
        Accepted = "accepted",
        /// Withdrawn by an administrator.
        Revoked = "revoked",
    }

    /// What a login does when a bound plugin fails (error, trap, limit,
    /// malformed decision).
    #[derive(Default)]
    FailurePolicy {
        /// Refuse the login (the default).
        #[default]
        FailClosed = "fail-closed",
        /// Use the built-in default provider instead.
        FallBack = "fall-back",
    }

    /// When a binding's assignment provider runs.
    #[derive(Default)]
    SyncMode {
        /// Only when the account is created (the default).
        #[default]
        OnCreate = "on-create",
        /// At every login, adding and removing the IdP's memberships.
        EveryLogin = "every-login",
    }
}
