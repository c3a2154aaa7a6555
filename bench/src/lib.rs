//! What the benchmark programs that drive a real `provisio serve` share: a
//! [`Server`] child process, an admin API [`Client`], [`setup_tenant`], an
//! identity provider that mints ID tokens ([`IdP`]), a closed-loop load
//! generator ([`run_for`], [`run_count`]) over any [`Workload`], a
//! Prometheus text [`Scrape`], fresh PostgreSQL databases ([`PgDatabase`])
//! and a process's memory and CPU time from `/proc`.
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

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt as _, Full};
pub use hyper::body::Bytes;
pub use hyper::{Method, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use provisio::http::SessionSigner;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Paths and environment
// ---------------------------------------------------------------------------

/// The repository's root (where `target/plugins/` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bytes of `target/plugins/<name>.wasm`.
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = repo_root().join("target/plugins").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-plugins first)", path.display()))
}

/// The `provisio` binary next to the running program (`target/release/provisio`
/// for `target/release/login`).
pub fn provisio_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of this program");
    let path = exe.parent().expect("this program's directory").join("provisio");
    assert!(
        path.is_file(),
        "no provisio binary at {}: build it with `cargo build --release -p provisio` (or run `scripts/bench`)",
        path.display()
    );
    path
}

/// The environment variable `name` parsed, or `default` when it is unset;
/// panics when it is set but does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v} is not a valid value")),
        _ => default,
    }
}

/// A random lowercase hex string of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(raw)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------

/// hyper-util's pooled keep-alive HTTP/1 client, as the load generator uses it.
pub type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// A new pooled keep-alive client (connections are reused across requests
/// and phases; one per request in flight).
pub fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(300))
        .build(connector)
}

/// An answer: its status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body as received.
    pub body: Bytes,
}

impl Answer {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as JSON when the status is `status`; panics naming `doing` otherwise.
    pub fn expect(self, status: StatusCode, doing: &str) -> Value {
        assert_eq!(self.status, status, "{doing}: {}", self.text());
        self.json()
    }
}

/// Sends one request and reads the whole answer; panics when the server
/// cannot be reached.
async fn send(http: &HttpClient, request: hyper::Request<Full<Bytes>>) -> Answer {
    let uri = request.uri().clone();
    let response = http.request(request).await.unwrap_or_else(|e| panic!("{uri}: {e}"));
    let status = response.status();
    let body = response.into_body().collect().await.unwrap_or_else(|e| panic!("{uri}: {e}")).to_bytes();
    Answer { status, body }
}

/// A client of one server's HTTP API (admin calls, logins, `/metrics`).
#[derive(Clone)]
pub struct Client {
    base: String,
    http: HttpClient,
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), http: http_client() }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URI of `path` on this server.
    pub fn uri(&self, path: &str) -> Uri {
        format!("{}{path}", self.base).parse().unwrap_or_else(|e| panic!("{}{path}: {e}", self.base))
    }

    /// Calls `method path` with a bearer `token` and a JSON `body`, if any.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let mut builder = hyper::Request::builder().method(method).uri(self.uri(path));
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(b) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        send(&self.http, builder.body(Full::new(body)).unwrap()).await
    }

    /// Uploads a plugin to `org` (`POST /v1/orgs/{org}/plugins`, `application/wasm`).
    pub async fn upload(&self, org: &str, token: &str, bytes: &[u8]) -> Answer {
        let request = hyper::Request::post(self.uri(&format!("/v1/orgs/{org}/plugins")))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/wasm")
            .body(Full::new(Bytes::copy_from_slice(bytes)))
            .unwrap();
        send(&self.http, request).await
    }

    /// `POST /v1/login` with a JSON body given as bytes (see [`IdP::login_body`]).
    pub async fn login(&self, body: &Bytes) -> Answer {
        let request = hyper::Request::post(self.uri("/v1/login"))
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .unwrap();
        send(&self.http, request).await
    }

    /// `GET /metrics`, parsed.
    pub async fn metrics(&self) -> Scrape {
        let answer = self.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "GET /metrics: {}", answer.text());
        Scrape::parse(&answer.text())
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// How long a server may take to answer `/readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A `provisio serve` child process on a free port of 127.0.0.1, configured
/// only through `PROVISIO_*` variables (others from this program's own
/// environment pass through), its output in a log file. Killed when dropped
/// without [`Server::stop`].
pub struct Server {
    child: Mutex<Option<Child>>,
    pid: u32,
    addr: SocketAddr,
    base: String,
    operator_token: String,
    dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `provisio serve` over `database_url` with its data directory
    /// and log file in `dir` (created), and waits until `GET /readyz`
    /// answers 200. Panics, with the log's tail, when it dies or does not
    /// become ready.
    pub async fn start(database_url: &str, dir: &Path) -> Server {
        Self::start_with_env(database_url, dir, &[]).await
    }

