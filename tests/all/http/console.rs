//! The tenant console's sign-in, session cookie, CSRF and security headers,
//! and its overview, through the router as a browser would reach it.

use crate::plugins;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

use super::{OPERATOR, config, id_login, json_call, ok, state, tenant};
use crate::TestDatabase;

/// A page as the browser gets it.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn fetch(
    app: &Router,
    method: Method,
    uri: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    origin: Option<&str>,
) -> Page {
    let mut builder = Request::builder().method(method).uri(uri).header(header::HOST, "console.test");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    if let Some(origin) = origin {
        builder = builder.header(header::ORIGIN, origin);
    }
    let body = match form {
        Some(form) => {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form.to_owned())
        }
        None => Body::empty(),
    };
    let response = ok(app.clone().oneshot(ok(builder.body(body), "request")).await, "call");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = ok(response.into_body().collect().await, "body").to_bytes();
    Page { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

impl Page {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn set_cookie(&self) -> &str {
        self.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The session cookie it sets, as a `Cookie` header value.
    fn cookie(&self) -> String {
        self.set_cookie().split(';').next().unwrap_or_default().to_owned()
    }

    /// The CSRF token of the page's sign-out form.
    fn csrf(&self) -> String {
        let after = self.body.split(r#"name="csrf" value=""#).nth(1).unwrap_or_default();
        after.split('"').next().unwrap_or_default().to_owned()
    }
}

/// A form value, percent-encoded (everything but unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form_token(token: &str) -> String {
    format!("token={}", encode(token))
}

#[tokio::test]
async fn sign_in_session_and_sign_out() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (_org, token, _domain, _) = tenant(&app, "acme").await;

    let root = fetch(&app, Method::GET, "/", None, None, None).await;
    assert!(root.status.is_redirection() && root.location() == "/console", "{}", root.status);
    let home = fetch(&app, Method::GET, "/console", None, None, None).await;
    assert_eq!(home.location(), "/console/sign-in", "no session: to the sign-in page");
    let form = fetch(&app, Method::GET, "/console/sign-in", None, None, None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<title>Sign in · Provisio console</title>"), "{}", form.body);
    assert!(form.body.contains(r#"<label for="token">"#), "the field has a label");
    for (name, wanted) in [
        ("content-security-policy", "default-src 'none'; style-src 'self'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
    ] {
        let got = form.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(got.starts_with(wanted), "{name}: {got}");
    }
    assert!(!form.body.contains("<script"), "the console has no script");

    let signed = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&token)), None).await;
    assert!(signed.status.is_redirection(), "{}: {}", signed.status, signed.body);
    let set = signed.set_cookie().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=1800"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "not over HTTPS: {set}");
    assert!(!set.contains(&token), "the cookie is not the token");
    let cookie = signed.cookie();

    let overview = fetch(&app, Method::GET, "/console/overview", Some(&cookie), None, None).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert!(overview.body.contains("Logins by outcome"), "{}", overview.body);
    let csrf = overview.csrf();
    assert_eq!(csrf.len(), 64, "{}", overview.body);

    // Sign-out needs the session's CSRF token and this origin.
    let forged = fetch(&app, Method::POST, "/console/sign-out", Some(&cookie), Some("csrf=nope"), None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let body = format!("csrf={csrf}");
    let elsewhere =
        fetch(&app, Method::POST, "/console/sign-out", Some(&cookie), Some(&body), Some("https://evil.example")).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN, "a form posted from another site");
    let still = fetch(&app, Method::GET, "/console/overview", Some(&cookie), None, None).await;
    assert_eq!(still.status, StatusCode::OK, "refused forms end nothing");
    let out =
        fetch(&app, Method::POST, "/console/sign-out", Some(&cookie), Some(&body), Some("http://console.test")).await;
    assert_eq!(out.location(), "/console/sign-in");
    assert!(out.set_cookie().contains("Max-Age=0"), "{}", out.set_cookie());
    let gone = fetch(&app, Method::GET, "/console/overview", Some(&cookie), None, None).await;
    assert_eq!(gone.location(), "/console/sign-in", "the session ended with the sign-out");
    store.close().await;
}

#[tokio::test]
async fn wrong_tokens_get_one_message_and_are_throttled() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (_org, token, _domain, _) = tenant(&app, "acme").await;
    let mut messages = Vec::new();
    for wrong in ["pvo_nope", "nope", "", "pvo_0000000000000000000000000000000000000000000"] {
        let page = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(wrong)), None).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(page.set_cookie().is_empty(), "{wrong:?}");
        messages
            .push(page.body.split("role=\"alert\">").nth(1).unwrap_or_default().split('<').next().map(str::to_owned));
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "one generic message: {messages:?}");
    let fifth = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token("pvo_x")), None).await;
    assert_eq!(fifth.status, StatusCode::UNAUTHORIZED);
    let right = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&token)), None).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "throttled, even with the right token");
    assert!(right.set_cookie().is_empty());
    store.close().await;
}

