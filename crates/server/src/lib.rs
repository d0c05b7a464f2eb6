//! Server: the composition root of `watchpost serve`. Reads the optional
//! configuration, opens the store (SQLite by default, PostgreSQL on
//! request), creates the first admin, serves the API, runs the notification
//! worker, and shuts all of it down gracefully on SIGTERM or Ctrl-C.
//!
//! Connections are served by [`connections`] (header and idle time limits,
//! a connection cap); the data directory and its files are kept
//! owner-only by [`at_rest`]. The first admin's token is printed only when
//! stdout is a terminal; otherwise it is written to
//! `DATA_DIR/first-admin-token` (`0600`) and only that path is printed.
//!
//! [`ingest`] is live detection: the API's event sink, the syslog and OTLP
//! inputs, the durable event spool ([`spool`]) they write to before
//! acknowledging an event, and the detection worker that turns what it
//! reads into alerts and incidents. [`monitors`] runs the port snapshot
//! and URL checks of the `[ports]` and `[web]` tables on their intervals,
//! with alerts of their own. [`sla`] checks the open incidents' SLA
//! clocks (`[sla]`) and escalates overdue ones.
//!
//! It also offers the store-level administration used by the CLI
//! (`users add|list|disable`, `tokens list|create|revoke|rotate`,
//! `audit verify`), so the CLI stays thin.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use incidents::Store;
use incidents::access::Viewer;
use incidents::audit::AuditReport;
use incidents::enums::Role;
use incidents::user::{ApiToken, NewToken, NewUser, TokenHash, User};
use incidents::{AuditKey, TokenId};

pub mod at_rest;
pub mod config;
pub mod connections;
pub mod ingest;
pub mod mailbox;
pub mod monitors;
pub mod setup;
pub mod sla;
pub mod spool;
pub mod user_check;

pub use config::Config;

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./watchpost-data";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The file in the data directory that receives the first admin's token
/// when stdout is not a terminal.
pub const FIRST_ADMIN_TOKEN_FILE: &str = "first-admin-token";
/// File descriptors kept back from the connection cap for the database,
/// attachments and the runtime.
const RESERVED_FILES: u64 = 128;

/// Where the store lives: a PostgreSQL URL, or a SQLite file in a data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// The data directory (`DIR/watchpost.db`, attachments).
    pub data_dir: PathBuf,
    /// A `postgres://` URL, if PostgreSQL is used.
    pub database_url: Option<String>,
    /// The audit key file, if not `DATA_DIR/audit.key`.
    pub audit_key_file: Option<PathBuf>,
}

impl StoreLocation {
    /// From optional flags, with defaults.
    pub fn new(data_dir: Option<PathBuf>, database_url: Option<String>) -> Self {
        Self {
            data_dir: data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: database_url.filter(|u| !u.is_empty()),
            audit_key_file: None,
        }
    }

    /// The same location with the audit key read from (or created at)
    /// `path` instead of `DATA_DIR/audit.key`.
    pub fn with_audit_key_file(mut self, path: Option<PathBuf>) -> Self {
        self.audit_key_file = path;
        self
    }
}

/// Opens (and migrates) the store with the default limits.
pub async fn open_store(location: &StoreLocation) -> anyhow::Result<Arc<dyn Store>> {
    open_store_with(location, incidents::StoreOptions::default()).await
}

