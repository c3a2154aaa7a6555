//! Keys from a JWKS URL: fetched, cached, refreshed; an unreachable or
//! broken URL makes the provider unavailable, not the token rejected.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use provisio::auth::{PUBLIC_MESSAGE, RejectReason};
use provisio::plugin::Principal;
use serde_json::json;

use super::{
    JwksServer, NOW, chain, claims, clock, jwks, keys, login_token, oidc_config, only_reason, services, verify, with,
};

#[tokio::test]
async fn jwks_url_is_fetched_cached_and_refreshed() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let server = JwksServer::start(jwks(&[&k.rsa])).await;
    // Tokens that outlive the clock's moves (longer than the default bound).
    let config = oidc_config(json!({ "jwks_url": server.url, "max_token_lifetime_secs": 200_000 }));
    let chain = chain(&services, vec![("corp", config)]);
    let ok = |r: Result<Principal, RejectReason>| r.unwrap_or_else(|r| panic!("{r:?}"));
    let claims = || with(claims(), json!({ "exp": NOW + 100_000 }));

    // First use fetches, the second is served from the cache.
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 1);
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 1);

    // The IdP rotates in a new key: an unknown kid makes the cache fetch again.
    clock.advance(Duration::from_secs(31));
    server.serve(200, jwks(&[&k.rsa, &k.ec]));
    ok(verify(&chain, &k.ec.sign(&claims())).await);
    assert_eq!(server.hits(), 2);

    // Forged kids cannot make it fetch more than once per refresh interval.
    let forged =
        |kid: &str| k.rsa.sign_with(Header { kid: Some(kid.to_owned()), ..Header::new(Algorithm::RS256) }, &claims());
    for i in 0..5 {
        assert_eq!(verify(&chain, &forged(&format!("forged-{i}"))).await, Err(RejectReason::UnknownKey));
    }
    assert_eq!(server.hits(), 2);
    clock.advance(Duration::from_secs(31));
    assert_eq!(verify(&chain, &forged("forged-late")).await, Err(RejectReason::UnknownKey));
    assert_eq!(server.hits(), 3);

    // After the TTL (5 minutes) the document is fetched again.
    clock.advance(Duration::from_secs(299));
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 3);
    clock.advance(Duration::from_secs(2));
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 4);

    // When the IdP fails, the last document is still used for a while.
    server.serve(500, json!({}));
    clock.advance(Duration::from_secs(301));
    ok(verify(&chain, &k.rsa.sign(&claims())).await);
    assert_eq!(server.hits(), 5);
    clock.advance(Duration::from_secs(3600));
    let failure = login_token(&chain, &k.rsa.sign(&claims())).await.err().unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(only_reason(&failure), RejectReason::KeysUnavailable(_)), "{failure:?}");
    assert!(failure.unavailable());
    assert_eq!(failure.to_string(), PUBLIC_MESSAGE);
}

#[tokio::test]
async fn unreachable_or_broken_jwks_urls_are_unavailable_not_rejections() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let server = JwksServer::start(json!({ "not": "a jwks" })).await;
    // A port nobody listens on: bind one, then free it.
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().unwrap_or_else(|e| panic!("{e}"))
    };
    let token = k.rsa.sign(&claims());
    for (url, hits) in [(format!("http://{closed}/keys"), 0), (server.url.clone(), 1)] {
        let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks_url": url })))]);
        let reason = verify(&chain, &token).await.err();
        assert!(matches!(reason, Some(RejectReason::KeysUnavailable(_))), "{url}: {reason:?}");
        // Failures are not retried before the refresh interval.
        let _ = verify(&chain, &token).await;
        assert_eq!(server.hits(), hits);
    }
}
