//! Logins through a directory provider beyond the engine's scenario table
//! (`tests/all/engine.rs`): returning logins, injection attempts, racing
//! first logins, a directory that stops or never answers, TLS, the throttle.

use std::time::Duration;

use provisio::auth::Credential;
use provisio::engine::{Host, LoginError, LoginRequest, LoginSuccess};
use provisio::store::{AuditFilter, Store};
use serde_json::{Value, json};

use super::Directory;
use crate::TestDatabase;
use crate::engine::{Setup, password, prepare};

async fn login(host: &Host, credential: Credential) -> Result<LoginSuccess, LoginError> {
    host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await
}

/// The provider attempts of the last audit event, e.g. `corp-ldap: not_applicable`.
async fn last_attempts(store: &Store) -> String {
    let events = store.list_audit(&AuditFilter::default()).await.unwrap_or_else(|e| panic!("audit: {e}"));
    events.first().map(|e| e.event.detail.clone()).unwrap_or_default()
}

fn directory_setup(config: Value) -> Setup {
    Setup { directory: Some(config), ..Setup::default() }
}

/// A host over a fresh SQLite store whose domain has the directory provider,
/// with `extra` settings on top of the test directory's.
async fn sqlite_host(directory: &Directory, extra: &Value) -> (TestDatabase, Store, Host) {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let (host, _) = prepare(&store, &crate::runtime(), &directory_setup(directory.provider_config(extra))).await;
    (db, store, host)
}

#[tokio::test]
async fn a_returning_login_finds_the_same_account_with_the_directorys_attributes() {
    let directory = Directory::start();
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let (host, _) = prepare(&store, &runtime, &directory_setup(directory.provider_config(&json!({})))).await;
        let first = login(&host, password("jane", "jane-directory-pw")).await;
        let first = first.unwrap_or_else(|e| panic!("first login: {e:?}"));
        assert!(first.newly_created);
        assert_eq!(first.account.username, "jane", "the directory's login name, as the AEM creator does");
        assert_eq!(
            (first.account.given_name.as_deref(), first.account.family_name.as_deref()),
            (Some("Jane"), Some("Doe"))
        );
        let attributes: Vec<(&str, &str)> =
            first.account.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(attributes, [("departmentNumber", "R&D"), ("name", "Jane Doe"), ("title", "Engineer")]);
        assert_eq!(first.principal.provider, "corp-ldap");
        assert!(first.principal.email_verified);
        let mut groups = first.principal.groups.clone();
        groups.sort();
        assert_eq!(groups, ["Engineering", "Everyone"]);
        // Created from the directory: no usable local password.
        let stored = store.account_by_email("jane@acme.example").await.ok().flatten();
        assert!(stored.is_some_and(|a| a.password_hash.is_none()), "a directory account has no local password");

        let again = login(&host, password("jane@acme.example", "jane-directory-pw")).await;
        let again = again.unwrap_or_else(|e| panic!("returning login: {e:?}"));
        assert!(!again.newly_created);
        assert_eq!(again.account.id, first.account.id);
        assert_eq!(again.principal.subject, first.principal.subject, "entryUUID is the subject");
        store.close().await;
        db.cleanup().await;
    }
}

/// What a user types is escaped before it goes into the filter: no
/// wildcard, no closing parenthesis, no NUL changes what is searched.
#[tokio::test]
async fn injection_attempts_find_nobody() {
    let directory = Directory::start();
    let (_db, store, host) = sqlite_host(&directory, &json!({})).await;
    let passwords = ["jane-directory-pw", "star-directory-pw", "user-directory-pw"];
    let logins = [
        "*",
        "j*",
        "*jane*",
        "admin)(uid=*",
        "*)(uid=*))(|(uid=*",
        "jane)(|(objectClass=*",
        "jane)(&",
        "\\00",
        "jane\0",
        "\0",
        "\\2a",
        "(uid=*)",
        "jane\\",
        "uid=jane,ou=people,dc=acme,dc=example",
        "*@acme.example",
    ];
    for name in logins {
        for secret in passwords {
            let result = login(&host, password(name, secret)).await;
            assert!(
                matches!(&result, Err(e) if e.code() == "authentication-failed"),
                "{name:?} logged in: {result:?} {}",
                last_attempts(&store).await
            );
            let attempts = last_attempts(&store).await;
            assert!(attempts.contains("corp-ldap: not_applicable"), "{name:?}: {attempts}");
        }
    }
    let accounts = store.list_accounts(None, None, 100).await.unwrap_or_default();
    assert!(accounts.is_empty(), "nothing was provisioned: {accounts:?}");
    // The same provider still finds the real user.
    login(&host, password("star", "star-directory-pw")).await.unwrap_or_else(|e| panic!("star: {e:?}"));
    store.close().await;
}

