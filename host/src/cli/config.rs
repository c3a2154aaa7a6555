//! `provisio serve`'s configuration: a TOML file, then environment
//! variables, then command-line flags, each overriding the one before.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! database_url = "sqlite://provisio.db?mode=rwc"   # or postgres://user@host/db
//! data_dir = ".provisio"                            # signing key, compiled-plugin cache
//! operator_token = "change-me"                     # may create organizations
//! session_ttl_secs = 900
//! issuer = "http://127.0.0.1:8080"
//! audience = "provisio"
//! max_plugin_bytes = 33554432                    # 32 MiB
//! max_loaded_bytes = 1073741824                    # compiled plugins kept in memory
//! max_artifact_bytes = 4294967296                  # compiled plugins kept on disk
//! header_read_timeout_secs = 10                    # a request's headers, and the wait for the next
//! body_read_timeout_secs = 30                      # a request's whole body, else 408
//! idle_timeout_secs = 60                           # a connection with no request in flight
//! max_connections = 10000                          # more wait in the listen backlog
//! dns_resolver = "127.0.0.1:53"                    # for email domain challenges; default: /etc/resolv.conf
//! ```
//!
//! Environment: `PROVISIO_LISTEN`, `PROVISIO_DATABASE_URL`, `PROVISIO_DATA_DIR`,
//! `PROVISIO_OPERATOR_TOKEN`, `PROVISIO_SESSION_TTL_SECS`, `PROVISIO_ISSUER`,
//! `PROVISIO_AUDIENCE`, `PROVISIO_MAX_PLUGIN_BYTES`, `PROVISIO_MAX_LOADED_BYTES`,
//! `PROVISIO_MAX_ARTIFACT_BYTES`, `PROVISIO_HEADER_READ_TIMEOUT_SECS`,
//! `PROVISIO_BODY_READ_TIMEOUT_SECS`, `PROVISIO_IDLE_TIMEOUT_SECS`,
//! `PROVISIO_MAX_CONNECTIONS`, `PROVISIO_DNS_RESOLVER`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use provisio::http::HttpConfig;
use provisio::runtime::RuntimeConfig;
use serde::Deserialize;

/// Everything `provisio serve` needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The database: an SQLite file by default, or a PostgreSQL URL.
    pub database_url: String,
    /// Where the session signing key and the compiled-plugin cache live.
    pub data_dir: PathBuf,
    /// The operator's token, which may create organizations. Never logged.
    pub operator_token: Option<String>,
    /// Lifetime of a session token, in seconds.
    pub session_ttl_secs: u64,
    /// The `iss` of session tokens; defaults to `http://<listen>`.
    pub issuer: Option<String>,
    /// The `aud` of session tokens.
    pub audience: String,
    /// Largest plugin upload, in bytes.
    pub max_plugin_bytes: usize,
    /// The most bytes of compiled plugins kept in memory; the least recently
    /// used beyond it are dropped and reloaded from disk when next used.
    pub max_loaded_bytes: u64,
    /// The most bytes of compiled plugins kept in `data_dir/artifacts`; the
    /// least recently used beyond it are deleted and recompiled when next used.
    pub max_artifact_bytes: u64,
    /// Seconds a client may take to send a request's headers (and a
    /// keep-alive connection may wait for its next request).
    pub header_read_timeout_secs: u64,
    /// Seconds a client may take to send a request's body, counted from its
    /// headers; past them the answer is `408 request-timeout`.
    pub body_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight.
    pub idle_timeout_secs: u64,
    /// The most connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// The name server (`ip:port`, plain UDP/TCP) that email domain claims'
    /// DNS challenges are looked up at; `None`: the system's
    /// (`/etc/resolv.conf`).
    pub dns_resolver: Option<SocketAddr>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://provisio.db?mode=rwc".into(),
            data_dir: PathBuf::from(".provisio"),
            operator_token: None,
            session_ttl_secs: 900,
            issuer: None,
            audience: "provisio".into(),
            max_plugin_bytes: HttpConfig::default().plugin_body_limit,
            max_loaded_bytes: RuntimeConfig::default().max_loaded_bytes,
            max_artifact_bytes: RuntimeConfig::default().max_artifact_bytes,
            header_read_timeout_secs: HttpConfig::default().header_read_timeout.as_secs(),
            body_read_timeout_secs: HttpConfig::default().body_read_timeout.as_secs(),
            idle_timeout_secs: HttpConfig::default().idle_timeout.as_secs(),
            max_connections: HttpConfig::default().max_connections,
            dns_resolver: None,
        }
    }
}

