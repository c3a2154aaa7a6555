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
//! plugin_calls_per_org = 1                         # one organization's plugin calls at once (default: half the cores)
//! trusted_proxy_header = "x-forwarded-for"         # the client address, from a trusted proxy
//! allow_private_jwks_urls = false                  # JWKS URLs on loopback or private networks
//! public_email_domains = ["gmail.com", "outlook.com"]  # never claimable (default: a list of webmail)
//! compile_cpu_secs = 120                           # one plugin compile, in its own process
//! compile_memory_bytes = 4294967296
//! compile_wall_secs = 180
//!
//! [ceilings]                                       # no binding may ask for more
//! wall_time = 1000                                 # milliseconds
//! fuel = 1000000000
//! memory_bytes = 268435456
//! output_bytes = 1048576
//! log_bytes = 1048576
//! host_argument_bytes = 65536
//! ```
//!
//! Environment: `PROVISIO_LISTEN`, `PROVISIO_DATABASE_URL`, `PROVISIO_DATA_DIR`,
//! `PROVISIO_OPERATOR_TOKEN`, `PROVISIO_SESSION_TTL_SECS`, `PROVISIO_ISSUER`,
//! `PROVISIO_AUDIENCE`, `PROVISIO_MAX_PLUGIN_BYTES`, `PROVISIO_MAX_LOADED_BYTES`,
//! `PROVISIO_MAX_ARTIFACT_BYTES`, `PROVISIO_HEADER_READ_TIMEOUT_SECS`,
//! `PROVISIO_BODY_READ_TIMEOUT_SECS`, `PROVISIO_IDLE_TIMEOUT_SECS`,
//! `PROVISIO_MAX_CONNECTIONS`, `PROVISIO_DNS_RESOLVER`, `PROVISIO_PLUGIN_CALLS_PER_ORG`,
//! `PROVISIO_COMPILE_CPU_SECS`, `PROVISIO_COMPILE_MEMORY_BYTES`, `PROVISIO_COMPILE_WALL_SECS`,
//! `PROVISIO_TRUSTED_PROXY_HEADER`, `PROVISIO_ALLOW_PRIVATE_JWKS_URLS` (`true` or
//! `false`), and `PROVISIO_CEILING_<LIMIT>` for each ceiling (e.g.
//! `PROVISIO_CEILING_WALL_TIME`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use provisio::http::HttpConfig;
use provisio::plugin::Limits;
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
    /// The operator's ceilings on every limit a binding may set (see
    /// `Limits::CEILINGS` for the defaults).
    #[serde(deserialize_with = "ceilings")]
    pub ceilings: Limits,
    /// Plugin calls one organization may have in flight at once.
    pub plugin_calls_per_org: usize,
    /// The header a trusted reverse proxy gives the client's address in.
    pub trusted_proxy_header: Option<String>,
    /// Lets organizations' JWKS URLs point at loopback, private and
    /// link-local addresses (default false).
    pub allow_private_jwks_urls: bool,
    /// Email domains no domain may claim.
    pub public_email_domains: Vec<String>,
    /// CPU seconds one plugin compile may use (in its own process).
    pub compile_cpu_secs: u64,
    /// Address space one plugin compile may map, in bytes.
    pub compile_memory_bytes: u64,
    /// Wall-clock seconds one plugin compile may take.
    pub compile_wall_secs: u64,
}

