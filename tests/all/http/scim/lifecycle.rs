//! A SCIM user's life as the identity provider drives it: versions and
//! preconditions, the PATCH shapes Entra ID and Okta send, de-provisioning
//! and its effect on the next login (JIT on and off), which memberships
//! belong to SCIM and which to the login, and races.

use axum::http::{Method, StatusCode};
use provisio::store::{MembershipSource, OrgId, Store};
use serde_json::{Value, json};

use super::{Scim, patch, scim_tenant, user_body};
use crate::TestDatabase;
use crate::http::{Answer, config, json_call, raw_token, state};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// `(name, source)` of the account's memberships in the organization.
async fn memberships(store: &Store, org: &str, email: &str) -> Vec<(String, MembershipSource)> {
    let account = store.account_by_email(email).await.unwrap_or_else(|e| panic!("{e}"));
    let Some(account) = account else { return Vec::new() };
    let all = store.memberships(&account.id, Some(&OrgId::new(org))).await.unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<_> = all.into_iter().map(|m| (m.name, m.membership.source)).collect();
    names.sort();
    names
}

async fn login(scim: &Scim, email: &str, groups: &[&str]) -> Answer {
    let token = raw_token(crate::engine::id_token(&format!("sub-{email}"), email, true, groups));
    json_call(&scim.app, Method::POST, "/v1/login", None, Some(json!({"domain": "acme", "id_token": token}))).await
}

