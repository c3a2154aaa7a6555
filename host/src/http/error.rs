//! The one error type of the HTTP API, and the body extractors that turn
//! their rejections into it.
//!
//! Every error answers `{ "code", "message", "request_id" }`: `code` is
//! stable, `message` is safe to show to a client. Internal error text (a
//! database's, a key file's) is kept for the server's log and replaced by a
//! generic message.

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine::{AdminError, LoginError};
use crate::store::StoreError;

/// Why a request failed, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed (bad JSON, a missing field, a bad value).
    #[error("{0}")]
    BadRequest(String),
    /// No valid `Authorization: Bearer` token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The token is valid but may not do this.
    #[error("this token may not do that")]
    Forbidden,
    /// Nothing here, or it belongs to another organization (indistinguishable).
    #[error("not found")]
    NotFound,
    /// The record already exists (names the uniqueness rule).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than this route accepts.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The body did not arrive completely in time
    /// ([`HttpConfig::body_read_timeout`](super::HttpConfig::body_read_timeout)).
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// The body is not of the media type this route accepts.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An uploaded component does not meet the plugin contract.
    #[error("{0}")]
    PluginRefused(String),
    /// A binding or another admin change breaks a rule (the message names it).
    #[error("{0}")]
    Unprocessable(String),
    /// A login was refused.
    #[error("{}", .0.public_message())]
    Login(LoginError),
    /// A dependency (the database) is unavailable; retrying may succeed.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Anything else; the text is for the server's log only.
    #[error("internal error")]
    Internal(String),
}

/// What an error response carries until the request-id layer writes its
/// body (so the body can name the request).
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// For the server's log, never for the client.
    pub(crate) internal: Option<String>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PluginRefused(_) | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Login(e) => login_status(e),
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge => "payload-too-large",
            Self::RequestTimeout => "request-timeout",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::PluginRefused(_) => "plugin-refused",
            Self::Unprocessable(_) => "unprocessable",
            Self::Login(e) => e.code(),
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// The status of a refused login. `provisioning-failed` (a tenant's plugin
/// failed and its binding fails closed) is 403: the request was well formed,
/// and the sign-in is refused by the tenant's configuration.
fn login_status(error: &LoginError) -> StatusCode {
    match error {
        LoginError::AuthenticationFailed => StatusCode::UNAUTHORIZED,
        LoginError::UnknownDomain => StatusCode::NOT_FOUND,
        LoginError::DomainRequired => StatusCode::BAD_REQUEST,
        LoginError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::FORBIDDEN,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let internal = match &self {
            Self::Internal(text) => Some(text.clone()),
            _ => None,
        };
        let info = ErrorInfo { code: self.code(), message: self.to_string(), internal };
        let mut response = (self.status(), error_body(&info, None)).into_response();
        response.extensions_mut().insert(info);
        response
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"code": "not-found", "message": "not found", "request_id": "9f2c0a7e4b1d8c3f"}))]
pub struct ErrorBody {
    /// Stable and machine-readable: `bad-request`, `unauthorized`,
    /// `forbidden`, `not-found`, `conflict`, `payload-too-large`,
    /// `request-timeout`, `unsupported-media-type`, `plugin-refused`, `unprocessable`,
    /// `unavailable`, `internal`, or a login error's code.
    pub code: String,
    /// Safe to show to a client; never internal error text.
    pub message: String,
    /// The request's id, as in the `x-request-id` header.
    pub request_id: Option<String>,
}

/// The JSON body of an error response.
pub(crate) fn error_body(info: &ErrorInfo, request_id: Option<&str>) -> axum::Json<ErrorBody> {
    axum::Json(ErrorBody {
        code: info.code.to_owned(),
        message: info.message.clone(),
        request_id: request_id.map(str::to_owned),
    })
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => Self::Conflict(error.to_string()),
            StoreError::NotFound { .. } => Self::NotFound,
            StoreError::Invalid { .. } => Self::BadRequest(error.to_string()),
            StoreError::Busy(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Plugin(e) => Self::PluginRefused(e.to_string()),
            AdminError::Store(e) => e.into(),
            AdminError::CompilesSaturated | AdminError::CallsSaturated => Self::Unavailable,
            AdminError::UnknownBinding => Self::NotFound,
            other => Self::Unprocessable(other.to_string()),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        Self::Login(error)
    }
}

fn rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        s if s.is_server_error() => ApiError::Internal(text),
        _ => ApiError::BadRequest(text),
    }
}

fn json_rejection(e: &JsonRejection) -> ApiError {
    body_rejection(e, e.status(), e.body_text())
}

/// A rejection of a body: `request-timeout` when the body did not arrive
/// in time (the accept loop's deadline, somewhere in `error`'s causes).
fn body_rejection(error: &(dyn std::error::Error + 'static), status: StatusCode, text: String) -> ApiError {
    if super::listener::is_body_timeout(error) {
        return ApiError::RequestTimeout;
    }
    rejection(status, text)
}

/// A JSON body, which must be an object: anything else (an array, which
/// serde would take as a struct's fields in order, a string, …) is a
/// `bad-request`, as are malformed JSON, a missing or unknown field (body
/// structs deny unknown fields) and a key given twice. An oversized body is
/// `payload-too-large`, one without a JSON content type
/// `unsupported-media-type`, one that does not arrive in time
/// `request-timeout`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<Object<T>>::from_request(req, state).await {
            Ok(axum::Json(Object(value))) => Ok(Self(value)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

/// `T` from a JSON object only. The check is made in the one parse of the
/// body (no `serde_json::Value` first, which would silently keep the last
/// of two equal keys): a map is handed to `T`, anything else is refused.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
                Err(serde::de::Error::custom("the body must be a JSON object, not an array"))
            }
        }

        deserializer.deserialize_any(Visitor(std::marker::PhantomData)).map(Self)
    }
}

/// A query string; a malformed one is a `bad-request`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|e: QueryRejection| rejection(e.status(), e.body_text()))
    }
}

/// A raw body, within the route's body limit.
#[derive(Debug)]
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|e: BytesRejection| body_rejection(&e, e.status(), e.body_text()))
    }
}
