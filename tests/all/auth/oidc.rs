//! OpenID Connect ID tokens: every algorithm, the claims and their
//! variants, every way a token is bad, and the provider's configuration.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provisio::auth::{Argon2Params, AuthServices, Chain, ConfigError, Oversized, ProviderConfig, RejectReason};
use serde_json::{Value, json};

use super::{AUDIENCE, ISSUER, NOW, chain, claims, clock, fixture, jwks, keys, oidc_config, services, verify, with};

#[tokio::test]
async fn valid_tokens_of_each_algorithm_give_the_principal() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec, &k.ed]) })))]);
    for key in [&k.rsa, &k.ec, &k.ed] {
        let p = verify(&chain, &key.sign(&claims())).await.unwrap_or_else(|r| panic!("{:?}: {r:?}", key.alg));
        assert_eq!(p.domain, "example.com");
        assert_eq!(p.provider, "corp");
        assert_eq!(p.subject, "00u1abcd");
        assert_eq!(p.email, "alice.liddell@example.com");
        assert!(p.email_verified);
        assert_eq!(p.given_name.as_deref(), Some("Alice"));
        assert_eq!(p.family_name.as_deref(), Some("Liddell"));
        assert_eq!(p.groups, ["engineering", "admins"]);
        let names: Vec<&str> = p.claims.keys().map(String::as_str).collect();
        // No protocol claims, nothing token-like, no non-strings; `name` is kept whole.
        assert_eq!(names, ["hd", "locale", "name"], "{:?}", key.alg);
        assert_eq!(p.claims["name"], "Alice Liddell");
    }
}

