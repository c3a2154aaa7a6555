//! The playground route: a plugin run on a principal, judged against the
//! organization, writing nothing; and, first, what another organization
//! tries with it.

use crate::plugins;
use axum::Router;
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};

use super::{config, id_login, json_call, organization, state, tenant, upload};
use crate::{TestDatabase, component, root};

/// A recorded principal, as JSON.
fn principal(name: &str) -> Value {
    let path = root().join(format!("examples/principals/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn run(app: &Router, org: &str, token: &str, body: Value) -> super::Answer {
    json_call(app, Method::POST, format!("/v1/orgs/{org}/playground"), Some(token), Some(body)).await
}

/// What the store holds for an organization, as its admin API lists it.
async fn holdings(app: &Router, org: &str, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for what in ["plugins", "accounts", "audit?limit=1000", "invitations", "teams"] {
        let uri = format!("/v1/orgs/{org}/{what}");
        all.push(json_call(app, Method::GET, uri, Some(token), None).await.expect(StatusCode::OK, what));
    }
    all
}

fn hash(uploaded: &Value) -> String {
    uploaded["plugin"]["hash"].as_str().unwrap_or_default().to_owned()
}

/// Globex, with its own valid token, tries Acme's plugin (by hash), Acme's
/// binding, Acme's organization, and limits above the ceilings: each is
/// refused exactly as something that does not exist would be, and Acme's
/// store is unchanged.
#[tokio::test]
async fn another_organization_cannot_run_what_is_not_its_own() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (acme, acme_token, domain, provider) = tenant(&app, "acme").await;
        let (globex, globex_token) = organization(&app, "globex").await;
        let creator = upload(&app, &acme, &acme_token, component(plugins::DEFAULT_CREATOR)).await;
        let creator = hash(&creator.expect(StatusCode::CREATED, "acme uploads"));
        let bind = json!({"creator": creator, "config": {"digits": 2}});
        let path = format!("/v1/orgs/{acme}/domains/{domain}/bindings/{provider}");
        json_call(&app, Method::PUT, path, Some(&acme_token), Some(bind)).await.expect(StatusCode::OK, "bind");
        let before = holdings(&app, &acme, &acme_token).await;

        let never =
            run(&app, &globex, &globex_token, json!({"plugin": "ab".repeat(32), "principal": principal("okta")}));
        let never = never.await.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "a hash never uploaded");
        let theirs = run(&app, &globex, &globex_token, json!({"plugin": creator, "principal": principal("okta")}));
        let theirs = theirs.await.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "acme's hash");
        assert_eq!(
            theirs["message"].as_str().map(|m| m.replace(&creator, "H")),
            never["message"].as_str().map(|m| m.replace(&"ab".repeat(32), "H")),
            "acme's hash is refused exactly like one never uploaded"
        );

        // Globex's own plugin, with Acme's binding named.
        let own = upload(&app, &globex, &globex_token, component(plugins::DEFAULT_CREATOR)).await;
        let own = hash(&own.expect(StatusCode::CREATED, "globex uploads the same bytes"));
        let binding = json!({"domain": domain, "provider": provider});
        let body = json!({"plugin": own, "principal": principal("okta"), "binding": binding});
        run(&app, &globex, &globex_token, body).await.error(StatusCode::NOT_FOUND, "not-found", "acme's binding");

        // Acme's organization in the path, with Globex's token.
        let body = json!({"plugin": creator, "principal": principal("okta")});
        run(&app, &acme, &globex_token, body).await.error(StatusCode::NOT_FOUND, "not-found", "acme's path");

        // Limits above the operator's ceilings.
        let body = json!({"plugin": own, "principal": principal("okta"), "limits": {"wall_time": 3_600_000}});
        let above = run(&app, &globex, &globex_token, body).await;
        let above = above.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "above the ceiling");
        assert!(above["message"].as_str().is_some_and(|m| m.contains("wall_time")), "{above}");

        assert_eq!(holdings(&app, &acme, &acme_token).await, before, "acme's store is unchanged");
        store.close().await;
        db.cleanup().await;
    }
}

