//! `provisio admin …`: the common admin operations, through the server's
//! HTTP API, with an organization's API token.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// Arguments shared by every admin command.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server, e.g. `http://127.0.0.1:8080`.
    #[arg(long, env = "PROVISIO_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An organization API token (or the operator token).
    #[arg(long, env = "PROVISIO_TOKEN", hide_env_values = true)]
    token: String,
    /// The organization's id.
    #[arg(long, env = "PROVISIO_ORG")]
    org: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Upload a plugin: it is checked against the contract and precompiled;
    /// prints its hash and the `plugin check` report.
    Upload {
        /// The component (`.wasm`).
        file: PathBuf,
    },
    /// Bind plugins to a domain's provider (re-binding an older hash rolls back).
    Bind {
        /// The domain's id.
        #[arg(long)]
        domain: String,
        /// The provider's id.
        #[arg(long)]
        provider: String,
        /// The identity creator's hash (none: the built-in creator).
        #[arg(long)]
        creator: Option<String>,
        /// The assignment provider's hash (none: the built-in group mapping).
        #[arg(long)]
        assigner: Option<String>,
        /// The plugins' configuration, a JSON file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Limit overrides, a JSON file.
        #[arg(long)]
        limits: Option<PathBuf>,
        /// `fail-closed` (default) or `fall-back`.
        #[arg(long, default_value = "fail-closed")]
        failure_policy: String,
        /// A candidate identity creator for a share of the logins (with --canary-percent).
        #[arg(long, requires = "canary_percent")]
        canary_creator: Option<String>,
        /// A candidate assignment provider for a share of the logins (with --canary-percent).
        #[arg(long, requires = "canary_percent")]
        canary_assigner: Option<String>,
        /// The share of logins, in percent, that runs the candidates.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
        canary_percent: Option<u8>,
        /// A shadow identity creator: runs after each login, off its path,
        /// and its decision is compared with the live one, never applied.
        #[arg(long)]
        shadow_creator: Option<String>,
        /// A shadow assignment provider; likewise.
        #[arg(long)]
        shadow_assigner: Option<String>,
        /// `on-create` (default) or `every-login`.
        #[arg(long, default_value = "on-create")]
        sync_mode: String,
    },
    /// Replace a provider's settings (checked as when it was added).
    UpdateProvider {
        /// The domain's id.
        #[arg(long)]
        domain: String,
        /// The provider's id.
        #[arg(long)]
        provider: String,
        /// Its new settings, a JSON file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Remove a provider from its domain, with its binding and its links.
    RemoveProvider {
        /// The domain's id.
        #[arg(long)]
        domain: String,
        /// The provider's id.
        #[arg(long)]
        provider: String,
    },
    /// Issue a SCIM token for a domain (printed once): the credential its
    /// identity provider's SCIM client uses at `/scim/v2/{domain}`.
    IssueScimToken {
        /// The domain's id.
        #[arg(long)]
        domain: String,
        /// What it is for, e.g. `okta`.
        #[arg(long)]
        name: String,
    },
    /// List a domain's SCIM tokens (their public ids, never the tokens).
    ListScimTokens {
        /// The domain's id.
        #[arg(long)]
        domain: String,
    },
    /// Revoke one of a domain's SCIM tokens; it stops working at once.
    RevokeScimToken {
        /// The domain's id.
        #[arg(long)]
        domain: String,
        /// The token's public id.
        #[arg(long)]
        id: String,
    },
    /// Show the latest audit events.
    Audit {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Promote a binding's canary (its versions become the bound ones) or
    /// abort it (every login runs the bound versions again).
    Canary {
        /// `promote` or `abort`.
        #[arg(value_parser = ["promote", "abort"])]
        action: String,
        /// The domain's id.
        #[arg(long)]
        domain: String,
        /// The provider's id.
        #[arg(long)]
        provider: String,
    },
    /// What candidate versions would have decided for a provider's past
    /// logins (their recorded principals), against what the logins
    /// decided: how many changed, how, and examples. Writes nothing.
    Replay {
        /// The domain's id.
        #[arg(long)]
        domain: String,
        /// The provider's id.
        #[arg(long)]
        provider: String,
        /// The candidate identity creator's hash.
        #[arg(long)]
        creator: Option<String>,
        /// The candidate assignment provider's hash.
        #[arg(long)]
        assigner: Option<String>,
        /// How far back: `30m`, `24h`, `7d`.
        #[arg(long, default_value = "7d", value_parser = parse_age)]
        since: u64,
        /// At most this many logins, newest first.
        #[arg(long, default_value_t = 500)]
        limit: u32,
    },
}

/// An age such as `30m`, `24h` or `7d`, in milliseconds.
fn parse_age(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let number: u64 = number.parse().map_err(|_| format!("not an age: {text:?} (use 30m, 24h, 7d)"))?;
    let unit = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("not an age: {text:?} (use 30m, 24h, 7d)")),
    };
    number.checked_mul(unit).ok_or_else(|| format!("too long ago: {text:?}"))
}

