//! `watchpost serve`: runs the API server. All the work happens in the
//! `server` crate; this only maps flags onto its options.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `watchpost serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory (SQLite database, attachments).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use PostgreSQL at this URL instead of SQLite.
    #[arg(long, value_name = "URL", env = "WATCHPOST_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Listen address; port 0 picks a free port (printed on start).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Optional TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Sigma rule files or folders for live detection (repeatable; added to
    /// the config's `rules`). The bundled policy pack is loaded too.
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not load the bundled policy pack and native policy detectors.
    #[arg(long)]
    pub no_policy: bool,
    /// Run as one node of a cluster: events go through NATS JetStream at
    /// this URL (nats://HOST:PORT), and detection is shared with the other
    /// nodes. Needs a PostgreSQL --database-url.
    #[arg(long = "nats", value_name = "URL", env = "WATCHPOST_NATS_URL")]
    pub nats_url: Option<String>,
    /// This node's name in the cluster (default: host name and process id).
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    server::serve_blocking(server::ServeOptions {
        data_dir: args.data_dir,
        database_url: args.database_url,
        listen: args.listen,
        config: args.config,
        rules: args.rules,
        no_policy: args.no_policy,
        nats_url: args.nats_url,
        node_id: args.node_id,
    })?;
    Ok(ExitCode::SUCCESS)
}