#[tokio::test]
async fn versions_guard_every_write() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (_, _, _, _, scim) = scim_tenant(&app, "acme").await;
        let created = scim.call(Method::POST, "/Users", Some(user_body("jane@acme.example"))).await;
        assert_eq!(created.headers.get("etag").and_then(|v| v.to_str().ok()), Some("W/\"1\""));
        let location = created.headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let jane = created.expect(StatusCode::CREATED, "create");
        assert_eq!(jane["meta"]["version"], "W/\"1\"");
        assert_eq!(location.as_deref(), jane["meta"]["location"].as_str());
        let path = format!("/Users/{}", id(&jane));

        let unchanged = scim.call_with(Method::GET, &path, None, &[("if-none-match", "W/\"1\"")]).await;
        assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
        let changed = scim.call_with(Method::GET, &path, None, &[("if-none-match", "W/\"0\"")]).await;
        changed.expect(StatusCode::OK, "a GET naming an old version");

        let mut body = user_body("jane@acme.example");
        body["displayName"] = json!("Jane");
        let put = scim.call_with(Method::PUT, &path, Some(body.clone()), &[("if-match", "W/\"1\"")]).await;
        assert_eq!(put.headers.get("etag").and_then(|v| v.to_str().ok()), Some("W/\"2\""));
        assert_eq!(put.expect(StatusCode::OK, "put")["displayName"], "Jane");
        let stale = [("if-match", "W/\"1\"")];
        let op = patch(json!([{"op": "replace", "path": "displayName", "value": "J"}]));
        scim.call_with(Method::PATCH, &path, Some(op.clone()), &stale).await.error(
            StatusCode::PRECONDITION_FAILED,
            None,
            "a PATCH of an old version",
        );
        scim.call_with(Method::PUT, &path, Some(body), &stale).await.error(
            StatusCode::PRECONDITION_FAILED,
            None,
            "a PUT of an old version",
        );
        scim.call_with(Method::DELETE, &path, None, &stale).await.error(
            StatusCode::PRECONDITION_FAILED,
            None,
            "a DELETE of an old version",
        );
        let now = scim.call(Method::GET, &path, None).await.expect(StatusCode::OK, "get");
        assert_eq!(now["displayName"], "Jane", "no refused write changed anything");
        let patched = scim.call_with(Method::PATCH, &path, Some(op), &[("if-match", "\"2\"")]).await;
        assert_eq!(patched.expect(StatusCode::OK, "patch")["meta"]["version"], "W/\"3\"");
        let deleted = scim.call_with(Method::DELETE, &path, None, &[("if-match", "*")]).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(deleted.body, Value::Null, "a 204 has no body");
        scim.call(Method::GET, &path, None).await.error(StatusCode::NOT_FOUND, None, "deleted");

        let group = scim.group(json!({"displayName": "eng"})).await;
        let path = format!("/Groups/{}", id(&group));
        let op = patch(json!([{"op": "replace", "path": "displayName", "value": "platform"}]));
        let stale = scim.call_with(Method::PATCH, &path, Some(op.clone()), &[("if-match", "W/\"7\"")]).await;
        stale.error(StatusCode::PRECONDITION_FAILED, None, "a group's old version");
        let renamed = scim.call_with(Method::PATCH, &path, Some(op), &[("if-match", "W/\"1\"")]).await;
        assert_eq!(renamed.expect(StatusCode::OK, "rename")["displayName"], "platform");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn entra_and_okta_patches_are_understood() {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (_, _, _, _, scim) = scim_tenant(&app, "acme").await;
        let jane = scim.user(user_body("jane@acme.example")).await;
        let bob = scim.user(user_body("bob@acme.example")).await;
        let path = format!("/Users/{}", id(&jane));
        let entra = patch(json!([
            {"op": "Add", "value": {"name.givenName": "Jane", "name.familyName": "Doe",
                                    format!("{ENTERPRISE}:department"): "Eng"}},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "jane.doe@acme.example"},
            {"op": "Replace", "path": "active", "value": "False"},
        ]));
        let after = scim.call(Method::PATCH, &path, Some(entra)).await.expect(StatusCode::OK, "Entra's PATCH");
        assert_eq!(after["name"], json!({"givenName": "Jane", "familyName": "Doe"}), "{after}");
        assert_eq!(after[ENTERPRISE]["department"], "Eng", "{after}");
        assert_eq!(after["emails"][0]["value"], "jane.doe@acme.example", "{after}");
        assert_eq!(after["active"], false, "{after}");
        let account = store.account_by_email("jane.doe@acme.example").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(account.is_some(), "the account's email followed the primary email");
        let okta = patch(json!([{"op": "replace", "value": {"id": id(&jane), "active": true}}]));
        let after = scim.call(Method::PATCH, &path, Some(okta)).await.expect(StatusCode::OK, "Okta's PATCH");
        assert_eq!(after["active"], true);

        let group = scim.group(json!({"displayName": "eng"})).await;
        let path = format!("/Groups/{}", id(&group));
        let add =
            patch(json!([{"op": "Add", "path": "members", "value": [{"value": id(&jane)}, {"value": id(&bob)}]}]));
        let after = scim.call(Method::PATCH, &path, Some(add)).await.expect(StatusCode::OK, "add members");
        assert_eq!(after["members"].as_array().map(Vec::len), Some(2), "{after}");
        let okta_remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", id(&bob))}]));
        let after = scim.call(Method::PATCH, &path, Some(okta_remove)).await.expect(StatusCode::OK, "Okta's remove");
        assert_eq!(
            after["members"],
            json!([{"value": id(&jane), "$ref": format!("http://scim.test{}/Users/{}", scim.base, id(&jane)), "type": "User"}])
        );
        let entra_remove = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": id(&jane)}]}]));
        let after = scim.call(Method::PATCH, &path, Some(entra_remove)).await.expect(StatusCode::OK, "Entra's remove");
        assert!(after.get("members").is_none(), "{after}");
        let jane_now = scim.call(Method::GET, &format!("/Users/{}", id(&jane)), None).await.expect(StatusCode::OK, "");
        assert!(jane_now.get("groups").is_none(), "{jane_now}");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deprovisioning_ends_access_until_the_idp_restores_it() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, _, scim) = scim_tenant(&app, "acme").await;
        let jane = scim.user(user_body("jane@acme.example")).await;
        let eng = scim.group(json!({"displayName": "eng", "members": [{"value": id(&jane)}]})).await;
        let path = format!("/Users/{}", id(&jane));
        let expected = vec![("acme".to_owned(), MembershipSource::Scim), ("eng".to_owned(), MembershipSource::Scim)];
        assert_eq!(memberships(&store, &org, "jane@acme.example").await, expected);
        login(&scim, "jane@acme.example", &[]).await.expect(StatusCode::OK, "a provisioned person logs in");

        for jit in [true, false] {
            let t = Some(token.as_str());
            let uri = format!("/v1/orgs/{org}/domains/{domain}");
            json_call(&app, Method::PATCH, &uri, t, Some(json!({"jit": jit}))).await.expect(StatusCode::OK, "jit");
            let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
            scim.call(Method::PATCH, &path, Some(off)).await.expect(StatusCode::OK, "deactivate");
            assert_eq!(memberships(&store, &org, "jane@acme.example").await, vec![], "jit {jit}");
            let account = store.account_by_email("jane@acme.example").await.unwrap_or_else(|e| panic!("{e}"));
            let account = account.unwrap_or_else(|| panic!("the platform-wide account stays"));
            let suspended = store.is_suspended(&OrgId::new(org.as_str()), &account.id).await;
            assert!(suspended.unwrap_or_else(|e| panic!("{e}")), "its sessions in the organization stop");
            login(&scim, "jane@acme.example", &[]).await.error(
                StatusCode::FORBIDDEN,
                "account-suspended",
                "a de-provisioned person cannot log in",
            );
            let on = patch(json!([{"op": "replace", "path": "active", "value": true}]));
            scim.call(Method::PATCH, &path, Some(on)).await.expect(StatusCode::OK, "reactivate");
            assert_eq!(memberships(&store, &org, "jane@acme.example").await, expected, "jit {jit}: restored");
            login(&scim, "jane@acme.example", &[]).await.expect(StatusCode::OK, "restored");
        }
        // JIT is off now: only members get in, and group claims are ignored.
        login(&scim, "stranger@acme.example", &[]).await.error(
            StatusCode::FORBIDDEN,
            "access-denied",
            "JIT off admits only provisioned members",
        );
        login(&scim, "jane@acme.example", &["Engineering"]).await.expect(StatusCode::OK, "groups sent");
        assert_eq!(memberships(&store, &org, "jane@acme.example").await, expected, "group claims are ignored");

        // DELETE de-provisions too; a new POST provisions again.
        scim.call(Method::DELETE, &path, None).await.expect(StatusCode::NO_CONTENT, "delete");
        login(&scim, "jane@acme.example", &[]).await.error(StatusCode::FORBIDDEN, "account-suspended", "deleted");
        let eng_now = scim.call(Method::GET, &format!("/Groups/{}", id(&eng)), None).await.expect(StatusCode::OK, "");
        assert!(eng_now.get("members").is_none(), "a deleted user leaves its groups: {eng_now}");
        let again = scim.user(user_body("jane@acme.example")).await;
        assert_ne!(id(&again), id(&jane), "a new user");
        login(&scim, "jane@acme.example", &[]).await.expect(StatusCode::OK, "provisioned again");
        let audit = json_call(&app, Method::GET, format!("/v1/orgs/{org}/audit?limit=100"), Some(&token), None).await;
        let audit = audit.expect(StatusCode::OK, "audit").to_string();
        for operation in ["create-user", "update-user", "delete-user", "create-group"] {
            assert!(audit.contains(operation), "{operation} is audited: {audit}");
        }
        store.close().await;
        db.cleanup().await;
    }
}

