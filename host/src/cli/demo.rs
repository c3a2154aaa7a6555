//! `provisio serve --demo` and `provisio demo token`: a demo organization
//! with a password account and a local identity provider whose ID tokens
//! the example plugins provision just in time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use provisio::auth::hash_password;
use provisio::http::{AppState, SessionSigner};
use provisio::plugin::BindingConfig;
use provisio::store::{
    Binding, FailurePolicy, Membership, MembershipSource, MembershipTarget, NewAccount, NewDomain, NewProvider, OrgId,
    PasswordHash, ProviderKind, SyncMode, Verification,
};
use serde_json::json;

const ORG: &str = "demo";
const DOMAIN: &str = "demo";
const EMAIL_DOMAIN: &str = "demo.example";
const IDP: &str = "demo-idp";
const IDP_ISSUER: &str = "https://idp.demo.example";
const IDP_AUDIENCE: &str = "provisio-demo";
const IDP_KEY_FILE: &str = "demo-idp-key.pem";
const ALICE: &str = "alice@demo.example";
const ALICE_PASSWORD: &str = "alice-demo-password";

/// What the demo seeded, for its instructions.
pub struct Seeded {
    org: OrgId,
    org_token: String,
    domain: String,
    idp: String,
}

/// The demo identity provider: an Ed25519 key kept in the data directory.
fn demo_idp(data_dir: &Path) -> anyhow::Result<SessionSigner> {
    let path = data_dir.join(IDP_KEY_FILE);
    Ok(SessionSigner::new(Some(&path), IDP_ISSUER, IDP_AUDIENCE, Duration::from_secs(600))?)
}

/// Seeds the demo once (later starts find it) and issues a fresh API token
/// for its organization.
pub async fn seed(state: &AppState, data_dir: &Path, plugins_dir: &Path) -> anyhow::Result<Seeded> {
    let host = state.host();
    let store = host.store();
    let org = match store.organization_by_name(ORG).await? {
        Some(org) => org,
        None => {
            let org = store.create_organization(ORG).await?;
            let idp = demo_idp(data_dir)?;
            let mut teams = Vec::new();
            for name in ["engineering", "sales", "everyone"] {
                teams.push(store.create_team(&org.id, name).await?);
            }
            for name in ["developer", "admin"] {
                store.create_role(&org.id, name).await?;
            }
            let domain = store
                .create_domain(NewDomain {
                    org: org.id.clone(),
                    name: DOMAIN.into(),
                    jit: true,
                    default_team: Some(teams[2].id.clone()),
                    email_domains: vec![EMAIL_DOMAIN.into()],
                })
                .await?;
            // The operator's approval: the demo domain vouches for its own
            // email domain (a real one proves it by DNS, or asks the operator).
            store.verify_email_domain(&domain.id, EMAIL_DOMAIN, Verification::Operator).await?;
            let password = NewProvider { name: "password".into(), kind: ProviderKind::Password, config: "{}".into() };
            store.add_provider(&domain.id, password).await?;
            let oidc = json!({"issuer": IDP_ISSUER, "audience": IDP_AUDIENCE, "jwks": idp.jwks()});
            let oidc = NewProvider { name: IDP.into(), kind: ProviderKind::Oidc, config: oidc.to_string() };
            let oidc = store.add_provider(&domain.id, oidc).await?;

            let hash = PasswordHash::new(hash_password(ALICE_PASSWORD)?);
            let alice = NewAccount {
                email: ALICE.into(),
                username: "alice".into(),
                given_name: Some("Alice".into()),
                family_name: Some("Admin".into()),
                password_hash: hash,
                attributes: vec![],
            };
            let alice = store.create_account(alice).await?;
            for target in [MembershipTarget::Organization, MembershipTarget::Team(teams[0].id.clone())] {
                let m = Membership {
                    account: alice.id.clone(),
                    org: org.id.clone(),
                    target,
                    source: MembershipSource::Admin,
                };
                store.add_membership(&m).await?;
            }

            let mut hashes = Vec::new();
            for name in ["default-creator", "group-mapper"] {
                let path = plugins_dir.join(format!("{name}.wasm"));
                let bytes = std::fs::read(&path).with_context(|| {
                    format!("cannot read {}: build the plugins with scripts/build-plugins", path.display())
                })?;
                hashes.push(host.upload_plugin(bytes, &org.id).await?.record.hash);
            }
            let config = json!({
                "digits": 4,
                "groups": {"Engineering": "team:engineering, role:developer", "Sales": "team:sales"},
                "default-team": "everyone",
            });
            host.bind(&Binding {
                domain: domain.id.clone(),
                provider: oidc.id,
                creator: Some(hashes[0].clone()),
                assigner: Some(hashes[1].clone()),
                config: BindingConfig::from_json(&config)?,
                limits: None,
                failure_policy: FailurePolicy::FailClosed,
                sync_mode: SyncMode::EveryLogin,
                canary: None,
                shadow: None,
            })
            .await?;
            org
        }
    };
    let issued = state.issue_api_token(&org.id, "demo").await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let org_token = issued.token.expose().to_owned();
    let domain = store.domain_by_name(DOMAIN).await?.context("the demo domain is missing")?;
    let idp = domain.providers.iter().find(|p| p.name == IDP).context("the demo identity provider is missing")?;
    Ok(Seeded { org: org.id, org_token, domain: domain.id.as_str().to_owned(), idp: idp.id.as_str().to_owned() })
}

