//! Changing a plugin safely: guest logs kept in the audit, principals kept
//! for their retention only, a circuit breaker per bound plugin, and replay of
//! past logins through candidate versions, reporting exactly the planted
//! differences and writing nothing; first, what another organization tries.

use crate::plugins;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{config, json_call, raw_token, state, tenant, upload};
use crate::engine::id_token;
use crate::{TestDatabase, component};
use provisio::auth::{Argon2Params, AuthServices, ManualClock};
use provisio::engine::{BreakerPolicy, Host};

fn hash(uploaded: Value) -> String {
    uploaded["plugin"]["hash"].as_str().unwrap_or_default().to_owned()
}

async fn login(app: &Router, domain: &str, email: &str, groups: &[&str]) -> super::Answer {
    let token = raw_token(id_token(&format!("sub-{email}"), email, true, groups));
    json_call(app, Method::POST, "/v1/login", None, Some(json!({"domain": domain, "id_token": token}))).await
}

async fn replay(app: &Router, org: &str, token: &str, body: Value) -> super::Answer {
    json_call(app, Method::POST, format!("/v1/orgs/{org}/replay"), Some(token), Some(body)).await
}

/// 90 first logins, every third in `Engineering`, decided by the example
/// plugins; replayed through `noop` (which denies every creation and
/// assigns nothing) the report is exactly what was planted: 30 logins lose
/// `team engineering` and `role developer`, 90 creations become denials;
/// the live versions themselves change nothing. Globex can replay neither
/// Acme's logins nor with Acme's versions, and nothing is written.
#[tokio::test]
async fn replay_reports_exactly_the_planted_differences() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, provider) = tenant(&app, "acme").await;
        let t = Some(token.as_str());
        for (what, name) in [("teams", "engineering"), ("roles", "developer")] {
            let uri = format!("/v1/orgs/{org}/{what}");
            json_call(&app, Method::POST, uri, t, Some(json!({"name": name}))).await.expect(StatusCode::CREATED, what);
        }
        let mut hashes = Vec::new();
        for plugin in [plugins::DEFAULT_CREATOR, plugins::GROUP_MAPPER, plugins::NOOP] {
            hashes.push(hash(upload(&app, &org, &token, component(plugin)).await.expect(StatusCode::CREATED, plugin)));
        }
        let (creator, mapper, noop) = (&hashes[0], &hashes[1], &hashes[2]);
        let config = json!({"digits": 0, "groups": {"Engineering": "team:engineering, role:developer"}});
        let bind = json!({"creator": creator, "assigner": mapper, "config": config});
        let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
        json_call(&app, Method::PUT, path, t, Some(bind)).await.expect(StatusCode::OK, "bind");
        for i in 0..90 {
            let groups: &[&str] = if i % 3 == 0 { &["Engineering", "Everyone"] } else { &["Everyone"] };
            login(&app, "acme", &format!("person{i}@acme.example"), groups).await.expect(StatusCode::OK, "login");
        }
        let holdings = |app: Router| {
            let (org, token) = (org.clone(), token.clone());
            async move {
                let mut all = Vec::new();
                for what in ["accounts", "audit?limit=1000", "plugins"] {
                    let uri = format!("/v1/orgs/{org}/{what}");
                    all.push(json_call(&app, Method::GET, uri, Some(&token), None).await.expect(StatusCode::OK, what));
                }
                all
            }
        };
        let before = holdings(app.clone()).await;

        let body = json!({"domain": domain, "provider": provider, "assigner": noop});
        let report = replay(&app, &org, &token, body).await.expect(StatusCode::OK, "replay the assigner");
        assert_eq!(report["logins"], 90, "{report}");
        assert_eq!(report["changed"], 30, "{report}");
        assert_eq!(
            report["memberships"],
            json!([
                {"kind": "role", "name": "developer", "added": 0, "removed": 30},
                {"kind": "team", "name": "engineering", "added": 0, "removed": 30},
            ]),
            "{report}"
        );
        let example = &report["examples"][0];
        assert!(example["email"].as_str().is_some_and(|e| e.ends_with("@acme.example")), "{report}");
        assert_eq!(example["after"]["assignments"], json!([]), "{report}");
        let changes = json!(["team \"engineering\" removed", "role \"developer\" removed"]);
        assert_eq!(example["changes"], changes, "{report}");
        assert_eq!(report["examples"].as_array().map(Vec::len), Some(10), "{report}");

        let body = json!({"domain": domain, "provider": provider, "creator": noop});
        let report = replay(&app, &org, &token, body).await.expect(StatusCode::OK, "replay the creator");
        assert_eq!(report["changed"], 90, "{report}");
        assert_eq!(report["creations"]["created_then_denied"], 90, "{report}");

        let body = json!({"domain": domain, "provider": provider, "creator": creator, "assigner": mapper, "limit": 50});
        let report = replay(&app, &org, &token, body).await.expect(StatusCode::OK, "replay the live versions");
        assert_eq!((report["logins"].as_u64(), report["changed"].as_u64()), (Some(50), Some(0)), "{report}");

        // Globex: Acme's domain is not found, Acme's versions are not its own,
        // and its own domain has none of Acme's logins.
        let (globex, globex_token, globex_domain, globex_provider) = tenant(&app, "globex").await;
        let body = json!({"domain": domain, "provider": provider, "assigner": noop});
        replay(&app, &globex, &globex_token, body).await.error(StatusCode::NOT_FOUND, "not-found", "acme's domain");
        let body = json!({"domain": globex_domain, "provider": globex_provider, "assigner": noop});
        let theirs = replay(&app, &globex, &globex_token, body).await;
        theirs.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "acme's version");
        let own = hash(
            upload(&app, &globex, &globex_token, component(plugins::NOOP)).await.expect(StatusCode::CREATED, "up"),
        );
        let body = json!({"domain": globex_domain, "provider": globex_provider, "assigner": own});
        let report = replay(&app, &globex, &globex_token, body).await.expect(StatusCode::OK, "globex's own");
        assert_eq!(report["logins"], 0, "none of acme's logins: {report}");

        // Malformed: no candidate; a creator in the assigner's place.
        let body = json!({"domain": domain, "provider": provider});
        replay(&app, &org, &token, body).await.error(StatusCode::BAD_REQUEST, "bad-request", "no candidate");
        let body = json!({"domain": domain, "provider": provider, "assigner": creator});
        replay(&app, &org, &token, body).await.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "wrong slot");

        assert_eq!(holdings(app.clone()).await, before, "nothing was written");
        store.close().await;
        db.cleanup().await;
    }
}

