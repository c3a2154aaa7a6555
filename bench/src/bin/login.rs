//! The login path under load: real `provisio serve` processes on loopback,
//! a tenant set up over the admin API, and a fixed number of workers each
//! sending `POST /v1/login` with an ID token and waiting for the answer, for
//! a fixed time.
//!
//! The matrix: backends (SQLite file, PostgreSQL) × providers (`builtin`: a
//! binding that names no plugin, so the built-in creator and group mapping
//! decide; `wasm`: the `default-creator` and `group-mapper` plugins; `ldap`:
//! no ID token but a login and password that a directory provider checks
//! against a private OpenLDAP slapd, search then bind, with the built-in
//! creator and group mapping reading the directory's `memberOf`) × kinds
//! (`first`: a new person at every login, provisioned just in time;
//! `returning`: a fixed population provisioned during the warm-up, logged in
//! again round-robin). Both bindings have the demo's configuration and
//! `every-login` sync, so a returning login runs the assignment provider
//! again. Two more provider rows bind shadow versions beside the wasm
//! plugins (`shadow`: the same two plugins again, so every login is decided
//! a second time off its path and agrees; `spin`: `hostile-loop` for both
//! hooks, spinning to the wall-time limit at every shadow call, the worst a
//! tenant can bind); their table compares the live login's rate and p99
//! with the `wasm` row's, and counts the shadow calls compared, shed, and
//! skipped because the shadow's circuit was open.
//! Then first logins (wasm) through two processes on one PostgreSQL
//! database against one process at the same total concurrency, alternately.
//!
//! Run with `scripts/bench login` (it builds the plugins, `provisio` and this
//! program in release first). Environment:
//!
//! - `CONCURRENCY` (32): workers, split evenly across the processes;
//! - `DURATION_SECS` (10): the measured phase, after `WARMUP_SECS` (2) not measured;
//! - `POPULATION` (1000): people of the returning scenarios;
//! - `BACKENDS` (`sqlite,postgres`);
//! - `SCENARIOS` (all): comma-separated among `builtin-first`,
//!   `builtin-returning`, `wasm-first`, `wasm-returning`, `shadow-first`,
//!   `shadow-returning`, `spin-first`, `spin-returning`, `ldap-first`,
//!   `ldap-returning` and `two-processes`, or parts of those names (`wasm`,
//!   `first`, `two`);
//! - `ROUNDS` (2): one-process / two-process alternations;
//! - `LDAP_PEOPLE` (30000): people in the directory of the `ldap` rows (a
//!   first login uses a new one: raise it when a run says it ran out);
//! - `PROVISIO_BENCH_DATABASE_URL` (`postgres://postgres@127.0.0.1:5432/test`):
//!   where a fresh database `provisio_bench_<hex>` is created for each
//!   measurement and dropped after; when it cannot be reached, the PostgreSQL
//!   rows are skipped;
//! - `PRIME=0` skips the one login each process gets alone before the
//!   warm-up (a process that did not receive the upload compiles the plugins
//!   at its first login);
//! - `KEEP_TEMP=1` keeps the servers' data directories and logs (the path is printed);
//! - any other `PROVISIO_*` variable reaches the servers untouched.

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use provisio_bench::{
    Bytes, Call, Client, Directory, HttpClient, IdP, Method, PgDatabase, Run, Scrape, Server, StatusCode, TenantSpec,
    Uri, Workload, env_or, http_client, machine_cpu, ms, plugin_bytes, setup_tenant,
};

const ORG: &str = "bench";
const DOMAIN: &str = "bench";
const EMAIL_DOMAIN: &str = "bench.example";
const GROUPS: &[&str] = &["Engineering"];
/// First-login tokens minted before the warm-up (more are minted on the fly).
const WARMUP_TOKENS: u64 = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Providers {
    Builtin,
    Wasm,
    /// Wasm, with the same plugins bound again as shadow versions.
    Shadow,
    /// Wasm, with `hostile-loop` as the shadow version of both hooks.
    Spin,
    Ldap,
}

impl Providers {
    const ALL: [Self; 5] = [Self::Builtin, Self::Wasm, Self::Shadow, Self::Spin, Self::Ldap];