/// The copy-paste tour printed at start.
pub fn instructions(seeded: &Seeded, address: SocketAddr, data_dir: &Path, operator_token: &str) -> String {
    let base = format!("http://{address}");
    let dir =
        if data_dir == Path::new(".provisio") { String::new() } else { format!(" --data-dir {}", data_dir.display()) };
    let org = seeded.org.as_str();
    let token = &seeded.org_token;
    let (domain, idp) = (&seeded.domain, &seeded.idp);
    format!(
        r#"
Provisio demo: organization "{ORG}", domain "{DOMAIN}" ({EMAIL_DOMAIN}) with a password provider and a
local identity provider "{IDP}" bound to the example plugins default-creator and group-mapper.

1. A password login (an existing account):
   curl -s {base}/v1/login -H 'content-type: application/json' \
     -d '{{"email": "{ALICE}", "password": "{ALICE_PASSWORD}"}}'

2. A first login through the identity provider provisions Bob just in time:
   TOKEN=$(./target/debug/provisio demo token --email bob@{EMAIL_DOMAIN} --name "Bob Builder" --groups Engineering{dir})
   curl -s {base}/v1/login -H 'content-type: application/json' -d "{{\"domain\": \"{DOMAIN}\", \"id_token\": \"$TOKEN\"}}"

3. What happened, in the audit log (with the organization's API token, issued at this start):
   curl -s '{base}/v1/orgs/{org}/audit?limit=5' -H 'authorization: Bearer {token}'

4. Verify a session token offline with the server's keys:
   curl -s {base}/.well-known/jwks.json

5. Upload a plugin of your own and bind it to the identity provider (the next login uses it):
   export PROVISIO_SERVER={base} PROVISIO_ORG={org} PROVISIO_TOKEN={token}
   ./target/debug/provisio admin upload target/plugins/domain-allowlist.wasm
   ./target/debug/provisio admin bind --domain {domain} --provider {idp} --creator <hash printed above>
   Or first try it on a recorded principal, writing nothing (the console's playground does the same):
   printf '{{"component": "%s", "principal": %s}}' "$(base64 -w0 target/plugins/domain-allowlist.wasm)" \
     "$(cat examples/principals/okta.json)" | curl -s {base}/v1/orgs/{org}/playground -d @- \
     -H 'authorization: Bearer {token}' -H 'content-type: application/json'

6. Provision people ahead of their first login, as an identity provider's SCIM client does:
   SCIM_TOKEN=$(./target/debug/provisio admin issue-scim-token --domain {domain} --name okta | sed -n 's/.*"scim_token": "\(.*\)".*/\1/p')
   curl -s {base}/scim/v2/{domain}/Users -H "authorization: Bearer $SCIM_TOKEN" -H 'content-type: application/scim+json' \
     -d '{{"userName": "dana@{EMAIL_DOMAIN}", "name": {{"givenName": "Dana"}}, "emails": [{{"value": "dana@{EMAIL_DOMAIN}", "primary": true}}]}}'
   curl -s '{base}/scim/v2/{domain}/Users?filter=userName%20sw%20%22d%22' -H "authorization: Bearer $SCIM_TOKEN"

Console:   {base}/console  (sign in with the API token below)
Admin API: organization token {token}
           operator token     {operator_token}
Metrics:   curl -s {base}/metrics
"#
    )
}

/// Arguments of `provisio demo token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The email the identity provider vouches for.
    #[arg(long)]
    email: String,
    /// Full name, split at the first space into given and family name.
    #[arg(long)]
    name: Option<String>,
    /// IdP groups, comma-separated.
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Send `email_verified: false`.
    #[arg(long)]
    unverified: bool,
    /// The demo server's data directory (where its identity provider key is).
    #[arg(long, default_value = ".provisio")]
    data_dir: PathBuf,
}

/// Prints an ID token from the demo identity provider.
pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let path = args.data_dir.join(IDP_KEY_FILE);
    anyhow::ensure!(
        path.exists(),
        "no demo identity provider key at {}: start `provisio serve --demo` first",
        path.display()
    );
    let idp = demo_idp(&args.data_dir)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let (given, family) = match args.name.as_deref().map(|n| n.split_once(' ').unwrap_or((n, ""))) {
        Some((g, f)) => (Some(g.to_owned()), (!f.is_empty()).then(|| f.to_owned())),
        None => (None, None),
    };
    let claims = json!({
        "iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "sub": format!("demo|{}", args.email.to_lowercase()),
        "iat": now, "exp": now + 600, "email": args.email, "email_verified": !args.unverified,
        "given_name": given, "family_name": family, "groups": args.groups,
    });
    println!("{}", idp.sign_any(&claims)?);
    Ok(())
}