    /// [`Server::start`] with more environment variables for the server
    /// (e.g. `PROVISIO_*` settings), set after the bench's own.
    pub async fn start_with_env(database_url: &str, dir: &Path, env: &[(&str, &str)]) -> Server {
        let binary = provisio_binary();
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let data = dir.join("data");
        let log = dir.join("server.log");
        let out = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().unwrap();
        let addr = free_port();
        let operator_token = random_hex(16);
        let child = Command::new(&binary)
            .arg("serve")
            .env("PROVISIO_LISTEN", addr.to_string())
            .env("PROVISIO_DATABASE_URL", database_url)
            .env("PROVISIO_DATA_DIR", &data)
            .env("PROVISIO_OPERATOR_TOKEN", &operator_token)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let server = Server {
            pid: child.id(),
            child: Mutex::new(Some(child)),
            addr,
            base: format!("http://{addr}"),
            operator_token,
            dir: dir.to_owned(),
            log,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let client = Client::new(&self.base);
        let started = Instant::now();
        loop {
            self.check_alive("while starting");
            let request = hyper::Request::get(client.uri("/readyz")).body(Full::new(Bytes::new())).unwrap();
            if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(2), client.http.request(request)).await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "provisio serve at {} not ready after {:?}; its log ends with:\n{}",
                self.base,
                READY_TIMEOUT,
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Panics, with the log's tail, when the process has exited.
    pub fn check_alive(&self, doing: &str) {
        let mut guard = self.child.lock().unwrap();
        let status = guard.as_mut().and_then(|c| c.try_wait().ok().flatten());
        drop(guard);
        if let Some(status) = status {
            panic!(
                "provisio serve at {} died {doing} ({status}); its log ends with:\n{}",
                self.base,
                self.log_tail(40)
            );
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The operator token it was given (may create organizations).
    pub fn operator_token(&self) -> &str {
        &self.operator_token
    }

    /// Its directory (data directory and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last `lines` lines of its output.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Its resident memory (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }

    /// The CPU time it has used so far (user + system, all threads).
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.pid())
    }

    /// Sends SIGTERM and waits for it to exit (killing it after 15 s);
    /// panics, with the log's tail, when it exits with a failure.
    pub async fn stop(self) {
        let Some(mut child) = self.child.lock().unwrap().take() else { return };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > STOP_TIMEOUT {
                eprintln!("provisio serve at {} ignored SIGTERM for {STOP_TIMEOUT:?}: killing it", self.base);
                let _ = child.kill();
                break child.wait().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let tail = self.log_tail(40);
        assert!(status.success(), "provisio serve at {} exited with {status}; its log ends with:\n{tail}", self.base);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().map(Option::take).unwrap_or_else(|e| e.into_inner().take());
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap()
}

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

/// A process's resident memory, as `/proc/<pid>/status` splits it, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: all of it.
    pub rss: u64,
    /// `RssAnon`: anonymous pages (heaps, compiled code made in the process).
    pub anon: u64,
    /// `RssFile`: file-backed pages (mapped files, which the kernel may drop).
    pub file: u64,
    /// `VmHWM`: the peak of `rss`.
    pub peak: u64,
}

/// A process's resident memory, or `None` when it cannot be read.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
    };
    Some(Memory { rss: field("VmRSS:")?, anon: field("RssAnon:")?, file: field("RssFile:")?, peak: field("VmHWM:")? })
}

/// A process's resident memory (`VmRSS` of `/proc/<pid>/status`), in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    memory(pid).map(|m| m.rss)
}

/// A process's CPU time so far, user + system over all its threads
/// (`/proc/<pid>/stat`, at the usual 100 clock ticks per second).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field of the line, utime and stime the 14th and 15th.
    let (_, rest) = stat.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The whole machine's CPU time so far, from `/proc/stat`: (busy, total),