/// An organization's console shows its own logins only; the operator's
/// session has its own page.
#[tokio::test]
async fn the_overview_counts_the_organizations_own_logins_only() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (_acme, acme_token, _, _) = tenant(&app, "acme").await;
    let (_globex, _, _, _) = tenant(&app, "globex").await;
    for (domain, email) in
        [("acme", "jane@acme.example"), ("globex", "ann@globex.example"), ("globex", "bo@globex.example")]
    {
        json_call(&app, Method::POST, "/v1/login", None, Some(id_login(domain, email)))
            .await
            .expect(StatusCode::OK, email);
    }
    let refused = json!({"domain": "acme", "email": "x@acme.example", "password": "wrong"});
    json_call(&app, Method::POST, "/v1/login", None, Some(refused)).await;

    let signed = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&acme_token)), None).await;
    let page = fetch(&app, Method::GET, "/console/overview", Some(&signed.cookie()), None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(">acme<"), "{}", page.body);
    assert!(page.body.contains(">success<") && page.body.contains("1 logins"), "{}", page.body);
    assert!(!page.body.contains("globex"), "another organization's domain: {}", page.body);

    let operator = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(OPERATOR)), None).await;
    let page = fetch(&app, Method::GET, "/console/overview", Some(&operator.cookie()), None, None).await;
    assert!(page.body.contains("Signed in as the operator"), "{}", page.body);
    store.close().await;
}