/// Each hook's guest log lines are kept in the login's audit event, cut at
/// the binding's log limit with the cut marked.
#[tokio::test]
async fn guest_logs_are_kept_in_the_audit_up_to_their_limit() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    let markup =
        hash(upload(&app, &org, &token, component(plugins::HOSTILE_MARKUP)).await.expect(StatusCode::CREATED, "up"));
    let bind = json!({"creator": markup});
    json_call(&app, Method::PUT, &path, Some(&token), Some(bind)).await.expect(StatusCode::OK, "bind");
    login(&app, "acme", "jane@acme.example", &[]).await;
    let denied = events(&app, &org, &token, "denied").await;
    let hook = &denied[0]["detail"]["hooks"][0];
    assert_eq!(hook["logs"][0]["level"], "warn", "{denied:?}");
    assert!(hook["logs"][0]["message"].as_str().is_some_and(|m| m.contains("<script>")), "{denied:?}");
    assert!(hook.get("logs_truncated").is_none(), "not cut: {denied:?}");

    let flood =
        hash(upload(&app, &org, &token, component(plugins::HOSTILE_LOG_FLOOD)).await.expect(StatusCode::CREATED, "up"));
    let bind = json!({"creator": flood, "limits": {"log_bytes": 4096}});
    json_call(&app, Method::PUT, &path, Some(&token), Some(bind)).await.expect(StatusCode::OK, "bind");
    login(&app, "acme", "john@acme.example", &[]).await;
    let failed = json_call(&app, Method::GET, format!("/v1/orgs/{org}/audit?limit=1"), Some(&token), None).await;
    let failed = failed.expect(StatusCode::OK, "audit");
    let hook = &failed[0]["detail"]["hooks"][0];
    assert_eq!(hook["outcome"], "limit-exceeded", "{failed}");
    let lines = hook["logs"].as_array().map_or(0, Vec::len);
    assert!((1..=4).contains(&lines), "within 4 KiB: {lines}: {failed}");
    assert_eq!(hook["logs_truncated"], true, "the cut is marked: {failed}");
    store.close().await;
}

