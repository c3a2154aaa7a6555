//! The tenant console: web pages at `/console` for an organization's admins,
//! served by the same process as the API, every asset in the binary, no
//! script at all.
//!
//! - **Sign-in** with the organization's API token (or the operator token)
//!   starts a session ([`session`]) named by an HttpOnly, SameSite=Strict
//!   cookie (Secure when a trusted proxy says the request came over HTTPS),
//!   for 30 minutes; every form carries the session's CSRF token, and a
//!   POST whose `Origin` is another site is refused. A wrong token gets one
//!   generic message, and failures are throttled per client address by the
//!   password throttle's ledger.
//! - **The playground** runs a plugin on a principal through the API's
//!   playground route: the decision, the host's verdict on it, its cost and
//!   its guest log, and nothing written.
//! - **Pages** are typed maud templates ([`view`]); charts are SVG drawn on
//!   the server ([`charts`]).
//! - **One implementation of every rule**: a page reads and changes nothing
//!   itself but calls the admin API in-process, with the session's token,
//!   exactly as `curl` would; whatever the console can do, the API can.
//! - Every answer has a strict Content-Security-Policy (no script, styles
//!   from `/console/style.css` only), `X-Frame-Options: DENY`, `nosniff`,
//!   no referrer outside the console and no caching.

mod accounts;
mod audit;
mod bindings;
mod charts;
mod domains;
mod playground;
mod plugins;
mod replay;
mod session;
mod view;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Deserialize;
use tower::Service as _;

pub(crate) use session::ConsoleSessions;
use session::{Session, csrf_matches};

use super::{AppState, Caller};
use crate::auth::{AttemptKey, ReserveError, Secret};
use crate::store::OrgId;

/// The session cookie's name.
const COOKIE: &str = "provisio_console";
/// The one message of a refused sign-in.
const REFUSED: &str = "That token was not accepted.";
/// The message of a throttled sign-in.
const THROTTLED: &str = "Too many attempts from this address: try again in a minute.";
/// The most bytes of an API answer a page reads.
const MAX_API_BYTES: usize = 16 << 20;

/// The admin API, called in-process by the pages.
#[derive(Clone)]
pub(super) struct Api(Router);

/// The console's routes (and `/`, which leads to it), calling `api`.
pub(super) fn routes(api: Router, plugin_body_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(home))
        .route("/console/sign-in", get(sign_in_form).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/overview", get(overview))
        .route(
            "/console/plugins",
            get(plugins::list).post(plugins::upload).layer(DefaultBodyLimit::max(plugin_body_limit + 64 * 1024)),
        )
        .route(
            "/console/playground",
            get(playground::form).post(playground::run).layer(DefaultBodyLimit::max(plugin_body_limit + (1 << 20))),
        )
        .route("/console/replay", get(replay::form).post(replay::run))
        .route("/console/bindings", get(bindings::list).post(bindings::bind))
        .route("/console/bindings/canary", post(bindings::canary))
        .route("/console/domains", get(domains::list))
        .route("/console/domains/settings", post(domains::settings))
        .route("/console/domains/order", post(domains::reorder))
        .route("/console/domains/provider", post(domains::provider))
        .route("/console/accounts", get(accounts::list))
        .route("/console/accounts/{account}/{action}", post(accounts::set_lock))
        .route("/console/accounts/invitations", post(accounts::invite))
        .route("/console/accounts/invitations/{invitation}/revoke", post(accounts::revoke))
        .route("/console/audit", get(audit::list))
        .route("/console/audit/{id}", get(audit::event))
        .route("/console/style.css", get(style))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(Extension(Api(api)))
}

/// The headers of every console answer.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: with it a browser sends `Origin: null` on the
        // console's own forms, which `same_origin` refuses.
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], view::STYLE)
}

/// The session the request's cookie names, if it is live.
fn session(state: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))?
        .to_owned();
    let session = state.console.find(&id)?;
    Some((id, session))
}

fn to_sign_in() -> Response {
    Redirect::to("/console/sign-in").into_response()
}

/// An organization's page request: its session and the organization. Any
/// other request gets the sign-in page, or the operator's page.
pub(super) struct OrgSession(Session, OrgId);

