//! The HTTP API: login, session keys, admin, health and metrics, on axum.
//!
//! This is the only module that knows HTTP and JSON bodies. [`router`]
//! builds the whole API over an [`AppState`]; [`serve`] runs it on a
//! listener until a shutdown signal, finishing the requests in flight.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/login` | anyone | log in; answers the account, memberships and a session token |
//! | `GET /v1/me/invitations`, `POST …/{id}/accept` | a session token | the person's invitations from any organization, and accepting one |
//! | `POST /v1/accounts/{account}/lock`, `…/unlock` | operator | the platform-wide account state |
//! | `GET /.well-known/jwks.json` | anyone | the keys that verify session tokens |
//! | `GET /healthz`, `/readyz`, `/metrics` | anyone | liveness, store reachability, Prometheus text |
//! | `GET /openapi.json` | anyone | the OpenAPI 3.1 document of every route |
//! | `POST`, `GET /v1/organizations` | operator | create (answers the API token, once) or list organizations |
//! | `/v1/orgs/{org}/…` | the organization's token or the operator | teams, roles, domains, providers, invitations, accounts, plugins, bindings, audit |
//! | `POST`, `GET /v1/orgs/{org}/tokens`, `DELETE …/tokens/{id}` | the organization's token or the operator | issue (answers the token, once), list or revoke the organization's API tokens |
//! | `POST`, `GET /v1/orgs/{org}/domains/{domain}/scim-tokens`, `DELETE …/scim-tokens/{id}` | the organization's token or the operator | issue (answers the token, once), list or revoke a domain's SCIM tokens |
//! | `/scim/v2/{domain}/…` | a SCIM token of the domain | the SCIM 2.0 service (`scim.rs`): Users, Groups, discovery |
//!
//! Routes are registered only through `utoipa_axum::routes!` over handlers
//! annotated with `#[utoipa::path]`: the router and the OpenAPI document
//! are built from the same lists (see `openapi.rs`).
//!
//! Errors are JSON `{ "code", "message", "request_id" }`; every answer has
//! an `x-request-id` header (the caller's when it is a short token, else a
//! new UUID), and every request a `request` span (method, matched route,
//! request id) whose events say its status and latency; see [`router`].
//! JSON bodies are limited to [`HttpConfig::body_limit`] (64 KiB by
//! default), plugin uploads to [`HttpConfig::plugin_body_limit`] (32 MiB by
//! default); over the limit the answer is `413 payload-too-large`.
//!
//! Connections are bounded (`listener.rs`): request headers must arrive
//! within [`HttpConfig::header_read_timeout`], bodies within
//! [`HttpConfig::body_read_timeout`] (else `408 request-timeout`), an idle
//! connection is closed after [`HttpConfig::idle_timeout`], and at most
//! [`HttpConfig::max_connections`] are served at once.

mod admin;
mod console;
mod error;
mod listener;
mod login;
mod me;
mod metrics;
mod openapi;
mod scim;
mod service;
mod tenancy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::LatencyUnit;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};
use utoipa_axum::router::OpenApiRouter;

/// Session tokens live in [`crate::session`]; these names stay here for the
/// HTTP API's users.
pub use crate::session::{KeyError, SessionClaims, SessionSigner};
use console::ConsoleSessions;
pub use error::{ApiError, ErrorBody, Json, Query, RawBody};
pub use login::{LoginBody, LoginResponse};
pub use metrics::Metrics;
pub use service::{Jwks, Status};
pub use tenancy::{ApiTokens, BoxFuture, Caller, StoreApiTokens, TOKEN_PREFIX};

use crate::auth::Secret;
use crate::engine::Host;
use crate::store::{ApiTokenRecord, OrgId};

/// The header that carries a request's id, in both directions.
pub const REQUEST_ID: &str = "x-request-id";

/// Public webmail domains, which no domain may claim by default.
pub const PUBLIC_EMAIL_DOMAINS: &[&str] = &[
    "aol.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "googlemail.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "web.de",
    "yahoo.com",
    "yandex.ru",
    "zoho.com",
];

