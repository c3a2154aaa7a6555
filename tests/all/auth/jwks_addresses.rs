//! Which addresses a JWKS URL may point at, checked when the provider is
//! created and again when the fetcher connects.

use std::sync::Arc;
use std::time::Duration;

use provisio::auth::oidc::{FetchError, HttpFetcher, JwksAddresses, JwksFetcher as _};
use provisio::auth::{Argon2Params, AuthServices, ConfigError, ProviderConfig, check_provider};
use serde_json::{Value, json};

use super::{AUDIENCE, ISSUER, JwksServer, clock, jwks, keys, services, with};

fn strict_services() -> Arc<AuthServices> {
    let services = AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build();
    Arc::new(services.unwrap_or_else(|e| panic!("{e}")))
}

fn url_check(services: &AuthServices, url: &str) -> Result<ProviderConfig, ConfigError> {
    check_provider("oidc", &json!({ "issuer": ISSUER, "audience": AUDIENCE, "jwks_url": url }), services)
}

#[test]
fn jwks_urls_on_private_addresses_are_refused_unless_allowed() {
    let strict = strict_services();
    let loopback_ok = services(&clock());
    let anything = Arc::new(
        AuthServices::builder()
            .argon2(Argon2Params::INSECURE_FOR_TESTS)
            .allow_private_jwks_urls(true)
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let cases = [
        ("https://127.0.0.1/keys", "loopback"),
        ("https://127.8.9.10/keys", "loopback"),
        ("https://[::1]/keys", "loopback"),
        ("https://localhost/keys", "loopback"),
        ("https://LOCALHOST./keys", "loopback"),
        ("https://10.0.0.8/keys", "private"),
        ("https://172.16.3.4/keys", "private"),
        ("https://192.168.1.1:8443/keys", "private"),
        ("https://[fd12::1]/keys", "private"),
        ("https://[::ffff:10.0.0.1]/keys", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/keys", "link-local"),
        ("https://0.0.0.0/keys", "unspecified"),
        ("https://[::]/keys", "unspecified"),
    ];
    for (url, kind) in cases {
        match url_check(&strict, url) {
            Err(ConfigError::Field { field: "jwks_url", problem }) => {
                assert!(problem.contains(kind), "{url}: {problem}")
            }
            other => panic!("{url}: {other:?}"),
        }
        assert!(url_check(&anything, url).is_ok(), "{url} with private URLs allowed");
        // Allowing loopback (for a local IdP) allows loopback only.
        assert_eq!(url_check(&loopback_ok, url).is_ok(), kind == "loopback", "{url}");
    }
    // An IPv4 address in a notation `getaddrinfo` accepts is no host name.
    for url in ["https://2130706433/keys", "https://127.1/keys", "https://0x7f.0.0.1/keys"] {
        assert!(matches!(url_check(&strict, url), Err(ConfigError::Field { field: "jwks_url", .. })), "{url}");
    }
    for url in ["https://idp.example.com/keys", "https://8.8.8.8/keys", "https://[2606:4700::1111]/keys"] {
        assert!(url_check(&strict, url).is_ok(), "{url}");
    }
}

#[tokio::test]
async fn the_fetcher_connects_to_allowed_addresses_only() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.rsa])).await;
    let port = server.url.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap_or_default().to_owned();
    let by_name = format!("http://localhost:{port}/.well-known/jwks.json");
    let timeout = Duration::from_secs(5);
    let public = HttpFetcher::with_addresses(true, timeout, JwksAddresses::Public).unwrap_or_else(|e| panic!("{e}"));
    let loopback =
        HttpFetcher::with_addresses(true, timeout, JwksAddresses::PublicAndLoopback).unwrap_or_else(|e| panic!("{e}"));

    // An address literal is refused before connecting; a name whose only
    // addresses are loopback fails to resolve (at every connection, which
    // is what stops DNS rebinding).
    let literal = public.fetch(&server.url).await;
    assert!(matches!(literal, Err(FetchError::NonPublicAddress(_))), "{literal:?}");
    match public.fetch(&by_name).await {
        Err(FetchError::Transport(e)) => assert!(e.contains("no public address"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits(), 0);
    // Allowed, both work.
    assert!(loopback.fetch(&server.url).await.is_ok());
    assert!(loopback.fetch(&by_name).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[test]
fn providers_are_checked_completely_at_creation() {
    let k = keys();
    let strict = strict_services();
    let base = json!({ "issuer": ISSUER, "audience": AUDIENCE });
    let check = |extra: Value| check_provider("oidc", &with(base.clone(), extra), &strict);

    let cases: Vec<(&str, Value, &str)> = vec![
        ("no keys", json!({}), "`jwks` give exactly one of `jwks` and `jwks_url`"),
        ("an empty JWKS", json!({ "jwks": { "keys": [] } }), "no usable signature key"),
        ("only an oct key", json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } }), "no usable"),
        (
            "both jwks and jwks_url",
            json!({ "jwks": jwks(&[&k.rsa]), "jwks_url": "https://idp.example.com/keys" }),
            "exactly one",
        ),
        ("an http:// URL", json!({ "jwks_url": "http://idp.example.com/keys" }), "https://"),
        ("a private address", json!({ "jwks_url": "https://10.1.2.3/keys" }), "private address"),
        ("an unknown field", json!({ "jwks": jwks(&[&k.rsa]), "typo": true }), "typo"),
    ];
    for (name, extra, expected) in cases {
        match check(extra) {
            Err(e) => assert!(e.to_string().contains(expected), "{name}: {e}"),
            Ok(c) => panic!("{name}: accepted {c:?}"),
        }
    }
    // What passes is what would be stored.
    let good = check(json!({ "jwks": jwks(&[&k.rsa]) })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good.kind().as_str(), "oidc");
    assert!(check(json!({ "jwks_url": "https://idp.example.com/keys" })).is_ok());
    assert!(check_provider("password", &json!({}), &strict).is_ok());
    assert!(matches!(check_provider("saml", &json!({}), &strict), Err(ConfigError::UnknownKind(_))));
}