impl FromRequestParts<AppState> for OrgSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some((_, session)) = session(state, &parts.headers) else {
            return Err(to_sign_in());
        };
        match &session.caller {
            Caller::Org(org) => {
                let org = org.clone();
                Ok(Self(session, org))
            }
            Caller::Operator => Err(Html(view::operator(&session).into_string()).into_response()),
        }
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session(&state, &headers) {
        Some(_) => Redirect::to("/console/overview").into_response(),
        None => to_sign_in(),
    }
}

async fn sign_in_form() -> Html<String> {
    Html(view::sign_in(None).into_string())
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// True when the request's `Origin` (if any) is this server's own: a form
/// posted from another site is refused even before its CSRF token is read.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    !host.is_empty() && authority == Some(host)
}

fn refused_form() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(
            view::page(
                "Refused",
                None,
                maud::html! {
                    h1 { "Refused" }
                    p { "This form did not come from this console, or its session has ended. "
                        a href="/console" { "Back to the console" } "." }
                },
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// Whether the request came over HTTPS, as a trusted proxy says.
fn over_https(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.trusted_proxy_header.is_some()
        && headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

async fn sign_in(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !same_origin(&headers) {
        return refused_form();
    }
    let source = super::login::client_address(&state, connection.map(|c| c.0.0), &headers);
    let auth = state.host.auth();
    let key = [AttemptKey::console(source.unwrap_or(IpAddr::from([0, 0, 0, 0])))];
    let (policy, ledger, clock) = (auth.throttle_policy(), auth.ledger(), auth.clock());
    match ledger.reserve(&key, policy, clock.now()).await {
        Ok(()) => {}
        Err(ReserveError::Locked(_)) => {
            return (StatusCode::TOO_MANY_REQUESTS, Html(view::sign_in(Some(THROTTLED)).into_string())).into_response();
        }
        Err(ReserveError::Unavailable(_)) => {
            return (StatusCode::SERVICE_UNAVAILABLE, Html(view::sign_in(Some(REFUSED)).into_string())).into_response();
        }
    }
    let token = form.token.trim();
    let Ok(caller) = Caller::from_token(&state, token).await else {
        return (StatusCode::UNAUTHORIZED, Html(view::sign_in(Some(REFUSED)).into_string())).into_response();
    };
    let _ = ledger.succeeded(&key, policy, clock.now()).await;
    let token = Secret::new(token);
    let label = match &caller {
        Caller::Operator => "operator".to_owned(),
        Caller::Org(org) => {
            let found = api_call(&api, &token, axum::http::Method::GET, &format!("/v1/orgs/{org}"), None).await;
            let name = found.ok().and_then(|(_, org)| org["name"].as_str().map(str::to_owned));
            name.unwrap_or_else(|| org.to_string())
        }
    };
    let id = state.console.start(caller, label, token);
    let secure = if over_https(&state, &headers) { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        session::LIFETIME.as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console")).into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let Some((id, session)) = session(&state, &headers) else {
        return to_sign_in();
    };
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return refused_form();
    }
    state.console.end(&id);
    let cookie = format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console/sign-in")).into_response()
}

/// A failed API call: its status, and its error code when it said one.
struct ApiFailure(StatusCode, String);

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = if self.0.is_server_error() { self.0 } else { StatusCode::BAD_GATEWAY };
        let page = view::page(
            "Unavailable",
            None,
            maud::html! {
                h1 { "This page could not be loaded" }
                p { "The API answered " (self.0.as_u16()) " " code { (self.1) } ". " a href="/console" { "Back" } }
            },
        );
        (status, Html(page.into_string())).into_response()
    }
}

/// `GET uri` on the admin API with the session's token, as JSON.
async fn api_get(api: &Api, session: &Session, uri: &str) -> Result<serde_json::Value, ApiFailure> {
    match api_call(api, &session.token, axum::http::Method::GET, uri, None).await? {
        (status, json) if status.is_success() => Ok(json),
        (status, json) => Err(ApiFailure(status, json["code"].as_str().unwrap_or("error").to_owned())),
    }
}