#[tokio::test]
async fn two_racing_first_logins_make_one_account() {
    let directory = Directory::start();
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let (host, _) = prepare(&store, &runtime, &directory_setup(directory.provider_config(&json!({})))).await;
        let (a, b) = tokio::join!(
            login(&host, password("bob", "bob-directory-pw")),
            login(&host, password("bob@acme.example", "bob-directory-pw")),
        );
        let (a, b) = (a.unwrap_or_else(|e| panic!("{e:?}")), b.unwrap_or_else(|e| panic!("{e:?}")));
        assert_eq!(a.account.id, b.account.id, "one account for one person");
        assert!(a.newly_created ^ b.newly_created, "exactly one login created it");
        let accounts = store.list_accounts(None, None, 100).await.unwrap_or_default();
        assert_eq!(accounts.len(), 1, "{accounts:?}");
        store.close().await;
        db.cleanup().await;
    }
}

/// A stopped directory: the chain goes on to the local password provider,
/// which logs its own accounts in; the directory's accounts have no local
/// password and get "try again later". The audit says why.
#[tokio::test]
async fn when_the_directory_stops_the_next_provider_answers() {
    let mut directory = Directory::start();
    let runtime = crate::runtime();
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let setup = Setup {
        directory: Some(directory.provider_config(&json!({}))),
        existing: Some(("carol@acme.example", provisio::store::AccountState::Active, Some("carol-local-pw"), vec![])),
        ..Setup::default()
    };
    let (host, _) = prepare(&store, &runtime, &setup).await;
    login(&host, password("jane", "jane-directory-pw")).await.unwrap_or_else(|e| panic!("jane: {e:?}"));

    directory.stop();
    let carol = login(&host, password("carol@acme.example", "carol-local-pw")).await;
    carol.unwrap_or_else(|e| panic!("the local provider answers when the directory is down: {e:?}"));
    let attempts = last_attempts(&store).await;
    assert!(attempts.contains("corp-ldap: unreachable"), "{attempts}");

    let jane = login(&host, password("jane@acme.example", "jane-directory-pw")).await;
    assert_eq!(jane.as_ref().err().map(LoginError::code), Some("unavailable"), "{jane:?}");
    let attempts = last_attempts(&store).await;
    assert!(attempts.contains("corp-ldap: unreachable"), "{attempts}");
    assert!(attempts.contains("password: unusable_password"), "never a local password: {attempts}");
    store.close().await;
}

/// A directory that accepts connections and never answers costs a login
/// its configured timeout, no more; then the next provider is tried.
#[tokio::test]
async fn a_directory_that_never_answers_is_cut_off_at_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let directory = Directory::start();
    let extra = json!({"urls": [format!("ldap://{address}")], "timeout_ms": 300});
    let (_db, store, host) = sqlite_host(&directory, &extra).await;
    let result =
        tokio::time::timeout(Duration::from_secs(60), login(&host, password("jane", "jane-directory-pw"))).await;
    let result = result.unwrap_or_else(|_| panic!("the login hung on a silent directory"));
    assert_eq!(result.as_ref().err().map(LoginError::code), Some("unavailable"), "{result:?}");
    let attempts = last_attempts(&store).await;
    assert!(attempts.contains("corp-ldap: unreachable (no answer within 300 ms)"), "{attempts}");
    held.abort();
    store.close().await;
}

/// StartTLS and LDAPS with the directory's CA; a server whose certificate
/// does not chain to the trusted roots is unreachable, never trusted.
#[tokio::test]
async fn tls_connections_verify_the_directorys_certificate() {
    let directory = Directory::start();
    let ca = directory.ca_pem();
    let cases = [
        (json!({"starttls": true, "ca_pem": ca}), true),
        (json!({"urls": [directory.ldaps_url], "ca_pem": ca}), true),
        (json!({"urls": [directory.ldaps_url]}), false),
        (json!({"starttls": true}), false),
    ];
    for (extra, works) in cases {
        let (_db, store, host) = sqlite_host(&directory, &extra).await;
        let result = login(&host, password("jane", "jane-directory-pw")).await;
        let label = extra.to_string();
        if works {
            result.unwrap_or_else(|e| panic!("{label}: {e:?}"));
        } else {
            assert_eq!(result.as_ref().err().map(LoginError::code), Some("unavailable"), "{label}: {result:?}");
            let attempts = last_attempts(&store).await;
            assert!(attempts.contains("corp-ldap: unreachable"), "{label}: {attempts}");
        }
        store.close().await;
    }
}

