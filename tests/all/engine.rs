//! The login flow, scenario by scenario, on every backend: one scenario per
//! rule of DESIGN.md's normative flow, under both JIT settings, with the
//! built-in providers and with the example plugins.

use crate::plugins;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use provisio::auth::{Argon2Params, AuthServices, Credential, Secret};
use provisio::engine::{Host, LoginRequest, LoginSuccess};
use provisio::runtime::Runtime;
use provisio::store::{
    AccountState, AuditFilter, Binding, FailurePolicy, MembershipSource, MembershipTarget, NewAccount, NewDomain,
    NewPlugin, NewProvider, OrgId, PasswordHash, ProviderKind, Store, SyncMode, Verification,
};
use serde_json::{Value, json};

use crate::auth::TestKey;
use crate::{TestDatabase, component};

const ISSUER: &str = "https://idp.acme.example";
const AUDIENCE: &str = "provisio-test";

/// The test IdP's signing key (see tests/fixtures/auth/README.md).
fn idp_key() -> TestKey {
    TestKey::load("rsa.pem", Algorithm::RS256, "rsa-1")
}

/// An ID token for `email` with `groups`, signed by the test IdP.
pub(crate) fn id_token(subject: &str, email: &str, verified: bool, groups: &[&str]) -> Credential {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 300,
        "email": email, "email_verified": verified, "given_name": "Jane", "family_name": "Doe",
    });
    if !groups.is_empty() {
        claims["groups"] = json!(groups);
    }
    Credential::IdToken(Secret::new(idp_key().sign(&claims)))
}

pub(crate) fn password(email: &str, password: &str) -> Credential {
    Credential::Password { email: email.into(), password: Secret::new(password) }
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>, doing: &str) -> T {
    r.unwrap_or_else(|e| panic!("{doing}: {e}"))
}

/// An account that exists before the login: email, state, password, and
/// memberships as (team name, source).
pub(crate) type Existing = (&'static str, AccountState, Option<&'static str>, Vec<(&'static str, MembershipSource)>);

/// How a scenario's domain is set up.
#[derive(Clone)]
pub(crate) struct Setup {
    pub(crate) jit: bool,
    pub(crate) creator: Option<&'static str>,
    pub(crate) assigner: Option<&'static str>,
    pub(crate) config: Value,
    pub(crate) policy: FailurePolicy,
    pub(crate) sync: SyncMode,
    /// The binding's limits, as JSON.
    pub(crate) limits: Value,
    /// An account that exists before the login: (email, state, password, memberships by team name with source).
    pub(crate) existing: Option<Existing>,
    /// A pending invitation for this email, optionally naming a team.
    pub(crate) invitation: Option<(&'static str, Option<&'static str>)>,
    /// A directory provider `corp-ldap`, between `okta` and `password`, with
    /// these settings on top of the test directory's; the binding is then
    /// its. The test fills in the directory's address (see
    /// [`crate::ldap::Directory::provider_config`]).
    pub(crate) directory: Option<Value>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            jit: true,
            creator: None,
            assigner: None,
            config: json!({}),
            policy: FailurePolicy::FailClosed,
            sync: SyncMode::OnCreate,
            limits: json!({"wall_time": 50}),
            existing: None,
            invitation: None,
            directory: None,
        }
    }
}

