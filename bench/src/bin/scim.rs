//! SCIM provisioning as an identity provider's initial sync does it, against
//! a real `provisio serve` on each backend (SQLite file, PostgreSQL): a
//! tenant set up over the admin API with a SCIM token issued to its domain,
//! then every user created (`POST /Users`, `CONCURRENCY` in flight), every
//! group created without members (`POST /Groups`), and the members added by
//! `PATCH /Groups/{id}` in batches of 100 (`add` on `members`, as Okta
//! does; each user in 3 groups picked pseudo-randomly, the batches of one
//! group never in flight together). The groups' members are then read back
//! and checked. Then lists: `userName eq`, `emails.value co`,
//! `active eq true and name.familyName sw`, and paging through every user
//! 100 at a time (`startIndex`, `count=100`), each answer's `totalResults`
//! checked against what was created.
//!
//! For each kind of request: the rate, p50 and p99 latency, and their
//! ratios to a baseline measured first on the same server in the same run
//! (`GET /healthz` at the same concurrency); for the sync, users per second.
//!
//! Run with `scripts/bench scim`. Environment:
//!
//! - `USERS` (10000): users pushed (`user{i}@bench.example`);
//! - `GROUP_COUNT` (200): groups pushed (`Group {j}`); not `GROUPS`, which
//!   is bash's own variable. The first line printed shows the numbers used;
//! - `CONCURRENCY` (8): requests in flight, in every phase;
//! - `QUERIES` (500): requests of each list kind;
//! - `BASELINE` (5000): `GET /healthz` requests of the baseline;
//! - `BACKENDS` (`sqlite,postgres`), `PROVISIO_BENCH_DATABASE_URL`
//!   (`postgres://postgres@127.0.0.1:5432/test`), as for `scripts/bench
//!   login`: a fresh database per run, dropped after; when PostgreSQL cannot
//!   be reached its rows say so and are skipped;
//! - `KEEP_TEMP=1` keeps the servers' data directories and logs (the path is printed);
//! - any other `PROVISIO_*` variable reaches the servers untouched.

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use provisio_bench::{
    Bytes, Call, Client, HttpClient, IdP, Method, PgDatabase, Run, Server, StatusCode, TenantSpec, Workload, env_or,
    http_client, ms, run_count, setup_tenant,
};
use serde_json::{Value, json};

const EMAIL_DOMAIN: &str = "bench.example";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Members per `PATCH`, as Okta sends them.
const BATCH: usize = 100;
/// Groups per user (fewer when there are fewer groups).
const GROUPS_PER_USER: u64 = 3;
/// Resources per page of the filtered lists and of the paging.
const PAGE: usize = 100;

struct Settings {
    users: u64,
    groups: u64,
    concurrency: usize,
    queries: u64,
    baseline: u64,
    backends: Vec<String>,
    pg_admin: String,
}

impl Settings {
    fn from_env() -> Self {
        let backends: String = env_or("BACKENDS", "sqlite,postgres".to_owned());
        Self {
            users: env_or("USERS", 10_000u64).max(1),
            groups: env_or("GROUP_COUNT", 200u64),
            concurrency: env_or("CONCURRENCY", 8usize).max(1),
            queries: env_or("QUERIES", 500u64).max(1),
            baseline: env_or("BASELINE", 5000u64).max(1),
            backends: backends.split(',').map(|b| b.trim().to_ascii_lowercase()).filter(|b| !b.is_empty()).collect(),
            pg_admin: env_or("PROVISIO_BENCH_DATABASE_URL", provisio_bench::DEFAULT_PG_ADMIN_URL.to_owned()),
        }
    }
}

/// Request `seq` of a phase: method, path under the SCIM base, JSON body.
type Request = Box<dyn Fn(u64) -> (Method, String, Bytes) + Send + Sync>;
/// Whether the answer to request `seq` is the expected one.
type Check = Box<dyn Fn(u64, StatusCode, &[u8]) -> Result<(), String> + Send + Sync>;

