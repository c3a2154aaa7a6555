//! The identity store, on every backend: SQLite always, PostgreSQL when
//! `PROVISIO_TEST_DATABASE_URL` is set (and always under CI).

use provisio::store::{
    Account, AccountState, AuditFilter, Binding, DatabaseUrl, DomainId, FailurePolicy, InvitationState, Membership,
    MembershipSource, MembershipTarget, NewAccount, NewAuditEvent, NewDomain, NewPlugin, NewProvider, OrgId,
    PasswordHash, ProviderId, ProviderKind, Store, StoreError, StoreOptions, SyncMode, Unique, Verification,
};

use anyhow::{Context as _, Result, bail};
use provisio::plugin::BindingConfig;

use crate::{TestDatabase, each_store};

fn new_account(email: &str, username: &str) -> NewAccount {
    NewAccount {
        email: email.into(),
        username: username.into(),
        given_name: Some("Jane".into()),
        family_name: Some("Doe".into()),
        password_hash: None,
        attributes: vec![("department".into(), "R&D".into())],
    }
}

/// An organization with a team, a role and a domain with one OIDC provider.
struct Fixture {
    org: OrgId,
    domain: DomainId,
    provider: ProviderId,
}

async fn fixture(store: &Store, name: &str) -> Result<Fixture> {
    let org = store.create_organization(name).await.context("organization")?;
    let team = store.create_team(&org.id, "engineering").await.context("team")?;
    store.create_role(&org.id, "admin").await.context("role")?;
    let domain = NewDomain {
        org: org.id.clone(),
        name: format!("{name}-sso"),
        jit: true,
        default_team: Some(team.id),
        email_domains: vec![format!("{name}.example")],
    };
    let domain = store.create_domain(domain).await.context("domain")?;
    let provider = NewProvider { name: "idp".into(), kind: ProviderKind::Oidc, config: "{}".into() };
    let provider = store.add_provider(&domain.id, provider).await.context("provider")?;
    Ok(Fixture { org: org.id, domain: domain.id, provider: provider.id })
}

fn is_conflict(result: &Result<impl std::fmt::Debug, StoreError>, what: &str) -> bool {
    matches!(result, Err(StoreError::Conflict { what: w }) if w.as_str() == what)
}

#[tokio::test]
async fn migrations_apply_once_and_survive_reopening() -> Result<()> {
    for db in TestDatabase::all() {
        let first = db.open().await;
        let org = first.create_organization("acme").await.context("organization")?;
        first.close().await;
        // Reopening applies nothing new and finds the data.
        for _ in 0..2 {
            let again = db.open().await;
            assert_eq!(again.organization(&org.id).await.context("lookup")?, Some(org.clone()));
            again.close().await;
        }
        let store = db.open().await;
        assert_eq!(store.backend(), db.kind());
        store.close().await;
        db.cleanup().await;
    }
    Ok(())
}

#[tokio::test]
async fn unusable_urls_and_options_are_refused() -> Result<()> {
    let refused = Store::open(&DatabaseUrl::new("mysql://root@127.0.0.1/test")).await;
    assert!(matches!(refused, Err(StoreError::Config(_))), "{refused:?}");
    let dir = tempfile::tempdir()?;
    let url = DatabaseUrl::sqlite_file(&dir.path().join("x.db"));
    let options = StoreOptions { schema: Some("nope".into()), ..Default::default() };
    let refused = Store::open_with(&url, options).await;
    assert!(matches!(refused, Err(StoreError::Config(_))), "{refused:?}");
    Ok(())
}

