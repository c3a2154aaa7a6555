//! The server's connections as an attacker holds them, over a real port on
//! 127.0.0.1: half a request line, a body that never arrives, an idle
//! keep-alive connection, more connections than the limit, and admin
//! bodies that are not the object they should be. Waits are capped
//! generously and nothing is timed: a slow machine passes too.

use std::net::SocketAddr;
use std::time::Duration;

use provisio::auth::Secret;
use provisio::engine::Host;
use provisio::http::{AppState, HttpConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::TestDatabase;

const OPERATOR: &str = "operator-secret-for-connection-tests";
/// The most any single wait may take: generous, never a measure of speed.
const CAP: Duration = Duration::from_secs(30);

/// Short bounds, so that the server's timeouts fire during a test.
fn short() -> HttpConfig {
    let second = Duration::from_secs(1);
    HttpConfig { header_read_timeout: second, body_read_timeout: second, idle_timeout: second, ..HttpConfig::default() }
}

/// A server on a free port of 127.0.0.1 over a fresh SQLite store.
struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _db: TestDatabase,
}

async fn start(config: HttpConfig) -> Server {
    let db = TestDatabase::sqlite();
    let host = Host::builder().store(db.open().await).runtime(crate::runtime()).build().await;
    let host = host.unwrap_or_else(|e| panic!("host: {e}"));
    let config = HttpConfig { operator_token: Some(Secret::new(OPERATOR)), ..config };
    let state = AppState::new(host, config).unwrap_or_else(|e| panic!("state: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("address: {e}"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(provisio::http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Server { addr, stop, task, _db: db }
}

impl Server {
    /// Signals shutdown and waits (capped) for `serve` to return.
    async fn stop(self) {
        let _ = self.stop.send(());
        let result = within(self.task, "the server to stop").await;
        result.unwrap_or_else(|e| panic!("server task: {e}")).unwrap_or_else(|e| panic!("serve: {e}"));
    }

    async fn connect(&self) -> TcpStream {
        within(TcpStream::connect(self.addr), "connect").await.unwrap_or_else(|e| panic!("connect: {e}"))
    }
}

/// `future`, or a failed test after [`CAP`].
async fn within<T>(future: impl Future<Output = T>, what: &str) -> T {
    tokio::time::timeout(CAP, future).await.unwrap_or_else(|_| panic!("waited {CAP:?} for {what}"))
}

async fn send(stream: &mut TcpStream, bytes: &str) {
    stream.write_all(bytes.as_bytes()).await.unwrap_or_else(|e| panic!("write: {e}"));
}

/// Reads until the server closes the connection (end of stream, or a reset)
/// and answers what it sent before.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    within(
        async {
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        },
        "the server to close the connection",
    )
    .await;
    String::from_utf8_lossy(&seen).into_owned()
}

/// One answer on a connection that stays open: its status and body.
async fn response(stream: &mut TcpStream) -> (u16, String) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    within(
        async {
            loop {
                if let Some((head, body)) = split(&seen) {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
                match stream.read(&mut buf).await {
                    Ok(0) => panic!("closed before a whole answer: {}", String::from_utf8_lossy(&seen)),
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                    Err(e) => panic!("read: {e}"),
                }
            }
        },
        "an answer",
    )
    .await;
    parse(&String::from_utf8_lossy(&seen))
}

fn split(bytes: &[u8]) -> Option<(String, &[u8])> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((String::from_utf8_lossy(&bytes[..end]).into_owned(), &bytes[end + 4..]))
}

/// The status and body of an HTTP/1.1 answer's text.
fn parse(text: &str) -> (u16, String) {
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: provisio\r\n\r\n";

/// `GET /healthz` on a new connection answers 200.
async fn healthy(server: &Server) {
    let mut stream = server.connect().await;
    send(&mut stream, HEALTHZ).await;
    let (status, body) = response(&mut stream).await;
    assert_eq!(status, 200, "healthz: {body}");
}

/// A JSON POST with the operator token, on a connection of its own.
async fn operator_post(server: &Server, path: &str, body: &str) -> (u16, Value) {
    let mut stream = server.connect().await;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: provisio\r\nAuthorization: Bearer {OPERATOR}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    send(&mut stream, &request).await;
    let (status, body) = response(&mut stream).await;
    (status, json(&body))
}

/// Slowloris: 200 connections send half a request line and then nothing.
/// The server closes every one of them, and serves others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_request_lines_are_closed() {
    let server = start(short()).await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = server.connect().await;
        send(&mut stream, "GET /heal").await;
        slow.push(stream);
    }
    healthy(&server).await;
    for stream in &mut slow {
        let answered = until_closed(stream).await;
        assert!(!answered.starts_with("HTTP/1.1 200"), "half a request was answered: {answered}");
    }
    healthy(&server).await;
    server.stop().await;
}