/// SCIM never removes another source's memberships, and a login's sync
/// never removes SCIM's.
#[tokio::test]
async fn scim_and_the_login_keep_to_their_own_memberships() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, provider, scim) = scim_tenant(&app, "acme").await;
        let t = Some(token.as_str());
        json_call(&app, Method::POST, &format!("/v1/orgs/{org}/teams"), t, Some(json!({"name": "platform"})))
            .await
            .expect(StatusCode::CREATED, "team");
        let binding = json!({"config": {"groups": {"Eng": "team:platform"}}, "sync_mode": "every-login"});
        let uri = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
        json_call(&app, Method::PUT, &uri, t, Some(binding)).await.expect(StatusCode::OK, "bind");
        let jane = scim.user(user_body("jane@acme.example")).await;
        let eng = scim.group(json!({"displayName": "eng", "members": [{"value": id(&jane)}]})).await;

        login(&scim, "jane@acme.example", &["Eng"]).await.expect(StatusCode::OK, "login with groups");
        let got = memberships(&store, &org, "jane@acme.example").await;
        for want in [("eng", MembershipSource::Scim), ("platform", MembershipSource::Idp)] {
            assert!(got.contains(&(want.0.to_owned(), want.1)), "{want:?} in {got:?}");
        }
        login(&scim, "jane@acme.example", &["Other"]).await.expect(StatusCode::OK, "login without Eng");
        let got = memberships(&store, &org, "jane@acme.example").await;
        assert!(got.contains(&("eng".to_owned(), MembershipSource::Scim)), "the sync keeps SCIM's: {got:?}");
        assert!(!got.iter().any(|(n, s)| n == "platform" && *s == MembershipSource::Idp), "{got:?}");

        login(&scim, "jane@acme.example", &["Eng"]).await.expect(StatusCode::OK, "login with Eng again");
        let empty = patch(json!([{"op": "remove", "path": "members"}]));
        scim.call(Method::PATCH, &format!("/Groups/{}", id(&eng)), Some(empty)).await.expect(StatusCode::OK, "empty");
        let got = memberships(&store, &org, "jane@acme.example").await;
        assert!(!got.iter().any(|(n, _)| n == "eng"), "{got:?}");
        assert!(got.contains(&("platform".to_owned(), MembershipSource::Idp)), "SCIM keeps the login's: {got:?}");
        store.close().await;
        db.cleanup().await;
    }
}