/// Globex's console session, naming Acme's login event, version and
/// binding in the playground and replay pages, gets none of them: no
/// principal filled in, no version offered, a replay refused as not found.
#[tokio::test]
async fn the_playground_and_replay_pages_see_the_organizations_own_only() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (acme, acme_token, domain, provider) = tenant(&app, "acme").await;
    let (_, globex_token, _, _) = tenant(&app, "globex").await;
    let uploaded = super::upload(&app, &acme, &acme_token, crate::component(plugins::NOOP)).await;
    let hash = uploaded.expect(StatusCode::CREATED, "upload")["plugin"]["hash"].as_str().unwrap_or_default().to_owned();
    json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example")))
        .await
        .expect(StatusCode::OK, "login");
    let events =
        json_call(&app, Method::GET, format!("/v1/orgs/{acme}/audit?outcome=success"), Some(&acme_token), None);
    let event = events.await.expect(StatusCode::OK, "audit")[0]["id"].as_i64().unwrap_or_default();

    let signed = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&globex_token)), None).await;
    let cookie = signed.cookie();
    let uri = format!("/console/playground?event={event}&plugin={hash}");
    let page = fetch(&app, Method::GET, &uri, Some(&cookie), None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("jane@acme.example"), "acme's principal: {}", page.body);
    assert!(!page.body.contains(&format!(r#"<option value="{hash}""#)), "acme's version offered: {}", page.body);
    let csrf = page.csrf();
    let form = format!("csrf={csrf}&binding={domain}%2F{provider}&creator=&assigner={hash}&hours=24&limit=10");
    let refused = fetch(&app, Method::POST, "/console/replay", Some(&cookie), Some(&form), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("Not replayed") && refused.body.contains("not found"), "{}", refused.body);
    assert!(
        !refused.body.contains(&format!(r#"<option value="{domain}/{provider}""#)),
        "acme's provider offered: {}",
        refused.body
    );
    store.close().await;
}

/// A multipart form with the CSRF token and a file.
fn upload_form(csrf: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----provisio-console-test";
    let mut body = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\n\
         content-disposition: form-data; name=\"plugin\"; filename=\"p.wasm\"\r\ncontent-type: application/wasm\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_upload(app: &Router, cookie: &str, csrf: &str, bytes: &[u8]) -> Page {
    let (content_type, body) = upload_form(csrf, bytes);
    let request = Request::post("/console/plugins")
        .header(header::HOST, "console.test")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body));
    let response = ok(app.clone().oneshot(ok(request, "request")).await, "call");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = ok(response.into_body().collect().await, "body").to_bytes();
    Page { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Uploads through the console: the check report for a real component, the
/// precise refusal for anything else, the version in the list with the
/// bindings that use it; and the audit pages, the organization's own events
/// only.
#[tokio::test]
async fn plugins_and_audit_pages() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let (_, globex_token, _, _) = tenant(&app, "globex").await;
    let signed = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&token)), None).await;
    let cookie = signed.cookie();
    let page = fetch(&app, Method::GET, "/console/plugins", Some(&cookie), None, None).await;
    assert!(page.body.contains("No plugin uploaded yet."), "{}", page.body);
    let csrf = page.csrf();

    let forged = post_upload(&app, &cookie, "nope", &crate::component(plugins::GROUP_MAPPER)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "an upload without the session's CSRF token");
    let refused = post_upload(&app, &cookie, &csrf, b"\0asm not really").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("Upload refused"), "{}", refused.body);
    let accepted = post_upload(&app, &cookie, &csrf, &crate::component(plugins::GROUP_MAPPER)).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert!(accepted.body.contains("Accepted: group-mapper"), "{}", accepted.body);
    assert!(accepted.body.contains("assignment-provider"), "{}", accepted.body);

    let plugins = json_call(&app, Method::GET, format!("/v1/orgs/{org}/plugins"), Some(&token), None).await;
    let hash = plugins.expect(StatusCode::OK, "plugins")[0]["hash"].as_str().unwrap_or_default().to_owned();
    let binding = json!({"assigner": hash, "config": {"groups": {}}});
    let uri = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    json_call(&app, Method::PUT, uri, Some(&token), Some(binding)).await.expect(StatusCode::OK, "bind");
    let listed = fetch(&app, Method::GET, "/console/plugins", Some(&cookie), None, None).await;
    assert!(listed.body.contains("acme / okta (assignment provider)"), "{}", listed.body);

    json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example")))
        .await
        .expect(StatusCode::OK, "login");
    json_call(&app, Method::POST, "/v1/login", None, Some(id_login("globex", "ann@globex.example")))
        .await
        .expect(StatusCode::OK, "login");
    let audit = fetch(&app, Method::GET, "/console/audit", Some(&cookie), None, None).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let link = audit.body.split("href=\"/console/audit/").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
    let event = fetch(&app, Method::GET, &format!("/console/audit/{link}"), Some(&cookie), None, None).await;
    assert_eq!(event.status, StatusCode::OK, "{}", event.body);
    assert!(event.body.contains("Hooks") && event.body.contains(&hash[..12]), "{}", event.body);

    // Globex's event, asked for through Acme's session: no such event.
    let globex = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&globex_token)), None).await;
    let theirs = fetch(&app, Method::GET, "/console/audit", Some(&globex.cookie()), None, None).await;
    let their_id =
        theirs.body.split("href=\"/console/audit/").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
    assert_ne!(their_id, link);
    let foreign = fetch(&app, Method::GET, &format!("/console/audit/{their_id}"), Some(&cookie), None, None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    store.close().await;
}

