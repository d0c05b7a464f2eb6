//! The syslog input: a TCP (optionally TLS) or UDP listener whose messages
//! go to the [`Intake`] like any other input's lines.
//!
//! ```text
//! TCP/TLS: socket ─> FrameDecoder (RFC 6587) ─> batch ─> Intake::submit_lines ─> spool (fsync) ─> read more
//! UDP:     datagram ─> strip LF/CRLF/NUL ─> batch (what is already queued) ─> Intake::submit_lines
//! ```
//!
//! - **Sources.** Every message is stored under the source
//!   `syslog/<peer ip>/<type>` (the type is the configured `source`,
//!   `syslog` by default), so detections name the host that sent it, and
//!   a type such as `auth.log` routes the lines as an `auth` log does.
//! - **TCP backpressure.** A connection reads, decodes the frames those
//!   bytes complete, and hands them to the intake (at most
//!   [`MAX_BATCH_LINES`] lines or [`MAX_BATCH_BYTES`] bytes at a time)
//!   *before* it reads again. While the intake answers busy or
//!   unavailable the same batch is retried after the delay it asks for, so
//!   nothing read is dropped; the socket is not read meanwhile, and TCP
//!   flow control slows the sender down. Lines the intake refuses (not
//!   syslog) are counted and written to the dead-letter file by the intake;
//!   they never block the lines after them.
//! - **Framing errors** (a frame over `max_message_bytes`, an invalid
//!   length prefix, a stream cut inside a frame) are counted and logged
//!   without the message's content, and the stream goes on with the next
//!   frame ([`sources::framing`]).
//! - **UDP** cannot push back and is not acknowledged: a datagram that
//!   arrives while the intake is busy or unavailable is dropped and counted
//!   in [`SyslogStats::dropped_udp`], and datagrams the kernel drops while
//!   its receive buffer is full are not seen at all. Use TCP for messages
//!   that must not be lost.
//! - **Shutdown.** When the shutdown signal turns true the listener stops
//!   accepting, each connection finishes handing over the batch it has
//!   read (but stops waiting on a busy intake), and [`Bound::run`] returns
//!   once every connection has ended.
//!
//! Message contents are logged at `trace` only. This module must not know
//! HTTP or the syslog message format: the intake checks the lines.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use sources::Format;
use sources::framing::{Frame, FrameDecoder, FrameError};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use web::events::{Receipt, Refusal};

use super::Intake;
use super::body::Line;
use super::deliver::{self, Delivered, LineSink, stopped, valid_source_type};
use super::record::MAX_SOURCE_LEN;

/// Default source type: events are from `syslog/<peer ip>/syslog`.
pub const DEFAULT_SOURCE: &str = "syslog";
/// Default longest message: 64 KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 10;
/// The largest `max_message_bytes` accepted: 16 MiB.
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 16 << 20;
/// Default most TCP connections open at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// The most lines handed to the intake at once.
pub const MAX_BATCH_LINES: usize = 1_000;
/// The most message bytes handed to the intake at once (a batch may pass
/// it by one message).
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// The longest source type (so that `syslog/<IPv6 address>/<type>` stays
/// within the spool's source length).
pub use super::deliver::MAX_SOURCE_TYPE_LEN;

// `syslog/` + the longest IPv6 address (39) + `/` + the longest type.
const _: () = assert!(7 + 39 + 1 + MAX_SOURCE_TYPE_LEN <= MAX_SOURCE_LEN);

/// Bytes read from a TCP connection at a time.
const READ_BUFFER: usize = 64 << 10;
/// Room for the largest UDP datagram.
const UDP_BUFFER: usize = 1 << 16;
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// One `[[ingest.syslog]]` listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// The address and port to listen on, e.g. `0.0.0.0:6514`.
    pub listen: SocketAddr,
    /// `tcp` (RFC 6587 octet counting or line framing, optionally TLS) or
    /// `udp` (one message per datagram, RFC 5426; never acknowledged, so
    /// lost when the intake is busy).
    pub protocol: Protocol,
    /// The source type of the events (default `syslog`): they come from
    /// `syslog/<peer ip>/<source>`. 1 to 63 letters, digits and `._/-`; a
    /// type ending in `auth.log` or `secure` is read as an auth log.
    #[serde(default = "default_source")]
    pub source: String,
    /// The longest message in bytes (default 65,536; at most 16 MiB).
    /// Longer frames and datagrams are counted as frame errors and skipped.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Serve TCP over TLS with this certificate and key (TCP only; RFC 5425
    /// syslog over TLS, usually port 6514).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The most TCP connections open at once (default 256; 0 is refused).
    /// Connections past it are closed at once. Not used for UDP.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Close a TCP connection that sends nothing for this many seconds
    /// (default: never, as rsyslog and syslog-ng do; 0 is refused). A
    /// half-received message is handled as at a close. Senders reconnect
    /// when they next have something to send; set it where idle
    /// connections from unknown peers must not hold `max_connections`.
    #[serde(default)]
    pub idle_timeout_secs: Option<std::num::NonZeroU64>,
}

