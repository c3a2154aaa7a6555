//! Verifying an email domain claim by its DNS TXT challenge, against a real
//! DNS server: dnsmasq on 127.0.0.1 (installed by scripts/test; the test
//! fails, never skips, without it).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{Method, StatusCode};
use provisio::dns::ChallengeResolver;
use provisio::http::HttpConfig;
use serde_json::{Value, json};

use crate::TestDatabase;
use crate::http::{OPERATOR, config, json_call, ok, organization, state};

/// A dnsmasq serving only the given TXT records (and `NXDOMAIN` for any
/// other name under `example`), killed when dropped.
struct Dnsmasq {
    child: Child,
    address: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dnsmasq binary: on the PATH, or where Debian puts it (`/usr/sbin`
/// is not on a normal user's PATH).
fn dnsmasq_binary() -> String {
    let on_path = Command::new("dnsmasq").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if on_path.is_ok_and(|s| s.success()) {
        return "dnsmasq".into();
    }
    if std::path::Path::new("/usr/sbin/dnsmasq").exists() {
        return "/usr/sbin/dnsmasq".into();
    }
    panic!("dnsmasq is needed for this test: install it (Debian: apt-get install dnsmasq-base; scripts/test does)")
}

impl Dnsmasq {
    /// Starts dnsmasq on a free port of 127.0.0.1 with `records` (name,
    /// value), and waits until it answers the first one.
    async fn start(records: &[(&str, &str)]) -> Self {
        let binary = dnsmasq_binary();
        let mut last_error = String::new();
        // A port free a moment ago may be taken before dnsmasq binds it:
        // then dnsmasq exits, and another port is tried.
        for _ in 0..5 {
            let port = {
                let socket = ok(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)), "bind a UDP socket");
                ok(socket.local_addr(), "local address").port()
            };
            let mut command = Command::new(&binary);
            command.args([
                "--no-daemon",
                "--keep-in-foreground",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                // Authoritative for `example`: a name without a record is
                // NXDOMAIN, as a real zone answers, not REFUSED.
                "--local=/example/",
            ]);
            for (name, value) in records {
                command.arg(format!("--txt-record={name},{value}"));
            }
            command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
            let child = ok(command.spawn(), "start dnsmasq");
            let mut dns = Self { child, address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)) };
            match dns.ready(records[0].0).await {
                Ok(()) => return dns,
                Err(e) => last_error = e,
            }
        }
        panic!("dnsmasq did not start: {last_error}")
    }

    /// Waits until dnsmasq answers `name`, or has exited (its stderr is the
    /// error). Bounded so that a broken dnsmasq fails the test.
    async fn ready(&mut self, name: &str) -> Result<(), String> {
        let resolver = ok(ChallengeResolver::name_server(self.address), "resolver");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = ok(self.child.try_wait(), "dnsmasq status") {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return Err(format!("dnsmasq exited ({status}): {stderr}"));
            }
            if resolver.txt_values(name).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("dnsmasq on {} did not answer {name}", self.address));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A domain `name` of `org` claiming `email_domains`; its id.
async fn domain(app: &Router, org: &str, token: &str, name: &str, email_domains: &[&str]) -> String {
    let body = json!({"name": name, "email_domains": email_domains});
    let domain = json_call(app, Method::POST, format!("/v1/orgs/{org}/domains"), Some(token), Some(body))
        .await
        .expect(StatusCode::CREATED, "create domain");
    domain["id"].as_str().unwrap_or_default().to_owned()
}

/// The domain's claim of `email_domain`, as `GET …/email-domains` lists it.
async fn claim(app: &Router, org: &str, token: &str, domain: &str, email_domain: &str) -> Value {
    let uri = format!("/v1/orgs/{org}/domains/{domain}/email-domains");
    let claims = json_call(app, Method::GET, uri, Some(token), None).await.expect(StatusCode::OK, "list claims");
    let found = claims.as_array().and_then(|c| c.iter().find(|c| c["email_domain"] == email_domain).cloned());
    found.unwrap_or_else(|| panic!("no claim of {email_domain} in {claims}"))
}

fn verify_uri(org: &str, domain: &str, email_domain: &str) -> String {
    format!("/v1/orgs/{org}/domains/{domain}/email-domains/{email_domain}/verify")
}

