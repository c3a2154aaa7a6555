//! The tenant boundary, as a second organization would attack it: every
//! SCIM route refuses every token but the domain's own, another domain's
//! resources are not found, and no organization provisions an email it has
//! not verified.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{issue_token, patch, scim_tenant, user_body};
use crate::TestDatabase;
use crate::http::{config, json_call, state};

/// Every SCIM route of acme's domain, with a body where it takes one.
fn routes(user: &str, group: &str) -> Vec<(Method, String, Option<Value>)> {
    let body = |v: Value| Some(v);
    vec![
        (Method::GET, "/ServiceProviderConfig".into(), None),
        (Method::GET, "/ResourceTypes".into(), None),
        (Method::GET, "/ResourceTypes/User".into(), None),
        (Method::GET, "/Schemas".into(), None),
        (Method::GET, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User".into(), None),
        (Method::GET, "/Users".into(), None),
        (Method::POST, "/Users".into(), body(user_body("mallory@acme.example"))),
        (Method::POST, "/Users/.search".into(), body(json!({"filter": "userName pr"}))),
        (Method::GET, format!("/Users/{user}"), None),
        (Method::PUT, format!("/Users/{user}"), body(user_body("jane@acme.example"))),
        (
            Method::PATCH,
            format!("/Users/{user}"),
            body(patch(json!([{"op": "replace", "path": "active", "value": false}]))),
        ),
        (Method::DELETE, format!("/Users/{user}"), None),
        (Method::GET, "/Groups".into(), None),
        (Method::POST, "/Groups".into(), body(json!({"displayName": "stolen"}))),
        (Method::POST, "/Groups/.search".into(), body(json!({}))),
        (Method::GET, format!("/Groups/{group}"), None),
        (Method::PUT, format!("/Groups/{group}"), body(json!({"displayName": "renamed"}))),
        (Method::PATCH, format!("/Groups/{group}"), body(patch(json!([{"op": "remove", "path": "members"}])))),
        (Method::DELETE, format!("/Groups/{group}"), None),
        (Method::POST, "/.search".into(), body(json!({}))),
    ]
}

#[tokio::test]
async fn only_the_domains_own_token_reaches_its_scim_service() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (org, token, domain, _, acme) = scim_tenant(&app, "acme").await;
        let (_, _, _, _, globex) = scim_tenant(&app, "globex").await;
        // A second domain of acme's own organization, with its own token.
        let t = Some(token.as_str());
        let second = json!({"name": "acme-eu", "jit": true, "email_domains": ["eu.acme-corp.example"]});
        let second = json_call(&app, Method::POST, &format!("/v1/orgs/{org}/domains"), t, Some(second)).await;
        let second = second.expect(StatusCode::CREATED, "second domain")["id"].as_str().unwrap_or_default().to_owned();
        let (_, sibling) = issue_token(&app, &org, &token, &second).await;
        // A revoked token of the domain itself.
        let (revoked_id, revoked) = issue_token(&app, &org, &token, &domain).await;
        let uri = format!("/v1/orgs/{org}/domains/{domain}/scim-tokens/{revoked_id}");
        json_call(&app, Method::DELETE, &uri, t, None).await.expect(StatusCode::NO_CONTENT, "revoke");

        let jane = acme.user(user_body("jane@acme.example")).await;
        let user = jane["id"].as_str().unwrap_or_default().to_owned();
        let group = acme.group(json!({"displayName": "eng", "members": [{"value": user}]})).await;
        let group = group["id"].as_str().unwrap_or_default().to_owned();
        let jane = acme.call(Method::GET, &format!("/Users/{user}"), None).await.expect(StatusCode::OK, "jane");
        assert_eq!(jane["meta"]["version"], "W/\"2\"", "joining a group changed her representation: {jane}");

        let strangers: [(&str, Option<&str>); 6] = [
            ("no token", None),
            ("a forged token", Some("pvs_forged")),
            ("another organization's SCIM token", Some(&globex.token)),
            ("a SCIM token of another domain of the organization", Some(&sibling)),
            ("a revoked token", Some(&revoked)),
            ("the organization's API token", Some(&token)),
        ];
        for (method, path, body) in routes(&user, &group) {
            for (who, stranger) in strangers {
                let reply = acme.call_as(stranger, method.clone(), &path, body.clone(), &[]).await;
                reply.error(StatusCode::UNAUTHORIZED, None, &format!("{method} {path} with {who}"));
            }
        }

        // Globex, on its own service, names acme's resources: not found.
        for (method, path, body) in routes(&user, &group) {
            if path.contains(&user) || path.contains(&group) {
                let reply = globex.call(method.clone(), &path, body.clone()).await;
                reply.error(StatusCode::NOT_FOUND, None, &format!("{method} {path} of another domain"));
            }
        }
        let members = json!({"displayName": "mine", "members": [{"value": user}]});
        let reply = globex.call(Method::POST, "/Groups", Some(members)).await;
        reply.error(StatusCode::BAD_REQUEST, Some("invalidValue"), "another domain's user as a member");
        let lists = globex.call(Method::GET, "/Users", None).await.expect(StatusCode::OK, "list");
        assert_eq!(lists["totalResults"], 0, "{lists}");

        // Nothing of acme's changed.
        let after = acme.call(Method::GET, &format!("/Users/{user}"), None).await.expect(StatusCode::OK, "get");
        assert_eq!(after, jane, "acme's user is as it was");
        let eng = acme.call(Method::GET, &format!("/Groups/{group}"), None).await.expect(StatusCode::OK, "group");
        assert_eq!(eng["members"][0]["value"], user.as_str());
        store.close().await;
        db.cleanup().await;
    }
}