/// A login's audit event keeps its principal for the retention only: with
/// the clock moved past it, the principal is removed and the rest of the
/// event stays, on both backends.
#[tokio::test]
async fn principals_are_removed_from_the_audit_after_their_retention() {
    const DAY: Duration = Duration::from_secs(86_400);
    for db in TestDatabase::all() {
        let store = db.open().await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let auth = AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).clock(clock.clone()).build();
        let auth = auth.unwrap_or_else(|e| panic!("{e}"));
        let host = Host::builder().store(store.clone()).runtime(crate::runtime()).auth_services(Arc::new(auth)).build();
        let host = host.await.unwrap_or_else(|e| panic!("{e}"));
        let app = provisio::http::router(
            provisio::http::AppState::new(host.clone(), config()).unwrap_or_else(|e| panic!("{e}")),
        );
        let (org, token, _, _) = tenant(&app, "acme").await;
        login(&app, "acme", "jane@acme.example", &["Everyone"]).await.expect(StatusCode::OK, "login");
        let events = || {
            let (app, org, token) = (app.clone(), org.clone(), token.clone());
            async move {
                let uri = format!("/v1/orgs/{org}/audit?outcome=success");
                json_call(&app, Method::GET, uri, Some(&token), None).await.expect(StatusCode::OK, "audit")
            }
        };
        assert_eq!(events().await[0]["detail"]["principal"]["email"], "jane@acme.example");

        let retention = 30 * DAY;
        assert_eq!(host.forget_audit_principals(retention).await.ok(), Some(0), "kept within the retention");
        clock.advance(29 * DAY);
        assert_eq!(host.forget_audit_principals(retention).await.ok(), Some(0), "kept on day 29");
        clock.advance(2 * DAY);
        assert_eq!(host.forget_audit_principals(retention).await.ok(), Some(1), "removed on day 31");
        let after = events().await;
        let detail = &after[0]["detail"];
        assert!(detail.get("principal").is_none(), "{after}");
        assert!(detail["hooks"].is_array() && detail["decisions"].is_object(), "the rest stays: {after}");
        assert_eq!(after[0]["outcome"], "success");
        assert_eq!(host.forget_audit_principals(retention).await.ok(), Some(0), "nothing left to remove");
        store.close().await;
        db.cleanup().await;
    }
}

/// A host on `store` whose clock the test moves, and whose circuits open
/// when more than half of a plugin's last four calls failed, for a minute;
/// its app.
async fn clocked(store: &provisio::store::Store) -> (provisio::engine::Host, Router, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let auth = AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).clock(clock.clone()).build();
    let auth = auth.unwrap_or_else(|e| panic!("{e}"));
    let policy = BreakerPolicy { window: 4, min_calls: 4, failure_share: 0.5, cooldown: Duration::from_secs(60) };
    let host = Host::builder().store(store.clone()).runtime(crate::runtime()).auth_services(Arc::new(auth));
    let host = host.breaker(policy).build().await.unwrap_or_else(|e| panic!("{e}"));
    let state = provisio::http::AppState::new(host.clone(), config()).unwrap_or_else(|e| panic!("{e}"));
    (host, provisio::http::router(state), clock)
}