/// The certificate and key of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file holding the certificate chain, the server's own first.
    pub cert: PathBuf,
    /// PEM file holding the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The transport of a syslog listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// A stream of framed messages (RFC 6587), optionally over TLS.
    Tcp,
    /// One message per datagram (RFC 5426).
    Udp,
}

fn default_source() -> String {
    DEFAULT_SOURCE.to_owned()
}

fn default_max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}

fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}

impl SyslogConfig {
    /// A listener on `listen` with every other setting at its default.
    pub fn new(listen: SocketAddr, protocol: Protocol) -> Self {
        Self {
            listen,
            protocol,
            source: default_source(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            tls: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout_secs: None,
        }
    }

    /// Checks the settings that the types do not (the TLS files are read
    /// by [`bind`]).
    pub fn validate(&self) -> anyhow::Result<()> {
        let at = self.listen;
        if !valid_source_type(&self.source) {
            anyhow::bail!(
                "syslog input on {at}: source {:?} must be 1 to {MAX_SOURCE_TYPE_LEN} letters, digits and ._/-",
                self.source
            );
        }
        if !(1..=MAX_MESSAGE_BYTES_LIMIT).contains(&self.max_message_bytes) {
            anyhow::bail!(
                "syslog input on {at}: max_message_bytes must be from 1 to {MAX_MESSAGE_BYTES_LIMIT}"
            );
        }
        if self.max_connections == 0 {
            anyhow::bail!("syslog input on {at}: max_connections must be at least 1");
        }
        if self.tls.is_some() && self.protocol == Protocol::Udp {
            anyhow::bail!("syslog input on {at}: tls needs protocol = \"tcp\"");
        }
        Ok(())
    }
}

/// The source of the messages from `peer`: `syslog/<ip>/<type>`, an
/// IPv4-mapped IPv6 address written as IPv4. At most
/// [`MAX_SOURCE_LEN`] bytes of `[A-Za-z0-9._/:-]` for a valid type.
fn source_name(peer: IpAddr, kind: &str) -> String {
    format!("syslog/{}/{kind}", peer.to_canonical())
}

/// Counters of one listener, shared with whoever reports them.
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// TCP connections accepted and served.
    pub connections: AtomicU64,
    /// TCP connections closed at once because `max_connections` were open,
    /// or whose TLS handshake failed.
    pub connections_refused: AtomicU64,
    /// Bytes received (TCP: as read, framing included; UDP: datagrams).
    pub bytes: AtomicU64,
    /// Messages received: TCP frames and non-empty UDP datagrams.
    pub frames: AtomicU64,
    /// Frames that could not be decoded (too long, bad length prefix,
    /// stream cut inside a frame) and datagrams over the size limit.
    pub frame_errors: AtomicU64,
    /// Messages the intake stored.
    pub accepted: AtomicU64,
    /// Messages the intake refused (not syslog, or a batch refused whole
    /// as invalid); the intake's dead-letter file has the lines.
    pub rejected: AtomicU64,
    /// UDP messages dropped because the intake was busy or unavailable.
    pub dropped_udp: AtomicU64,
    /// TCP messages read but not stored because shutdown came while the
    /// intake was busy or unavailable.
    pub dropped_at_shutdown: AtomicU64,
    /// TCP connections closed after `idle_timeout_secs` with nothing read.
    pub idle_closed: AtomicU64,
}

/// A copy of [`SyslogStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyslogCounts {
    /// See [`SyslogStats::connections`].
    pub connections: u64,
    /// See [`SyslogStats::connections_refused`].
    pub connections_refused: u64,
    /// See [`SyslogStats::bytes`].
    pub bytes: u64,
    /// See [`SyslogStats::frames`].
    pub frames: u64,
    /// See [`SyslogStats::frame_errors`].
    pub frame_errors: u64,
    /// See [`SyslogStats::accepted`].
    pub accepted: u64,
    /// See [`SyslogStats::rejected`].
    pub rejected: u64,
    /// See [`SyslogStats::dropped_udp`].
    pub dropped_udp: u64,
    /// See [`SyslogStats::dropped_at_shutdown`].
    pub dropped_at_shutdown: u64,
    /// See [`SyslogStats::idle_closed`].
    pub idle_closed: u64,
}

