//! A directory provider through the admin API and the login route: its
//! service account password is write-only, and another organization that
//! points its own provider at the same directory gets nobody of ours.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Directory, SERVICE_PASSWORD};
use crate::TestDatabase;
use crate::http::{config, json_call, state, tenant};

#[tokio::test]
async fn the_service_password_is_write_only_and_updates_keep_it() {
    let directory = Directory::start();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, _) = tenant(&app, "acme").await;
        let t = Some(token.as_str());
        let providers = format!("/v1/orgs/{org}/domains/{domain}/providers");

        let mut missing = directory.provider_config(&json!({}));
        missing.as_object_mut().map(|c| c.remove("bind_password"));
        let refused = json_call(
            &app,
            Method::POST,
            &providers,
            t,
            Some(json!({"name": "corp", "kind": "ldap", "config": missing})),
        );
        let refused = refused.await.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "no service password");
        assert!(refused["message"].as_str().is_some_and(|m| m.contains("bind_password")), "{refused}");

        let body = json!({"name": "corp", "kind": "ldap", "config": directory.provider_config(&json!({}))});
        let added = json_call(&app, Method::POST, &providers, t, Some(body)).await.expect(StatusCode::CREATED, "add");
        let id = added["id"].as_str().unwrap_or_default().to_owned();
        let shown = json_call(&app, Method::GET, format!("/v1/orgs/{org}/domains/{domain}"), t, None).await;
        let shown = shown.expect(StatusCode::OK, "domain").to_string();
        for text in [added.to_string(), shown] {
            assert!(!text.contains(SERVICE_PASSWORD), "the password is never shown back: {text}");
            assert!(!text.contains("bind_password"), "{text}");
        }

        let login = |password: &'static str| {
            let body = json!({"domain": "acme", "login": "jane", "password": password});
            json_call(&app, Method::POST, "/v1/login", None, Some(body))
        };
        let first = login("jane-directory-pw").await.expect(StatusCode::OK, "directory login");
        assert_eq!(first["account"]["email"], "jane@acme.example", "{first}");
        assert_eq!(first["newly_created"], true, "{first}");

        // An update that leaves the password out keeps the stored one.
        let path = format!("{providers}/{id}");
        let mut update = directory.provider_config(&json!({"timeout_ms": 5000}));
        update.as_object_mut().map(|c| c.remove("bind_password"));
        let patched = json_call(&app, Method::PATCH, &path, t, Some(json!({"config": update}))).await;
        let patched = patched.expect(StatusCode::OK, "update without the password").to_string();
        assert!(!patched.contains(SERVICE_PASSWORD) && patched.contains("5000"), "{patched}");
        let again = login("jane-directory-pw").await.expect(StatusCode::OK, "login after the update");
        assert_eq!(again["newly_created"], false, "{again}");

        // A wrong service password is the directory refusing the search:
        // "try again later", never "wrong password".
        let wrong = directory.provider_config(&json!({"bind_password": "not-the-service-password"}));
        json_call(&app, Method::PATCH, &path, t, Some(json!({"config": wrong}))).await.expect(StatusCode::OK, "update");
        login("jane-directory-pw").await.error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "service refused");
        let events = store.list_audit(&provisio::store::AuditFilter::default()).await.unwrap_or_default();
        let last = events.iter().map(|e| &e.event).find(|e| e.outcome == "unavailable");
        let detail = last.map(|e| e.detail.clone()).unwrap_or_default();
        assert!(detail.contains("corp: unreachable") && detail.contains("service account"), "{detail}");
        assert!(!detail.contains("not-the-service-password") && !detail.contains("jane-directory-pw"), "{detail}");
        store.close().await;
        db.cleanup().await;
    }
}

/// Globex points a provider of its own at the directory that holds Acme's
/// people: the directory vouches for `jane@acme.example`, but Globex's domain
/// has not verified `acme.example`, so the login is refused and Acme's
/// account is neither linked nor changed.
#[tokio::test]
async fn another_organization_pointing_at_our_directory_gets_nobody_of_ours() {
    let directory = Directory::start();
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (acme, acme_token, acme_domain, _) = tenant(&app, "acme").await;
    let (globex, globex_token, globex_domain, _) = tenant(&app, "globex").await;
    for (org, token, domain) in [(&acme, &acme_token, &acme_domain), (&globex, &globex_token, &globex_domain)] {
        let body = json!({"name": "corp", "kind": "ldap", "config": directory.provider_config(&json!({}))});
        let uri = format!("/v1/orgs/{org}/domains/{domain}/providers");
        json_call(&app, Method::POST, uri, Some(token), Some(body)).await.expect(StatusCode::CREATED, "provider");
    }
    let login = |domain: &'static str| {
        let body = json!({"domain": domain, "login": "jane", "password": "jane-directory-pw"});
        json_call(&app, Method::POST, "/v1/login", None, Some(body))
    };
    let ours = login("acme").await.expect(StatusCode::OK, "acme's own login");
    let refused = login("globex").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["code"], "email-domain-not-verified", "{}", refused.body);
    let account = store.account_by_email("jane@acme.example").await.ok().flatten();
    let account = account.unwrap_or_else(|| panic!("acme's account"));
    assert_eq!(account.id.as_str(), ours["account"]["id"].as_str().unwrap_or_default());
    let accounts = store.list_accounts(None, None, 100).await.unwrap_or_default();
    assert_eq!(accounts.len(), 1, "globex's refused login wrote no account: {accounts:?}");
    store.close().await;
}

/// Globex's directory accepts connections and never answers. While eight of
/// its logins wait out their 30 s timeout on its own pool, Acme's people log
/// in through Acme's directory: one organization's dead directory slows no
/// other.
#[tokio::test]
async fn a_dead_directory_of_one_organization_slows_no_other() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let silent_address = silent.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let directory = Directory::start();
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (acme, acme_token, acme_domain, _) = tenant(&app, "acme").await;
    let (globex, globex_token, globex_domain, _) = tenant(&app, "globex").await;
    let dead = directory.provider_config(&json!({
        "urls": [format!("ldap://{silent_address}")], "timeout_ms": 30_000, "max_connections": 1,
    }));
    for (org, token, domain, config) in [
        (&acme, &acme_token, &acme_domain, directory.provider_config(&json!({}))),
        (&globex, &globex_token, &globex_domain, dead),
    ] {
        let body = json!({"name": "corp", "kind": "ldap", "config": config});
        let uri = format!("/v1/orgs/{org}/domains/{domain}/providers");
        json_call(&app, Method::POST, uri, Some(token), Some(body)).await.expect(StatusCode::CREATED, "provider");
    }
    let mut waiting = Vec::new();
    for i in 0..8 {
        let app = app.clone();
        waiting.push(tokio::spawn(async move {
            // Eight people, so that no throttle answers in their place.
            let body = json!({"domain": "globex", "login": format!("someone-{i}"), "password": "whatever"});
            json_call(&app, Method::POST, "/v1/login", None, Some(body)).await.status
        }));
    }
    for (login, password) in
        [("jane", "jane-directory-pw"), ("bob", "bob-directory-pw"), ("carol", "carol-directory-pw")]
    {
        let body = json!({"domain": "acme", "login": login, "password": password});
        json_call(&app, Method::POST, "/v1/login", None, Some(body)).await.expect(StatusCode::OK, login);
    }
    assert!(waiting.iter().all(|w| !w.is_finished()), "acme's logins finished while globex's still wait");
    for task in waiting {
        task.abort();
    }
    held.abort();
    store.close().await;
}
