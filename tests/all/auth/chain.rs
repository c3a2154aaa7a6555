//! The chain of providers: tried in order, the first success wins; keys
//! chosen by `kid` and algorithm.

use jsonwebtoken::{Algorithm, Header};
use provisio::auth::{Answer, AttemptResult, Chain, Credential, PUBLIC_MESSAGE, ProviderConfig, RejectReason, Secret};
use serde_json::{Value, json};

use super::{
    TestKey, accounts, chain, claims, clock, jwks, keys, login_token, no_accounts, oidc_config, password,
    password_chain, services, verify, with,
};

#[tokio::test]
async fn the_chain_tries_providers_in_order_and_the_first_success_wins() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let accounts = accounts(&services);
    let other_issuer = oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec]), "issuer": "https://other.example" }));
    let main = || oidc_config(json!({ "jwks": jwks(&[&k.rsa, &k.ec]) }));
    let local = || ProviderConfig::from_parts("password", &json!({})).unwrap_or_else(|e| panic!("{e}"));
    let chain =
        chain(&services, vec![("local", local()), ("other", other_issuer), ("main", main()), ("main-2", main())]);
    let names = |attempts: &[provisio::auth::Attempt]| -> Vec<(String, String)> {
        attempts
            .iter()
            .map(|a| {
                let result = match &a.result {
                    AttemptResult::Authenticated => "authenticated".to_owned(),
                    AttemptResult::Rejected(r) => r.code().to_owned(),
                    AttemptResult::NotApplicable => "not_applicable".to_owned(),
                    AttemptResult::Unreachable(why) => format!("unreachable ({why})"),
                };
                (a.provider.clone(), result)
            })
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    };

    // Not applicable skipped, a rejection passed over, the first success wins.
    let done = login_token(&chain, &k.ec.sign(&claims())).await.unwrap_or_else(|f| panic!("{f:?}"));
    assert_eq!(done.principal.provider, "main");
    assert_eq!(
        names(&done.attempts),
        pairs(&[("local", "not_applicable"), ("other", "wrong_issuer"), ("main", "authenticated")])
    );

    // A password goes to the password provider only.
    let done = chain
        .authenticate("example.com", &password("alice0@example.com", "correct horse battery"), &accounts, None)
        .await;
    let done = done.unwrap_or_else(|f| panic!("{f:?}"));
    assert_eq!(done.principal.provider, "local");
    assert_eq!(names(&done.attempts), pairs(&[("local", "authenticated")]));

    // All fail: one generic failure, every reason kept, the token in none.
    let token = k.other.sign(&claims());
    let failure = login_token(&chain, &token).await.err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(failure.to_string(), PUBLIC_MESSAGE);
    assert_eq!(
        names(&failure.attempts),
        pairs(&[
            ("local", "not_applicable"),
            ("other", "bad_signature"),
            ("main", "bad_signature"),
            ("main-2", "bad_signature")
        ])
    );
    assert_eq!(
        failure.summary(),
        "local: not_applicable, other: bad_signature, main: bad_signature, main-2: bad_signature"
    );
    let signature = token.rsplit('.').next().unwrap_or_default();
    assert!(!format!("{failure:?}").contains(signature));
    assert!(!format!("{:?}", Credential::IdToken(Secret::new(token.clone()))).contains(signature));

    // A single provider answers on its own too.
    let provider = &chain.providers()[0];
    let answer = provider
        .authenticate(&services, "example.com", &Credential::IdToken(Secret::new(token)), &accounts, None)
        .await;
    assert_eq!(answer, Answer::NotApplicable);

    // No provider at all: the same generic failure.
    let empty = Chain::new(services.clone(), []).unwrap_or_else(|e| panic!("{e}"));
    let failure = login_token(&empty, "x").await.err().unwrap_or_else(|| panic!("accepted"));
    assert!(failure.attempts.is_empty());
    assert_eq!(failure.to_string(), PUBLIC_MESSAGE);
}

#[tokio::test]
async fn keys_are_chosen_by_kid_and_algorithm() {
    let k = keys();
    let clock = clock();
    let services = services(&clock);
    let no_kid = |key: &TestKey| {
        let mut jwk = key.jwk();
        if let Value::Object(o) = &mut jwk {
            o.remove("kid");
        }
        jwk
    };
    let unsigned = |key: &TestKey| key.sign_with(Header::new(key.alg), &claims());
    // Keys that cannot verify are skipped: symmetric, encryption-only, unknown curves.
    let noise = [
        json!({ "kty": "oct", "k": "c2VjcmV0", "kid": "hmac" }),
        with(k.ec.jwk(), json!({ "use": "enc", "kid": "enc-1" })),
        json!({ "kty": "OKP", "crv": "X25519", "x": "AAAA", "kid": "x" }),
        json!({ "kty": "RSA", "kid": "broken" }),
    ];
    let mut cases = vec![
        // One key without a kid: tokens with or without a kid use it.
        (json!({ "keys": [no_kid(&k.rsa)] }), k.rsa.sign(&claims()), None),
        (json!({ "keys": [no_kid(&k.rsa)] }), unsigned(&k.rsa), None),
        // No kid in the token: the only key of the right type.
        (jwks(&[&k.rsa, &k.ec]), unsigned(&k.ec), None),
        // No kid and two candidates: ambiguous.
        (
            jwks(&[&k.rsa, &TestKey::load("rsa-other.pem", Algorithm::RS256, "rsa-2")]),
            unsigned(&k.rsa),
            Some(RejectReason::UnknownKey),
        ),
        // A key whose own `alg` differs from the token's is not used.
        (
            json!({ "keys": [with(k.rsa.jwk(), json!({ "alg": "PS256" }))] }),
            k.rsa.sign(&claims()),
            Some(RejectReason::UnknownKey),
        ),
    ];
    let mut with_noise = noise.to_vec();
    with_noise.push(k.ed.jwk());
    cases.push((json!({ "keys": with_noise }), k.ed.sign(&claims()), None));
    for (i, (set, token, expected)) in cases.into_iter().enumerate() {
        let chain = chain(&services, vec![("corp", oidc_config(json!({ "jwks": set })))]);
        assert_eq!(verify(&chain, &token).await.err(), expected, "case {i}");
    }
}

/// The login engine runs the chain inside multi-threaded servers.
#[test]
fn the_chain_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let clock = clock();
    let services = services(&clock);
    let chain = password_chain(&services);
    let accounts = no_accounts();
    let credential = password("a@b.c", "x");
    is_send(&chain.authenticate("example.com", &credential, &accounts, None));
}