impl SyslogStats {
    /// The counters now.
    pub fn snapshot(&self) -> SyslogCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SyslogCounts {
            connections: get(&self.connections),
            connections_refused: get(&self.connections_refused),
            bytes: get(&self.bytes),
            frames: get(&self.frames),
            frame_errors: get(&self.frame_errors),
            accepted: get(&self.accepted),
            rejected: get(&self.rejected),
            dropped_udp: get(&self.dropped_udp),
            idle_closed: get(&self.idle_closed),
            dropped_at_shutdown: get(&self.dropped_at_shutdown),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Binds the listener of `config` and serves it until `shutdown` turns
/// true (or its sender is dropped). The same as [`bind`] then
/// [`Bound::run`].
pub async fn run(
    config: SyslogConfig,
    intake: Arc<Intake>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    bind(config).await?.run(intake, shutdown).await
}

/// Checks `config`, loads its TLS certificate and binds its socket, so that
/// a bad setting or a port in use fails at start, before anything is
/// served.
pub async fn bind(config: SyslogConfig) -> anyhow::Result<Bound> {
    config.validate()?;
    let at = config.listen;
    let socket = match config.protocol {
        Protocol::Tcp => {
            let tls = match &config.tls {
                Some(tls) => Some(tls_acceptor(tls).with_context(|| {
                    format!("syslog input on {at}: cannot load the TLS certificate")
                })?),
                None => None,
            };
            let listener = TcpListener::bind(at)
                .await
                .with_context(|| format!("syslog input: cannot listen on tcp {at}"))?;
            Socket::Tcp { listener, tls }
        }
        Protocol::Udp => Socket::Udp(
            UdpSocket::bind(at)
                .await
                .with_context(|| format!("syslog input: cannot listen on udp {at}"))?,
        ),
    };
    let local_addr = match &socket {
        Socket::Tcp { listener, .. } => listener.local_addr()?,
        Socket::Udp(socket) => socket.local_addr()?,
    };
    Ok(Bound {
        socket,
        local_addr,
        input: Arc::new(Input {
            source_type: config.source,
            max_message: config.max_message_bytes,
            max_connections: config.max_connections,
            idle: config
                .idle_timeout_secs
                .map(|s| Duration::from_secs(s.get())),
            stats: Arc::new(SyslogStats::default()),
        }),
    })
}

/// Reads the certificate chain and key of a TLS listener (ring provider).
fn tls_acceptor(config: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let pem_error = |path: &Path| {
        let path = path.display().to_string();
        move |e: rustls::pki_types::pem::Error| anyhow::anyhow!("{path}: {e}")
    };
    let certs = CertificateDer::pem_file_iter(&config.cert)
        .map_err(pem_error(&config.cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(&config.cert))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate in the file", config.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(pem_error(&config.key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "{} and {} do not make a usable certificate and key",
                config.cert.display(),
                config.key.display()
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// A bound listener, not yet serving.
pub struct Bound {
    socket: Socket,
    local_addr: SocketAddr,
    input: Arc<Input>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

enum Socket {
    Tcp {
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
    },
    Udp(UdpSocket),
}

/// What every connection of a listener shares.
struct Input {
    source_type: String,
    max_message: usize,
    max_connections: usize,
    /// How long a TCP connection may send nothing (`None`: forever).
    idle: Option<Duration>,
    stats: Arc<SyslogStats>,
}

impl Bound {
    /// The address the listener is bound to (its port when `listen` had
    /// port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The listener's counters.
    pub fn stats(&self) -> Arc<SyslogStats> {
        Arc::clone(&self.input.stats)
    }

    /// Serves until `shutdown` turns true (or its sender is dropped), then
    /// stops accepting, lets every connection hand over the batch it has
    /// read, and returns when they have ended.
    pub async fn run(
        self,
        intake: Arc<Intake>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        self.serve(intake, shutdown).await
    }

    async fn serve(
        self,
        sink: Arc<dyn LineSink>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let Bound {
            socket,
            local_addr,
            input,
        } = self;
        match socket {
            Socket::Tcp { listener, tls } => {
                tracing::info!(address = %local_addr, tls = tls.is_some(), "syslog input listening on tcp");
                serve_tcp(listener, tls, input, sink, shutdown).await;
            }
            Socket::Udp(socket) => {
                tracing::info!(address = %local_addr, "syslog input listening on udp");
                serve_udp(socket, input, sink, shutdown).await;
            }
        }
        tracing::info!(address = %local_addr, "syslog input stopped");
        Ok(())
    }
}

async fn serve_tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    input: Arc<Input>,
    sink: Arc<dyn LineSink>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(input.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = ended {
                    tracing::error!(%error, "a syslog connection task failed");
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "syslog input cannot accept a connection");
                tokio::select! {
                    () = stopped(&mut shutdown) => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            let refused = input
                .stats
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            // The first refusal, then one in a hundred, so a sender that
            // reconnects in a loop does not flood the log.
            if refused.is_multiple_of(100) {
                tracing::warn!(%peer, max_connections = input.max_connections, refused = refused + 1, "syslog input: too many connections; closing new ones");
            }
            drop(stream);
            continue;
        };
        let input = Arc::clone(&input);
        let sink = Arc::clone(&sink);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            connection(stream, peer, tls, &input, sink.as_ref(), shutdown).await;
            drop(permit);
        });
    }
    drop(listener);
    while let Some(ended) = connections.join_next().await {
        if let Err(error) = ended {
            tracing::error!(%error, "a syslog connection task failed");
        }
    }
}

/// Serves one TCP connection, after its TLS handshake when there is one.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    input: &Input,
    sink: &dyn LineSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let source = source_name(peer.ip(), &input.source_type);
    match tls {
        None => {
            add(&input.stats.connections, 1);
            read_stream(stream, peer, &source, input, sink, shutdown).await;
        }
        Some(acceptor) => {
            let handshake = tokio::select! {
                () = stopped(&mut shutdown) => return,
                done = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => done,
            };
            match handshake {
                Ok(Ok(stream)) => {
                    add(&input.stats.connections, 1);
                    read_stream(stream, peer, &source, input, sink, shutdown).await;
                }
                Ok(Err(error)) => {
                    add(&input.stats.connections_refused, 1);
                    tracing::warn!(%peer, %error, "syslog TLS handshake failed");
                }
                Err(_) => {
                    add(&input.stats.connections_refused, 1);
                    tracing::warn!(%peer, "syslog TLS handshake timed out");
                }
            }
        }
    }
}

/// One read, or `None` when nothing came within `idle`.
async fn read_within<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut [u8],
    idle: Option<Duration>,
) -> Option<std::io::Result<usize>> {
    match idle {
        None => Some(stream.read(buffer).await),
        Some(idle) => tokio::time::timeout(idle, stream.read(buffer)).await.ok(),
    }
}

