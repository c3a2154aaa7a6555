//! Stored data the store wrote itself that no longer reads, and audit
//! events that cannot be written: each is an error that says so (or a
//! counted, logged failure), never a silent default. On every backend.

use crate::plugins;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use provisio::engine::{LoginError, LoginObserver, LoginRequest, PluginCall};
use provisio::store::{AuditFilter, BackendKind, StoreError};
use sqlx::Connection as _;

use crate::TestDatabase;
use crate::engine::{Setup, id_token, prepare};

/// Runs `statement` on the test database directly, as an operator editing
/// the database by hand would.
async fn execute(db: &TestDatabase, statement: &str) {
    let done = match db.kind() {
        BackendKind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url().expose()).await.unwrap_or_else(|e| panic!("{e}"));
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut conn).await.map(|_| ())
        }
        BackendKind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url().expose()).await.unwrap_or_else(|e| panic!("{e}"));
            let schema = db.schema().unwrap_or_else(|| panic!("a PostgreSQL test database has a schema"));
            let statement = format!("SET search_path TO {schema}; {statement}");
            // The schema name is the test's own, made of hex digits.
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut conn).await.map(|_| ())
        }
    };
    done.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn login(subject: &str, email: &str) -> LoginRequest {
    LoginRequest { domain: Some("acme".into()), credential: id_token(subject, email, true, &[]), source: None }
}

fn rule_of(result: Result<impl std::fmt::Debug, LoginError>) -> String {
    match result {
        Err(LoginError::Provisioning { rule }) => rule.to_string(),
        other => panic!("expected a provisioning failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_corrupt_binding_or_provider_configuration_fails_the_login_and_says_which() {
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let setup = Setup { creator: Some(plugins::DEFAULT_CREATOR), ..Setup::default() };
        let (host, org) = prepare(&store, &runtime, &setup).await;
        let fine = host.login(login("s0", "fine@acme.example")).await;
        assert!(fine.is_ok(), "{}: the binding reads before it is corrupted: {fine:?}", db.kind());

        execute(&db, "UPDATE bindings SET config = '{not json'").await;
        assert_eq!(rule_of(host.login(login("s1", "one@acme.example")).await), "binding-config", "{}", db.kind());
        let domain = store.domain_by_name("acme").await.ok().flatten().unwrap_or_else(|| panic!("domain"));
        let listed = store.list_bindings(&domain.id).await;
        assert!(matches!(&listed, Err(StoreError::Corrupt { what: "configuration", .. })), "{listed:?}");
        let said = listed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(said.contains(domain.id.as_str()), "the error names the binding's domain: {said}");

        execute(&db, "UPDATE bindings SET config = '{}', limits = '{\"fuel\": \"lots\"}'").await;
        assert_eq!(rule_of(host.login(login("s2", "two@acme.example")).await), "binding-config", "{}", db.kind());

        execute(&db, "DELETE FROM bindings; UPDATE providers SET config = '[' WHERE name = 'okta'").await;
        assert_eq!(rule_of(host.login(login("s3", "three@acme.example")).await), "provider-config", "{}", db.kind());

        // Each refusal is audited under its rule (alike failures without an
        // account are one row that counts them), and no account was made.
        let filter = AuditFilter { org: Some(org), outcome: Some("provisioning-failed".into()), ..Default::default() };
        let events = store.list_audit(&filter).await.unwrap_or_else(|e| panic!("{e}"));
        let mut rules = std::collections::BTreeMap::new();
        for e in &events {
            *rules.entry(e.event.rule.clone().unwrap_or_default()).or_insert(0) += e.occurrences;
        }
        let expected = [("binding-config".to_owned(), 2), ("provider-config".to_owned(), 1)];
        assert_eq!(rules, expected.into(), "{}", db.kind());
        for email in ["one@acme.example", "two@acme.example", "three@acme.example"] {
            let account = store.account_by_email(email).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(account, None, "{}: {email}", db.kind());
        }
        store.close().await;
        db.cleanup().await;
    }
}

/// Counts the audit events that could not be written.
#[derive(Default)]
struct AuditFailures(AtomicUsize);

impl LoginObserver for AuditFailures {
    fn plugin_call(&self, _: &PluginCall<'_>) {}

    fn audit_write_failed(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn an_audit_event_that_cannot_be_written_is_counted_not_dropped() {
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        let (host, _) = prepare(&store, &runtime, &Setup::default()).await;
        let failures = Arc::new(AuditFailures::default());
        let host = host.with_observer(failures.clone());

        let refused = host.login(login("s1", "someone@elsewhere.example")).await;
        assert_eq!(refused.err(), Some(LoginError::ForeignEmail));
        assert_eq!(failures.0.load(Ordering::SeqCst), 0, "{}: the event was written", db.kind());

        execute(&db, "DROP TABLE audit_events").await;
        let refused = host.login(login("s2", "someone@elsewhere.example")).await;
        assert_eq!(refused.err(), Some(LoginError::ForeignEmail), "{}: the login's answer is the same", db.kind());
        assert_eq!(failures.0.load(Ordering::SeqCst), 1, "{}: the lost event is counted", db.kind());

        // A login that would succeed cannot commit without its event: it
        // fails, and that failure's event is counted as lost too.
        let failed = host.login(login("s3", "new@acme.example")).await;
        assert_eq!(failed.err(), Some(LoginError::Unavailable), "{}", db.kind());
        assert_eq!(failures.0.load(Ordering::SeqCst), 2, "{}", db.kind());
        assert_eq!(store.account_by_email("new@acme.example").await.ok().flatten(), None, "{}", db.kind());
        store.close().await;
        db.cleanup().await;
    }
}