/// summed over every CPU (idle and I/O wait are not busy).
pub fn machine_cpu() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((Duration::from_millis((total - idle) * 10), Duration::from_millis(total * 10)))
}

// ---------------------------------------------------------------------------
// The identity provider
// ---------------------------------------------------------------------------

/// An OpenID identity provider the benchmark owns: an Ed25519 key whose
/// public half goes inline into the provider's configuration, and ID tokens
/// signed with it (EdDSA), as `provisio demo token` mints them.
pub struct IdP {
    signer: SessionSigner,
}

impl IdP {
    /// The `iss` of its tokens.
    pub const ISSUER: &'static str = "https://idp.bench.example";
    /// The `aud` of its tokens.
    pub const AUDIENCE: &'static str = "provisio-bench";
    /// How long its tokens stay valid, in seconds (long enough to pre-mint
    /// them before a run).
    pub const TOKEN_TTL_SECS: u64 = 3600;

    /// An identity provider with its key kept at `key_file` (created when missing).
    pub fn new(key_file: &Path) -> Self {
        let signer =
            SessionSigner::new(Some(key_file), Self::ISSUER, Self::AUDIENCE, Duration::from_secs(Self::TOKEN_TTL_SECS))
                .unwrap_or_else(|e| panic!("identity provider key: {e}"));
        Self { signer }
    }

    /// The configuration of an `oidc` provider that trusts it (JWKS inline).
    pub fn provider_config(&self) -> Value {
        json!({"issuer": Self::ISSUER, "audience": Self::AUDIENCE, "jwks": self.signer.jwks()})
    }

    /// An ID token for `email` (verified) with these IdP groups, valid for
    /// [`IdP::TOKEN_TTL_SECS`].
    pub fn id_token(&self, email: &str, groups: &[&str]) -> String {
        let now = unix_now();
        let claims = json!({
            "iss": Self::ISSUER, "aud": Self::AUDIENCE, "sub": format!("bench|{email}"),
            "iat": now, "exp": now + Self::TOKEN_TTL_SECS, "email": email, "email_verified": true,
            "given_name": "Bench", "family_name": "User", "groups": groups,
        });
        self.signer.sign_any(&claims).unwrap_or_else(|e| panic!("signing an ID token: {e}"))
    }

    /// The body of `POST /v1/login` for an ID token of `email` at `domain`.
    pub fn login_body(&self, domain: &str, email: &str, groups: &[&str]) -> Bytes {
        Bytes::from(json!({"domain": domain, "id_token": self.id_token(email, groups)}).to_string())
    }
}

// ---------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------

/// The teams every benchmark organization has (`everyone` is the domain's
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
/// domain claiming `email_domain` with one OIDC provider, and that
/// provider's binding.
#[derive(Debug, Clone)]
pub struct TenantSpec<'a> {
    /// The organization's name.
    pub org: &'a str,
    /// The domain's name (what a login's `domain` says).
    pub domain: &'a str,
    /// The email domain the domain claims.
    pub email_domain: &'a str,
    /// The OIDC provider's configuration (see [`IdP::provider_config`]).
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
            provider_config,
            creator: None,
            assigner: None,
            config: demo_config(),
            sync_mode: "every-login",
        }
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
    /// The OIDC provider's id.
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
    let provider = json!({"name": "idp", "kind": "oidc", "config": spec.provider_config});
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

// ---------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------

/// One request of a load run.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method.
    pub method: Method,
    /// The full URI (which server, which path).
    pub uri: Uri,
    /// The JSON body.
    pub body: Bytes,
}

/// What a load run sends and what it accepts.
pub trait Workload: Send + Sync + 'static {
    /// The request number `seq` of the run (numbered from 0 across all
    /// workers, each number given once), sent by `worker`.
    fn call(&self, worker: usize, seq: u64) -> Call;

    /// Whether the answer to request `seq` is the expected one; the error
    /// says what was wrong.
    fn check(&self, worker: usize, seq: u64, status: StatusCode, body: &[u8]) -> Result<(), String>;
}

