//! What `provisio serve` writes to its log, as an operator reads it: with
//! `PROVISIO_LOG_FORMAT=json` every line is a JSON object; every request is
//! a `request` span with its method, matched route and request id, and an
//! event with its status; a login is a span inside it, and each plugin call
//! a span inside the login's; and no password, operator token, organization API
//! token, session token or ID token appears anywhere, at any level.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A `provisio serve` child process, killed when dropped (the SCIM
/// conformance test starts its own with it too).
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// One HTTP/1.1 request; the status, the answer's `x-request-id` and the
/// body (JSON, or a string when it is not JSON).
pub(crate) fn call(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {address}: {e}"));
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("{e}"));
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no body: {response}"));
    let request_id = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("x-request-id")))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    (status, request_id, body)
}

/// What the server printed before its `listening on` line, and the
/// address that line names.
pub(crate) fn until_listening(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> (String, String) {
    let mut printed = String::new();
    let address = lines.map_while(Result::ok).find_map(|line| {
        let address = line.strip_prefix("provisio: listening on http://").map(str::to_owned);
        printed.extend(address.is_none().then(|| format!("{line}\n")));
        address
    });
    let address = address.unwrap_or_else(|| panic!("the server did not start: {printed}"));
    (printed, address)
}

/// The word after `label` in the demo's printed instructions.
fn printed_after<'a>(printed: &'a str, label: &str) -> &'a str {
    printed
        .split(label)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("`{label}` not printed: {printed}"))
}