impl ServeConfig {
    /// Reads the file (if given), then applies `PROVISIO_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("{} is not a valid configuration", path.display()))?
            }
            None => Self::default(),
        };
        if let Some(v) = env("PROVISIO_LISTEN") {
            config.listen = v.parse().with_context(|| format!("PROVISIO_LISTEN={v} is not an address"))?;
        }
        if let Some(v) = env("PROVISIO_DATABASE_URL") {
            config.database_url = v;
        }
        if let Some(v) = env("PROVISIO_DATA_DIR") {
            config.data_dir = v.into();
        }
        if let Some(v) = env("PROVISIO_OPERATOR_TOKEN") {
            config.operator_token = Some(v);
        }
        if let Some(v) = env("PROVISIO_SESSION_TTL_SECS") {
            config.session_ttl_secs = v.parse().context("PROVISIO_SESSION_TTL_SECS must be a number of seconds")?;
        }
        if let Some(v) = env("PROVISIO_ISSUER") {
            config.issuer = Some(v);
        }
        if let Some(v) = env("PROVISIO_AUDIENCE") {
            config.audience = v;
        }
        if let Some(v) = env("PROVISIO_MAX_PLUGIN_BYTES") {
            config.max_plugin_bytes = v.parse().context("PROVISIO_MAX_PLUGIN_BYTES must be a number of bytes")?;
        }
        if let Some(v) = env("PROVISIO_MAX_LOADED_BYTES") {
            config.max_loaded_bytes = v.parse().context("PROVISIO_MAX_LOADED_BYTES must be a number of bytes")?;
        }
        if let Some(v) = env("PROVISIO_MAX_ARTIFACT_BYTES") {
            config.max_artifact_bytes = v.parse().context("PROVISIO_MAX_ARTIFACT_BYTES must be a number of bytes")?;
        }
        if let Some(v) = env("PROVISIO_HEADER_READ_TIMEOUT_SECS") {
            config.header_read_timeout_secs =
                v.parse().context("PROVISIO_HEADER_READ_TIMEOUT_SECS must be a number of seconds")?;
        }
        if let Some(v) = env("PROVISIO_BODY_READ_TIMEOUT_SECS") {
            config.body_read_timeout_secs =
                v.parse().context("PROVISIO_BODY_READ_TIMEOUT_SECS must be a number of seconds")?;
        }
        if let Some(v) = env("PROVISIO_IDLE_TIMEOUT_SECS") {
            config.idle_timeout_secs = v.parse().context("PROVISIO_IDLE_TIMEOUT_SECS must be a number of seconds")?;
        }
        if let Some(v) = env("PROVISIO_MAX_CONNECTIONS") {
            config.max_connections = v.parse().context("PROVISIO_MAX_CONNECTIONS must be a number of connections")?;
        }
        if let Some(v) = env("PROVISIO_DNS_RESOLVER") {
            config.dns_resolver =
                Some(v.parse().with_context(|| format!("PROVISIO_DNS_RESOLVER={v} is not an ip:port address"))?);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("provisio.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\noperator_token = \"from-file\"\n")?;
        let env = |k: &str| (k == "PROVISIO_OPERATOR_TOKEN").then(|| "from-env".to_owned());
        let c = ServeConfig::load(Some(&file), env)?;
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.operator_token.as_deref(), Some("from-env"));
        assert_eq!(c.database_url, "sqlite://provisio.db?mode=rwc");
        std::fs::write(&file, "listen = \"nowhere\"\n")?;
        assert!(ServeConfig::load(Some(&file), |_| None).is_err());
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n")?;
        assert!(ServeConfig::load(Some(&file), |_| None).is_err(), "unknown keys are refused");
        std::fs::write(&file, "idle_timeout_secs = 5\nmax_connections = 7\n")?;
        let env = |k: &str| (k == "PROVISIO_HEADER_READ_TIMEOUT_SECS").then(|| "3".to_owned());
        let c = ServeConfig::load(Some(&file), env)?;
        assert_eq!((c.header_read_timeout_secs, c.body_read_timeout_secs), (3, 30));
        assert_eq!((c.idle_timeout_secs, c.max_connections), (5, 7));
        assert_eq!(c.max_plugin_bytes, 32 << 20);
        Ok(())
    }
}
