//! The accept loop of the HTTP API: hyper's HTTP/1 connections, each bounded
//! in time, with a bound on how many are open at once.
//!
//! - **Headers**: hyper's header-read timeout
//!   ([`HttpConfig::header_read_timeout`]). Hyper starts it whenever it waits
//!   for a request head, so it also runs while a keep-alive connection waits
//!   for its next request: a connection that sends no complete head in time
//!   is closed, without an answer.
//! - **Body**: a request body must arrive completely within
//!   [`HttpConfig::body_read_timeout`] of its headers; a handler reading it
//!   later than that gets an error, which the extractors answer as
//!   `408 request-timeout` (the rest of the body is not read: the connection
//!   is then closed).
//! - **Idle**: a connection with no request in flight (no handler running,
//!   no answer being written) for [`HttpConfig::idle_timeout`] is closed.
//!   Since the header-read timeout also runs between requests, a keep-alive
//!   connection lives at most the smaller of the two. A connection that
//!   still has not closed one more idle timeout after being asked to (a
//!   client that does not read its answer) is dropped.
//! - **Count**: at most [`HttpConfig::max_connections`] connections are
//!   served at once. Over the limit the loop stops accepting: new
//!   connections wait in the kernel's listen backlog (and, once it is full,
//!   the kernel refuses or drops them) until a connection closes. Nothing is
//!   closed to make room, and a client that waits is served in its turn.
//!
//! Each request carries the peer's address as axum's
//! [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo).
//!
//! On shutdown the loop stops accepting (the listener is closed), every
//! connection is asked to close once its request in flight is answered, and
//! [`run`] returns when all have closed.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::Service as _;

use super::HttpConfig;

/// The bounds of [`run`], from an [`HttpConfig`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    header_read: Duration,
    body_read: Duration,
    idle: Duration,
    max_connections: usize,
}

/// The longest timeout taken (a year): deadlines are `now + timeout`, which
/// must not overflow.
const LONGEST: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl Bounds {
    /// The bounds `config` sets; a limit of 0 connections is taken as 1,
    /// a timeout over a year as a year.
    pub(crate) fn of(config: &HttpConfig) -> Self {
        Self {
            header_read: config.header_read_timeout.min(LONGEST),
            body_read: config.body_read_timeout.min(LONGEST),
            idle: config.idle_timeout.min(LONGEST),
            max_connections: config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
        }
    }
}

/// Serves `router` on `listener` within `bounds` until `shutdown`
/// completes, then waits for the connections to finish their requests.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    bounds: Bounds,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(bounds.max_connections));
    let (stop, stopping) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        // A permit first: over the limit, connections wait in the backlog.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // Answers are written whole; do not hold their last segment back.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, peer, router.clone(), bounds, stopping.clone(), permit));
    }
    drop(listener);
    // Every connection holds a receiver: ask them to close, and wait until
    // the last one is gone.
    let _ = stop.send(());
    drop(stopping);
    stop.closed().await;
    Ok(())
}

/// A failed `accept`: a connection that went away before it was accepted
/// is nothing; anything else (out of file descriptors, say) is logged and
/// waited out, rather than retried in a busy loop.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(error.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused)
    {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection, from accept to close. The permit is released when it
/// ends.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    bounds: Bounds,
    mut stopping: watch::Receiver<()>,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request| handle(request, peer, router.clone(), &activity, bounds.body_read))
    };
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(bounds.header_read);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let mut idle = pin!(activity.idle_for(bounds.idle));
    // Armed when the connection is asked to close for being idle.
    let mut overdue = pin!(tokio::time::sleep(bounds.idle));
    let mut closing = false;
    let mut draining = false;
    loop {
        tokio::select! {
            // Its end, or its error (a header-read timeout, a client gone,
            // a malformed request): there is nobody to tell.
            _ = conn.as_mut() => return,
            () = &mut idle, if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
                overdue.as_mut().reset(Instant::now() + bounds.idle);
            }
            () = &mut overdue, if closing => {
                if activity.in_flight() == 0 {
                    return;
                }
                overdue.as_mut().reset(Instant::now() + bounds.idle);
            }
            _ = stopping.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// One request: the peer's address in its extensions, its body under the
/// deadline, and the connection busy until its answer is written.
fn handle(
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    mut router: Router,
    activity: &Arc<Activity>,
    body_read: Duration,
) -> impl Future<Output = Result<axum::response::Response, Infallible>> + Send + use<> {
    let busy = activity.start();
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let body = Body::new(Deadline { body, at: Instant::now() + body_read, sleep: None });
    let call = router.call(axum::http::Request::from_parts(parts, body));
    async move {
        let response = call.await?;
        // The connection stays busy until hyper has taken the whole answer.
        Ok(response.map(|body| {
            Body::new(body.map_frame(move |frame| {
                let _busy = &busy;
                frame
            }))
        }))
    }
}

/// The error a request body gives when it has not arrived completely in
/// time; the extractors answer it as `408 request-timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyTimeout;

/// Whether `error`, or an error it was caused by, is a [`BodyTimeout`].
pub(crate) fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<BodyTimeout>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A request body that fails with [`BodyTimeout`] once `at` has passed
/// while it waits for more.
struct Deadline {
    body: Incoming,
    at: Instant,
    /// Made the first time the body has to wait.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(axum::BoxError::from))),
            Poll::Pending => {
                let at = this.at;
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// How many requests of a connection are in flight, and since when that
/// number last changed.
struct Activity {
    state: watch::Sender<Busy>,
}

#[derive(Debug, Clone, Copy)]
struct Busy {
    in_flight: usize,
    since: Instant,
}

impl Activity {
    fn new() -> Self {
        Self { state: watch::Sender::new(Busy { in_flight: 0, since: Instant::now() }) }
    }

    fn in_flight(&self) -> usize {
        self.state.borrow().in_flight
    }

    /// Counts a request until the guard is dropped.
    fn start(self: &Arc<Self>) -> InFlight {
        self.state.send_modify(|b| {
            b.in_flight += 1;
            b.since = Instant::now();
        });
        InFlight(self.clone())
    }

    /// Completes once no request has been in flight for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        let mut changes = self.state.subscribe();
        loop {
            let now = *changes.borrow_and_update();
            if now.in_flight == 0 {
                tokio::select! {
                    () = tokio::time::sleep_until(now.since + timeout) => return,
                    _ = changes.changed() => {}
                }
            } else {
                // The sender lives as long as `self`: this never fails.
                let _ = changes.changed().await;
            }
        }
    }
}

/// A request in flight; see [`Activity::start`].
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.state.send_modify(|b| {
            b.in_flight = b.in_flight.saturating_sub(1);
            b.since = Instant::now();
        });
    }
}