/// SCIM is trusted as the domain's administrator is, and no further: an
/// email outside the domain's verified email domains is refused, whether
/// another organization verified it or nobody did, and the refusal is
/// audited.
#[tokio::test]
async fn no_domain_provisions_an_email_it_has_not_verified() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (_, _, _, _, acme) = scim_tenant(&app, "acme").await;
        let (globex_org, globex_token, globex_domain, _, globex) = scim_tenant(&app, "globex").await;
        let jane = acme.user(user_body("jane@acme.example")).await;

        // Globex claims an email domain it has not verified (yet).
        let t = Some(globex_token.as_str());
        let uri = format!("/v1/orgs/{globex_org}/domains/{globex_domain}");
        let claims = json!({"email_domains": ["globex.example", "pending.example"]});
        json_call(&app, Method::PATCH, &uri, t, Some(claims)).await.expect(StatusCode::OK, "claim");

        let hostile: Vec<(&str, Value)> = vec![
            ("acme's email as userName and email", user_body("jane@acme.example")),
            ("acme's email under a subdomain", user_body("jane@sub.acme.example")),
            ("a pending claim", user_body("someone@pending.example")),
            ("an unclaimed domain", user_body("someone@gmail.com")),
            (
                "acme's email as a second email",
                json!({"userName": "eve@globex.example", "emails": [
                    {"value": "eve@globex.example", "primary": true}, {"value": "jane@acme.example"}]}),
            ),
            ("acme's email as userName alone", json!({"userName": "Jane@ACME.example"})),
            ("no email at all", json!({"userName": "nobody"})),
        ];
        for (what, body) in &hostile {
            let reply = globex.call(Method::POST, "/Users", Some(body.clone())).await;
            reply.error(StatusCode::BAD_REQUEST, Some("invalidValue"), what);
        }
        // Through an update too.
        let eve = globex.user(user_body("eve@globex.example")).await;
        let id = eve["id"].as_str().unwrap_or_default();
        let to_acme = patch(
            json!([{"op": "replace", "path": "emails", "value": [{"value": "jane@acme.example", "primary": true}]}]),
        );
        let reply = globex.call(Method::PATCH, &format!("/Users/{id}"), Some(to_acme)).await;
        reply.error(StatusCode::BAD_REQUEST, Some("invalidValue"), "taking acme's email through PATCH");
        let reply = globex.call(Method::PUT, &format!("/Users/{id}"), Some(user_body("jane@acme.example"))).await;
        reply.error(StatusCode::BAD_REQUEST, Some("invalidValue"), "taking acme's email through PUT");

        // Acme's account is untouched, and Globex's audit shows the refusals.
        let account = store.account_by_email("jane@acme.example").await;
        let account = account.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("jane's account"));
        let memberships = store.memberships(&account.id, None).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(memberships.iter().all(|m| m.name != "globex"), "{memberships:?}");
        let path = format!("/Users/{}", jane["id"].as_str().unwrap_or_default());
        assert_eq!(acme.call(Method::GET, &path, None).await.expect(StatusCode::OK, "jane"), jane);
        let audit = json_call(&app, Method::GET, format!("/v1/orgs/{globex_org}/audit?limit=50"), t, None).await;
        let audit = audit.expect(StatusCode::OK, "audit");
        let refused = audit
            .as_array()
            .map(|events| events.iter().filter(|e| e["outcome"] == "scim-refused").count())
            .unwrap_or_default();
        assert_eq!(refused, hostile.len() + 2, "{audit}");
        assert!(!audit.to_string().contains(&globex.token), "the audit never holds a token");
        store.close().await;
        db.cleanup().await;
    }
}