/// Binding through the console: JSON that is not an object is refused with
/// why, nothing bound; a binding is made, recorded in the history, and an
/// earlier version bound again restores it.
#[tokio::test]
async fn bindings_are_bound_checked_and_rolled_back() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let uploaded = super::upload(&app, &org, &token, crate::component(plugins::GROUP_MAPPER)).await;
    let hash = uploaded.expect(StatusCode::CREATED, "upload")["plugin"]["hash"].as_str().unwrap_or_default().to_owned();
    let signed = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&token)), None).await;
    let cookie = signed.cookie();
    let page = fetch(&app, Method::GET, "/console/bindings", Some(&cookie), None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&format!(r#"id="provider-{provider}""#)), "{}", page.body);
    let csrf = page.csrf();
    let binding = |assigner: &str, config: &str| {
        let config =
            config.replace('{', "%7B").replace('}', "%7D").replace('"', "%22").replace(':', "%3A").replace(' ', "+");
        format!(
            "csrf={csrf}&domain={domain}&provider={provider}&creator=&assigner={assigner}&config={config}&limits=&failure_policy=fall-back&sync_mode=every-login"
        )
    };
    let refused =
        fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&binding(&hash, "[1]")), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("The configuration must be a JSON object."), "{}", refused.body);
    let uri = format!("/v1/orgs/{org}/domains/{domain}/bindings");
    let bound = json_call(&app, Method::GET, &uri, Some(&token), None).await.expect(StatusCode::OK, "bindings");
    assert_eq!(bound, json!([]), "nothing was bound");

    let groups = r#"{"groups": {"Eng": "team:everyone"}}"#;
    let first =
        fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&binding(&hash, groups)), None).await;
    assert!(first.location().starts_with("/console/bindings?bound="), "{}: {}", first.status, first.body);
    let second = fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&binding("", "{}")), None).await;
    assert!(second.location().starts_with("/console/bindings?bound="), "{}", second.body);
    let bound = json_call(&app, Method::GET, &uri, Some(&token), None).await.expect(StatusCode::OK, "bindings");
    assert!(bound[0]["assigner"].is_null(), "{bound}");

    // The history lists both, newest first; the older one bound again.
    let page = fetch(&app, Method::GET, "/console/bindings", Some(&cookie), None, None).await;
    let forms: Vec<&str> = page.body.split(r#"<form class="inline""#).skip(1).collect();
    assert_eq!(forms.len(), 2, "{}", page.body);
    let field = |form: &str, name: &str| {
        let value = form.split(&format!(r#"name="{name}" value=""#)).nth(1).and_then(|r| r.split('"').next());
        value.unwrap_or_default().replace("&quot;", "\"")
    };
    let older = forms[1];
    assert_eq!(field(older, "assigner"), hash);
    let again = format!(
        "csrf={csrf}&domain={domain}&provider={provider}&creator=&assigner={hash}&config={}&limits=%7B%7D&failure_policy={}&sync_mode={}",
        field(older, "config")
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace(':', "%3A")
            .replace(' ', "+"),
        field(older, "failure_policy"),
        field(older, "sync_mode"),
    );
    let rolled = fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&again), None).await;
    assert!(rolled.location().starts_with("/console/bindings?bound="), "{}", rolled.body);
    let bound = json_call(&app, Method::GET, &uri, Some(&token), None).await.expect(StatusCode::OK, "bindings");
    assert_eq!(bound[0]["assigner"], hash.as_str(), "{bound}");
    assert_eq!(bound[0]["config"], json!({"groups": {"Eng": "team:everyone"}}), "{bound}");
    assert_eq!(bound[0]["failure_policy"], "fall-back");

    // A canary for a fifth of the logins, set in the form; a share out of
    // range refused; then promoted: its version becomes the bound one.
    let canary = |percent: &str| {
        format!("{}&canary_creator=&canary_assigner={hash}&canary_percent={percent}", binding("", "{}"))
    };
    let refused = fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&canary("250")), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("1 to 100"), "{}", refused.body);
    let set = fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&canary("20")), None).await;
    assert!(set.location().starts_with("/console/bindings?bound="), "{}", set.body);
    let bound = json_call(&app, Method::GET, &uri, Some(&token), None).await.expect(StatusCode::OK, "bindings");
    assert_eq!(bound[0]["canary"], json!({"assigner": hash, "creator": null, "percent": 20}), "{bound}");
    let page = fetch(&app, Method::GET, "/console/bindings", Some(&cookie), None, None).await;
    assert!(page.body.contains("20% of the logins run the candidates below."), "{}", page.body);
    let promote = format!("csrf={csrf}&domain={domain}&provider={provider}&action=promote");
    let promoted = fetch(&app, Method::POST, "/console/bindings/canary", Some(&cookie), Some(&promote), None).await;
    assert!(promoted.location().starts_with("/console/bindings?bound="), "{}", promoted.body);
    let bound = json_call(&app, Method::GET, &uri, Some(&token), None).await.expect(StatusCode::OK, "bindings");
    assert_eq!((bound[0]["assigner"].as_str(), bound[0].get("canary")), (Some(hash.as_str()), None), "{bound}");
    let again = fetch(&app, Method::POST, "/console/bindings/canary", Some(&cookie), Some(&promote), None).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "no canary left to promote: {}", again.body);

    // A shadow assignment provider, set in the form and shown selected;
    // bound again without it, it is gone.
    let shadow = format!("{}&shadow_creator=&shadow_assigner={hash}", binding("", "{}"));
    let set = fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&shadow), None).await;
    assert!(set.location().starts_with("/console/bindings?bound="), "{}", set.body);
    let bound = json_call(&app, Method::GET, &uri, Some(&token), None).await.expect(StatusCode::OK, "bindings");
    assert_eq!(bound[0]["shadow"], json!({"assigner": hash, "creator": null}), "{bound}");
    let page = fetch(&app, Method::GET, "/console/bindings", Some(&cookie), None, None).await;
    assert!(page.body.contains("plugin-shadow-differed"), "the page links the comparisons: {}", page.body);
    // A login with groups (so the assignment hook runs); its comparison
    // (the built-in mapping and the plugin decide alike: agreed) on the
    // event page.
    let token_with_groups = super::raw_token(crate::engine::id_token("sub-ada", "ada@acme.example", true, &["Eng"]));
    let body = json!({"domain": "acme", "id_token": token_with_groups});
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(body)).await;
    login.expect(StatusCode::OK, "login");
    let mut events = serde_json::Value::Null;
    for _ in 0..400 {
        let uri = format!("/v1/orgs/{org}/audit?outcome=plugin-shadow-agreed");
        events = json_call(&app, Method::GET, uri, Some(&token), None).await.expect(StatusCode::OK, "audit");
        if events.as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = events[0]["id"].as_i64().unwrap_or_else(|| panic!("no comparison: {events}"));
    let page = fetch(&app, Method::GET, &format!("/console/audit/{id}"), Some(&cookie), None, None).await;
    let title = format!("Shadow comparison {id}");
    for shown in [title.as_str(), "agreed", "The shadow call: decision", &hash[..12]] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    let set = fetch(&app, Method::POST, "/console/bindings", Some(&cookie), Some(&binding("", "{}")), None).await;
    assert!(set.location().starts_with("/console/bindings?bound="), "{}", set.body);
    let bound = json_call(&app, Method::GET, &uri, Some(&token), None).await.expect(StatusCode::OK, "bindings");
    assert!(bound[0].get("shadow").is_none(), "{bound}");
    store.close().await;
}