/// A run answers the decision, the host's verdict on it (against the
/// organization's real teams), the limits and what the call cost, and
/// writes nothing: no account, no membership, no audit event, no plugin
/// version for a component tried without being stored.
#[tokio::test]
async fn a_run_judges_the_decision_and_writes_nothing() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, provider) = tenant(&app, "acme").await;
        let mapper = upload(&app, &org, &token, component(plugins::GROUP_MAPPER)).await;
        let mapper = hash(&mapper.expect(StatusCode::CREATED, "upload"));
        let config = json!({"groups.Engineering": "team:everyone", "groups.oncall-admins": "team:no-such-team"});
        let bind = json!({"assigner": mapper, "config": config, "limits": {"fuel": 20_000_000}});
        let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
        json_call(&app, Method::PUT, path, Some(&token), Some(bind)).await.expect(StatusCode::OK, "bind");
        let before = holdings(&app, &org, &token).await;

        // The binding's configuration and limits: a team that does not exist is refused.
        let binding = json!({"domain": domain, "provider": provider});
        let body = json!({"plugin": mapper, "principal": principal("okta"), "binding": binding});
        let answer = run(&app, &org, &token, body).await.expect(StatusCode::OK, "run on the binding");
        assert_eq!(answer["limits"]["fuel"], 20_000_000, "{answer}");
        assert_eq!(answer["plugin"]["hash"], mapper.as_str());
        assert!(answer["create"].is_null(), "an assignment provider only: {answer}");
        let assign = &answer["assign"];
        assert_eq!(assign["decision"], json!([{"team": "everyone"}, {"team": "no-such-team"}]), "{answer}");
        assert_eq!(assign["judged"]["refused"], "assignment-unknown-team", "{answer}");
        assert_eq!(assign["judged"]["refused_at"], 1, "{answer}");
        assert!(assign["stats"]["fuel_used"].as_u64().is_some_and(|f| f > 0 && f < 20_000_000), "{answer}");
        assert!(assign["stats"]["peak_memory_bytes"].as_u64().is_some_and(|m| m > 0), "{answer}");

        // Its own configuration instead: accepted.
        let body = json!({"plugin": mapper, "principal": principal("okta"), "binding": binding,
                          "config": {"groups.Engineering": "team:everyone"}});
        let answer = run(&app, &org, &token, body).await.expect(StatusCode::OK, "run with its own config");
        assert_eq!(answer["assign"]["decision"], json!([{"team": "everyone"}]), "{answer}");
        assert_eq!(answer["assign"]["judged"]["refused"], Value::Null, "{answer}");
        assert_eq!(answer["limits"]["fuel"], 20_000_000, "the binding's limits still: {answer}");

        // A component that is not stored: a trap, with its backtrace.
        let panic = base64::engine::general_purpose::STANDARD.encode(component(plugins::HOSTILE_PANIC));
        let body = json!({"component": panic, "principal": principal("google")});
        let answer = run(&app, &org, &token, body).await.expect(StatusCode::OK, "a one-off component");
        let failure = &answer["create"]["failure"];
        assert_eq!(failure["kind"], "trap", "{answer}");
        let frames = failure["backtrace"].as_array().cloned().unwrap_or_default();
        assert!(frames.iter().any(|f| f.as_str().is_some_and(|f| f.contains("explode"))), "{answer}");

        // Custom limits: the log flood is stopped by its log limit.
        let flood = base64::engine::general_purpose::STANDARD.encode(component(plugins::HOSTILE_LOG_FLOOD));
        let body = json!({"component": flood, "principal": principal("google"), "limits": {"log_bytes": 4096}});
        let answer = run(&app, &org, &token, body).await.expect(StatusCode::OK, "custom limits");
        assert_eq!(answer["limits"]["log_bytes"], 4096, "{answer}");
        assert_eq!(answer["create"]["failure"]["kind"], "limit-exceeded", "{answer}");
        let logs = answer["create"]["stats"]["logs"].as_array().map_or(0, Vec::len);
        assert!((1..=4).contains(&logs), "the lines within 4 KiB are kept: {logs}: {answer}");

        assert_eq!(holdings(&app, &org, &token).await, before, "nothing was written");
        store.close().await;
        db.cleanup().await;
    }
}

