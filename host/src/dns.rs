//! DNS lookups for the email domain claims' challenge: a domain proves it
//! controls an email domain by publishing its claim's token as a TXT record
//! at `_provisio-challenge.<email domain>`, and [`ChallengeResolver`] reads
//! the TXT records back. Only this module knows the DNS library (hickory).
//!
//! Each lookup asks the name server afresh: answers, negative or not, are
//! not kept past the query that got them, so a record published after a
//! failed attempt is seen by the next one. A lookup is bounded by
//! [`TIMEOUT`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

/// The longest one lookup takes, retries included.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why TXT records could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (`NXDOMAIN`), or has no TXT record.
    #[error("no TXT record at {name}")]
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// The name server did not answer within [`TIMEOUT`].
    #[error("no answer for {name} within {timeout:?}")]
    Timeout {
        /// The name looked up.
        name: String,
        /// How long the lookup waited.
        timeout: Duration,
    },
    /// Anything else: the name server refused or failed, the network is
    /// unreachable, the name is malformed, or there is no resolver (the
    /// system configuration could not be read).
    #[error("cannot look up {name}: {reason}")]
    Other {
        /// The name looked up (empty when the resolver could not be built).
        name: String,
        /// What went wrong, for the server's log.
        reason: String,
    },
}

/// Reads TXT records, from the system's name servers (`/etc/resolv.conf`)
/// or from one given name server (plain UDP, and TCP for long answers).
/// Cheap to clone.
#[derive(Clone)]
pub struct ChallengeResolver {
    inner: Inner,
    /// Where it asks, for `Debug`.
    source: Arc<str>,
}

#[derive(Clone)]
enum Inner {
    Ready(Arc<TokioResolver>),
    /// No resolver could be built; every lookup answers this reason.
    Unavailable(Arc<str>),
}

impl std::fmt::Debug for ChallengeResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ready = matches!(self.inner, Inner::Ready(_));
        f.debug_struct("ChallengeResolver").field("source", &self.source).field("ready", &ready).finish()
    }
}

impl ChallengeResolver {
    /// The system's name servers and options, as `/etc/resolv.conf` says
    /// (its timeout and attempts replaced by [`TIMEOUT`]); `Other` when the
    /// configuration cannot be read.
    pub fn system() -> Result<Self, DnsError> {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| unbuilt(&e))?;
        bound(builder.options_mut());
        let resolver = builder.build().map_err(|e| unbuilt(&e))?;
        Ok(Self { inner: Inner::Ready(Arc::new(resolver)), source: "system configuration".into() })
    }

    /// The one name server at `address`, over UDP (and TCP when an answer
    /// is truncated), with no search domains.
    pub fn name_server(address: SocketAddr) -> Result<Self, DnsError> {
        let mut server = NameServerConfig::udp_and_tcp(address.ip());
        for connection in &mut server.connections {
            connection.port = address.port();
        }
        let mut options = ResolverOpts::default();
        bound(&mut options);
        let resolver = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![server]),
            TokioRuntimeProvider::default(),
        )
        .with_options(options)
        .build()
        .map_err(|e| unbuilt(&e))?;
        Ok(Self { inner: Inner::Ready(Arc::new(resolver)), source: address.to_string().into() })
    }

    /// The name server at `address`, or the system's when `None`. Never
    /// fails: when the resolver cannot be built, the reason is logged and
    /// every lookup answers it as [`DnsError::Other`], so that a server
    /// without a DNS configuration still starts.
    pub fn from_config(address: Option<SocketAddr>) -> Self {
        let built = match address {
            Some(address) => Self::name_server(address),
            None => Self::system(),
        };
        built.unwrap_or_else(|error| {
            let reason = match error {
                DnsError::Other { reason, .. } => reason,
                other => other.to_string(),
            };
            tracing::warn!(%reason, "no DNS resolver: email domain claims cannot be verified by DNS");
            Self::unavailable(&reason)
        })
    }

    /// A resolver whose every lookup fails with `reason`.
    pub fn unavailable(reason: &str) -> Self {
        Self { inner: Inner::Unavailable(reason.into()), source: "none".into() }
    }

    /// The TXT records at `name` (taken as fully qualified: no search
    /// domains), each record's strings joined into one value (non-UTF-8
    /// bytes replaced). `NotFound` when the name does not exist or has no
    /// TXT record.
    pub async fn txt_values(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let resolver = match &self.inner {
            Inner::Ready(resolver) => resolver,
            Inner::Unavailable(reason) => {
                return Err(DnsError::Other { name: name.to_owned(), reason: reason.to_string() });
            }
        };
        let fqdn = if name.ends_with('.') { name.to_owned() } else { format!("{name}.") };
        let lookup = match tokio::time::timeout(TIMEOUT, resolver.txt_lookup(fqdn)).await {
            Err(_) => return Err(DnsError::Timeout { name: name.to_owned(), timeout: TIMEOUT }),
            Ok(Err(error)) => return Err(failed(name, &error)),
            Ok(Ok(lookup)) => lookup,
        };
        let values: Vec<String> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(String::from_utf8_lossy(&txt.txt_data.concat()).into_owned()),
                _ => None,
            })
            .collect();
        if values.is_empty() {
            return Err(DnsError::NotFound { name: name.to_owned() });
        }
        Ok(values)
    }
}

/// Our bounds over the library's (or the system's) options: one attempt
/// within [`TIMEOUT`], no hosts file, nothing cached past its query.
fn bound(options: &mut ResolverOpts) {
    options.timeout = TIMEOUT;
    options.attempts = 1;
    options.use_hosts_file = ResolveHosts::Never;
    options.cache_size = 64;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
}

fn unbuilt(error: &NetError) -> DnsError {
    DnsError::Other { name: String::new(), reason: format!("cannot build the DNS resolver: {error}") }
}

fn failed(name: &str, error: &NetError) -> DnsError {
    if error.is_no_records_found() {
        DnsError::NotFound { name: name.to_owned() }
    } else if matches!(error, NetError::Timeout) {
        DnsError::Timeout { name: name.to_owned(), timeout: TIMEOUT }
    } else {
        DnsError::Other { name: name.to_owned(), reason: error.to_string() }
    }
}
