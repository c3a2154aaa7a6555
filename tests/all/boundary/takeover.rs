//! Finding 1: an organization's own identity provider vouching for another
//! organization's people, and its admin token locking them out.

use axum::http::{Method, StatusCode};
use provisio::store::{AccountState, MembershipSource, MembershipTarget};
use serde_json::json;

use super::{Tenant, account, operator};
use crate::TestDatabase;
use crate::http::{config, state};

/// The attacker's IdP mints a token for Alice, whose email domain the victim
/// verified: the login is refused with `email-domain-not-verified`, audited
/// in the attacker's log, and Alice's account, names and memberships are
/// exactly as before. The attacker cannot claim her email domain either.
#[tokio::test]
async fn another_organizations_idp_cannot_sign_in_as_its_people() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let victim = Tenant::new(&app, "victim", "victim.example", "rsa.pem", true).await;
        let attacker = Tenant::new(&app, "attacker", "attacker.example", "rsa-other.pem", true).await;
        let names = json!({"given_name": "Alice", "family_name": "Liddell"});
        let alice = victim.id_login(&app, "alice", "alice@victim.example", names).await.expect(StatusCode::OK, "alice");
        let before = account(&store, "alice@victim.example").await;

        // The attacker cannot claim her email domain, nor approve its own claims.
        let path = format!("/v1/orgs/{{org}}/domains/{}", attacker.domain);
        let claims = json!({"email_domains": ["attacker.example", "victim.example"]});
        let claimed = attacker.call(&app, Method::PATCH, &path, Some(claims)).await;
        claimed.error(StatusCode::CONFLICT, "conflict", "claiming another organization's verified email domain");
        let approve =
            format!("/v1/orgs/{}/domains/{}/email-domains/attacker.example/approve", attacker.org, attacker.domain);
        let own = attacker.call(&app, Method::POST, &approve, None).await;
        own.error(StatusCode::FORBIDDEN, "forbidden", "an organization approving its own claim");

        // A token its own IdP minted for Alice, with other names.
        let forged = json!({"given_name": "Mallory", "family_name": "Owned"});
        let refused = attacker.id_login(&app, "mallory", "alice@victim.example", forged).await;
        refused.error(StatusCode::FORBIDDEN, "email-domain-not-verified", "a foreign email");
        assert_eq!(account(&store, "alice@victim.example").await, before, "Alice's account is unchanged");
        let alice_id = provisio::store::AccountId::new(alice["account"]["id"].as_str().unwrap_or_default());
        let attacker_org = provisio::store::OrgId::new(&attacker.org);
        let memberships = store.memberships(&alice_id, Some(&attacker_org)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(memberships.is_empty(), "no membership in the attacker's organization: {memberships:?}");
        let audit = attacker.audit(&app).await;
        assert!(
            audit.iter().any(|e| e["outcome"] == "email-domain-not-verified" && e["account"].is_null()),
            "the refusal is audited in the attacker's log: {audit:?}"
        );

        // Its admin token cannot lock her: she is not its member.
        let lock = format!("/v1/orgs/{{org}}/accounts/{}/lock", alice_id);
        attacker.call(&app, Method::POST, &lock, None).await.error(StatusCode::NOT_FOUND, "not-found", "lock");
        let platform = format!("/v1/accounts/{alice_id}/lock");
        let platform = attacker.call(&app, Method::POST, &platform, None).await;
        platform.error(StatusCode::FORBIDDEN, "forbidden", "an organization locking a platform account");
        victim.id_login(&app, "alice", "alice@victim.example", json!({})).await.expect(StatusCode::OK, "alice again");
        store.close().await;
        db.cleanup().await;
    }
}