/// A login's audit event keeps the principal the plugins saw; run again in
/// the playground it gives the decision the login took.
#[tokio::test]
async fn a_past_logins_principal_runs_again() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let creator = upload(&app, &org, &token, component(plugins::DEFAULT_CREATOR)).await;
    let creator = hash(&creator.expect(StatusCode::CREATED, "upload"));
    let bind = json!({"creator": creator, "config": {"digits": 0}});
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    json_call(&app, Method::PUT, path, Some(&token), Some(bind)).await.expect(StatusCode::OK, "bind");
    let login = json_call(&app, Method::POST, "/v1/login", None, Some(id_login("acme", "jane@acme.example"))).await;
    let login = login.expect(StatusCode::OK, "login");

    let events = json_call(&app, Method::GET, format!("/v1/orgs/{org}/audit?outcome=success"), Some(&token), None);
    let events = events.await.expect(StatusCode::OK, "audit");
    let recorded = &events[0]["detail"]["principal"];
    assert_eq!(recorded["email"], "jane@acme.example", "{events}");
    assert_eq!(recorded["subject"], "sub-jane@acme.example", "{events}");
    assert!(!events.to_string().contains("eyJ"), "no token in the audit: {events}");

    let binding = json!({"domain": domain, "provider": provider});
    let body = json!({"plugin": creator, "principal": recorded, "binding": binding});
    let answer = run(&app, &org, &token, body).await.expect(StatusCode::OK, "run the recorded principal");
    let created = &answer["create"]["decision"]["create"];
    assert_eq!(created["username_hint"], login["account"]["username"], "the same decision: {answer}");
    assert_eq!(answer["create"]["judged"]["refused"], Value::Null, "{answer}");
    store.close().await;
}

/// Malformed requests get a precise 400 or 422, never a 500.
#[tokio::test]
async fn malformed_runs_are_refused_precisely() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token) = organization(&app, "acme").await;
    let okta = principal("okta");
    let mapper =
        hash(&upload(&app, &org, &token, component(plugins::GROUP_MAPPER)).await.expect(StatusCode::CREATED, "up"));
    let cases = [
        (json!({"principal": okta}), StatusCode::BAD_REQUEST, "exactly one of"),
        (json!({"plugin": mapper, "component": "AAAA", "principal": okta}), StatusCode::BAD_REQUEST, "exactly one of"),
        (json!({"component": "not base64!", "principal": okta}), StatusCode::BAD_REQUEST, "not base64"),
        (
            json!({"component": "bm90IHdhc20=", "principal": okta}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a WebAssembly",
        ),
        (json!({"plugin": mapper}), StatusCode::BAD_REQUEST, "principal"),
        (json!({"plugin": mapper, "principal": {"email": "x@y"}}), StatusCode::BAD_REQUEST, "missing field"),
        (json!({"plugin": mapper, "principal": okta, "hooks": "all"}), StatusCode::BAD_REQUEST, "unknown variant"),
        (
            json!({"plugin": mapper, "principal": okta, "limits": {"speed": 1}}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (json!({"plugin": mapper, "principal": okta, "config": []}), StatusCode::UNPROCESSABLE_ENTITY, "configuration"),
        (json!({"plugin": mapper, "principal": okta, "extra": 1}), StatusCode::BAD_REQUEST, "unknown field"),
    ];
    for (body, status, says) in cases {
        let answer = run(&app, &org, &token, body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert!(answer.body["message"].as_str().is_some_and(|m| m.contains(says)), "{body}: {}", answer.body);
    }
    store.close().await;
}