/// Opens (and migrates) the store with `options` (its data directory is
/// `location`'s). The data directory is created `0700`, the SQLite files
/// and attachments are made `0600` ([`at_rest`]). The audit key comes from
/// `location`'s key file when one is named, else from the data directory.
pub async fn open_store_with(
    location: &StoreLocation,
    options: incidents::StoreOptions,
) -> anyhow::Result<Arc<dyn Store>> {
    at_rest::create_private_dir(&location.data_dir)?;
    let audit_key = match &location.audit_key_file {
        Some(path) => Some(AuditKey::load_or_create(path)?),
        None => options.audit_key.clone(),
    };
    let options = incidents::StoreOptions {
        data_dir: Some(location.data_dir.clone()),
        audit_key,
        ..options
    };
    let (store, database) = match &location.database_url {
        Some(url) => (
            incidents::open_with(url, options)
                .await
                .context("cannot open the PostgreSQL database")?,
            None,
        ),
        None => {
            let path = incidents::default_db_path(&location.data_dir);
            at_rest::precreate_private_file(&path)?;
            let store = incidents::open_with(&format!("sqlite:{}", path.display()), options)
                .await
                .with_context(|| format!("cannot open {}", path.display()))?;
            (store, Some(path))
        }
    };
    at_rest::secure_data(&location.data_dir, database.as_deref())?;
    Ok(store)
}

/// The store's limits from the configuration (defaults where unset).
fn store_options(config: &Config) -> incidents::StoreOptions {
    let defaults = incidents::StoreOptions::default();
    incidents::StoreOptions {
        max_attachment_bytes: config
            .max_attachment_bytes
            .map_or(defaults.max_attachment_bytes, |n| n.get()),
        max_reports_per_hour: config
            .reports_per_hour
            .map_or(defaults.max_reports_per_hour, |n| n.get()),
        max_attachment_bytes_per_user: config
            .attachment_bytes_per_user
            .unwrap_or(defaults.max_attachment_bytes_per_user),
        max_attachment_bytes_total: config
            .attachment_bytes_total
            .unwrap_or(defaults.max_attachment_bytes_total),
        ..defaults
    }
}

/// The listener's limits from the configuration, with the connection cap
/// lowered to what the process may open (after raising its soft limit on
/// open files to the hard limit).
fn connection_limits(config: &Config) -> connections::ConnectionLimits {
    let secs = |v: Option<std::num::NonZeroU64>, default| {
        v.map_or(default, |s| std::time::Duration::from_secs(s.get()))
    };
    let wanted = config
        .max_connections
        .map_or(connections::DEFAULT_MAX_CONNECTIONS, |n| n.get());
    connections::ConnectionLimits {
        header_read_timeout: secs(
            config.header_read_timeout_secs,
            connections::DEFAULT_HEADER_READ_TIMEOUT,
        ),
        keep_alive_timeout: secs(
            config.keep_alive_timeout_secs,
            connections::DEFAULT_KEEP_ALIVE_TIMEOUT,
        ),
        max_connections: fit_open_file_limit(wanted),
    }
}

/// Raises the soft limit on open files to the hard limit, and returns the
/// connection cap that fits under it (with [`RESERVED_FILES`] kept back),
/// warning when `wanted` had to be lowered.
fn fit_open_file_limit(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        let limit = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => limit,
            Err(error) => {
                tracing::warn!(%error, "cannot raise the open file limit");
                match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                    Ok((soft, _)) => soft,
                    Err(_) => return wanted,
                }
            }
        };
        let fits = usize::try_from(limit.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(wanted);
        if fits < wanted {
            tracing::warn!(
                max_connections = wanted,
                open_file_limit = limit,
                lowered_to = fits,
                "the connection cap does not fit the open file limit; lowered"
            );
            return fits;
        }
    }
    wanted
}

/// Creates a user and a fresh API token; returns the token (shown once).
pub async fn create_user_with_token(
    store: &dyn Store,
    name: &str,
    role: Role,
) -> anyhow::Result<(User, String)> {
    let system = Viewer::system();
    let user = store
        .create_user(
            &system,
            NewUser {
                name: name.to_owned(),
                role,
            },
        )
        .await
        .with_context(|| format!("cannot create user {name:?}"))?;
    let token = web::token::generate();
    store
        .create_token(&system, user.id, "cli", TokenHash::of(&token))
        .await
        .context("cannot create the API token")?;
    Ok((user, token))
}