/// Guesses against one directory login are throttled like local passwords:
/// after the policy's failures even the right password is refused, without
/// asking the directory (whose own lockout a guesser would otherwise trip).
#[tokio::test]
async fn guesses_are_throttled_per_directory_login() {
    let directory = Directory::start();
    let (_db, store, host) = sqlite_host(&directory, &json!({})).await;
    for _ in 0..5 {
        let wrong = login(&host, password("bob", "guess")).await;
        assert_eq!(wrong.as_ref().err().map(LoginError::code), Some("authentication-failed"));
        assert!(last_attempts(&store).await.contains("corp-ldap: wrong_password"));
    }
    let right = login(&host, password("bob", "bob-directory-pw")).await;
    assert_eq!(right.as_ref().err().map(LoginError::code), Some("authentication-failed"), "{right:?}");
    assert!(last_attempts(&store).await.contains("corp-ldap: throttled"));
    // Another login of the same directory is not locked out by bob's guesser.
    login(&host, password("jane", "jane-directory-pw")).await.unwrap_or_else(|e| panic!("jane: {e:?}"));
    // The disabled account: refused before any bind, the audit says why.
    let dave = login(&host, password("dave", "dave-directory-pw")).await;
    assert_eq!(dave.as_ref().err().map(LoginError::code), Some("authentication-failed"), "{dave:?}");
    assert!(last_attempts(&store).await.contains("corp-ldap: directory_account_disabled"));
    store.close().await;
}

/// Sync mode: when the directory stops listing a group, the next login
/// removes the memberships it gave; those an admin gave stay.
#[tokio::test]
async fn sync_follows_the_directory_when_a_group_is_left() {
    let directory = Directory::start();
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let setup = Setup {
            directory: Some(directory.provider_config(&json!({}))),
            sync: provisio::store::SyncMode::EveryLogin,
            config: json!({"groups": {"Sales": "team:sales", "Engineering": "team:engineering"}}),
            ..Setup::default()
        };
        let (host, _) = prepare(&store, &runtime, &setup).await;
        let teams = |s: &LoginSuccess| {
            let mut rows: Vec<String> =
                crate::engine::membership_rows(s).into_iter().map(|(k, n, _)| format!("{k}:{n}")).collect();
            rows.retain(|r| r.starts_with("team:"));
            rows
        };
        let before = login(&host, password("bob", "bob-directory-pw")).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(teams(&before), ["team:engineering", "team:sales"]);
        directory.modify(
            "dn: cn=Engineering,ou=groups,dc=acme,dc=example\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people,dc=acme,dc=example\n",
        );
        let after = login(&host, password("bob", "bob-directory-pw")).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(teams(&after), ["team:sales"], "the group the directory no longer lists is gone");
        directory.modify(
            "dn: cn=Engineering,ou=groups,dc=acme,dc=example\nchangetype: modify\nadd: member\nmember: uid=bob,ou=people,dc=acme,dc=example\n",
        );
        store.close().await;
        db.cleanup().await;
    }
}

/// By default a directory provider may only reach public addresses: a
/// tenant cannot point one at the server's own network (nor tell its open
/// ports from its closed ones by the answers).
#[tokio::test]
async fn private_addresses_are_refused_unless_the_operator_allows_them() {
    let directory = Directory::start();
    let auth = provisio::auth::AuthServices::builder()
        .argon2(provisio::auth::Argon2Params::INSECURE_FOR_TESTS)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let config = provisio::auth::ProviderConfig::from_parts("ldap", &directory.provider_config(&json!({})));
    let config = config.unwrap_or_else(|e| panic!("{e}"));
    let chain = provisio::auth::Chain::new(std::sync::Arc::new(auth), [("corp-ldap".to_owned(), config)]);
    let chain = chain.unwrap_or_else(|e| panic!("{e}"));
    let accounts: std::collections::HashMap<String, provisio::auth::PasswordAccount> = Default::default();
    let failure = chain.authenticate("acme", &password("jane", "jane-directory-pw"), &accounts, None).await;
    let failure = failure.err().unwrap_or_else(|| panic!("a loopback directory was reached"));
    assert!(failure.unavailable());
    assert!(failure.summary().contains("not public"), "{}", failure.summary());
}

/// One connection for a whole domain: concurrent logins wait for it in turn
/// (within their timeout) and all get their answer.
#[tokio::test]
async fn logins_share_a_bounded_pool() {
    let directory = Directory::start();
    let (_db, store, host) = sqlite_host(&directory, &json!({"max_connections": 1})).await;
    let people = ["jane", "bob", "carol", "star", "user0000", "user0001", "user0002", "user0003"];
    let mut logins = tokio::task::JoinSet::new();
    for who in people {
        let secret =
            if who.starts_with("user") { "user-directory-pw".to_owned() } else { format!("{who}-directory-pw") };
        let host = host.clone();
        logins.spawn(async move { (who, login(&host, password(who, &secret)).await) });
    }
    while let Some(joined) = logins.join_next().await {
        let (who, answer) = joined.unwrap_or_else(|e| panic!("{e}"));
        assert!(answer.is_ok(), "{who}: {answer:?}");
    }
    let accounts = store.list_accounts(None, None, 100).await.unwrap_or_default();
    assert_eq!(accounts.len(), people.len());
    store.close().await;
}