fn read_json(path: &Option<PathBuf>) -> anyhow::Result<Value> {
    match path {
        Some(p) => {
            let text = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", p.display()))
        }
        None => Ok(json!({})),
    }
}

/// Runs an admin command; prints the server's JSON answer.
pub async fn run(args: AdminArgs) -> anyhow::Result<bool> {
    let base = format!("{}/v1/orgs/{}", args.server.trim_end_matches('/'), args.org);
    let (method, uri, body, content_type) = match &args.command {
        AdminCommand::Upload { file } => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            ("POST", format!("{base}/plugins"), bytes, "application/wasm")
        }
        AdminCommand::Bind {
            domain,
            provider,
            creator,
            assigner,
            config,
            limits,
            failure_policy,
            sync_mode,
            canary_creator,
            canary_assigner,
            canary_percent,
            shadow_creator,
            shadow_assigner,
        } => {
            let mut body = json!({
                "creator": creator, "assigner": assigner, "config": read_json(config)?, "limits": read_json(limits)?,
                "failure_policy": failure_policy, "sync_mode": sync_mode,
            });
            if let Some(percent) = canary_percent {
                body["canary"] = json!({"creator": canary_creator, "assigner": canary_assigner, "percent": percent});
            }
            if shadow_creator.is_some() || shadow_assigner.is_some() {
                body["shadow"] = json!({"creator": shadow_creator, "assigner": shadow_assigner});
            }
            (
                "PUT",
                format!("{base}/domains/{domain}/bindings/{provider}"),
                body.to_string().into_bytes(),
                "application/json",
            )
        }
        AdminCommand::UpdateProvider { domain, provider, config } => {
            let body = json!({"config": read_json(&Some(config.clone()))?});
            let uri = format!("{base}/domains/{domain}/providers/{provider}");
            ("PATCH", uri, body.to_string().into_bytes(), "application/json")
        }
        AdminCommand::RemoveProvider { domain, provider } => {
            ("DELETE", format!("{base}/domains/{domain}/providers/{provider}"), Vec::new(), "application/json")
        }
        AdminCommand::IssueScimToken { domain, name } => {
            let body = json!({ "name": name });
            ("POST", format!("{base}/domains/{domain}/scim-tokens"), body.to_string().into_bytes(), "application/json")
        }
        AdminCommand::ListScimTokens { domain } => {
            ("GET", format!("{base}/domains/{domain}/scim-tokens"), Vec::new(), "application/json")
        }
        AdminCommand::RevokeScimToken { domain, id } => {
            ("DELETE", format!("{base}/domains/{domain}/scim-tokens/{id}"), Vec::new(), "application/json")
        }
        AdminCommand::Audit { limit } => ("GET", format!("{base}/audit?limit={limit}"), Vec::new(), "application/json"),
        AdminCommand::Canary { action, domain, provider } => (
            "POST",
            format!("{base}/domains/{domain}/bindings/{provider}/canary/{action}"),
            Vec::new(),
            "application/json",
        ),
        AdminCommand::Replay { domain, provider, creator, assigner, since, limit } => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
            let since =
                i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(i64::try_from(*since).unwrap_or(i64::MAX));
            let body = json!({
                "domain": domain, "provider": provider, "creator": creator, "assigner": assigner,
                "since": since, "limit": limit,
            });
            ("POST", format!("{base}/replay"), body.to_string().into_bytes(), "application/json")
        }
    };
    let request = hyper::Request::builder()
        .method(method)
        .uri(&uri)
        .header("authorization", format!("Bearer {}", args.token))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client.request(request).await.with_context(|| format!("cannot reach {}", args.server))?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    let text = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => serde_json::to_string_pretty(&v)?,
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    if status.is_success() {
        println!("{text}");
    } else {
        eprintln!("{method} {uri}: {status}\n{text}");
    }
    Ok(status.is_success())
}