/// Every user, by name.
pub async fn list_users(store: &dyn Store) -> anyhow::Result<Vec<User>> {
    Ok(store.list_users(&Viewer::system()).await?)
}

/// Disables a user by name.
pub async fn disable_user(store: &dyn Store, name: &str) -> anyhow::Result<User> {
    let system = Viewer::system();
    let user = store
        .get_user_by_name(&system, name)
        .await
        .with_context(|| format!("cannot find user {name:?}"))?;
    Ok(store.set_user_disabled(&system, user.id, true).await?)
}

/// A user's tokens (metadata), by user name.
pub async fn list_tokens(store: &dyn Store, name: &str) -> anyhow::Result<(User, Vec<ApiToken>)> {
    let system = Viewer::system();
    let user = store
        .get_user_by_name(&system, name)
        .await
        .with_context(|| format!("cannot find user {name:?}"))?;
    let tokens = store.list_tokens(&system, user.id).await?;
    Ok((user, tokens))
}

/// Issues a token for the user `name`, expiring after `expires_in_days`
/// when given; returns its metadata and the token (shown once).
pub async fn issue_token(
    store: &dyn Store,
    name: &str,
    label: &str,
    expires_in_days: Option<u32>,
) -> anyhow::Result<(ApiToken, String)> {
    let system = Viewer::system();
    let user = store
        .get_user_by_name(&system, name)
        .await
        .with_context(|| format!("cannot find user {name:?}"))?;
    let expires_at = match expires_in_days {
        None => None,
        Some(days @ 1..=web::token::MAX_EXPIRES_IN_DAYS) => {
            Some(time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days)))
        }
        Some(_) => anyhow::bail!(
            "--expires-in must be between 1 and {} days",
            web::token::MAX_EXPIRES_IN_DAYS
        ),
    };
    let token = web::token::generate();
    let issued = store
        .issue_token(
            &system,
            user.id,
            NewToken {
                label: label.to_owned(),
                hash: TokenHash::of(&token),
                expires_at,
            },
        )
        .await
        .context("cannot issue the API token")?;
    Ok((issued, token))
}

/// Revokes a token by id; returns it as revoked.
pub async fn revoke_token(store: &dyn Store, id: TokenId) -> anyhow::Result<ApiToken> {
    let system = Viewer::system();
    store
        .revoke_token(&system, id)
        .await
        .with_context(|| format!("cannot revoke token {id}"))?;
    Ok(store.get_token(&system, id).await?)
}

/// Rotates a token by id; returns the new token's metadata and the token
/// (shown once).
pub async fn rotate_token(store: &dyn Store, id: TokenId) -> anyhow::Result<(ApiToken, String)> {
    let token = web::token::generate();
    let issued = store
        .rotate_token(&Viewer::system(), id, TokenHash::of(&token))
        .await
        .with_context(|| format!("cannot rotate token {id}"))?;
    Ok((issued, token))
}

/// Verifies the audit chain.
pub async fn verify_audit(store: &dyn Store) -> anyhow::Result<AuditReport> {
    Ok(store.verify_audit(&Viewer::system()).await?)
}

/// Options of `watchpost serve` from the command line (they override the
/// configuration file).
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `-r/--rules`: Sigma rule files and folders, added to the config's.
    pub rules: Vec<PathBuf>,
    /// `--no-policy`.
    pub no_policy: bool,
    /// `--nats`: run as a node of a cluster on this NATS server.
    pub nats_url: Option<String>,
    /// `--node-id`: this node's name in the cluster.
    pub node_id: Option<String>,
}