/// The ceilings table: each limit left out keeps its default ceiling.
fn ceilings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Limits, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        wall_time: Option<u64>,
        fuel: Option<u64>,
        memory_bytes: Option<u64>,
        output_bytes: Option<u64>,
        log_bytes: Option<u64>,
        host_argument_bytes: Option<u64>,
    }
    let t = Table::deserialize(d)?;
    let c = Limits::CEILINGS;
    Ok(Limits {
        wall_time: t.wall_time.map_or(c.wall_time, std::time::Duration::from_millis),
        fuel: t.fuel.unwrap_or(c.fuel),
        memory_bytes: t.memory_bytes.unwrap_or(c.memory_bytes),
        output_bytes: t.output_bytes.unwrap_or(c.output_bytes),
        log_bytes: t.log_bytes.unwrap_or(c.log_bytes),
        host_argument_bytes: t.host_argument_bytes.unwrap_or(c.host_argument_bytes),
    })
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
            ceilings: Limits::CEILINGS,
            plugin_calls_per_org: provisio::engine::default_plugin_calls_per_org(),
            trusted_proxy_header: None,
            allow_private_jwks_urls: false,
            public_email_domains: HttpConfig::default().public_email_domains,
            compile_cpu_secs: 120,
            compile_memory_bytes: 4 << 30,
            compile_wall_secs: 180,
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
        if let Some(v) = env("PROVISIO_PLUGIN_CALLS_PER_ORG") {
            config.plugin_calls_per_org =
                v.parse().context("PROVISIO_PLUGIN_CALLS_PER_ORG must be a number of calls")?;
        }
        if let Some(v) = env("PROVISIO_TRUSTED_PROXY_HEADER") {
            config.trusted_proxy_header = Some(v);
        }
        if let Some(v) = env("PROVISIO_ALLOW_PRIVATE_JWKS_URLS") {
            config.allow_private_jwks_urls =
                v.parse().context("PROVISIO_ALLOW_PRIVATE_JWKS_URLS must be `true` or `false`")?;
        }
        for (name, field) in [
            ("PROVISIO_COMPILE_CPU_SECS", &mut config.compile_cpu_secs),
            ("PROVISIO_COMPILE_MEMORY_BYTES", &mut config.compile_memory_bytes),
            ("PROVISIO_COMPILE_WALL_SECS", &mut config.compile_wall_secs),
        ] {
            if let Some(v) = env(name) {
                *field = v.parse().with_context(|| format!("{name} must be a number"))?;
            }
        }
        let c = &mut config.ceilings;
        let numbers: [(&str, &mut u64); 5] = [
            ("PROVISIO_CEILING_FUEL", &mut c.fuel),
            ("PROVISIO_CEILING_MEMORY_BYTES", &mut c.memory_bytes),
            ("PROVISIO_CEILING_OUTPUT_BYTES", &mut c.output_bytes),
            ("PROVISIO_CEILING_LOG_BYTES", &mut c.log_bytes),
            ("PROVISIO_CEILING_HOST_ARGUMENT_BYTES", &mut c.host_argument_bytes),
        ];
        for (name, field) in numbers {
            if let Some(v) = env(name) {
                *field = v.parse().with_context(|| format!("{name} must be a number"))?;
            }
        }
        if let Some(v) = env("PROVISIO_CEILING_WALL_TIME") {
            let ms = v.parse().context("PROVISIO_CEILING_WALL_TIME must be a number of milliseconds")?;
            c.wall_time = std::time::Duration::from_millis(ms);
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
        assert_eq!(c.ceilings, Limits::CEILINGS, "the documented ceilings by default");

        // A ceiling from the file, another from the environment; the rest kept.
        std::fs::write(&file, "[ceilings]\nwall_time = 2500\n")?;
        let env = |k: &str| (k == "PROVISIO_CEILING_FUEL").then(|| "77".to_owned());
        let c = ServeConfig::load(Some(&file), env)?;
        assert_eq!(c.ceilings.wall_time, std::time::Duration::from_millis(2500));
        assert_eq!(c.ceilings.fuel, 77);
        assert_eq!(c.ceilings.memory_bytes, Limits::CEILINGS.memory_bytes);
        std::fs::write(&file, "[ceilings]\nwall_tim = 1\n")?;
        assert!(ServeConfig::load(Some(&file), |_| None).is_err(), "an unknown ceiling is refused");
        Ok(())
    }
}