/// What a scenario expects.
struct Expect {
    /// `Ok` or the error code.
    outcome: Result<(), &'static str>,
    /// The username starts with this (for accounts created by the login).
    username_prefix: Option<&'static str>,
    /// Memberships after the login: (kind, name, source), sorted.
    memberships: Vec<(&'static str, &'static str, &'static str)>,
    /// The audit event's outcome and rule.
    audit: (&'static str, Option<&'static str>),
    /// Whether an account with the login's email exists afterwards.
    account_exists: bool,
}

struct Scenario {
    name: &'static str,
    setup: Setup,
    login: fn() -> Credential,
    expect: Expect,
}

fn mapping() -> Value {
    json!({"groups": {"Engineering": "team:engineering, role:developer"}, "default-team": "everyone", "digits": 4})
}

fn scenarios() -> Vec<Scenario> {
    use MembershipSource::*;
    let okta = || id_token("sub-jane", "jane@acme.example", true, &["Engineering", "Everyone"]);
    let okta_no_groups = || id_token("sub-jane", "jane@acme.example", true, &[]);
    let base = Setup::default;
    vec![
        Scenario {
            name: "JIT on, built-in providers, IdP groups: built-in mapping assigns",
            setup: Setup { config: mapping(), ..base() },
            login: okta,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![
                    ("organization", "acme", "idp"),
                    ("role", "developer", "idp"),
                    ("team", "engineering", "idp"),
                ],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "JIT on, no groups, not a member: default organization and team",
            setup: base(),
            login: okta_no_groups,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![("organization", "acme", "idp"), ("team", "everyone", "idp")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "JIT on, example plugins create and assign",
            setup: Setup {
                creator: Some(plugins::DEFAULT_CREATOR),
                assigner: Some(plugins::GROUP_MAPPER),
                config: mapping(),
                ..base()
            },
            login: okta,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![
                    ("organization", "acme", "idp"),
                    ("role", "developer", "idp"),
                    ("team", "engineering", "idp"),
                ],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "creator plugin denies: login refused, no account",
            setup: Setup {
                creator: Some(plugins::DOMAIN_ALLOWLIST),
                config: json!({"allowed-domains": "other.example"}),
                ..base()
            },
            login: okta,
            expect: Expect {
                outcome: Err("denied"),
                username_prefix: None,
                memberships: vec![],
                audit: ("denied", Some("plugin-denied:domain-not-allowed")),
                account_exists: false,
            },
        },
        Scenario {
            name: "creator plugin traps, fail closed: login refused, no account",
            setup: Setup { creator: Some(plugins::HOSTILE_PANIC), ..base() },
            login: okta_no_groups,
            expect: Expect {
                outcome: Err("provisioning-failed"),
                username_prefix: None,
                memberships: vec![],
                audit: ("provisioning-failed", Some("create-trap")),
                account_exists: false,
            },
        },
        Scenario {
            name: "creator plugin loops, fall back: built-in creator decides",
            setup: Setup { creator: Some(plugins::HOSTILE_LOOP), policy: FailurePolicy::FallBack, ..base() },
            login: okta_no_groups,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![("organization", "acme", "idp"), ("team", "everyone", "idp")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "creator plugin asks for another email: the host refuses the decision",
            setup: Setup { creator: Some(plugins::HOSTILE_IMPOSTOR), ..base() },
            login: okta_no_groups,
            expect: Expect {
                outcome: Err("provisioning-failed"),
                username_prefix: None,
                memberships: vec![],
                audit: ("provisioning-failed", Some("created-email-mismatch")),
                account_exists: false,
            },
        },
        Scenario {
            name: "the plugin's username hint is used, the IdP's names are stored",
            setup: Setup { creator: Some(plugins::HOSTILE_COUNTER), ..base() },
            login: || id_token("sub-x", "JANE@acme.example", true, &[]),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("calls-1"),
                memberships: vec![("organization", "acme", "idp"), ("team", "everyone", "idp")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "assignment names a team outside the organization: login refused",
            setup: Setup {
                assigner: Some(plugins::GROUP_MAPPER),
                config: json!({"groups": {"Engineering": "team:nonexistent"}}),
                ..base()
            },
            login: okta,
            expect: Expect {
                outcome: Err("provisioning-failed"),
                username_prefix: None,
                memberships: vec![],
                audit: ("provisioning-failed", Some("assignment-unknown-team")),
                account_exists: false,
            },
        },
        Scenario {
            name: "existing member: used as is, names updated, no default team added",
            setup: Setup {
                existing: Some(("jane@acme.example", AccountState::Active, None, vec![("engineering", Admin)])),
                ..base()
            },
            login: okta_no_groups,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("existing"),
                memberships: vec![("team", "engineering", "admin")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "locked account is refused",
            setup: Setup { existing: Some(("jane@acme.example", AccountState::Locked, None, vec![])), ..base() },
            login: okta,
            expect: Expect {
                outcome: Err("account-locked"),
                username_prefix: Some("existing"),
                memberships: vec![],
                audit: ("account-locked", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "disabled account is refused",
            setup: Setup { existing: Some(("jane@acme.example", AccountState::Disabled, None, vec![])), ..base() },
            login: okta,
            expect: Expect {
                outcome: Err("account-disabled"),
                username_prefix: Some("existing"),
                memberships: vec![],
                audit: ("account-disabled", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "unverified email may not link to an existing account",
            setup: Setup { existing: Some(("jane@acme.example", AccountState::Active, None, vec![])), ..base() },
            login: || id_token("sub-mallory", "jane@acme.example", false, &[]),
            expect: Expect {
                outcome: Err("unverified-email"),
                username_prefix: Some("existing"),
                memberships: vec![],
                audit: ("unverified-email", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "pending invitation with a team is accepted",
            setup: Setup { invitation: Some(("jane@acme.example", Some("engineering"))), ..base() },
            login: okta_no_groups,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![("organization", "acme", "invitation"), ("team", "engineering", "invitation")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "JIT off, not a member: access denied, the account still exists",
            setup: Setup { jit: false, config: mapping(), ..base() },
            login: okta,
            expect: Expect {
                outcome: Err("access-denied"),
                username_prefix: Some("jane"),
                memberships: vec![],
                audit: ("access-denied", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "JIT off, invited: admitted through the invitation, IdP groups ignored",
            setup: Setup { jit: false, config: mapping(), invitation: Some(("jane@acme.example", None)), ..base() },
            login: okta,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![("organization", "acme", "invitation")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "JIT off, existing member: admitted, memberships untouched",
            setup: Setup {
                jit: false,
                config: mapping(),
                existing: Some(("jane@acme.example", AccountState::Active, None, vec![("everyone", Scim)])),
                ..base()
            },
            login: okta,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("existing"),
                memberships: vec![("team", "everyone", "scim")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "sync mode: IdP memberships follow the answer, admin ones stay",
            setup: Setup {
                sync: SyncMode::EveryLogin,
                config: mapping(),
                existing: Some((
                    "jane@acme.example",
                    AccountState::Active,
                    None,
                    vec![("sales", Idp), ("everyone", Admin)],
                )),
                ..base()
            },
            login: okta,
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("existing"),
                memberships: vec![
                    ("organization", "acme", "idp"),
                    ("role", "developer", "idp"),
                    ("team", "engineering", "idp"),
                    ("team", "everyone", "admin"),
                ],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "password provider: right password logs an existing member in",
            setup: Setup {
                existing: Some((
                    "jane@acme.example",
                    AccountState::Active,
                    Some("correct horse"),
                    vec![("everyone", Admin)],
                )),
                ..base()
            },
            login: || password("Jane@ACME.example", "correct horse"),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("existing"),
                memberships: vec![("team", "everyone", "admin")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "password provider: wrong password is one generic failure",
            setup: Setup {
                existing: Some(("jane@acme.example", AccountState::Active, Some("correct horse"), vec![])),
                ..base()
            },
            login: || password("jane@acme.example", "battery staple"),
            expect: Expect {
                outcome: Err("authentication-failed"),
                username_prefix: Some("existing"),
                memberships: vec![],
                audit: ("authentication-failed", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "password provider: unknown account is the same generic failure, nothing written",
            setup: base(),
            login: || password("nobody@acme.example", "whatever"),
            expect: Expect {
                outcome: Err("authentication-failed"),
                username_prefix: None,
                memberships: vec![],
                audit: ("authentication-failed", None),
                account_exists: false,
            },
        },
        Scenario {
            name: "directory, JIT on: first login, the directory's groups through the built-in mapping",
            setup: Setup { config: mapping(), directory: Some(json!({})), ..base() },
            login: || password("jane", "jane-directory-pw"),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![
                    ("organization", "acme", "idp"),
                    ("role", "developer", "idp"),
                    ("team", "engineering", "idp"),
                ],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "directory, JIT on, login by email: example plugins create and assign from the directory's groups",
            setup: Setup {
                creator: Some(plugins::DEFAULT_CREATOR),
                assigner: Some(plugins::GROUP_MAPPER),
                config: mapping(),
                directory: Some(json!({})),
                ..base()
            },
            login: || password("Jane@acme.example", "jane-directory-pw"),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![
                    ("organization", "acme", "idp"),
                    ("role", "developer", "idp"),
                    ("team", "engineering", "idp"),
                ],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "directory, groups by search with nesting: a group's group is mapped too",
            setup: Setup {
                config: json!({"groups": {"Platform": "team:sales"}}),
                directory: Some(json!({"groups": {
                    "from": "search", "base_dn": "ou=groups,dc=acme,dc=example", "nested": true,
                }})),
                ..base()
            },
            login: || password("jane", "jane-directory-pw"),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("jane"),
                memberships: vec![("organization", "acme", "idp"), ("team", "sales", "idp")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "directory, JIT off, not a member: access denied, the account still exists",
            setup: Setup { jit: false, config: mapping(), directory: Some(json!({})), ..base() },
            login: || password("jane", "jane-directory-pw"),
            expect: Expect {
                outcome: Err("access-denied"),
                username_prefix: Some("jane"),
                memberships: vec![],
                audit: ("access-denied", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "directory, sync mode: a group the directory no longer lists is removed, admin ones stay",
            setup: Setup {
                sync: SyncMode::EveryLogin,
                config: mapping(),
                directory: Some(json!({})),
                existing: Some((
                    "jane@acme.example",
                    AccountState::Active,
                    None,
                    vec![("sales", Idp), ("everyone", Admin)],
                )),
                ..base()
            },
            login: || password("jane", "jane-directory-pw"),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("existing"),
                memberships: vec![
                    ("organization", "acme", "idp"),
                    ("role", "developer", "idp"),
                    ("team", "engineering", "idp"),
                    ("team", "everyone", "admin"),
                ],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "directory: an account locked in the directory is refused, nothing written",
            setup: Setup { directory: Some(json!({})), ..base() },
            login: || password("dave", "dave-directory-pw"),
            expect: Expect {
                outcome: Err("authentication-failed"),
                username_prefix: None,
                memberships: vec![],
                audit: ("authentication-failed", None),
                account_exists: false,
            },
        },
        Scenario {
            name: "directory: wrong password is the generic failure, nothing written",
            setup: Setup { directory: Some(json!({})), ..base() },
            login: || password("jane", "jane-guess"),
            expect: Expect {
                outcome: Err("authentication-failed"),
                username_prefix: None,
                memberships: vec![],
                audit: ("authentication-failed", None),
                account_exists: false,
            },
        },
        Scenario {
            name: "directory: an empty password is refused before any bind",
            setup: Setup { directory: Some(json!({})), ..base() },
            login: || password("jane", ""),
            expect: Expect {
                outcome: Err("authentication-failed"),
                username_prefix: None,
                memberships: vec![],
                audit: ("authentication-failed", None),
                account_exists: false,
            },
        },
        Scenario {
            name: "hybrid: a local account's password works behind the directory",
            setup: Setup {
                directory: Some(json!({})),
                existing: Some((
                    "jane@acme.example",
                    AccountState::Active,
                    Some("correct horse"),
                    vec![("everyone", Admin)],
                )),
                ..base()
            },
            login: || password("jane@acme.example", "correct horse"),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("existing"),
                memberships: vec![("team", "everyone", "admin")],
                audit: ("success", None),
                account_exists: true,
            },
        },
        Scenario {
            name: "hybrid: the directory, first in order, links its person to the local account",
            setup: Setup {
                directory: Some(json!({})),
                existing: Some((
                    "jane@acme.example",
                    AccountState::Active,
                    Some("correct horse"),
                    vec![("everyone", Admin)],
                )),
                ..base()
            },
            login: || password("jane", "jane-directory-pw"),
            expect: Expect {
                outcome: Ok(()),
                username_prefix: Some("existing"),
                memberships: vec![("team", "everyone", "admin")],
                audit: ("success", None),
                account_exists: true,
            },
        },
    ]
}

/// A host over `store` with the test IdP, cheap password hashing, and the
/// scenario's organization, domain, plugins and binding.
pub(crate) async fn prepare(store: &Store, runtime: &Runtime, setup: &Setup) -> (Host, OrgId) {
    // The test directory listens on loopback.
    let auth = AuthServices::builder()
        .argon2(Argon2Params::INSECURE_FOR_TESTS)
        .allow_private_directories(setup.directory.is_some())
        .build();
    let auth = Arc::new(ok(auth, "auth services"));
    let org = ok(store.create_organization("acme").await, "organization");
    let mut teams = Vec::new();
    for name in ["engineering", "everyone", "sales"] {
        teams.push(ok(store.create_team(&org.id, name).await, "team"));
    }
    for name in ["developer", "admin"] {
        ok(store.create_role(&org.id, name).await, "role");
    }
    let domain = NewDomain {
        org: org.id.clone(),
        name: "acme".into(),
        jit: setup.jit,
        default_team: Some(teams[1].id.clone()),
        email_domains: vec!["acme.example".into()],
    };
    let domain = ok(store.create_domain(domain).await, "domain");
    ok(store.verify_email_domain(&domain.id, "acme.example", Verification::Operator).await, "verify claim");
    let oidc = json!({"issuer": ISSUER, "audience": AUDIENCE, "jwks": {"keys": [idp_key().jwk()]}});
    let idp = NewProvider { name: "okta".into(), kind: ProviderKind::Oidc, config: oidc.to_string() };
    let idp = ok(store.add_provider(&domain.id, idp).await, "oidc provider");
    let bound = match &setup.directory {
        Some(config) => {
            let ldap = NewProvider { name: "corp-ldap".into(), kind: ProviderKind::Ldap, config: config.to_string() };
            ok(store.add_provider(&domain.id, ldap).await, "ldap provider")
        }
        None => idp,
    };
    let pw = NewProvider { name: "password".into(), kind: ProviderKind::Password, config: "{}".into() };
    ok(store.add_provider(&domain.id, pw).await, "password provider");

    let mut hashes = [None, None];
    for (slot, name) in [setup.creator, setup.assigner].into_iter().enumerate() {
        if let Some(name) = name {
            let bytes = component(name);
            let plugin = ok(runtime.load(&bytes).await, name);
            let new = NewPlugin {
                bytes,
                world: plugin.info().world.to_string(),
                name: plugin.info().name.clone(),
                owner: org.id.clone(),
            };
            hashes[slot] = Some(ok(store.put_plugin(new).await, "plugin").hash);
        }
    }
    let (config, limits) = ok(provisio::engine::binding_settings(&setup.config, &setup.limits), "binding settings");
    let binding = Binding {
        domain: domain.id.clone(),
        provider: bound.id.clone(),
        creator: hashes[0].clone(),
        assigner: hashes[1].clone(),
        config,
        limits,
        failure_policy: setup.policy,
        sync_mode: setup.sync,
        canary: None,
        shadow: None,
    };
    ok(store.put_binding(&binding).await, "binding");

    if let Some((email, state, pass, memberships)) = &setup.existing {
        let hash = pass.map(|p| {
            let h = ok(auth.hasher().hash(p), "hash");
            PasswordHash::new(h.into_string()).unwrap_or_else(|| panic!("empty hash"))
        });
        let new = NewAccount {
            email: (*email).into(),
            username: "existing".into(),
            given_name: Some("Old".into()),
            family_name: None,
            password_hash: hash,
            attributes: vec![],
        };
        let account = ok(store.create_account(new).await, "existing account");
        ok(store.set_account_state(&account.id, *state).await, "state");
        for (team, source) in memberships {
            let team = teams.iter().find(|t| t.name == *team).unwrap_or_else(|| panic!("team {team}"));
            let m = provisio::store::Membership {
                account: account.id.clone(),
                org: org.id.clone(),
                target: MembershipTarget::Team(team.id.clone()),
                source: *source,
            };
            ok(store.add_membership(&m).await, "membership");
        }
    }
    if let Some((email, team)) = setup.invitation {
        let team =
            team.map(|t| teams.iter().find(|x| x.name == t).map(|x| x.id.clone()).unwrap_or_else(|| panic!("{t}")));
        ok(store.create_invitation(&org.id, email, team.as_ref()).await, "invitation");
    }
    let host = Host::builder().store(store.clone()).runtime(runtime.clone()).auth_services(auth).build().await;
    (ok(host, "host"), org.id)
}

/// Memberships as sorted (kind, name, source) rows.
pub(crate) fn membership_rows(success: &LoginSuccess) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = success
        .memberships
        .iter()
        .map(|m| {
            (m.membership.target.kind().as_str().to_owned(), m.name.clone(), m.membership.source.as_str().to_owned())
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn login_scenarios_on_every_backend() {
    let runtime = crate::runtime();
    let directory = crate::ldap::Directory::start();
    for (i, scenario) in scenarios().into_iter().enumerate() {
        let mut setup = scenario.setup.clone();
        setup.directory = setup.directory.map(|extra| directory.provider_config(&extra));
        for db in TestDatabase::all() {
            let label = format!("[{:?}] scenario {i}: {}", db.kind(), scenario.name);
            let store = db.open().await;
            let (host, _org) = prepare(&store, &runtime, &setup).await;
            let credential = (scenario.login)();
            let email = match &credential {
                // A directory login name is the local part of the user's mail.
                Credential::Password { email, .. } if !email.contains('@') => format!("{email}@acme.example"),
                Credential::Password { email, .. } => email.to_lowercase(),
                Credential::IdToken(_) => "jane@acme.example".to_owned(),
            };
            let result = host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await;
            match (&result, scenario.expect.outcome) {
                (Ok(success), Ok(())) => {
                    let expected: Vec<_> = scenario
                        .expect
                        .memberships
                        .iter()
                        .map(|(k, n, s)| ((*k).to_owned(), (*n).to_owned(), (*s).to_owned()))
                        .collect();
                    assert_eq!(membership_rows(success), expected, "{label}");
                    if let Some(prefix) = scenario.expect.username_prefix {
                        assert!(success.account.username.starts_with(prefix), "{label}: {}", success.account.username);
                    }
                    if success.principal.provider == "okta" {
                        assert_eq!(
                            success.account.given_name.as_deref(),
                            Some("Jane"),
                            "{label}: names follow the IdP"
                        );
                    }
                }
                (Err(error), Err(code)) => {
                    assert_eq!(error.code(), code, "{label}: {error:?}");
                    assert!(!error.public_message().is_empty());
                }
                (other, expected) => panic!("{label}: expected {expected:?}, got {other:?}"),
            }
            let account = ok(store.account_by_email(&email).await, "lookup");
            assert_eq!(account.is_some(), scenario.expect.account_exists, "{label}");
            if let (Some(account), Some(prefix)) = (&account, scenario.expect.username_prefix) {
                assert!(account.username.starts_with(prefix), "{label}: {}", account.username);
            }
            if !scenario.expect.account_exists {
                // Nothing but the audit event: no account, no membership, no link.
                let listed = ok(store.list_accounts(None, None, 100).await, "accounts");
                assert!(listed.is_empty(), "{label}: {listed:?}");
            }
            let events = ok(store.list_audit(&AuditFilter::default()).await, "audit");
            assert_eq!(events.len(), 1, "{label}: exactly one audit event: {events:?}");
            let event = &events[0].event;
            assert_eq!(event.outcome, scenario.expect.audit.0, "{label}: {event:?}");
            assert_eq!(event.rule.as_deref(), scenario.expect.audit.1, "{label}: {event:?}");
            assert!(!event.detail.contains("eyJ"), "{label}: a token leaked into the audit: {}", event.detail);
            assert!(!event.detail.contains("correct horse") && !event.detail.contains("battery"), "{label}");
            assert!(!event.detail.contains("directory-pw") && !event.detail.contains("service-secret"), "{label}");
            store.close().await;
            db.cleanup().await;
        }
    }
}

/// What a recording observer heard: (hook, outcome, limit, fell back).
type Heard = Vec<(&'static str, &'static str, Option<provisio::plugin::LimitKind>, bool)>;

#[derive(Default)]
struct Recorder(std::sync::Mutex<Heard>);

impl provisio::engine::LoginObserver for Recorder {
    fn plugin_call(&self, call: &provisio::engine::PluginCall<'_>) {
        assert_eq!(call.plugin.as_str().len(), 64, "the plugin is named by its content hash");
        let mut heard = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        heard.push((call.hook.as_str(), call.outcome(), call.limit(), call.fell_back));
    }
}

/// An observer hears of every plugin call, whatever the login's outcome:
/// a limit hit that fails the login, one the built-in provider covers,
/// and a decision; the built-in providers are no plugin calls.
#[tokio::test]
async fn an_observer_hears_every_plugin_call() {
    use provisio::plugin::LimitKind;
    let runtime = crate::runtime();
    let limits = json!({"fuel": 1_000_000, "wall_time": 5000});
    let fuel = Some(LimitKind::Fuel);
    let cases: [(Setup, Option<&str>, Heard); 5] = [
        (
            Setup { creator: Some(plugins::HOSTILE_LOOP), limits: limits.clone(), ..Setup::default() },
            Some("provisioning-failed"),
            vec![("create", "limit-exceeded", fuel, false)],
        ),
        (
            Setup {
                creator: Some(plugins::HOSTILE_LOOP),
                limits: limits.clone(),
                policy: FailurePolicy::FallBack,
                ..Setup::default()
            },
            None,
            vec![("create", "limit-exceeded", fuel, true)],
        ),
        (
            Setup {
                creator: Some(plugins::DEFAULT_CREATOR),
                assigner: Some(plugins::HOSTILE_LOOP),
                limits,
                ..Setup::default()
            },
            Some("provisioning-failed"),
            vec![("create", "decision", None, false), ("assign", "limit-exceeded", fuel, false)],
        ),
        (
            Setup { creator: Some(plugins::HOSTILE_PANIC), ..Setup::default() },
            Some("provisioning-failed"),
            vec![("create", "trap", None, false)],
        ),
        (Setup::default(), None, vec![]),
    ];
    for (setup, code, expected) in cases {
        let db = TestDatabase::sqlite();
        let store = db.open().await;
        let (host, _) = prepare(&store, &runtime, &setup).await;
        let recorder = Arc::new(Recorder::default());
        let host = host.with_observer(recorder.clone());
        let credential = id_token("sub-jane", "jane@acme.example", true, &["engineering"]);
        let result = host.login(LoginRequest { domain: Some("acme".into()), credential, source: None }).await;
        assert_eq!(
            result.as_ref().err().map(|e| e.code()),
            code,
            "{:?} / {:?}: {result:?}",
            setup.creator,
            setup.assigner
        );
        let heard = std::mem::take(&mut *recorder.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        assert_eq!(heard, expected, "{:?} / {:?}", setup.creator, setup.assigner);
        store.close().await;
    }
}
