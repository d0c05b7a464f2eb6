//! The security@ mailbox (`[mailbox]`): an IMAP poller that takes each new
//! message as a third-party report (or a follow-up on one), acknowledges
//! new reports over SMTP, and sends responders' replies.
//!
//! The poller logs in, SELECTs the folder, compares its UIDVALIDITY with
//! the stored position (a new validity starts again from UID 0, logged),
//! fetches every UID after the last one taken, hands each message to the
//! store ([`parse`] first), flags it `\Seen $Watchpost` (never deletes or
//! expunges) and saves the position after each. Then it waits: IDLE
//! (re-issued every 29 minutes) when the server offers it, else
//! `poll_every`. Errors reconnect with a doubling backoff (1 s to 5 min);
//! the password is never logged. A message the store refuses as invalid is
//! flagged and passed over (logged), so it cannot block the folder.

pub mod parse;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use async_imap::Session;
use futures_util::TryStreamExt;
use incidents::{
    InboundMail, MailDirection, MailOutcome, OutboundMail, ReportId, Store, StoreError, Viewer,
    tracking_id,
};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use notify::channel::email::SmtpConfig;
use notify::secret::Secret;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use web::mail_reply::{ReplyError, ReplySent, ReportReplies};

use self::parse::{Limits, Parsed};

/// `[mailbox]`: where the security@ mailbox is and how mail is sent from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// The IMAP server's host name or IP address.
    pub imap_host: String,
    /// Its port (default 993, IMAP over TLS; 143 is plain IMAP).
    #[serde(default = "default_imap_port")]
    pub imap_port: u16,
    /// Connect with TLS (default true; false only for a server on
    /// loopback).
    #[serde(default = "default_true")]
    pub tls: bool,
    /// The IMAP user name.
    pub username: String,
    /// The IMAP password. Never logged.
    pub password: Secret,
    /// The folder to read (default `INBOX`).
    #[serde(default = "default_folder")]
    pub folder: String,
    /// The mailbox's own address (e.g. `security@example.com`): the `From`
    /// of acknowledgements and replies. Mail from it is never acknowledged.
    pub address: String,
    /// Wait for new mail with IMAP IDLE when the server offers it
    /// (default true); false checks every `poll_every` instead.
    #[serde(default = "default_true")]
    pub idle: bool,
    /// Seconds between checks when IDLE is not used (default 60; at
    /// least 1).
    #[serde(default = "default_poll_every")]
    pub poll_every: u64,
    /// The largest message read in full, in bytes (default 10 MiB); a
    /// larger one is filed with its headers and a note.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// The SMTP relay for acknowledgements and replies; default the
    /// notifications' `[notify.smtp]`.
    pub smtp: Option<SmtpConfig>,
}

fn default_imap_port() -> u16 {
    993
}
fn default_true() -> bool {
    true
}
fn default_folder() -> String {
    "INBOX".to_owned()
}
fn default_poll_every() -> u64 {
    60
}
fn default_max_message_bytes() -> usize {
    10 * 1024 * 1024
}

/// How long one IDLE lasts before it is re-issued (servers may drop an
/// IDLE after 30 minutes).
const IDLE_FOR: Duration = Duration::from_secs(29 * 60);

/// The most acknowledgements one sender address gets in an hour: mail
/// with a forged `From` must not make the mailbox spam someone.
const ACKS_PER_SENDER_PER_HOUR: usize = 5;

/// Acknowledgements sent per sender in the last hour (in memory).
#[derive(Debug, Default)]
struct AckLimit {
    sent: std::sync::Mutex<std::collections::HashMap<String, Vec<tokio::time::Instant>>>,
}

impl AckLimit {
    /// Whether `sender` may get one more acknowledgement at `now` (and
    /// counts it when so).
    fn allow(&self, sender: &str, now: tokio::time::Instant) -> bool {
        let hour = Duration::from_secs(3600);
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < hour);
            !times.is_empty()
        });
        let times = sent.entry(sender.to_ascii_lowercase()).or_default();
        if times.len() >= ACKS_PER_SENDER_PER_HOUR {
            return false;
        }
        times.push(now);
        true
    }
}