/// What one connection has seen, for its closing log line.
#[derive(Debug, Default)]
struct ConnectionCounts {
    frames: u64,
    frame_errors: u64,
}

/// Reads framed messages from one stream until it ends or shutdown comes;
/// every batch read is handed to the intake before the next read.
async fn read_stream<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    source: &str,
    input: &Input,
    sink: &dyn LineSink,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::debug!(%peer, %source, "syslog connection opened");
    let mut decoder = FrameDecoder::new(input.max_message);
    let mut buffer = vec![0u8; READ_BUFFER];
    let mut batch = Batch::default();
    let mut counts = ConnectionCounts::default();
    let mut stopping = false;
    loop {
        let read = tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            read = read_within(&mut stream, &mut buffer, input.idle) => read,
        };
        let read = match read {
            Some(read) => read,
            None => {
                add(&input.stats.idle_closed, 1);
                tracing::debug!(%peer, "closing an idle syslog connection");
                Ok(0)
            }
        };
        match read {
            Ok(0) => {
                let finished = decoder.finish();
                for item in finished.rest {
                    take(item, &mut batch, &mut counts, peer, input);
                }
                if !batch.lines.is_empty() {
                    deliver(&mut batch, source, input, sink, &mut shutdown).await;
                }
                break;
            }
            Ok(n) => {
                add(&input.stats.bytes, n as u64);
                decoder.push(&buffer[..n]);
                while let Some(item) = decoder.next_frame() {
                    take(item, &mut batch, &mut counts, peer, input);
                    if batch.is_full()
                        && !deliver(&mut batch, source, input, sink, &mut shutdown).await
                    {
                        stopping = true;
                    }
                }
                if !batch.lines.is_empty()
                    && !deliver(&mut batch, source, input, sink, &mut shutdown).await
                {
                    stopping = true;
                }
                if stopping {
                    break;
                }
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "syslog connection read failed");
                break;
            }
        }
    }
    if counts.frame_errors > 0 {
        tracing::warn!(%peer, frames = counts.frames, frame_errors = counts.frame_errors, "syslog connection closed after framing errors");
    } else {
        tracing::debug!(%peer, frames = counts.frames, "syslog connection closed");
    }
}

