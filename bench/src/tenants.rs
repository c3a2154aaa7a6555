//! Tenants set up through the admin API as their admins would.

use serde_json::{Value, json};

use crate::client::Client;
use crate::{Method, StatusCode};

/// default team).
pub const TEAMS: [&str; 3] = ["everyone", "engineering", "sales"];
/// The roles every benchmark organization has.
pub const ROLES: [&str; 1] = ["developer"];

/// The binding configuration of `provisio serve --demo`: four random digits
/// after usernames, two group mappings, a default team.
pub fn demo_config() -> Value {
    json!({
        "digits": 4,
        "groups": {"Engineering": "team:engineering, role:developer", "Sales": "team:sales"},
        "default-team": "everyone",
    })
}

/// What [`setup_tenant`] makes: an organization, its teams and roles, a JIT
/// domain claiming `email_domain` with one provider (OIDC unless said
/// otherwise), and that provider's binding.
#[derive(Debug, Clone)]
pub struct TenantSpec<'a> {
    /// The organization's name.
    pub org: &'a str,
    /// The domain's name (what a login's `domain` says).
    pub domain: &'a str,
    /// The email domain the domain claims.
    pub email_domain: &'a str,
    /// The provider's kind: `oidc` (the default) or `ldap`.
    pub provider_kind: &'a str,
    /// The provider's configuration (see [`IdP::provider_config`],
    /// [`Directory::provider_config`]).
    ///
    /// [`IdP::provider_config`]: crate::IdP::provider_config
    /// [`Directory::provider_config`]: crate::Directory::provider_config
    pub provider_config: Value,
    /// The identity creator's bytes, uploaded and bound; `None` binds the built-in one.
    pub creator: Option<&'a [u8]>,
    /// The assignment provider's bytes, uploaded and bound; `None` binds the built-in one.
    pub assigner: Option<&'a [u8]>,
    /// The binding's configuration.
    pub config: Value,
    /// The binding's sync mode: `every-login` (as the demo) or `on-create`.
    pub sync_mode: &'a str,
}

impl<'a> TenantSpec<'a> {
    /// A tenant with the built-in providers, the demo's configuration and
    /// `every-login` sync, as the demo binds its identity provider.
    pub fn new(org: &'a str, domain: &'a str, email_domain: &'a str, provider_config: Value) -> Self {
        Self {
            org,
            domain,
            email_domain,
            provider_kind: "oidc",
            provider_config,
            creator: None,
            assigner: None,
            config: demo_config(),
            sync_mode: "every-login",
        }
    }

    /// The same with a provider of another kind (`ldap`).
    pub fn with_provider(mut self, kind: &'a str, config: Value) -> Self {
        self.provider_kind = kind;
        self.provider_config = config;
        self
    }

    /// The same with these plugins bound.
    pub fn with_plugins(mut self, creator: Option<&'a [u8]>, assigner: Option<&'a [u8]>) -> Self {
        self.creator = creator;
        self.assigner = assigner;
        self
    }
}

/// What [`setup_tenant`] made.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The organization's id.
    pub org: String,
    /// The organization's API token.
    pub token: String,
    /// The domain's name.
    pub domain: String,
    /// The domain's id.
    pub domain_id: String,
    /// The provider's id.
    pub provider: String,
    /// The bound identity creator's hash, if a plugin.
    pub creator: Option<String>,
    /// The bound assignment provider's hash, if a plugin.
    pub assigner: Option<String>,
}

fn id_of(v: &Value, doing: &str) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("{doing}: no id in {v}")).to_owned()
}

/// Sets up a tenant over the admin API exactly as a user would: the
/// organization (with the operator token), its [`TEAMS`] and [`ROLES`], the
/// domain, the provider, the plugin uploads and the binding (always
/// written, with no plugin named for the built-in providers). Can be called
/// any number of times on one server with different names.
pub async fn setup_tenant(client: &Client, operator_token: &str, spec: &TenantSpec<'_>) -> Tenant {
    let post = |path: String, body: Value, doing: &'static str| async move {
        client.call(Method::POST, &path, Some(operator_token), Some(&body)).await.expect(StatusCode::CREATED, doing)
    };
    let created = post("/v1/organizations".into(), json!({"name": spec.org}), "create the organization").await;
    let org = created["organization"]["id"].as_str().expect("organization id").to_owned();
    let token = created["api_token"].as_str().expect("organization API token").to_owned();
    // From here on, as the organization (its own API token).
    let t = Some(token.as_str());
    let post = |path: String, body: Value, doing: &'static str| async move {
        client.call(Method::POST, &path, t, Some(&body)).await.expect(StatusCode::CREATED, doing)
    };

    let mut default_team = String::new();
    for name in TEAMS {
        let team = post(format!("/v1/orgs/{org}/teams"), json!({"name": name}), "create a team").await;
        if name == TEAMS[0] {
            default_team = id_of(&team, "team");
        }
    }
    for name in ROLES {
        post(format!("/v1/orgs/{org}/roles"), json!({"name": name}), "create a role").await;
    }
    let domain = json!({"name": spec.domain, "jit": true, "default_team": default_team,
        "email_domains": [spec.email_domain]});
    let domain = post(format!("/v1/orgs/{org}/domains"), domain, "create the domain").await;
    let domain_id = id_of(&domain, "domain");
    // The operator approves the domain's claim: only verified email domains count.
    let approve = format!("/v1/orgs/{org}/domains/{domain_id}/email-domains/{}/approve", spec.email_domain);
    client.call(Method::POST, &approve, Some(operator_token), None).await.expect(StatusCode::OK, "approve the claim");
    let provider = json!({"name": "idp", "kind": spec.provider_kind, "config": spec.provider_config});
    let provider = post(format!("/v1/orgs/{org}/domains/{domain_id}/providers"), provider, "add the provider").await;
    let provider = id_of(&provider, "provider");

    let mut hashes = [None, None];
    for (slot, bytes) in [spec.creator, spec.assigner].into_iter().enumerate() {
        if let Some(bytes) = bytes {
            let uploaded = client.upload(&org, &token, bytes).await.expect(StatusCode::CREATED, "upload a plugin");
            hashes[slot] = Some(uploaded["plugin"]["hash"].as_str().expect("plugin hash").to_owned());
        }
    }
    let [creator, assigner] = hashes;
    let binding = json!({"creator": creator, "assigner": assigner, "config": spec.config,
        "sync_mode": spec.sync_mode, "failure_policy": "fail-closed"});
    let path = format!("/v1/orgs/{org}/domains/{domain_id}/bindings/{provider}");
    client.call(Method::PUT, &path, t, Some(&binding)).await.expect(StatusCode::OK, "bind");
    Tenant { org, token, domain: spec.domain.to_owned(), domain_id, provider, creator, assigner }
}
