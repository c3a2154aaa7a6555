//! `provisio serve`'s configuration: defaults, then a TOML file, then
//! environment variables, then command-line flags, each overriding the one
//! before.
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
//! allow_private_directories = false                # LDAP directories on loopback or private networks
//! audit_principal_days = 30                        # how long a login's audit event keeps its principal
//! breaker_window = 20                              # a bound plugin's calls counted by its circuit breaker
//! breaker_failure_share = 0.5                      # the circuit opens above this share of failures
//! breaker_cooldown_secs = 30                       # and stays open this long before one call goes through
//! public_email_domains = ["gmail.com", "outlook.com"]  # never claimable (default: a list of webmail)
//! compile_cpu_secs = 120                           # one plugin compile, in its own process
//! compile_memory_bytes = 4294967296
//! compile_wall_secs = 180
//! log_filter = "info,provisio=debug"               # RUST_LOG syntax
//! log_format = "text"                              # or "json", one object per line
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
//! Every key but `public_email_domains` is also a flag of `provisio serve`
//! and an environment variable, both declared once on [`Overrides`] with
//! clap's `env`: the key `max_plugin_bytes` is `--max-plugin-bytes` and
//! `PROVISIO_MAX_PLUGIN_BYTES`, the ceiling `wall_time` is
//! `--ceiling-wall-time` and `PROVISIO_CEILING_WALL_TIME`. The log filter's
//! variable is `PROVISIO_LOG` (with `RUST_LOG` as a fallback), the format's
//! `PROVISIO_LOG_FORMAT`. A flag wins over its variable, which wins over the
//! file, which wins over the default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
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
    /// Lets organizations' directory (`ldap`) providers connect to loopback,
    /// private and link-local addresses (default false).
    pub allow_private_directories: bool,
    /// Days a login's audit event keeps the principal the plugins saw
    /// (personal data, for the playground and replays); after them it is
    /// removed and the rest of the event stays.
    pub audit_principal_days: u64,
    /// A bound plugin's latest calls its circuit breaker counts (it opens
    /// once half of them were made, at the earliest).
    pub breaker_window: usize,
    /// The circuit opens when more than this share of them failed.
    pub breaker_failure_share: f64,
    /// How long an open circuit stays open before one call goes through.
    pub breaker_cooldown_secs: u64,
    /// Email domains no domain may claim.
    pub public_email_domains: Vec<String>,
    /// CPU seconds one plugin compile may use (in its own process).
    pub compile_cpu_secs: u64,
    /// Address space one plugin compile may map, in bytes.
    pub compile_memory_bytes: u64,
    /// Wall-clock seconds one plugin compile may take.
    pub compile_wall_secs: u64,
    /// Which log events are written: a `RUST_LOG`-style filter
    /// (`info`, `warn,provisio=debug`, …).
    pub log_filter: String,
    /// How log events are written.
    pub log_format: LogFormat,
}

/// How `provisio serve` writes its log events, on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event, its span's fields before it.
    #[default]
    Text,
    /// One JSON object per line, with the event's fields and its spans'.
    Json,
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
            allow_private_directories: false,
            audit_principal_days: 30,
            breaker_window: provisio::engine::BreakerPolicy::default().window,
            breaker_failure_share: provisio::engine::BreakerPolicy::default().failure_share,
            breaker_cooldown_secs: provisio::engine::BreakerPolicy::default().cooldown.as_secs(),
            public_email_domains: HttpConfig::default().public_email_domains,
            compile_cpu_secs: 120,
            compile_memory_bytes: 4 << 30,
            compile_wall_secs: 180,
            log_filter: "info".into(),
            log_format: LogFormat::Text,
        }
    }
}