/// A bound plugin that fails on more than half of its last four calls has
/// its circuit opened: the next logins apply the failure policy without
/// calling it (audited `<hook>-circuit-open`, no fuel spent); after the
/// cool-down one call goes through and, succeeding, closes it. Each change
/// is audited and counted in `/metrics`.
#[tokio::test]
async fn a_failing_plugins_circuit_opens_sheds_half_opens_and_closes() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let (_, app, clock) = clocked(&store).await;
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let mapper =
        hash(upload(&app, &org, &token, component(plugins::GROUP_MAPPER)).await.expect(StatusCode::CREATED, "up"));
    // People in `Bad` make the mapper fail (a malformed item); in `Good` it decides.
    let bind = json!({"assigner": mapper, "config": {"groups": {"Bad": "squad:x", "Good": "team:everyone"}}});
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    json_call(&app, Method::PUT, path, Some(&token), Some(bind)).await.expect(StatusCode::OK, "bind");
    let latest = |outcome: Option<&'static str>| {
        let (app, org, token) = (app.clone(), org.clone(), token.clone());
        async move {
            let filter = outcome.map(|o| format!("&outcome={o}")).unwrap_or_default();
            let uri = format!("/v1/orgs/{org}/audit?limit=1{filter}");
            let events = json_call(&app, Method::GET, uri, Some(&token), None).await.expect(StatusCode::OK, "audit");
            events[0].clone()
        }
    };

    for i in 0..4 {
        let failed = login(&app, "acme", &format!("bad{i}@acme.example"), &["Bad"]).await;
        assert_ne!(failed.status, StatusCode::OK, "the mapper fails, the binding fails closed");
    }
    let opened = latest(Some("plugin-circuit-opened")).await;
    assert_eq!(
        (opened["detail"]["failures"].as_u64(), opened["detail"]["calls"].as_u64()),
        (Some(4), Some(4)),
        "{opened}"
    );
    assert_eq!(opened["detail"]["plugin"], mapper.as_str(), "{opened}");

    // Open: a person the mapper would serve is refused without calling it.
    let shed = login(&app, "acme", "good1@acme.example", &["Good"]).await;
    assert_ne!(shed.status, StatusCode::OK);
    let event = latest(None).await;
    assert_eq!(event["rule"], "assign-circuit-open", "{event}");
    let hook = &event["detail"]["hooks"][1];
    assert_eq!((hook["outcome"].as_str(), hook["fuel"].as_u64()), (Some("circuit-open"), Some(0)), "{event}");

    // Globex binds the same version (the same bytes, the same hash): its
    // circuit is its own, closed, and its people are served meanwhile.
    let (globex, globex_token, globex_domain, globex_provider) = tenant(&app, "globex").await;
    let same = hash(
        upload(&app, &globex, &globex_token, component(plugins::GROUP_MAPPER)).await.expect(StatusCode::CREATED, "up"),
    );
    assert_eq!(same, mapper, "the same version");
    let bind = json!({"assigner": same, "config": {"groups": {"Good": "team:everyone"}}});
    let theirs = format!("/v1/orgs/{globex}/domains/{globex_domain}/bindings/{globex_provider}");
    json_call(&app, Method::PUT, theirs, Some(&globex_token), Some(bind)).await.expect(StatusCode::OK, "bind");
    login(&app, "globex", "ann@globex.example", &["Good"]).await.expect(StatusCode::OK, "globex's circuit is closed");

    // After the cool-down, one call goes through; it succeeds and closes the circuit.
    clock.advance(Duration::from_secs(61));
    login(&app, "acme", "good2@acme.example", &["Good"]).await.expect(StatusCode::OK, "the probe");
    let closed = latest(Some("plugin-circuit-closed")).await;
    assert_eq!(closed["detail"]["hook"], "assign", "{closed}");
    login(&app, "acme", "good3@acme.example", &["Good"]).await.expect(StatusCode::OK, "closed again");

    let metrics = json_call(&app, Method::GET, "/metrics", None, None).await;
    let metrics = metrics.body.as_str().unwrap_or_default().to_owned();
    for change in ["plugin-circuit-opened", "plugin-circuit-closed"] {
        let line = format!("provisio_plugin_circuit_changes_total{{hook=\"assign\",change=\"{change}\"}} 1");
        assert!(metrics.contains(&line), "{line}: {metrics}");
    }
    store.close().await;
}

