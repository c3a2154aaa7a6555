//! Decisions whose canonical-ABI encoding is hostile: a list header claiming
//! millions of entries, entries aliasing one huge string, invalid UTF-8, bad
//! discriminants, pointers out of bounds. Rust guests cannot write these, so
//! the components are built here from WAT text, exporting
//! `provisio:plugin/assignment-provider@0.1.0` by hand.

use std::time::Duration;

use provisio::plugin::{Account, Assignment, CallFailure, CallReport, LimitKind, Limits};
use provisio::runtime::{Plugin, Runtime};
use serde_json::json;

use crate::sched::{Measured, Stopwatch};
use crate::{ctx, principal, runtime};

/// Where `assign` writes its `result<list<assignment>, string>`.
const RETURN_AREA: u32 = 16;
/// Where the list's entries start (12 bytes each: discriminant, pointer, length).
const ENTRIES: u32 = 1024;
/// A 16 MiB string the aliasing entries share (zero bytes are valid UTF-8).
const HUGE: u32 = 16 << 20;
/// Far more than any call may take, yet quick for the call to fail at.
const GENEROUS: Duration = Duration::from_secs(5);

/// An assignment provider whose `assign` runs `body` (core wasm
/// instructions) and returns the pointer it leaves on the stack; its linear
/// memory is `pages` of 64 KiB, with a bump allocator in the last one.
fn component(pages: u32, body: &str) -> Vec<u8> {
    let heap = (pages - 1) * 65536;
    let text = format!(
        r#"(component
  (core module $m
    (memory (export "memory") {pages})
    (global $heap (mut i32) (i32.const {heap}))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (data (i32.const 64) "lifting-test")
    (data (i32.const 128) "engineering")
    (data (i32.const 512) "\ff\fe")
    (func (export "name") (result i32)
      (i32.store (i32.const 16) (i32.const 64))
      (i32.store (i32.const 20) (i32.const 12))
      (i32.const 16))
    (func (export "assign") (param i32) (result i32)
      {body}))
  (core instance $i (instantiate $m))
  (type $account (record (field "id" string) (field "username" string) (field "email" string)
    (field "given-name" (option string)) (field "family-name" (option string)) (field "newly-created" bool)))
  (type $principal (record (field "domain" string) (field "provider" string) (field "subject" string)
    (field "email" string) (field "email-verified" bool) (field "given-name" (option string))
    (field "family-name" (option string)) (field "groups" (list string))
    (field "claims" (list (tuple string string)))))
  (type $assignment (variant (case "organization" string) (case "team" string) (case "role" string)))
  (export $account' "account" (type $account))
  (export $principal' "principal" (type $principal))
  (export $assignment' "assignment" (type $assignment))
  (func $name (result string)
    (canon lift (core func $i "name") (memory $i "memory") (realloc (func $i "realloc"))))
  (func $assign (param "account" $account') (param "principal" $principal')
    (result (result (list $assignment') (error string)))
    (canon lift (core func $i "assign") (memory $i "memory") (realloc (func $i "realloc"))))
  (instance $ap
    (export "account" (type $account')) (export "principal" (type $principal'))
    (export "assignment" (type $assignment'))
    (export "name" (func $name)) (export "assign" (func $assign)))
  (export "provisio:plugin/assignment-provider@0.1.0" (instance $ap)))"#
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("the test's WAT does not parse: {e}"))
}

/// Instructions returning `ok(list)` of `len` entries at [`ENTRIES`], the
/// first of them written by `entries` (discriminant, string pointer, length).
fn ok_list(len: u32, entries: &[(u8, u32, u32)]) -> String {
    let mut body = format!(
        "(i32.store8 (i32.const {RETURN_AREA}) (i32.const 0)) \
         (i32.store (i32.const {}) (i32.const {ENTRIES})) \
         (i32.store (i32.const {}) (i32.const {len}))",
        RETURN_AREA + 4,
        RETURN_AREA + 8
    );
    for (i, (discriminant, ptr, len)) in entries.iter().enumerate() {
        let at = ENTRIES + 12 * i as u32;
        body.push_str(&format!(
            " (i32.store8 (i32.const {at}) (i32.const {discriminant})) \
             (i32.store (i32.const {}) (i32.const {ptr})) \
             (i32.store (i32.const {}) (i32.const {len}))",
            at + 4,
            at + 8
        ));
    }
    body.push_str(&format!(" (i32.const {RETURN_AREA})"));
    body
}

fn account() -> Account {
    Account {
        id: "0195f3a0-0000-7000-8000-000000000001".into(),
        username: "ada".into(),
        email: "ada@example.com".into(),
        given_name: None,
        family_name: None,
        newly_created: true,
    }
}

async fn load(runtime: &Runtime, bytes: &[u8]) -> Plugin {
    runtime.load(bytes).await.unwrap_or_else(|e| panic!("the test component was refused: {e}"))
}

/// Loads the component and calls `assign` once, timed: the wall time and
/// how long the call's thread waited for a CPU within it.
async fn assign(pages: u32, body: &str, limits: Limits) -> (CallReport<Vec<Assignment>>, Measured) {
    let runtime = runtime();
    let plugin = load(&runtime, &component(pages, body)).await;
    let watch = Stopwatch::start(&[]);
    let report = runtime.assign(&plugin, &account(), &principal("okta"), &ctx(json!({}), limits)).await;
    (report, watch.stop())
}

fn output_bytes(limits: Limits) -> Result<Vec<Assignment>, CallFailure> {
    Err(CallFailure::LimitExceeded { limit: LimitKind::OutputBytes, value: limits.output_bytes })
}

fn abi_rule(outcome: &Result<Vec<Assignment>, CallFailure>) -> Option<&'static str> {
    match outcome {
        Err(CallFailure::Malformed { rule, .. }) => Some(rule),
        _ => None,
    }
}

#[tokio::test]
async fn the_harness_lifts_a_well_formed_decision() {
    let body = ok_list(2, &[(1, 128, 11), (2, 128, 11)]);
    let (report, _) = assign(2, &body, Limits::default()).await;
    assert_eq!(
        report.outcome,
        Ok(vec![Assignment::Team("engineering".into()), Assignment::Role("engineering".into())])
    );
}

/// About twenty instructions claim 2.7 million zeroed entries (32 MiB of
/// linear memory): the host refuses to lift them before allocating any, at
/// the default output limit and at the operator's ceiling alike.
#[tokio::test]
async fn a_list_header_claiming_millions_of_entries_fails_fast_as_output_bytes() {
    let body = ok_list(2_700_000, &[]);
    for limits in [Limits::default(), Limits { output_bytes: Limits::CEILINGS.output_bytes, ..Limits::default() }] {
        let (report, took) = assign(500, &body, limits).await;
        assert_eq!(report.outcome, output_bytes(limits));
        assert!(took.unexplained() < GENEROUS, "took {took:?}");
        assert!(report.stats.duration.saturating_sub(took.waited) < GENEROUS, "{:?}", report.stats.duration);
        assert!(report.stats.peak_memory_bytes <= limits.memory_bytes);
    }
}

/// Seven or nine entries aliasing one 16 MiB string would make the host copy
/// 112 or 144 MiB; the first one is already past the budget.
#[tokio::test]
async fn entries_aliasing_one_huge_string_fail_fast_as_output_bytes() {
    for count in [1, 7, 9] {
        let entries = vec![(1, 4096, HUGE); count];
        let body = ok_list(count as u32, &entries);
        let (report, took) = assign(500, &body, Limits::default()).await;
        assert_eq!(report.outcome, output_bytes(Limits::default()), "{count} entries");
        assert!(took.unexplained() < GENEROUS, "{count} entries took {took:?}");
    }
}

/// The budget leaves room for the list's structure: a list a little over
/// the contract's 256 entries is lifted, and refused by the contract's rule.
#[tokio::test]
async fn a_list_a_little_too_long_is_malformed_not_a_limit() {
    let entries = vec![(1, 128, 11); 300];
    let (report, _) = assign(2, &ok_list(300, &entries), Limits::default()).await;
    assert_eq!(abi_rule(&report.outcome), Some("assignments-size"), "{:?}", report.outcome);
}

/// Values the canonical ABI forbids are a malformed decision (rule `abi`),
/// not a trap: the guest ran to its end and answered nonsense.
#[tokio::test]
async fn malformed_canonical_abi_values_are_malformed_decisions() {
    let bad_result = format!("(i32.store8 (i32.const {RETURN_AREA}) (i32.const 9)) (i32.const {RETURN_AREA})");
    for (what, body) in [
        ("invalid UTF-8", ok_list(1, &[(1, 512, 2)])),
        ("a bad variant discriminant", ok_list(1, &[(7, 128, 11)])),
        ("a string out of bounds", ok_list(1, &[(1, 0x7fff_0000, 4)])),
        ("a list out of bounds", ok_list(0x0fff_ffff, &[])),
        ("a bad result discriminant", bad_result),
    ] {
        let (report, _) = assign(2, &body, Limits::default()).await;
        assert_eq!(abi_rule(&report.outcome), Some("abi"), "{what}: {:?}", report.outcome);
    }
}

/// A refused `memory.grow` traps where it happens and is the memory limit;
/// a trap of a call whose memory stayed within its limit is a trap.
#[tokio::test]
async fn only_the_refused_growth_is_the_memory_limit() {
    let limits = Limits { memory_bytes: 1 << 20, ..Limits::default() };
    // Grows by 64 MiB, and would trap with `unreachable` if that failed.
    let refused = "(if (i32.eq (memory.grow (i32.const 1024)) (i32.const -1)) (then unreachable)) (i32.const 0)";
    let (report, _) = assign(2, refused, limits).await;
    assert_eq!(report.outcome, Err(CallFailure::LimitExceeded { limit: LimitKind::Memory, value: 1 << 20 }));
    assert!(report.stats.peak_memory_bytes <= 1 << 20);
    // Grows within the limit, then traps.
    let granted = "(drop (memory.grow (i32.const 4))) unreachable";
    let (report, _) = assign(2, granted, limits).await;
    assert!(matches!(report.outcome, Err(CallFailure::Trap { .. })), "{:?}", report.outcome);
}
