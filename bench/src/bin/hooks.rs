//! The same provisioning logic (the default creator and the group mapper) run
//! through each hook mechanism, interleaved in one process run:
//!
//! 1. native Rust called directly (the floor);
//! 2. the Provisio WebAssembly plugins, instantiated per call as in production;
//! 3. an HTTP webhook on loopback with keep-alive, JSON in and out;
//! 4. an embedded JavaScript engine (QuickJS), a fresh context per call.
//!
//! Run with `scripts/build-plugins && cargo run --release -p provisio-bench --bin hooks`.
//! Set `ITERATIONS` to change the sample count (default 5000), and `SKIP` to a
//! comma-separated list of `webhook` and `javascript` to leave those out (to
//! see how much the others disturb the fast mechanisms' figures).

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use provisio::builtin::{default_creation, group_mapping};
use provisio::plugin::{Assignment, BindingConfig, Creation, Principal};
use provisio::runtime::{CallContext, Plugin, Runtime, RuntimeConfig};
use provisio_bench::{Series, account_from, plugin_bytes, repo_root};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What every mechanism receives: the principal and the binding's
/// configuration as the operator wrote it (nested JSON).
#[derive(Serialize, Deserialize)]
struct HookRequest {
    principal: Principal,
    config: Value,
}

/// What every mechanism answers: the creator's decision and the memberships.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct HookResult {
    creation: Creation,
    assignments: Vec<Assignment>,
}

async fn load(runtime: &Runtime, name: &str) -> Plugin {
    runtime.load(&plugin_bytes(name)).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Mechanism 1, native Rust: the built-in providers called directly.
fn native(principal: &Principal, config: &BindingConfig) -> HookResult {
    let creation = default_creation(principal, config, &mut rand::rng());
    let assignments = group_mapping(principal, config).unwrap_or_else(|e| panic!("{e}"));
    HookResult { creation, assignments }
}

/// Mechanism 2, WebAssembly: one instantiation per hook call, as `provisio serve` does.
async fn wasm(
    runtime: &Runtime,
    creator: &Plugin,
    mapper: &Plugin,
    principal: &Principal,
    ctx: &CallContext,
) -> HookResult {
    let creation = runtime.create(creator, principal, ctx).await.outcome.unwrap_or_else(|e| panic!("{e}"));
    let account = account_from(&creation);
    let assignments = runtime.assign(mapper, &account, principal, ctx).await.outcome.unwrap_or_else(|e| panic!("{e}"));
    HookResult { creation, assignments }
}

/// Mechanism 3: the webhook's server side: parses the request, runs the native logic.
async fn webhook_handler(Json(request): Json<HookRequest>) -> Json<HookResult> {
    let config = BindingConfig::from_json(&request.config).unwrap_or_else(|e| panic!("{e}"));
    Json(native(&request.principal, &config))
}

/// Starts the webhook server on its own thread (its own current-thread tokio
/// runtime, as a separate process would have) and returns its address.
fn start_webhook_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().route("/hook", post(webhook_handler));
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

/// Mechanism 3: the webhook's client side: one POST per login over a pooled keep-alive
/// connection (both hooks in one request, which favours the webhook).
async fn webhook(client: &Client<HttpConnector, Full<Bytes>>, url: &hyper::Uri, request: &HookRequest) -> HookResult {
    let body = serde_json::to_vec(request).unwrap();
    let req = hyper::Request::post(url.clone())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(req).await.unwrap_or_else(|e| panic!("webhook: {e}"));
    assert!(response.status().is_success(), "webhook: {}", response.status());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("webhook answer: {e}"))
}