/// Adds one decoded item to the batch, or counts and logs its error.
fn take(
    item: Result<Frame, FrameError>,
    batch: &mut Batch,
    counts: &mut ConnectionCounts,
    peer: SocketAddr,
    input: &Input,
) {
    match item {
        Ok(frame) => {
            counts.frames += 1;
            add(&input.stats.frames, 1);
            batch.push(counts.frames, frame.bytes);
        }
        Err(error) => {
            counts.frame_errors += 1;
            add(&input.stats.frame_errors, 1);
            // A BadLength error quotes the bytes it read: debug only. The
            // first error of a connection is a warning, the rest debug.
            let kind = match &error {
                FrameError::TooLong { .. } => "too long",
                FrameError::BadLength { .. } => "invalid length prefix",
                FrameError::Truncated { .. } => "cut short by the end of the stream",
            };
            if counts.frame_errors == 1 {
                tracing::warn!(%peer, error = kind, after_frame = counts.frames, "syslog frame skipped");
            }
            tracing::debug!(%peer, %error, after_frame = counts.frames, "syslog frame skipped");
        }
    }
}

/// Lines on their way to the intake.
#[derive(Debug, Default)]
struct Batch {
    lines: Vec<Line>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, number: u64, bytes: Vec<u8>) {
        self.bytes += bytes.len();
        self.lines.push((number, bytes));
    }

    fn is_full(&self) -> bool {
        self.lines.len() >= MAX_BATCH_LINES || self.bytes >= MAX_BATCH_BYTES
    }
}

/// Hands a TCP batch to the intake, retrying the same lines while it is
/// busy or unavailable. Empties the batch; false when shutdown came while
/// waiting to retry (the batch is then dropped, and counted).
async fn deliver(
    batch: &mut Batch,
    source: &str,
    input: &Input,
    sink: &dyn LineSink,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let lines = std::mem::take(&mut batch.lines);
    batch.bytes = 0;
    let count = lines.len() as u64;
    match deliver::until_taken(
        sink,
        source,
        Format::Syslog,
        &lines,
        "syslog lines",
        shutdown,
    )
    .await
    {
        Delivered::Taken(receipt) => {
            account(&receipt, input);
            true
        }
        Delivered::Refused(reason) => {
            refuse_whole(&reason, source, count, input);
            true
        }
        Delivered::Shutdown => {
            add(&input.stats.dropped_at_shutdown, count);
            tracing::warn!(%source, lines = count, "shutting down: syslog lines read but not stored");
            false
        }
    }
}

/// Counts what the intake took and refused.
fn account(receipt: &Receipt, input: &Input) {
    add(&input.stats.accepted, receipt.accepted);
    add(&input.stats.rejected, receipt.rejected);
}

/// Counts and logs a batch refused whole for a reason a retry would not
/// change.
fn refuse_whole(reason: &str, source: &str, count: u64, input: &Input) {
    add(&input.stats.rejected, count);
    tracing::warn!(%source, lines = count, %reason, "the intake refused a syslog batch; dropped");
}

