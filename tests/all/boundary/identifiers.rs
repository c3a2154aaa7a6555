//! Finding 4: two spellings of one identifier, and characters that fold
//! into another person's address.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Tenant, account};
use crate::TestDatabase;
use crate::http::{config, state};

/// `bücher.example` and `xn--bcher-kva.example` are one email domain and
/// one claim; `user@` either spelling is one account; a second organization
/// cannot claim the other spelling once the first is verified.
#[tokio::test]
async fn both_spellings_of_an_internationalized_domain_are_one() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let books = Tenant::new(&app, "books", "Bücher.Example", "rsa.pem", true).await;
        let unicode =
            books.id_login(&app, "u1", "user@bücher.example", json!({})).await.expect(StatusCode::OK, "unicode");
        let ascii = books.id_login(&app, "u2", "USER@xn--bcher-kva.example", json!({})).await;
        let ascii = ascii.expect(StatusCode::OK, "ascii");
        assert_eq!(unicode["account"]["id"], ascii["account"]["id"], "one account");
        assert_eq!(ascii["account"]["email"], "user@xn--bcher-kva.example", "stored in its canonical form");

        let rival = Tenant::new(&app, "rival", "rival.example", "rsa-other.pem", true).await;
        let path = format!("/v1/orgs/{{org}}/domains/{}", rival.domain);
        let claim = json!({"email_domains": ["rival.example", "xn--bcher-kva.example"]});
        let taken = rival.call(&app, Method::PATCH, &path, Some(claim)).await;
        taken.error(StatusCode::CONFLICT, "conflict", "the other spelling of a verified email domain");
        store.close().await;
        db.cleanup().await;
    }
}

/// A non-ASCII character whose lower case is ASCII (the Kelvin sign, a
/// capital I with a dot) never reaches the account of the ASCII address.
#[tokio::test]
async fn no_character_folds_into_another_persons_address() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let acme = Tenant::new(&app, "acme", "acme.example", "rsa.pem", true).await;
        let kate = acme.id_login(&app, "kate", "kate@acme.example", json!({})).await.expect(StatusCode::OK, "kate");
        let ivan = acme.id_login(&app, "ivan", "ivan@acme.example", json!({})).await.expect(StatusCode::OK, "ivan");
        for (subject, lookalike, real) in
            [("kelvin", "\u{212A}ATE@acme.example", &kate), ("dotted", "\u{130}VAN@acme.example", &ivan)]
        {
            let other = acme.id_login(&app, subject, lookalike, json!({})).await;
            let other = other.expect(StatusCode::OK, lookalike);
            assert_ne!(other["account"]["id"], real["account"]["id"], "{lookalike} reached another account");
        }
        assert!(account(&store, "kate@acme.example").await.is_some());
        store.close().await;
        db.cleanup().await;
    }
}