/// The settings given as flags or environment variables, each declared
/// once: its flag and variable (clap's `env`) over its key in the file.
#[derive(Debug, Default, Args)]
pub struct Overrides {
    /// Address to listen on, e.g. `127.0.0.1:8080` (port 0 picks a free one).
    #[arg(long, env = "PROVISIO_LISTEN")]
    listen: Option<SocketAddr>,
    /// `sqlite://FILE?mode=rwc` (the default, `./provisio.db`) or `postgres://…`.
    #[arg(long, env = "PROVISIO_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Where the session signing key and compiled plugins are kept.
    #[arg(long, env = "PROVISIO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The operator's token, which may create organizations (better given
    /// in the environment or the file than as a flag other users may see).
    #[arg(long, env = "PROVISIO_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// Lifetime of a session token, in seconds.
    #[arg(long, env = "PROVISIO_SESSION_TTL_SECS")]
    session_ttl_secs: Option<u64>,
    /// The `iss` of session tokens (default `http://<listen>`).
    #[arg(long, env = "PROVISIO_ISSUER")]
    issuer: Option<String>,
    /// The `aud` of session tokens.
    #[arg(long, env = "PROVISIO_AUDIENCE")]
    audience: Option<String>,
    /// Largest plugin upload, in bytes.
    #[arg(long, env = "PROVISIO_MAX_PLUGIN_BYTES")]
    max_plugin_bytes: Option<usize>,
    /// Bytes of compiled plugins kept in memory.
    #[arg(long, env = "PROVISIO_MAX_LOADED_BYTES")]
    max_loaded_bytes: Option<u64>,
    /// Bytes of compiled plugins kept on disk.
    #[arg(long, env = "PROVISIO_MAX_ARTIFACT_BYTES")]
    max_artifact_bytes: Option<u64>,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "PROVISIO_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: Option<u64>,
    /// Seconds a client may take to send a request's body.
    #[arg(long, env = "PROVISIO_BODY_READ_TIMEOUT_SECS")]
    body_read_timeout_secs: Option<u64>,
    /// Seconds a connection may stay open with no request in flight.
    #[arg(long, env = "PROVISIO_IDLE_TIMEOUT_SECS")]
    idle_timeout_secs: Option<u64>,
    /// The most connections served at once.
    #[arg(long, env = "PROVISIO_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// The name server (`ip:port`) email domain challenges are looked up at.
    #[arg(long, env = "PROVISIO_DNS_RESOLVER")]
    dns_resolver: Option<SocketAddr>,
    /// Plugin calls one organization may have in flight at once.
    #[arg(long, env = "PROVISIO_PLUGIN_CALLS_PER_ORG")]
    plugin_calls_per_org: Option<usize>,
    /// The header a trusted reverse proxy gives the client's address in.
    #[arg(long, env = "PROVISIO_TRUSTED_PROXY_HEADER")]
    trusted_proxy_header: Option<String>,
    /// Lets JWKS URLs point at loopback, private and link-local addresses.
    #[arg(long, env = "PROVISIO_ALLOW_PRIVATE_JWKS_URLS")]
    allow_private_jwks_urls: Option<bool>,
    /// Lets directory (`ldap`) providers connect to loopback, private and
    /// link-local addresses.
    #[arg(long, env = "PROVISIO_ALLOW_PRIVATE_DIRECTORIES")]
    allow_private_directories: Option<bool>,
    /// Days a login's audit event keeps its principal.
    #[arg(long, env = "PROVISIO_AUDIT_PRINCIPAL_DAYS")]
    audit_principal_days: Option<u64>,
    /// A bound plugin's latest calls its circuit breaker counts.
    #[arg(long, env = "PROVISIO_BREAKER_WINDOW")]
    breaker_window: Option<usize>,
    /// The share of failed calls above which a plugin's circuit opens.
    #[arg(long, env = "PROVISIO_BREAKER_FAILURE_SHARE")]
    breaker_failure_share: Option<f64>,
    /// Seconds an open circuit stays open before one call goes through.
    #[arg(long, env = "PROVISIO_BREAKER_COOLDOWN_SECS")]
    breaker_cooldown_secs: Option<u64>,
    /// CPU seconds one plugin compile may use.
    #[arg(long, env = "PROVISIO_COMPILE_CPU_SECS")]
    compile_cpu_secs: Option<u64>,
    /// Address space one plugin compile may map, in bytes.
    #[arg(long, env = "PROVISIO_COMPILE_MEMORY_BYTES")]
    compile_memory_bytes: Option<u64>,
    /// Wall-clock seconds one plugin compile may take.
    #[arg(long, env = "PROVISIO_COMPILE_WALL_SECS")]
    compile_wall_secs: Option<u64>,
    /// Which log events are written (`RUST_LOG` syntax).
    #[arg(long, env = "PROVISIO_LOG")]
    log_filter: Option<String>,
    /// `RUST_LOG`, the usual name of a log filter: used when neither
    /// `--log-filter` nor `PROVISIO_LOG` is given.
    #[arg(long, env = "RUST_LOG", hide = true)]
    rust_log: Option<String>,
    /// How log events are written.
    #[arg(long, env = "PROVISIO_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    #[command(flatten)]
    ceilings: CeilingOverrides,
}

/// The operator's ceilings, as flags and variables.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Ceilings (no binding may ask for more)")]
struct CeilingOverrides {
    /// Wall time of one plugin call, in milliseconds.
    #[arg(long = "ceiling-wall-time", env = "PROVISIO_CEILING_WALL_TIME")]
    wall_time: Option<u64>,
    /// Fuel of one plugin call.
    #[arg(long = "ceiling-fuel", env = "PROVISIO_CEILING_FUEL")]
    fuel: Option<u64>,
    /// Linear memory of one plugin instance, in bytes.
    #[arg(long = "ceiling-memory-bytes", env = "PROVISIO_CEILING_MEMORY_BYTES")]
    memory_bytes: Option<u64>,
    /// Size of one decision, in bytes.
    #[arg(long = "ceiling-output-bytes", env = "PROVISIO_CEILING_OUTPUT_BYTES")]
    output_bytes: Option<u64>,
    /// Log bytes of one plugin call.
    #[arg(long = "ceiling-log-bytes", env = "PROVISIO_CEILING_LOG_BYTES")]
    log_bytes: Option<u64>,
    /// Size of one argument to a host function, in bytes.
    #[arg(long = "ceiling-host-argument-bytes", env = "PROVISIO_CEILING_HOST_ARGUMENT_BYTES")]
    host_argument_bytes: Option<u64>,
}