/// How many unexpected answers a run tolerates before [`Run::assert_few_errors`] panics.
pub const MAX_ERRORS: u64 = 5;

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Requests answered (expected or not).
    pub requests: u64,
    /// Answers that failed the workload's check, or requests that failed.
    pub errors: u64,
    /// The first few errors' descriptions.
    pub first_errors: Vec<String>,
    /// From the first request's start to the last answer.
    pub elapsed: Duration,
    /// Client-side latencies of every request, sorted.
    pub latencies: Vec<Duration>,
}

impl Run {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile latency (0 ≤ q ≤ 1).
    pub fn percentile(&self, q: f64) -> Duration {
        percentile(&self.latencies, q)
    }

    /// The mean latency.
    pub fn mean(&self) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.iter().sum::<Duration>() / u32::try_from(self.latencies.len()).unwrap_or(u32::MAX)
    }

    /// The largest latency.
    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// Panics, showing the first errors, when there were more than [`MAX_ERRORS`].
    pub fn assert_few_errors(&self, doing: &str) {
        assert!(
            self.errors <= MAX_ERRORS,
            "{doing}: {} of {} answers were not the expected ones; the first:\n{}",
            self.errors,
            self.requests,
            self.first_errors.join("\n")
        );
    }
}

/// The `q`-quantile of sorted durations (nearest rank), zero when empty.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
    sorted[i]
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `workload` closed-loop with `concurrency` workers for `duration`:
/// each worker sends a request, waits for the answer and sends the next one
/// until the time is up (the requests in flight then finish and count).
pub async fn run_for<W: Workload>(http: &HttpClient, workload: &Arc<W>, concurrency: usize, duration: Duration) -> Run {
    run(http, workload, concurrency, Some(Instant::now() + duration), u64::MAX).await
}

/// Runs `workload` with `concurrency` workers until requests `0..total`
/// have each been sent once.
pub async fn run_count<W: Workload>(http: &HttpClient, workload: &Arc<W>, concurrency: usize, total: u64) -> Run {
    run(http, workload, concurrency, None, total).await
}

async fn run<W: Workload>(
    http: &HttpClient,
    workload: &Arc<W>,
    concurrency: usize,
    deadline: Option<Instant>,
    total: u64,
) -> Run {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency.max(1) {
        let (http, workload, next) = (http.clone(), Arc::clone(workload), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut run = Run { latencies: Vec::with_capacity(1 << 14), ..Run::default() };
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total {
                    break;
                }
                let call = workload.call(worker, seq);
                let request = hyper::Request::builder()
                    .method(call.method)
                    .uri(call.uri)
                    .header("content-type", "application/json")
                    .body(Full::new(call.body))
                    .unwrap();
                let t = Instant::now();
                let result = match http.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        match response.into_body().collect().await {
                            Ok(body) => Ok((status, body.to_bytes())),
                            Err(e) => Err(format!("request {seq}: reading the answer: {e}")),
                        }
                    }
                    Err(e) => Err(format!("request {seq}: {e}")),
                };
                let latency = t.elapsed();
                run.requests += 1;
                run.latencies.push(latency);
                let verdict = result.and_then(|(status, body)| {
                    workload.check(worker, seq, status, &body).map_err(|e| {
                        let text = String::from_utf8_lossy(&body);
                        let text: String = text.chars().take(600).collect();
                        format!("request {seq}, {:.1} ms: {e} ({status}: {text})", ms(latency))
                    })
                });
                if let Err(e) = verdict {
                    run.errors += 1;
                    if run.first_errors.len() < 3 {
                        run.first_errors.push(e);
                    }
                }
            }
            run
        }));
    }
    let mut all = Run::default();
    for worker in workers {
        let run = worker.await.expect("a load worker panicked");
        all.requests += run.requests;
        all.errors += run.errors;
        let room = 3usize.saturating_sub(all.first_errors.len());
        all.first_errors.extend(run.first_errors.into_iter().take(room));
        all.latencies.extend(run.latencies);
    }
    all.elapsed = started.elapsed();
    all.latencies.sort_unstable();
    all
}

// ---------------------------------------------------------------------------
// /metrics
// ---------------------------------------------------------------------------

/// One sample of a Prometheus text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (`provisio_login_duration_seconds_sum`).
    pub name: String,
    /// The labels as written between the braces (`hook="create"`), or empty.
    pub labels: String,
    /// The value.
    pub value: f64,
}

