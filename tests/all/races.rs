//! The engine under concurrency and crashes: racing first logins of one
//! person yield one account; a process killed mid-provisioning leaves nothing.

use crate::plugins;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use provisio::engine::{Host, LoginRequest};
use provisio::store::{AuditFilter, DatabaseUrl, Store, StoreOptions};
use serde_json::json;

use crate::TestDatabase;
use crate::engine::{Setup, id_token, prepare};

fn groups_setup() -> Setup {
    Setup {
        config: json!({"groups": {"Engineering": "team:engineering, role:developer"}}),
        creator: Some(plugins::DEFAULT_CREATOR),
        assigner: Some(plugins::GROUP_MAPPER),
        ..Setup::default()
    }
}

/// 200 concurrent first logins of one new person, spread over two independent
/// hosts (two connection pools, as two processes would have) on one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_logins_yield_exactly_one_account() {
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store_a = db.open().await;
        let store_b = db.open().await;
        let (host_a, org) = prepare(&store_a, &runtime, &groups_setup()).await;
        let host_b = Host::builder().store(store_b.clone()).runtime(runtime.clone()).build().await;
        let host_b = host_b.unwrap_or_else(|e| panic!("{e}"));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let host = if i % 2 == 0 { host_a.clone() } else { host_b.clone() };
            tasks.push(tokio::spawn(async move {
                let credential = id_token("sub-race", "race@acme.example", true, &["Engineering"]);
                host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut created = 0;
        for task in tasks {
            let success = task
                .await
                .unwrap_or_else(|e| panic!("task: {e}"))
                .unwrap_or_else(|e| panic!("[{:?}] a racing login failed: {e:?}", db.kind()));
            ids.insert(success.account.id.as_str().to_owned());
            created += usize::from(success.newly_created);
            assert_eq!(success.memberships.len(), 3, "{:?}", success.memberships);
        }
        assert_eq!(ids.len(), 1, "[{:?}] one person, one account", db.kind());
        assert_eq!(created, 1, "[{:?}] exactly one login created it", db.kind());
        let accounts = store_a.list_accounts(Some(&org), None, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(accounts.len(), 1);
        let events = store_a.list_audit(&AuditFilter { limit: 1000, ..AuditFilter::default() }).await;
        let events = events.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(events.iter().filter(|e| e.event.outcome == "success").count(), 200);
        store_a.close().await;
        store_b.close().await;
        db.cleanup().await;
    }
}

/// A host that has loaded none of the bound plugins yet (another process
/// received the upload) takes a burst of first logins larger than its
/// connection pool: each login loads the plugins before its transaction
/// begins, so none holds a connection while waiting for another, and the
/// burst compiles each plugin once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_host_takes_a_burst_larger_than_its_pool() {
    for db in TestDatabase::all() {
        let store_a = db.open().await;
        let (_host_a, _org) = prepare(&store_a, &crate::runtime(), &groups_setup()).await;
        let small = StoreOptions {
            max_connections: 2,
            busy_timeout: Duration::from_secs(5),
            schema: db.schema().map(str::to_owned),
        };
        let store_b = Store::open_with(db.url(), small).await.unwrap_or_else(|e| panic!("{e}"));
        let cold = crate::runtime();
        let host_b = Host::builder().store(store_b.clone()).runtime(cold.clone()).build().await;
        let host_b = host_b.unwrap_or_else(|e| panic!("{e}"));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let host = host_b.clone();
                tokio::spawn(async move {
                    let email = format!("burst-{i}@acme.example");
                    let credential = id_token(&format!("sub-burst-{i}"), &email, true, &["Engineering"]);
                    host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await
                })
            })
            .collect();
        for task in tasks {
            let success = task
                .await
                .unwrap_or_else(|e| panic!("task: {e}"))
                .unwrap_or_else(|e| panic!("[{:?}] a login of the burst failed: {e:?}", db.kind()));
            assert!(success.newly_created);
            assert_eq!(success.memberships.len(), 3, "{:?}", success.memberships);
        }
        let stats = cold.plugin_cache_stats();
        assert_eq!((stats.compiled, stats.entries), (2, 2), "[{:?}] each plugin compiled once: {stats:?}", db.kind());
        store_a.close().await;
        store_b.close().await;
        db.cleanup().await;
    }
}

const CHILD_URL: &str = "PROVISIO_CHILD_DATABASE_URL";
const CHILD_SCHEMA: &str = "PROVISIO_CHILD_SCHEMA";

/// Run only as the child of the test below: logs in with an assignment
/// provider that never returns (under ceilings raised for it), so the
/// process is deciding, with the account's id and username chosen but
/// nothing written, when it is killed.
#[tokio::test]
#[ignore = "run as a child process by killed_mid_provisioning_leaves_nothing"]
async fn child_login_that_never_finishes() {
    let url = std::env::var(CHILD_URL).unwrap_or_else(|_| panic!("{CHILD_URL} must be set"));
    let options = StoreOptions { schema: std::env::var(CHILD_SCHEMA).ok(), ..StoreOptions::default() };
    let store = Store::open_with(&DatabaseUrl::new(url), options).await.unwrap_or_else(|e| panic!("{e}"));
    let ceilings = provisio::plugin::Limits {
        wall_time: Duration::from_secs(120),
        fuel: u64::MAX,
        ..provisio::plugin::Limits::CEILINGS
    };
    let runtime = provisio::runtime::RuntimeConfig { ceilings, ..Default::default() };
    let host = Host::builder().store(store).runtime_config(runtime).build().await.unwrap_or_else(|e| panic!("{e}"));
    let credential = id_token("sub-crash", "crash@acme.example", true, &["Engineering"]);
    println!("LOGIN STARTED");
    let _ = host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await;
    println!("LOGIN ENDED");
}

#[tokio::test]
async fn killed_mid_provisioning_leaves_nothing() {
    let runtime = crate::runtime();
    for db in TestDatabase::all() {
        let store = db.open().await;
        // The assignment provider loops for up to 60 s: the child is killed long before.
        let setup = Setup {
            assigner: Some(plugins::HOSTILE_LOOP),
            limits: json!({"wall_time": 60_000, "fuel": 1_000_000_000_000_u64}),
            ..Setup::default()
        };
        let (_host, org) = prepare(&store, &runtime, &setup).await;
        let mut child = Command::new(std::env::current_exe().unwrap_or_else(|e| panic!("{e}")))
            .args(["--exact", "races::child_login_that_never_finishes", "--ignored", "--nocapture"])
            .env(CHILD_URL, db.url().expose())
            .envs(db.schema().map(|s| (CHILD_SCHEMA, s)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the child: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let started = lines.any(|l| l.is_ok_and(|l| l.contains("LOGIN STARTED")));
        assert!(started, "the child did not start its login");
        // Compiling the plugins and reading the account take well under this.
        std::thread::sleep(Duration::from_secs(3));
        child.kill().unwrap_or_else(|e| panic!("kill: {e}")); // SIGKILL
        let _ = child.wait();

        // "After restart": a new store over the same database sees no trace.
        store.close().await;
        let store = db.open().await;
        let accounts = store.list_accounts(Some(&org), None, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(accounts.is_empty(), "[{:?}] a partial account survived: {accounts:?}", db.kind());
        let found = store.account_by_email("crash@acme.example").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(found.is_none(), "[{:?}]", db.kind());
        store.close().await;
        db.cleanup().await;
    }
}