/// `$to.field = value` for each field given in `$from`; `Some(value)` for
/// those listed after `;`.
macro_rules! apply {
    ($from:expr => $to:expr; $($field:ident),*; $($optional:ident),*) => {
        $(if let Some(value) = $from.$field { $to.$field = value; })*
        $(if let Some(value) = $from.$optional { $to.$optional = Some(value); })*
    };
}

impl ServeConfig {
    /// Reads the file (if given), then applies what was given as flags or
    /// in the environment.
    pub fn load(file: Option<&Path>, mut overrides: Overrides) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("{} is not a valid configuration", path.display()))?
            }
            None => Self::default(),
        };
        overrides.log_filter = overrides.log_filter.or(overrides.rust_log.take());
        apply!(overrides => config;
            listen, database_url, data_dir, session_ttl_secs, audience, max_plugin_bytes, max_loaded_bytes,
            max_artifact_bytes, header_read_timeout_secs, body_read_timeout_secs, idle_timeout_secs,
            max_connections, plugin_calls_per_org, allow_private_jwks_urls, allow_private_directories,
            audit_principal_days, breaker_window, breaker_failure_share, breaker_cooldown_secs, compile_cpu_secs,
            compile_memory_bytes, compile_wall_secs, log_filter, log_format;
            operator_token, issuer, dns_resolver, trusted_proxy_header);
        let (given, c) = (overrides.ceilings, &mut config.ceilings);
        apply!(given => c; fuel, memory_bytes, output_bytes, log_bytes, host_argument_bytes;);
        if let Some(ms) = given.wall_time {
            c.wall_time = std::time::Duration::from_millis(ms);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The flags of `provisio serve` alone, as clap reads them.
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        overrides: Overrides,
    }

    fn flags(args: &[&str]) -> anyhow::Result<Overrides> {
        Ok(Flags::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))?.overrides)
    }

    #[test]
    fn file_then_flags() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("provisio.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\noperator_token = \"from-file\"\n")?;
        let c = ServeConfig::load(Some(&file), flags(&["--operator-token", "from-flag"])?)?;
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.operator_token.as_deref(), Some("from-flag"));
        assert_eq!(c.database_url, "sqlite://provisio.db?mode=rwc");
        let c = ServeConfig::load(None, Overrides::default())?;
        assert_eq!((c.log_filter.as_str(), c.log_format), ("info", LogFormat::Text));
        std::fs::write(&file, "listen = \"nowhere\"\n")?;
        assert!(ServeConfig::load(Some(&file), Overrides::default()).is_err());
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n")?;
        assert!(ServeConfig::load(Some(&file), Overrides::default()).is_err(), "unknown keys are refused");
        std::fs::write(&file, "idle_timeout_secs = 5\nmax_connections = 7\nlog_format = \"json\"\n")?;
        let c = ServeConfig::load(Some(&file), flags(&["--header-read-timeout-secs", "3"])?)?;
        assert_eq!((c.header_read_timeout_secs, c.body_read_timeout_secs), (3, 30));
        assert_eq!((c.idle_timeout_secs, c.max_connections), (5, 7));
        assert_eq!(c.max_plugin_bytes, 32 << 20);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.ceilings, Limits::CEILINGS, "the documented ceilings by default");
        let c = ServeConfig::load(Some(&file), flags(&["--log-format", "text", "--log-filter", "debug"])?)?;
        assert_eq!((c.log_filter.as_str(), c.log_format), ("debug", LogFormat::Text));

        // A ceiling from the file, another from a flag; the rest kept.
        std::fs::write(&file, "[ceilings]\nwall_time = 2500\n")?;
        let c = ServeConfig::load(Some(&file), flags(&["--ceiling-fuel", "77"])?)?;
        assert_eq!(c.ceilings.wall_time, std::time::Duration::from_millis(2500));
        assert_eq!(c.ceilings.fuel, 77);
        assert_eq!(c.ceilings.memory_bytes, Limits::CEILINGS.memory_bytes);
        std::fs::write(&file, "[ceilings]\nwall_tim = 1\n")?;
        assert!(ServeConfig::load(Some(&file), Overrides::default()).is_err(), "an unknown ceiling is refused");

        // Values are checked as they are read.
        assert!(Flags::try_parse_from(["serve", "--listen", "nowhere"]).is_err());
        assert!(Flags::try_parse_from(["serve", "--allow-private-jwks-urls", "maybe"]).is_err());
        assert!(Flags::try_parse_from(["serve", "--log-format", "xml"]).is_err());
        Ok(())
    }
}
