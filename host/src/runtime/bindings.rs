//! The WIT contract's generated bindings, kept private to the runtime, and the
//! conversions between them and the host's own plugin types.

use crate::plugin;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "provisioner",
        imports: { default: trappable },
        exports: { default: async },
    });
}

pub(super) use generated::exports::provisio::plugin::assignment_provider::{
    Guest as AssignerGuest, GuestIndices as AssignerIndices,
};
pub(super) use generated::exports::provisio::plugin::identity_creator::{
    Guest as CreatorGuest, GuestIndices as CreatorIndices,
};
pub(super) use generated::provisio::plugin::host::{self as host_iface, Level};
pub(super) use generated::provisio::plugin::types as wit;

impl From<&plugin::Principal> for wit::Principal {
    fn from(p: &plugin::Principal) -> Self {
        Self {
            domain: p.domain.clone(),
            provider: p.provider.clone(),
            subject: p.subject.clone(),
            email: p.email.clone(),
            email_verified: p.email_verified,
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            groups: p.groups.clone(),
            claims: p.claims.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

impl From<&plugin::Account> for wit::Account {
    fn from(a: &plugin::Account) -> Self {
        Self {
            id: a.id.clone(),
            username: a.username.clone(),
            email: a.email.clone(),
            given_name: a.given_name.clone(),
            family_name: a.family_name.clone(),
            newly_created: a.newly_created,
        }
    }
}

impl From<wit::Creation> for plugin::Creation {
    fn from(c: wit::Creation) -> Self {
        match c {
            wit::Creation::Create(a) => Self::Create(plugin::NewAccount {
                email: a.email,
                username_hint: a.username_hint,
                given_name: a.given_name,
                family_name: a.family_name,
                attributes: a.attributes,
            }),
            wit::Creation::Deny(d) => Self::Deny(plugin::Denial { code: d.code, message: d.message }),
        }
    }
}

impl From<wit::Assignment> for plugin::Assignment {
    fn from(a: wit::Assignment) -> Self {
        match a {
            wit::Assignment::Organization(n) => Self::Organization(n),
            wit::Assignment::Team(n) => Self::Team(n),
            wit::Assignment::Role(n) => Self::Role(n),
        }
    }
}

impl From<Level> for plugin::LogLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Trace => Self::Trace,
            Level::Debug => Self::Debug,
            Level::Info => Self::Info,
            Level::Warn => Self::Warn,
            Level::Error => Self::Error,
        }
    }
}