    fn name(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Wasm => "wasm",
            Self::Shadow => "shadow",
            Self::Spin => "spin",
            Self::Ldap => "ldap",
        }
    }

    /// Whether the live binding names the wasm plugins.
    fn wasm(self) -> bool {
        matches!(self, Self::Wasm | Self::Shadow | Self::Spin)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    First,
    Returning,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Returning => "returning",
        }
    }
}

struct Settings {
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    population: u64,
    backends: Vec<Backend>,
    filter: Vec<String>,
    rounds: usize,
    pg_admin: String,
    prime: bool,
    ldap_people: u64,
}

impl Settings {
    fn from_env() -> Self {
        let list = |name: &str, default: &str| -> Vec<String> {
            std::env::var(name)
                .unwrap_or_else(|_| default.to_owned())
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let backends = list("BACKENDS", "sqlite,postgres")
            .iter()
            .map(|b| match b.as_str() {
                "sqlite" => Backend::Sqlite,
                "postgres" | "postgresql" | "pg" => Backend::Postgres,
                other => panic!("BACKENDS: unknown backend {other} (sqlite, postgres)"),
            })
            .collect();
        Self {
            concurrency: env_or("CONCURRENCY", 32usize).max(1),
            duration: Duration::from_secs_f64(env_or("DURATION_SECS", 10.0)),
            warmup: Duration::from_secs_f64(env_or("WARMUP_SECS", 2.0)),
            population: env_or("POPULATION", 1000u64).max(1),
            backends,
            filter: list("SCENARIOS", ""),
            rounds: env_or("ROUNDS", 2usize),
            prime: env_or("PRIME", 1u8) == 1,
            ldap_people: env_or("LDAP_PEOPLE", 30_000u64).max(100),
            pg_admin: std::env::var("PROVISIO_BENCH_DATABASE_URL")
                .unwrap_or_else(|_| provisio_bench::DEFAULT_PG_ADMIN_URL.to_owned()),
        }
    }

    /// Whether the scenario `name` (dash-separated parts) is selected.
    fn wants(&self, name: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| f == name || name.split('-').any(|part| part == f))
    }
}

/// The login body of person `n`.
type Minter = Arc<dyn Fn(u64) -> Bytes + Send + Sync>;

/// Logins through the bench's identity provider or directory: a new person
/// per request (`first`), or a fixed population round-robin (`returning`).
struct Logins {
    uris: Vec<Uri>,
    /// Pre-minted bodies: request `seq` uses `bodies[seq]` (first), or
    /// `bodies[seq % len]` (returning).
    bodies: Vec<Bytes>,
    returning: bool,
    /// The person number of request 0 (first logins).
    first_person: u64,
    mint: Minter,
    /// First-login bodies minted during the run, past the pre-minted ones.
    minted_late: AtomicU64,
    expect_new: bool,
}

fn email(person: u64) -> String {
    format!("user-{person}@{EMAIL_DOMAIN}")
}

impl Workload for Logins {
    fn call(&self, worker: usize, seq: u64) -> Call {
        let uri = self.uris[worker % self.uris.len()].clone();
        let body = if self.returning {
            self.bodies[(seq % self.bodies.len() as u64) as usize].clone()
        } else if let Some(body) = self.bodies.get(seq as usize) {
            body.clone()
        } else {
            self.minted_late.fetch_add(1, Ordering::Relaxed);
            (self.mint)(self.first_person + seq)
        };
        Call { method: Method::POST, uri, body }
    }

    fn check(&self, _worker: usize, _seq: u64, status: StatusCode, body: &[u8]) -> Result<(), String> {
        if status != StatusCode::OK {
            return Err("not 200".into());
        }
        let want: &[u8] = if self.expect_new { b"\"newly_created\":true" } else { b"\"newly_created\":false" };
        if body.windows(want.len()).any(|w| w == want) {
            Ok(())
        } else {
            Err(format!("expected newly_created {}", self.expect_new))
        }
    }
}

/// Mints the login bodies of people `from..from + n`.
fn mint(minter: &Minter, from: u64, n: u64) -> Vec<Bytes> {
    (from..from + n).map(|p| minter(p)).collect()
}

