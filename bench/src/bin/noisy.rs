//! A noisy neighbour: one organization's first logins through a plugin that
//! loops until the operator's wall-time ceiling, and another organization's
//! first logins (built-in providers) measured beside them, against the same
//! organization's logins on the same server with the neighbour quiet (the
//! baseline, measured first, in the same run).
//!
//! Run with `scripts/bench noisy`. Environment:
//!
//! - `CONCURRENCY` (8): workers of the measured organization;
//! - `NOISY` (16): workers of the noisy organization, each login holding one
//!   of its plugin slots until the ceiling (twice its default 8 slots);
//! - `CEILING_MS` (1000): the operator's wall-time ceiling, the noisy binding's limit;
//! - `DURATION_SECS` (10), after `WARMUP_SECS` (2) not measured;
//! - `BACKENDS` (`sqlite,postgres`), `PROVISIO_BENCH_DATABASE_URL`
//!   (`postgres://postgres@127.0.0.1:5432/test`), as for `scripts/bench login`.

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use provisio_bench::{
    Call, Client, IdP, Method, PgDatabase, Run, Server, StatusCode, TenantSpec, Uri, Workload, env_or, ms,
    plugin_bytes, run_for, setup_tenant,
};
use serde_json::json;

/// First logins at one domain, each of a new person.
struct FirstLogins {
    idp: Arc<IdP>,
    uri: Uri,
    domain: String,
    phase: String,
    expect: StatusCode,
}

impl Workload for FirstLogins {
    fn call(&self, _worker: usize, seq: u64) -> Call {
        let email = format!("{}-{seq}@{}.example", self.phase, self.domain);
        Call { method: Method::POST, uri: self.uri.clone(), body: self.idp.login_body(&self.domain, &email, &[]) }
    }

    fn check(&self, _worker: usize, _seq: u64, status: StatusCode, _body: &[u8]) -> Result<(), String> {
        match status == self.expect {
            true => Ok(()),
            false => Err(format!("expected {}, got {status}", self.expect)),
        }
    }
}

fn row(label: &str, run: &Run, baseline: Option<&Run>) {
    let ratio = |f: fn(&Run) -> Duration| {
        baseline.map_or("—".to_owned(), |b| format!("{:.2}×", f(run).as_secs_f64() / f(b).as_secs_f64().max(1e-9)))
    };
    println!(
        "| {label} | {:.0}/s | {:.2} ms | {:.2} ms | {} | {} | {} |",
        run.rate(),
        ms(run.percentile(0.5)),
        ms(run.percentile(0.99)),
        ratio(|r| r.percentile(0.5)),
        ratio(|r| r.percentile(0.99)),
        run.errors,
    );
}

#[tokio::main]
async fn main() {
    let concurrency: usize = env_or("CONCURRENCY", 8);
    let noisy_workers: usize = env_or("NOISY", 16);
    let ceiling: u64 = env_or("CEILING_MS", 1000);
    let duration = Duration::from_secs(env_or("DURATION_SECS", 10));
    let warmup = Duration::from_secs(env_or("WARMUP_SECS", 2));
    let backends: String = env_or("BACKENDS", "sqlite,postgres".to_owned());
    let pg_admin: String = env_or("PROVISIO_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test".to_owned());
    println!(
        "quiet: {concurrency} workers of first logins (built-in providers); noisy: {noisy_workers} workers of first \
         logins whose creator loops until the {ceiling} ms ceiling; {}s measured after {}s warm-up\n",
        duration.as_secs(),
        warmup.as_secs()
    );
    println!("| backend, phase | quiet rate | p50 | p99 | p50 / baseline | p99 / baseline | errors |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        let dir = tempfile::tempdir().unwrap();
        let pg = match backend {
            "postgres" => match PgDatabase::create(&pg_admin).await {
                Ok(db) => Some(db),
                Err(e) => {
                    println!("| {backend} | skipped: {e} | | | | | |");
                    continue;
                }
            },
            _ => None,
        };
        let url = match &pg {
            Some(db) => db.url().to_owned(),
            None => format!("sqlite://{}?mode=rwc", dir.path().join("provisio.db").display()),
        };
        let env =
            [("PROVISIO_CEILING_WALL_TIME", ceiling.to_string()), ("PROVISIO_CEILING_FUEL", u64::MAX.to_string())];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = Server::start_with_env(&url, dir.path(), &env).await;
        let client = Client::new(server.base());
        let idp = Arc::new(IdP::new(&dir.path().join("idp-key.pem")));
        let quiet = TenantSpec::new("quiet", "quiet", "quiet.example", idp.provider_config());
        setup_tenant(&client, server.operator_token(), &quiet).await;
        let looping = plugin_bytes("hostile-loop");
        let noisy = TenantSpec::new("noisy", "noisy", "noisy.example", idp.provider_config())
            .with_plugins(Some(&looping), None);
        let noisy = setup_tenant(&client, server.operator_token(), &noisy).await;
        let binding = json!({"creator": noisy.creator, "limits": {"wall_time": ceiling, "fuel": u64::MAX}});
        let path = format!("/v1/orgs/{}/domains/{}/bindings/{}", noisy.org, noisy.domain_id, noisy.provider);
        client.call(Method::PUT, &path, Some(&noisy.token), Some(&binding)).await.expect(StatusCode::OK, "bind");

        let http = provisio_bench::http_client();
        let uri = client.uri("/v1/login");
        let quiet_phase = |phase: &str| {
            Arc::new(FirstLogins {
                idp: idp.clone(),
                uri: uri.clone(),
                domain: "quiet".into(),
                phase: phase.into(),
                expect: StatusCode::OK,
            })
        };
        run_for(&http, &quiet_phase("warm"), concurrency, warmup).await;
        let baseline = run_for(&http, &quiet_phase("base"), concurrency, duration).await;
        baseline.assert_few_errors("baseline");
        row(&format!("{backend}, neighbour quiet (baseline)"), &baseline, None);

        let noise = Arc::new(FirstLogins {
            idp: idp.clone(),
            uri: uri.clone(),
            domain: "noisy".into(),
            phase: "noise".into(),
            expect: StatusCode::FORBIDDEN,
        });
        let noise_for = duration + warmup + Duration::from_millis(2 * ceiling);
        let background = {
            let http = http.clone();
            tokio::spawn(async move { run_for(&http, &noise, noisy_workers, noise_for).await })
        };
        run_for(&http, &quiet_phase("warm2"), concurrency, warmup).await;
        let beside = run_for(&http, &quiet_phase("noisy"), concurrency, duration).await;
        let noise = background.await.unwrap();
        beside.assert_few_errors("beside the noisy neighbour");
        row(&format!("{backend}, neighbour looping"), &beside, Some(&baseline));
        println!(
            "| {backend}, the neighbour's own logins | {:.1}/s | {:.0} ms | {:.0} ms | | | {} (all refused, as they should be) |",
            noise.rate(),
            ms(noise.percentile(0.5)),
            ms(noise.percentile(0.99)),
            noise.requests - noise.errors,
        );
        server.stop().await;
        if let Some(db) = pg {
            db.drop_database().await;
        }
    }
}
