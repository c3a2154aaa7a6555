//! One connection to a directory, over the `ldap3` crate: open (TLS as
//! configured), bind, search. Results come back as this module's own
//! [`Entry`] and [`Fault`]; nothing outside it sees `ldap3`'s types.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, SearchOptions, StdStream};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::task::JoinHandle;

use super::super::chain::ConfigError;
use super::super::oidc::JwksAddresses;

/// LDAP result code `invalidCredentials` (RFC 4511).
const INVALID_CREDENTIALS: u32 = 49;
/// LDAP result code `sizeLimitExceeded`.
const SIZE_LIMIT_EXCEEDED: u32 = 4;
/// LDAP result code `noSuchObject` (the base DN does not exist).
const NO_SUCH_OBJECT: u32 = 32;

/// Why a directory operation did not give an answer. Carries no credential:
/// the server's diagnostic text is dropped, only its result code is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The bind's credentials are not valid.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The directory refused the service account's password.
    #[error("the directory refused the service account's credentials")]
    ServiceAccountRefused,
    /// The operation did not finish in time.
    #[error("timed out")]
    Timeout,
    /// No server could be reached, or TLS failed.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server answered with this LDAP result code.
    #[error("the directory answered result code {0}")]
    Result(u32),
    /// The connection broke.
    #[error("connection lost: {0}")]
    Io(String),
}

impl From<LdapError> for Fault {
    fn from(e: LdapError) -> Self {
        match e {
            LdapError::LdapResult { result } if result.rc == INVALID_CREDENTIALS => Self::InvalidCredentials,
            LdapError::LdapResult { result } => Self::Result(result.rc),
            LdapError::Timeout { .. } => Self::Timeout,
            // The text says why (refused, reset, a certificate that does not
            // verify); it carries nothing sent.
            LdapError::Io { source } => Self::Io(short(&source.to_string())),
            LdapError::Rustls { source } => Self::Connect(format!("TLS: {source}")),
            other => Self::Io(short(&other.to_string())),
        }
    }
}

fn short(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(120).collect()
}

/// An entry found by a search: its DN and its attributes' values, with
/// names as the server spelled them (looked up case-insensitively).
#[derive(Debug, Clone, Default)]
pub(super) struct Entry {
    pub(super) dn: String,
    text: HashMap<String, Vec<String>>,
    binary: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    /// The values of `attribute` that are text.
    pub(super) fn values(&self, attribute: &str) -> &[String] {
        self.text.iter().find(|(k, _)| k.eq_ignore_ascii_case(attribute)).map_or(&[], |(_, v)| v.as_slice())
    }

    /// The first value of `attribute`, as text; a binary value of 16 bytes
    /// (Active Directory's `objectGUID`) is written as a GUID.
    pub(super) fn first(&self, attribute: &str) -> Option<String> {
        if let Some(v) = self.values(attribute).first() {
            return Some(v.clone());
        }
        let (_, values) = self.binary.iter().find(|(k, _)| k.eq_ignore_ascii_case(attribute))?;
        let bytes = values.first()?;
        Some(match <[u8; 16]>::try_from(bytes.as_slice()) {
            Ok(guid) => guid_text(guid),
            Err(_) => hex::encode(bytes),
        })
    }

    #[cfg(test)]
    pub(super) fn with(dn: &str, attributes: &[(&str, &[&str])]) -> Self {
        let text = attributes.iter().map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()));
        Self { dn: dn.to_owned(), text: text.collect(), binary: HashMap::new() }
    }
}

/// A GUID as Active Directory shows it: the first three fields are stored
/// little-endian.
fn guid_text(b: [u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// How to reach a directory: its servers in order, and TLS.
#[derive(Clone)]
pub(super) struct Target {
    urls: Vec<String>,
    starttls: bool,
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("urls", &self.urls).field("starttls", &self.starttls).finish_non_exhaustive()
    }
}

impl Target {
    /// The servers and TLS settings; `ca_pem`, when given, is the only
    /// trust anchor, else the bundled webpki roots.
    pub(super) fn new(urls: &[String], starttls: bool, ca_pem: Option<&str>) -> Result<Self, ConfigError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_pem {
            Some(pem) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| ConfigError::Field { field: "ca_pem", problem: format!("is not PEM: {e}") })?;
                if certs.is_empty() {
                    return Err(ConfigError::Field { field: "ca_pem", problem: "holds no certificate".into() });
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| ConfigError::Field {
                        field: "ca_pem",
                        problem: format!("holds an unusable certificate: {e}"),
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::Field { field: "urls", problem: format!("TLS: {e}") })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { urls: urls.to_vec(), starttls, tls: Arc::new(tls) })
    }

    /// Opens a connection to the first server that answers within
    /// `timeout`, connecting only to addresses `addresses` allows (a name
    /// is resolved here, and the connection made to the address checked).
    pub(super) async fn connect(&self, timeout: Duration, addresses: JwksAddresses) -> Result<Connection, Fault> {
        let mut last = Fault::Connect("no server".into());
        for url in &self.urls {
            let stream = match tokio::time::timeout(timeout, tcp(url, addresses)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(fault)) => {
                    last = fault;
                    continue;
                }
                Err(_) => {
                    last = Fault::Timeout;
                    continue;
                }
            };
            let settings = LdapConnSettings::new()
                .set_conn_timeout(timeout)
                .set_starttls(self.starttls)
                .set_config(Arc::clone(&self.tls))
                .set_std_stream(StdStream::Tcp(stream));
            let opened = tokio::time::timeout(timeout, LdapConnAsync::with_settings(settings, url)).await;
            match opened {
                Ok(Ok((conn, ldap))) => {
                    let driver = tokio::spawn(async move {
                        // A broken connection shows at its next operation.
                        let _ = conn.drive().await;
                    });
                    return Ok(Connection { ldap, driver });
                }
                Ok(Err(e)) => last = Fault::Connect(Fault::from(e).to_string()),
                Err(_) => last = Fault::Timeout,
            }
        }
        Err(last)
    }
}

