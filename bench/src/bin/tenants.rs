//! Many tenants: `provisio serve` with 1, 1,000 and 10,000 organizations,
//! each with its own version of the group mapper as its assignment provider
//! (the same logic, a distinct content hash: the component carries a custom
//! section naming its tenant), and first logins spread uniformly across them.
//! At each step, first the logins of one tenant (the baseline, on the same
//! server with the same data and caches), then the logins spread over all:
//! rate, p50 and p99, the plugin cache's hit rate and the loads its misses
//! caused, and the server's resident memory.
//!
//! The organizations are added step by step to one server on an SQLite file,
//! through the admin API as a user would (each upload compiles its plugin).
//! With `ALL_LOADED=1`, the server is then restarted with a memory bound that
//! holds every plugin, warmed with one login per tenant, and measured again,
//! to show what the bound buys.
//!
//! Run with `scripts/bench tenants`. Environment: `TENANTS` (default
//! `1,1000,10000`), `CONCURRENCY` (32), `DURATION_SECS` (15), `WARMUP_SECS`
//! (3), `SETUP_CONCURRENCY` (2), `ALL_LOADED` (unset). `PROVISIO_*`
//! variables reach the server (e.g. `PROVISIO_MAX_LOADED_BYTES`).

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use provisio_bench::{
    Bytes, Call, Client, HttpClient, IdP, Memory, Method, Run, Scrape, Server, StatusCode, Tenant, TenantSpec, Uri,
    Workload, env_or, memory, ms, plugin_bytes, setup_tenant,
};

/// The IdP groups of every login: the group mapper maps `Engineering` to a
/// team and a role.
const GROUPS: &[&str] = &["Engineering"];

/// `component` with a custom section `provisio-bench-tenant` holding `n`: the
/// same code, another content hash.
fn tenant_version(component: &[u8], n: u64) -> Vec<u8> {
    let name = b"provisio-bench-tenant";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(&n.to_le_bytes());
    let mut out = component.to_vec();
    out.push(0); // a custom section
    let mut len = section.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&section);
    out
}

/// Which tenant request `seq` goes to: a fixed pseudo-random spread
/// (SplitMix64), uniform over `tenants`.
fn tenant_of(seq: u64, tenants: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % tenants
}

/// First logins of new people, spread across the first `tenants` tenants.
struct SpreadLogins {
    uri: Uri,
    idp: Arc<IdP>,
    tenants: u64,
    /// Distinguishes the people of one phase from another's.
    phase: String,
    /// Pre-minted bodies; past them, bodies are minted on the fly.
    bodies: Vec<Bytes>,
    minted_late: AtomicU64,
}

impl SpreadLogins {
    /// The login of person `seq` of `phase` at tenant `t`.
    fn body(idp: &IdP, phase: &str, seq: u64, t: u64) -> Bytes {
        idp.login_body(&format!("t{t}"), &format!("u{seq}-{phase}@t{t}.example"), GROUPS)
    }

    fn new(server: &Server, idp: &Arc<IdP>, tenants: u64, phase: &str, premint: u64) -> Arc<Self> {
        let phase = &phase.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let bodies = (0..premint).map(|seq| Self::body(idp, phase, seq, tenant_of(seq, tenants))).collect();
        Arc::new(Self {
            uri: Client::new(server.base()).uri("/v1/login"),
            idp: Arc::clone(idp),
            tenants,
            phase: phase.to_owned(),
            bodies,
            minted_late: AtomicU64::new(0),
        })
    }
}

impl Workload for SpreadLogins {
    fn call(&self, _worker: usize, seq: u64) -> Call {
        let body = match self.bodies.get(seq as usize) {
            Some(body) => body.clone(),
            None => {
                self.minted_late.fetch_add(1, Ordering::Relaxed);
                Self::body(&self.idp, &self.phase, seq, tenant_of(seq, self.tenants))
            }
        };
        Call { method: Method::POST, uri: self.uri.clone(), body }
    }

    fn check(&self, _worker: usize, _seq: u64, status: StatusCode, body: &[u8]) -> Result<(), String> {
        let want = b"\"newly_created\":true";
        match status == StatusCode::OK && body.windows(want.len()).any(|w| w == want) {
            true => Ok(()),
            false => Err("expected a first login".into()),
        }
    }
}

/// Logins that visit every tenant once, in order (to load every plugin).
struct EveryTenant {
    inner: Arc<SpreadLogins>,
}

impl Workload for EveryTenant {
    fn call(&self, _worker: usize, seq: u64) -> Call {
        let t = seq % self.inner.tenants;
        let body =
            self.inner.idp.login_body(&format!("t{t}"), &format!("w{seq}-{}@t{t}.example", self.inner.phase), GROUPS);
        Call { method: Method::POST, uri: self.inner.uri.clone(), body }
    }