/// One measured phase, with what the servers and the machine said about it.
struct Measured {
    run: Run,
    /// Logins the servers counted in the phase.
    logins: f64,
    /// Mean engine login duration (server side), seconds.
    engine_mean: f64,
    /// Plugin time per login, seconds.
    plugin_per_login: f64,
    /// Plugin calls per login.
    calls_per_login: f64,
    /// CPU cores used by the servers, by this program, by the whole machine.
    server_cores: f64,
    bench_cores: f64,
    machine_cores: f64,
    /// The servers' resident memory after the phase, summed, MiB.
    rss_mib: f64,
    minted_late: u64,
    /// Shadow calls in the phase: compared (agreed or differed), and shed.
    shadow_compared: f64,
    shadow_shed: f64,
    shadow_skipped: f64,
}

struct Bench {
    settings: Settings,
    dir: tempfile::TempDir,
    idp: Arc<IdP>,
    /// The directory of the `ldap` rows, started at the first of them.
    directory: Option<Arc<Directory>>,
    creator: Vec<u8>,
    assigner: Vec<u8>,
    spinner: Vec<u8>,
    http: HttpClient,
    next_label: usize,
}

impl Bench {
    fn label(&mut self, what: &str) -> PathBuf {
        self.next_label += 1;
        self.dir.path().join(format!("{:02}-{what}", self.next_label))
    }

    /// A fresh database: an SQLite file in `dir`, or a new PostgreSQL database.
    async fn database(&self, backend: Backend, dir: &std::path::Path) -> (String, Option<PgDatabase>) {
        match backend {
            Backend::Sqlite => {
                std::fs::create_dir_all(dir).unwrap();
                (format!("sqlite://{}?mode=rwc", dir.join("provisio.db").display()), None)
            }
            Backend::Postgres => {
                let db =
                    PgDatabase::create(&self.settings.pg_admin).await.unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
                (db.url().to_owned(), Some(db))
            }
        }
    }

    /// Starts `processes` servers on one fresh database, sets the tenant up
    /// through the first, measures `kind`, stops them and drops the database.
    async fn measure_fresh(
        &mut self,
        backend: Backend,
        providers: Providers,
        kind: Kind,
        processes: usize,
    ) -> Measured {
        let dir = self.label(&format!("{}-{}-{}-x{processes}", backend.name(), providers.name(), kind.name()));
        let (url, pg) = self.database(backend, &dir).await;
        // The bench's directory listens on loopback.
        let env: &[(&str, &str)] =
            if providers == Providers::Ldap { &[("PROVISIO_ALLOW_PRIVATE_DIRECTORIES", "true")] } else { &[] };
        let mut servers = Vec::new();
        for i in 0..processes {
            servers.push(Server::start_with_env(&url, &dir.join(format!("server-{i}")), env).await);
        }
        let admin = Client::new(servers[0].base());
        let spec = TenantSpec::new(ORG, DOMAIN, EMAIL_DOMAIN, self.idp.provider_config());
        let spec = match providers {
            Providers::Builtin => spec,
            Providers::Wasm | Providers::Shadow | Providers::Spin => {
                spec.with_plugins(Some(&self.creator), Some(&self.assigner))
            }
            Providers::Ldap => spec.with_provider("ldap", self.directory().provider_config()),
        };
        let tenant = setup_tenant(&admin, servers[0].operator_token(), &spec).await;
        assert_eq!(tenant.creator.is_some(), providers.wasm());
        let shadow = match providers {
            Providers::Shadow => Some((tenant.creator.clone(), tenant.assigner.clone())),
            Providers::Spin => {
                let uploaded = admin.upload(&tenant.org, &tenant.token, &self.spinner).await;
                let spinner = uploaded.expect(StatusCode::CREATED, "upload the spinner")["plugin"]["hash"].clone();
                let spinner = spinner.as_str().map(str::to_owned);
                Some((spinner.clone(), spinner))
            }
            _ => None,
        };
        if let Some((creator, assigner)) = shadow {
            let binding = serde_json::json!({"creator": tenant.creator, "assigner": tenant.assigner,
                "config": spec.config, "sync_mode": spec.sync_mode, "failure_policy": "fail-closed",
                "shadow": {"creator": creator, "assigner": assigner}});
            let path = format!("/v1/orgs/{}/domains/{}/bindings/{}", tenant.org, tenant.domain_id, tenant.provider);
            let t = Some(tenant.token.as_str());
            admin.call(Method::PUT, &path, t, Some(&binding)).await.expect(StatusCode::OK, "bind the shadows");
        }
        let measured = self.measure(&servers, providers, kind).await;
        for server in servers {
            server.stop().await;
        }
        if let Some(pg) = pg {
            pg.drop_database().await;
        }
        measured
    }

