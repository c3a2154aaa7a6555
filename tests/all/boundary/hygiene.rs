//! Finding 5: NUL, control and invisible characters reaching the database,
//! on any path: a clear refusal, never a 500 or 503, nothing stored.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Tenant, account};
use crate::TestDatabase;
use crate::http::{config, state};

#[tokio::test]
async fn bad_text_in_a_principal_is_refused_by_name_and_writes_nothing() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
        for (subject, email, extra, rule) in [
            ("nul-name", "n1@acme.example", json!({"given_name": "Eve\u{0}"}), "principal-control-character"),
            ("nul\u{0}subject", "n2@acme.example", json!({}), "principal-control-character"),
            ("bidi-name", "n3@acme.example", json!({"family_name": "evil\u{202e}moc"}), "principal-format-character"),
            ("zw-group", "n4@acme.example", json!({"groups": ["admins\u{200b}"]}), "principal-format-character"),
            ("bell-claim", "n5@acme.example", json!({"department": "x\u{7}"}), "principal-control-character"),
        ] {
            let refused = acme.id_login(&app, subject, email, extra).await;
            let body = refused.error(StatusCode::FORBIDDEN, "provisioning-failed", subject);
            assert!(!body["message"].as_str().unwrap_or_default().contains('\u{0}'), "{body}");
            assert!(account(&store, email).await.is_none(), "[{:?}] {subject}: an account was stored", db.kind());
            let audit = acme.audit(&app).await;
            assert!(audit.iter().any(|e| e["rule"] == rule), "[{:?}] {subject}: {rule} not audited", db.kind());
        }
        // An existing account: the update is refused the same way.
        acme.id_login(&app, "alice", "alice@acme.example", json!({"given_name": "Alice"}))
            .await
            .expect(StatusCode::OK, "alice");
        let refused = acme.id_login(&app, "alice", "alice@acme.example", json!({"given_name": "Al\u{202e}ice"})).await;
        refused.error(StatusCode::FORBIDDEN, "provisioning-failed", "a bidi override in an update");
        let alice = account(&store, "alice@acme.example").await;
        assert_eq!(alice.and_then(|a| a.given_name).as_deref(), Some("Alice"), "the name is unchanged");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_text_in_admin_requests_is_a_bad_request() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
        for name in ["a\u{0}b", "admins\u{200b}", "line\nbreak", "\u{202e}nimda"] {
            let team = acme.call(&app, Method::POST, "/v1/orgs/{org}/teams", Some(json!({"name": name}))).await;
            team.error(StatusCode::BAD_REQUEST, "bad-request", name);
            let role = acme.call(&app, Method::POST, "/v1/orgs/{org}/roles", Some(json!({"name": name}))).await;
            role.error(StatusCode::BAD_REQUEST, "bad-request", name);
        }
        for email in ["x\u{0}@acme.example", "x@acme.example\u{202e}", "nobody"] {
            let invite =
                acme.call(&app, Method::POST, "/v1/orgs/{org}/invitations", Some(json!({"email": email}))).await;
            invite.error(StatusCode::BAD_REQUEST, "bad-request", email);
        }
        let domain = json!({"name": "evil\u{0}domain", "email_domains": []});
        let refused = acme.call(&app, Method::POST, "/v1/orgs/{org}/domains", Some(domain)).await;
        refused.error(StatusCode::BAD_REQUEST, "bad-request", "a NUL in a domain name");
        let teams = acme.call(&app, Method::GET, "/v1/orgs/{org}/teams", None).await.expect(StatusCode::OK, "teams");
        assert_eq!(teams.as_array().map(Vec::len), Some(1), "only the setup's team: {teams}");
        store.close().await;
        db.cleanup().await;
    }
}