/// Mechanism 4: the same logic in JavaScript. `INPUT` is the request's JSON text; the
/// script's value is the result's JSON text.
const SCRIPT: &str = r#"
(function () {
  const input = JSON.parse(INPUT);
  const p = input.principal;
  const config = {};
  (function flatten(prefix, obj) {
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(prefix + k + ".", v);
      else config[prefix + k] = typeof v === "string" ? v : JSON.stringify(v);
    }
  })("", input.config);

  const MAX_USERNAME = 64, MAX_DIGITS = 9, DEFAULT_DIGITS = 4;
  const sanitize = (s) => Array.from(s.toLowerCase()).filter((c) => /^[a-z0-9._-]$/.test(c)).join("");
  const usable = (s) => /[A-Za-z0-9]/.test(s);
  function usernameBase() {
    const at = p.email.lastIndexOf("@");
    const local = sanitize(at >= 0 ? p.email.slice(0, at) : p.email);
    if (usable(local)) return local;
    const given = (p.given_name || "").trim(), family = (p.family_name || "").trim();
    let names = "";
    if (given && family) names = sanitize(given + "." + family);
    else if (given) names = sanitize(given);
    else if (family) names = sanitize(family);
    return usable(names) ? names : "user";
  }
  let digits = DEFAULT_DIGITS;
  if (config.digits !== undefined && /^\s*\+?\d+\s*$/.test(config.digits)) digits = parseInt(config.digits.trim(), 10);
  digits = Math.min(digits, MAX_DIGITS);
  let username = Array.from(usernameBase()).slice(0, MAX_USERNAME - digits).join("");
  if (digits > 0) username += String(Math.floor(Math.random() * Math.pow(10, digits))).padStart(digits, "0");
  const creation = { create: {
    email: p.email,
    username_hint: username,
    given_name: p.given_name ?? null,
    family_name: p.family_name ?? null,
    attributes: [],
  } };

  function parseList(value) {
    const trimmed = value.trim();
    if (trimmed.startsWith("[")) {
      try {
        const items = JSON.parse(trimmed);
        if (Array.isArray(items) && items.every((s) => typeof s === "string"))
          return items.map((s) => s.trim()).filter((s) => s !== "");
      } catch (e) {}
    }
    return trimmed.split(",").map((s) => s.trim()).filter((s) => s !== "");
  }
  function parseItem(item, key) {
    const i = item.indexOf(":");
    if (i >= 0) {
      const kind = item.slice(0, i).trim(), name = item.slice(i + 1).trim();
      if (name !== "" && (kind === "team" || kind === "role" || kind === "organization")) return { [kind]: name };
    }
    throw new Error("invalid item `" + item + "` in config key `" + key + "`");
  }
  const assignments = [];
  const pushUnique = (a) => {
    const [k, v] = Object.entries(a)[0];
    if (!assignments.some((b) => b[k] === v)) assignments.push(a);
  };
  for (const group of p.groups || []) {
    const key = "groups." + group;
    if (config[key] === undefined) continue;
    for (const item of parseList(config[key])) pushUnique(parseItem(item, key));
  }
  const trimmed = (key) => (config[key] !== undefined && config[key].trim() !== "" ? config[key].trim() : undefined);
  if ((p.groups || []).length === 0 && trimmed("default-team") !== undefined)
    pushUnique({ team: trimmed("default-team") });
  if (trimmed("default-role") !== undefined) pushUnique({ role: trimmed("default-role") });
  return JSON.stringify({ creation, assignments });
})()
"#;

/// Mechanism 4: a fresh JavaScript context per login (one engine runtime per process,
/// as an embedding host keeps): the request goes in as JSON text, the result
/// comes back as JSON text.
fn javascript(js: &rquickjs::Runtime, request: &HookRequest) -> HookResult {
    let input = serde_json::to_string(request).unwrap();
    let ctx = rquickjs::Context::full(js).unwrap();
    let output: String = ctx.with(|ctx| {
        ctx.globals().set("INPUT", input).unwrap();
        ctx.eval::<String, _>(SCRIPT).unwrap_or_else(|e| panic!("javascript: {e}"))
    });
    serde_json::from_str(&output).unwrap_or_else(|e| panic!("javascript answer: {e}"))
}

