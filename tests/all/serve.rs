//! `provisio serve --demo` as a newcomer runs it: the server starts on a real
//! port, the printed password login works, a token from `provisio demo token`
//! provisions an account just in time, and SIGTERM stops it gracefully.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub(crate) fn provisio() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_provisio"));
    command.current_dir(crate::root());
    command
}

/// A minimal HTTP/1.1 POST of a JSON body; returns the status and the body.
pub(crate) fn post_json(address: &str, path: &str, body: &str) -> (u16, Value) {
    request(address, "POST", path, None, body)
}

/// A minimal HTTP/1.1 request with a JSON body and a bearer token; returns
/// the status and the body.
pub(crate) fn request(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {address}: {e}"));
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("{e}"));
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (_, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no body: {response}"));
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

/// A running `provisio serve`; killed when dropped.
pub(crate) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// Starts `provisio serve --demo` on a free loopback port over a database in
/// `dir`: the server, its address and what it printed before listening.
pub(crate) fn start_demo(dir: &std::path::Path) -> (Server, String, String) {
    let db = format!("sqlite://{}?mode=rwc", dir.join("provisio.db").display());
    let data = dir.to_string_lossy().into_owned();
    let mut child = provisio()
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--database-url", &db, "--data-dir", &data])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start provisio serve: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let server = Server(child);
    let mut printed = String::new();
    let mut address = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_else(|e| panic!("{e}"));
        if let Some(a) = line.strip_prefix("provisio: listening on http://") {
            address = Some(a.to_owned());
            break;
        }
        printed.push_str(&line);
        printed.push('\n');
    }
    let address = address.unwrap_or_else(|| panic!("the server did not start: {printed}"));
    (server, address, printed)
}

#[test]
fn the_demo_server_provisions_a_first_login_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().to_string_lossy().into_owned();
    let (mut server, address, printed) = start_demo(dir.path());
    assert!(printed.contains("alice-demo-password") && printed.contains("provisio demo token"), "{printed}");

    let (status, body) =
        post_json(&address, "/v1/login", r#"{"email": "alice@demo.example", "password": "alice-demo-password"}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account"]["username"], "alice");

    let token = provisio()
        .args(["demo", "token", "--email", "bob@demo.example", "--groups", "Engineering", "--data-dir", &data])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let (status, body) = post_json(&address, "/v1/login", &format!(r#"{{"domain": "demo", "id_token": "{token}"}}"#));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["newly_created"], true, "{body}");
    let teams: Vec<&str> = body["memberships"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["kind"] == "team").filter_map(|m| m["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(teams, ["engineering"], "{body}");

    let (status, body) = post_json(&address, "/v1/login", r#"{"email": "alice@demo.example", "password": "nope"}"#);
    assert_eq!(status, 401, "{body}");

    // The admin verbs, with what the demo printed: upload a plugin, bind it,
    // and the next first login uses it.
    let printed_value = |key: &str| {
        printed
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{key} not printed"))
    };
    let admin = |args: &[&str]| {
        let mut command = provisio();
        command
            .env("PROVISIO_SERVER", format!("http://{address}"))
            .env("PROVISIO_ORG", printed_value("PROVISIO_ORG="))
            .env("PROVISIO_TOKEN", printed_value("PROVISIO_TOKEN="))
            .arg("admin")
            .args(args);
        let out = command.output().unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
    };
    let uploaded = admin(&["upload", "target/plugins/hostile-counter.wasm"]);
    let hash = uploaded["plugin"]["hash"].as_str().unwrap_or_else(|| panic!("{uploaded}")).to_owned();
    let words: Vec<&str> = printed.split_whitespace().collect();
    let after = |flag: &str| words.iter().position(|w| *w == flag).map(|i| words[i + 1].to_owned()).unwrap_or_default();
    admin(&["bind", "--domain", &after("--domain"), "--provider", &after("--provider"), "--creator", &hash]);
    let token = provisio()
        .args(["demo", "token", "--email", "carol@demo.example", "--data-dir", &data])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let (status, body) = post_json(&address, "/v1/login", &format!(r#"{{"domain": "demo", "id_token": "{token}"}}"#));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account"]["username"], "calls-1", "the newly bound plugin created the account: {body}");

    // The identity provider removed with the CLI: its tokens no longer sign in.
    admin(&["remove-provider", "--domain", &after("--domain"), "--provider", &after("--provider")]);
    let (status, body) = post_json(&address, "/v1/login", &format!(r#"{{"domain": "demo", "id_token": "{token}"}}"#));
    assert_eq!(status, 401, "a removed provider authenticates no one: {body}");

    // A SCIM token issued, used, listed and revoked with the CLI.
    let domain = after("--domain");
    let issued = admin(&["issue-scim-token", "--domain", &domain, "--name", "okta"]);
    let scim_token = issued["scim_token"].as_str().unwrap_or_else(|| panic!("{issued}")).to_owned();
    let user = r#"{"userName": "dana@demo.example", "emails": [{"value": "dana@demo.example", "primary": true}]}"#;
    let (status, body) = request(&address, "POST", &format!("/scim/v2/{domain}/Users"), Some(&scim_token), user);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["userName"], "dana@demo.example");
    let listed = admin(&["list-scim-tokens", "--domain", &domain]);
    let id = listed[0]["id"].as_str().unwrap_or_else(|| panic!("{listed}")).to_owned();
    assert!(!listed.to_string().contains(&scim_token), "a list never shows the token");
    admin(&["revoke-scim-token", "--domain", &domain, "--id", &id]);
    let (status, body) = request(&address, "GET", &format!("/scim/v2/{domain}/Users"), Some(&scim_token), "");
    assert_eq!(status, 401, "a revoked SCIM token: {body}");

    // SIGTERM: a graceful stop, exit status 0.
    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let status = server.0.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
}
