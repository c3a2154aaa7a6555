//! JWKS documents fetched from a URL and cached per URL.
//!
//! A document is used for its TTL (the provider's `jwks_cache_ttl_secs`,
//! default 5 minutes), then fetched again. A token whose key is not in a
//! fresh document makes the cache fetch again at once (the IdP may have
//! rotated keys), but one URL is never fetched more often than every
//! [`JwksCachePolicy::refresh_interval`], whatever tokens arrive: that bounds
//! the traffic forged `kid`s can cause, and failed fetches are not retried
//! in a loop. When a fetch fails, the last document is still used for up to
//! [`JwksCachePolicy::stale_if_error`] past its TTL.
//!
//! Fetching is behind [`JwksFetcher`]; [`HttpFetcher`] is the real one
//! (HTTPS with rustls and the Mozilla roots, no redirects, bounded time and
//! size, and only to the addresses its [`JwksAddresses`] allows: an IP
//! literal is checked before connecting, and a name's addresses are filtered
//! by its resolver at every connection, so a name that resolves to a
//! private address, at first or later, is never connected to).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::address::{JwksAddresses, classify};
use super::jwks::{JwksError, KeySet, MAX_JWKS_BYTES};
use crate::auth::clock::Clock;

/// Why the keys of a JWKS URL could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL does not parse, or its scheme is not allowed.
    #[error("invalid JWKS URL")]
    InvalidUrl,
    /// The URL's host is an address the fetcher may not connect to
    /// (loopback, private, link-local, …; see [`JwksAddresses`]).
    #[error("the JWKS URL's host {0} is not a public address")]
    NonPublicAddress(String),
    /// Connecting or talking to the server failed.
    #[error("cannot fetch the JWKS: {0}")]
    Transport(String),
    /// No complete answer within the time limit.
    #[error("the JWKS URL did not answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with another status than 200 (redirects are not
    /// followed).
    #[error("the JWKS URL answered HTTP {0}")]
    Status(u16),
    /// The document is larger than allowed.
    #[error("the JWKS document is larger than {0} bytes")]
    TooLarge(usize),
    /// The document is not a usable JWKS.
    #[error(transparent)]
    Document(#[from] JwksError),
}

/// A boxed future, as [`JwksFetcher`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, FetchError>> + Send + 'a>>;

/// Fetches the bytes of a JWKS document.
pub trait JwksFetcher: Send + Sync + fmt::Debug {
    /// The body of a successful GET of `url`.
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
}

/// The real fetcher: an HTTP/1.1 client over rustls.
pub struct HttpFetcher {
    client: Client<HttpsConnector<HttpConnector<AllowedResolver>>, Empty<Bytes>>,
    timeout: Duration,
    addresses: JwksAddresses,
}

/// `getaddrinfo` on the blocking pool, keeping only the addresses allowed:
/// a name with none left fails to resolve.
#[derive(Clone)]
struct AllowedResolver {
    inner: GaiResolver,
    addresses: JwksAddresses,
}

type ResolveFuture = Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, io::Error>> + Send>>;

impl tower::Service<Name> for AllowedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = ResolveFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> ResolveFuture {
        let host = name.as_str().to_owned();
        let addresses = self.addresses;
        let lookup = self.inner.call(name);
        Box::pin(async move {
            let kept: Vec<SocketAddr> = lookup.await?.filter(|a| addresses.allows(a.ip())).collect();
            if kept.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{host} resolves to no public address"),
                ));
            }
            Ok(kept.into_iter())
        })
    }
}

impl fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFetcher").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl HttpFetcher {
    /// A client for `https://` URLs only, or, with `allow_http`, for plain
    /// `http://` URLs too, that connects to any address (for URLs the
    /// operator chose, such as a gateway's); each fetch is given `timeout`
    /// in all. For URLs a tenant chose, use [`HttpFetcher::with_addresses`].
    pub fn new(allow_http: bool, timeout: Duration) -> Result<Self, FetchError> {
        Self::with_addresses(allow_http, timeout, JwksAddresses::Any)
    }

    /// [`HttpFetcher::new`] that connects only to the `addresses` allowed:
    /// an IP literal is checked before connecting, a name's addresses are
    /// filtered when it is resolved, and a name left with none fails.
    pub fn with_addresses(allow_http: bool, timeout: Duration, addresses: JwksAddresses) -> Result<Self, FetchError> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        let builder = if allow_http { builder.https_or_http() } else { builder.https_only() };
        let mut http = HttpConnector::new_with_resolver(AllowedResolver { inner: GaiResolver::new(), addresses });
        // The HTTPS connector checks the scheme.
        http.enforce_http(false);
        let connector = builder.enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_timer(TokioTimer::new()).build(connector);
        Ok(Self { client, timeout, addresses })
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let uri: hyper::Uri = url.parse().map_err(|_| FetchError::InvalidUrl)?;
        // The connector does not resolve an IP literal: check it here.
        let host = uri.host().ok_or(FetchError::InvalidUrl)?;
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = literal.parse::<IpAddr>()
            && !self.addresses.allows(ip)
        {
            let why = classify(ip).map(|k| format!(" ({k})")).unwrap_or_default();
            return Err(FetchError::NonPublicAddress(format!("{ip}{why}")));
        }
        let request = hyper::Request::get(uri)
            .header(hyper::header::ACCEPT, "application/jwk-set+json, application/json")
            .header(hyper::header::USER_AGENT, "provisio")
            .body(Empty::new())
            .map_err(|_| FetchError::InvalidUrl)?;
        let response = self.client.request(request).await.map_err(|e| FetchError::Transport(error_chain(&e)))?;
        if response.status() != hyper::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES);
        match body.collect().await {
            Ok(collected) => Ok(collected.to_bytes().to_vec()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(FetchError::TooLarge(MAX_JWKS_BYTES)),
            Err(e) => Err(FetchError::Transport(e.to_string())),
        }
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.get(url)).await.unwrap_or(Err(FetchError::Timeout(self.timeout)))
        })
    }
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// How the cache refreshes and how much it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksCachePolicy {
    /// Least time between two fetches of one URL (default 30 s).
    pub refresh_interval: Duration,
    /// How long past its TTL a document is still used while fetches fail
    /// (default 1 hour).
    pub stale_if_error: Duration,
    /// Most URLs cached (default 1,000); the least recently fetched is
    /// dropped first.
    pub max_urls: usize,
}