/// A body that promises 1000 bytes and sends 10 is answered
/// `408 request-timeout` and the connection closed; the server goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_a_request_timeout() {
    let server = start(short()).await;
    let mut stream = server.connect().await;
    let head =
        "POST /v1/login HTTP/1.1\r\nHost: provisio\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    send(&mut stream, head).await;
    send(&mut stream, "{\"email\":\"").await;
    let (status, body) = parse(&until_closed(&mut stream).await);
    assert_eq!(status, 408, "{body}");
    let body = json(&body);
    assert_eq!(body["code"], "request-timeout", "{body}");
    assert!(body["request_id"].is_string(), "{body}");
    healthy(&server).await;
    server.stop().await;
}

/// A keep-alive connection left idle after an answer is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let server = start(short()).await;
    let mut stream = server.connect().await;
    send(&mut stream, HEALTHZ).await;
    let (status, body) = response(&mut stream).await;
    assert_eq!(status, 200, "{body}");
    let after = until_closed(&mut stream).await;
    assert!(after.is_empty(), "nothing more was asked: {after}");
    // Without even a first request, too.
    let mut silent = server.connect().await;
    assert!(until_closed(&mut silent).await.is_empty());
    server.stop().await;
}

/// With `max_connections = 4`, a fifth connection is not served while four
/// are open, and is served once one of them closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_wait_their_turn() {
    // Timeouts longer than the test: only the limit is at play.
    let long = Duration::from_secs(600);
    let config = HttpConfig {
        max_connections: 4,
        header_read_timeout: long,
        body_read_timeout: long,
        idle_timeout: long,
        ..HttpConfig::default()
    };
    let server = start(config).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = server.connect().await;
        send(&mut stream, HEALTHZ).await;
        let (status, body) = response(&mut stream).await;
        assert_eq!(status, 200, "{body}");
        open.push(stream);
    }
    // The kernel completes the fifth connection; the server does not take it.
    let mut fifth = server.connect().await;
    send(&mut fifth, HEALTHZ).await;
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), fifth.read(&mut byte)).await;
    assert!(early.is_err(), "the fifth connection was answered while four were open: {early:?}");
    drop(open.remove(0));
    let (status, body) = response(&mut fifth).await;
    assert_eq!(status, 200, "the fifth connection, once one closed: {body}");
    // Shutdown closes the idle connections and returns.
    server.stop().await;
    for stream in &mut open {
        until_closed(stream).await;
    }
}

/// Shutdown lets a request in flight finish: a body half sent when the
/// signal comes is still read and answered, then `serve` returns and the
/// port is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let long = Duration::from_secs(600);
    let config = HttpConfig { body_read_timeout: long, idle_timeout: long, ..HttpConfig::default() };
    let server = start(config).await;
    let mut stream = server.connect().await;
    let body = r#"{"name":"acme"}"#;
    // `Expect: 100-continue`: the server says `100 Continue` when the
    // handler starts reading the body, so the request is surely in flight.
    let head = format!(
        "POST /v1/organizations HTTP/1.1\r\nHost: provisio\r\nAuthorization: Bearer {OPERATOR}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    send(&mut stream, &head).await;
    let (status, _) = response(&mut stream).await;
    assert_eq!(status, 100, "the handler reads the body");
    send(&mut stream, &body[..5]).await;
    let _ = server.stop.send(());
    send(&mut stream, &body[5..]).await;
    let (status, answer) = parse(&until_closed(&mut stream).await);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(json(&answer)["organization"]["name"], "acme", "{answer}");
    let result = within(server.task, "the server to stop").await;
    result.unwrap_or_else(|e| panic!("server task: {e}")).unwrap_or_else(|e| panic!("serve: {e}"));
    assert!(TcpStream::connect(server.addr).await.is_err(), "the listener is closed");
}

/// An admin body must be an object, with no field the route does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_bodies_are_objects_without_unknown_fields() {
    let server = start(short()).await;
    let (status, body) = operator_post(&server, "/v1/organizations", r#"["x"]"#).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")), "an array: {body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("object"), "{body}");
    for scalar in [r#""x""#, "1", "null"] {
        let (status, body) = operator_post(&server, "/v1/organizations", scalar).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")), "{scalar}: {body}");
    }
    let (status, body) = operator_post(&server, "/v1/organizations", r#"{"name":"x","extra":1}"#).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")), "an unknown field: {body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("extra"), "names the field: {body}");
    let (status, body) = operator_post(&server, "/v1/organizations", r#"{"name":"x","name":"y"}"#).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad-request")), "a key twice: {body}");
    let (status, body) = operator_post(&server, "/v1/organizations", r#"{"name":"x"}"#).await;
    assert_eq!(status, 201, "the object itself: {body}");
    server.stop().await;
}
