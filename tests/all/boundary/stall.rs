//! Finding 2: one organization's bindings taking the runtime or the
//! database from every other organization.

use crate::plugins;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use provisio::auth::{Argon2Params, AuthServices};
use provisio::engine::Host;
use provisio::http::AppState;
use provisio::plugin::Limits;
use provisio::runtime::{Runtime, RuntimeConfig};
use provisio::store::NewAccount;
use serde_json::json;

use super::Tenant;
use crate::TestDatabase;
use crate::http::{config, ok, state, upload};

/// Limits above the operator's ceilings are refused, each by name.
#[tokio::test]
async fn limits_above_the_ceilings_are_refused_by_name() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let tenant = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
        let hash = upload(&app, &tenant.org, &tenant.token, crate::component(plugins::HOSTILE_LOOP)).await;
        let hash = hash.expect(StatusCode::CREATED, "upload")["plugin"]["hash"].clone();
        let path = format!("/v1/orgs/{{org}}/domains/{}/bindings/{}", tenant.domain, tenant.idp);
        for (limits, name) in [
            (json!({"wall_time": 30_000}), "wall_time"),
            (json!({"fuel": u64::MAX}), "fuel"),
            (json!({"memory_bytes": 1_u64 << 40}), "memory_bytes"),
            (json!({"output_bytes": 1_u64 << 30}), "output_bytes"),
            (json!({"log_bytes": 1_u64 << 30}), "log_bytes"),
        ] {
            let binding = json!({"creator": hash, "limits": limits});
            let refused = tenant.call(&app, Method::PUT, &path, Some(binding)).await;
            let body = refused.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", name);
            assert!(body["message"].as_str().is_some_and(|m| m.contains(name)), "{name}: {body}");
        }
        let at_ceiling = json!({"creator": hash, "limits": {"wall_time": 1000, "fuel": 1_000_000_000_u64}});
        tenant.call(&app, Method::PUT, &path, Some(at_ceiling)).await.expect(StatusCode::OK, "at the ceiling");
        store.close().await;
        db.cleanup().await;
    }
}

/// While one organization's looping plugin runs at the ceiling, in more
/// logins at once than it has plugin slots, another organization's password
/// and IdP logins succeed and finish before the looping calls' deadline;
/// the noisy organization's calls beyond its slots wait for its own slots
/// only (and here give up soon).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_looping_plugin_stalls_only_its_own_organization() {
    // A ceiling generous enough that the other organization's logins finish
    // well inside it on any machine.
    const DEADLINE: Duration = Duration::from_secs(15);
    const SLOTS: usize = 2;
    const EXTRA: usize = 2;
    for db in TestDatabase::all() {
        let store = db.open().await;
        let ceilings = Limits { wall_time: DEADLINE, fuel: u64::MAX, ..Limits::CEILINGS };
        let runtime = ok(Runtime::new(RuntimeConfig { ceilings, ..RuntimeConfig::default() }), "runtime");
        let auth = ok(AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build(), "auth");
        let auth = Arc::new(auth);
        let host = Host::builder()
            .store(store.clone())
            .runtime(runtime)
            .auth_services(auth.clone())
            .plugin_calls_per_org(SLOTS)
            // The noisy organization's calls beyond its slots give up soon.
            .plugin_slot_wait(Duration::from_millis(200))
            .build()
            .await;
        let app = provisio::http::router(ok(AppState::new(ok(host, "host"), config()), "state"));
        let noisy = Tenant::new(&app, "noisy", "noisy.example", "rsa.pem", true).await;
        let quiet = Tenant::new(&app, "quiet", "quiet.example", "rsa-other.pem", true).await;
        let hash = upload(&app, &noisy.org, &noisy.token, crate::component(plugins::HOSTILE_LOOP)).await;
        let hash = hash.expect(StatusCode::CREATED, "upload")["plugin"]["hash"].clone();
        let binding = json!({"creator": hash, "limits": {"wall_time": DEADLINE.as_millis(), "fuel": u64::MAX}});
        let path = format!("/v1/orgs/{{org}}/domains/{}/bindings/{}", noisy.domain, noisy.idp);
        noisy.call(&app, Method::PUT, &path, Some(binding)).await.expect(StatusCode::OK, "bind the loop");
        let hash = ok(auth.hasher().hash("quiet horse"), "hash");
        let pam = NewAccount {
            email: "pam@quiet.example".into(),
            username: "pam".into(),
            given_name: None,
            family_name: None,
            password_hash: provisio::store::PasswordHash::new(hash.into_string()),
            attributes: vec![],
        };
        ok(store.create_account(pam).await, "password account");

        // More first logins at once than the noisy organization has slots.
        let looping: Vec<_> = (0..SLOTS + EXTRA)
            .map(|i| {
                let (app, token) =
                    (app.clone(), noisy.id_token(&format!("n{i}"), &format!("n{i}@noisy.example"), json!({})));
                tokio::spawn(async move {
                    let body = json!({"domain": "noisy", "id_token": token});
                    let answer = crate::http::json_call(&app, Method::POST, "/v1/login", None, Some(body)).await;
                    (answer.status, answer.body)
                })
            })
            .collect();
        // Let the looping calls start (this only makes the test stronger).
        tokio::time::sleep(Duration::from_millis(500)).await;

        for i in 0..5 {
            let body = json!({"email": "pam@quiet.example", "password": "quiet horse"});
            let answer = crate::http::json_call(&app, Method::POST, "/v1/login", None, Some(body)).await;
            answer.expect(StatusCode::OK, "the quiet organization's password login");
            let answer = quiet.id_login(&app, &format!("q{i}"), &format!("q{i}@quiet.example"), json!({})).await;
            answer.expect(StatusCode::OK, "the quiet organization's first IdP login");
        }
        let early: Vec<bool> = looping.iter().map(|l| l.is_finished()).collect();
        let mut answers = Vec::new();
        for login in looping {
            let (status, body) = ok(login.await, "looping login");
            assert_eq!(status, StatusCode::FORBIDDEN, "a looping creator fails its own login: {body}");
            answers.push(body);
        }
        // The calls in the noisy organization's slots were still running
        // (only its calls beyond them, refused for want of a slot, ended).
        let running = early.iter().filter(|e| !**e).count();
        assert!(
            running >= SLOTS,
            "[{:?}] the quiet logins finished before the looping calls' deadline: {early:?} {answers:?}",
            db.kind()
        );
        store.close().await;
        db.cleanup().await;
    }
}
