//! Bad input at the login: every refusal is the right typed error, and
//! nothing is written but the audit event. Plus what the audit records.

use crate::plugins;
use jsonwebtoken::{Algorithm, Header};
use provisio::auth::{Credential, Secret};
use provisio::engine::LoginRequest;
use provisio::store::AuditFilter;
use serde_json::{Value, json};

use crate::TestDatabase;
use crate::auth::TestKey;
use crate::engine::{Setup, id_token, prepare};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn claims() -> Value {
    json!({
        "iss": "https://idp.acme.example", "aud": "provisio-test", "sub": "sub-bad",
        "iat": now(), "exp": now() + 300, "email": "bad@acme.example", "email_verified": true,
    })
}

fn token(key: &str, claims: Value) -> Credential {
    Credential::IdToken(Secret::new(TestKey::load(key, Algorithm::RS256, "rsa-1").sign(&claims)))
}

fn with(mut c: Value, key: &str, value: Value) -> Value {
    c[key] = value;
    c
}

#[tokio::test]
async fn bad_input_is_refused_with_its_error_and_writes_nothing() {
    let runtime = crate::runtime();
    let many_groups: Vec<String> = (0..5000).map(|i| format!("g{i}")).collect();
    let unsigned = {
        let header = Header { kid: Some("rsa-1".into()), ..Header::new(Algorithm::RS256) };
        let signed = TestKey::load("rsa.pem", Algorithm::RS256, "rsa-1").sign_with(header, &claims());
        let mut parts: Vec<&str> = signed.split('.').collect();
        parts[2] = "";
        parts.join(".")
    };
    let cases: Vec<(&str, Option<&str>, Credential, &str)> = vec![
        (
            "expired",
            Some("acme"),
            token("rsa.pem", with(claims(), "exp", json!(now() - 3600))),
            "authentication-failed",
        ),
        (
            "wrong audience",
            Some("acme"),
            token("rsa.pem", with(claims(), "aud", json!("someone-else"))),
            "authentication-failed",
        ),
        ("forged: another key", Some("acme"), token("rsa-other.pem", claims()), "authentication-failed"),
        ("malformed", Some("acme"), Credential::IdToken(Secret::new("not.a.jwt")), "authentication-failed"),
        ("signature stripped", Some("acme"), Credential::IdToken(Secret::new(unsigned)), "authentication-failed"),
        (
            "oversized groups",
            Some("acme"),
            token("rsa.pem", with(claims(), "groups", json!(many_groups))),
            "authentication-failed",
        ),
        ("unknown domain", Some("nowhere"), token("rsa.pem", claims()), "unknown-domain"),
        ("no domain for a token", None, token("rsa.pem", claims()), "domain-required"),
        (
            "unknown email domain",
            None,
            Credential::Password { email: "x@nowhere.example".into(), password: Secret::new("pw") },
            "unknown-domain",
        ),
    ];
    for db in TestDatabase::all() {
        let store = db.open().await;
        let (host, org) = prepare(&store, &runtime, &Setup::default()).await;
        for (name, domain, credential, code) in &cases {
            let request = LoginRequest { domain: domain.map(Into::into), credential: credential.clone(), source: None };
            let error = host.login(request).await.err().unwrap_or_else(|| panic!("{name}: accepted"));
            assert_eq!(error.code(), *code, "[{:?}] {name}: {error:?}", db.kind());
            assert!(!error.public_message().contains("token"), "{name}: {}", error.public_message());
        }
        let accounts = store.list_accounts(Some(&org), None, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(accounts.is_empty(), "[{:?}] {accounts:?}", db.kind());
        let events = store.list_audit(&AuditFilter::default()).await.unwrap_or_else(|e| panic!("{e}"));
        // Refusals without an account are counted per domain, outcome and
        // minute: every refused login is in the audit, not a row each.
        let counted: i64 = events.iter().map(|e| e.occurrences).sum();
        assert_eq!(counted, i64::try_from(cases.len()).unwrap_or_default(), "every refused login is audited");
        assert!(events.len() < cases.len(), "alike refusals share a row: {} rows", events.len());
        for e in &events {
            assert!(!e.event.detail.contains("eyJ"), "a token leaked into the audit: {}", e.event.detail);
        }
        store.close().await;
        db.cleanup().await;
    }
}

/// A hybrid domain: an account created just in time for the IdP gets the
/// unusable-password marker, so no password opens it.
#[tokio::test]
async fn jit_accounts_cannot_log_in_with_a_password() {
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let (host, _org) = prepare(&store, &runtime, &Setup::default()).await;
        let credential = id_token("sub-h", "hybrid@acme.example", true, &[]);
        let created = host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await;
        let created = created.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(created.newly_created);
        assert!(created.account.password_hash.is_none(), "unusable marker, never an empty password");
        for password in ["", "password", "hybrid"] {
            let credential =
                Credential::Password { email: "hybrid@acme.example".into(), password: Secret::new(password) };
            let refused = host.login(LoginRequest { domain: None, credential, source: None }).await;
            assert_eq!(refused.err().map(|e| e.code()), Some("authentication-failed"), "{password:?}");
        }
        store.close().await;
        db.cleanup().await;
    }
}

