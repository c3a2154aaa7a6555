//! The example plugins' decisions on the recorded principals.

use crate::plugins;
use provisio::plugin::{Account, Assignment, CallFailure, Creation, Limits};
use serde_json::{Value, json};

use crate::{ctx, load, principal, runtime};

/// What a case expects.
enum Expect {
    /// An account with this email and a username of `prefix` plus `digits` digits.
    Create { email: &'static str, prefix: &'static str, digits: usize, given: Option<&'static str> },
    /// A denial with this code.
    Deny(&'static str),
    /// Exactly these memberships, in this order.
    Assign(Vec<Assignment>),
    /// The plugin's own error.
    PluginError,
}

struct Case {
    plugin: &'static str,
    principal: &'static str,
    config: Value,
    expect: Expect,
}

fn team(n: &str) -> Assignment {
    Assignment::Team(n.into())
}

fn role(n: &str) -> Assignment {
    Assignment::Role(n.into())
}

fn mapping() -> Value {
    json!({
        "groups": {
            "Engineering": "team:engineering, role:developer",
            "oncall-admins": "role:admin",
            "Sales": "team:sales",
            "proj-042": "team:project-42",
        },
        "default-team": "everyone",
    })
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let create = |email, prefix, digits, given| Create { email, prefix, digits, given };
    vec![
        // The seeds' default rule: names from the principal, username from the email plus digits.
        Case {
            plugin: plugins::DEFAULT_CREATOR,
            principal: "okta",
            config: json!({}),
            expect: create("jane.doe@acme.example", "jane.doe", 4, Some("Jane")),
        },
        Case {
            plugin: plugins::DEFAULT_CREATOR,
            principal: "okta",
            config: json!({"digits": 7}),
            expect: create("jane.doe@acme.example", "jane.doe", 7, Some("Jane")),
        },
        Case {
            plugin: plugins::DEFAULT_CREATOR,
            principal: "okta",
            config: json!({"digits": 0}),
            expect: create("jane.doe@acme.example", "jane.doe", 0, Some("Jane")),
        },
        Case {
            plugin: plugins::DEFAULT_CREATOR,
            principal: "google",
            config: json!({}),
            expect: create("sam.o'neil@fabrikam.example", "sam.oneil", 4, Some("Sam")),
        },
        Case {
            plugin: plugins::DEFAULT_CREATOR,
            principal: "entra-many-groups",
            config: json!({"digits": 2}),
            expect: create("alex.wilber@contoso.example", "alex.wilber", 2, Some("Alex")),
        },
        // The creator does not judge verification: the host does.
        Case {
            plugin: plugins::DEFAULT_CREATOR,
            principal: "unverified-email",
            config: json!({}),
            expect: create("mallory@acme.example", "mallory", 4, Some("Mallory")),
        },
        // Allow-list: listed domains create like the default rule, others are denied.
        Case {
            plugin: plugins::DOMAIN_ALLOWLIST,
            principal: "okta",
            config: json!({"allowed-domains": "acme.example, contoso.example"}),
            expect: create("jane.doe@acme.example", "jane.doe", 4, Some("Jane")),
        },
        Case {
            plugin: plugins::DOMAIN_ALLOWLIST,
            principal: "okta",
            config: json!({"allowed-domains": ["ACME.example"]}),
            expect: create("jane.doe@acme.example", "jane.doe", 4, Some("Jane")),
        },
        Case {
            plugin: plugins::DOMAIN_ALLOWLIST,
            principal: "google",
            config: json!({"allowed-domains": "acme.example"}),
            expect: Deny("domain-not-allowed"),
        },
        Case {
            plugin: plugins::DOMAIN_ALLOWLIST,
            principal: "okta",
            config: json!({}),
            expect: Deny("domain-not-allowed"),
        },
        // Group mapping: mapped groups in the IdP's order, unmapped ignored.
        Case {
            plugin: plugins::GROUP_MAPPER,
            principal: "okta",
            config: mapping(),
            expect: Assign(vec![team("engineering"), role("developer"), role("admin")]),
        },
        Case {
            plugin: plugins::GROUP_MAPPER,
            principal: "entra-many-groups",
            config: mapping(),
            expect: Assign(vec![team("engineering"), role("developer"), team("sales"), team("project-42")]),
        },
        // No groups at all: the default team.
        Case {
            plugin: plugins::GROUP_MAPPER,
            principal: "google",
            config: mapping(),
            expect: Assign(vec![team("everyone")]),
        },
        Case { plugin: plugins::GROUP_MAPPER, principal: "google", config: json!({}), expect: Assign(vec![]) },
        // Groups sent but none mapped: no default team.
        Case {
            plugin: plugins::GROUP_MAPPER,
            principal: "unverified-email",
            config: mapping(),
            expect: Assign(vec![]),
        },
        Case {
            plugin: plugins::GROUP_MAPPER,
            principal: "okta",
            config: json!({"default-role": "member", "groups": {"Everyone": "organization:acme"}}),
            expect: Assign(vec![Assignment::Organization("acme".into()), role("member")]),
        },
        // A typo in the mapping fails loudly instead of dropping memberships.
        Case {
            plugin: plugins::GROUP_MAPPER,
            principal: "okta",
            config: json!({"groups": {"Engineering": "tema:engineering"}}),
            expect: PluginError,
        },
    ]
}

fn account_for(p: &provisio::plugin::Principal) -> Account {
    Account {
        id: "acct-1".into(),
        username: "someone".into(),
        email: p.email.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        newly_created: true,
    }
}

#[tokio::test]
async fn example_plugins_decide_as_documented() {
    let runtime = runtime();
    for (i, case) in cases().into_iter().enumerate() {
        let plugin = load(&runtime, case.plugin).await;
        let p = principal(case.principal);
        let ctx = ctx(case.config.clone(), Limits::default());
        let label = format!("case {i}: {} on {} with {}", case.plugin, case.principal, case.config);
        match case.expect {
            Expect::Assign(expected) => {
                let report = runtime.assign(&plugin, &account_for(&p), &p, &ctx).await;
                assert_eq!(report.outcome, Ok(expected), "{label}");
            }
            Expect::PluginError => {
                let report = runtime.assign(&plugin, &account_for(&p), &p, &ctx).await;
                assert!(
                    matches!(report.outcome, Err(CallFailure::PluginError { .. })),
                    "{label}: {:?}",
                    report.outcome
                );
            }
            Expect::Deny(code) => {
                let report = runtime.create(&plugin, &p, &ctx).await;
                match report.outcome {
                    Ok(Creation::Deny(d)) => {
                        assert_eq!(d.code, code, "{label}");
                        assert!(!d.message.is_empty(), "{label}");
                    }
                    other => panic!("{label}: expected a denial, got {other:?}"),
                }
            }
            Expect::Create { email, prefix, digits, given } => {
                let report = runtime.create(&plugin, &p, &ctx).await;
                let Ok(Creation::Create(account)) = report.outcome else {
                    panic!("{label}: expected an account, got {:?}", report.outcome);
                };
                assert_eq!(account.email, email, "{label}");
                assert_eq!(account.given_name.as_deref(), given, "{label}");
                let username = account.username_hint.unwrap_or_default();
                let suffix = username.strip_prefix(prefix).unwrap_or_else(|| panic!("{label}: username {username}"));
                assert_eq!(suffix.len(), digits, "{label}: username {username}");
                assert!(suffix.bytes().all(|b| b.is_ascii_digit()), "{label}: username {username}");
            }
        }
    }
}

#[tokio::test]
async fn a_seed_makes_random_digits_replay_and_no_seed_does_not() {
    let runtime = runtime();
    let plugin = load(&runtime, plugins::DEFAULT_CREATOR).await;
    let p = principal("okta");
    let username = |report: provisio::plugin::CallReport<Creation>| match report.outcome {
        Ok(Creation::Create(a)) => a.username_hint.unwrap_or_default(),
        other => panic!("expected an account, got {other:?}"),
    };
    let mut seeded = ctx(json!({"digits": 9}), Limits::default());
    seeded.seed = Some(42);
    let a = username(runtime.create(&plugin, &p, &seeded).await);
    let b = username(runtime.create(&plugin, &p, &seeded).await);
    assert_eq!(a, b, "same seed, same username");
    seeded.seed = Some(43);
    let c = username(runtime.create(&plugin, &p, &seeded).await);
    assert_ne!(a, c, "another seed, another username");
    let unseeded = ctx(json!({"digits": 9}), Limits::default());
    let d = username(runtime.create(&plugin, &p, &unseeded).await);
    let e = username(runtime.create(&plugin, &p, &unseeded).await);
    assert_ne!(d, e, "without a seed, nine random digits differ (1 in 10^9 chance of a false failure)");
}

#[tokio::test]
async fn noop_plugin_answers_both_hooks() {
    let runtime = runtime();
    let plugin = load(&runtime, plugins::NOOP).await;
    assert_eq!(plugin.info().world, provisio::runtime::World::Provisioner);
    let p = principal("okta");
    let ctx = ctx(json!({}), Limits::default());
    assert!(matches!(runtime.create(&plugin, &p, &ctx).await.outcome, Ok(Creation::Deny(_))));
    assert_eq!(runtime.assign(&plugin, &account_for(&p), &p, &ctx).await.outcome, Ok(vec![]));
}

/// The built-in providers and the example plugins follow the same rules: on
/// every recorded principal they decide the same (digits 0, so no randomness).
#[tokio::test]
async fn builtin_providers_agree_with_the_example_plugins() {
    use provisio::builtin::{default_creation, group_mapping};
    use provisio::plugin::BindingConfig;

    let runtime = runtime();
    let creator = load(&runtime, plugins::DEFAULT_CREATOR).await;
    let mapper = load(&runtime, plugins::GROUP_MAPPER).await;
    let mut config = mapping();
    config["digits"] = json!(0);
    config["default-role"] = json!("member");
    let native_config = BindingConfig::from_json(&config).unwrap_or_else(|e| panic!("{e}"));
    let ctx = ctx(config, Limits::default());
    let mut rng = rand::rng();
    for name in ["okta", "entra-many-groups", "google", "unverified-email"] {
        let p = principal(name);
        let wasm = runtime.create(&creator, &p, &ctx).await.outcome;
        assert_eq!(wasm, Ok(default_creation(&p, &native_config, &mut rng)), "{name}");
        let wasm = runtime.assign(&mapper, &account_for(&p), &p, &ctx).await.outcome;
        assert_eq!(wasm.ok(), group_mapping(&p, &native_config).ok(), "{name}");
    }
}

/// A plugin written in Python and built by componentize-py (which imports
/// most of WASI 0.2, sockets and filesystem included) loads and decides like
/// the Rust allow-list plugin.
#[tokio::test]
async fn python_plugin_built_by_componentize_py_runs() {
    use provisio::runtime::{Runtime, RuntimeConfig};

    // The artifact cache lives in a directory of this test's own, never in
    // the repository's `target/`.
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = || RuntimeConfig { cache_dir: Some(cache.path().to_owned()), ..RuntimeConfig::default() };
    let runtime = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    let plugin = load(&runtime, plugins::PYTHON_ALLOWLIST).await;
    assert_eq!(plugin.info().name, plugins::PYTHON_ALLOWLIST);
    assert!(plugin.info().imports.iter().any(|i| i.starts_with("wasi:sockets/tcp@")), "{:?}", plugin.info().imports);
    let ctx = ctx(json!({"allowed-domains": "acme.example"}), Limits::default());
    let report = runtime.create(&plugin, &principal("okta"), &ctx).await;
    match report.outcome {
        Ok(Creation::Create(a)) => {
            assert_eq!(a.email, "jane.doe@acme.example");
            let hint = a.username_hint.unwrap_or_default();
            assert!(hint.starts_with("jane.doe") && hint.len() == "jane.doe".len() + 4, "{hint}");
        }
        other => panic!("expected an account, got {other:?}"),
    }
    assert!(report.stats.logs.iter().any(|l| l.message == "creating jane.doe@acme.example"));
    let report = runtime.create(&plugin, &principal("google"), &ctx).await;
    assert!(
        matches!(report.outcome, Ok(Creation::Deny(ref d)) if d.code == "domain-not-allowed"),
        "{:?}",
        report.outcome
    );
    let compiled = runtime.plugin_cache_stats();
    assert_eq!((compiled.compiled, compiled.from_disk), (1, 0), "{compiled:?}");
    drop((plugin, runtime));

    // A restarted runtime finds the artifact of the first on disk: one load
    // from disk, no compile.
    let restarted = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    let plugin = load(&restarted, plugins::PYTHON_ALLOWLIST).await;
    let report = restarted.create(&plugin, &principal("google"), &ctx).await;
    assert!(matches!(report.outcome, Ok(Creation::Deny(_))), "{:?}", report.outcome);
    let reused = restarted.plugin_cache_stats();
    assert_eq!((reused.compiles, reused.compiled, reused.from_disk), (0, 0, 1), "{reused:?}");
    assert_eq!(restarted.artifact_cache_stats().map(|s| s.files), Some(1));
}

/// The JavaScript group mapper (`plugins/js/group-mapper`, built with
/// componentize-js) decides exactly as the Rust one on every recorded
/// principal and every configuration of its test directory: the same
/// memberships in the same order, or both the plugin's own error.
#[tokio::test]
async fn the_javascript_group_mapper_decides_as_the_rust_one() {
    let runtime = runtime();
    let rust = load(&runtime, plugins::GROUP_MAPPER).await;
    let js = load(&runtime, plugins::GROUP_MAPPER_JS).await;
    assert_eq!(js.info().world.to_string(), "assignment-provider-plugin");
    let configs = crate::root().join("plugins/js/group-mapper/test");
    let mut configs: Vec<_> = std::fs::read_dir(&configs)
        .unwrap_or_else(|e| panic!("{}: {e}", configs.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 5, "{configs:?}");
    let mut decisions = 0;
    for config in &configs {
        let text = std::fs::read(config).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let config_json: Value = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        for name in ["okta", "google", "entra-many-groups", "unverified-email"] {
            let p = principal(name);
            // Decisions are compared, not speed: the ceiling's wall time, so a slow machine changes nothing.
            let limits = Limits { wall_time: Limits::CEILINGS.wall_time, ..Limits::default() };
            let ctx = ctx(config_json.clone(), limits);
            let (by_rust, by_js) = (
                runtime.assign(&rust, &account_for(&p), &p, &ctx).await,
                runtime.assign(&js, &account_for(&p), &p, &ctx).await,
            );
            let label = format!("{name} with {}", config.display());
            match (&by_rust.outcome, &by_js.outcome) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{label}");
                    decisions += 1;
                }
                (Err(CallFailure::PluginError { .. }), Err(CallFailure::PluginError { .. })) => {}
                (a, b) => panic!("{label}: Rust {a:?}, JavaScript {b:?}"),
            }
        }
    }
    assert!(decisions >= 8, "most runs decide: {decisions}");
}