impl Default for JwksCachePolicy {
    fn default() -> Self {
        Self { refresh_interval: Duration::from_secs(30), stale_if_error: Duration::from_secs(3600), max_urls: 1000 }
    }
}

#[derive(Debug, Default)]
struct SlotState {
    keys: Option<(Arc<KeySet>, SystemTime)>,
    last_attempt: Option<SystemTime>,
    last_error: Option<FetchError>,
}

#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    /// Held while fetching: one fetch per URL at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// What to do for one request of keys.
enum Decision {
    Use(Arc<KeySet>),
    Fail(FetchError),
    Fetch,
}

/// JWKS documents by URL.
#[derive(Debug)]
pub struct JwksCache {
    fetcher: Arc<dyn JwksFetcher>,
    clock: Arc<dyn Clock>,
    policy: JwksCachePolicy,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl JwksCache {
    /// An empty cache fetching with `fetcher`.
    pub fn new(fetcher: Arc<dyn JwksFetcher>, clock: Arc<dyn Clock>, policy: JwksCachePolicy) -> Self {
        Self { fetcher, clock, policy, slots: Mutex::new(HashMap::new()) }
    }

    /// The keys of `url`, fetched when the cached ones are older than `ttl`
    /// or, with `refresh`, when they were fetched more than the refresh
    /// interval ago.
    pub async fn keys(&self, url: &str, ttl: Duration, refresh: bool) -> Result<Arc<KeySet>, FetchError> {
        let slot = self.slot(url);
        match self.decide(&slot, ttl, refresh, None) {
            Decision::Fetch => {}
            decision => return self.finish(decision),
        }
        let seen = lock(&slot.state).last_attempt;
        let _fetching = slot.fetching.lock().await;
        // Someone else may have fetched while this task waited.
        if lock(&slot.state).last_attempt != seen {
            let decision = self.decide(&slot, ttl, false, None);
            if !matches!(decision, Decision::Fetch) {
                return self.finish(decision);
            }
        }
        let result = match self.fetcher.fetch(url).await {
            Ok(bytes) => KeySet::from_slice(&bytes).map_err(FetchError::from),
            Err(e) => Err(e),
        };
        let now = self.clock.now();
        let mut state = lock(&slot.state);
        state.last_attempt = Some(now);
        match result {
            Ok(keys) => {
                let keys = Arc::new(keys);
                state.keys = Some((keys.clone(), now));
                state.last_error = None;
                Ok(keys)
            }
            Err(e) => {
                state.last_error = Some(e.clone());
                drop(state);
                self.finish(self.decide(&slot, ttl, false, Some(e)))
            }
        }
    }

    fn finish(&self, decision: Decision) -> Result<Arc<KeySet>, FetchError> {
        match decision {
            Decision::Use(keys) => Ok(keys),
            Decision::Fail(e) => Err(e),
            // Only reached right after a failed fetch, which decides Fail.
            Decision::Fetch => Err(FetchError::Transport("no keys".into())),
        }
    }

    /// Pure decision from the slot's state; `failed` is the error of a fetch
    /// that just failed (then the answer is never `Fetch`).
    fn decide(&self, slot: &Slot, ttl: Duration, refresh: bool, failed: Option<FetchError>) -> Decision {
        let now = self.clock.now();
        let state = lock(&slot.state);
        let age = |t: SystemTime| now.duration_since(t).unwrap_or(Duration::ZERO);
        let recently_tried = state.last_attempt.is_some_and(|t| age(t) < self.policy.refresh_interval);
        let usable = |stale_ok: bool| {
            state.keys.as_ref().and_then(|(keys, at)| {
                let limit = if stale_ok { ttl.saturating_add(self.policy.stale_if_error) } else { ttl };
                (age(*at) < limit).then(|| keys.clone())
            })
        };
        if let Some(e) = failed {
            return usable(true).map_or(Decision::Fail(e), Decision::Use);
        }
        if let Some(keys) = usable(false)
            && (!refresh || recently_tried)
        {
            return Decision::Use(keys);
        }
        if recently_tried {
            return match (usable(true), &state.last_error) {
                (Some(keys), _) => Decision::Use(keys),
                (None, Some(e)) => Decision::Fail(e.clone()),
                (None, None) => Decision::Fail(FetchError::Transport("no keys".into())),
            };
        }
        Decision::Fetch
    }

    fn slot(&self, url: &str) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get(url) {
            return slot.clone();
        }
        if slots.len() >= self.policy.max_urls.max(1) {
            let oldest = slots.iter().min_by_key(|(_, s)| lock(&s.state).last_attempt).map(|(u, _)| u.clone());
            if let Some(u) = oldest {
                slots.remove(&u);
            }
        }
        let slot = Arc::new(Slot::default());
        slots.insert(url.to_owned(), slot.clone());
        slot
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
