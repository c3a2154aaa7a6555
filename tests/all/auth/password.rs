//! Local passwords: right, wrong, unknown and unusable, in about the same
//! time, and the per-account lockout.

use std::time::{Duration, Instant};

use provisio::auth::{Argon2Params, PUBLIC_MESSAGE, RejectReason};

use crate::sched;

use super::{accounts, clock, only_reason, password, password_chain, password_services};

#[tokio::test]
async fn passwords_right_wrong_unknown_and_unusable() {
    let clock = clock();
    let services = password_services(&clock, Argon2Params::INSECURE_FOR_TESTS);
    let accounts = accounts(&services);
    let chain = password_chain(&services);
    let login = |email: &'static str, pw: &'static str| {
        let chain = &chain;
        let accounts = &accounts;
        async move { chain.authenticate("example.com", &password(email, pw), accounts, None).await }
    };

    let done = login("  ALICE0@Example.com ", "correct horse battery").await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(done.principal.subject, "acc-0");
    assert_eq!(done.principal.email, "alice0@example.com");
    assert_eq!(done.principal.provider, "local");
    assert!(done.principal.email_verified);

    let mut failures = Vec::new();
    for (email, pw, reason) in [
        ("alice0@example.com", "wrong", RejectReason::WrongPassword),
        ("nobody@example.com", "correct horse battery", RejectReason::UnknownAccount),
        ("idp-user0@example.com", "correct horse battery", RejectReason::UnusablePassword),
        ("idp-user0@example.com", "", RejectReason::UnusablePassword),
    ] {
        let failure = login(email, pw).await.err().unwrap_or_else(|| panic!("{email} accepted"));
        assert_eq!(only_reason(&failure), reason);
        assert!(!failure.unavailable());
        failures.push(failure);
    }
    // What the caller can show is the same for all.
    assert!(failures.iter().all(|f| f.to_string() == PUBLIC_MESSAGE));
    // The credential appears in no error, reason or debug output.
    for f in &failures {
        let text = format!("{f:?} {f} {}", f.summary());
        assert!(!text.contains("correct horse") && !text.contains("wrong\""), "{text}");
    }
    let debug = format!("{:?}", password("a@b.c", "correct horse battery"));
    assert!(!debug.contains("correct horse"), "{debug}");

    let long = "x".repeat(2000);
    let failure = chain.authenticate("example.com", &password("alice1@example.com", &long), &accounts, None).await;
    assert_eq!(failure.err().map(|f| only_reason(&f)), Some(RejectReason::OversizedCredential));

    // The caller may also hand over a lookup result it already has.
    let one = accounts.get("alice1@example.com").cloned();
    let done =
        chain.authenticate("example.com", &password("alice1@example.com", "correct horse battery"), &one, None).await;
    assert_eq!(done.map(|d| d.principal.subject).ok().as_deref(), Some("acc-1"));
    let other =
        chain.authenticate("example.com", &password("alice2@example.com", "correct horse battery"), &one, None).await;
    assert_eq!(other.err().map(|f| only_reason(&f)), Some(RejectReason::UnknownAccount));
}

/// With the production parameters, an unknown account and an unusable
/// password cost what a wrong password costs: one hash verification each,
/// of about the same CPU time. The hashes run on the blocking pool of a
/// runtime of the test's own, whose threads' CPU time is read from the
/// kernel (wall time where it does not say, on other systems than Linux): a
/// loaded machine slows every attempt, it does not shift what each costs.
/// Behaviour, not a benchmark: the bound is loose.
#[test]
fn unknown_accounts_take_as_long_as_wrong_passwords() {
    const POOL: &str = "argon2-pool";
    let runtime = tokio::runtime::Builder::new_current_thread().thread_name(POOL).max_blocking_threads(1).build();
    let runtime = runtime.unwrap_or_else(|e| panic!("runtime: {e}"));
    let clock = clock();
    let services = password_services(&clock, Argon2Params::default());
    let accounts = accounts(&services);
    let chain = password_chain(&services);
    let cost = |email: String| {
        let before = (services.hasher().verifications(), sched::cpu_time_of(POOL));
        let started = Instant::now();
        let credential = password(&email, "wrong");
        let result = runtime.block_on(chain.authenticate("example.com", &credential, &accounts, None));
        let wall = started.elapsed();
        assert!(result.is_err(), "{email}");
        let verifications = services.hasher().verifications() - before.0;
        assert_eq!(verifications, 1, "{email}: one hash verification");
        match (before.1, sched::cpu_time_of(POOL)) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => wall,
        }
    };
    let (mut wrong, mut unknown, mut unusable) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for i in 0..3 {
        wrong = wrong.min(cost(format!("alice{i}@example.com")));
        unknown = unknown.min(cost(format!("nobody{i}@example.com")));
        unusable = unusable.min(cost(format!("idp-user{i}@example.com")));
    }
    assert!(wrong > Duration::from_millis(1), "the default parameters hash for real: {wrong:?}");
    assert!(unknown >= wrong / 3, "unknown {unknown:?} vs wrong {wrong:?}");
    assert!(unusable >= wrong / 3, "unusable {unusable:?} vs wrong {wrong:?}");
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_until_the_lockout_ends() {
    let clock = clock();
    let services = password_services(&clock, Argon2Params::INSECURE_FOR_TESTS);
    let accounts = accounts(&services);
    let chain = password_chain(&services);
    let reason = |email: &'static str, pw: &'static str| {
        let (chain, accounts) = (&chain, &accounts);
        async move {
            match chain.authenticate("example.com", &password(email, pw), accounts, None).await {
                Ok(_) => None,
                Err(f) => Some(only_reason(&f)),
            }
        }
    };

    // Failures spread over more than the window do not add up.
    for _ in 0..4 {
        assert_eq!(reason("alice0@example.com", "wrong").await, Some(RejectReason::WrongPassword));
    }
    clock.advance(Duration::from_secs(15 * 60 + 1));
    for _ in 0..4 {
        assert_eq!(reason("alice0@example.com", "wrong").await, Some(RejectReason::WrongPassword));
    }
    assert_eq!(reason("alice0@example.com", "correct horse battery").await, None);

    // Five within the window lock the account, even for the right password;
    // the key is the normalized email; other accounts are not affected.
    for _ in 0..5 {
        assert_eq!(reason("alice1@example.com", "wrong").await, Some(RejectReason::WrongPassword));
    }
    assert_eq!(reason("ALICE1@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
    assert_eq!(reason("alice2@example.com", "correct horse battery").await, None);
    clock.advance(Duration::from_secs(59));
    assert_eq!(reason("alice1@example.com", "correct horse battery").await, Some(RejectReason::Throttled));
    clock.advance(Duration::from_secs(2));
    assert_eq!(reason("alice1@example.com", "correct horse battery").await, None);

    // Unknown accounts are throttled the same way: no difference to observe.
    for _ in 0..5 {
        assert_eq!(reason("ghost@example.com", "x").await, Some(RejectReason::UnknownAccount));
    }
    assert_eq!(reason("ghost@example.com", "x").await, Some(RejectReason::Throttled));
}