/// One phase's requests, all to one server with one bearer token.
struct Phase {
    base: String,
    authorization: Option<String>,
    request: Request,
    check: Check,
}

impl Workload for Phase {
    fn call(&self, _worker: usize, seq: u64) -> Call {
        let (method, path, body) = (self.request)(seq);
        let uri = format!("{}{path}", self.base).parse().unwrap_or_else(|e| panic!("{}{path}: {e}", self.base));
        Call { method, uri, body }
    }

    fn check(&self, _worker: usize, seq: u64, status: StatusCode, body: &[u8]) -> Result<(), String> {
        (self.check)(seq, status, body)
    }

    fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }
}

/// A fixed pseudo-random spread (SplitMix64).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The groups user `i` is a member of: [`GROUPS_PER_USER`] distinct ones.
fn groups_of(i: u64, groups: u64) -> Vec<u64> {
    let want = GROUPS_PER_USER.min(groups) as usize;
    let mut out = Vec::with_capacity(want);
    let mut k = 0;
    while out.len() < want {
        let g = mix(i * 64 + k) % groups;
        if !out.contains(&g) {
            out.push(g);
        }
        k += 1;
    }
    out
}

fn user_name(i: u64) -> String {
    format!("user{i}@{EMAIL_DOMAIN}")
}

/// `text` percent-encoded for a query string (all but RFC 3986's unreserved).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

/// The JSON of an answer, or why not.
fn json_of(status: StatusCode, want: StatusCode, body: &[u8]) -> Result<Value, String> {
    if status != want {
        return Err(format!("expected {want}"));
    }
    serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))
}

/// A check that stores the `id` of a `201 Created` answer at `ids[seq]`.
fn keep_id(ids: &Arc<Vec<OnceLock<String>>>) -> Check {
    let ids = Arc::clone(ids);
    Box::new(move |seq, status, body| {
        let created = json_of(status, StatusCode::CREATED, body)?;
        let id = created["id"].as_str().ok_or("no id")?;
        let _ = ids[seq as usize].set(id.to_owned());
        Ok(())
    })
}

/// A check of a list answer: `totalResults` as expected (`expected[seq]`),
/// and as many resources as a page of `PAGE` from `start[seq]` holds.
fn list_check(expected: Vec<(usize, usize)>) -> Check {
    Box::new(move |seq, status, body| {
        let list = json_of(status, StatusCode::OK, body)?;
        let (total, start) = expected[seq as usize];
        let got = list["totalResults"].as_u64().ok_or("no totalResults")? as usize;
        if got != total {
            return Err(format!("totalResults {got}, expected {total}"));
        }
        let page = list["Resources"].as_array().map_or(0, Vec::len);
        let want = total.saturating_sub(start - 1).min(PAGE);
        if page != want {
            return Err(format!("{page} resources from startIndex {start}, expected {want}"));
        }
        Ok(())
    })
}

/// What was measured of one kind of request.
struct Row {
    kind: &'static str,
    run: Run,
}

/// One backend's run: the baseline, the sync, the lists.
struct Measured {
    rows: Vec<Row>,
    /// Users created, and the whole sync's time (users, groups, members).
    users: usize,
    sync: Duration,
    memberships: usize,
    patches: usize,
    /// Groups whose members read back were not the ones added.
    wrong_groups: Vec<String>,
}