#[tokio::test]
async fn email_is_unique_case_insensitively() -> Result<()> {
    each_store(async |store| {
        let mut tx = store.begin().await.context("begin")?;
        let jane = tx.insert_account(new_account("Jane@X.com", "jane")).await.context("insert")?;
        assert_eq!(jane.email, "jane@x.com");
        let again = tx.insert_account(new_account("jane@x.com", "jane2")).await;
        assert!(is_conflict(&again, "account email"), "{:?}: {again:?}", store.backend());
        tx.commit().await.context("commit")?;

        let found = store.account_by_email("JANE@x.COM").await.context("lookup")?;
        assert_eq!(found.as_ref().map(|a| &a.id), Some(&jane.id));
        assert_eq!(found.map(|a| a.attributes), Some(vec![("department".into(), "R&D".into())]));
        let mut tx = store.begin().await.context("begin")?;
        let late = tx.insert_account(new_account(" JANE@X.COM ", "jane3")).await;
        assert!(is_conflict(&late, "account email"), "{late:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn username_is_unique_case_insensitively() -> Result<()> {
    each_store(async |store| {
        store.create_account(new_account("a@x.com", "jsmith")).await.context("first")?;
        let same = store.create_account(new_account("b@x.com", "jsmith")).await;
        assert!(is_conflict(&same, "account username"), "{same:?}");
        let cased = store.create_account(new_account("c@x.com", "JSmith")).await;
        assert!(is_conflict(&cased, "account username"), "{cased:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_transaction_stays_usable_after_a_conflict() -> Result<()> {
    each_store(async |store| {
        store.create_account(new_account("taken@x.com", "taken")).await.context("first")?;
        let mut tx = store.begin().await.context("begin")?;
        let clash = tx.insert_account(new_account("new@x.com", "taken")).await;
        assert!(is_conflict(&clash, "account username"), "{clash:?}");
        // The login picks another username and goes on in the same transaction.
        let account = tx.insert_account(new_account("new@x.com", "taken1234")).await.context("retry")?;
        tx.commit().await.context("commit")?;
        assert_eq!(store.account(&account.id).await.context("lookup")?.map(|a| a.username), Some("taken1234".into()));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn links_are_unique_per_provider_and_subject() -> Result<()> {
    each_store(async |store| {
        let f = fixture(&store, "acme").await?;
        let other = fixture(&store, "other").await?;
        let mut tx = store.begin().await.context("begin")?;
        let a = tx.insert_account(new_account("a@acme.example", "a")).await.context("a")?;
        let b = tx.insert_account(new_account("b@acme.example", "b")).await.context("b")?;
        tx.insert_link(&f.provider, "sub-1", &a.id).await.context("link")?;
        let twice = tx.insert_link(&f.provider, "sub-1", &b.id).await;
        assert!(is_conflict(&twice, "link"), "{twice:?}");
        // The same subject at another provider is another identity.
        tx.insert_link(&other.provider, "sub-1", &b.id).await.context("other provider")?;
        let missing = tx.insert_link(&ProviderId::new("nope"), "sub-1", &b.id).await;
        assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
        tx.commit().await.context("commit")?;
        let linked = store.account_by_link(&f.provider, "sub-1").await.context("lookup")?;
        assert_eq!(linked.map(|a| a.id), Some(a.id));
        assert_eq!(store.account_by_link(&other.provider, "sub-1").await.context("lookup")?.map(|a| a.id), Some(b.id));
        assert_eq!(store.account_by_link(&f.provider, "sub-2").await.context("lookup")?, None);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_dropped_transaction_leaves_nothing() -> Result<()> {
    each_store(async |store| {
        let f = fixture(&store, "acme").await?;
        {
            let mut tx = store.begin().await.context("begin")?;
            let a = tx.insert_account(new_account("gone@acme.example", "gone")).await.context("insert")?;
            tx.insert_link(&f.provider, "sub", &a.id).await.context("link")?;
            let member = Membership {
                account: a.id.clone(),
                org: f.org.clone(),
                target: MembershipTarget::Organization,
                source: MembershipSource::Idp,
            };
            tx.add_membership(&member).await.context("membership")?;
            tx.append_audit(&event(&f, "success", 1)).await.context("audit")?;
            // dropped here without commit
        }
        assert_eq!(store.account_by_email("gone@acme.example").await.context("lookup")?, None);
        assert_eq!(store.account_by_link(&f.provider, "sub").await.context("lookup")?, None);
        assert_eq!(store.list_accounts(None, None, 100).await.context("list")?.len(), 0);
        assert_eq!(store.list_audit(&AuditFilter::default()).await.context("audit")?.len(), 0);
        // The next transaction gets its turn and sees a clean slate.
        let mut tx = store.begin().await.context("begin again")?;
        assert_eq!(tx.account_by_email("gone@acme.example").await.context("lookup")?, None);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn memberships_are_idempotent_and_keep_their_source() -> Result<()> {
    each_store(async |store| {
        let f = fixture(&store, "acme").await?;
        let other = fixture(&store, "other").await?;
        let team = store.team_by_name(&f.org, "engineering").await.context("team")?.context("no team")?;
        let mut tx = store.begin().await.context("begin")?;
        let role = tx.role_by_name(&f.org, "admin").await.context("role")?.context("no role")?;
        assert_eq!(tx.team_by_name(&f.org, "nope").await.context("team")?, None);
        let a = tx.insert_account(new_account("m@acme.example", "m")).await.context("account")?;
        let m =
            |target: MembershipTarget, source| Membership { account: a.id.clone(), org: f.org.clone(), target, source };
        let idp_team = m(MembershipTarget::Team(team.id.clone()), MembershipSource::Idp);
        let admin_team = m(MembershipTarget::Team(team.id.clone()), MembershipSource::Admin);
        for (membership, first) in [
            (m(MembershipTarget::Organization, MembershipSource::Idp), true),
            (idp_team.clone(), true),
            (idp_team.clone(), false),
            (m(MembershipTarget::Role(role.id.clone()), MembershipSource::Idp), true),
            (admin_team.clone(), true),
        ] {
            assert_eq!(tx.add_membership(&membership).await.context("add")?, first, "{membership:?}");
        }
        let names: Vec<(String, MembershipSource)> = tx
            .memberships(&a.id, &f.org)
            .await
            .context("list")?
            .into_iter()
            .map(|n| (n.name, n.membership.source))
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
        for expected in [
            ("acme", MembershipSource::Idp),
            ("engineering", MembershipSource::Admin),
            ("admin", MembershipSource::Idp),
        ] {
            assert!(names.contains(&(expected.0.into(), expected.1)), "{expected:?} in {names:?}");
        }
        // A sync removes the IdP's team membership; the admin's stays.
        assert!(tx.remove_membership(&idp_team).await.context("remove")?);
        assert!(!tx.remove_membership(&idp_team).await.context("remove again")?);
        let left = tx.memberships(&a.id, &f.org).await.context("list")?;
        assert!(left.iter().any(|n| n.membership == admin_team));
        assert!(!left.iter().any(|n| n.membership == idp_team));
        // Teams of another organization cannot be given.
        let foreign = tx.team_by_name(&other.org, "engineering").await.context("team")?.context("no team")?;
        let wrong = tx.add_membership(&m(MembershipTarget::Team(foreign.id), MembershipSource::Idp)).await;
        assert!(matches!(wrong, Err(StoreError::NotFound { .. })), "{wrong:?}");
        tx.commit().await.context("commit")?;
        assert_eq!(store.memberships(&a.id, None).await.context("list")?.len(), 3);
        assert_eq!(store.list_accounts(Some(&f.org), None, 10).await.context("members")?.len(), 1);
        assert_eq!(store.list_accounts(Some(&other.org), None, 10).await.context("members")?.len(), 0);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn domains_resolve_by_email_domain_and_keep_provider_order() -> Result<()> {
    each_store(async |store| {
        let f = fixture(&store, "acme").await?;
        store.add_email_domain(&f.domain, "Acme.COM").await.context("claim")?;
        // A pending claim counts for nothing.
        assert_eq!(store.domain_by_email_domain("acme.com").await.context("pending")?, None);
        let other = fixture(&store, "other").await?;
        // While pending, another domain may claim it too (a claim is no squat).
        store.add_email_domain(&other.domain, "acme.com").await.context("second pending claim")?;
        store.verify_email_domain(&f.domain, "ACME.com", Verification::Operator).await.context("verify")?;
        let by_email = store.domain_by_email_domain("ACME.com").await.context("by email")?.context("none")?;
        assert_eq!(by_email.id, f.domain);
        assert_eq!(by_email.email_domains, vec!["acme.com".to_owned(), "acme.example".to_owned()]);
        assert_eq!(by_email.verified_email_domains, vec!["acme.com".to_owned()]);
        assert!(by_email.jit);
        assert_eq!(store.domain_by_name("acme-sso").await.context("by name")?.map(|d| d.id), Some(f.domain.clone()));
        assert_eq!(store.domain_by_email_domain("unknown.example").await.context("unknown")?, None);

        // A verified email domain belongs to one domain platform-wide.
        let second = store.verify_email_domain(&other.domain, "acme.com", Verification::Dns).await;
        assert!(is_conflict(&second, "verified email domain"), "{second:?}");
        let taken = store.add_email_domain(&other.domain, "acme.com").await;
        assert!(is_conflict(&taken, "verified email domain"), "{taken:?}");
        let again = store.add_email_domain(&f.domain, "acme.example").await;
        assert!(is_conflict(&again, "email domain claim"), "{again:?}");
        // Both spellings of an internationalized domain are one.
        store.add_email_domain(&f.domain, "bücher.example").await.context("idn claim")?;
        let twin = store.add_email_domain(&f.domain, "xn--bcher-kva.example").await;
        assert!(is_conflict(&twin, "email domain claim"), "{twin:?}");
        let dup = store.create_domain(NewDomain {
            org: other.org.clone(),
            name: "acme-sso".into(),
            jit: false,
            default_team: None,
            email_domains: vec![],
        });
        assert!(is_conflict(&dup.await, "domain name"));
        // The default team must be the organization's own.
        let foreign_team = store.team_by_name(&f.org, "engineering").await.context("team")?.map(|t| t.id);
        let wrong = store.update_domain(&other.domain, false, foreign_team.as_ref()).await;
        assert!(matches!(wrong, Err(StoreError::NotFound { .. })), "{wrong:?}");

        let password = NewProvider { name: "password".into(), kind: ProviderKind::Password, config: "{}".into() };
        let password = store.add_provider(&f.domain, password).await.context("second provider")?;
        let names =
            |d: Option<provisio::store::Domain>| d.map(|d| d.providers.into_iter().map(|p| p.name).collect::<Vec<_>>());
        assert_eq!(names(store.domain(&f.domain).await.context("get")?), Some(vec!["idp".into(), "password".into()]));
        store.set_provider_order(&f.domain, &[password.id.clone(), f.provider.clone()]).await.context("reorder")?;
        assert_eq!(names(store.domain(&f.domain).await.context("get")?), Some(vec!["password".into(), "idp".into()]));
        let partial = store.set_provider_order(&f.domain, &[password.id]).await;
        assert!(matches!(partial, Err(StoreError::Invalid { .. })), "{partial:?}");
        let dup = store
            .add_provider(&f.domain, NewProvider { name: "idp".into(), kind: ProviderKind::Oidc, config: "{}".into() });
        assert!(is_conflict(&dup.await, "provider name"));
        assert_eq!(store.list_domains(&f.org).await.context("list")?.len(), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn plugins_are_named_by_content_and_bindings_replace() -> Result<()> {
    each_store(async |store| {
        let f = fixture(&store, "acme").await?;
        let upload = |bytes: &[u8]| NewPlugin {
            bytes: bytes.to_vec(),
            world: "identity-creator-plugin".into(),
            name: "creator".into(),
            owner: f.org.clone(),
        };
        let first = store.put_plugin(upload(b"\0asm one")).await.context("put")?;
        assert_eq!(first.hash, provisio::plugin::PluginHash::of(b"\0asm one"));
        assert_eq!(store.put_plugin(upload(b"\0asm one")).await.context("put again")?, first);
        let second = store.put_plugin(upload(b"\0asm two")).await.context("put another")?;
        assert_eq!(store.plugin_bytes(&first.hash).await.context("bytes")?, Some(b"\0asm one".to_vec()));
        assert_eq!(store.list_plugins().await.context("list")?.len(), 2);

        let mut binding = Binding {
            domain: f.domain.clone(),
            provider: f.provider.clone(),
            creator: Some(first.hash.clone()),
            assigner: None,
            config: BindingConfig::from_json(&serde_json::json!({"digits": "4"}))?,
            limits: None,
            failure_policy: FailurePolicy::FailClosed,
            sync_mode: SyncMode::OnCreate,
            canary: None,
            shadow: None,
        };
        assert_eq!(store.binding(&f.domain, &f.provider).await.context("none yet")?, None);
        store.put_binding(&binding).await.context("bind")?;
        assert_eq!(store.binding(&f.domain, &f.provider).await.context("get")?, Some(binding.clone()));
        // Rollback is a re-bind.
        binding.creator = Some(second.hash);
        binding.failure_policy = FailurePolicy::FallBack;
        binding.sync_mode = SyncMode::EveryLogin;
        store.put_binding(&binding).await.context("rebind")?;
        assert_eq!(store.binding(&f.domain, &f.provider).await.context("get")?, Some(binding.clone()));
        assert_eq!(store.list_bindings(&f.domain).await.context("list")?, vec![binding.clone()]);

        let unknown = Binding { creator: Some(provisio::plugin::PluginHash::new("0".repeat(64))), ..binding.clone() };
        assert!(matches!(store.put_binding(&unknown).await, Err(StoreError::NotFound { .. })));
        let other = fixture(&store, "other").await?;
        let foreign = Binding { provider: other.provider, ..binding };
        assert!(matches!(store.put_binding(&foreign).await, Err(StoreError::NotFound { .. })));
        assert!(store.remove_binding(&f.domain, &f.provider).await.context("unbind")?);
        Ok(())
    })
    .await
}

fn event(f: &Fixture, outcome: &str, at: i64) -> NewAuditEvent {
    NewAuditEvent {
        at,
        org: Some(f.org.clone()),
        domain: Some(f.domain.clone()),
        provider: Some("idp".into()),
        account: None,
        outcome: outcome.into(),
        rule: (outcome != "success").then(|| "creator.email".into()),
        detail: r#"{"fuel":1000}"#.into(),
    }
}

#[tokio::test]
async fn audit_events_are_listed_with_filters() -> Result<()> {
    each_store(async |store| {
        let a = fixture(&store, "acme").await?;
        let b = fixture(&store, "other").await?;
        for (f, outcome, at) in [
            (&a, "success", 1000),
            (&a, "denied", 2000),
            (&b, "success", 3000),
            (&a, "success", 4000),
            (&b, "denied", 5000),
        ] {
            store.append_audit(&event(f, outcome, at)).await.context("append")?;
        }
        let mut tx = store.begin().await.context("begin")?;
        tx.append_audit(&event(&a, "success", 6000)).await.context("append in tx")?;
        tx.commit().await.context("commit")?;

        let list = async |filter: AuditFilter| -> Result<Vec<i64>> {
            Ok(store.list_audit(&filter).await.context("list")?.into_iter().map(|e| e.event.at).collect())
        };
        assert_eq!(list(AuditFilter::default()).await?, vec![6000, 5000, 4000, 3000, 2000, 1000]);
        let domain_a = AuditFilter { domain: Some(a.domain.clone()), ..Default::default() };
        assert_eq!(list(domain_a.clone()).await?, vec![6000, 4000, 2000, 1000]);
        assert_eq!(list(AuditFilter { outcome: Some("denied".into()), ..Default::default() }).await?, vec![5000, 2000]);
        let range = AuditFilter { since: Some(2000), until: Some(5000), ..domain_a.clone() };
        assert_eq!(list(range).await?, vec![4000, 2000]);
        assert_eq!(list(AuditFilter { org: Some(b.org.clone()), ..Default::default() }).await?, vec![5000, 3000]);

        // Pages: newest two, then the next two after the last id seen.
        let page = store.list_audit(&AuditFilter { limit: 2, ..domain_a.clone() }).await.context("page")?;
        assert_eq!(page.iter().map(|e| e.event.at).collect::<Vec<_>>(), vec![6000, 4000]);
        let next = AuditFilter { limit: 2, before_id: page.last().map(|e| e.id), ..domain_a };
        assert_eq!(list(next).await?, vec![2000, 1000]);

        let denied = store
            .list_audit(&AuditFilter { outcome: Some("denied".into()), ..Default::default() })
            .await
            .context("x")?;
        assert_eq!(denied[0].event.rule.as_deref(), Some("creator.email"));
        assert_eq!(denied[0].event.detail, r#"{"fuel":1000}"#);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn invitations_are_found_by_email_and_accepted_once() -> Result<()> {
    each_store(async |store| {
        let f = fixture(&store, "acme").await?;
        let team = store.team_by_name(&f.org, "engineering").await.context("team")?.map(|t| t.id);
        let invitation =
            store.create_invitation(&f.org, "Invitee@Acme.example", team.as_ref()).await.context("invite")?;
        assert_eq!(invitation.email, "invitee@acme.example");
        let mut tx = store.begin().await.context("begin")?;
        let pending = tx.pending_invitations(&f.org, "INVITEE@acme.example").await.context("pending")?;
        assert_eq!(pending, vec![invitation.clone()]);
        tx.accept_invitation(&invitation.id).await.context("accept")?;
        let twice = tx.accept_invitation(&invitation.id).await;
        assert!(matches!(twice, Err(StoreError::NotFound { .. })), "{twice:?}");
        assert_eq!(tx.pending_invitations(&f.org, "invitee@acme.example").await.context("pending")?, vec![]);
        tx.commit().await.context("commit")?;
        let listed = store.list_invitations(&f.org).await.context("list")?;
        assert_eq!(listed.iter().map(|i| i.state).collect::<Vec<_>>(), vec![InvitationState::Accepted]);

        let other = store.create_invitation(&f.org, "x@acme.example", None).await.context("invite")?;
        store.revoke_invitation(&other.id).await.context("revoke")?;
        assert!(matches!(store.revoke_invitation(&other.id).await, Err(StoreError::NotFound { .. })));
        let foreign_team = fixture(&store, "other").await?;
        let foreign = store.team_by_name(&foreign_team.org, "engineering").await.context("team")?.map(|t| t.id);
        let wrong = store.create_invitation(&f.org, "y@acme.example", foreign.as_ref()).await;
        assert!(matches!(wrong, Err(StoreError::NotFound { .. })), "{wrong:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn api_tokens_are_kept_by_hash_and_revoked_per_organization() -> Result<()> {
    each_store(async |store| {
        let acme = store.create_organization("acme").await.context("organization")?.id;
        let globex = store.create_organization("globex").await.context("organization")?.id;
        let (first, second, foreign) = ([0xab; 32], [0xcd; 32], [0xef; 32]);

        let made = store.create_api_token(&acme, "initial", &first).await.context("create")?;
        assert_eq!(made.id, hex::encode(first)[..16], "the public id is the start of the hash");
        assert_eq!((made.org.clone(), made.name.as_str(), made.revoked_at), (acme.clone(), "initial", None));
        store.create_api_token(&acme, "ci", &second).await.context("create")?;
        store.create_api_token(&globex, "initial", &foreign).await.context("create")?;
        assert_eq!(store.api_token_org(&first).await.context("find")?, Some(acme.clone()));
        assert_eq!(store.api_token_org(&foreign).await.context("find")?, Some(globex.clone()));
        assert_eq!(store.api_token_org(&[4u8; 32]).await.context("find")?, None);

        let again = store.create_api_token(&globex, "copy", &first).await;
        assert!(is_conflict(&again, "api token"), "{again:?}");
        let orphan = store.create_api_token(&OrgId::new("nope"), "x", &[5u8; 32]).await;
        assert!(matches!(orphan, Err(StoreError::NotFound { what: "organization" })), "{orphan:?}");
        let unnamed = store.create_api_token(&acme, " ", &[6u8; 32]).await;
        assert!(matches!(unnamed, Err(StoreError::Invalid { .. })), "{unnamed:?}");

        let listed = store.list_api_tokens(&acme).await.context("list")?;
        let mut names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["ci", "initial"]);
        assert_eq!(store.list_api_tokens(&globex).await.context("list")?.len(), 1);

        // Another organization cannot revoke it; malformed ids name nothing.
        let foreign_revoke = store.revoke_api_token(&globex, &made.id).await;
        assert!(matches!(foreign_revoke, Err(StoreError::NotFound { what: "api token" })), "{foreign_revoke:?}");
        for bad in ["", "zz", &made.id.to_uppercase(), &hex::encode(first)] {
            let refused = store.revoke_api_token(&acme, bad).await;
            assert!(matches!(refused, Err(StoreError::NotFound { .. })), "{bad}: {refused:?}");
        }
        assert_eq!(store.api_token_org(&first).await.context("find")?, Some(acme.clone()));

        store.revoke_api_token(&acme, &made.id).await.context("revoke")?;
        assert_eq!(store.api_token_org(&first).await.context("find")?, None, "a revoked token finds nothing");
        assert_eq!(store.api_token_org(&second).await.context("find")?, Some(acme.clone()));
        let revoked_at = |tokens: Vec<provisio::store::ApiTokenRecord>| {
            tokens.into_iter().find(|t| t.id == made.id).and_then(|t| t.revoked_at)
        };
        let when = revoked_at(store.list_api_tokens(&acme).await.context("list")?);
        assert!(when.is_some_and(|w| w >= made.created_at), "{when:?}");
        store.revoke_api_token(&acme, &made.id).await.context("revoke twice")?;
        assert_eq!(revoked_at(store.list_api_tokens(&acme).await.context("list")?), when, "the first time stays");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn account_state_names_and_password_hash() -> Result<()> {
    each_store(async |store| {
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
        let local = NewAccount { password_hash: hash.clone(), ..new_account("local@x.com", "local") };
        let account = store.create_account(local).await.context("create")?;
        let idp_only = store.create_account(new_account("idp@x.com", "idp")).await.context("create")?;
        assert!(PasswordHash::new("").is_none(), "an empty hash is never a password");
        assert_eq!(store.account(&idp_only.id).await.context("get")?.and_then(|a| a.password_hash), None);
        assert_eq!(store.account(&account.id).await.context("get")?.and_then(|a| a.password_hash), hash);

        store.set_account_state(&account.id, AccountState::Locked).await.context("lock")?;
        let mut tx = store.begin().await.context("begin")?;
        tx.update_names(&account.id, Some("Janet"), None).await.context("rename")?;
        tx.commit().await.context("commit")?;
        let stored: Account = store.account(&account.id).await.context("get")?.context("gone")?;
        assert_eq!(
            (stored.state, stored.given_name.as_deref(), stored.family_name),
            (AccountState::Locked, Some("Janet"), None)
        );
        store.set_account_state(&account.id, AccountState::Active).await.context("unlock")?;
        store.set_password_hash(&account.id, None).await.context("unusable")?;
        assert_eq!(store.account(&account.id).await.context("get")?.and_then(|a| a.password_hash), None);
        let missing = store.set_account_state(&provisio::store::AccountId::new("nope"), AccountState::Locked).await;
        assert!(matches!(missing, Err(StoreError::NotFound { what: "account" })));

        // Secrets stay out of Debug.
        let shown = format!("{:?}", NewAccount { password_hash: hash, ..new_account("a@b.c", "a") });
        assert!(!shown.contains("argon2id") && shown.contains("<redacted>"), "{shown}");
        let url = DatabaseUrl::new("postgres://app:hunter2@db/provisio");
        assert!(!format!("{url:?} {url}").contains("hunter2"));

        let page = store.list_accounts(None, None, 1).await.context("page")?;
        assert_eq!(page.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(), vec!["idp@x.com"]);
        let next = store.list_accounts(None, Some("idp@x.com"), 10).await.context("next page")?;
        assert_eq!(next.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(), vec!["local@x.com"]);
        Ok(())
    })
    .await
}

/// 50 first logins of one person, each in its own transaction, racing:
/// exactly one creates the account; every other gets `Conflict` and then,
/// in its own transaction, finds the winner's account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_of_one_account_yield_exactly_one() -> Result<()> {
    const RACERS: usize = 50;
    for db in TestDatabase::all() {
        // Two pools, as two hosts sharing the database would have.
        let stores = [db.open().await, db.open().await];
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|i| {
                let store = stores[i % 2].clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut tx = store.begin().await?;
                    let result = match tx.insert_account(new_account("Race@X.com", &format!("race{i}"))).await {
                        Ok(account) => Ok(account.id),
                        Err(e) => {
                            // The transaction is still usable: find the winner.
                            let winner = tx.account_by_email("race@x.com").await?;
                            Err((e, winner.map(|a| a.id)))
                        }
                    };
                    tx.commit().await?;
                    Ok::<_, StoreError>(result)
                })
            })
            .collect();
        let mut created = Vec::new();
        let mut seen = Vec::new();
        for task in tasks {
            match task.await? {
                Ok(Ok(id)) => created.push(id),
                Ok(Err((StoreError::Conflict { what: Unique::AccountEmail }, winner))) => seen.push(winner),
                other => bail!("{}: unexpected {other:?}", db.kind()),
            }
        }
        assert_eq!(created.len(), 1, "{}: {} accounts created", db.kind(), created.len());
        assert_eq!(seen.len(), RACERS - 1);
        assert!(seen.iter().all(|w| w.as_ref() == Some(&created[0])), "every loser sees the winner's account");
        assert_eq!(stores[0].list_accounts(None, None, 100).await.context("list")?.len(), 1);
        for store in stores {
            store.close().await;
        }
        db.cleanup().await;
    }
    Ok(())
}