/// Serves one UDP socket: each datagram is a message; what is queued is
/// handed over together, one submission per sender.
async fn serve_udp(
    socket: UdpSocket,
    input: Arc<Input>,
    sink: Arc<dyn LineSink>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; UDP_BUFFER];
    let mut number = 0u64;
    let mut dropping = false;
    loop {
        let first = tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            first = socket.recv_from(&mut buffer) => first,
        };
        let mut batch = UdpBatch::default();
        match first {
            Ok((n, peer)) => batch.datagram(&buffer[..n], peer, &input, &mut number),
            Err(error) => {
                tracing::debug!(%error, "syslog input: a UDP receive failed");
                continue;
            }
        }
        while !batch.is_full() {
            match socket.try_recv_from(&mut buffer) {
                Ok((n, peer)) => batch.datagram(&buffer[..n], peer, &input, &mut number),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    tracing::debug!(%error, "syslog input: a UDP receive failed");
                    break;
                }
            }
        }
        let mut submissions = JoinSet::new();
        for (peer, lines) in batch.by_peer {
            let sink = Arc::clone(&sink);
            let source = source_name(peer, &input.source_type);
            submissions.spawn(async move {
                let count = lines.len() as u64;
                let answer = sink.submit_lines(&source, Format::Syslog, lines).await;
                (source, count, answer)
            });
        }
        let mut dropped = 0u64;
        while let Some(done) = submissions.join_next().await {
            let (source, count, answer) = match done {
                Ok(done) => done,
                Err(error) => {
                    tracing::error!(%error, "a syslog submission task failed");
                    continue;
                }
            };
            match answer {
                Ok(receipt) => account(&receipt, &input),
                Err(Refusal::Busy { message, .. } | Refusal::Unavailable { message, .. }) => {
                    dropped += count;
                    if !dropping {
                        tracing::warn!(%source, reason = %message, "the intake cannot take syslog lines now; dropping UDP messages until it can");
                        dropping = true;
                    }
                }
                Err(Refusal::BadRequest(reason) | Refusal::TooLarge(reason)) => {
                    refuse_whole(&reason, &source, count, &input)
                }
            }
        }
        add(&input.stats.dropped_udp, dropped);
        if dropping && dropped == 0 {
            dropping = false;
            tracing::info!(
                dropped_udp = input.stats.dropped_udp.load(Ordering::Relaxed),
                "the intake takes syslog lines again"
            );
        }
    }
}

/// The datagrams read at once, by sender.
#[derive(Debug, Default)]
struct UdpBatch {
    by_peer: HashMap<IpAddr, Vec<Line>>,
    lines: usize,
    bytes: usize,
}

impl UdpBatch {
    fn is_full(&self) -> bool {
        self.lines >= MAX_BATCH_LINES || self.bytes >= MAX_BATCH_BYTES
    }

    /// Adds one datagram without its trailing line feeds, carriage returns
    /// and NULs; an empty one is skipped, one over the limit counted.
    fn datagram(&mut self, bytes: &[u8], peer: SocketAddr, input: &Input, number: &mut u64) {
        add(&input.stats.bytes, bytes.len() as u64);
        let message = strip_trailer(bytes);
        if message.is_empty() {
            return;
        }
        if message.len() > input.max_message {
            add(&input.stats.frame_errors, 1);
            tracing::debug!(%peer, len = message.len(), max = input.max_message, "syslog datagram over the size limit; skipped");
            return;
        }
        add(&input.stats.frames, 1);
        *number += 1;
        self.lines += 1;
        self.bytes += message.len();
        self.by_peer
            .entry(peer.ip().to_canonical())
            .or_default()
            .push((*number, message.to_vec()));
    }
}