/// How the HTTP API runs.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where `provisio serve` listens (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// How long a session token lives (default 15 minutes).
    pub session_ttl: Duration,
    /// The session tokens' `iss` (default `provisio`).
    pub issuer: String,
    /// The session tokens' `aud` (default `provisio`).
    pub audience: String,
    /// The Ed25519 signing key's PKCS#8 PEM file, created (mode 0600) when
    /// missing. `None`: a key for this process only (tokens die with it).
    pub signing_key_path: Option<PathBuf>,
    /// The operator token, which creates organizations; `None` disables it.
    pub operator_token: Option<Secret>,
    /// Email domains no domain may claim: public webmail, whose addresses
    /// belong to their users, not to an organization (default
    /// [`PUBLIC_EMAIL_DOMAINS`]).
    pub public_email_domains: Vec<String>,
    /// The header a trusted reverse proxy puts the client's address in
    /// (`x-forwarded-for`: its last entry is used); `None` (the default)
    /// takes the address of the connection. Password attempts are throttled
    /// per client address.
    pub trusted_proxy_header: Option<String>,
    /// The name server (plain UDP/TCP) that email domain claims' DNS
    /// challenges are looked up at; `None` (the default) uses the system's
    /// (`/etc/resolv.conf`). When the resolver cannot be set up the server
    /// still starts, and verifying a claim by DNS answers an error.
    pub dns_resolver: Option<SocketAddr>,
    /// Largest JSON body, in bytes (default 64 KiB).
    pub body_limit: usize,
    /// Largest plugin upload, in bytes (default 32 MiB: the example Python
    /// plugin is 18 MB).
    pub plugin_body_limit: usize,
    /// How long a client may take to send a request's headers (default
    /// 10 s); also how long a keep-alive connection may wait for its next
    /// request. Past it the connection is closed without an answer.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's whole body, counted
    /// from its headers (default 30 s); past it the answer is
    /// `408 request-timeout` and the connection is closed. A plugin upload
    /// of 32 MiB needs about 1.1 MB/s.
    pub body_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight
    /// (default 60 s). Bounded by `header_read_timeout` too.
    pub idle_timeout: Duration,
    /// The most connections served at once (default 10,000; 0 is taken as
    /// 1). Over it new connections are not accepted: they wait in the
    /// kernel's listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            session_ttl: Duration::from_secs(15 * 60),
            issuer: "provisio".into(),
            audience: "provisio".into(),
            signing_key_path: None,
            operator_token: None,
            public_email_domains: PUBLIC_EMAIL_DOMAINS.iter().map(|d| (*d).to_owned()).collect(),
            trusted_proxy_header: None,
            dns_resolver: None,
            body_limit: 64 * 1024,
            plugin_body_limit: 32 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    host: Host,
    config: Arc<HttpConfig>,
    signer: Arc<SessionSigner>,
    tokens: Arc<dyn ApiTokens>,
    metrics: Arc<Metrics>,
    dns: crate::dns::ChallengeResolver,
    console: Arc<ConsoleSessions>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).field("signer", &self.signer).finish_non_exhaustive()
    }
}

impl AppState {
    /// The state over `host`: loads (or creates) the session signing key,
    /// and counts `host`'s plugin calls in this state's [`Metrics`].
    /// Organization API tokens are kept in the host's store
    /// ([`StoreApiTokens`]) unless [`AppState::with_api_tokens`] says
    /// otherwise.
    pub fn new(host: Host, config: HttpConfig) -> Result<Self, KeyError> {
        let signer = SessionSigner::new(
            config.signing_key_path.as_deref(),
            &config.issuer,
            &config.audience,
            config.session_ttl,
        )?;
        let tokens = Arc::new(StoreApiTokens::new(host.store().clone()));
        let metrics = Arc::new(Metrics::new(host.runtime().clone()));
        let dns = crate::dns::ChallengeResolver::from_config(config.dns_resolver);
        Ok(Self {
            // The plugin calls of this state's logins reach `/metrics`.
            host: host.with_observer(metrics.clone()),
            config: Arc::new(config),
            signer: Arc::new(signer),
            tokens,
            metrics,
            dns,
            console: Arc::new(ConsoleSessions::default()),
        })
    }

