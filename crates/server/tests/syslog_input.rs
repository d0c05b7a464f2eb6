//! The syslog input end to end: real sockets on port 0, a real `Ingest`
//! (spool, checker, detection worker) in a temporary directory, and the
//! spool read back after the pipeline has stopped.
//!
//! Every message here is written by hand for these tests. Tests wait on
//! counters with a deadline, never on a fixed sleep.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use support::{Pipeline, wait_until};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio_rustls::rustls;
use watchpost_server::ingest::SourceCounts;
use watchpost_server::ingest::syslog::{self, Protocol, SyslogConfig, SyslogCounts, SyslogStats};
use web::events::IngestStatus;

/// RFC 5424, with a message ID and no structured data.
const RFC5424: &str = "<34>1 2026-12-03T10:00:00.000Z bastion sshd 4242 ID47 - Failed password for invalid user admin from 192.0.2.10 port 50022 ssh2";
/// RFC 5424 with structured data.
const RFC5424_SD: &str =
    "<165>1 2026-12-03T10:00:02Z web01 app 77 - [origin ip=\"192.0.2.30\"] user login ok";
/// RFC 5424 whose message holds a line feed (only octet counting can carry
/// it).
const RFC5424_MULTILINE: &str =
    "<13>1 2026-12-03T10:00:04Z web01 app 78 - - first line\nsecond line";
/// RFC 3164.
const RFC3164: &str = "<38>Dec  3 10:00:01 bastion sshd[42]: Accepted publickey for deploy from 192.0.2.20 port 50100 ssh2";
/// RFC 3164 from sudo.
const RFC3164_SUDO: &str = "<86>Dec  3 10:00:03 bastion sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/true";
/// RFC 3164 from cron.
const RFC3164_CRON: &str =
    "<78>Dec  3 10:00:05 bastion CRON[901]: (root) CMD (run-parts /etc/cron.hourly)";

/// An octet-counted frame (RFC 6587 §3.4.1).
fn octets(message: &str) -> Vec<u8> {
    format!("{} {message}", message.len()).into_bytes()
}

/// A message of exactly `len` bytes that reads as RFC 3164 syslog.
fn message_of(len: usize) -> String {
    let head = "<38>Dec  3 10:00:06 bastion app[1]: ";
    format!("{head}{}", "x".repeat(len - head.len()))
}

/// A running pipeline with one syslog listener.
struct Running {
    pipeline: Pipeline,
    addr: SocketAddr,
    stats: Arc<SyslogStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What a stopped pipeline holds.
struct Finished {
    counts: SyslogCounts,
    status: IngestStatus,
    sources: BTreeMap<String, SourceCounts>,
    /// The spooled records, in order: (source, line).
    spooled: Vec<(String, Vec<u8>)>,
    dead_letters: usize,
}

impl Finished {
    fn lines(&self) -> Vec<String> {
        self.spooled
            .iter()
            .map(|(_, line)| String::from_utf8(line.clone()).unwrap())
            .collect()
    }
}

/// Starts a pipeline and the listener `configure` describes (on an
/// ephemeral port of 127.0.0.1).
async fn start(
    protocol: Protocol,
    configure: impl FnOnce(&mut SyslogConfig, &std::path::Path),
) -> Running {
    let pipeline = Pipeline::start().await;
    let mut config = SyslogConfig::new("127.0.0.1:0".parse().unwrap(), protocol);
    configure(&mut config, pipeline.dir.path());
    let bound = syslog::bind(config).await.unwrap();
    let (stop, shutdown) = watch::channel(false);
    let addr = bound.local_addr();
    let stats = bound.stats();
    let task = tokio::spawn(bound.run(Arc::clone(&pipeline.intake), shutdown));
    Running {
        pipeline,
        addr,
        stats,
        stop,
        task,
    }
}

impl Running {
    /// Waits until `done` holds of the listener's and the intake's counts.
    async fn until(&self, what: &str, done: impl Fn(&SyslogCounts, &IngestStatus) -> bool) {
        wait_until(&self.pipeline.intake, what, || self.stats.snapshot(), done).await;
    }

