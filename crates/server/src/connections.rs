//! The HTTP listener of `watchpost serve`: its own accept loop over hyper's
//! HTTP/1.1 connection driver, so that slow and idle clients are bounded.
//!
//! - **Header time limit** ([`ConnectionLimits::header_read_timeout`],
//!   10 s by default): a request's headers must arrive in full within this
//!   time of the server starting to wait for them (when the connection
//!   opens, and again after each response). A client that sends one byte a
//!   second is cut off. hyper enforces it.
//! - **Idle time limit** ([`ConnectionLimits::keep_alive_timeout`], 5 s by
//!   default): a connection with no request in progress and no byte read
//!   or written for this long is closed. As hyper's header limit also runs
//!   while a kept-alive connection waits for its next request, an idle
//!   connection is closed after the smaller of the two limits.
//! - **Connection cap** ([`ConnectionLimits::max_connections`], 1,024 by
//!   default): past it, a new connection is accepted, answered at once
//!   with a `503` in the API's error format, and closed. Accepting and
//!   closing (rather than leaving connections in the kernel's backlog)
//!   keeps the server's own descriptors bounded by the cap, keeps the
//!   backlog from filling, and tells a client at once to come back, while
//!   the header and idle limits free the cap from clients that hold
//!   connections without using them.
//! - **Graceful shutdown**: when the shutdown future resolves, the listener
//!   is closed, idle connections are closed, requests in progress finish
//!   (each is bounded by the router's request time limit), and [`serve`]
//!   returns when the last connection has ended.
//!
//! Only HTTP/1.1 is served. hyper-util's `auto` builder (HTTP/1 and
//! HTTP/2) would add the `h2` crate, and its protocol-sniffing stage reads
//! the first bytes with no time limit at all, which is the very hole the
//! header limit closes. Every request carries the peer's address as axum's
//! `ConnectInfo<SocketAddr>`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// The default header time limit: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default idle time limit: 5 s.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// The default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// What the server answers on a connection over the cap before closing it.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 84\r\n\
\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections; retry in a moment\"}}";

/// The limits of the listener; [`ConnectionLimits::default`] works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a request's headers may take to arrive in full.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with nothing in progress.
    pub keep_alive_timeout: Duration,
    /// The most connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes the
/// requests in progress and returns once every connection has closed.
/// Connections refused over the cap are counted in `stats`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stats: Arc<web::stats::RequestStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut refused: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            stats.record_over_capacity();
            refuse(&stream, refused);
            continue;
        };
        if refused > 0 {
            tracing::info!(
                refused,
                "accepting connections again after refusing some over the cap"
            );
            refused = 0;
        }
        tokio::spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            limits,
            stop_rx.clone(),
            slot,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = max as usize - slots.available_permits();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    // Every connection holds one permit until it ends.
    let _ = slots.acquire_many(max).await;
}

/// Answers a connection over the cap with a 503 (if its send buffer takes
/// it without waiting) and closes it.
fn refuse(stream: &TcpStream, refused: u64) {
    if refused == 1 {
        tracing::warn!("connection cap reached: refusing new connections with 503");
    }
    let _ = stream.try_write(OVER_CAPACITY);
}

/// After a failed accept. A connection that failed on the client's side is
/// skipped; anything else (out of descriptors or memory) clears only when
/// something closes, so it is logged and waited out briefly rather than
/// retried in a spin.
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind as K;
    if matches!(
        error.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection; pausing accepts for 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it ends, is idle too long, or shutdown.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_progress = activity.start_request();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(in_progress);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                break;
            }
            () = activity.idle_for(limits.keep_alive_timeout), if !closing => {
                tracing::debug!(%peer, "closing an idle connection");
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            changed = stop.changed(), if !closing => {
                if changed.is_ok() && !*stop.borrow() {
                    continue;
                }
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// When a connection last read or wrote, and how many of its requests are
/// in progress.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last byte read or written.
    last_ms: AtomicU64,
    in_progress: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_progress: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn start_request(self: &Arc<Self>) -> InProgress {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        InProgress(self.clone())
    }

    /// Resolves once nothing has been read or written for `limit` and no
    /// request is in progress. Wakes at most once per `limit` while busy.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let deadline = self.last() + limit;
            tokio::time::sleep_until(deadline).await;
            let idle = self.last() + limit <= Instant::now();
            if idle && self.in_progress.load(Ordering::Relaxed) == 0 {
                return;
            }
            if idle {
                // Busy handling a request without IO: look again later.
                tokio::time::sleep(limit).await;
            }
        }
    }
}

/// Marks one request in progress until dropped.
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A stream that records when it last moved bytes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_http_response_in_the_error_format() {
        let text = std::str::from_utf8(OVER_CAPACITY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "unavailable");
    }
}