/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the poller did since the server started.
#[derive(Debug, Default)]
pub struct MailboxStats {
    /// Messages that filed a new report (counted after the
    /// acknowledgement was sent or passed over).
    pub filed: AtomicU64,
    /// Messages that joined an existing report.
    pub follow_ups: AtomicU64,
    /// Messages whose Message-ID was seen before.
    pub duplicates: AtomicU64,
    /// Messages over `max_message_bytes` (filed with their headers only).
    pub oversized: AtomicU64,
    /// Messages the store refused (flagged and passed over).
    pub refused: AtomicU64,
    /// Acknowledgements sent.
    pub acknowledged: AtomicU64,
    /// Times the folder was read for new mail.
    pub checks: AtomicU64,
}

/// Sends mail from the mailbox's address over SMTP.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The recipient.
    pub to: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// The message it answers (a Message-ID without angle brackets).
    pub in_reply_to: Option<&'a str>,
    /// Its `References` (without angle brackets).
    pub references: &'a [String],
    /// The text.
    pub body: String,
    /// An automatic reply (an acknowledgement): sent with
    /// `Auto-Submitted: auto-replied` (RFC 3834), so other robots do not
    /// answer it.
    pub automatic: bool,
}

/// The `Auto-Submitted` header (RFC 3834).
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-replied".to_owned())
    }
}

impl Mailer {
    /// A mailer over `smtp`, sending from `address`.
    pub fn new(smtp: &SmtpConfig, address: &str) -> anyhow::Result<Mailer> {
        let from: Mailbox = address
            .parse()
            .with_context(|| format!("[mailbox] address {address:?} is not a mail address"))?;
        let transport = notify::channel::email::smtp_transport(smtp)
            .with_context(|| format!("cannot set up the SMTP relay {:?}", smtp.host))?;
        let domain = from.email.domain().to_owned();
        Ok(Mailer {
            transport,
            from,
            domain,
        })
    }

    /// Whether `address` is the mailbox's own.
    pub fn is_own(&self, address: &str) -> bool {
        address.eq_ignore_ascii_case(self.from.email.as_ref())
    }

    /// Sends `mail`; returns its new Message-ID (without angle brackets).
    pub async fn send(&self, mail: &Outgoing<'_>) -> anyhow::Result<String> {
        let to: Mailbox = mail
            .to
            .parse()
            .with_context(|| format!("{:?} is not a mail address", mail.to))?;
        let message_id = format!("{}@{}", uuid_v7(), self.domain);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<{message_id}>")))
            .header(ContentType::TEXT_PLAIN);
        if let Some(parent) = mail.in_reply_to {
            builder = builder.in_reply_to(format!("<{parent}>"));
        }
        if mail.automatic {
            builder = builder.header(AutoSubmitted);
        }
        if !mail.references.is_empty() {
            let refs: Vec<String> = mail.references.iter().map(|r| format!("<{r}>")).collect();
            builder = builder.references(refs.join(" "));
        }
        let message = builder.body(mail.body.clone())?;
        self.transport
            .send(message)
            .await
            .context("the SMTP relay refused the message or could not be reached")?;
        Ok(message_id)
    }
}

fn uuid_v7() -> String {
    incidents::ReportId::new().0.simple().to_string()
}

/// The subject of mail about a report: `Re: <subject> [WP-<id>]`, the
/// subject without its own `Re:` prefixes and tracking id.
pub fn reply_subject(original: &str, report: ReportId) -> String {
    let tracking = tracking_id(report);
    let mut subject = original.trim();
    loop {
        let lower = subject.to_ascii_lowercase();
        if lower.starts_with("re:") {
            subject = subject[3..].trim_start();
        } else {
            break;
        }
    }
    let subject = subject.replace(&format!("[{tracking}]"), "");
    let subject = subject.trim();
    if subject.is_empty() {
        format!("Re: [{tracking}]")
    } else {
        format!("Re: {subject} [{tracking}]")
    }
}

/// The acknowledgement's text.
fn acknowledgement(report: ReportId) -> String {
    let tracking = tracking_id(report);
    format!(
        "Thank you for your report. We have received it and will look into it.\n\n\
         Its tracking id is {tracking}. Please keep it in the subject of any further \
         mail about this report, or simply reply to this message.\n\n\
         This is an automatic acknowledgement.\n"
    )
}