    fn check(&self, worker: usize, seq: u64, status: StatusCode, body: &[u8]) -> Result<(), String> {
        self.inner.check(worker, seq, status, body)
    }
}

/// One measured phase.
struct Row {
    label: String,
    /// Organizations on the server.
    orgs: u64,
    /// How many of them the logins were spread over.
    tenants: u64,
    setup: Option<Duration>,
    run: Run,
    hits: f64,
    misses: f64,
    disk_loads: f64,
    compiles: f64,
    loaded: f64,
    loaded_mib: f64,
    memory: Memory,
}

struct Bench {
    http: HttpClient,
    idp: Arc<IdP>,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
}

impl Bench {
    /// Warms up, then measures first logins spread over `tenants`.
    async fn measure(&self, server: &Server, label: &str, orgs: u64, tenants: u64, setup: Option<Duration>) -> Row {
        let phase = format!("{label}-{orgs}-{tenants}");
        let warm = SpreadLogins::new(server, &self.idp, tenants, &format!("{phase}-warm"), 0);
        let run = provisio_bench::run_for(&self.http, &warm, self.concurrency, self.warmup).await;
        run.assert_few_errors("warm-up");
        let n = ((run.rate() * self.duration.as_secs_f64() * 2.0) as u64).clamp(2000, 1_000_000);
        let timed = SpreadLogins::new(server, &self.idp, tenants, &phase, n);
        let client = Client::new(server.base());
        let before = client.metrics().await;
        let run = provisio_bench::run_for(&self.http, &timed, self.concurrency, self.duration).await;
        let after = client.metrics().await;
        server.check_alive("during the measurement");
        run.assert_few_errors("measurement");
        let late = timed.minted_late.load(Ordering::Relaxed);
        if late > 0 {
            eprintln!("  {late} ID tokens minted during the run");
        }
        let delta = |name: &str, labels: &[(&str, &str)]| {
            after.value(name, labels).unwrap_or(0.0) - before.value(name, labels).unwrap_or(0.0)
        };
        let gauge = |scrape: &Scrape, name: &str| scrape.value(name, &[]).unwrap_or(0.0);
        Row {
            label: label.to_owned(),
            orgs,
            tenants,
            setup,
            hits: delta("provisio_plugin_cache_hits_total", &[]),
            misses: delta("provisio_plugin_cache_misses_total", &[]),
            disk_loads: delta("provisio_plugin_loads_total", &[("source", "disk")]),
            compiles: delta("provisio_plugin_loads_total", &[("source", "compiled")]),
            loaded: gauge(&after, "provisio_plugin_cache_entries"),
            loaded_mib: gauge(&after, "provisio_plugin_cache_bytes") / (1 << 20) as f64,
            memory: memory(server.pid()).unwrap_or_default(),
            run,
        }
    }
}