async fn measure(s: &Settings, http: &HttpClient, url: &str, dir: &std::path::Path) -> Measured {
    let server = Server::start(url, &dir.join("server")).await;
    let admin = Client::new(server.base());
    let idp = IdP::new(&dir.join("idp-key.pem"));
    let spec = TenantSpec::new("bench", "bench", EMAIL_DOMAIN, idp.provider_config());
    let tenant = setup_tenant(&admin, server.operator_token(), &spec).await;
    let tokens = format!("/v1/orgs/{}/domains/{}/scim-tokens", tenant.org, tenant.domain_id);
    let issued = admin.call(Method::POST, &tokens, Some(&tenant.token), Some(&json!({"name": "okta"}))).await;
    let issued = issued.expect(StatusCode::CREATED, "issue a SCIM token");
    let token = issued["scim_token"].as_str().unwrap_or_else(|| panic!("no scim_token in {issued}")).to_owned();
    let scim_path = format!("/scim/v2/{}", tenant.domain_id);
    let phase = |request: Request, check: Check| {
        Arc::new(Phase {
            base: format!("{}{scim_path}", server.base()),
            authorization: Some(format!("Bearer {token}")),
            request,
            check,
        })
    };
    let mut rows = Vec::new();
    let mut measured = |kind: &'static str, run: Run| {
        server.check_alive(kind);
        run.assert_few_errors(kind);
        if run.errors > 0 {
            eprintln!("  {kind}: {} unexpected answers; the first: {}", run.errors, run.first_errors.join(" | "));
        }
        eprintln!("  {kind}: {} requests in {:.2} s", run.requests, run.elapsed.as_secs_f64());
        rows.push(Row { kind, run: run.clone() });
        run
    };

    // The baseline: the cheapest answer of the same server, same concurrency.
    let healthz = Arc::new(Phase {
        base: server.base().to_owned(),
        authorization: None,
        request: Box::new(|_| (Method::GET, "/healthz".into(), Bytes::new())),
        check: Box::new(|_, status, _| if status == StatusCode::OK { Ok(()) } else { Err("expected 200".into()) }),
    });
    measured("GET /healthz (baseline)", run_count(http, &healthz, s.concurrency, s.baseline).await);

    // The initial sync: users, groups, then members in batches.
    let user_ids: Arc<Vec<OnceLock<String>>> = Arc::new((0..s.users).map(|_| OnceLock::new()).collect());
    let create_user: Request = Box::new(|i| {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": user_name(i),
            "name": {"givenName": format!("G{i}"), "familyName": format!("F{i}")},
            "emails": [{"value": user_name(i), "type": "work", "primary": true}],
            "active": true,
        });
        (Method::POST, "/Users".into(), Bytes::from(body.to_string()))
    });
    let users =
        measured("POST /Users", run_count(http, &phase(create_user, keep_id(&user_ids)), s.concurrency, s.users).await);
    let group_ids: Arc<Vec<OnceLock<String>>> = Arc::new((0..s.groups).map(|_| OnceLock::new()).collect());
    let create_group: Request = Box::new(|j| {
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": format!("Group {j}"), "members": []});
        (Method::POST, "/Groups".into(), Bytes::from(body.to_string()))
    });
    let groups = measured(
        "POST /Groups",
        run_count(http, &phase(create_group, keep_id(&group_ids)), s.concurrency, s.groups).await,
    );

    // Every group's members (the users created), in batches; the batches
    // sent round by round over the groups, so that one group's are never in
    // flight together (an identity provider sends one group's in turn).
    let mut members: Vec<Vec<String>> = vec![Vec::new(); s.groups as usize];
    for i in 0..s.users {
        if let Some(id) = user_ids[i as usize].get() {
            for g in groups_of(i, s.groups) {
                members[g as usize].push(id.clone());
            }
        }
    }
    let mut patches: Vec<(String, Bytes)> = Vec::new();
    let rounds = members.iter().map(|m| m.len().div_ceil(BATCH)).max().unwrap_or(0);
    for round in 0..rounds {
        for (g, ids) in members.iter().enumerate() {
            let (Some(group), Some(batch)) = (group_ids[g].get(), ids.chunks(BATCH).nth(round)) else { continue };
            let value: Vec<Value> = batch.iter().map(|id| json!({"value": id})).collect();
            let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": value}]});
            patches.push((format!("/Groups/{group}"), Bytes::from(body.to_string())));
        }
    }
    let patches = Arc::new(patches);
    let count = patches.len() as u64;
    let add_members: Request = {
        let patches = Arc::clone(&patches);
        Box::new(move |seq| {
            let (path, body) = &patches[seq as usize];
            (Method::PATCH, path.clone(), body.clone())
        })
    };
    let patched: Check = Box::new(|_, status, _| match status {
        StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
        _ => Err("expected 200 or 204".into()),
    });
    let patch = measured(
        "PATCH /Groups/{id} (add, 100 members a batch)",
        run_count(http, &phase(add_members, patched), s.concurrency, count).await,
    );
    let sync = users.elapsed + groups.elapsed + patch.elapsed;

    // Every group's members read back.
    let mut wrong_groups = Vec::new();
    let scim = Client::new(&format!("{}{scim_path}", server.base()));
    for (g, ids) in members.iter().enumerate() {
        let Some(group) = group_ids[g].get() else { continue };
        let answer = scim.call(Method::GET, &format!("/Groups/{group}"), Some(&token), None).await;
        let read = answer.expect(StatusCode::OK, "read a group back");
        let mut got: Vec<&str> = read["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["value"].as_str()).collect())
            .unwrap_or_default();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        got.sort_unstable();
        want.sort_unstable();
        if got != want {
            wrong_groups.push(format!("Group {g}: {} members read back, {} added", got.len(), want.len()));
        }
    }

    // The lists, each answer's totalResults checked against what exists.
    let created: Vec<u64> = (0..s.users).filter(|i| user_ids[*i as usize].get().is_some()).collect();
    let n = created.len();
    assert!(n > 0, "no user was created");
    let emails: Vec<String> = created.iter().map(|i| user_name(*i)).collect();
    let family_names: Vec<String> = created.iter().map(|i| format!("F{i}")).collect();
    let pick = |seq: u64| created[(mix(seq ^ 0x5c1) % n as u64) as usize];
    let lists: [(&'static str, Vec<(String, usize)>); 3] = [
        (
            "GET /Users?filter=userName eq",
            (0..s.queries).map(|q| (format!("userName eq \"{}\"", user_name(pick(q))), 1)).collect(),
        ),
        (
            "GET /Users?filter=emails.value co",
            (0..s.queries)
                .map(|q| {
                    let needle = format!("{}@", pick(q));
                    let total = emails.iter().filter(|e| e.contains(&needle)).count();
                    (format!("emails.value co \"{needle}\""), total)
                })
                .collect(),
        ),
        (
            "GET /Users?filter=active eq true and name.familyName sw",
            (0..s.queries)
                .map(|q| {
                    let prefix = format!("F{}", 1 + q % 99);
                    let total = family_names.iter().filter(|f| f.starts_with(&prefix)).count();
                    (format!("active eq true and name.familyName sw \"{prefix}\""), total)
                })
                .collect(),
        ),
    ];
    for (kind, queries) in lists {
        let paths: Vec<String> =
            queries.iter().map(|(filter, _)| format!("/Users?filter={}&count={PAGE}", encode(filter))).collect();
        let expected = queries.iter().map(|(_, total)| (*total, 1)).collect();
        let request: Request = Box::new(move |seq| (Method::GET, paths[seq as usize].clone(), Bytes::new()));
        measured(kind, run_count(http, &phase(request, list_check(expected)), s.concurrency, s.queries).await);
    }
    let pages = n.div_ceil(PAGE) as u64;
    let start = move |seq: u64| 1 + (seq % pages) as usize * PAGE;
    let paging: Request =
        Box::new(move |seq| (Method::GET, format!("/Users?startIndex={}&count={PAGE}", start(seq)), Bytes::new()));
    let expected = (0..s.queries).map(|seq| (n, start(seq))).collect();
    measured(
        "GET /Users?startIndex&count=100",
        run_count(http, &phase(paging, list_check(expected)), s.concurrency, s.queries).await,
    );

    server.stop().await;
    Measured {
        rows,
        users: n,
        sync,
        memberships: members.iter().map(Vec::len).sum(),
        patches: count as usize,
        wrong_groups,
    }
}

fn ratio(value: f64, baseline: f64) -> String {
    if baseline > 0.0 { format!("{:.2}", value / baseline) } else { "—".into() }
}

/// The markdown row of one kind of request against the baseline's run.
fn table_row(backend: &str, row: &Row, baseline: &Run) -> String {
    let r = &row.run;
    format!(
        "| {backend} | {} | {} | {} | {:.0} | {} | {:.2} | {:.2} | {} | {} |",
        row.kind,
        r.requests,
        r.errors,
        r.rate(),
        ratio(r.rate(), baseline.rate()),
        ms(r.percentile(0.5)),
        ms(r.percentile(0.99)),
        ratio(ms(r.percentile(0.5)), ms(baseline.percentile(0.5))),
        ratio(ms(r.percentile(0.99)), ms(baseline.percentile(0.99))),
    )
}

fn main() {
    let s = Settings::from_env();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let mut dir = tempfile::Builder::new().prefix("provisio-bench-scim-").tempdir().unwrap();
        if env_or("KEEP_TEMP", 0u8) == 1 {
            eprintln!("servers' directories and logs kept in {}", dir.path().display());
            dir.disable_cleanup(true);
        }
        let http = http_client();
        println!(
            "SCIM initial sync: {} users, {} groups ({} per user, PATCH add in batches of {BATCH}), then {} requests \
             of each list kind; {} requests in flight; baseline: {} GET /healthz on the same server",
            s.users,
            s.groups,
            GROUPS_PER_USER.min(s.groups),
            s.queries,
            s.concurrency,
            s.baseline
        );
        println!("server: {}\n", provisio_bench::provisio_binary().display());
        let mut table = Vec::new();
        let mut summaries = Vec::new();
        let mut failed = false;
        for backend in &s.backends {
            let run_dir = dir.path().join(backend);
            std::fs::create_dir_all(&run_dir).unwrap();
            let pg = match backend.as_str() {
                "sqlite" => None,
                "postgres" | "postgresql" | "pg" => match PgDatabase::create(&s.pg_admin).await {
                    Ok(db) => Some(db),
                    Err(e) => {
                        let note = format!("{backend}: PostgreSQL cannot be reached ({e}): SKIPPED");
                        eprintln!("\n!!! {note}\n");
                        summaries.push(format!("!!! {note}"));
                        continue;
                    }
                },
                other => panic!("BACKENDS: unknown backend {other} (sqlite, postgres)"),
            };
            let url = match &pg {
                Some(db) => db.url().to_owned(),
                None => format!("sqlite://{}?mode=rwc", run_dir.join("provisio.db").display()),
            };
            eprintln!("{backend} …");
            let m = measure(&s, &http, &url, &run_dir).await;
            if let Some(pg) = pg {
                pg.drop_database().await;
            }
            let baseline = m.rows[0].run.clone();
            for r in &m.rows {
                table.push(table_row(backend, r, &baseline));
            }
            let users = m.rows.iter().find(|r| r.kind == "POST /Users").map(|r| r.run.rate()).unwrap_or_default();
            summaries.push(format!(
                "{backend}: initial sync of {} users, {} groups, {} memberships in {} PATCHes: {:.1} s, {:.0} users/s \
                 (POST /Users alone: {users:.0} users/s)",
                m.users,
                s.groups,
                m.memberships,
                m.patches,
                m.sync.as_secs_f64(),
                m.users as f64 / m.sync.as_secs_f64().max(1e-9),
            ));
            if !m.wrong_groups.is_empty() {
                failed = true;
                summaries.push(format!(
                    "!!! {backend}: {} of {} groups read back with other members than were added: {}",
                    m.wrong_groups.len(),
                    s.groups,
                    m.wrong_groups.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
                ));
            }
        }
        println!("| backend | request | requests | errors | rate/s | rate / baseline | p50 ms | p99 ms | p50 / baseline | p99 / baseline |");
        println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for line in &table {
            println!("{line}");
        }
        println!();
        for line in &summaries {
            println!("{line}");
        }
        if failed {
            std::process::exit(1);
        }
    });
}
