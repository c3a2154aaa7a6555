//! The tower layer and its service: authenticate, then call the inner
//! service with the [`Identity`] in the request's extensions, or answer the
//! refusal without calling it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, Response, header};
use serde::Serialize;

use super::{Gateway, Refusal};

/// The header that carries a request's id, as the HTTP API names it.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A refusal's body: the HTTP API's error form (`http::ErrorBody`:
/// `{ "code", "message", "request_id" }`), so that a client reads both
/// alike.
#[derive(Serialize)]
struct RefusalBody<'a> {
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// Wraps a service in a [`GatewayService`]; from [`Gateway::layer`].
#[derive(Debug, Clone)]
pub struct GatewayLayer {
    gateway: Gateway,
}

impl GatewayLayer {
    /// The layer of `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

impl<S> tower::Layer<S> for GatewayLayer {
    type Service = GatewayService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GatewayService { gateway: self.gateway.clone(), inner }
    }
}

/// Authenticates each request before `S` sees it. Any response body that
/// can be made from a `String` (axum's `Body`, `Full<Bytes>`, …) works.
#[derive(Debug, Clone)]
pub struct GatewayService<S> {
    gateway: Gateway,
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for GatewayService<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gateway = self.gateway.clone();
        Box::pin(async move {
            let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            match gateway.authenticate(authorization).await {
                Ok(identity) => {
                    request.extensions_mut().insert(identity);
                    inner.call(request).await
                }
                Err(refusal) => {
                    let request_id =
                        request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    Ok(refusal_response(&refusal, request_id))
                }
            }
        })
    }
}

/// The JSON answer of a refusal, shaped as the HTTP API's errors.
pub(super) fn refusal_response<B: From<String>>(refusal: &Refusal, request_id: Option<String>) -> Response<B> {
    let request_id = request_id
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 8]>()));
    let message = refusal.public_message();
    let body = RefusalBody { code: refusal.code(), message: &message, request_id: &request_id };
    let text = serde_json::to_string(&body).unwrap_or_else(|_| String::from("{}"));
    let mut response = Response::new(B::from(text));
    *response.status_mut() = refusal.status();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if refusal.status() == axum::http::StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    response
}
