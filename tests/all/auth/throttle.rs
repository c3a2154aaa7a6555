//! The throttle on password guesses, in memory and on the store of each
//! backend: bursts, several nodes, spraying, lockouts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use provisio::auth::{
    Argon2Params, AttemptKey, AttemptLedger, AuthFailure, AuthServices, Authenticated, Chain, Credential, ManualClock,
    PasswordAccount, RejectReason, Throttle, ThrottlePolicy,
};

use super::{NOW, accounts, clock, only_reason, password, password_chain};

/// Services for the throttle tests: cheap hashes, this clock and ledger.
fn throttled_services(clock: &Arc<ManualClock>, ledger: Arc<dyn AttemptLedger>) -> Arc<AuthServices> {
    let services =
        AuthServices::builder().clock(clock.clone()).argon2(Argon2Params::INSECURE_FOR_TESTS).attempt_ledger(ledger);
    Arc::new(services.build().unwrap_or_else(|e| panic!("services: {e}")))
}

/// Runs `test` with each ledger: in memory, then the store of a fresh
/// database of each backend.
async fn each_ledger(test: impl AsyncFn(&str, Arc<dyn AttemptLedger>)) {
    test("memory", Arc::new(Throttle::new(100_000))).await;
    for db in crate::TestDatabase::all() {
        let store = db.open().await;
        test(&db.kind().to_string(), Arc::new(store.clone())).await;
        store.close().await;
        db.cleanup().await;
    }
}

fn reason_of(result: &Result<Authenticated, AuthFailure>) -> Option<RejectReason> {
    result.as_ref().err().map(only_reason)
}