/// A datagram without the line feeds, carriage returns and NULs that end
/// it.
fn strip_trailer(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b'\0'))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Instant;

    use tokio::io::AsyncWriteExt;

    use super::*;
    use async_trait::async_trait;

    /// A sink that answers with the refusals queued, then accepts.
    #[derive(Default)]
    struct FakeSink {
        refusals: Mutex<VecDeque<Refusal>>,
        always_busy: bool,
        calls: Mutex<Vec<(String, Vec<Line>)>>,
    }

    #[async_trait]
    impl LineSink for FakeSink {
        async fn submit_lines(
            &self,
            source: &str,
            _format: Format,
            lines: Vec<Line>,
        ) -> Result<Receipt, Refusal> {
            let count = lines.len() as u64;
            self.calls.lock().unwrap().push((source.to_owned(), lines));
            if self.always_busy {
                return Err(busy());
            }
            match self.refusals.lock().unwrap().pop_front() {
                Some(refusal) => Err(refusal),
                None => Ok(Receipt {
                    accepted: count,
                    ..Receipt::default()
                }),
            }
        }
    }

    fn busy() -> Refusal {
        Refusal::Busy {
            message: "behind".to_owned(),
            retry_after_secs: 0,
        }
    }

    struct Running {
        addr: SocketAddr,
        stats: Arc<SyslogStats>,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    }

    async fn start(protocol: Protocol, sink: Arc<FakeSink>) -> Running {
        let bound = bind(SyslogConfig::new("127.0.0.1:0".parse().unwrap(), protocol))
            .await
            .unwrap();
        let (stop, rx) = watch::channel(false);
        Running {
            addr: bound.local_addr(),
            stats: bound.stats(),
            stop,
            task: tokio::spawn(bound.serve(sink, rx)),
        }
    }

    impl Running {
        async fn until(&self, what: &str, done: impl Fn(&SyslogCounts) -> bool) {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let counts = self.stats.snapshot();
                if done(&counts) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}: {counts:?}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        async fn stop(self) {
            self.stop.send(true).unwrap();
            tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("the input stops")
                .unwrap()
                .unwrap();
        }
    }

    #[test]
    fn config_defaults_and_refusals() {
        let config: SyslogConfig =
            toml::from_str("listen = \"0.0.0.0:514\"\nprotocol = \"udp\"\n").unwrap();
        assert_eq!(
            config,
            SyslogConfig::new("0.0.0.0:514".parse().unwrap(), Protocol::Udp)
        );
        assert_eq!(config.source, "syslog");
        assert_eq!(config.max_message_bytes, 65_536);
        assert_eq!(config.max_connections, 256);
        config.validate().unwrap();

        let full: SyslogConfig = toml::from_str(
            "listen = \"[::]:6514\"\nprotocol = \"tcp\"\nsource = \"auth.log\"\n\
             max_message_bytes = 8192\nmax_connections = 10\n\
             tls = { cert = \"c.pem\", key = \"k.pem\" }\n",
        )
        .unwrap();
        assert_eq!(full.protocol, Protocol::Tcp);
        assert_eq!(full.tls.as_ref().unwrap().key, PathBuf::from("k.pem"));
        full.validate().unwrap();

        for (text, wanted) in [
            (
                "listen = \"0.0.0.0:514\"\nprotocol = \"TCP\"\n",
                "unknown variant",
            ),
            (
                "listen = \"0.0.0.0:514\"\nprotocol = \"tcp\"\nport = 1\n",
                "unknown field",
            ),
            ("protocol = \"tcp\"\n", "missing field `listen`"),
            (
                "listen = \"0.0.0.0:514\"\nprotocol = \"tcp\"\nidle_timeout_secs = 0\n",
                "nonzero",
            ),
            (
                "listen = \"0.0.0.0:514\"\nprotocol = \"tcp\"\ntls = { cert = \"c\", key = \"k\", ca = \"x\" }\n",
                "unknown field",
            ),
        ] {
            let error = toml::from_str::<SyslogConfig>(text)
                .unwrap_err()
                .to_string();
            assert!(error.contains(wanted), "{text:?}: {error}");
        }

        let base = SyslogConfig::new("127.0.0.1:514".parse().unwrap(), Protocol::Udp);
        for (config, wanted) in [
            (
                SyslogConfig {
                    tls: Some(TlsConfig {
                        cert: "c".into(),
                        key: "k".into(),
                    }),
                    ..base.clone()
                },
                "tls needs protocol",
            ),
            (
                SyslogConfig {
                    source: "a b".into(),
                    ..base.clone()
                },
                "source",
            ),
            (
                SyslogConfig {
                    source: "x".repeat(64),
                    ..base.clone()
                },
                "source",
            ),
            (
                SyslogConfig {
                    source: String::new(),
                    ..base.clone()
                },
                "source",
            ),
            (
                SyslogConfig {
                    max_message_bytes: 0,
                    ..base.clone()
                },
                "max_message_bytes",
            ),
            (
                SyslogConfig {
                    max_message_bytes: MAX_MESSAGE_BYTES_LIMIT + 1,
                    ..base.clone()
                },
                "max_message_bytes",
            ),
            (
                SyslogConfig {
                    max_connections: 0,
                    ..base.clone()
                },
                "max_connections",
            ),
        ] {
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains(wanted), "{error}");
            assert!(error.contains("127.0.0.1:514"), "{error}");
        }
    }

    #[test]
    fn sources_name_the_peer_and_stay_short_and_plain() {
        let longest_type = "t".repeat(MAX_SOURCE_TYPE_LEN);
        for (ip, kind, wanted) in [
            ("192.0.2.7", "syslog", "syslog/192.0.2.7/syslog".to_owned()),
            (
                "::ffff:192.0.2.7",
                "auth.log",
                "syslog/192.0.2.7/auth.log".to_owned(),
            ),
            (
                "2001:db8::1",
                "syslog",
                "syslog/2001:db8::1/syslog".to_owned(),
            ),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                longest_type.as_str(),
                format!("syslog/ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/{longest_type}"),
            ),
        ] {
            let name = source_name(ip.parse().unwrap(), kind);
            assert_eq!(name, wanted);
            assert!(name.len() <= MAX_SOURCE_LEN, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._/:-".contains(&b)),
                "{name}"
            );
            // The type stays the last part, which routes auth logs.
            assert!(name.ends_with(&format!("/{kind}")));
        }
    }

    #[test]
    fn datagram_trailers_are_stripped() {
        for (datagram, message) in [
            (&b"<13>hi\n"[..], &b"<13>hi"[..]),
            (b"<13>hi\r\n", b"<13>hi"),
            (b"<13>hi\0", b"<13>hi"),
            (b"<13>hi\n\0", b"<13>hi"),
            (b"<13>a\nb", b"<13>a\nb"),
            (b"\n", b""),
            (b"", b""),
        ] {
            assert_eq!(strip_trailer(datagram), message, "{datagram:?}");
        }
    }

    #[tokio::test]
    async fn a_busy_intake_gets_the_same_tcp_batch_again_until_it_takes_it() {
        let sink = Arc::new(FakeSink {
            refusals: Mutex::new(VecDeque::from([
                busy(),
                Refusal::Unavailable {
                    message: "spool full".to_owned(),
                    retry_after_secs: 0,
                },
            ])),
            ..FakeSink::default()
        });
        let running = start(Protocol::Tcp, Arc::clone(&sink)).await;
        let mut client = TcpStream::connect(running.addr).await.unwrap();
        client.write_all(b"<13>one\n<13>two\n").await.unwrap();
        running
            .until("the batch to be taken", |c| c.accepted == 2)
            .await;
        client.write_all(b"<13>three\n").await.unwrap();
        running.until("the next line", |c| c.accepted == 3).await;
        let calls = sink.calls.lock().unwrap().clone();
        // However the bytes were read, every attempt before the first
        // success holds the same lines, and nothing is lost or doubled.
        let first = calls[0].clone();
        assert_eq!(first.0, "syslog/127.0.0.1/syslog");
        assert_eq!(calls[1], first);
        assert_eq!(calls[2], first);
        let stored: Vec<Line> = calls[2..].iter().flat_map(|(_, l)| l.clone()).collect();
        assert_eq!(
            stored,
            vec![
                (1, b"<13>one".to_vec()),
                (2, b"<13>two".to_vec()),
                (3, b"<13>three".to_vec())
            ]
        );
        let counts = running.stats.snapshot();
        assert_eq!(
            (counts.frames, counts.rejected, counts.dropped_at_shutdown),
            (3, 0, 0)
        );
        running.stop().await;
    }

    #[tokio::test]
    async fn a_batch_refused_as_invalid_is_counted_and_the_stream_goes_on() {
        let sink = Arc::new(FakeSink {
            refusals: Mutex::new(VecDeque::from([Refusal::BadRequest("no".to_owned())])),
            ..FakeSink::default()
        });
        let running = start(Protocol::Tcp, Arc::clone(&sink)).await;
        let mut client = TcpStream::connect(running.addr).await.unwrap();
        client.write_all(b"<13>one\n").await.unwrap();
        running.until("the refusal", |c| c.rejected == 1).await;
        client.write_all(b"<13>two\n").await.unwrap();
        running.until("the next line", |c| c.accepted == 1).await;
        running.stop().await;
    }

    #[tokio::test]
    async fn shutdown_while_the_intake_is_busy_drops_and_counts_the_batch() {
        let sink = Arc::new(FakeSink {
            always_busy: true,
            ..FakeSink::default()
        });
        let running = start(Protocol::Tcp, Arc::clone(&sink)).await;
        let mut client = TcpStream::connect(running.addr).await.unwrap();
        client.write_all(b"<13>one\n").await.unwrap();
        let calls = || sink.calls.lock().unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while calls() < 2 {
            assert!(Instant::now() < deadline, "no retry");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stats = Arc::clone(&running.stats);
        running.stop().await;
        let counts = stats.snapshot();
        assert_eq!((counts.accepted, counts.dropped_at_shutdown), (0, 1));
    }

    #[tokio::test]
    async fn udp_messages_are_dropped_and_counted_while_the_intake_is_busy() {
        let sink = Arc::new(FakeSink {
            always_busy: true,
            ..FakeSink::default()
        });
        let running = start(Protocol::Udp, Arc::clone(&sink)).await;
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for message in [&b"<13>one\n"[..], b"<13>two", b"\n"] {
            client.send_to(message, running.addr).await.unwrap();
        }
        running
            .until("the drops", |c| c.dropped_udp == 2 && c.frames == 2)
            .await;
        running.stop().await;
    }
}