/// A TCP connection to `url`'s server (`ldap[s]://host[:port]`, checked
/// when the provider was configured) at the first of its addresses that
/// `addresses` allows and that accepts.
async fn tcp(url: &str, addresses: JwksAddresses) -> Result<std::net::TcpStream, Fault> {
    let (rest, default_port) = match url.strip_prefix("ldaps://") {
        Some(rest) => (rest, 636),
        None => (url.strip_prefix("ldap://").unwrap_or(url), 389),
    };
    let authority = rest.trim_end_matches('/');
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && port.parse::<u16>().is_ok() => {
            (host, port.parse::<u16>().unwrap_or(default_port))
        }
        _ => (authority, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let resolved = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Fault::Connect(format!("cannot resolve the server's name: {}", e.kind())))?;
    let mut refused = None;
    let mut last = None;
    for address in resolved {
        if !addresses.allows(address.ip()) {
            refused = Some(address.ip());
            continue;
        }
        match tokio::net::TcpStream::connect(address).await {
            Ok(stream) => return stream.into_std().map_err(|e| Fault::Io(e.kind().to_string())),
            Err(e) => last = Some(e.kind()),
        }
    }
    Err(match (last, refused) {
        (Some(kind), _) => Fault::Connect(kind.to_string()),
        (None, Some(_)) => Fault::Connect(
            "the server's addresses are not public (the operator allows private ones with \
             allow_private_directories)"
                .into(),
        ),
        (None, None) => Fault::Connect("the server's name has no address".into()),
    })
}

/// An open connection. Dropping it closes it.
pub(super) struct Connection {
    ldap: ldap3::Ldap,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// What a search found.
pub(super) enum Found {
    /// These entries (references skipped).
    Entries(Vec<Entry>),
    /// More entries than the limit asked for.
    TooMany,
}

impl Connection {
    /// Whether the server closed it.
    pub(super) fn is_closed(&mut self) -> bool {
        self.ldap.is_closed()
    }

    /// A simple bind. The caller refuses empty passwords before (a simple
    /// bind with one is an unauthenticated bind that succeeds).
    pub(super) async fn bind(&mut self, dn: &str, password: &str, timeout: Duration) -> Result<(), Fault> {
        debug_assert!(!password.is_empty());
        self.ldap.with_timeout(timeout).simple_bind(dn, password).await?.success()?;
        Ok(())
    }

    /// A subtree search under `base` reading `attributes`, at most `limit`
    /// entries (beyond it, [`Found::TooMany`]). A base that does not exist
    /// finds nothing.
    pub(super) async fn search(
        &mut self,
        base: &str,
        filter: &str,
        attributes: &[&str],
        limit: usize,
        timeout: Duration,
    ) -> Result<Found, Fault> {
        let size = i32::try_from(limit).unwrap_or(i32::MAX);
        let result = self
            .ldap
            .with_timeout(timeout)
            .with_search_options(SearchOptions::new().sizelimit(size))
            .search(base, Scope::Subtree, filter, attributes.to_vec())
            .await?;
        match result.1.rc {
            0 => {}
            SIZE_LIMIT_EXCEEDED => return Ok(Found::TooMany),
            NO_SUCH_OBJECT => return Ok(Found::Entries(Vec::new())),
            rc => return Err(Fault::Result(rc)),
        }
        let entries = result
            .0
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(|e| {
                let SearchEntry { dn, attrs, bin_attrs } = SearchEntry::construct(e);
                Entry { dn, text: attrs, binary: bin_attrs }
            })
            .collect::<Vec<_>>();
        if entries.len() > limit {
            return Ok(Found::TooMany);
        }
        Ok(Found::Entries(entries))
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_written_as_active_directory_shows_them() {
        let bytes = [0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78];
        assert_eq!(guid_text(bytes), "12345678-1234-5678-9abc-def012345678");
    }

    #[test]
    fn a_ca_must_be_pem() {
        let urls = vec!["ldaps://x".to_owned()];
        assert!(Target::new(&urls, false, Some("not pem")).is_err());
        assert!(Target::new(&urls, false, None).is_ok());
    }
}
