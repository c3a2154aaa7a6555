//! Compiles in a child process under a budget: a compile beyond its CPU or
//! wall time is refused by name and audited, the server serves other
//! organizations meanwhile, and a compile within its budget gives a plugin
//! that runs.

use crate::plugins;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use provisio::auth::{Argon2Params, AuthServices};
use provisio::engine::Host;
use provisio::http::AppState;
use provisio::plugin::Creation;
use provisio::runtime::{CompilerProcess, LoadError, Runtime, RuntimeConfig};
use serde_json::json;

use crate::boundary::Tenant;
use crate::http::{config, ok, upload};
use crate::{TestDatabase, component, ctx, principal};

fn compiler(cpu: Duration, wall: Duration) -> CompilerProcess {
    CompilerProcess {
        cpu_time: cpu,
        wall_time: wall,
        ..CompilerProcess::new(PathBuf::from(env!("CARGO_BIN_EXE_provisio")))
    }
}

/// A runtime compiling in child processes, with an artifact cache of its own.
fn runtime(dir: &tempfile::TempDir, process: CompilerProcess) -> Runtime {
    let config =
        RuntimeConfig { cache_dir: Some(dir.path().join("artifacts")), compiler: Some(process), ..Default::default() };
    ok(Runtime::new(config), "runtime")
}

#[tokio::test]
async fn a_compile_in_its_budget_gives_a_plugin_that_runs() {
    let dir = ok(tempfile::tempdir(), "tempdir");
    let runtime = runtime(&dir, compiler(Duration::from_secs(60), Duration::from_secs(120)));
    let plugin = ok(runtime.load(&component(plugins::DEFAULT_CREATOR)).await, "load through the compiler child");
    assert!(!plugin.info().from_disk_cache, "compiled, not read from the cache");
    let report = runtime.create(&plugin, &principal("okta"), &ctx(json!({}), Default::default())).await;
    assert!(matches!(report.outcome, Ok(Creation::Create(_))), "{:?}", report.outcome);
}

#[tokio::test]
async fn a_compile_beyond_its_budget_is_refused_by_name() {
    let dir = ok(tempfile::tempdir(), "tempdir");
    // The Python example compiles for several seconds of CPU.
    let cpu = runtime(&dir, compiler(Duration::from_secs(1), Duration::from_secs(300)));
    let refused = cpu.load(&component(plugins::PYTHON_ALLOWLIST)).await.err();
    assert!(matches!(refused, Some(LoadError::CompileBudget { budget: "cpu-time", .. })), "{refused:?}");
    // No compile fits in a millisecond: the child is killed at its wall time.
    let wall = runtime(&dir, compiler(Duration::from_secs(60), Duration::from_millis(1)));
    let refused = wall.load(&component(plugins::DEFAULT_CREATOR)).await.err();
    assert!(matches!(refused, Some(LoadError::CompileBudget { budget: "wall-time", .. })), "{refused:?}");
    let message = refused.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("wall-time budget"), "{message}");
}

/// While one organization's upload compiles until its budget runs out,
/// another organization's logins are answered; the refused upload answers
/// 422 naming the budget and is in the uploader's audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_budget_is_refused_audited_and_stalls_nobody() {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let dir = ok(tempfile::tempdir(), "tempdir");
        let runtime = runtime(&dir, compiler(Duration::from_secs(4), Duration::from_secs(300)));
        let auth = ok(AuthServices::builder().argon2(Argon2Params::INSECURE_FOR_TESTS).build(), "auth");
        let host = Host::builder().store(store.clone()).runtime(runtime).auth_services(Arc::new(auth)).build();
        let app = provisio::http::router(ok(AppState::new(ok(host.await, "host"), config()), "state"));
        let heavy = Tenant::new(&app, "heavy", "heavy.example", "rsa.pem", true).await;
        let other = Tenant::new(&app, "other", "other.example", "rsa-other.pem", true).await;

        let uploading = {
            let (app, org, token) = (app.clone(), heavy.org.clone(), heavy.token.clone());
            tokio::spawn(async move { upload(&app, &org, &token, component(plugins::PYTHON_ALLOWLIST)).await })
        };
        let mut while_compiling = 0;
        for i in 0..5 {
            let answer = other.id_login(&app, &format!("o{i}"), &format!("o{i}@other.example"), json!({})).await;
            answer.expect(StatusCode::OK, "another organization's login during the compile");
            while_compiling += usize::from(!uploading.is_finished());
        }
        assert!(while_compiling > 0, "[{:?}] no login was answered while the compile ran", db.kind());
        let refused = ok(uploading.await, "upload");
        let body = refused.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "an upload over its budget");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("cpu-time")), "{body}");
        let audit = heavy.audit(&app).await;
        let event = audit.iter().find(|e| e["outcome"] == "upload-refused");
        let event = event.unwrap_or_else(|| panic!("[{:?}] the refusal is not audited: {audit:?}", db.kind()));
        assert_eq!(event["rule"], "compile-budget:cpu-time", "{event}");
        let listed = heavy.call(&app, Method::GET, "/v1/orgs/{org}/plugins", None).await.expect(StatusCode::OK, "list");
        assert_eq!(listed, json!([]), "nothing was stored");
        store.close().await;
        db.cleanup().await;
    }
}