/// An organization's lock is a suspension there: the person's logins and
/// sessions elsewhere go on, the platform-wide state is untouched; only the
/// operator locks the account itself.
#[tokio::test]
async fn an_organizations_lock_is_a_suspension_there_only() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let state = state(&store, config()).await;
        let app = provisio::http::router(state.clone());
        let home = Tenant::new(&app, "home", "home.example", "rsa.pem", true).await;
        let other = Tenant::new(&app, "other", "other.example", "rsa-other.pem", true).await;
        let bob = home.id_login(&app, "bob", "bob@home.example", json!({})).await.expect(StatusCode::OK, "bob");
        let bob_id = provisio::store::AccountId::new(bob["account"]["id"].as_str().unwrap_or_default());
        // Bob is a member of the other organization too (say, by an invitation).
        let member = provisio::store::Membership {
            account: bob_id.clone(),
            org: provisio::store::OrgId::new(&other.org),
            target: MembershipTarget::Organization,
            source: MembershipSource::Admin,
        };
        store.add_membership(&member).await.unwrap_or_else(|e| panic!("{e}"));

        let lock = format!("/v1/orgs/{{org}}/accounts/{bob_id}/lock");
        other.call(&app, Method::POST, &lock, None).await.expect(StatusCode::NO_CONTENT, "the other suspends Bob");
        let still = store.account(&bob_id).await.unwrap_or_else(|e| panic!("{e}")).map(|a| a.state);
        assert_eq!(still, Some(AccountState::Active), "the platform-wide account is untouched");
        home.id_login(&app, "bob", "bob@home.example", json!({})).await.expect(StatusCode::OK, "Bob at home");

        // A session Bob had before he is suspended stops working there.
        let session = bob["session_token"].as_str().unwrap_or_default().to_owned();
        let gateway = provisio::gateway::Gateway::local(state.host().clone(), state.signer())
            .account_check_ttl(std::time::Duration::ZERO)
            .build()
            .unwrap_or_else(|e| panic!("gateway: {e}"));
        let bearer = format!("Bearer {session}");
        assert!(gateway.authenticate(Some(&bearer)).await.is_ok(), "Bob's session works");
        home.call(&app, Method::POST, &lock, None).await.expect(StatusCode::NO_CONTENT, "home suspends Bob");
        let refused = home.id_login(&app, "bob", "bob@home.example", json!({})).await;
        refused.error(StatusCode::FORBIDDEN, "account-suspended", "suspended at home");
        let stopped = gateway.authenticate(Some(&bearer)).await.err().map(|r| r.code());
        assert_eq!(stopped, Some("account-suspended"), "Bob's session at home stops");
        let unlock = format!("/v1/orgs/{{org}}/accounts/{bob_id}/unlock");
        home.call(&app, Method::POST, &unlock, None).await.expect(StatusCode::NO_CONTENT, "home reinstates Bob");
        home.id_login(&app, "bob", "bob@home.example", json!({})).await.expect(StatusCode::OK, "Bob is back");

        // The platform-wide lock is the operator's.
        let platform = format!("/v1/accounts/{bob_id}/lock");
        operator(&app, Method::POST, &platform, None).await.expect(StatusCode::NO_CONTENT, "operator lock");
        let locked = home.id_login(&app, "bob", "bob@home.example", json!({})).await;
        locked.error(StatusCode::FORBIDDEN, "account-locked", "locked platform-wide");
        store.close().await;
        db.cleanup().await;
    }
}

/// Another organization's invitation is never accepted behind a person's
/// back: signed in through the domain that vouches for their email, they
/// see it and accept it themself; nobody else can accept it for them.
#[tokio::test]
async fn another_organizations_invitation_is_accepted_by_the_person() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let home = Tenant::new(&app, "home", "home.example", "rsa.pem", true).await;
        let partner = Tenant::new(&app, "partner", "partner.example", "rsa-other.pem", true).await;
        let invited = partner.call(
            &app,
            Method::POST,
            "/v1/orgs/{org}/invitations",
            Some(json!({"email": "Carol@home.example"})),
        );
        let invitation =
            invited.await.expect(StatusCode::CREATED, "invite")["id"].as_str().unwrap_or_default().to_owned();

        // Carol's own login does not accept it for her.
        let carol = home.id_login(&app, "carol", "carol@home.example", json!({})).await.expect(StatusCode::OK, "carol");
        let members =
            partner.call(&app, Method::GET, "/v1/orgs/{org}/accounts", None).await.expect(StatusCode::OK, "list");
        assert_eq!(members, json!([]), "not a member before she accepts");
        let dave = home.id_login(&app, "dave", "dave@home.example", json!({})).await.expect(StatusCode::OK, "dave");
        let session = |answer: &serde_json::Value| answer["session_token"].as_str().unwrap_or_default().to_owned();
        let (carol_token, dave_token) = (session(&carol), session(&dave));

        let mine = crate::http::json_call(&app, Method::GET, "/v1/me/invitations", Some(&carol_token), None).await;
        let mine = mine.expect(StatusCode::OK, "her invitations");
        assert_eq!(mine[0]["id"], invitation.as_str(), "{mine}");
        let theirs = crate::http::json_call(&app, Method::GET, "/v1/me/invitations", Some(&dave_token), None).await;
        assert_eq!(theirs.expect(StatusCode::OK, "his"), json!([]));
        let accept = format!("/v1/me/invitations/{invitation}/accept");
        let stolen = crate::http::json_call(&app, Method::POST, &accept, Some(&dave_token), None).await;
        stolen.error(StatusCode::NOT_FOUND, "not-found", "someone else's invitation");
        let forged = crate::http::json_call(&app, Method::POST, &accept, Some(&partner.token), None).await;
        forged.error(StatusCode::UNAUTHORIZED, "unauthorized", "an organization token is no session");
        let accepted = crate::http::json_call(&app, Method::POST, &accept, Some(&carol_token), None).await;
        assert_eq!(accepted.expect(StatusCode::OK, "accept")["state"], "accepted");
        let members =
            partner.call(&app, Method::GET, "/v1/orgs/{org}/accounts", None).await.expect(StatusCode::OK, "list");
        assert_eq!(members[0]["email"], "carol@home.example", "{members}");
        let again = crate::http::json_call(&app, Method::POST, &accept, Some(&carol_token), None).await;
        again.error(StatusCode::NOT_FOUND, "not-found", "an invitation is accepted once");
        store.close().await;
        db.cleanup().await;
    }
}