/// Members locked and unlocked here, searched by email; invitations sent,
/// refused with the API's reason, and revoked; another organization's
/// invitation cannot be revoked.
#[tokio::test]
async fn accounts_and_invitations() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, _, _) = tenant(&app, "acme").await;
    let (globex, globex_token, _, _) = tenant(&app, "globex").await;
    for email in ["jane@acme.example", "bob@acme.example"] {
        json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", email)))
            .await
            .expect(StatusCode::OK, email);
    }
    let signed = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&token)), None).await;
    let cookie = signed.cookie();
    let page = fetch(&app, Method::GET, "/console/accounts", Some(&cookie), None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("jane@acme.example") && page.body.contains("bob@acme.example"), "{}", page.body);
    let csrf = page.csrf();
    let found = fetch(&app, Method::GET, "/console/accounts?email=ja", Some(&cookie), None, None).await;
    assert!(found.body.contains("jane@acme.example") && !found.body.contains("bob@acme.example"), "{}", found.body);
    let none = fetch(&app, Method::GET, "/console/accounts?email=zz", Some(&cookie), None, None).await;
    assert!(none.body.contains("No member matches."), "{}", none.body);

    // Lock jane here: her next login is refused, then unlock.
    let row = page.body.split("<tr>").find(|r| r.contains("jane@acme.example")).unwrap_or_default();
    let jane = row.split("/console/accounts/").nth(1).and_then(|s| s.split('/').next()).unwrap_or_default().to_owned();
    let lock = format!("/console/accounts/{jane}/lock");
    let forged = fetch(&app, Method::POST, &lock, Some(&cookie), Some("csrf=nope"), None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let locked = fetch(&app, Method::POST, &lock, Some(&cookie), Some(&format!("csrf={csrf}")), None).await;
    assert_eq!(locked.location(), "/console/accounts", "{}", locked.body);
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    assert_eq!(login.body["code"], "account-suspended", "{}", login.body);
    let page = fetch(&app, Method::GET, "/console/accounts", Some(&cookie), None, None).await;
    assert!(page.body.contains(&format!("/console/accounts/{jane}/unlock")), "{}", page.body);
    let unlock = format!("/console/accounts/{jane}/unlock");
    fetch(&app, Method::POST, &unlock, Some(&cookie), Some(&format!("csrf={csrf}")), None).await;
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    login.expect(StatusCode::OK, "unlocked");

    // Her logins, from the accounts page's link: the API's account filter.
    assert!(page.body.contains(&format!("/console/audit?account={jane}&amp;hours=720")), "{}", page.body);
    let theirs =
        fetch(&app, Method::GET, &format!("/console/audit?account={jane}&hours=720"), Some(&cookie), None, None).await;
    assert!(theirs.body.contains("account-suspended") && theirs.body.contains(">success<"), "{}", theirs.body);
    let audit = format!("/v1/orgs/{org}/audit?account={jane}");
    let events = json_call(&app, Method::GET, &audit, Some(&token), None).await.expect(StatusCode::OK, "audit");
    let events = events.as_array().cloned().unwrap_or_default();
    assert!(events.len() >= 3 && events.iter().all(|e| e["account"] == jane.as_str()), "{events:?}");

    // Invitations: a refused one says why; one sent, then revoked.
    let bad = format!("csrf={csrf}&email=not-an-email&team=");
    let refused = fetch(&app, Method::POST, "/console/accounts/invitations", Some(&cookie), Some(&bad), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
    let invite = format!("csrf={csrf}&email=new%40acme.example&team=");
    let sent = fetch(&app, Method::POST, "/console/accounts/invitations", Some(&cookie), Some(&invite), None).await;
    assert_eq!(sent.location(), "/console/accounts", "{}", sent.body);
    let page = fetch(&app, Method::GET, "/console/accounts", Some(&cookie), None, None).await;
    let revoke = page
        .body
        .split("action=\"")
        .find(|s| s.starts_with("/console/accounts/invitations/"))
        .and_then(|s| s.split('"').next());
    let revoke = revoke.unwrap_or_else(|| panic!("no revoke form: {}", page.body)).to_owned();
    let done = fetch(&app, Method::POST, &revoke, Some(&cookie), Some(&format!("csrf={csrf}")), None).await;
    assert_eq!(done.location(), "/console/accounts", "{}", done.body);
    let list = json_call(&app, Method::GET, format!("/v1/orgs/{org}/invitations"), Some(&token), None).await;
    assert_eq!(list.expect(StatusCode::OK, "invitations")[0]["state"], "revoked");

    // Globex's invitation: Acme's token cannot revoke it.
    let theirs = json!({"email": "x@globex.example"});
    let theirs =
        json_call(&app, Method::POST, format!("/v1/orgs/{globex}/invitations"), Some(&globex_token), Some(theirs))
            .await;
    let id = theirs.expect(StatusCode::CREATED, "invite")["id"].as_str().unwrap_or_default().to_owned();
    let uri = format!("/v1/orgs/{org}/invitations/{id}");
    json_call(&app, Method::DELETE, uri, Some(&token), None).await.error(StatusCode::NOT_FOUND, "not-found", "foreign");
    let uri = format!("/v1/orgs/{globex}/invitations/{id}");
    json_call(&app, Method::DELETE, uri, Some(&token), None).await.error(StatusCode::NOT_FOUND, "not-found", "scope");
    store.close().await;
}

/// The domains page: settings saved, providers reordered, a provider's
/// settings changed with its secret never shown and, left out, kept.
#[tokio::test]
async fn domains_and_providers() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, okta) = tenant(&app, "acme").await;
    let ldap = json!({"name": "corp", "kind": "ldap", "config": {
        "urls": ["ldap://127.0.0.1:1"], "bind_dn": "cn=svc,dc=acme", "bind_password": "very-secret-service-pw",
        "base_dn": "dc=acme",
    }});
    let uri = format!("/v1/orgs/{org}/domains/{domain}/providers");
    let corp = json_call(&app, Method::POST, uri, Some(&token), Some(ldap)).await.expect(StatusCode::CREATED, "ldap");
    let corp = corp["id"].as_str().unwrap_or_default().to_owned();
    let signed = fetch(&app, Method::POST, "/console/sign-in", None, Some(&form_token(&token)), None).await;
    let cookie = signed.cookie();
    let page = fetch(&app, Method::GET, "/console/domains", Some(&cookie), None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("acme.example") && page.body.contains("verified"), "{}", page.body);
    assert!(page.body.contains("cn=svc,dc=acme") && !page.body.contains("very-secret-service-pw"), "{}", page.body);
    let csrf = page.csrf();
    let path = format!("/v1/orgs/{org}/domains/{domain}");

    let off = format!("csrf={csrf}&domain={domain}&default_team=&email_domains=acme.example");
    let saved = fetch(&app, Method::POST, "/console/domains/settings", Some(&cookie), Some(&off), None).await;
    assert_eq!(saved.location(), "/console/domains", "{}", saved.body);
    let now = json_call(&app, Method::GET, &path, Some(&token), None).await.expect(StatusCode::OK, "domain");
    assert_eq!((now["jit"].clone(), now["default_team"].clone()), (json!(false), json!(null)), "{now}");

    let up = format!("csrf={csrf}&domain={domain}&provider={corp}&direction=up");
    let moved = fetch(&app, Method::POST, "/console/domains/order", Some(&cookie), Some(&up), None).await;
    assert_eq!(moved.location(), "/console/domains", "{}", moved.body);
    let now = json_call(&app, Method::GET, &path, Some(&token), None).await.expect(StatusCode::OK, "domain");
    let mut providers: Vec<(i64, String)> = now["providers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p["position"].as_i64().unwrap_or(0), p["id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    providers.sort();
    assert_eq!(providers.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(), [corp.clone(), okta.clone()]);

    let bad = format!("csrf={csrf}&domain={domain}&provider={corp}&config=%5B1%5D");
    let refused = fetch(&app, Method::POST, "/console/domains/provider", Some(&cookie), Some(&bad), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("The settings must be a JSON object."), "{}", refused.body);
    let new =
        json!({"urls": ["ldap://127.0.0.1:2"], "bind_dn": "cn=svc,dc=acme", "base_dn": "dc=acme", "timeout_ms": 500});
    let form = format!("csrf={csrf}&domain={domain}&provider={corp}&config={}", encode(&new.to_string()));
    let changed = fetch(&app, Method::POST, "/console/domains/provider", Some(&cookie), Some(&form), None).await;
    assert_eq!(changed.location(), "/console/domains", "{}", changed.body);
    let stored = store.domain_by_name("acme").await.ok().flatten().unwrap_or_else(|| panic!("domain"));
    let stored = stored.providers.iter().find(|p| p.id.as_str() == corp).map(|p| p.config.clone()).unwrap_or_default();
    assert!(
        stored.contains("127.0.0.1:2") && stored.contains("very-secret-service-pw"),
        "the password was kept: {stored}"
    );
    store.close().await;
}