/// The audit event of a plugin-provisioned login names the plugins by hash
/// and records their decisions, durations and fuel.
#[tokio::test]
async fn the_audit_event_records_plugins_decisions_and_costs() {
    let runtime = crate::runtime();
    let setup = Setup {
        creator: Some(plugins::DEFAULT_CREATOR),
        assigner: Some(plugins::GROUP_MAPPER),
        config: json!({"groups": {"Engineering": "team:engineering"}}),
        ..Setup::default()
    };
    for db in TestDatabase::all() {
        let store = db.open().await;
        let (host, _org) = prepare(&store, &runtime, &setup).await;
        let credential = id_token("sub-a", "audit@acme.example", true, &["Engineering"]);
        let success = host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await;
        let success = success.unwrap_or_else(|e| panic!("{e:?}"));
        let events = store.list_audit(&AuditFilter::default()).await.unwrap_or_else(|e| panic!("{e}"));
        let event = &events[0].event;
        assert_eq!(event.outcome, "success");
        assert_eq!(event.account.as_ref(), Some(&success.account.id));
        assert_eq!(event.provider.as_deref(), Some("okta"));
        let detail: Value = serde_json::from_str(&event.detail).unwrap_or_else(|e| panic!("{e}"));
        let hooks = detail["hooks"].as_array().cloned().unwrap_or_default();
        assert_eq!(hooks.len(), 2, "{detail}");
        for (hook, plugin) in [("create", plugins::DEFAULT_CREATOR), ("assign", plugins::GROUP_MAPPER)] {
            let record = hooks.iter().find(|h| h["hook"] == hook).unwrap_or_else(|| panic!("{hook}: {detail}"));
            let hash = provisio::plugin::PluginHash::of(&crate::component(plugin));
            assert_eq!(record["plugin"], json!(hash), "{detail}");
            assert_eq!(record["outcome"], "decision");
            assert!(record["fuel"].as_u64().is_some_and(|f| f > 0), "{detail}");
            assert!(record["duration_us"].as_u64().is_some_and(|d| d > 0), "{detail}");
        }
        assert_eq!(detail["decisions"]["assignments"], json!([{"team": "engineering"}]), "{detail}");
        store.close().await;
        db.cleanup().await;
    }
}

/// Uploads are checked against the contract; bindings against the plugins
/// they name; re-binding an older version is the rollback, effective at the
/// next login without a restart.
#[tokio::test]
async fn uploads_and_bindings_are_checked_and_rebinding_rolls_back() {
    use provisio::engine::AdminError;
    use provisio::runtime::LoadError;

    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let (host, org) = prepare(&store, &runtime, &Setup::default()).await;
        let refused = host.upload_plugin(crate::component(plugins::HOSTILE_WRONG_WORLD), &org).await.err();
        assert!(matches!(refused, Some(AdminError::Plugin(LoadError::WrongWorld { .. }))), "{refused:?}");
        let refused = host.upload_plugin(crate::component(plugins::HOSTILE_FORBIDDEN_IMPORT), &org).await.err();
        assert!(matches!(refused, Some(AdminError::Plugin(LoadError::ForbiddenImport { .. }))), "{refused:?}");
        assert!(store.list_plugins().await.unwrap_or_default().is_empty(), "refused uploads are not stored");

        let v1 = host.upload_plugin(crate::component(plugins::DEFAULT_CREATOR), &org).await;
        let v1 = v1.unwrap_or_else(|e| panic!("{e}")).record.hash;
        let v2 = host.upload_plugin(crate::component(plugins::HOSTILE_COUNTER), &org).await;
        let v2 = v2.unwrap_or_else(|e| panic!("{e}")).record.hash;
        let mapper = host.upload_plugin(crate::component(plugins::GROUP_MAPPER), &org).await;
        let mapper = mapper.unwrap_or_else(|e| panic!("{e}")).record.hash;

        let domain = store.domain_by_name("acme").await.ok().flatten().unwrap_or_else(|| panic!("domain"));
        let okta = domain.providers.iter().find(|p| p.name == "okta").unwrap_or_else(|| panic!("okta")).id.clone();
        let mut binding = store.binding(&domain.id, &okta).await.ok().flatten().unwrap_or_else(|| panic!("binding"));
        binding.creator = Some(mapper.clone());
        assert!(matches!(host.bind(&binding).await, Err(AdminError::WrongSlot { .. })));
        binding.creator = Some(provisio::plugin::PluginHash::new("0".repeat(64)));
        assert!(matches!(host.bind(&binding).await, Err(AdminError::UnknownPlugin(_))));
        binding.creator = Some(v1.clone());
        // A configuration that is not an object cannot even make a binding.
        let settings = provisio::engine::binding_settings(&serde_json::json!([1, 2]), &serde_json::json!({}));
        assert!(matches!(settings, Err(AdminError::Config(_))), "{settings:?}");
        let settings = provisio::engine::binding_settings(&serde_json::json!({}), &serde_json::json!({"fuel": "x"}));
        assert!(matches!(settings, Err(AdminError::Limits(_))), "{settings:?}");
        binding.config = provisio::plugin::BindingConfig::default();

        let login = |sub: &'static str, email: &'static str| {
            let host = host.clone();
            async move {
                let credential = id_token(sub, email, true, &[]);
                let success = host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await;
                success.unwrap_or_else(|e| panic!("{e:?}")).account.username
            }
        };
        binding.creator = Some(v2.clone());
        host.bind(&binding).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(login("s1", "first@acme.example").await, "calls-1", "version 2 is in use");
        binding.creator = Some(v1.clone());
        host.bind(&binding).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(login("s2", "second@acme.example").await.starts_with("second"), "rolled back to version 1");
        store.close().await;
        db.cleanup().await;
    }
}