/// The poller and the mailer, over one store.
pub struct Poller {
    config: MailboxConfig,
    store: Arc<dyn Store>,
    mailer: Arc<Mailer>,
    limits: Limits,
    stats: Arc<MailboxStats>,
    acks: AckLimit,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("imap_host", &self.config.imap_host)
            .field("folder", &self.config.folder)
            .finish_non_exhaustive()
    }
}

impl Poller {
    /// A poller for `config`, sending through `mailer`.
    pub fn new(config: MailboxConfig, store: Arc<dyn Store>, mailer: Arc<Mailer>) -> Poller {
        let limits = Limits {
            max_message_bytes: config.max_message_bytes,
            max_attachment_bytes: store.max_attachment_bytes(),
            ..Limits::default()
        };
        Poller {
            config,
            store,
            mailer,
            limits,
            stats: Arc::new(MailboxStats::default()),
            acks: AckLimit::default(),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<MailboxStats> {
        Arc::clone(&self.stats)
    }

    /// Takes one raw message (already fetched): files it, or joins it to
    /// its thread, and acknowledges a new report. `Err` only when the store
    /// could not be used (the message should be tried again).
    pub async fn take(&self, raw: &[u8], oversized_size: Option<usize>) -> anyhow::Result<()> {
        let parsed = match oversized_size {
            Some(size) => parse::parse_headers_only(raw, size, &self.limits),
            None => parse::parse(raw, &self.limits),
        };
        if parsed.oversized {
            self.stats.oversized.fetch_add(1, Ordering::Relaxed);
        }
        let sys = Viewer::system();
        let attachments = parsed.mail.attachments.clone();
        let outcome = match self
            .store
            .take_inbound_mail(&sys, parsed.mail.clone())
            .await
        {
            Err(StoreError::QuotaExceeded(why)) => {
                // Attachment storage is full: keep the text, say so.
                let mut mail = parsed.mail.clone();
                mail.attachments.clear();
                mail.text
                    .push_str(&format!("\n\n(Attachments not kept: {why}.)"));
                self.store.take_inbound_mail(&sys, mail).await
            }
            other => other,
        };
        match outcome {
            Ok(MailOutcome::Filed(report)) => {
                tracing::info!(report = %report.id, "mailbox: a mail filed a third-party report");
                self.acknowledge(report.id, &parsed).await;
                // Counted once its acknowledgement is sent or passed over.
                self.stats.filed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(MailOutcome::FollowUp { report_id, .. }) => {
                self.stats.follow_ups.fetch_add(1, Ordering::Relaxed);
                tracing::info!(report = %report_id, "mailbox: a follow-up joined a report");
                for a in attachments {
                    if let Err(error) = self.store.add_attachment(&sys, report_id, a).await {
                        tracing::warn!(report = %report_id, %error, "mailbox: a follow-up's attachment was not kept");
                    }
                }
            }
            Ok(MailOutcome::AlreadySeen { report_id }) => {
                self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                tracing::info!(report = %report_id, "mailbox: a message seen before was passed over");
            }
            Err(error @ (StoreError::Invalid(_) | StoreError::Forbidden(_))) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "mailbox: a message was refused and passed over");
            }
            Err(error) => return Err(error).context("the store could not take a message"),
        }
        Ok(())
    }

    /// Acknowledges a new report to its sender, threaded to their message,
    /// unless the mail came from a machine, has no sender, or came from the
    /// mailbox itself. A failure is logged: the report stands.
    async fn acknowledge(&self, report: ReportId, parsed: &Parsed) {
        let mail: &InboundMail = &parsed.mail;
        if parsed.automatic || mail.from.is_empty() || self.mailer.is_own(&mail.from) {
            tracing::info!(%report, "mailbox: no acknowledgement (automatic mail, no sender, or our own)");
            return;
        }
        if !self.acks.allow(&mail.from, tokio::time::Instant::now()) {
            tracing::warn!(%report, "mailbox: no acknowledgement: this sender had {ACKS_PER_SENDER_PER_HOUR} in the last hour");
            return;
        }
        let subject = reply_subject(&mail.subject, report);
        let references = vec![mail.message_id.clone()];
        let outgoing = Outgoing {
            to: &mail.from,
            subject: &subject,
            in_reply_to: Some(&mail.message_id),
            references: &references,
            body: acknowledgement(report),
            automatic: true,
        };
        match self.mailer.send(&outgoing).await {
            Ok(message_id) => {
                self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                let recorded = self
                    .store
                    .record_outbound_mail(
                        &Viewer::system(),
                        OutboundMail {
                            report_id: report,
                            message_id,
                            to: mail.from.clone(),
                            subject,
                            in_reply_to: Some(mail.message_id.clone()),
                            references,
                            timeline: None,
                            sent_by: None,
                        },
                    )
                    .await;
                if let Err(error) = recorded {
                    tracing::warn!(%report, %error, "mailbox: the acknowledgement was sent but not recorded");
                }
            }
            Err(error) => {
                tracing::warn!(%report, error = format!("{error:#}"), "mailbox: the acknowledgement could not be sent");
            }
        }
    }

    /// Runs until `stop` turns true: connects, takes what is new, waits,
    /// and reconnects with backoff after errors.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let started = tokio::time::Instant::now();
            let result = self.connect_and_serve(&mut stop).await;
            if *stop.borrow() {
                break;
            }
            if let Err(error) = result {
                tracing::warn!(
                    host = %self.config.imap_host,
                    port = self.config.imap_port,
                    user = %self.config.username,
                    error = format!("{error:#}"),
                    retry_in = ?backoff,
                    "mailbox: IMAP session failed"
                );
            }
            if started.elapsed() > MAX_BACKOFF {
                backoff = Duration::from_secs(1);
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        tracing::info!("mailbox poller stopped");
    }

    async fn connect_and_serve(&self, stop: &mut watch::Receiver<bool>) -> anyhow::Result<()> {
        let address = (self.config.imap_host.as_str(), self.config.imap_port);
        let tcp = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::net::TcpStream::connect(address),
        )
        .await
        .context("connecting to the IMAP server timed out")?
        .context("cannot connect to the IMAP server")?;
        if self.config.tls {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .context("TLS setup")?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(self.config.imap_host.clone())
                .context("the IMAP host is not a valid TLS server name")?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
                .connect(name, tcp)
                .await
                .context("TLS handshake with the IMAP server failed")?;
            self.serve(async_imap::Client::new(stream), stop).await
        } else {
            self.serve(async_imap::Client::new(tcp), stop).await
        }
    }

