//! SCIM 2.0 conformance, judged by two independent checkers (scim2-tester
//! and scim-sanity, which `tests/scim/conformance.py` runs from the
//! environment `scripts/setup-scim-checkers` makes) against a real
//! `provisio serve` on each backend: the tenant set up through the admin API
//! as an administrator would, a SCIM token issued to its domain, and the
//! checkers' whole output shown when they fail.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http::OPERATOR;
use crate::observability::{Server, call, until_listening};
use crate::{TestDatabase, root};

/// The email domain of the SCIM users (its claim approved by the operator).
const EMAIL_DOMAIN: &str = "acme-scim.example";
/// Where `conformance.py` reads the bearer token from (never its command line).
const TOKEN_VARIABLE: &str = "PROVISIO_SCIM_TOKEN";
/// How long the two checkers may take together before the test gives up.
const CHECKERS_TIMEOUT: Duration = Duration::from_secs(600);

#[test]
fn sqlite_passes_both_checkers() {
    let db = TestDatabase::sqlite();
    conformance(db.url().expose()).assert_passed("SQLite");
}

#[tokio::test]
async fn postgres_passes_both_checkers() {
    const VAR: &str = "PROVISIO_TEST_DATABASE_URL";
    assert!(
        std::env::var_os(VAR).is_some(),
        "{VAR} must be set: the SCIM conformance test runs on PostgreSQL too (e.g. postgres://postgres@127.0.0.1:5432/test)"
    );
    let db = TestDatabase::postgres().unwrap_or_else(|| panic!("{VAR} is set but gave no PostgreSQL database"));
    // The server finds its schema through the URL's search_path; the schema
    // is made (and migrated) here first, and dropped after.
    db.open().await.close().await;
    let url = db.url().expose();
    let schema = db.schema().unwrap_or_else(|| panic!("a PostgreSQL test database has a schema"));
    let separator = if url.contains('?') { '&' } else { '?' };
    let run = conformance(&format!("{url}{separator}options[search_path]={schema}"));
    db.cleanup().await;
    run.assert_passed("PostgreSQL");
}

/// What a run of the checkers left.
struct Run {
    status: ExitStatus,
    /// Their stdout and stderr, interleaved as written.
    output: String,
    server_log: String,
}

impl Run {
    fn assert_passed(&self, backend: &str) {
        if self.status.success() {
            let summary = self.output.lines().rfind(|l| l.starts_with("conformance:")).unwrap_or_default();
            println!("{backend}: {summary}");
            return;
        }
        let log: Vec<&str> = self.server_log.lines().collect();
        let tail = log[log.len().saturating_sub(60)..].join("\n");
        panic!(
            "the SCIM conformance checkers failed on {backend} ({}); their whole output:\n{}\n\
             ---- the last lines of the server's log ----\n{tail}",
            self.status, self.output
        );
    }
}

/// Starts `provisio serve` on `database_url`, sets a tenant up, issues a
/// SCIM token and runs the checkers against the domain's SCIM base URL.
fn conformance(database_url: &str) -> Run {
    let python = root().join("target/scim-venv/bin/python");
    assert!(
        python.is_file(),
        "no {}: install the SCIM conformance checkers with scripts/setup-scim-checkers",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (mut server, address, _stdout) = start(database_url, dir.path());
    let (domain, token) = tenant(&address);
    let base = format!("http://{address}/scim/v2/{domain}");

    let output_path = dir.path().join("conformance.out");
    let output = File::create(&output_path).unwrap_or_else(|e| panic!("{}: {e}", output_path.display()));
    let errors = output.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let mut checkers = Command::new(&python)
        .arg(root().join("tests/scim/conformance.py"))
        .args([base.as_str(), EMAIL_DOMAIN])
        .env(TOKEN_VARIABLE, &token)
        .env("PYTHONUNBUFFERED", "1")
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = checkers.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        if started.elapsed() > CHECKERS_TIMEOUT {
            timed_out = true;
            let _ = checkers.kill();
            break checkers.wait().unwrap_or_else(|e| panic!("{e}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut output = std::fs::read_to_string(&output_path).unwrap_or_default();
    if timed_out {
        output.push_str(&format!("\n(killed after {CHECKERS_TIMEOUT:?})\n"));
    }
    let _ = server.0.kill();
    let _ = server.0.wait();
    let server_log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    Run { status, output, server_log }
}

/// `provisio serve` on a free port of 127.0.0.1 over `database_url` (given
/// in its environment, as is the operator token: neither shows in process
/// lists), its data and log (`server.log`) in `dir`; the server, its address
/// and the rest of its stdout, kept open while it runs.
fn start(database_url: &str, dir: &Path) -> (Server, String, Lines<BufReader<ChildStdout>>) {
    let log_path = dir.join("server.log");
    let log = File::create(&log_path).unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
    let data = dir.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .current_dir(root())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("PROVISIO_DATABASE_URL", database_url)
        .env("PROVISIO_OPERATOR_TOKEN", OPERATOR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start provisio serve: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let (_, address) = until_listening(&mut lines);
    (server, address, lines)
}

/// `method path` as `token`, which must answer `status`; the answer's body.
fn expect(address: &str, method: &str, path: &str, token: &str, body: Option<Value>, status: u16) -> Value {
    let authorization = format!("Bearer {token}");
    let body = body.map(|b| b.to_string());
    let (got, _, answer) = call(address, method, path, &[("authorization", &authorization)], body.as_deref());
    assert_eq!(got, status, "{method} {path}: {answer}");
    answer
}

fn text(value: &Value, doing: &str) -> String {
    value.as_str().unwrap_or_else(|| panic!("{doing}: not a string: {value}")).to_owned()
}

/// An organization, its domain claiming [`EMAIL_DOMAIN`] (approved by the
/// operator, so verified) and a SCIM token of that domain: the domain's id
/// and the token.
fn tenant(address: &str) -> (String, String) {
    let created = expect(address, "POST", "/v1/organizations", OPERATOR, Some(json!({"name": "acme-scim"})), 201);
    let org = text(&created["organization"]["id"], "organization id");
    let token = text(&created["api_token"], "organization API token");
    let domain = json!({"name": "acme-scim", "email_domains": [EMAIL_DOMAIN]});
    let domain = expect(address, "POST", &format!("/v1/orgs/{org}/domains"), &token, Some(domain), 201);
    let domain = text(&domain["id"], "domain id");
    let approve = format!("/v1/orgs/{org}/domains/{domain}/email-domains/{EMAIL_DOMAIN}/approve");
    expect(address, "POST", &approve, OPERATOR, None, 200);
    let tokens = format!("/v1/orgs/{org}/domains/{domain}/scim-tokens");
    let issued = expect(address, "POST", &tokens, &token, Some(json!({"name": "okta"})), 201);
    assert_eq!(issued["token"]["name"], "okta", "{issued}");
    let scim_token = text(&issued["scim_token"], "SCIM token");
    assert!(scim_token.starts_with("pvs_"), "{issued}");
    (domain, scim_token)
}