    /// The directory of the `ldap` rows, started now if it is not yet.
    fn directory(&mut self) -> Arc<Directory> {
        let people = self.settings.ldap_people;
        let directory = self.directory.get_or_insert_with(|| {
            eprintln!("starting a private slapd with {people} people …");
            Arc::new(Directory::start(people, EMAIL_DOMAIN))
        });
        Arc::clone(directory)
    }

    /// Who logs in: people of the bench's IdP, or of its directory (whose
    /// last few are kept for the priming logins).
    fn minter(&self, providers: Providers) -> (Minter, Box<dyn Fn(usize) -> Bytes + '_>) {
        match (providers, &self.directory) {
            (Providers::Ldap, Some(directory)) => {
                let people = directory.people() - 8;
                let mint: Minter = Arc::new(move |n| {
                    assert!(n < people, "the directory has {people} people for first logins: raise LDAP_PEOPLE");
                    Directory::login_body(DOMAIN, n)
                });
                let prime = Box::new(move |i: usize| Directory::login_body(DOMAIN, people + i as u64));
                (mint, prime)
            }
            _ => {
                let idp = Arc::clone(&self.idp);
                let mint: Minter = Arc::new(move |n| idp.login_body(DOMAIN, &email(n), GROUPS));
                let prime =
                    Box::new(move |i: usize| self.idp.login_body(DOMAIN, &format!("prime-{i}@{EMAIL_DOMAIN}"), GROUPS));
                (mint, prime)
            }
        }
    }

