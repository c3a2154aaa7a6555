//! What the host and a plugin exchange, independent of how the plugin runs:
//! the decision types of the WIT contract, the per-call limits, and the typed
//! outcomes of a call.

mod config;
mod hash;
pub mod judge;
pub(crate) mod limits;
mod outcome;
pub(crate) mod types;
pub mod validate;

pub use config::{BindingConfig, ConfigError};
pub use hash::PluginHash;
pub use limits::{AboveCeiling, LimitKind, Limits};
pub use outcome::{CallFailure, CallReport, CallStats, LogLevel, LogLine};
pub use types::{Account, Assignment, Creation, Denial, NewAccount, Principal};
