//! A `provisio serve` child process on a free port of 127.0.0.1.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_body_util::Full;

use crate::client::Client;
use crate::env::{provisio_binary, random_hex};
use crate::proc::{cpu_time, rss_kib};
use crate::{Bytes, StatusCode};

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