    async fn serve<T>(
        &self,
        mut client: async_imap::Client<T>,
        stop: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<()>
    where
        T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        client
            .read_response()
            .await
            .context("reading the IMAP greeting")?
            .context("the IMAP server closed the connection")?;
        let mut session = client
            .login(&self.config.username, self.config.password.expose())
            .await
            .map_err(|(error, _)| anyhow::Error::new(error).context("IMAP login failed"))?;
        let idle = self.config.idle && session.capabilities().await?.has_str("IDLE");
        let selected = session
            .select(&self.config.folder)
            .await
            .with_context(|| format!("cannot select the folder {:?}", self.config.folder))?;
        let validity = selected.uid_validity.unwrap_or(0);
        // Our own keyword only where the folder takes new keywords (`\*`
        // in PERMANENTFLAGS); `\Seen` everywhere.
        let flags = if selected
            .permanent_flags
            .iter()
            .any(|f| matches!(f, async_imap::types::Flag::MayCreate))
        {
            "+FLAGS (\\Seen $Watchpost)"
        } else {
            "+FLAGS (\\Seen)"
        };
        tracing::info!(folder = %self.config.folder, validity, idle, "mailbox: connected");
        loop {
            self.take_new(&mut session, validity, flags).await?;
            if *stop.borrow() {
                let _ = session.logout().await;
                return Ok(());
            }
            if idle {
                // New mail announced while the last batch was taken, or
                // while IDLE was starting (before the server's "+ idling"),
                // lands in the unsolicited responses, not in IDLE's wait:
                // look there first, or such a message would wait for the
                // next one.
                let unsolicited = session.unsolicited_responses.clone();
                let mut handle = session.idle();
                handle.init().await.context("IDLE")?;
                let mut announced = false;
                while let Ok(response) = unsolicited.try_recv() {
                    announced |= matches!(
                        response,
                        async_imap::types::UnsolicitedResponse::Exists(_)
                            | async_imap::types::UnsolicitedResponse::Recent(_)
                    );
                }
                if announced {
                    session = handle.done().await.context("ending IDLE")?;
                    continue;
                }
                let stopped = {
                    let (wait, _interrupt) = handle.wait_with_timeout(IDLE_FOR);
                    tokio::select! {
                        r = wait => { r.context("IDLE")?; false }
                        _ = stop.wait_for(|s| *s) => true,
                    }
                };
                session = handle.done().await.context("ending IDLE")?;
                if stopped {
                    let _ = session.logout().await;
                    return Ok(());
                }
            } else {
                let stopped = tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(self.config.poll_every.max(1))) => false,
                    _ = stop.wait_for(|s| *s) => true,
                };
                if stopped {
                    let _ = session.logout().await;
                    return Ok(());
                }
            }
        }
    }

    /// Takes every message after the stored position, in UID order.
    async fn take_new<T>(
        &self,
        session: &mut Session<T>,
        validity: u32,
        flags: &str,
    ) -> anyhow::Result<()>
    where
        T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        let sys = Viewer::system();
        let folder = &self.config.folder;
        let mut last = match self.store.mailbox_position(&sys, folder).await? {
            Some((v, uid)) if v == validity => uid,
            Some((v, _)) => {
                tracing::warn!(folder = %folder, old = v, new = validity, "mailbox: UIDVALIDITY changed; reading the folder from the start (messages seen before are recognised by Message-ID)");
                0
            }
            None => 0,
        };
        // UIDs and sizes first; `n:*` also answers the last message when
        // there is nothing newer, so older UIDs are left out.
        let listed: Vec<(u32, u32)> = session
            .uid_fetch(format!("{}:*", last.saturating_add(1)), "(UID RFC822.SIZE)")
            .await?
            .try_collect::<Vec<_>>()
            .await?
            .iter()
            .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
            .filter(|(uid, _)| *uid > last)
            .collect();
        let mut listed = listed;
        listed.sort_unstable();
        for (uid, size) in listed {
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let oversized = size > self.config.max_message_bytes;
            let query = if oversized {
                "(UID BODY.PEEK[HEADER])"
            } else {
                "(UID BODY.PEEK[])"
            };
            let fetched = session
                .uid_fetch(uid.to_string(), query)
                .await?
                .try_collect::<Vec<_>>()
                .await?;
            let Some(message) = fetched.iter().find(|f| f.uid == Some(uid)) else {
                tracing::warn!(uid, "mailbox: a listed message was gone when fetched");
                continue;
            };
            let raw = if oversized {
                message.header()
            } else {
                message.body()
            }
            .unwrap_or_default();
            self.take(raw, oversized.then_some(size)).await?;
            // A folder that refuses the flags (read-only) must not stop the
            // poller: the position, saved next, keeps the message from
            // being taken again.
            let stored = match session.uid_store(uid.to_string(), flags).await {
                Ok(responses) => responses.try_collect::<Vec<_>>().await.map(drop),
                Err(error) => Err(error),
            };
            if let Err(error) = stored {
                match error {
                    async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_) => {
                        tracing::warn!(uid, %error, "mailbox: the message could not be flagged");
                    }
                    other => return Err(other.into()),
                }
            }
            last = uid;
            self.store
                .set_mailbox_position(&sys, folder, validity, last)
                .await?;
        }
        if self.store.mailbox_position(&sys, folder).await?.is_none() {
            self.store
                .set_mailbox_position(&sys, folder, validity, last)
                .await?;
        }
        self.stats.checks.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The running poller.