/// Sends every credential at once, each from `source`, and answers the
/// results in the order given.
async fn burst(
    chain: &Chain,
    accounts: &Arc<HashMap<String, PasswordAccount>>,
    credentials: Vec<(Credential, Option<IpAddr>)>,
) -> Vec<Result<Authenticated, AuthFailure>> {
    let tasks: Vec<_> = credentials
        .into_iter()
        .map(|(credential, source)| {
            let (chain, accounts) = (chain.clone(), accounts.clone());
            tokio::spawn(async move { chain.authenticate("example.com", &credential, &*accounts, source).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_of_guesses_gets_no_more_hash_checks_than_the_allowance() {
    each_ledger(async |ledger_name, ledger| {
        let clock = clock();
        let services = throttled_services(&clock, ledger);
        let accounts = Arc::new(accounts(&services));
        let chain = password_chain(&services);
        let before = services.hasher().verifications();
        // 200 wrong guesses and, sent with them, the right password.
        let mut credentials: Vec<_> =
            (0..200).map(|i| (password("alice0@example.com", &format!("guess-{i}")), None)).collect();
        credentials.push((password("alice0@example.com", "correct horse battery"), None));
        let results = burst(&chain, &accounts, credentials).await;

        let checks = services.hasher().verifications() - before;
        let max = services.throttle_policy().max_failures;
        assert!((1..=u64::from(max)).contains(&checks), "[{ledger_name}] {checks} hash checks for one account");
        let wrong = results.iter().filter(|r| reason_of(r) == Some(RejectReason::WrongPassword)).count();
        let throttled = results.iter().filter(|r| reason_of(r) == Some(RejectReason::Throttled)).count();
        assert_eq!((wrong as u64, wrong + throttled), (checks, 201), "[{ledger_name}]");
        assert_eq!(reason_of(&results[200]), Some(RejectReason::Throttled), "[{ledger_name}] the right password");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_allow_together_what_one_allows() {
    for db in crate::TestDatabase::all() {
        let clock = clock();
        let (store_a, store_b) = (db.open().await, db.open().await);
        let node_a = throttled_services(&clock, Arc::new(store_a.clone()));
        let node_b = throttled_services(&clock, Arc::new(store_b.clone()));
        let accounts = Arc::new(accounts(&node_a));
        let (chain_a, chain_b) = (password_chain(&node_a), password_chain(&node_b));
        let before = node_a.hasher().verifications() + node_b.hasher().verifications();
        let guesses = |node: &str| -> Vec<(Credential, Option<IpAddr>)> {
            (0..100).map(|i| (password("alice1@example.com", &format!("{node}-{i}")), None)).collect()
        };
        let (a, b) = tokio::join!(burst(&chain_a, &accounts, guesses("a")), burst(&chain_b, &accounts, guesses("b")));

        let checks = node_a.hasher().verifications() + node_b.hasher().verifications() - before;
        let max = u64::from(node_a.throttle_policy().max_failures);
        assert!((1..=max).contains(&checks), "[{}] {checks} hash checks over two nodes", db.kind());
        let refused = a.iter().chain(&b).filter(|r| reason_of(r) == Some(RejectReason::Throttled)).count();
        assert_eq!(refused as u64, 200 - checks, "[{}]", db.kind());
        // Either node now refuses the right password too.
        let right = password("alice1@example.com", "correct horse battery");
        for chain in [&chain_a, &chain_b] {
            let result = chain.authenticate("example.com", &right, &*accounts, None).await;
            assert_eq!(reason_of(&result), Some(RejectReason::Throttled), "[{}]", db.kind());
        }
        store_a.close().await;
        store_b.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn spraying_many_accounts_from_one_source_is_stopped_by_the_source_counter() {
    each_ledger(async |ledger_name, ledger| {
        let clock = clock();
        let services = throttled_services(&clock, ledger);
        let hash = services.hasher().hash("a real password").unwrap_or_else(|e| panic!("{e}"));
        let accounts: HashMap<String, PasswordAccount> = (0..301)
            .map(|i| {
                let email = format!("user{i}@example.com");
                let account = PasswordAccount {
                    id: format!("acc-{i}"),
                    email: email.clone(),
                    hash: Some(hash.clone()),
                    given_name: None,
                    family_name: None,
                };
                (email, account)
            })
            .collect();
        let chain = password_chain(&services);
        let sprayer: IpAddr = "2001:db8:7:7::1".parse().unwrap_or_else(|e| panic!("{e}"));
        let neighbour: IpAddr = "2001:db8:7:7:ffff::2".parse().unwrap_or_else(|e| panic!("{e}"));
        let elsewhere: IpAddr = "203.0.113.9".parse().unwrap_or_else(|e| panic!("{e}"));
        let attempt = |i: usize, pw: &'static str, source: IpAddr| {
            let (chain, accounts) = (&chain, &accounts);
            async move {
                let credential = password(&format!("user{i}@example.com"), pw);
                reason_of(&chain.authenticate("example.com", &credential, accounts, Some(source)).await)
            }
        };

        let before = services.hasher().verifications();
        let mut reasons = Vec::new();
        for i in 0..300 {
            reasons.push(attempt(i, "Summer2026!", sprayer).await);
        }
        let allowed = u64::from(services.throttle_policy().max_failures_per_source);
        assert_eq!(services.hasher().verifications() - before, allowed, "[{ledger_name}]");
        let (first, rest) = reasons.split_at(usize::try_from(allowed).unwrap_or(usize::MAX));
        assert!(first.iter().all(|r| *r == Some(RejectReason::WrongPassword)), "[{ledger_name}] {first:?}");
        assert!(rest.iter().all(|r| *r == Some(RejectReason::Throttled)), "[{ledger_name}] {rest:?}");
        // The whole IPv6 /64 is one source; another address is not affected,
        // and no account was locked by the spray.
        assert_eq!(attempt(300, "a real password", neighbour).await, Some(RejectReason::Throttled));
        assert_eq!(attempt(300, "a real password", elsewhere).await, None, "[{ledger_name}]");
        assert_eq!(attempt(0, "a real password", elsewhere).await, None, "[{ledger_name}]");
    })
    .await;
}

#[tokio::test]
async fn a_success_forgets_the_account_and_lockouts_end_on_time() {
    each_ledger(async |ledger_name, ledger| {
        let clock = clock();
        let services = throttled_services(&clock, ledger);
        let accounts = accounts(&services);
        let chain = password_chain(&services);
        let source: IpAddr = "198.51.100.4".parse().unwrap_or_else(|e| panic!("{e}"));
        let reason = |email: &'static str, pw: &'static str| {
            let (chain, accounts) = (&chain, &accounts);
            async move {
                reason_of(&chain.authenticate("example.com", &password(email, pw), accounts, Some(source)).await)
            }
        };
        let wrong = Some(RejectReason::WrongPassword);

        // Four failures, a success: the count starts again, so five more
        // failures are checked before the lockout.
        for _ in 0..4 {
            assert_eq!(reason("alice2@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, None, "[{ledger_name}]");
        for _ in 0..5 {
            assert_eq!(reason("alice2@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, Some(RejectReason::Throttled));

        // The lockout lasts a minute, then doubles at the next one.
        clock.advance(Duration::from_secs(59));
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
        clock.advance(Duration::from_secs(2));
        for _ in 0..5 {
            assert_eq!(reason("alice2@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        clock.advance(Duration::from_secs(119));
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
        clock.advance(Duration::from_secs(2));
        assert_eq!(reason("alice2@example.com", "correct horse battery").await, None, "[{ledger_name}]");
        // Failures spread over more than the window do not add up.
        for _ in 0..4 {
            assert_eq!(reason("alice3@example.com", "wrong").await, wrong);
        }
        clock.advance(Duration::from_secs(15 * 60 + 1));
        for _ in 0..4 {
            assert_eq!(reason("alice3@example.com", "wrong").await, wrong, "[{ledger_name}]");
        }
        assert_eq!(reason("alice3@example.com", "correct horse battery").await, None, "[{ledger_name}]");
    })
    .await;
}

#[test]
fn the_in_memory_ledger_gives_the_source_its_reservation_back_on_success() {
    let throttle = Throttle::new(100);
    let policy = ThrottlePolicy::default();
    let now = std::time::UNIX_EPOCH + Duration::from_secs(NOW);
    let source = AttemptKey::source("192.0.2.55".parse().unwrap_or_else(|e| panic!("{e}")));
    let keys = [AttemptKey::account("Alice@Example.com"), source.clone()];
    for _ in 0..3 {
        assert_eq!(throttle.reserve(&keys, &policy, now), Ok(()));
    }
    throttle.succeeded(&keys, &policy);
    assert_eq!(throttle.record(&AttemptKey::account("alice@example.com")), None);
    assert_eq!(throttle.record(&source).map(|r| r.failures), Some(2));
}