/// A canary serves exactly the people whose stable bucket is below its
/// percent (each keeps their version at every login), its hook records say
/// so, and promote and abort take effect at the next login. Globex can
/// neither set a canary with Acme's versions nor touch Acme's binding.
#[tokio::test]
async fn a_canary_serves_its_share_stably_and_is_promoted_or_aborted() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, provider) = tenant(&app, "acme").await;
        let t = Some(token.as_str());
        let creator = hash(
            upload(&app, &org, &token, component(plugins::DEFAULT_CREATOR)).await.expect(StatusCode::CREATED, "up"),
        );
        let noop = hash(upload(&app, &org, &token, component(plugins::NOOP)).await.expect(StatusCode::CREATED, "up"));
        let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
        let bind = json!({"creator": creator, "canary": {"creator": noop, "percent": 50}});
        let bound = json_call(&app, Method::PUT, &path, t, Some(bind)).await.expect(StatusCode::OK, "bind a canary");
        assert_eq!(bound["canary"]["percent"], 50, "{bound}");

        // `noop` denies every creation: the canary's people are denied, the others created.
        let people: Vec<String> = (0..40).map(|i| format!("person{i}@acme.example")).collect();
        let in_canary = |email: &str| provisio::engine::canary_bucket("okta", &format!("sub-{email}")) < 50;
        let canary_people = people.iter().filter(|p| in_canary(p)).count();
        assert!((10..=30).contains(&canary_people), "{canary_people} of 40");
        for round in 0..2 {
            for email in &people {
                let answer = login(&app, "acme", email, &[]).await;
                let expected = if in_canary(email) { StatusCode::FORBIDDEN } else { StatusCode::OK };
                assert_eq!(answer.status, expected, "round {round}, {email}: {}", answer.body);
            }
        }
        let denied =
            json_call(&app, Method::GET, format!("/v1/orgs/{org}/audit?outcome=denied&limit=1"), t, None).await;
        let denied = denied.expect(StatusCode::OK, "audit");
        let hook = &denied[0]["detail"]["hooks"][0];
        assert_eq!((hook["plugin"].as_str(), hook["canary"].as_bool()), (Some(noop.as_str()), Some(true)), "{denied}");

        // Globex: not with Acme's versions, not on Acme's binding.
        let (globex, globex_token, globex_domain, globex_provider) = tenant(&app, "globex").await;
        let theirs = format!("/v1/orgs/{globex}/domains/{globex_domain}/bindings/{globex_provider}");
        let bind = json!({"canary": {"creator": noop, "percent": 10}});
        let refused = json_call(&app, Method::PUT, theirs, Some(&globex_token), Some(bind)).await;
        refused.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "acme's version as a canary");
        let promote = format!("{path}/canary/promote").replace(&org, &globex);
        json_call(&app, Method::POST, promote, Some(&globex_token), None).await.error(
            StatusCode::NOT_FOUND,
            "not-found",
            "acme's binding",
        );
        for percent in [0, 101] {
            let bind = json!({"creator": creator, "canary": {"creator": noop, "percent": percent}});
            let refused = json_call(&app, Method::PUT, &path, t, Some(bind)).await;
            refused.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "a share out of range");
        }

        // Abort: everyone is created again; promote: everyone is denied.
        let aborted = json_call(&app, Method::POST, format!("{path}/canary/abort"), t, None).await;
        assert!(aborted.expect(StatusCode::OK, "abort").get("canary").is_none());
        let canary_person = people.iter().find(|p| in_canary(p)).cloned().unwrap_or_default();
        login(&app, "acme", &canary_person, &[]).await.expect(StatusCode::OK, "the live creator after the abort");
        json_call(&app, Method::POST, format!("{path}/canary/abort"), t, None).await.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            "no canary to abort",
        );
        let bind = json!({"creator": creator, "canary": {"creator": noop, "percent": 1}});
        json_call(&app, Method::PUT, &path, t, Some(bind)).await.expect(StatusCode::OK, "a new canary");
        let promoted = json_call(&app, Method::POST, format!("{path}/canary/promote"), t, None).await;
        let promoted = promoted.expect(StatusCode::OK, "promote");
        assert_eq!((promoted["creator"].as_str(), promoted.get("canary")), (Some(noop.as_str()), None), "{promoted}");
        let outside = people.iter().find(|p| !in_canary(p)).cloned().unwrap_or_default();
        let newcomer = outside.replace("person", "newcomer");
        login(&app, "acme", &newcomer, &[]).await.error(StatusCode::FORBIDDEN, "denied", "the promoted creator");
        let changes = json_call(&app, Method::GET, format!("/v1/orgs/{org}/audit?outcome=binding-changed"), t, None);
        let changes = changes.await.expect(StatusCode::OK, "history");
        assert_eq!(changes.as_array().map(Vec::len), Some(4), "bind, abort, bind, promote: {changes}");
        store.close().await;
        db.cleanup().await;
    }
}

/// The audit events of `org` with `outcome`, newest first.
async fn events(app: &Router, org: &str, token: &str, outcome: &str) -> Vec<Value> {
    let uri = format!("/v1/orgs/{org}/audit?outcome={outcome}&limit=100");
    let events = json_call(app, Method::GET, uri, Some(token), None).await.expect(StatusCode::OK, "audit");
    events.as_array().cloned().unwrap_or_default()
}