/// A change a form asks of the admin API: `Ok(Ok(()))` when the API made
/// it, `Ok(Err(message))` when it refused the request (its message, for the
/// page to show), `Err` when it failed.
async fn api_change(
    api: &Api,
    token: &Secret,
    method: axum::http::Method,
    uri: &str,
    body: Option<(&'static str, Vec<u8>)>,
) -> Result<Result<(), String>, ApiFailure> {
    match api_call(api, token, method, uri, body).await? {
        (status, _) if status.is_success() => Ok(Ok(())),
        (status, answer) if status.is_client_error() => {
            Ok(Err(answer["message"].as_str().unwrap_or("refused").to_owned()))
        }
        (status, answer) => Err(ApiFailure(status, answer["code"].as_str().unwrap_or("").into())),
    }
}

/// A call on the admin API with a session's token: its status and its
/// JSON answer, whatever the status (a page shows a refusal's message).
async fn api_call(
    api: &Api,
    token: &Secret,
    method: axum::http::Method,
    uri: &str,
    body: Option<(&'static str, Vec<u8>)>,
) -> Result<(StatusCode, serde_json::Value), ApiFailure> {
    let bearer = format!("Bearer {}", token.expose());
    let mut request = axum::http::Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, bearer);
    let body = match body {
        Some((content_type, bytes)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let request = request.body(body).map_err(|_| ApiFailure(StatusCode::INTERNAL_SERVER_ERROR, "request".into()))?;
    let Ok(response) = api.0.clone().call(request).await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_API_BYTES)
        .await
        .map_err(|_| ApiFailure(StatusCode::BAD_GATEWAY, "body".into()))?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
}

async fn overview(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
) -> Result<Response, ApiFailure> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let since = i64::try_from(now.as_millis()).unwrap_or(i64::MAX) - 24 * 3600 * 1000;
    let events = api_get(&api, &session, &format!("/v1/orgs/{org}/audit?since={since}&limit=1000")).await?;
    let domains = api_get(&api, &session, &format!("/v1/orgs/{org}/domains")).await?;
    let names: HashMap<&str, &str> = domains
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["id"].as_str()?, d["name"].as_str()?)))
        .collect();
    let events = events.as_array().cloned().unwrap_or_default();
    let overview = summarize(&events, &names);
    Ok(Html(view::overview(&session, &overview).into_string()).into_response())
}

/// Counts audit events (as the API shows them) for the overview.
fn summarize(events: &[serde_json::Value], domain_names: &HashMap<&str, &str>) -> view::Overview {
    let mut outcomes: HashMap<String, f64> = HashMap::new();
    let mut domains: HashMap<String, f64> = HashMap::new();
    let mut failures: HashMap<String, f64> = HashMap::new();
    let mut slowest: Vec<(String, f64)> = Vec::new();
    for event in events {
        let times = event["occurrences"].as_f64().unwrap_or(1.0);
        let outcome = event["outcome"].as_str().unwrap_or("?").to_owned();
        // Administrators' changes are in the audit too: they are no logins.
        if !crate::engine::is_login_outcome(&outcome) {
            continue;
        }
        *outcomes.entry(outcome).or_default() += times;
        let domain = event["domain"].as_str().map_or("(no domain)", |d| domain_names.get(d).copied().unwrap_or(d));
        *domains.entry(domain.to_owned()).or_default() += times;
        for hook in event["detail"]["hooks"].as_array().into_iter().flatten() {
            let Some(plugin) = hook["plugin"].as_str() else { continue };
            let outcome = hook["outcome"].as_str().unwrap_or("?");
            if outcome != "decision" && outcome != "not-called" {
                *failures.entry(outcome.to_owned()).or_default() += 1.0;
            }
            let ms = hook["duration_us"].as_f64().unwrap_or(0.0) / 1000.0;
            let hook_name = hook["hook"].as_str().unwrap_or("?");
            slowest.push((format!("{hook_name} {}", &plugin[..plugin.len().min(12)]), ms));
        }
    }
    let sorted = |map: HashMap<String, f64>| {
        let mut rows: Vec<(String, f64)> = map.into_iter().collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows
    };
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    slowest.truncate(5);
    view::Overview {
        outcomes: sorted(outcomes),
        domains: sorted(domains),
        failures: sorted(failures),
        slowest,
        events: events.len(),
        truncated: events.len() >= 1000,
    }
}