    async fn measure(&self, servers: &[Server], providers: Providers, kind: Kind) -> Measured {
        let s = &self.settings;
        let uris: Vec<Uri> = servers.iter().map(|srv| Client::new(srv.base()).uri("/v1/login")).collect();
        let (minter, prime) = self.minter(providers);
        let workload = |bodies: Vec<Bytes>, returning: bool, first_person: u64, expect_new: bool| {
            Arc::new(Logins {
                uris: uris.clone(),
                bodies,
                returning,
                first_person,
                mint: Arc::clone(&minter),
                minted_late: AtomicU64::new(0),
                expect_new,
            })
        };
        let people = match (providers, &self.directory) {
            (Providers::Ldap, Some(directory)) => directory.people() - 8,
            _ => u64::MAX,
        };
        // One login on each process first, alone. A process that did not
        // receive the upload reads the plugins' bytes and compiles them at
        // its first login, inside that login's transaction: on PostgreSQL,
        // as many concurrent first logins as the pool has connections each
        // hold one and wait for another, until the pool's acquire timeout
        // (10 s) answers 503. `PRIME=0` shows it.
        for (i, server) in servers.iter().enumerate().filter(|_| s.prime) {
            let body = prime(i);
            let t = Instant::now();
            let answer = Client::new(server.base()).login(&body).await;
            let first = t.elapsed();
            assert_eq!(answer.status, StatusCode::OK, "first login on {}: {}", server.base(), answer.text());
            if servers.len() > 1 {
                eprintln!("  first login on process {i}: {:.1} ms", ms(first));
            }
        }
        let timed = match kind {
            Kind::First => {
                let warm = workload(mint(&minter, 0, WARMUP_TOKENS.min(people / 4)), false, 0, true);
                let run = provisio_bench::run_for(&self.http, &warm, s.concurrency, s.warmup).await;
                run.assert_few_errors("warm-up");
                // Enough tokens for twice the warm-up's rate; any more are minted on the fly.
                let n = ((run.rate() * s.duration.as_secs_f64() * 2.0) as u64).clamp(2000, 1_000_000);
                let n = n.min(people.saturating_sub(run.requests));
                let t = Instant::now();
                let bodies = mint(&minter, run.requests, n);
                eprintln!("  prepared {n} login bodies in {:.2} s", t.elapsed().as_secs_f64());
                workload(bodies, false, run.requests, true)
            }
            Kind::Returning => {
                let population = s.population.min(people);
                let people = mint(&minter, 0, population);
                let provision = workload(people.clone(), false, 0, true);
                let run = provisio_bench::run_count(&self.http, &provision, s.concurrency, population).await;
                run.assert_few_errors("provisioning the population");
                let returning = workload(people, true, 0, false);
                let run = provisio_bench::run_for(&self.http, &returning, s.concurrency, s.warmup).await;
                run.assert_few_errors("warm-up");
                returning
            }
        };
        for server in servers {
            server.check_alive("during the warm-up");
        }

        let scrape = || async { scrape_all(servers).await };
        let before = scrape().await;
        let cpu_before: Vec<Duration> = servers.iter().map(|srv| srv.cpu_time().unwrap_or_default()).collect();
        let self_before = provisio_bench::cpu_time(std::process::id()).unwrap_or_default();
        let machine_before = machine_cpu().unwrap_or_default();

        let run = provisio_bench::run_for(&self.http, &timed, s.concurrency, s.duration).await;

        let machine_after = machine_cpu().unwrap_or_default();
        let self_after = provisio_bench::cpu_time(std::process::id()).unwrap_or_default();
        let cpu_after: Vec<Duration> = servers.iter().map(|srv| srv.cpu_time().unwrap_or_default()).collect();
        let after = scrape().await;
        for server in servers {
            server.check_alive("during the measurement");
        }
        run.assert_few_errors("measurement");
        if run.errors > 0 {
            eprintln!("  {} unexpected answers; the first: {}", run.errors, run.first_errors.join(" | "));
        }

        let delta = |name: &str| Scrape::sum_all(&after, name) - Scrape::sum_all(&before, name);
        let logins = delta("provisio_login_duration_seconds_count");
        let per_login = |v: f64| if logins > 0.0 { v / logins } else { 0.0 };
        let elapsed = run.elapsed.as_secs_f64();
        let server_cpu: Duration =
            cpu_after.iter().zip(&cpu_before).map(|(a, b)| a.saturating_sub(*b)).sum::<Duration>();
        let machine_busy = machine_after.0.saturating_sub(machine_before.0);
        Measured {
            logins,
            engine_mean: per_login(delta("provisio_login_duration_seconds_sum")),
            plugin_per_login: per_login(delta("provisio_plugin_call_duration_seconds_sum")),
            calls_per_login: per_login(delta("provisio_plugin_call_duration_seconds_count")),
            server_cores: server_cpu.as_secs_f64() / elapsed,
            bench_cores: self_after.saturating_sub(self_before).as_secs_f64() / elapsed,
            machine_cores: machine_busy.as_secs_f64() / elapsed,
            rss_mib: servers.iter().filter_map(Server::rss_kib).sum::<u64>() as f64 / 1024.0,
            minted_late: timed.minted_late.load(Ordering::Relaxed),
            shadow_compared: ["agreed", "differed"].iter().map(|r| shadow(&before, &after, r)).sum(),
            shadow_shed: shadow(&before, &after, "shed"),
            shadow_skipped: shadow(&before, &after, "circuit-open"),
            run,
        }
    }
}

/// Shadow calls with `result` between two scrapes, over both hooks and all servers.
fn shadow(before: &[Scrape], after: &[Scrape], result: &str) -> f64 {
    let count = |scrapes: &[Scrape]| -> f64 {
        let labels = |hook| [("hook", hook), ("result", result)];
        scrapes
            .iter()
            .flat_map(|s| ["create", "assign"].map(|h| s.value("provisio_plugin_shadow_total", &labels(h))))
            .flatten()
            .sum()
    };
    count(after) - count(before)
}

/// Every server's `/metrics`, one after the other.
async fn scrape_all(servers: &[Server]) -> Vec<Scrape> {
    let mut out = Vec::with_capacity(servers.len());
    for server in servers {
        out.push(Client::new(server.base()).metrics().await);
    }
    out
}

