//! An HTTP client of one server's API: admin calls, logins, `/metrics`.

use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::metrics::Scrape;
use crate::{Bytes, Method, StatusCode, Uri};

/// hyper-util's pooled keep-alive HTTP/1 client, as the load generator uses it.
pub type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// A new pooled keep-alive client (connections are reused across requests
/// and phases; one per request in flight).
pub fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(300))
        .build(connector)
}

/// An answer: its status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body as received.
    pub body: Bytes,
}

impl Answer {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as JSON when the status is `status`; panics naming `doing` otherwise.
    pub fn expect(self, status: StatusCode, doing: &str) -> Value {
        assert_eq!(self.status, status, "{doing}: {}", self.text());
        self.json()
    }
}

/// Sends one request and reads the whole answer; panics when the server
/// cannot be reached.
async fn send(http: &HttpClient, request: hyper::Request<Full<Bytes>>) -> Answer {
    let uri = request.uri().clone();
    let response = http.request(request).await.unwrap_or_else(|e| panic!("{uri}: {e}"));
    let status = response.status();
    let body = response.into_body().collect().await.unwrap_or_else(|e| panic!("{uri}: {e}")).to_bytes();
    Answer { status, body }
}

/// A client of one server's HTTP API (admin calls, logins, `/metrics`).
#[derive(Clone)]
pub struct Client {
    base: String,
    /// The pooled client, for requests [`Client`] has no method for.
    pub(crate) http: HttpClient,
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), http: http_client() }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URI of `path` on this server.
    pub fn uri(&self, path: &str) -> Uri {
        format!("{}{path}", self.base).parse().unwrap_or_else(|e| panic!("{}{path}: {e}", self.base))
    }

    /// Calls `method path` with a bearer `token` and a JSON `body`, if any.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let mut builder = hyper::Request::builder().method(method).uri(self.uri(path));
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(b) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        send(&self.http, builder.body(Full::new(body)).unwrap()).await
    }

    /// Uploads a plugin to `org` (`POST /v1/orgs/{org}/plugins`, `application/wasm`).
    pub async fn upload(&self, org: &str, token: &str, bytes: &[u8]) -> Answer {
        let request = hyper::Request::post(self.uri(&format!("/v1/orgs/{org}/plugins")))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/wasm")
            .body(Full::new(Bytes::copy_from_slice(bytes)))
            .unwrap();
        send(&self.http, request).await
    }

    /// `POST /v1/login` with a JSON body given as bytes (see [`IdP::login_body`]).
    pub async fn login(&self, body: &Bytes) -> Answer {
        let request = hyper::Request::post(self.uri("/v1/login"))
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .unwrap();
        send(&self.http, request).await
    }

    /// `GET /metrics`, parsed.
    pub async fn metrics(&self) -> Scrape {
        let answer = self.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "GET /metrics: {}", answer.text());
        let text = answer.text();
        Scrape::parse(&text).unwrap_or_else(|e| panic!("GET /metrics: {e}\n{text}"))
    }
}
