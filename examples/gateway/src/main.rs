//! Run with cargo run -p example-gateway -- --upstream http://127.0.0.1:9000 --jwks-url http://127.0.0.1:8080/.well-known/jwks.json
//!
//! A reverse proxy in front of an upstream: every request must carry a
//! Provisio session token (or, with a local database and `--domain`, an ID
//! token); the upstream receives the caller's identity as `X-Provisio-*`
//! headers, never the client's own. `--toy-upstream ADDR` runs instead a toy
//! upstream that answers the headers it received. See README.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use clap::Parser;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use provisio::engine::Host;
use provisio::gateway::{Gateway, HEADER_PREFIX, Identity, SessionKeys, forward_identity};
use provisio::session::SessionSigner;

#[derive(Parser, Debug)]
#[command(about = "A reverse proxy that authenticates requests with Provisio")]
struct Args {
    /// Where the gateway listens.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// The upstream the requests go to (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    upstream: String,
    /// Offline mode: the server's JWKS URL (session tokens only, no
    /// account-state check).
    #[arg(long, conflicts_with_all = ["database", "signing_key"])]
    jwks_url: Option<String>,
    /// Local mode: the server's database (e.g. `sqlite://provisio.db?mode=rwc`).
    #[arg(long, requires = "signing_key")]
    database: Option<String>,
    /// Local mode: the server's session signing key (e.g. `.provisio/session-signing-key.pem`).
    #[arg(long, requires = "database")]
    signing_key: Option<PathBuf>,
    /// Local mode: accept ID tokens of this domain (logged in, JIT included).
    #[arg(long, requires = "database")]
    domain: Option<String>,
    /// The session tokens' issuer: the server's `issuer`, by default the
    /// URL `provisio serve` listens on.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// The session tokens' audience (the server's `audience`).
    #[arg(long, default_value = "provisio")]
    audience: String,
    /// Local mode: seconds an account's state is trusted (how long a locked
    /// account's session tokens keep working).
    #[arg(long, default_value_t = 30)]
    account_check_ttl: u64,
    /// Run a toy upstream on this address instead, answering the headers it
    /// received as JSON.
    #[arg(long, conflicts_with_all = ["jwks_url", "database"])]
    toy_upstream: Option<SocketAddr>,
}

#[derive(Clone)]
struct Proxy {
    upstream: Uri,
    client: Client<HttpConnector, Body>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(addr) = args.toy_upstream {
        let app = Router::new().fallback(echo);
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listen on {addr}"))?;
        println!("toy upstream on http://{addr}");
        return Ok(axum::serve(listener, app).await?);
    }
    let gateway = gateway(&args).await?;
    let upstream: Uri = args.upstream.parse().context("--upstream")?;
    if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
        bail!("--upstream must be an http:// URL");
    }
    let client = Client::builder(TokioExecutor::new()).build_http();
    let app = Router::new().fallback(proxy).with_state(Proxy { upstream, client }).layer(gateway.layer());
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listen on {}", args.listen))?;
    println!("gateway on http://{} in front of {}", args.listen, args.upstream);
    Ok(axum::serve(listener, app).await?)
}

async fn gateway(args: &Args) -> anyhow::Result<Gateway> {
    match (&args.jwks_url, &args.database, &args.signing_key) {
        (Some(url), None, None) => {
            let keys = SessionKeys::url(url, true)?;
            Ok(Gateway::offline(keys, &args.issuer, &args.audience).build()?)
        }
        (None, Some(database), Some(key)) => {
            // `SessionSigner::new` would create a missing key: a gateway must use the server's.
            if !key.exists() {
                bail!("{}: no such key file; start the server first", key.display());
            }
            let host = Host::builder().database_url(database.as_str().into()).build().await?;
            let signer = SessionSigner::new(Some(key), &args.issuer, &args.audience, Duration::from_secs(900))?;
            let mut builder =
                Gateway::local(host, &signer).account_check_ttl(Duration::from_secs(args.account_check_ttl));
            if let Some(domain) = &args.domain {
                builder = builder.id_token_domain(domain);
            }
            Ok(builder.build()?)
        }
        _ => bail!("give either --jwks-url, or --database and --signing-key"),
    }
}

/// Forwards the request upstream with the identity as headers.
async fn proxy(State(proxy): State<Proxy>, Extension(identity): Extension<Identity>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    if rewrite_headers(&mut parts.headers, &identity).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the identity cannot be sent as headers").into_response();
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut uri = proxy.upstream.clone().into_parts();
    uri.path_and_query = path.parse().ok();
    parts.uri = match Uri::from_parts(uri) {
        Ok(uri) => uri,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad path").into_response(),
    };
    match proxy.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(Body::new),
        Err(_) => (StatusCode::BAD_GATEWAY, "the upstream did not answer").into_response(),
    }
}

/// What the upstream sees: no credential, no `Host` of the gateway, and
/// only the gateway's `X-Provisio-*` headers.
fn rewrite_headers(headers: &mut HeaderMap, identity: &Identity) -> Result<(), header::InvalidHeaderValue> {
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::HOST);
    forward_identity(headers, identity)
}

/// The toy upstream: the request's path and its `X-Provisio-*` headers.
async fn echo(request: Request) -> axum::Json<serde_json::Value> {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with(HEADER_PREFIX))
        .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into()))
        .collect();
    let authorization = request.headers().contains_key(header::AUTHORIZATION);
    axum::Json(serde_json::json!({
        "path": request.uri().path(),
        "headers": headers,
        "authorization_forwarded": authorization,
    }))
}