/// Adds tenants `from..to`, `parallel` at a time.
async fn add_tenants(server: &Server, idp: &IdP, base: &Arc<Vec<u8>>, from: u64, to: u64, parallel: usize) {
    let next = Arc::new(AtomicU64::new(from));
    let config = idp.provider_config();
    let mut workers = Vec::new();
    for _ in 0..parallel.max(1) {
        let (next, base, config) = (Arc::clone(&next), Arc::clone(base), config.clone());
        let (client, operator) = (Client::new(server.base()), server.operator_token().to_owned());
        workers.push(tokio::spawn(async move {
            loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= to {
                    break;
                }
                let name = format!("t{t}");
                let email_domain = format!("t{t}.example");
                let assigner = tenant_version(&base, t);
                let spec =
                    TenantSpec::new(&name, &name, &email_domain, config.clone()).with_plugins(None, Some(&assigner));
                let tenant: Tenant = setup_tenant(&client, &operator, &spec).await;
                assert!(tenant.assigner.is_some());
                if (t + 1) % 1000 == 0 {
                    eprintln!("  {} tenants", t + 1);
                }
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a set-up worker panicked");
    }
}

fn cells(row: &Row, baseline_p99: Duration, first_p99: Duration) -> Vec<String> {
    let lookups = row.hits + row.misses;
    let hit = if lookups > 0.0 { 100.0 * row.hits / lookups } else { 0.0 };
    let secs = row.run.elapsed.as_secs_f64();
    vec![
        row.label.clone(),
        row.orgs.to_string(),
        row.tenants.to_string(),
        row.setup.map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64())),
        format!("{:.0}", row.run.rate()),
        format!("{:.2}", ms(row.run.percentile(0.5))),
        format!("{:.2}", ms(row.run.percentile(0.99))),
        format!("{:.2}×", row.run.percentile(0.99).as_secs_f64() / baseline_p99.as_secs_f64()),
        format!("{:.2}×", row.run.percentile(0.99).as_secs_f64() / first_p99.as_secs_f64()),
        format!("{hit:.1}%"),
        format!("{:.0}", row.disk_loads / secs),
        format!("{:.0}", row.compiles),
        format!("{:.0} ({:.0} MiB)", row.loaded, row.loaded_mib),
        format!("{:.0}", row.memory.rss as f64 / 1024.0),
        format!("{:.0} + {:.0}", row.memory.anon as f64 / 1024.0, row.memory.file as f64 / 1024.0),
        format!("{:.0}", row.memory.peak as f64 / 1024.0),
    ]
}

const HEADER: [&str; 16] = [
    "server",
    "orgs",
    "logins over",
    "set-up s",
    "logins/s",
    "p50 ms",
    "p99 ms",
    "p99 / one tenant, same server",
    "p99 / one org",
    "cache hits",
    "disk loads/s",
    "compiles",
    "plugins loaded",
    "RSS MiB",
    "anon + file MiB",
    "peak RSS MiB",
];

/// The table; each row's p99 against the one-tenant phase measured on the
/// same server just before it, and against the first row (one organization).
fn print_table(rows: &[Row]) {
    let p99 = |r: &Row| r.run.percentile(0.99);
    let first = rows.first().map_or(Duration::from_millis(1), p99);
    println!("\n| {} |", HEADER.join(" | "));
    println!("|{}|", HEADER.iter().map(|_| " --- ").collect::<Vec<_>>().join("|"));
    let mut baseline = first;
    for row in rows {
        if row.tenants == 1 {
            baseline = p99(row);
        }
        println!("| {} |", cells(row, baseline, first).join(" | "));
    }
}

#[tokio::main]
async fn main() {
    let steps: Vec<u64> = std::env::var("TENANTS")
        .unwrap_or_else(|_| "1,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("TENANTS: comma-separated numbers"))
        .collect();
    let parallel: usize = env_or("SETUP_CONCURRENCY", 2);
    let all_loaded = std::env::var("ALL_LOADED").is_ok_and(|v| v == "1");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bench = Bench {
        http: provisio_bench::http_client(),
        idp: Arc::new(IdP::new(&dir.path().join("idp-key.pem"))),
        concurrency: env_or("CONCURRENCY", 32),
        duration: Duration::from_secs(env_or("DURATION_SECS", 15)),
        warmup: Duration::from_secs(env_or("WARMUP_SECS", 3)),
    };
    let base = Arc::new(plugin_bytes("group-mapper"));
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("provisio.db").display());
    let server_dir = dir.path().join("server");
    println!(
        "many tenants: first logins spread uniformly, concurrency {}, {} s per step after a {} s warm-up",
        bench.concurrency,
        bench.duration.as_secs(),
        bench.warmup.as_secs()
    );

    let server = Server::start(&database, &server_dir).await;
    let mut rows = Vec::new();
    let mut have = 0;
    for &n in &steps {
        let t = Instant::now();
        add_tenants(&server, &bench.idp, &base, have, n, parallel).await;
        let setup = t.elapsed();
        eprintln!("{n} tenants set up ({} new in {:.0} s)", n - have, setup.as_secs_f64());
        have = n;
        // One tenant's logins on this very server first: the baseline of
        // the spread phase that follows, with the same data and caches.
        if n > 1 {
            rows.push(bench.measure(&server, "default bound", n, 1, None).await);
        }
        rows.push(bench.measure(&server, "default bound", n, n, Some(setup)).await);
        print_table(&rows);
    }
    server.stop().await;

    if all_loaded {
        // Every plugin fits: 4 MiB per tenant is ten times a group mapper's image.
        let bound = (have * 4) << 20;
        let server =
            Server::start_with_env(&database, &server_dir, &[("PROVISIO_MAX_LOADED_BYTES", &bound.to_string())]).await;
        let warm = Arc::new(EveryTenant { inner: SpreadLogins::new(&server, &bench.idp, have, "every", 0) });
        let t = Instant::now();
        let run = provisio_bench::run_count(&bench.http, &warm, bench.concurrency, have).await;
        run.assert_few_errors("loading every plugin");
        eprintln!("every plugin loaded from disk by one login per tenant in {:.1} s", t.elapsed().as_secs_f64());
        rows.push(bench.measure(&server, "all loaded", have, 1, None).await);
        rows.push(bench.measure(&server, "all loaded", have, have, None).await);
        server.stop().await;
    }
    print_table(&rows);
}