#[test]
fn logs_are_json_with_request_spans_and_no_secret() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("provisio.db").display());
    let data = dir.path().to_string_lossy().into_owned();
    let operator_token = format!("operator-{}", std::process::id());
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .current_dir(crate::root())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--database-url", &db, "--data-dir", &data])
        .env("PROVISIO_OPERATOR_TOKEN", &operator_token)
        .env("PROVISIO_LOG", "trace,hyper=info,hyper_util=info,h2=info,tokio=info,runtime=info")
        .env("PROVISIO_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start provisio serve: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut server = Server(child);
    let log = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    let mut lines = BufReader::new(stdout).lines();
    let (printed, address) = until_listening(&mut lines);
    let org = printed_after(&printed, "PROVISIO_ORG=").to_owned();
    let org_token = printed_after(&printed, "organization token").to_owned();
    assert_eq!(printed_after(&printed, "operator token"), operator_token, "the variable set the operator token");
    let password = "alice-demo-password";

    // A password login, with the caller's own request id.
    let body = format!(r#"{{"email": "alice@demo.example", "password": "{password}"}}"#);
    let (status, request_id, answer) =
        call(&address, "POST", "/v1/login", &[("x-request-id", "obs-login-1")], Some(&body));
    assert_eq!((status, request_id.as_str()), (200, "obs-login-1"), "{answer}");
    let session = answer["session_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned();
    // A refused one; an unusable request id is replaced.
    let wrong = r#"{"email": "alice@demo.example", "password": "not-the-password"}"#;
    let (status, replaced, _) = call(&address, "POST", "/v1/login", &[("x-request-id", "bad id!")], Some(wrong));
    assert_eq!(status, 401);
    assert!(!replaced.is_empty() && replaced != "bad id!", "{replaced}");

    // An ID token login (a first login: the account is made just in time).
    let minted = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .current_dir(crate::root())
        .args(["demo", "token", "--email", "bob@demo.example", "--groups", "Engineering", "--data-dir", &data])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(minted.status.success(), "{minted:?}");
    let id_token = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
    let body = format!(r#"{{"domain": "demo", "id_token": "{id_token}"}}"#);
    let (status, _, answer) = call(&address, "POST", "/v1/login", &[], Some(&body));
    assert_eq!(status, 200, "{answer}");
    let id_session = answer["session_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned();

    // The tokens at work in headers, and a new API token in an answer.
    let bearer = |token: &str| format!("Bearer {token}");
    let (status, _, answer) =
        call(&address, "GET", "/v1/organizations", &[("authorization", &bearer(&operator_token))], None);
    assert_eq!(status, 200, "{answer}");
    let audit = format!("/v1/orgs/{org}/audit?limit=5");
    let (status, _, answer) = call(&address, "GET", &audit, &[("authorization", &bearer(&org_token))], None);
    assert_eq!(status, 200, "{answer}");
    let tokens = format!("/v1/orgs/{org}/tokens");
    let (status, _, answer) =
        call(&address, "POST", &tokens, &[("authorization", &bearer(&org_token))], Some(r#"{"name": "ci"}"#));
    assert_eq!(status, 201, "{answer}");
    let new_token = answer["api_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned();
    let (status, _, answer) =
        call(&address, "GET", "/v1/me/invitations", &[("authorization", &bearer(&session)), ("cookie", "s=1")], None);
    assert_eq!(status, 200, "{answer}");
    let (status, _, metrics) = call(&address, "GET", "/metrics", &[], None);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert_eq!(status, 200);
    assert!(metrics.contains("provisio_logins_total{outcome=\"success\"} 2"), "{metrics}");
    assert!(metrics.ends_with("# EOF\n"), "OpenMetrics text ends with EOF: {metrics}");

    // SIGTERM, and the whole log.
    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let status = server.0.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
    let log = log.join().unwrap_or_else(|_| panic!("the log reader failed"));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();

    let events: Vec<Value> = log
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    assert!(events.len() > 10, "a trace-level log of all this: {log:#?}");
    // The login's answer: its span has the method, route and caller's id; its event the status.
    let answered = |id: &str, status: u64| {
        events.iter().any(|e| {
            e["span"]["name"] == "request"
                && e["span"]["method"] == "POST"
                && e["span"]["route"] == "/v1/login"
                && e["span"]["request_id"] == id
                && e["fields"]["status"] == status
        })
    };
    assert!(answered("obs-login-1", 200), "the login's request span and status: {log:#?}");
    assert!(answered(&replaced, 401), "the refused login, under the new id: {log:#?}");
    assert!(
        events.iter().any(|e| e["span"]["route"] == "/v1/orgs/{org}/audit" && e["fields"]["status"] == 200),
        "routes are the matched patterns: {log:#?}"
    );
    // Each login is a span inside its request's, with its outcome; each
    // plugin call a span inside the login's, with hook, plugin, fuel and outcome.
    let login_ended = |outcome: &str| {
        events.iter().any(|e| {
            e["fields"]["message"] == "login"
                && e["fields"]["outcome"] == outcome
                && e["span"]["name"] == "login"
                && e["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["name"] == "request"))
        })
    };
    assert!(login_ended("success"), "the login span and its outcome: {log:#?}");
    assert!(login_ended("authentication-failed"), "the refused login's outcome: {log:#?}");
    for hook in ["create", "assign"] {
        let called = events.iter().any(|e| {
            e["fields"]["message"] == "plugin call"
                && e["span"]["name"] == "plugin_call"
                && e["span"]["hook"] == hook
                && e["span"]["plugin"].as_str().is_some_and(|h| h.len() == 64)
                && e["fields"]["outcome"] == "decision"
                && e["fields"]["fuel"].as_u64().is_some_and(|f| f > 0)
                && e["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["name"] == "login" && s["domain"] == "demo"))
        });
        assert!(called, "the {hook} plugin call's span inside the login's: {log:#?}");
    }

    let secrets = [
        ("the password", password),
        ("the wrong password", "not-the-password"),
        ("the operator token", &operator_token),
        ("the organization API token", &org_token),
        ("the new API token", &new_token),
        ("the session token", &session),
        ("the ID token's session token", &id_session),
        ("the ID token", &id_token),
    ];
    for line in log.iter().chain(&rest) {
        for (what, secret) in secrets {
            assert!(!line.contains(secret), "{what} is in the log: {line}");
        }
        // Nor any part of a JWT (its signature is its last 43 characters).
        for token in [&session, &id_session, &id_token] {
            let signature = token.rsplit('.').next().unwrap_or_default();
            assert!(!line.contains(signature), "a token's signature is in the log: {line}");
        }
        let lower = line.to_lowercase();
        assert!(!lower.contains("authorization") && !lower.contains("cookie"), "a header is in the log: {line}");
    }
}