/// A shadow that disagrees (`noop` denies every creation and assigns
/// nothing) is recorded beside each login, naming the login's event and
/// what it would have changed, and changes nothing: every login succeeds
/// with the live decisions. A shadow equal to the live version agrees.
/// Globex cannot shadow with Acme's versions, and sees none of Acme's
/// comparisons.
#[tokio::test]
async fn a_shadow_that_disagrees_is_recorded_and_changes_nothing() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let state = state(&store, config()).await;
        let host = state.host().clone();
        let app = provisio::http::router(state);
        let (org, token, domain, provider) = tenant(&app, "acme").await;
        let t = Some(token.as_str());
        let uri = format!("/v1/orgs/{org}/teams");
        json_call(&app, Method::POST, uri, t, Some(json!({"name": "engineering"})))
            .await
            .expect(StatusCode::CREATED, "team");
        let mut hashes = Vec::new();
        for plugin in [plugins::DEFAULT_CREATOR, plugins::GROUP_MAPPER, plugins::NOOP] {
            hashes.push(hash(upload(&app, &org, &token, component(plugin)).await.expect(StatusCode::CREATED, plugin)));
        }
        let (creator, mapper, noop) = (&hashes[0], &hashes[1], &hashes[2]);
        let config = json!({"groups": {"Engineering": "team:engineering"}});
        let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
        let bind = json!({"creator": creator, "assigner": mapper, "config": config,
                          "shadow": {"creator": noop, "assigner": noop}});
        let bound = json_call(&app, Method::PUT, &path, t, Some(bind)).await.expect(StatusCode::OK, "bind a shadow");
        assert_eq!(bound["shadow"], json!({"creator": noop, "assigner": noop}), "{bound}");

        let people =
            [("ada@acme.example", &["Engineering"][..]), ("bob@acme.example", &[][..]), ("cy@acme.example", &[])];
        for (email, groups) in people {
            let answer = login(&app, "acme", email, groups).await.expect(StatusCode::OK, "the live decision stands");
            assert_eq!(answer["newly_created"], true, "{answer}");
        }
        host.shadows_settled().await;
        let differed = events(&app, &org, &token, "plugin-shadow-differed").await;
        assert_eq!(differed.len(), 3, "{differed:?}");
        for event in &differed {
            let call = &event["detail"]["calls"][0];
            assert_eq!((call["hook"].as_str(), call["agreed"].as_bool()), (Some("create"), Some(false)), "{event}");
            assert_eq!(call["changes"], json!(["created, then denied"]), "{event}");
            assert_eq!(
                (call["live"]["plugin"].as_str(), call["shadow"]["plugin"].as_str()),
                (Some(creator.as_str()), Some(noop.as_str()))
            );
            let login_event = event["detail"]["login_event"].as_i64().unwrap_or_default();
            let uri = format!("/v1/orgs/{org}/audit?before={}&limit=1", login_event + 1);
            let login = json_call(&app, Method::GET, uri, t, None).await.expect(StatusCode::OK, "the login's event");
            assert_eq!((login[0]["id"].as_i64(), login[0]["outcome"].as_str()), (Some(login_event), Some("success")));
            assert_eq!(login[0]["account"], event["account"], "the same account: {event}");
        }
        // Only Ada's assignments differ (the others get none either way).
        let assigns: Vec<&Value> = differed.iter().map(|e| &e["detail"]["calls"][1]).collect();
        assert!(assigns.iter().all(|c| c["hook"] == "assign"), "{differed:?}");
        let changed: Vec<&&Value> = assigns.iter().filter(|c| c["agreed"] == false).collect();
        assert_eq!(changed.len(), 1, "{differed:?}");
        assert_eq!(changed[0]["changes"], json!(["team \"engineering\" removed"]), "{differed:?}");

        // Nothing the shadow decided took effect: three accounts, Ada in engineering.
        let accounts = json_call(&app, Method::GET, format!("/v1/orgs/{org}/accounts"), t, None).await;
        let accounts = accounts.expect(StatusCode::OK, "accounts");
        assert_eq!(accounts.as_array().map(Vec::len), Some(3), "{accounts}");
        let members = json_call(&app, Method::GET, format!("/v1/orgs/{org}/teams"), t, None).await;
        assert!(members.expect(StatusCode::OK, "teams").to_string().contains("engineering"));

        // A shadow equal to the live assigner agrees.
        let bind = json!({"creator": creator, "assigner": mapper, "config": config, "shadow": {"assigner": mapper}});
        json_call(&app, Method::PUT, &path, t, Some(bind)).await.expect(StatusCode::OK, "bind an equal shadow");
        login(&app, "acme", "dee@acme.example", &["Engineering"]).await.expect(StatusCode::OK, "login");
        host.shadows_settled().await;
        let agreed = events(&app, &org, &token, "plugin-shadow-agreed").await;
        assert_eq!(agreed.len(), 1, "{agreed:?}");
        let call = &agreed[0]["detail"]["calls"][0];
        assert_eq!((call["hook"].as_str(), call["agreed"].as_bool()), (Some("assign"), Some(true)), "{call}");
        assert_eq!(call["shadow"]["decision"], call["live"]["decision"], "{call}");
        assert!(call["live"]["decision"].to_string().contains("engineering"), "{call}");

        let metrics = json_call(&app, Method::GET, "/metrics", None, None).await;
        let metrics = metrics.body.as_str().unwrap_or_default().to_owned();
        for line in [
            "provisio_plugin_shadow_total{hook=\"create\",result=\"differed\"} 3",
            "provisio_plugin_shadow_total{hook=\"assign\",result=\"differed\"} 1",
            "provisio_plugin_shadow_total{hook=\"assign\",result=\"agreed\"} 3",
        ] {
            assert!(metrics.contains(line), "{line}: {metrics}");
        }

        // Globex: not with Acme's versions; none of Acme's comparisons.
        let (globex, globex_token, globex_domain, globex_provider) = tenant(&app, "globex").await;
        let theirs = format!("/v1/orgs/{globex}/domains/{globex_domain}/bindings/{globex_provider}");
        let refused =
            json_call(&app, Method::PUT, theirs, Some(&globex_token), Some(json!({"shadow": {"creator": noop}})));
        refused.await.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "acme's version as a shadow");
        for outcome in ["plugin-shadow-differed", "plugin-shadow-agreed"] {
            assert!(events(&app, &globex, &globex_token, outcome).await.is_empty(), "{outcome}");
        }
        // A shadow naming a creator in the assigner's place is refused.
        let bind = json!({"shadow": {"assigner": creator}});
        let refused = json_call(&app, Method::PUT, &path, t, Some(bind)).await;
        refused.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "a creator as the shadow assigner");
        store.close().await;
        db.cleanup().await;
    }
}