/// A claim is verified by its TXT record (one among others at the name);
/// a missing or wrong record answers 422 and leaves the claim pending;
/// another domain's pending claim then answers 409, as does a new claim;
/// another organization's token finds nothing.
#[tokio::test]
async fn claims_are_verified_by_their_dns_challenge() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let setup = provisio::http::router(state(&store, config()).await);

    let (acme, acme_token) = organization(&setup, "acme").await;
    let claimed = ["acme.example", "missing.example", "wrong.example"];
    let acme_domain = domain(&setup, &acme, &acme_token, "acme", &claimed).await;
    // Several domains may claim one email domain while it is pending.
    let (rival, rival_token) = organization(&setup, "rival").await;
    let rival_domain = domain(&setup, &rival, &rival_token, "rival", &["acme.example"]).await;

    let acme_claim = claim(&setup, &acme, &acme_token, &acme_domain, "acme.example").await;
    assert_eq!(acme_claim["state"], "pending", "{acme_claim}");
    let challenge_name = acme_claim["challenge_name"].as_str().unwrap_or_default().to_owned();
    let challenge = acme_claim["challenge"].as_str().unwrap_or_default().to_owned();
    assert_eq!(challenge_name, "_provisio-challenge.acme.example");
    assert!(challenge.starts_with("provisio-verify="), "{acme_claim}");
    let rival_claim = claim(&setup, &rival, &rival_token, &rival_domain, "acme.example").await;
    assert_ne!(rival_claim["challenge"], challenge.as_str(), "each claim has its own token");

    let wrong_value = "provisio-verify=0000000000000000000000000000000000000000";
    let dns = Dnsmasq::start(&[
        (&challenge_name, &challenge),
        (&challenge_name, "v=spf1 -all"),
        ("_provisio-challenge.wrong.example", wrong_value),
    ])
    .await;
    let app = provisio::http::router(state(&store, HttpConfig { dns_resolver: Some(dns.address), ..config() }).await);
    let t = Some(acme_token.as_str());

    // A missing record, and a record with another token: 422, naming the
    // name looked up, never the record's contents; the claims stay pending.
    let missing = json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "missing.example"), t, None).await;
    let missing = missing.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "no TXT record");
    let message = missing["message"].as_str().unwrap_or_default();
    assert!(message.contains("_provisio-challenge.missing.example"), "{missing}");
    assert!(message.contains("not found"), "{missing}");
    let wrong = json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "wrong.example"), t, None).await;
    let wrong = wrong.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "another token");
    let message = wrong["message"].as_str().unwrap_or_default();
    assert!(message.contains("_provisio-challenge.wrong.example"), "{wrong}");
    assert!(!message.contains(wrong_value), "the record is not echoed: {wrong}");
    // The operator may ask too.
    let by_operator =
        json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "wrong.example"), Some(OPERATOR), None);
    by_operator.await.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "the operator, another token");
    for pending in ["missing.example", "wrong.example"] {
        let c = claim(&app, &acme, &acme_token, &acme_domain, pending).await;
        assert_eq!((&c["state"], &c["verified_by"]), (&json!("pending"), &Value::Null), "{c}");
    }

    // Another organization's token on acme's claim: nothing there. A claim
    // the domain does not have: 404 too.
    let rival_t = Some(rival_token.as_str());
    let foreign = json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "acme.example"), rival_t, None).await;
    foreign.error(StatusCode::NOT_FOUND, "not-found", "another organization's token");
    let unknown = json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "other.example"), t, None).await;
    unknown.error(StatusCode::NOT_FOUND, "not-found", "no such claim");
    let not_acmes = json_call(&app, Method::POST, verify_uri(&acme, &rival_domain, "acme.example"), t, None).await;
    not_acmes.error(StatusCode::NOT_FOUND, "not-found", "the rival's domain under acme");

    // The published token verifies the claim, by DNS; again changes nothing.
    let verified = json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "acme.example"), t, None).await;
    let verified = verified.expect(StatusCode::OK, "verify");
    assert_eq!((&verified["state"], &verified["verified_by"]), (&json!("verified"), &json!("dns")), "{verified}");
    assert!(verified["verified_at"].is_i64(), "{verified}");
    let listed = claim(&app, &acme, &acme_token, &acme_domain, "acme.example").await;
    assert_eq!(listed, verified, "the list shows the verified claim");
    let again = json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "ACME.example"), t, None).await;
    assert_eq!(again.expect(StatusCode::OK, "verify again"), verified);

    // The rival's pending claim can no longer be verified, and no one may
    // claim the email domain any more.
    let rival_verify = verify_uri(&rival, &rival_domain, "acme.example");
    let rival_verify = json_call(&app, Method::POST, rival_verify, rival_t, None).await;
    rival_verify.error(StatusCode::CONFLICT, "conflict", "verified by another domain");
    let still = claim(&app, &rival, &rival_token, &rival_domain, "acme.example").await;
    assert_eq!(still["state"], "pending", "{still}");
    let (late, late_token) = organization(&app, "late").await;
    let body = json!({"name": "late", "email_domains": ["acme.example"]});
    let taken =
        json_call(&app, Method::POST, format!("/v1/orgs/{late}/domains"), Some(late_token.as_str()), Some(body)).await;
    taken.error(StatusCode::CONFLICT, "conflict", "a new claim of a verified email domain");

    // With no name server answering, the claim stays pending (422).
    drop(dns);
    let unanswered = json_call(&app, Method::POST, verify_uri(&acme, &acme_domain, "wrong.example"), t, None).await;
    let unanswered = unanswered.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "no name server");
    assert!(unanswered["message"].as_str().unwrap_or_default().contains("_provisio-challenge.wrong.example"));
    let c = claim(&app, &acme, &acme_token, &acme_domain, "wrong.example").await;
    assert_eq!(c["state"], "pending", "{c}");
    store.close().await;
}
