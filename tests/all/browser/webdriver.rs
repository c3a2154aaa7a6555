//! A headless Chromium driven through Debian's `chromedriver` with the W3C
//! WebDriver protocol: the few commands the console tests use, over the
//! hyper client the host already has. (The `fantoccini` crate would bring a
//! second TLS stack with aws-lc, OpenSSL by default, and a second ICU, for
//! a protocol the tests use a dozen commands of.)

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; [`Browser::close`] ends it, dropping it stops the driver.
pub(crate) struct Browser {
    base: String,
    session: String,
    http: Client<HttpConnector, Full<Bytes>>,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
pub(crate) struct Element(String);

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"))
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port and a headless Chromium
    /// session through it. Fails (never skips) when either is missing:
    /// `scripts/setup-chromium` installs them.
    pub(crate) async fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver: {e} (scripts/setup-chromium installs it)"));
        let http = Client::builder(TokioExecutor::new()).build_http();
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut browser =
            Self { base: format!("http://127.0.0.1:{port}"), session: String::new(), http, driver, _profile: profile };
        let mut ready = false;
        for _ in 0..600 {
            if let Ok(status) = browser.raw("GET", "/status", None).await
                && status["value"]["ready"] == true
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not become ready on port {port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--window-size=1280,1000",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }}});
        let answer = browser.raw("POST", "/session", Some(capabilities)).await.unwrap_or_else(|e| panic!("{e}"));
        browser.session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        browser
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self.http.request(request).await.map_err(|e| e.to_string())?;
        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    /// A command of the session; its `value`. A WebDriver error fails the test.
    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = self.raw(method, &path, body).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if answer["value"]["error"].is_string() {
            panic!("{method} {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    /// Opens `url` and waits for it to load.
    pub(crate) async fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url}))).await;
    }

    /// The page's title.
    pub(crate) async fn title(&self) -> String {
        self.command("GET", "/title", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The page's URL.
    pub(crate) async fn url(&self) -> String {
        self.command("GET", "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching a CSS selector.
    pub(crate) async fn find(&self, css: &str) -> Element {
        let found = self.command("POST", "/element", Some(json!({"using": "css selector", "value": css}))).await;
        Element(found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_owned())
    }

    /// How many elements match a CSS selector.
    pub(crate) async fn count(&self, css: &str) -> usize {
        let found = self.command("POST", "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        found.as_array().map_or(0, Vec::len)
    }

    /// Types `text` into an element (a file input takes a file's path).
    pub(crate) async fn type_into(&self, element: &Element, text: &str) {
        self.command("POST", &format!("/element/{}/value", element.0), Some(json!({"text": text}))).await;
    }

    /// Clicks an element that leads to another page (a link, a form's
    /// button), and waits until that page has loaded: the old page's marker
    /// is gone and the new one is complete (up to a minute).
    pub(crate) async fn click(&self, element: &Element) {
        self.script("window.__provisioOldPage = true; return null").await;
        self.command("POST", &format!("/element/{}/click", element.0), Some(json!({}))).await;
        for _ in 0..1200 {
            let loaded = self
                .script("return window.__provisioOldPage === undefined && document.readyState === 'complete'")
                .await;
            if loaded == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page within a minute of the click");
    }

    /// Clicks an element that stays on the page (an option of a select).
    pub(crate) async fn choose(&self, element: &Element) {
        self.command("POST", &format!("/element/{}/click", element.0), Some(json!({}))).await;
    }

    /// The page's visible text.
    pub(crate) async fn text(&self) -> String {
        let body = self.find("body").await;
        self.command("GET", &format!("/element/{}/text", body.0), None).await.as_str().unwrap_or_default().to_owned()
    }

    /// Runs a script in the page; its result.
    pub(crate) async fn script(&self, script: &str) -> Value {
        self.command("POST", "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Saves a PNG screenshot of the window at `path`.
    pub(crate) async fn screenshot(&self, path: &Path) {
        let png = self.command("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Ends the session (and so the browser).
    pub(crate) async fn close(mut self) {
        let _ = self.raw("DELETE", &format!("/session/{}", self.session), None).await;
        self.session.clear();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