/// A shadow that spins until its wall-time limit neither holds up nor
/// changes the live logins: each returns while the shadow still runs; the
/// organization's shadow queue (one login here) sheds the next logins'
/// shadows and counts them; Globex's shadow, in its own lane, is compared
/// meanwhile.
#[tokio::test]
async fn a_looping_shadow_neither_holds_up_the_login_nor_another_organizations_shadows() {
    use provisio::engine::ShadowPolicy;
    use provisio::plugin::Limits;
    use provisio::runtime::{Runtime, RuntimeConfig};

    let db = TestDatabase::sqlite();
    let store = db.open().await;
    // A shadow may spin for ten minutes: far longer than this test takes,
    // however slow the machine.
    let ceilings = Limits { wall_time: Duration::from_secs(600), fuel: u64::MAX / 2, ..Limits::CEILINGS };
    let runtime =
        Runtime::new(RuntimeConfig { ceilings, ..RuntimeConfig::default() }).unwrap_or_else(|e| panic!("{e}"));
    let auth =
        AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build().unwrap_or_else(|e| panic!("{e}"));
    let host = Host::builder()
        .store(store.clone())
        .runtime(runtime)
        .auth_services(Arc::new(auth))
        .shadow(ShadowPolicy { queue_per_org: 1, runners: 2 });
    let host = host.build().await.unwrap_or_else(|e| panic!("{e}"));
    let app = provisio::http::router(provisio::http::AppState::new(host, config()).unwrap_or_else(|e| panic!("{e}")));
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let creator =
        hash(upload(&app, &org, &token, component(plugins::DEFAULT_CREATOR)).await.expect(StatusCode::CREATED, "up"));
    let spinner =
        hash(upload(&app, &org, &token, component(plugins::HOSTILE_LOOP)).await.expect(StatusCode::CREATED, "up"));
    let bind = json!({"creator": creator, "shadow": {"creator": spinner}, "limits": {"wall_time": 600_000, "fuel": u64::MAX / 4}});
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    json_call(&app, Method::PUT, path, Some(&token), Some(bind)).await.expect(StatusCode::OK, "bind");

    for i in 0..3 {
        login(&app, "acme", &format!("p{i}@acme.example"), &[]).await.expect(StatusCode::OK, "the live login");
    }
    // The first login's shadow still spins: no comparison is written yet.
    for outcome in ["plugin-shadow-differed", "plugin-shadow-agreed"] {
        assert!(events(&app, &org, &token, outcome).await.is_empty(), "the logins did not wait for the shadow");
    }
    let metrics = json_call(&app, Method::GET, "/metrics", None, None).await;
    let metrics = metrics.body.as_str().unwrap_or_default().to_owned();
    let line = "provisio_plugin_shadow_total{hook=\"create\",result=\"shed\"} 2";
    assert!(metrics.contains(line), "{line}: {metrics}");

    // Globex's shadow (equal to its live creator) is compared meanwhile.
    let (globex, globex_token, globex_domain, globex_provider) = tenant(&app, "globex").await;
    let own = hash(
        upload(&app, &globex, &globex_token, component(plugins::DEFAULT_CREATOR))
            .await
            .expect(StatusCode::CREATED, "up"),
    );
    let bind = json!({"creator": own, "shadow": {"creator": own}, "config": {"digits": 0}});
    let theirs = format!("/v1/orgs/{globex}/domains/{globex_domain}/bindings/{globex_provider}");
    json_call(&app, Method::PUT, theirs, Some(&globex_token), Some(bind)).await.expect(StatusCode::OK, "bind");
    login(&app, "globex", "ann@globex.example", &[]).await.expect(StatusCode::OK, "globex's login");
    let mut agreed = Vec::new();
    for _ in 0..400 {
        agreed = events(&app, &globex, &globex_token, "plugin-shadow-agreed").await;
        if !agreed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(agreed.len(), 1, "globex's comparison is not behind acme's spinning shadow");
    assert!(events(&app, &org, &token, "plugin-shadow-differed").await.is_empty(), "acme's shadow still spins");
    store.close().await;
}

/// A shadow version that fails at every call (a trap) is compared (and
/// differs) until its circuit opens; then its calls are skipped and counted
/// until the cool-down ends, when one call probes it again.
#[tokio::test]
async fn a_failing_shadow_is_skipped_while_its_circuit_is_open() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let (host, app, clock) = clocked(&store).await;
    let (org, token, domain, provider) = tenant(&app, "acme").await;
    let creator =
        hash(upload(&app, &org, &token, component(plugins::DEFAULT_CREATOR)).await.expect(StatusCode::CREATED, "up"));
    let panics =
        hash(upload(&app, &org, &token, component(plugins::HOSTILE_PANIC)).await.expect(StatusCode::CREATED, "up"));
    let bind = json!({"creator": creator, "shadow": {"creator": panics}});
    let path = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    json_call(&app, Method::PUT, path, Some(&token), Some(bind)).await.expect(StatusCode::OK, "bind");
    let shadow_total = |result: &'static str| {
        let app = app.clone();
        async move {
            let metrics = json_call(&app, Method::GET, "/metrics", None, None).await;
            let metrics = metrics.body.as_str().unwrap_or_default().to_owned();
            let line = format!("provisio_plugin_shadow_total{{hook=\"create\",result=\"{result}\"}} ");
            metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)
        }
    };

    for i in 0..6 {
        login(&app, "acme", &format!("p{i}@acme.example"), &[]).await.expect(StatusCode::OK, "the live login");
        host.shadows_settled().await;
    }
    let differed = events(&app, &org, &token, "plugin-shadow-differed").await;
    assert_eq!(differed.len(), 4, "compared until the circuit opened: {differed:?}");
    let call = &differed[0]["detail"]["calls"][0];
    assert_eq!(
        (call["call"]["outcome"].as_str(), call["changes"].clone()),
        (Some("trap"), json!(["failed"])),
        "{call}"
    );
    assert!(call["call"]["failure"].as_str().is_some_and(|f| f.contains("boom from hostile-panic")), "{call}");
    assert_eq!((shadow_total("differed").await, shadow_total("circuit-open").await), (4, 2));

    // After the cool-down one call probes it (and fails: open again).
    clock.advance(Duration::from_secs(61));
    for i in 6..8 {
        login(&app, "acme", &format!("p{i}@acme.example"), &[]).await.expect(StatusCode::OK, "the live login");
        host.shadows_settled().await;
    }
    assert_eq!((shadow_total("differed").await, shadow_total("circuit-open").await), (5, 3));
    store.close().await;
}