pub struct MailboxTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MailboxTask {
    /// Starts `poller` (inside a Tokio runtime).
    pub fn start(poller: Poller) -> MailboxTask {
        let (stop, stopping) = watch::channel(false);
        tracing::info!(host = %poller.config.imap_host, folder = %poller.config.folder, "mailbox poller started");
        let task = tokio::spawn(poller.run(stopping));
        MailboxTask { stop, task }
    }

    /// Stops the poller (a message in progress is finished first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the mailbox task failed");
        }
    }
}

/// Replies to mailed reports: the server's [`ReportReplies`].
pub struct Replies {
    store: Arc<dyn Store>,
    mailer: Arc<Mailer>,
}

impl std::fmt::Debug for Replies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies").finish_non_exhaustive()
    }
}

impl Replies {
    /// Replies over `mailer`, recorded in `store`.
    pub fn new(store: Arc<dyn Store>, mailer: Arc<Mailer>) -> Replies {
        Replies { store, mailer }
    }
}

/// The most characters of a reply.
pub const MAX_REPLY_CHARS: usize = 20_000;

#[async_trait::async_trait]
impl ReportReplies for Replies {
    async fn reply(
        &self,
        by: &Viewer,
        report: ReportId,
        text: &str,
    ) -> Result<ReplySent, ReplyError> {
        // The caller must see the report (else NotFound) and be staff.
        let thread = self.store.mail_thread(by, report).await?;
        let Some(last) = thread.last() else {
            return Err(ReplyError::NotMail);
        };
        let Some(researcher) = thread
            .iter()
            .rev()
            .find(|m| m.direction == MailDirection::In)
        else {
            return Err(ReplyError::NotMail);
        };
        let first_subject = thread
            .iter()
            .find(|m| m.direction == MailDirection::In)
            .map_or("", |m| m.subject.as_str());
        let subject = reply_subject(first_subject, report);
        let mut references = last.references.clone();
        references.push(last.message_id.clone());
        let skip = references
            .len()
            .saturating_sub(incidents::mail::MAX_REFERENCES);
        let references: Vec<String> = references.into_iter().skip(skip).collect();
        let outgoing = Outgoing {
            to: &researcher.address,
            subject: &subject,
            in_reply_to: Some(&last.message_id),
            references: &references,
            body: text.to_owned(),
            automatic: false,
        };
        let message_id = self
            .mailer
            .send(&outgoing)
            .await
            .map_err(|e| ReplyError::Send(format!("{e:#}")))?;
        let clipped: String = text.chars().take(MAX_REPLY_CHARS - 200).collect();
        self.store
            .record_outbound_mail(
                &Viewer::system(),
                OutboundMail {
                    report_id: report,
                    message_id: message_id.clone(),
                    to: researcher.address.clone(),
                    subject: subject.clone(),
                    in_reply_to: Some(last.message_id.clone()),
                    references,
                    timeline: Some(format!(
                        "reply mailed to {}:\n\n{clipped}",
                        researcher.address
                    )),
                    sent_by: Some(by.user_id),
                },
            )
            .await?;
        Ok(ReplySent {
            message_id,
            to: researcher.address.clone(),
            subject,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_gets_at_most_five_acknowledgements_an_hour() {
        let limit = AckLimit::default();
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            assert!(limit.allow("a@example.org", start));
        }
        assert!(!limit.allow("A@Example.org", start + Duration::from_secs(60)));
        assert!(limit.allow("b@example.org", start + Duration::from_secs(60)));
        assert!(limit.allow("a@example.org", start + Duration::from_secs(3600)));
    }

    #[test]
    fn reply_subjects_carry_the_tracking_id_once() {
        let id: ReportId = "01938c4e-7f00-7000-8000-000000000001".parse().unwrap();
        let t = "[WP-01938c4e-7f00-7000-8000-000000000001]";
        for (original, expected) in [
            ("XSS", format!("Re: XSS {t}")),
            ("Re: XSS", format!("Re: XSS {t}")),
            ("RE: re: XSS", format!("Re: XSS {t}")),
            (&*format!("Re: XSS {t}"), format!("Re: XSS {t}")),
            ("", format!("Re: {t}")),
        ] {
            assert_eq!(reply_subject(original, id), expected, "{original}");
        }
    }

    #[test]
    fn the_config_has_defaults_and_refuses_unknown_keys() {
        let c: MailboxConfig = toml::from_str(
            "imap_host = \"imap.example.com\"\nusername = \"u\"\npassword = \"p\"\naddress = \"security@example.com\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.imap_port, c.tls, c.idle, c.folder.as_str(), c.poll_every),
            (993, true, true, "INBOX", 60)
        );
        assert_eq!(c.max_message_bytes, 10 * 1024 * 1024);
        assert!(c.smtp.is_none());
        assert!(!format!("{c:?}").contains("\"p\""));
        let bad = toml::from_str::<MailboxConfig>(
            "imap_host = \"h\"\nusername = \"u\"\npassword = \"p\"\naddress = \"a@b\"\nnope = 1\n",
        );
        assert!(bad.unwrap_err().to_string().contains("nope"));
    }
}