/// A scrape of `/metrics`: every sample, in order.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the Prometheus text format (comments skipped, no timestamps expected).
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = match line.rsplit_once(' ') {
                Some((s, v)) => (s.trim(), v.trim()),
                None => continue,
            };
            let Ok(value) = value.parse::<f64>() else { continue };
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            samples.push(Sample { name: name.to_owned(), labels: labels.to_owned(), value });
        }
        Self { samples }
    }

    /// The value of the series `name` whose labels are exactly `labels` (as written, or empty).
    pub fn value(&self, name: &str, labels: &str) -> Option<f64> {
        self.samples.iter().find(|s| s.name == name && s.labels == labels).map(|s| s.value)
    }

    /// The sum of every series named `name`, whatever its labels (0 when none).
    pub fn sum(&self, name: &str) -> f64 {
        self.samples.iter().filter(|s| s.name == name).map(|s| s.value).sum()
    }

    /// The sum over these scrapes of [`Scrape::sum`] (several servers).
    pub fn sum_all(scrapes: &[Scrape], name: &str) -> f64 {
        scrapes.iter().map(|s| s.sum(name)).sum()
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

/// The PostgreSQL server used by default: user `postgres`, database `test`.
pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `url` with its database name replaced by `database`.
pub fn url_with_database(url: &str, database: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let scheme_end = main.find("://").map_or(0, |i| i + 3);
    let host_end = main[scheme_end..].find('/').map_or(main.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &main[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A fresh PostgreSQL database `provisio_bench_<random hex>`, created over
/// an admin connection and dropped by [`PgDatabase::drop_database`] (or,
/// when a panic unwinds past it, when it is dropped).
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

async fn pg_execute(admin_url: &str, sql: String) -> Result<(), String> {
    use sqlx::Connection as _;
    let connect = sqlx::PgConnection::connect(admin_url);
    let mut conn = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| format!("no answer from {admin_url} within 5 s"))?
        .map_err(|e| format!("{e}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.map_err(|e| format!("{e}"))?;
    conn.close().await.map_err(|e| format!("{e}"))
}

impl PgDatabase {
    /// Creates a fresh database on the server of `admin_url`; the error
    /// says why when the server cannot be reached.
    pub async fn create(admin_url: &str) -> Result<Self, String> {
        let name = format!("provisio_bench_{}", random_hex(6));
        pg_execute(admin_url, format!("CREATE DATABASE \"{name}\"")).await?;
        Ok(Self { admin_url: admin_url.to_owned(), url: url_with_database(admin_url, &name), name, dropped: false })
    }

    /// Its URL (the admin URL with this database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn drop_sql(&self) -> String {
        format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)
    }

    /// Drops it (after the servers using it have stopped).
    pub async fn drop_database(mut self) {
        self.dropped = true;
        if let Err(e) = pg_execute(&self.admin_url, self.drop_sql()).await {
            eprintln!("warning: could not drop database {}: {e}", self.name);
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Not dropped explicitly (a panic is unwinding): drop it from a
        // runtime of its own, since this may run inside another one.
        let (admin_url, sql) = (self.admin_url.clone(), self.drop_sql());
        let dropping = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(pg_execute(&admin_url, sql)).ok()
        });
        if dropping.join().ok().flatten().is_none() {
            eprintln!("warning: could not drop database {}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_and_urls() {
        let text = "# HELP x y\nprovisio_login_duration_seconds_sum 1.5\nprovisio_login_duration_seconds_count 3\n\
            provisio_plugin_call_duration_seconds_sum{hook=\"assign\"} 0.25\n\
            provisio_plugin_call_duration_seconds_sum{hook=\"create\"} 0.5\n";
        let s = Scrape::parse(text);
        assert_eq!(s.value("provisio_login_duration_seconds_count", ""), Some(3.0));
        assert_eq!(s.value("provisio_plugin_call_duration_seconds_sum", "hook=\"create\""), Some(0.5));
        assert_eq!(s.sum("provisio_plugin_call_duration_seconds_sum"), 0.75);
        assert_eq!(
            url_with_database("postgres://postgres@127.0.0.1:5432/test", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(url_with_database("postgres://h/test?sslmode=disable", "b"), "postgres://h/b?sslmode=disable");
        assert_eq!(url_with_database("postgres://h", "b"), "postgres://h/b");
    }
}