/// An identity provider pushing the same person twice at once, or SCIM and
/// the person's first login at once, make one account.
#[tokio::test]
async fn racing_writers_make_one_account() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (_, _, _, _, scim) = scim_tenant(&app, "acme").await;
        for round in 0..5 {
            let email = format!("twice{round}@acme.example");
            let (a, b) = tokio::join!(
                scim.call(Method::POST, "/Users", Some(user_body(&email))),
                scim.call(Method::POST, "/Users", Some(user_body(&email))),
            );
            let mut statuses = [a.status, b.status];
            statuses.sort();
            assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "round {round}");
            let conflict = if a.status == StatusCode::CONFLICT { a } else { b };
            conflict.error(StatusCode::CONFLICT, Some("uniqueness"), "the second push");

            let email = format!("both{round}@acme.example");
            let (pushed, logged_in) =
                tokio::join!(scim.call(Method::POST, "/Users", Some(user_body(&email))), login(&scim, &email, &[]),);
            let pushed = pushed.expect(StatusCode::CREATED, "SCIM beside a first login");
            let logged_in = logged_in.expect(StatusCode::OK, "a first login beside SCIM");
            let account = store.account_by_email(&email).await.unwrap_or_else(|e| panic!("{e}"));
            let account = account.unwrap_or_else(|| panic!("one account"));
            assert_eq!(logged_in["account"]["id"], account.id.as_str());
            let listed = scim.call(Method::GET, &format!("/Users/{}", id(&pushed)), None).await;
            assert_eq!(listed.expect(StatusCode::OK, "get")["userName"], email.as_str());
        }
        store.close().await;
        db.cleanup().await;
    }
}

/// Docker's `organization:team` convention, where the domain asks for it:
/// the team is the part after the colon, the organization must be the
/// domain's own.
#[tokio::test]
async fn groups_may_name_teams_as_organization_colon_team() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, _, scim) = scim_tenant(&app, "acme").await;
        let uri = format!("/v1/orgs/{org}/domains/{domain}");
        let set = json!({"scim_group_names": "organization:team"});
        let changed = json_call(&app, Method::PATCH, &uri, Some(&token), Some(set)).await.expect(StatusCode::OK, "set");
        assert_eq!(changed["scim_group_names"], "organization:team");
        let eng = scim.group(json!({"displayName": "acme:eng"})).await;
        assert_eq!(eng["displayName"], "acme:eng");
        let teams = json_call(&app, Method::GET, &format!("/v1/orgs/{org}/teams"), Some(&token), None).await;
        let teams = teams.expect(StatusCode::OK, "teams").to_string();
        assert!(teams.contains("\"eng\"") && !teams.contains("acme:eng"), "the team is named eng: {teams}");
        for other in ["globex:eng", "eng", "acme:", ":eng"] {
            let reply = scim.call(Method::POST, "/Groups", Some(json!({"displayName": other}))).await;
            reply.error(StatusCode::BAD_REQUEST, Some("invalidValue"), other);
        }
        let found = scim.call(Method::GET, "/Groups?filter=displayName%20eq%20%22ACME%3Aeng%22", None).await;
        let found = found.expect(StatusCode::OK, "filter by the convention's name");
        assert_eq!(found["totalResults"], 1, "{found}");
        assert_eq!(found["Resources"][0]["id"], eng["id"]);
        store.close().await;
        db.cleanup().await;
    }
}
