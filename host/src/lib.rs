//! Provisio authenticates users and provisions their accounts just in time by
//! running tenant-supplied WebAssembly components, sandboxed, with hard
//! limits; the host validates what a plugin decides and alone writes to the
//! database.
//!
//! A [`engine::Host`] over an embedded SQLite file, with one organization, a
//! domain with a password provider, and one account logging in:
//!
//! ```
//! use provisio::auth::{Credential, Secret, hash_password};
//! use provisio::engine::{Host, LoginRequest};
//! use provisio::store::{DatabaseUrl, MembershipSource, MembershipTarget, Membership, NewAccount, NewDomain,
//!     NewProvider, PasswordHash, ProviderKind, Verification};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let url = DatabaseUrl::sqlite_file(&dir.path().join("provisio.db"));
//! let host = Host::builder().database_url(url).build().await?;
//! let store = host.store();
//!
//! let org = store.create_organization("acme").await?;
//! let domain = store
//!     .create_domain(NewDomain {
//!         org: org.id.clone(),
//!         name: "acme".into(),
//!         jit: true,
//!         default_team: None,
//!         email_domains: vec!["acme.example".into()],
//!     })
//!     .await?;
//! // Claims are pending until verified (by DNS, or, here, the operator):
//! // a domain vouches only for the email domains it verified.
//! store.verify_email_domain(&domain.id, "acme.example", Verification::Operator).await?;
//! let password = NewProvider { name: "password".into(), kind: ProviderKind::Password, config: "{}".into() };
//! store.add_provider(&domain.id, password).await?;
//! let account = store
//!     .create_account(NewAccount {
//!         email: "jane@acme.example".into(),
//!         username: "jane".into(),
//!         given_name: Some("Jane".into()),
//!         family_name: None,
//!         password_hash: PasswordHash::new(hash_password("correct horse")?),
//!         attributes: vec![],
//!     })
//!     .await?;
//! let member = Membership {
//!     account: account.id,
//!     org: org.id,
//!     target: MembershipTarget::Organization,
//!     source: MembershipSource::Admin,
//! };
//! store.add_membership(&member).await?;
//!
//! // The domain is found from the email; the password is checked with argon2id.
//! let credential = Credential::Password { email: "Jane@acme.example".into(), password: Secret::new("correct horse") };
//! let login = host.login(LoginRequest { domain: None, credential, source: None }).await?;
//! assert_eq!(login.account.username, "jane");
//! assert_eq!(login.memberships[0].name, "acme");
//!
//! let wrong = Credential::Password { email: "jane@acme.example".into(), password: Secret::new("guess") };
//! let refused = host.login(LoginRequest { domain: None, credential: wrong, source: None }).await.unwrap_err();
//! assert_eq!(refused.code(), "authentication-failed");
//! # Ok(()) }
//! ```
//!
//! To authenticate the requests of an API gateway, put the [`gateway`] layer
//! in front of its routes: it accepts Provisio session tokens and identity
//! providers' ID tokens, and hands each request the caller's
//! [`gateway::Identity`]:
//!
//! ```no_run
//! # async fn app(host: provisio::engine::Host, signer: &provisio::session::SessionSigner)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Extension, Router, routing::get};
//! use provisio::gateway::{Gateway, Identity};
//!
//! let gateway = Gateway::local(host, signer).id_token_domain("acme").build()?;
//! let app: Router = Router::new()
//!     .route("/whoami", get(|Extension(me): Extension<Identity>| async move { me.username }))
//!     .layer(gateway.layer());
//! # Ok(()) }
//! ```
//!
//! Modules: [`engine`] (the login flow and admin operations), [`store`] (the
//! database), [`auth`] (password and OpenID Connect providers), [`runtime`]
//! (the WebAssembly sandbox), [`plugin`] (what host and plugins exchange),
//! [`builtin`] (the providers used when no plugin is bound), [`gateway`]
//! (authentication in front of another service), [`session`] (session
//! tokens and their signing key), [`http`] (the HTTP API).

pub mod auth;
pub mod builtin;
pub mod canonical;
pub mod dns;
pub mod engine;
pub mod gateway;
pub mod http;
pub mod plugin;
pub mod runtime;
pub(crate) mod scim;
pub mod session;
pub mod store;
