//! What the benchmark programs that drive a real `provisio serve` share: a
//! [`Server`] child process, an admin API [`Client`], [`setup_tenant`], an
//! identity provider that mints ID tokens ([`IdP`]), a closed-loop load
//! generator ([`run_for`], [`run_count`]) over any [`Workload`], a parser of
//! `/metrics` ([`Scrape`]: the Prometheus text format and OpenMetrics), fresh
//! PostgreSQL databases ([`PgDatabase`]), a private OpenLDAP directory
//! ([`Directory`]) and a process's memory and CPU time from `/proc`. One
//! module per concern.
//!
//! A benchmark stops at its first surprise: these functions panic with a
//! message saying what went wrong rather than return errors.
//!
//! ```no_run
//! # async fn example() {
//! use provisio_bench::{Server, Client, IdP, TenantSpec, setup_tenant};
//! let dir = tempfile::tempdir().unwrap();
//! let db = format!("sqlite://{}/provisio.db?mode=rwc", dir.path().display());
//! let server = Server::start(&db, &dir.path().join("server")).await;
//! let idp = IdP::new(&dir.path().join("idp-key.pem"));
//! let admin = Client::new(server.base());
//! let spec = TenantSpec::new("acme", "acme", "acme.example", idp.provider_config());
//! let tenant = setup_tenant(&admin, server.operator_token(), &spec).await;
//! let login = admin.login(&idp.login_body(&tenant.domain, "jane@acme.example", &["Engineering"])).await;
//! assert_eq!(login.status, provisio_bench::StatusCode::OK);
//! server.stop().await;
//! # }
//! ```

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod calls;
mod client;
mod directory;
mod env;
mod idp;
mod load;
mod metrics;
mod pg;
mod proc;
mod server;
mod tenants;

pub use hyper::body::Bytes;
pub use hyper::{Method, StatusCode, Uri};

pub use calls::{Series, account_from, us};
pub use client::{Answer, Client, HttpClient, http_client};
pub use directory::{Directory, PERSON_PASSWORD};
pub use env::{env_or, plugin_bytes, provisio_binary, random_hex, repo_root, unix_now};
pub use idp::IdP;
pub use load::{Call, MAX_ERRORS, Run, Workload, ms, percentile, run_count, run_for};
pub use metrics::{ParseError, Sample, Scrape};
pub use pg::{DEFAULT_PG_ADMIN_URL, PgDatabase, url_with_database};
pub use proc::{Memory, cpu_time, machine_cpu, memory, rss_kib};
pub use server::{Server, free_port};
pub use tenants::{ROLES, TEAMS, Tenant, TenantSpec, demo_config, setup_tenant};