struct Row {
    backend: Backend,
    providers: Providers,
    kind: Kind,
    m: Measured,
}

const HEADER: [&str; 18] = [
    "backend",
    "providers",
    "kind",
    "rate/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "mean ms",
    "engine ms",
    "plugin ms/login",
    "calls/login",
    "share/client",
    "share/engine",
    "plugin busy",
    "server cpu",
    "bench cpu",
    "machine cpu",
    "RSS MiB",
];

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { 100.0 * part / whole } else { 0.0 }
}

impl Row {
    fn cells(&self) -> Vec<String> {
        let m = &self.m;
        let r = &m.run;
        let mean = r.mean().as_secs_f64();
        vec![
            self.backend.name().into(),
            self.providers.name().into(),
            self.kind.name().into(),
            format!("{:.0}", r.rate()),
            format!("{:.2}", ms(r.percentile(0.5))),
            format!("{:.2}", ms(r.percentile(0.99))),
            format!("{:.1}", ms(r.max())),
            format!("{:.2}", ms(r.mean())),
            format!("{:.2}", m.engine_mean * 1e3),
            format!("{:.3}", m.plugin_per_login * 1e3),
            format!("{:.2}", m.calls_per_login),
            format!("{:.1} %", pct(m.plugin_per_login, mean)),
            format!("{:.1} %", pct(m.plugin_per_login, m.engine_mean)),
            format!("{:.1} %", 100.0 * m.plugin_per_login * r.rate()),
            format!("{:.2}", m.server_cores),
            format!("{:.2}", m.bench_cores),
            format!("{:.2}", m.machine_cores),
            format!("{:.0}", m.rss_mib),
        ]
    }
}