/// Runs the server on a new multi-threaded runtime until SIGTERM or Ctrl-C.
pub fn serve_blocking(options: ServeOptions) -> anyhow::Result<()> {
    init_tracing();
    notify::deliver::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = shutdown_signal();
        serve(options, shutdown).await
    })
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("WATCHPOST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves when SIGTERM or Ctrl-C (SIGINT) arrives. On Unix both
/// handlers are installed when this is called (inside a runtime), not when
/// the future is first polled, so a signal sent as soon as the server says
/// it is listening already shuts it down gracefully.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            let (mut terminate, mut interrupt) = match (terminate, interrupt) {
                (Ok(t), Ok(i)) => (t, i),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM or Ctrl-C");
                    std::future::pending::<()>().await;
                    return;
                }
            };
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("Ctrl-C received, shutting down"),
                _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C received, shutting down");
    }
}

/// Runs the server until `shutdown` resolves: opens the store, creates the
/// first admin, serves the API and runs the notifier; then finishes
/// in-flight requests, stops the notifier and closes the store.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = match &options.config {
        Some(path) => {
            let config = Config::load(path)?;
            at_rest::warn_if_config_exposed(path, &config.secret_keys());
            config
        }
        None => Config::default(),
    };
    let location = StoreLocation::new(
        options.data_dir.or(config.data_dir.clone()),
        options.database_url.or(config.database_url.clone()),
    )
    .with_audit_key_file(config.audit_key_file.clone());
    let listen = options
        .listen
        .or(config.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"));
    // Single sign-on: a bad `[oidc]` (or an unreadable secret) fails the
    // start.
    let oidc = match &config.oidc {
        Some(oidc) => Some(web::ui::oidc::Oidc::new(oidc.settings()?).map_err(anyhow::Error::msg)?),
        None => None,
    };
    // Slack: a bad `[slack]` fails the start. One table feeds the intake
    // (signing secret) and the notify channel (bot token or webhook).
    let mut notify_config = config.notify.clone();
    let slack = match &config.slack {
        Some(table) => {
            notify_config.slack = Some(
                table
                    .channel(config.public_url.as_ref())
                    .map_err(anyhow::Error::msg)?,
            );
            Some(Arc::new(
                web::slack::Slack::new(table.signing_secret.expose())
                    .map_err(anyhow::Error::msg)?,
            ))
        }
        None => None,
    };
    // The public side (security.txt, the report form, advisories): a bad
    // `[security_txt]` or `[disclosure]`, or either without `public_url`,
    // fails the start.
    let disclosure = disclosure_settings(&config)?;
    let store = open_store_with(&location, store_options(&config)).await?;
    // "I didn't do this" mail: a bad `[user_check]`, or one without
    // `public_url` or `[notify.smtp]`, fails the start.
    let user_checks = match &config.user_check {
        Some(table) => Some(Arc::new(user_check::UserCheckMailer::new(
            table,
            config.public_url.as_ref(),
            notify_config.email.as_ref(),
            store.clone(),
        )?)),
        None => None,
    };
    let limits = connection_limits(&config);
    // Scheduled monitors (port snapshots, URLs): refused before listening
    // when their tables cannot be used, stopped with the live inputs.
    let monitors = monitors::Monitors::start(&config, &location.data_dir, store.clone())?;
    // SLA targets and escalation (`[sla]`): refused before listening when
    // the table cannot be used.
    let sla_settings = config.sla.clone().unwrap_or_default().settings()?;

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let base_url = format!("http://{local}");
    bootstrap_admin(store.as_ref(), &base_url, &location.data_dir).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {base_url}")?;
        out.flush()?;
    }
    tracing::info!(address = %local, "watchpost API listening");

    let cluster = match options.nats_url.as_ref().or(config.nats_url.as_ref()) {
        Some(url) => {
            let mut table = config.cluster.clone();
            if options.node_id.is_some() {
                table.node_id.clone_from(&options.node_id);
            }
            Some(
                ingest::cluster::ClusterSettings::new(
                    &table,
                    url,
                    location.database_url.as_deref(),
                )
                .map_err(anyhow::Error::msg)?,
            )
        }
        None => None,
    };
    let ingest = start_ingest(
        &config,
        &options.rules,
        options.no_policy,
        &location.data_dir,
        store.clone(),
        cluster,
    )
    .await?;
    // Live inputs: bound before serving (a port in use or a bad certificate
    // fails at start), stopped before detection (each hands over what it
    // read).
    let (inputs_stop, inputs_shutdown) = tokio::sync::watch::channel(false);
    let mut inputs = tokio::task::JoinSet::new();
    match &ingest {
        Some(live) => {
            for input in &config.ingest.syslog {
                let bound = ingest::syslog::bind(input.clone()).await?;
                tracing::info!(address = %bound.local_addr(), protocol = ?input.protocol, "syslog input listening");
                inputs.spawn(bound.run(live.intake(), inputs_shutdown.clone()));
            }
            for input in &config.ingest.tail {
                let tail = ingest::tail::start(input.clone(), &location.data_dir)?;
                tracing::info!(paths = ?input.paths, "tail input started");
                inputs.spawn(tail.run(live.intake(), inputs_shutdown.clone()));
            }
        }
        None if !config.ingest.syslog.is_empty() || !config.ingest.tail.is_empty() => {
            tracing::warn!("live detection is off: the syslog and tail inputs are not started");
        }
        None => {}
    }

    // SIGHUP reloads the rules.
    #[cfg(unix)]
    if let (Some(live), Some(monitors)) = (&ingest, &monitors) {
        live.show_monitor_metrics(Arc::clone(monitors.stats()));
    }
    if let Some(live) = &ingest {
        let intake = live.intake();
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hangups) => {
                tokio::spawn(async move {
                    while hangups.recv().await.is_some() {
                        tracing::info!("SIGHUP received, reloading the rules");
                        if let Err(error) =
                            web::events::EventSink::reload_rules(intake.as_ref()).await
                        {
                            tracing::error!(%error, "rule reload refused");
                        }
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP"),
        }
    }

    // "I didn't do this" mail: new password-reset alerts mail the user.
    if let (Some(mailer), Some(live)) = (&user_checks, &ingest) {
        live.show_user_check_metrics(mailer.stats());
        let mailer = Arc::clone(mailer);
        live.on_alert(Arc::new(move |alert, outcome| {
            mailer.on_alert(alert, outcome)
        }));
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = notify::worker::spawn(store.clone(), notify_config, stop_rx)
        .context("cannot start the notification worker")?;

    let sla_task = sla::SlaTask::start(
        sla::Checker::new(store.clone(), &sla_settings, sla::system_clock()),
        sla_settings.check_every,
    );
    // The security@ mailbox (`[mailbox]`): its poller, and replies from the
    // API through the same SMTP relay.
    let (mailbox_task, replies) = match mailbox_parts(&config, &store)? {
        Some((poller, replies)) => (Some(mailbox::MailboxTask::start(poller)), Some(replies)),
        None => (None, None),
    };

    let stats = Arc::new(web::stats::RequestStats::default());
    let app = web::router_with_stats(
        web::AppState {
            setup: setup::FileSetupLink::open(&location.data_dir)
                .map(|link| Arc::new(link) as Arc<dyn web::ui::AdminSetup>),
            store: store.clone(),
            events: ingest
                .as_ref()
                .map(|i| i.intake() as web::events::SharedSink),
            public_url: config.public_url.clone(),
            sla: Arc::new(sla_settings.policy.clone()),
            disclosure,
        },
        web::RouterOptions {
            max_body_bytes: config.max_body_bytes.unwrap_or(web::DEFAULT_MAX_BODY_BYTES),
            request_timeout: config
                .request_timeout_secs
                .map_or(web::DEFAULT_REQUEST_TIMEOUT, |secs| {
                    std::time::Duration::from_secs(secs.get())
                }),
        },
        stats.clone(),
    );
    let app = match oidc {
        Some(oidc) => app.layer(axum::Extension(oidc)),
        None => app,
    };
    let app = match replies {
        Some(replies) => app.layer(axum::Extension(replies)),
        None => app,
    };
    let app = match slack {
        Some(slack) => app.layer(axum::Extension(slack)),
        None => app,
    };
    let app = if user_checks.is_some() {
        app.layer(axum::Extension(web::UserCheckPages))
    } else {
        app
    };
    tracing::info!(
        header_read_timeout_secs = limits.header_read_timeout.as_secs(),
        keep_alive_timeout_secs = limits.keep_alive_timeout.as_secs(),
        max_connections = limits.max_connections,
        "connection limits"
    );
    connections::serve(listener, app, limits, stats, shutdown).await;
    let _ = inputs_stop.send(true);
    while let Some(ended) = inputs.join_next().await {
        match ended {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(error = %format!("{error:#}"), "a live input failed"),
            Err(error) => tracing::warn!(%error, "a live input task failed"),
        }
    }
    if let Some(monitors) = monitors {
        monitors.stop().await;
    }
    sla_task.stop().await;
    if let Some(task) = mailbox_task {
        task.stop().await;
    }
    if let Some(ingest) = ingest {
        tracing::info!("HTTP server stopped; stopping detection");
        if let Err(error) = tokio::task::spawn_blocking(move || ingest.stop()).await {
            tracing::warn!(%error, "detection did not stop cleanly");
        }
    }
    tracing::info!("HTTP server stopped; stopping the notifier");
    let _ = stop_tx.send(true);
    if let Err(error) = worker.await {
        tracing::warn!(%error, "notification worker ended abnormally");
    }
    store.close().await;
    tracing::info!("store closed");
    Ok(())
}

/// The mailbox poller and the reply sender of `[mailbox]`, over its
/// `[mailbox.smtp]` or else `[notify.smtp]`; `None` without `[mailbox]`.
fn mailbox_parts(
    config: &Config,
    store: &Arc<dyn Store>,
) -> anyhow::Result<Option<(mailbox::Poller, web::mail_reply::SharedReplies)>> {
    let Some(settings) = config.mailbox.clone() else {
        return Ok(None);
    };
    let smtp = settings
        .smtp
        .clone()
        .or_else(|| config.notify.email.as_ref().map(|e| e.smtp.clone()))
        .context("[mailbox] sends acknowledgements: set [mailbox.smtp] or [notify.smtp]")?;
    let mailer = Arc::new(mailbox::Mailer::new(&smtp, &settings.address)?);
    let replies: web::mail_reply::SharedReplies =
        Arc::new(mailbox::Replies::new(store.clone(), mailer.clone()));
    Ok(Some((
        mailbox::Poller::new(settings, store.clone(), mailer),
        replies,
    )))
}

/// Loads the rules and starts live detection. No rules and no policy pack
/// (`no_policy` with no rules) runs none: the events route answers 503.
async fn start_ingest(
    config: &Config,
    extra_rules: &[PathBuf],
    no_policy: bool,
    data_dir: &Path,
    store: Arc<dyn Store>,
    cluster: Option<ingest::cluster::ClusterSettings>,
) -> anyhow::Result<Option<ingest::Ingest>> {
    let mut rules = config.rules.clone();
    rules.extend(extra_rules.iter().cloned());
    let policy = if no_policy || config.no_policy {
        None
    } else {
        Some(config.policy.clone().unwrap_or_default())
    };
    if rules.is_empty() && policy.is_none() {
        if cluster.is_some() {
            anyhow::bail!(
                "a cluster node needs rules or the policy pack: with --no-policy and no rules there is no detection to share"
            );
        }
        tracing::warn!("no rules and no policy pack: live detection is off");
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let engine_config = engine::EngineConfig { rules, policy };
    let for_load = engine_config.clone();
    let engine = tokio::task::spawn_blocking(move || engine::Engine::load(for_load)).await??;
    for error in engine.rule_errors().iter().take(20) {
        tracing::warn!(file = %error.file, rule = ?error.rule_id, reason = %error.reason, "rule not loaded");
    }
    tracing::info!(
        rules = engine.rules_loaded(),
        failed = engine.rule_errors().len(),
        millis = started.elapsed().as_millis() as u64,
        "rules loaded"
    );
    let ingest = match cluster {
        Some(settings) => {
            ingest::Ingest::start_cluster(
                &config.ingest,
                data_dir,
                engine_config,
                Arc::new(engine),
                store,
                settings,
            )
            .await?
        }
        None => ingest::Ingest::start(
            &config.ingest,
            data_dir,
            engine_config,
            Arc::new(engine),
            store,
        )?,
    };
    Ok(Some(ingest))
}

/// On first start (no users at all) creates `admin` with a token. The token
/// is printed only when stdout is a terminal; otherwise it goes to
/// `DATA_DIR/first-admin-token` (`0600`) and only that path is printed and
/// logged. Never again afterwards.
async fn bootstrap_admin(store: &dyn Store, base_url: &str, data_dir: &Path) -> anyhow::Result<()> {
    if store.count_users(&Viewer::system()).await? > 0 {
        return Ok(());
    }
    let (user, token) = create_user_with_token(store, "admin", Role::Admin).await?;
    let link = setup::create(data_dir, base_url, user.id)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "first start: created the user {:?} with the admin role.",
        user.name
    )?;
    if std::io::IsTerminal::is_terminal(&out) {
        writeln!(out, "Its API token is shown only this once; store it now:")?;
        writeln!(out)?;
        writeln!(out, "    {token}")?;
        writeln!(out)?;
        writeln!(out, "Try it:")?;
        writeln!(
            out,
            "    curl -H \"Authorization: Bearer {token}\" {base_url}/api/v1/me"
        )?;
    } else {
        let path = data_dir.join(FIRST_ADMIN_TOKEN_FILE);
        write_private(&path, format!("{token}\n").as_bytes())?;
        tracing::info!(path = %path.display(), "first admin token written");
        writeln!(
            out,
            "Its API token is in {} (readable only by this account), as stdout is not a terminal;",
            path.display()
        )?;
        writeln!(out, "store it elsewhere, then delete that file.")?;
    }
    if std::io::IsTerminal::is_terminal(&out) {
        writeln!(
            out,
            "Set its password for the web pages with this link (once, within 24 hours):"
        )?;
        writeln!(out)?;
        writeln!(out, "    {link}")?;
        writeln!(out)?;
    } else {
        let path = data_dir.join(setup::SETUP_FILE);
        writeln!(
            out,
            "A link to set its password for the web pages (once, within 24 hours) is on the first line of {}.",
            path.display()
        )?;
    }
    writeln!(
        out,
        "Create more users with: watchpost users add NAME --role ROLE"
    )?;
    out.flush()?;
    Ok(())
}

/// Writes `bytes` to `path`, owner-only (`0600`), replacing any old file.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let context = || format!("cannot write {}", path.display());
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(context),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, at_rest::FILE_MODE);
    let mut file = options.open(path).with_context(context)?;
    file.write_all(bytes).with_context(context)?;
    file.sync_all().with_context(context)?;
    Ok(())
}

/// The public side's settings from `[security_txt]` and `[disclosure]`
/// (`None` when neither is configured). An expired or soon-expiring
/// security.txt is logged loudly and served anyway (the pages warn too).
fn disclosure_settings(
    config: &config::Config,
) -> anyhow::Result<Option<Arc<web::disclosure::Disclosure>>> {
    let settings = web::disclosure::Disclosure::from_config(
        config.public_url.as_ref(),
        config.security_txt.as_ref(),
        config.disclosure.as_ref(),
    )?;
    if let Some(warning) = settings
        .as_ref()
        .and_then(|d| d.expiry_warning(time::OffsetDateTime::now_utc()))
    {
        tracing::warn!(%warning, "security.txt");
    }
    Ok(settings.map(Arc::new))
}