fn main() {
    let iterations: usize = std::env::var("ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let skip = std::env::var("SKIP").unwrap_or_default();
    let skip_hook = skip.split(',').any(|s| s.trim() == "webhook");
    let skip_js = skip.split(',').any(|s| s.trim() == "javascript");
    let addr = start_webhook_server();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let creator = load(&runtime, "default-creator").await;
        let mapper = load(&runtime, "group-mapper").await;
        let noop = load(&runtime, "noop").await;
        let principal: Principal =
            serde_json::from_slice(&std::fs::read(repo_root().join("examples/principals/okta.json")).unwrap())
                .unwrap_or_else(|e| panic!("{e}"));
        let config_json = serde_json::json!({
            "digits": 0,
            "groups": {"Engineering": "team:engineering, role:developer", "oncall-admins": "role:admin"},
            "default-team": "everyone",
        });
        let config = BindingConfig::from_json(&config_json).unwrap_or_else(|e| panic!("{e}"));
        let ctx = CallContext { config: Arc::new(config.clone()), ..CallContext::default() };
        let request = HookRequest { principal: principal.clone(), config: config_json };
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let url: hyper::Uri = format!("http://{addr}/hook").parse().unwrap();
        let js = rquickjs::Runtime::new().unwrap();

        // Same inputs, same outputs: checked before measuring.
        let expected = native(&principal, &config);
        assert!(!expected.assignments.is_empty(), "the mapping assigns nothing: {expected:?}");
        assert_eq!(wasm(&runtime, &creator, &mapper, &principal, &ctx).await, expected, "WebAssembly differs");
        assert_eq!(webhook(&client, &url, &request).await, expected, "webhook differs");
        assert_eq!(javascript(&js, &request), expected, "JavaScript differs");

        let mut s_native = Series::new("native Rust (create + assign)", iterations);
        let mut s_wasm = Series::new("WebAssembly plugins (2 instantiations)", iterations);
        let mut s_noop = Series::new("bare instantiate + call of `noop`", iterations);
        let mut s_hook = Series::new("HTTP webhook, keep-alive (1 request)", iterations);
        let mut s_js = Series::new("JavaScript, QuickJS (1 fresh context)", iterations);
        let warmup = iterations / 10;
        for i in 0..iterations + warmup {
            let t = Instant::now();
            std::hint::black_box(native(&principal, &config));
            let native_time = t.elapsed();

            let t = Instant::now();
            std::hint::black_box(wasm(&runtime, &creator, &mapper, &principal, &ctx).await);
            let wasm_time = t.elapsed();

            let t = Instant::now();
            std::hint::black_box(runtime.create(&noop, &principal, &ctx).await);
            let noop_time = t.elapsed();

            let t = Instant::now();
            if !skip_hook {
                std::hint::black_box(webhook(&client, &url, &request).await);
            }
            let hook_time = t.elapsed();

            let t = Instant::now();
            if !skip_js {
                std::hint::black_box(javascript(&js, &request));
            }
            let js_time = t.elapsed();

            if i >= warmup {
                s_native.samples.push(native_time);
                s_wasm.samples.push(wasm_time);
                s_noop.samples.push(noop_time);
                if !skip_hook {
                    s_hook.samples.push(hook_time);
                }
                if !skip_js {
                    s_js.samples.push(js_time);
                }
            }
        }
        let all = [&mut s_native, &mut s_wasm, &mut s_noop, &mut s_hook, &mut s_js];
        for s in all {
            s.sort();
        }

        println!("hooks: {iterations} interleaved samples each (after {warmup} warm-up rounds), outputs checked equal");
        println!(
            "{:<42} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12}",
            "mechanism (one login: create + assign)",
            "p50 µs",
            "p99 µs",
            "p50 /native",
            "p99 /native",
            "p50 /wasm",
            "p99 /wasm"
        );
        for s in [&s_native, &s_wasm, &s_noop, &s_hook, &s_js] {
            if s.samples.is_empty() {
                println!("{:<42} skipped", s.name);
                continue;
            }
            println!(
                "{:<42} {:>10.2} {:>10.2} {:>11.1}× {:>11.1}× {:>11.2}× {:>11.2}×",
                s.name,
                s.p(0.5),
                s.p(0.99),
                s.p(0.5) / s_native.p(0.5),
                s.p(0.99) / s_native.p(0.99),
                s.p(0.5) / s_wasm.p(0.5),
                s.p(0.99) / s_wasm.p(0.99),
            );
        }
        println!();
        let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
        let (w50, w99) = (s_wasm.p(0.5), s_wasm.p(0.99));
        if !skip_hook {
            let hook = s_hook.p(0.5) / w50;
            println!("target: WebAssembly ≥ 20× faster than the webhook (p50): {hook:.1}× — {}", verdict(hook >= 20.0));
        }
        if !skip_js {
            let js = s_js.p(0.5) / w50;
            println!("target: WebAssembly ≥ 10× faster than JavaScript (p50): {js:.1}× — {}", verdict(js >= 10.0));
        }
        let floor1 = s_native.p(0.5) + s_noop.p(0.5);
        let floor2 = s_native.p(0.5) + 2.0 * s_noop.p(0.5);
        println!(
            "target: WebAssembly within 2× of native + 1 bare instantiate (p50): {:.2}× — {}",
            w50 / floor1,
            verdict(w50 <= 2.0 * floor1)
        );
        println!(
            "        (against native + 1 bare instantiate per hook call, 2 in all: {:.2}×; p99 {:.2}×)",
            w50 / floor2,
            w99 / (s_native.p(0.99) + 2.0 * s_noop.p(0.99))
        );
    });
}