#[tokio::test]
async fn claims_are_read_with_their_variants() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let custom = oidc_config(json!({
        "jwks": jwks(&[&k.rsa]), "groups_claim": "realm_access.roles", "email_claim": "upn",
        "audience": ["other-client", AUDIENCE],
    }));
    let chain_default = chain(&services, vec![("corp", oidc_config(json!({ "jwks": jwks(&[&k.rsa]) })))]);
    let chain_custom = chain(&services, vec![("corp", custom)]);
    let sign = |changes: Value| k.rsa.sign(&with(claims(), changes));

    let p = verify(&chain_default, &sign(json!({ "email_verified": false }))).await;
    assert!(!p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
    let p = verify(&chain_default, &sign(json!({ "email_verified": "true" }))).await;
    assert!(p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
    let p = verify(&chain_default, &sign(json!({ "email_verified": null, "groups": "solo" }))).await;
    let p = p.unwrap_or_else(|r| panic!("{r:?}"));
    assert!(!p.email_verified);
    assert_eq!(p.groups, ["solo"]);
    let p = verify(&chain_default, &sign(json!({ "groups": null, "given_name": null }))).await;
    let p = p.unwrap_or_else(|r| panic!("{r:?}"));
    assert!(p.groups.is_empty());
    assert_eq!(p.given_name, None);
    // Audience as a list; a nested groups claim; another email claim.
    let token = sign(json!({
        "aud": ["someone", AUDIENCE], "azp": AUDIENCE, "upn": "Bob@Example.org", "email": null,
        "realm_access": { "roles": ["r1", "r2"] },
    }));
    let p = verify(&chain_custom, &token).await.unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!((p.email.as_str(), p.groups.as_slice()), ("bob@example.org", &["r1".to_owned(), "r2".to_owned()][..]));
    // Within the leeway (60 s) on both sides, and within the lifetime bound.
    for changes in [
        json!({ "exp": NOW - 59 }),
        json!({ "nbf": NOW + 59 }),
        json!({ "iat": NOW + 59 }),
        json!({ "exp": NOW + 86_400 + 59 }),
        // Several audiences with ours as the authorized party; `azp` alone.
        json!({ "aud": [AUDIENCE, "another-client"], "azp": AUDIENCE }),
        json!({ "azp": AUDIENCE }),
    ] {
        assert!(verify(&chain_default, &sign(changes.clone())).await.is_ok(), "{changes}");
    }
    // An IdP that never sends `email_verified` (Entra ID) can be trusted to
    // own its emails; an explicit `false` is never overridden.
    let trusting = oidc_config(json!({ "jwks": jwks(&[&k.rsa]), "assume_email_verified": true }));
    let chain_trusting = chain(&services, vec![("corp", trusting)]);
    let p = verify(&chain_trusting, &sign(json!({ "email_verified": null }))).await;
    assert!(p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
    let p = verify(&chain_trusting, &sign(json!({ "email_verified": false }))).await;
    assert!(!p.unwrap_or_else(|r| panic!("{r:?}")).email_verified);
}

#[tokio::test]
async fn bad_tokens_are_rejected_with_their_reason() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec, &k.ed]) })))]);
    let sign = |changes: Value| k.rsa.sign(&with(claims(), changes));
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let public_pem = fixture("rsa.pub.pem");
    let hs256 = EncodingKey::from_secret(public_pem.as_bytes());
    let good = sign(json!({}));
    let (head, rest) = good.split_once('.').unwrap_or_else(|| panic!("token"));
    let (_, signature) = rest.split_once('.').unwrap_or_else(|| panic!("token"));
    let tampered = format!("{head}.{}.{signature}", b64(&with(claims(), json!({ "sub": "admin" }))));
    let header = |alg: Algorithm, kid: &str, typ: &str| Header {
        kid: Some(kid.to_owned()),
        typ: Some(typ.to_owned()),
        ..Header::new(alg)
    };

    let cases: Vec<(&str, String, RejectReason)> = vec![
        ("expired", sign(json!({ "exp": NOW - 61 })), RejectReason::Expired),
        ("not yet valid", sign(json!({ "nbf": NOW + 61 })), RejectReason::NotYetValid),
        ("no exp", sign(json!({ "exp": null })), RejectReason::MalformedClaim("exp".into())),
        ("wrong audience", sign(json!({ "aud": "someone-else" })), RejectReason::WrongAudience),
        ("no audience", sign(json!({ "aud": null })), RejectReason::WrongAudience),
        ("wrong issuer", sign(json!({ "iss": "https://evil.example" })), RejectReason::WrongIssuer),
        ("another key, same kid", k.other.sign(&claims()), RejectReason::BadSignature),
        ("tampered claims", tampered, RejectReason::BadSignature),
        (
            "alg none",
            format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), b64(&claims())),
            RejectReason::UnsupportedAlgorithm,
        ),
        (
            "HS256 with the public key as secret",
            jsonwebtoken::encode(&header(Algorithm::HS256, "rsa-1", "JWT"), &claims(), &hs256)
                .unwrap_or_else(|e| panic!("{e}")),
            RejectReason::UnsupportedAlgorithm,
        ),
        (
            "RS384 not allowed by default",
            k.rsa.sign_with(header(Algorithm::RS384, "rsa-1", "JWT"), &claims()),
            RejectReason::UnsupportedAlgorithm,
        ),
        ("unknown kid", k.rsa.sign_with(header(Algorithm::RS256, "rsa-2", "JWT"), &claims()), RejectReason::UnknownKey),
        (
            "ES256 header with the RSA key's kid",
            k.ec.sign_with(header(Algorithm::ES256, "rsa-1", "JWT"), &claims()),
            RejectReason::UnknownKey,
        ),
        (
            "access token",
            k.rsa.sign_with(header(Algorithm::RS256, "rsa-1", "at+jwt"), &claims()),
            RejectReason::WrongTokenType,
        ),
        ("not a JWT", "definitely not a token".into(), RejectReason::MalformedToken),
        ("two parts", "eyJhbGciOiJSUzI1NiJ9.e30".into(), RejectReason::MalformedToken),
        ("header not JSON", format!("bm90IGpzb24.{}.c2ln", b64(&claims())), RejectReason::MalformedToken),
        ("claims not JSON", format!("{head}.bm90IGpzb24.{signature}"), RejectReason::BadSignature),
        (
            "crit header",
            format!("{}.{}.c2ln", b64(&json!({ "alg": "RS256", "kid": "rsa-1", "crit": ["exp"] })), b64(&claims())),
            RejectReason::MalformedToken,
        ),
        (
            "oversized token",
            sign(json!({ "padding": "x".repeat(17 * 1024) })),
            RejectReason::OversizedClaims(Oversized::Token(0)),
        ),
        (
            "too many groups",
            sign(json!({ "groups": (0..1001).map(|i| format!("g{i}")).collect::<Vec<_>>() })),
            RejectReason::OversizedClaims(Oversized::GroupCount(1001)),
        ),
        (
            "oversized group",
            sign(json!({ "groups": ["ok", "g".repeat(257)] })),
            RejectReason::OversizedClaims(Oversized::Group(257)),
        ),
        (
            "oversized claim",
            sign(json!({ "department": "d".repeat(1025) })),
            RejectReason::OversizedClaims(Oversized::Claim("department".into(), 1025)),
        ),
        ("groups not strings", sign(json!({ "groups": ["a", 7] })), RejectReason::MalformedClaim("groups".into())),
        ("groups an object", sign(json!({ "groups": {"a": 1} })), RejectReason::MalformedClaim("groups".into())),
        ("missing email", sign(json!({ "email": null })), RejectReason::MissingEmail),
        ("email not an address", sign(json!({ "email": "alice" })), RejectReason::InvalidEmail),
        ("email not a string", sign(json!({ "email": ["a@b.c"] })), RejectReason::InvalidEmail),
        ("missing subject", sign(json!({ "sub": null })), RejectReason::MissingSubject),
        ("empty subject", sign(json!({ "sub": "" })), RejectReason::MissingSubject),
        // OpenID Connect Core 3.1.3.7: several audiences need an `azp`, and
        // an `azp` must be ours.
        (
            "several audiences, no azp",
            sign(json!({ "aud": [AUDIENCE, "another-client"] })),
            RejectReason::WrongAuthorizedParty,
        ),
        (
            "several audiences, azp another client",
            sign(json!({ "aud": [AUDIENCE, "another-client"], "azp": "another-client" })),
            RejectReason::WrongAuthorizedParty,
        ),
        ("azp another client", sign(json!({ "azp": "another-client" })), RejectReason::WrongAuthorizedParty),
        ("azp not a string", sign(json!({ "azp": 7 })), RejectReason::MalformedClaim("azp".into())),
        // Tokens that claim to live for ever, or to come from the future.
        ("exp 1e300", sign(json!({ "exp": 1e300 })), RejectReason::LifetimeTooLong),
        ("exp past the lifetime bound", sign(json!({ "exp": NOW + 86_400 + 61 })), RejectReason::LifetimeTooLong),
        ("iat in the future", sign(json!({ "iat": NOW + 61 })), RejectReason::IssuedInFuture),
        ("iat far in the future", sign(json!({ "iat": 1e300 })), RejectReason::IssuedInFuture),
        ("iat not a number", sign(json!({ "iat": "now" })), RejectReason::MalformedClaim("iat".into())),
    ];
    let mut wrong = Vec::new();
    for (name, token, expected) in cases {
        let got = verify(&chain, &token).await;
        let same = match (&got, &expected) {
            // The token's exact size does not matter here.
            (
                Err(RejectReason::OversizedClaims(Oversized::Token(n))),
                RejectReason::OversizedClaims(Oversized::Token(_)),
            ) => *n > 16 * 1024,
            (Err(got), expected) => got == expected,
            (Ok(_), _) => false,
        };
        if !same {
            wrong.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn provider_configurations_are_checked() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let strict = Arc::new(
        AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build().unwrap_or_else(|e| panic!("{e}")),
    );
    let inline = jwks(&[&k.rsa]);
    let parse = |config: Value| ProviderConfig::from_parts("oidc", &config);
    let make = |services: &Arc<AuthServices>, config: Value| {
        parse(config).and_then(|c| Chain::new(services.clone(), [("p".to_owned(), c)]))
    };
    let base = json!({ "issuer": ISSUER, "audience": AUDIENCE });

    // The defaults and the stored form.
    let config = oidc_config(json!({ "jwks_url": "https://idp.example.com/keys" }));
    let ProviderConfig::Oidc(oidc) = &config else { panic!("kind") };
    assert_eq!((oidc.jwks_cache_ttl_secs, oidc.leeway_secs, oidc.max_token_lifetime_secs), (300, 60, 86_400));
    assert_eq!((oidc.groups_claim.as_str(), oidc.email_claim.as_str()), ("groups", "email"));
    assert_eq!(oidc.audience, [AUDIENCE]);
    let stored = serde_json::to_value(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored["kind"], "oidc");
    assert_eq!(ProviderConfig::from_parts("oidc", &stored["config"]), Ok(config.clone()));
    assert_eq!(ProviderConfig::from_parts("oidc", &config.config_json()), Ok(config));

    // HMAC and `none` cannot even be named.
    for alg in ["HS256", "none"] {
        assert!(matches!(
            parse(with(base.clone(), json!({ "jwks": inline, "algorithms": [alg] }))),
            Err(ConfigError::Json(_))
        ));
    }
    assert!(matches!(parse(with(base.clone(), json!({ "jwks": inline, "typo": 1 }))), Err(ConfigError::Json(_))));
    assert!(matches!(ProviderConfig::from_parts("saml", &json!({})), Err(ConfigError::UnknownKind(_))));
    let refused = [
        json!({}),
        json!({ "jwks": inline, "jwks_url": "https://idp.example.com/keys" }),
        json!({ "jwks_url": "http://idp.example.com/keys" }),
        json!({ "jwks_url": "ftp://idp.example.com/keys" }),
        json!({ "jwks_url": "not a url" }),
        json!({ "jwks": { "keys": [] } }),
        json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } }),
        json!({ "jwks": inline, "audience": [] }),
        json!({ "jwks": inline, "leeway_secs": 3600 }),
        json!({ "jwks": inline, "jwks_cache_ttl_secs": 1 }),
        json!({ "jwks": inline, "max_token_lifetime_secs": 10 }),
        json!({ "jwks": inline, "max_token_lifetime_secs": 30 * 86_400 }),
    ];
    for extra in refused {
        assert!(make(&services, with(base.clone(), extra.clone())).is_err(), "{extra}");
    }
    // Plain HTTP on loopback only where the services allow it.
    let local = with(base.clone(), json!({ "jwks_url": "http://127.0.0.1:9/keys" }));
    assert!(make(&services, local.clone()).is_ok());
    assert!(matches!(make(&strict, local), Err(ConfigError::Field { field: "jwks_url", .. })));

    let password = ProviderConfig::from_parts("password", &json!({})).unwrap_or_else(|e| panic!("{e}"));
    let twice = Chain::new(services.clone(), [("a".to_owned(), password.clone()), ("b".to_owned(), password.clone())]);
    assert_eq!(twice.err(), Some(ConfigError::SecondPasswordProvider));
    let same_name =
        Chain::new(services, [("a".to_owned(), password), ("a".to_owned(), oidc_config(json!({ "jwks": inline })))]);
    assert_eq!(same_name.err(), Some(ConfigError::DuplicateName("a".into())));
}
