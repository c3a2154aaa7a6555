//! `provisio serve`: the HTTP server over the embedded SQLite default (or
//! PostgreSQL), with graceful shutdown on Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use provisio::auth::{AuthServices, Secret};
use provisio::engine::{BreakerPolicy, Host};
use provisio::http::{AppState, HttpConfig};
use provisio::runtime::{CompilerProcess, RuntimeConfig};
use provisio::store::DatabaseUrl;

use super::config::{LogFormat, Overrides, ServeConfig};
use super::demo;

/// Arguments of `provisio serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see the README); `PROVISIO_*` variables
    /// and flags override it.
    #[arg(long, short, env = "PROVISIO_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Overrides,
    /// Seed a demo organization, domain, identity provider and plugins, and
    /// print `curl` commands to try them.
    #[arg(long)]
    demo: bool,
    /// Where the demo finds the example plugins.
    #[arg(long, default_value = "target/plugins")]
    plugins_dir: PathBuf,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = ServeConfig::load(args.config.as_deref(), args.settings)?;
    init_logging(&config)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    if args.demo && config.operator_token.is_none() {
        config.operator_token = Some(hex::encode(rand::random::<[u8; 16]>()));
    }

    let runtime = RuntimeConfig {
        cache_dir: Some(config.data_dir.join("artifacts")),
        max_loaded_bytes: config.max_loaded_bytes,
        max_artifact_bytes: config.max_artifact_bytes,
        ceilings: config.ceilings,
        // Every compile runs in a child process of this binary, under its budget.
        compiler: Some(CompilerProcess {
            program: std::env::current_exe().context("cannot find the provisio binary to compile plugins with")?,
            cpu_time: Duration::from_secs(config.compile_cpu_secs),
            address_space_bytes: config.compile_memory_bytes,
            wall_time: Duration::from_secs(config.compile_wall_secs),
        }),
        ..RuntimeConfig::default()
    };
    let url = DatabaseUrl::new(config.database_url.clone());
    let auth = AuthServices::builder()
        .allow_private_jwks_urls(config.allow_private_jwks_urls)
        .allow_private_directories(config.allow_private_directories);
    let host = Host::builder()
        .database_url(url.clone())
        .runtime_config(runtime)
        .auth_builder(auth)
        .plugin_calls_per_org(config.plugin_calls_per_org)
        .breaker(BreakerPolicy {
            window: config.breaker_window.max(1),
            min_calls: config.breaker_window.div_ceil(2).max(1),
            failure_share: config.breaker_failure_share.clamp(0.0, 1.0),
            cooldown: Duration::from_secs(config.breaker_cooldown_secs),
        })
        .build()
        .await?;
    let http = HttpConfig {
        listen: address,
        session_ttl: Duration::from_secs(config.session_ttl_secs),
        issuer: config.issuer.clone().unwrap_or_else(|| format!("http://{address}")),
        audience: config.audience.clone(),
        signing_key_path: Some(config.data_dir.join("session-signing-key.pem")),
        operator_token: config.operator_token.clone().map(Secret::new),
        plugin_body_limit: config.max_plugin_bytes,
        trusted_proxy_header: config.trusted_proxy_header.clone(),
        public_email_domains: config.public_email_domains.clone(),
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
        body_read_timeout: Duration::from_secs(config.body_read_timeout_secs),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        max_connections: config.max_connections,
        dns_resolver: config.dns_resolver,
        ..HttpConfig::default()
    };
    tokio::spawn(forget_principals(
        host.clone(),
        Duration::from_secs(config.audit_principal_days.saturating_mul(86_400)),
    ));
    let state = AppState::new(host, http)?;
    tracing::info!(database = %url.redacted(), %address, "provisio started");
    if args.demo {
        let seeded = demo::seed(&state, &config.data_dir, &args.plugins_dir).await?;
        println!(
            "{}",
            demo::instructions(
                &seeded,
                address,
                &config.data_dir,
                config.operator_token.as_deref().unwrap_or_default()
            )
        );
    }
    // Printed for whoever started the server (scripts read the port here).
    println!("provisio: listening on http://{address}");
    provisio::http::serve(listener, state, shutdown()).await?;
    tracing::info!("provisio stopped");
    Ok(())
}

/// Every hour, removes the principal from the audit events older than
/// `retention`; a failure is logged and tried again the next hour.
async fn forget_principals(host: Host, retention: Duration) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        match host.forget_audit_principals(retention).await {
            Ok(0) => {}
            Ok(forgotten) => tracing::info!(forgotten, "principals past their retention removed from the audit"),
            Err(error) => tracing::warn!(%error, "principals past their retention could not be removed from the audit"),
        }
    }
}

/// Log events go to stderr, filtered and formatted as configured
/// (`log_filter`, `log_format`).
fn init_logging(config: &ServeConfig) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .map_err(|e| anyhow::anyhow!("the log filter `{}` is not valid: {e}", config.log_filter))?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match config.log_format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