    /// Keeps organization API tokens here instead.
    pub fn with_api_tokens(mut self, tokens: Arc<dyn ApiTokens>) -> Self {
        self.tokens = tokens;
        self
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The session token signer.
    pub fn signer(&self) -> &SessionSigner {
        &self.signer
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Where email domain claims' DNS challenges are looked up.
    pub fn dns(&self) -> &crate::dns::ChallengeResolver {
        &self.dns
    }

    /// Makes an API token for `org` called `name`: the token is returned
    /// (to show once) with its record; only its hash is kept.
    pub async fn issue_api_token(&self, org: &OrgId, name: &str) -> Result<IssuedApiToken, ApiError> {
        let tenancy::NewToken { token, hash } = tenancy::new_token();
        let record = self.tokens.insert(hash, org, name).await?;
        Ok(IssuedApiToken { record, token })
    }
}

/// An organization API token just made: shown once, then only its hash
/// is kept.
#[derive(Debug)]
pub struct IssuedApiToken {
    /// What the store keeps of it.
    pub record: ApiTokenRecord,
    /// The token itself (its `Debug` does not show it).
    pub token: crate::auth::Secret,
}

/// The whole API.
///
/// Around every route, from the outside in: a caller's `x-request-id` that
/// is not a short token is dropped; every request gets an id (the caller's,
/// or a new UUID) that the answer carries back (`tower-http`'s request-id
/// layers); a `request` span records it with the method and the matched
/// route, and an event the status and latency (`tower-http`'s `TraceLayer`;
/// never a header, a body or the query); then `answer` counts the status
/// and gives every error answer the JSON error form with that id.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let (routes, document) = api(state.config.plugin_body_limit).split_for_parts();
    let trace = TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(DefaultOnRequest::new().level(Level::DEBUG))
        .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros));
    let api = routes
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), tenancy::org_scope))
        .merge(scim::routes())
        .fallback(not_found)
        .layer(axum::Extension(service::Document(Arc::new(document))))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), answer))
        .with_state(state.clone());
    // The console's pages call the API in-process (console/mod.rs).
    let plugin_body_limit = state.config.plugin_body_limit;
    let console =
        console::routes(api.clone(), plugin_body_limit).layer(DefaultBodyLimit::max(body_limit)).with_state(state);
    api.merge(console)
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unusable_request_id))
}

/// Every route with its OpenAPI description: the one list that both the
/// router and `/openapi.json` are made from.
fn api(plugin_body_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::frame())
        .merge(service::routes())
        .merge(login::routes())
        .merge(me::routes())
        .merge(admin::routes(plugin_body_limit))
}

/// Serves `router(state)` on `listener` until `shutdown` completes, then
/// stops accepting and finishes the requests in flight. Connections are
/// bounded as the [`HttpConfig`] says (see `listener.rs`), and handlers
/// find the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let bounds = listener::Bounds::of(&state.config);
    listener::run(listener, router(state), bounds, shutdown).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The request id header, as `tower-http` takes it.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static(REQUEST_ID);

/// Removes the caller's `x-request-id` unless it is a short token (1 to 64
/// letters, digits, `-` or `_`), so that a new id is made instead: an id
/// is written to logs and error bodies.
async fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = |id: &[u8]| {
        !id.is_empty() && id.len() <= 64 && id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    };
    let mut given = request.headers().get_all(REQUEST_ID).iter();
    let keep = matches!((given.next(), given.next()), (Some(id), None) if usable(id.as_bytes()));
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

/// The id `SetRequestIdLayer` gave the request.
fn request_id_of<B>(request: &axum::http::Request<B>) -> &str {
    request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or_default()
}

/// The `request` span of each request: its method, matched route and id.
#[derive(Debug, Clone, Copy)]
struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
        tracing::info_span!("request", method = %request.method(), route, request_id = request_id_of(request))
    }
}

/// Counts the answer's status in the metrics, and turns any error answer
/// into the JSON error form with the request's id (one that is not already
/// ours, a method not allowed say, included). An internal error's text is
/// logged, never answered.
async fn answer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = request_id_of(&request).to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    state.metrics.response(status.as_u16());
    let scim = response.extensions().get::<scim::ScimAnswer>().is_some();
    if !scim && (status.is_client_error() || status.is_server_error()) {
        let info = response.extensions().get::<error::ErrorInfo>().cloned().unwrap_or_else(|| error::ErrorInfo {
            code: generic_code(status),
            message: status.canonical_reason().unwrap_or("error").to_lowercase(),
            internal: None,
        });
        if let Some(internal) = &info.internal {
            tracing::error!(error = %crate::canonical::escaped(internal), "internal error");
        }
        let headers = std::mem::take(response.headers_mut());
        response = (status, error::error_body(&info, Some(&id))).into_response();
        for (name, value) in headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
    }
    response
}

fn generic_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad-request",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::REQUEST_TIMEOUT => "request-timeout",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}
