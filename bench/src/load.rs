//! A closed-loop load generator over any [`Workload`], and what a run
//! measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};

use crate::client::HttpClient;
use crate::{Bytes, Method, StatusCode, Uri};

/// One request of a load run.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method.
    pub method: Method,
    /// The full URI (which server, which path).
    pub uri: Uri,
    /// The JSON body.
    pub body: Bytes,
}

/// What a load run sends and what it accepts.
pub trait Workload: Send + Sync + 'static {
    /// The request number `seq` of the run (numbered from 0 across all
    /// workers, each number given once), sent by `worker`.
    fn call(&self, worker: usize, seq: u64) -> Call;

    /// Whether the answer to request `seq` is the expected one; the error
    /// says what was wrong.
    fn check(&self, worker: usize, seq: u64, status: StatusCode, body: &[u8]) -> Result<(), String>;

    /// The `Authorization` header every request carries (`Bearer …`), if any.
    fn authorization(&self) -> Option<&str> {
        None
    }
}

/// How many unexpected answers a run tolerates before [`Run::assert_few_errors`] panics.
pub const MAX_ERRORS: u64 = 5;

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Requests answered (expected or not).
    pub requests: u64,
    /// Answers that failed the workload's check, or requests that failed.
    pub errors: u64,
    /// The first few errors' descriptions.
    pub first_errors: Vec<String>,
    /// From the first request's start to the last answer.
    pub elapsed: Duration,
    /// Client-side latencies of every request, sorted.
    pub latencies: Vec<Duration>,
}

impl Run {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile latency (0 ≤ q ≤ 1).
    pub fn percentile(&self, q: f64) -> Duration {
        percentile(&self.latencies, q)
    }

    /// The mean latency.
    pub fn mean(&self) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.iter().sum::<Duration>() / u32::try_from(self.latencies.len()).unwrap_or(u32::MAX)
    }

    /// The largest latency.
    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// Panics, showing the first errors, when there were more than [`MAX_ERRORS`].
    pub fn assert_few_errors(&self, doing: &str) {
        assert!(
            self.errors <= MAX_ERRORS,
            "{doing}: {} of {} answers were not the expected ones; the first:\n{}",
            self.errors,
            self.requests,
            self.first_errors.join("\n")
        );
    }
}

/// The `q`-quantile of sorted durations (nearest rank), zero when empty.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
    sorted[i]
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `workload` closed-loop with `concurrency` workers for `duration`:
/// each worker sends a request, waits for the answer and sends the next one
/// until the time is up (the requests in flight then finish and count).
pub async fn run_for<W: Workload>(http: &HttpClient, workload: &Arc<W>, concurrency: usize, duration: Duration) -> Run {
    run(http, workload, concurrency, Some(Instant::now() + duration), u64::MAX).await
}

/// Runs `workload` with `concurrency` workers until requests `0..total`
/// have each been sent once.
pub async fn run_count<W: Workload>(http: &HttpClient, workload: &Arc<W>, concurrency: usize, total: u64) -> Run {
    run(http, workload, concurrency, None, total).await
}

async fn run<W: Workload>(
    http: &HttpClient,
    workload: &Arc<W>,
    concurrency: usize,
    deadline: Option<Instant>,
    total: u64,
) -> Run {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency.max(1) {
        let (http, workload, next) = (http.clone(), Arc::clone(workload), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut run = Run { latencies: Vec::with_capacity(1 << 14), ..Run::default() };
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total {
                    break;
                }
                let call = workload.call(worker, seq);
                let mut request = hyper::Request::builder()
                    .method(call.method)
                    .uri(call.uri)
                    .header("content-type", "application/json");
                if let Some(authorization) = workload.authorization() {
                    request = request.header("authorization", authorization);
                }
                let request = request.body(Full::new(call.body)).unwrap();
                let t = Instant::now();
                let result = match http.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        match response.into_body().collect().await {
                            Ok(body) => Ok((status, body.to_bytes())),
                            Err(e) => Err(format!("request {seq}: reading the answer: {e}")),
                        }
                    }
                    Err(e) => Err(format!("request {seq}: {e}")),
                };
                let latency = t.elapsed();
                run.requests += 1;
                run.latencies.push(latency);
                let verdict = result.and_then(|(status, body)| {
                    workload.check(worker, seq, status, &body).map_err(|e| {
                        let text = String::from_utf8_lossy(&body);
                        let text: String = text.chars().take(600).collect();
                        format!("request {seq}, {:.1} ms: {e} ({status}: {text})", ms(latency))
                    })
                });
                if let Err(e) = verdict {
                    run.errors += 1;
                    if run.first_errors.len() < 3 {
                        run.first_errors.push(e);
                    }
                }
            }
            run
        }));
    }
    let mut all = Run::default();
    for worker in workers {
        let run = worker.await.expect("a load worker panicked");
        all.requests += run.requests;
        all.errors += run.errors;
        let room = 3usize.saturating_sub(all.first_errors.len());
        all.first_errors.extend(run.first_errors.into_iter().take(room));
        all.latencies.extend(run.latencies);
    }
    all.elapsed = started.elapsed();
    all.latencies.sort_unstable();
    all
}