    /// Stops the listener, then the pipeline, and reads the spool back.
    async fn finish(self) -> Finished {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the listener stops")
            .unwrap()
            .unwrap();
        let counts = self.stats.snapshot();
        let stopped = self.pipeline.stop().await;
        Finished {
            counts,
            status: stopped.status,
            sources: stopped.sources,
            spooled: stopped.spooled,
            dead_letters: stopped.dead_letters.len(),
        }
    }
}

const FROM_LOCALHOST: &str = "syslog/127.0.0.1/syslog";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_octet_counted_and_line_framed_messages_arrive_in_order() {
    let running = start(Protocol::Tcp, |_, _| {}).await;
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    let mut stream = Vec::new();
    stream.extend(octets(RFC5424));
    stream.extend(octets(RFC5424_MULTILINE));
    stream.extend(format!("{RFC3164}\n{RFC3164_SUDO}\r\n").bytes());
    stream.extend(octets(RFC5424_SD));
    stream.extend(format!("{RFC3164_CRON}\0").bytes());
    // The last line has no trailer: the end of the stream ends it.
    stream.extend(RFC3164.bytes());
    client.write_all(&stream).await.unwrap();
    client.shutdown().await.unwrap();
    running
        .until("7 messages", |c, s| c.accepted == 7 && s.accepted == 7)
        .await;
    let done = running.finish().await;

    assert_eq!(
        done.lines(),
        vec![
            RFC5424,
            RFC5424_MULTILINE,
            RFC3164,
            RFC3164_SUDO,
            RFC5424_SD,
            RFC3164_CRON,
            RFC3164
        ]
    );
    assert!(
        done.spooled
            .iter()
            .all(|(source, _)| source == FROM_LOCALHOST)
    );
    assert_eq!(done.counts.connections, 1);
    assert_eq!(done.counts.frames, 7);
    assert_eq!(done.counts.frame_errors, 0);
    assert_eq!(done.counts.rejected, 0);
    assert_eq!(done.counts.bytes, stream.len() as u64);
    assert_eq!((done.status.accepted, done.status.rejected), (7, 0));
    assert_eq!(done.status.spooled, 7);
    assert_eq!(done.sources[FROM_LOCALHOST].accepted, 7);
    assert_eq!(done.dead_letters, 0);
}

/// Writes `pieces` one at a time, each only once the listener has read the
/// one before, so each arrives in its own read.
async fn write_in_pieces<W: AsyncWrite + Unpin>(
    running: &Running,
    client: &mut W,
    pieces: &[&[u8]],
) {
    let mut sent = running.stats.snapshot().bytes;
    for piece in pieces {
        client.write_all(piece).await.unwrap();
        client.flush().await.unwrap();
        sent += piece.len() as u64;
        running
            .until("the piece to be read", |c, _| c.bytes == sent)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_split_across_writes_arrives_whole() {
    let running = start(Protocol::Tcp, |_, _| {}).await;
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    let counted = octets(RFC5424);
    let line = format!("{RFC3164}\r\n");
    let (a, rest) = counted.split_at(1);
    let (b, c) = rest.split_at(40);
    // The carriage return arrives apart from its line feed.
    let (d, e) = line.as_bytes().split_at(line.len() - 1);
    write_in_pieces(&running, &mut client, &[a, b, c, &d[..20], &d[20..], e]).await;
    running
        .until("both messages", |c, s| c.accepted == 2 && s.accepted == 2)
        .await;
    // Nothing was stored before its frame was complete.
    assert_eq!(running.stats.snapshot().frames, 2);
    let done = running.finish().await;
    assert_eq!(done.lines(), vec![RFC5424, RFC3164]);
    assert_eq!(done.counts.frame_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_counted_and_the_next_frame_still_arrives() {
    let running = start(Protocol::Tcp, |config, _| config.max_message_bytes = 200).await;
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    let fits = message_of(200);
    let mut stream = Vec::new();
    stream.extend(octets(&message_of(300)));
    stream.extend(format!("{RFC3164}\n").bytes());
    stream.extend(format!("{}\n", message_of(250)).bytes());
    stream.extend(octets(&fits));
    // A length prefix that is not a number: skipped to the next line feed.
    stream.extend(b"12x4 garbage\n");
    stream.extend(octets(RFC5424));
    client.write_all(&stream).await.unwrap();
    running
        .until("the frames after the bad ones", |c, s| {
            c.accepted == 3 && s.accepted == 3 && c.frame_errors == 3
        })
        .await;
    let done = running.finish().await;
    assert_eq!(done.lines(), vec![RFC3164, fits.as_str(), RFC5424]);
    assert_eq!(done.counts.frames, 3);
    assert_eq!(done.counts.frame_errors, 3);
    assert_eq!(done.counts.rejected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_arrive_without_their_trailers() {
    let running = start(Protocol::Udp, |config, _| {
        config.source = "auth.log".to_owned();
    })
    .await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(running.addr).await.unwrap();
    let datagrams = [
        format!("{RFC5424}\n"),
        format!("{RFC3164}\r\n"),
        format!("{RFC3164_SUDO}\0"),
        RFC5424_MULTILINE.to_owned(),
        // Empty: skipped, not a message.
        "\n".to_owned(),
    ];
    for datagram in &datagrams {
        client.send(datagram.as_bytes()).await.unwrap();
    }
    running
        .until("4 datagrams", |c, s| c.accepted == 4 && s.accepted == 4)
        .await;
    let done = running.finish().await;
    // Datagrams read together are submitted one source at a time, so they
    // keep their order here (one sender).
    assert_eq!(
        done.lines(),
        vec![RFC5424, RFC3164, RFC3164_SUDO, RFC5424_MULTILINE]
    );
    let source = "syslog/127.0.0.1/auth.log";
    assert!(done.spooled.iter().all(|(s, _)| s == source));
    assert_eq!(done.sources[source].accepted, 4);
    assert_eq!(done.counts.frames, 4);
    assert_eq!(done.counts.dropped_udp, 0);
    assert_eq!(done.counts.connections, 0);
}

/// A self-signed certificate for `localhost`, written as PEM files.
fn self_signed(
    dir: &std::path::Path,
) -> (
    syslog::TlsConfig,
    rustls::pki_types::CertificateDer<'static>,
) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls = syslog::TlsConfig {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&tls.cert, cert.pem()).unwrap();
    std::fs::write(&tls.key, signing_key.serialize_pem()).unwrap();
    (tls, cert.der().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_messages_arrive_and_a_plain_client_is_refused() {
    let mut trusted = None;
    let running = start(Protocol::Tcp, |config, dir| {
        let (tls, cert) = self_signed(dir);
        config.tls = Some(tls);
        trusted = Some(cert);
    })
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.unwrap()).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = connector.connect(name, tcp).await.unwrap();
    let mut stream = octets(RFC5424);
    stream.extend(format!("{RFC3164}\n").bytes());
    client.write_all(&stream).await.unwrap();
    client.flush().await.unwrap();
    running
        .until("2 messages over TLS", |c, s| {
            c.accepted == 2 && s.accepted == 2
        })
        .await;

    // Plain syslog on the TLS port fails the handshake and stores nothing.
    let mut plain = TcpStream::connect(running.addr).await.unwrap();
    plain
        .write_all(format!("{RFC3164}\n").as_bytes())
        .await
        .unwrap();
    read_to_end_or_reset(&mut plain).await;
    running
        .until("the plain client to be refused", |c, _| {
            c.connections_refused == 1
        })
        .await;

    client.shutdown().await.unwrap();
    let done = running.finish().await;
    assert_eq!(done.lines(), vec![RFC5424, RFC3164]);
    assert_eq!(done.counts.connections, 1);
    assert_eq!(done.counts.connections_refused, 1);
}

/// Reads until the server closes the connection (or resets it).
async fn read_to_end_or_reset<R: AsyncRead + Unpin>(stream: &mut R) {
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the server did not close the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_is_not_syslog_is_rejected_and_does_not_block_the_next() {
    let running = start(Protocol::Tcp, |_, _| {}).await;
    let mut client = TcpStream::connect(running.addr).await.unwrap();
    client
        .write_all(b"this is not a syslog line at all\n")
        .await
        .unwrap();
    running
        .until("the rejection", |c, s| c.rejected == 1 && s.rejected == 1)
        .await;
    client
        .write_all(format!("{RFC3164}\n").as_bytes())
        .await
        .unwrap();
    running
        .until("the next line", |c, s| c.accepted == 1 && s.accepted == 1)
        .await;
    let done = running.finish().await;
    assert_eq!(done.lines(), vec![RFC3164]);
    assert_eq!(done.counts.frames, 2);
    assert_eq!((done.status.accepted, done.status.rejected), (1, 1));
    assert_eq!(done.sources[FROM_LOCALHOST].rejected, 1);
    // The intake keeps the refused line in its dead-letter file.
    assert_eq!(done.dead_letters, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_and_shutdown_ends_open_ones() {
    let running = start(Protocol::Tcp, |config, _| config.max_connections = 1).await;
    let mut first = TcpStream::connect(running.addr).await.unwrap();
    first
        .write_all(format!("{RFC3164}\n").as_bytes())
        .await
        .unwrap();
    running
        .until("the first connection", |c, _| c.accepted == 1)
        .await;

    let mut second = TcpStream::connect(running.addr).await.unwrap();
    read_to_end_or_reset(&mut second).await;
    running
        .until("the refusal", |c, _| c.connections_refused == 1)
        .await;

    // The first connection still works, and is still open at shutdown.
    first.write_all(octets(RFC5424).as_slice()).await.unwrap();
    running
        .until("the first connection", |c, _| c.accepted == 2)
        .await;
    let done = running.finish().await;
    assert_eq!(done.lines(), vec![RFC3164, RFC5424]);
    assert_eq!(
        (done.counts.connections, done.counts.connections_refused),
        (1, 1)
    );
    assert_eq!(done.counts.dropped_at_shutdown, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_its_timeout_and_its_message_is_kept() {
    let running = start(Protocol::Tcp, |config, _| {
        config.idle_timeout_secs = std::num::NonZeroU64::new(1);
    })
    .await;
    let mut idle = TcpStream::connect(running.addr).await.unwrap();
    // One whole message, then the start of another that never ends.
    idle.write_all(format!("{RFC3164}\n<13>Dec").as_bytes())
        .await
        .unwrap();
    running
        .until("the first message", |c, _| c.accepted == 1)
        .await;
    // The sender goes quiet: the server closes the connection.
    read_to_end_or_reset(&mut idle).await;
    running
        .until("the idle close", |c, _| c.idle_closed == 1)
        .await;
    let done = running.finish().await;
    assert_eq!(done.lines(), vec![RFC3164]);
    assert_eq!((done.counts.connections, done.counts.idle_closed), (1, 1));
    // The unfinished line is taken as the last one, as at any close: it
    // is no syslog line, so it is refused (and kept in the dead letters).
    assert_eq!(
        (
            done.counts.frame_errors,
            done.counts.rejected,
            done.dead_letters
        ),
        (0, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_certificate_or_a_port_in_use_fails_at_bind() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SyslogConfig::new("127.0.0.1:0".parse().unwrap(), Protocol::Tcp);
    config.tls = Some(syslog::TlsConfig {
        cert: dir.path().join("missing.pem"),
        key: dir.path().join("missing-key.pem"),
    });
    let error = format!("{:#}", syslog::bind(config).await.unwrap_err());
    assert!(error.contains("missing.pem"), "{error}");

    let taken = syslog::bind(SyslogConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Protocol::Udp,
    ))
    .await
    .unwrap();
    let again = SyslogConfig::new(taken.local_addr(), Protocol::Udp);
    let error = format!("{:#}", syslog::bind(again).await.unwrap_err());
    assert!(error.contains("cannot listen on udp"), "{error}");
}