/// A plain table: the first three columns left-aligned, the others right-aligned.
fn plain(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i < left {
                let _ = write!(out, "{c}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(out, "{}{c}  ", " ".repeat(pad));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(&header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// A markdown table: the first `left` columns left-aligned, the others right-aligned.
fn markdown(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let mut out = format!("| {} |\n|", header.join(" | "));
    for i in 0..header.len() {
        out.push_str(if i < left { " --- |" } else { " ---: |" });
    }
    out.push('\n');
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

fn print_row(row: &Row) {
    let cells = row.cells();
    let mut line = String::new();
    for (h, c) in HEADER.iter().zip(&cells).skip(3) {
        let _ = write!(line, "{h} {c}, ");
    }
    println!("  {} {} {}: {}", cells[0], cells[1], cells[2], line.trim_end_matches(", "));
    let r = &row.m.run;
    println!(
        "    {} logins in {:.2} s ({} counted by the server), {} errors, {} tokens minted during the run",
        r.requests,
        r.elapsed.as_secs_f64(),
        row.m.logins,
        r.errors,
        row.m.minted_late
    );
}

/// The wasm − builtin differences for each backend and kind measured both ways.
fn differences(rows: &[Row]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in [Backend::Sqlite, Backend::Postgres] {
        for k in [Kind::First, Kind::Returning] {
            let find = |p| rows.iter().find(|r| r.backend == b && r.kind == k && r.providers == p);
            let (Some(builtin), Some(wasm)) = (find(Providers::Builtin), find(Providers::Wasm)) else { continue };
            let (br, wr) = (&builtin.m.run, &wasm.m.run);
            out.push(vec![
                b.name().into(),
                k.name().into(),
                format!("{:+.2}", ms(wr.percentile(0.5)) - ms(br.percentile(0.5))),
                format!("{:+.2}", ms(wr.mean()) - ms(br.mean())),
                format!("{:+.2}", (wasm.m.engine_mean - builtin.m.engine_mean) * 1e3),
                format!("{:.3}", wasm.m.plugin_per_login * 1e3),
                format!("{:.2}", wr.rate() / br.rate()),
            ]);
        }
    }
    out
}

/// The shadow rows against the `wasm` row of the same backend and kind.
fn shadow_costs(rows: &[Row]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in [Backend::Sqlite, Backend::Postgres] {
        for k in [Kind::First, Kind::Returning] {
            let find = |p| rows.iter().find(|r| r.backend == b && r.kind == k && r.providers == p);
            let Some(wasm) = find(Providers::Wasm) else { continue };
            for shadowed in [Providers::Shadow, Providers::Spin].into_iter().filter_map(find) {
                let (wr, sr) = (&wasm.m.run, &shadowed.m.run);
                let logins = shadowed.m.logins.max(1.0);
                out.push(vec![
                    b.name().into(),
                    k.name().into(),
                    shadowed.providers.name().into(),
                    format!("{:.0}", wr.rate()),
                    format!("{:.0}", sr.rate()),
                    format!("{:.2}", sr.rate() / wr.rate()),
                    format!("{:.2}", ms(wr.percentile(0.99))),
                    format!("{:.2}", ms(sr.percentile(0.99))),
                    format!("{:.2}", shadowed.m.shadow_compared / logins),
                    format!("{:.2}", shadowed.m.shadow_shed / logins),
                    format!("{:.2}", shadowed.m.shadow_skipped / logins),
                ]);
            }
        }
    }
    out
}

const SHADOW_HEADER: [&str; 11] = [
    "backend",
    "kind",
    "shadow",
    "rate/s without",
    "rate/s with",
    "with / without",
    "p99 ms without",
    "p99 ms with",
    "compared/login",
    "shed/login",
    "circuit-open/login",
];

const DIFF_HEADER: [&str; 7] =
    ["backend", "kind", "Δ p50 ms", "Δ mean ms", "Δ engine ms", "wasm plugin ms/login", "rate wasm/builtin"];

struct TwoRow {
    round: usize,
    processes: usize,
    m: Measured,
}

const TWO_HEADER: [&str; 9] =
    ["round", "processes", "rate/s", "p50 ms", "p99 ms", "engine ms", "server cpu", "machine cpu", "RSS MiB"];

impl TwoRow {
    fn cells(&self) -> Vec<String> {
        let r = &self.m.run;
        vec![
            self.round.to_string(),
            self.processes.to_string(),
            format!("{:.0}", r.rate()),
            format!("{:.2}", ms(r.percentile(0.5))),
            format!("{:.2}", ms(r.percentile(0.99))),
            format!("{:.2}", self.m.engine_mean * 1e3),
            format!("{:.2}", self.m.server_cores),
            format!("{:.2}", self.m.machine_cores),
            format!("{:.0}", self.m.rss_mib),
        ]
    }
}

fn main() {
    let settings = Settings::from_env();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let mut dir = tempfile::Builder::new().prefix("provisio-bench-login-").tempdir().unwrap();
        if env_or("KEEP_TEMP", 0u8) == 1 {
            eprintln!("servers' directories and logs kept in {}", dir.path().display());
            dir.disable_cleanup(true);
        }
        let idp = Arc::new(IdP::new(&dir.path().join("idp-key.pem")));
        let mut bench = Bench {
            idp,
            directory: None,
            creator: plugin_bytes("default-creator"),
            assigner: plugin_bytes("group-mapper"),
            spinner: plugin_bytes("hostile-loop"),
            http: http_client(),
            dir,
            next_label: 0,
            settings,
        };
        let s = &bench.settings;
        println!(
            "login path under load: {} workers, {:.1} s measured after {:.1} s warm-up, returning population {}",
            s.concurrency,
            s.duration.as_secs_f64(),
            s.warmup.as_secs_f64(),
            s.population
        );
        println!("server: {} (a fresh one and a fresh database per row)", provisio_bench::provisio_binary().display());

        let mut backends = s.backends.clone();
        let mut pg_note = None;
        if backends.contains(&Backend::Postgres) {
            match PgDatabase::create(&s.pg_admin).await {
                Ok(db) => db.drop_database().await,
                Err(e) => {
                    let note = format!(
                        "PostgreSQL at {} cannot be reached ({e}): THE POSTGRESQL ROWS ARE SKIPPED",
                        provisio_bench::url_with_database(&s.pg_admin, "…")
                    );
                    eprintln!("\n!!! {note}\n");
                    println!("!!! {note}");
                    pg_note = Some(note);
                    backends.retain(|b| *b != Backend::Postgres);
                }
            }
        }

        let mut rows = Vec::new();
        for backend in backends.clone() {
            for providers in Providers::ALL {
                for kind in [Kind::First, Kind::Returning] {
                    if !bench.settings.wants(&format!("{}-{}", providers.name(), kind.name())) {
                        continue;
                    }
                    eprintln!("{} {} {} …", backend.name(), providers.name(), kind.name());
                    let m = bench.measure_fresh(backend, providers, kind, 1).await;
                    let row = Row { backend, providers, kind, m };
                    print_row(&row);
                    rows.push(row);
                }
            }
        }

        let mut two = Vec::new();
        if backends.contains(&Backend::Postgres) && bench.settings.wants("two-processes") {
            println!("\ntwo processes on one PostgreSQL database: first logins, wasm, same total concurrency");
            for round in 1..=bench.settings.rounds {
                for processes in [1, 2] {
                    eprintln!("two-processes round {round}: {processes} process(es) …");
                    let m = bench.measure_fresh(Backend::Postgres, Providers::Wasm, Kind::First, processes).await;
                    let row = TwoRow { round, processes, m };
                    println!(
                        "  {}",
                        TWO_HEADER
                            .iter()
                            .zip(row.cells())
                            .map(|(h, c)| format!("{h} {c}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    two.push(row);
                }
            }
        }

        // The tables.
        let table: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
        let diffs = differences(&rows);
        let shadows = shadow_costs(&rows);
        let two_table: Vec<Vec<String>> = two.iter().map(TwoRow::cells).collect();
        let ratios: Vec<Vec<String>> = two
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| {
                let (one, both) = (&pair[0].m.run, &pair[1].m.run);
                vec![
                    pair[0].round.to_string(),
                    format!("{:.0}", one.rate()),
                    format!("{:.0}", both.rate()),
                    format!("{:.2}", both.rate() / one.rate()),
                ]
            })
            .collect();
        let ratio_header = ["round", "1 process rate/s", "2 processes rate/s", "2 / 1"];

        println!("\n== The login path under load ==");
        if let Some(note) = &pg_note {
            println!("!!! {note}");
        }
        println!("{}", plain(&HEADER, &table, 3));
        println!(
            "share/client = plugin time per login / client mean latency; share/engine = / server-side login \
             duration (target ≤ 10 %); plugin busy = plugin time per login × rate, the fraction of wall time \
             some plugin runs (on SQLite, inside the single write turn)"
        );
        for row in rows.iter().filter(|r| r.providers == Providers::Wasm && r.kind == Kind::First) {
            let share = pct(row.m.plugin_per_login, row.m.run.mean().as_secs_f64());
            let verdict = if share <= 10.0 { "met" } else { "NOT met" };
            println!("  {} first logins: plugin share of client latency {share:.1} % — {verdict}", row.backend.name());
        }
        if !diffs.is_empty() {
            println!("\nwasm − builtin, same backend and kind:");
            println!("{}", plain(&DIFF_HEADER, &diffs, 2));
        }
        if !shadows.is_empty() {
            println!(
                "\nshadow versions bound beside the wasm plugins (compared, shed, circuit-open: shadow calls per login):"
            );
            println!("{}", plain(&SHADOW_HEADER, &shadows, 3));
        }
        if !two.is_empty() {
            println!(
                "== Two processes on one PostgreSQL (first logins, wasm, {} workers in all) ==",
                bench.settings.concurrency
            );
            println!("{}", plain(&TWO_HEADER, &two_table, 0));
            println!("{}", plain(&ratio_header, &ratios, 0));
        }

        println!("\n---- markdown ----\n");
        println!("{}", markdown(&HEADER, &table, 3));
        if !diffs.is_empty() {
            println!("{}", markdown(&DIFF_HEADER, &diffs, 2));
        }
        if !shadows.is_empty() {
            println!("{}", markdown(&SHADOW_HEADER, &shadows, 3));
        }
        if !two.is_empty() {
            println!("{}", markdown(&TWO_HEADER, &two_table, 0));
            println!("{}", markdown(&ratio_header, &ratios, 0));
        }
    });
}
