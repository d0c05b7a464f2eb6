//! `watchpost ports ...`: new open network ports against an approved
//! baseline.
//!
//! `check` reads snapshots (nmap XML, `ss`, `netstat`, osquery JSON) and
//! reports ports that are not in the baseline, or whose service changed.
//! It does not change the baseline, except on the first run (no state file:
//! the snapshot becomes the baseline, and nothing is reported) or with
//! `--learn`. `approve` accepts ports into the baseline; `list` shows it.
//!
//! Exit codes of `check`: 0 nothing new, 1 new or changed ports found,
//! 2 the command could not run (including every input unreadable).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use monitor::ports::baseline::{Baseline, ChangeKind, STATE_KIND, detection};
use monitor::ports::check::{Checked, check as ports_check};
use monitor::ports::read::{ReadOptions, read_files};
use monitor::ports::{PortKey, Problem, Protocol};
use monitor::state;

use crate::term;

/// The default ports state file.
const DEFAULT_STATE: &str = "./watchpost-data/ports.json";

/// Exit code of `check` when new or changed ports were found.
const EXIT_FOUND: u8 = 1;

/// Subcommands of `watchpost ports`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Report open ports that are new, or whose service changed, against
    /// the baseline. The first run (no state file) records the baseline.
    Check(CheckArgs),
    /// Accept ports into the baseline: every port of some snapshots
    /// (`--all FILES...`), or named ports (`HOST PROTO/PORT...`).
    Approve(ApproveArgs),
    /// Show the baseline.
    List(ListArgs),
}

/// Arguments of `watchpost ports check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Snapshot files: nmap XML, `ss -ltnp`/`-lunp`, `netstat -ltnp`, osquery JSON.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The baseline state file.
    #[arg(long, default_value = DEFAULT_STATE)]
    state: PathBuf,
    /// Print one JSON detection per line instead of a table.
    #[arg(long)]
    jsonl: bool,
    /// After reporting, accept everything seen into the baseline.
    #[arg(long)]
    learn: bool,
    /// Host of `ss`, `netstat` and plain osquery snapshots (default: the
    /// file name up to its first dot).
    #[arg(long)]
    host: Option<String>,
}

/// Arguments of `watchpost ports approve`.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The baseline state file.
    #[arg(long, default_value = DEFAULT_STATE)]
    state: PathBuf,
    /// Approve every open port of the snapshot files given as arguments.
    #[arg(long)]
    all: bool,
    /// Host of `ss`, `netstat` and plain osquery snapshots (with `--all`).
    #[arg(long)]
    host: Option<String>,
    /// With `--all`: snapshot files. Otherwise: a host, then one or more
    /// `PROTO/PORT` (for example `10.0.0.5 tcp/8080 udp/161`).
    #[arg(required = true)]
    args: Vec<String>,
}

/// Arguments of `watchpost ports list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The baseline state file.
    #[arg(long, default_value = DEFAULT_STATE)]
    state: PathBuf,
    /// Print one JSON entry per line instead of a table.
    #[arg(long)]
    jsonl: bool,
}

/// Runs a `ports` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => check(args),
        Command::Approve(args) => approve(args),
        Command::List(args) => list(args),
    }
}

fn load(path: &Path) -> anyhow::Result<Option<Baseline>> {
    Ok(state::load::<Baseline>(path, STATE_KIND)?)
}

fn report_problems(problems: &[Problem]) {
    for problem in problems {
        eprintln!("warning: {}", term::line(&problem.to_string()));
    }
}

fn read(files: &[PathBuf], host: Option<String>) -> anyhow::Result<monitor::ports::Snapshot> {
    let (snapshot, problems) = read_files(files, &ReadOptions { host });
    report_problems(&problems);
    let skipped = problems.iter().filter(|p| p.skipped_file).count();
    if skipped == files.len() {
        bail!("none of the {} snapshot file(s) could be read", files.len());
    }
    Ok(snapshot)
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let now = time::OffsetDateTime::now_utc();
    // A bad state file is refused before any snapshot is read.
    load(&args.state)?;
    let snapshot = read(&args.files, args.host)?;
    let (mut baseline, changes) = match ports_check(&args.state, &snapshot, now)? {
        Checked::Baselined { baseline } => {
            eprintln!(
                "no baseline at {}: recorded the {} open port(s) seen as the baseline; later checks report ports not in it",
                args.state.display(),
                baseline.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Checked::Compared { baseline, changes } => (baseline, changes),
    };
    if args.jsonl {
        for change in &changes {
            println!("{}", term::json::to_string(&detection(change, now))?);
        }
    } else if !changes.is_empty() {
        println!(
            "{:<8} {:<8} {:<24} {:<10} {:<28} DETAIL",
            "LEVEL", "KIND", "HOST", "PORT", "SERVICE"
        );
        for change in &changes {
            let d = detection(change, now);
            let o = &change.observation;
            let kind = match change.kind {
                ChangeKind::New => "new",
                ChangeKind::Changed(_) => "changed",
            };
            // Hosts, services and process names come from the snapshots.
            println!(
                "{:<8} {:<8} {:<24} {:<10} {:<28} {}",
                d.level,
                kind,
                term::line(&o.key.host),
                format!("{}/{}", o.key.port, o.key.protocol),
                term::line(&o.service.describe()),
                term::line(&change.summary())
            );
        }
    }
    let new = changes.iter().filter(|c| c.kind == ChangeKind::New).count();
    eprintln!(
        "{new} new and {} changed port(s); {} open in the snapshot, {} in the baseline {}",
        changes.len() - new,
        snapshot.len(),
        baseline.len(),
        args.state.display()
    );
    if args.learn {
        let mut learned = 0;
        for observation in snapshot.ports.values() {
            learned += usize::from(baseline.approve(observation, now));
        }
        state::save(&args.state, STATE_KIND, &baseline)?;
        eprintln!("--learn: {learned} port(s) accepted into the baseline");
    }
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FOUND)
    })
}

fn approve(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let now = time::OffsetDateTime::now_utc();
    let mut baseline = load(&args.state)?.unwrap_or_default();
    let mut changed = 0;
    if args.all {
        let files: Vec<PathBuf> = args.args.iter().map(PathBuf::from).collect();
        let snapshot = read(&files, args.host)?;
        for observation in snapshot.ports.values() {
            changed += usize::from(baseline.approve(observation, now));
        }
    } else {
        let [host, ports @ ..] = args.args.as_slice() else {
            bail!("give a host and one or more PROTO/PORT, or --all FILES...");
        };
        if ports.is_empty() {
            bail!("give one or more PROTO/PORT after the host {host:?} (for example tcp/8080)");
        }
        for spec in ports {
            let key = parse_key(host, spec)?;
            changed += usize::from(baseline.approve_key(&key, now));
        }
    }
    state::save(&args.state, STATE_KIND, &baseline)?;
    eprintln!(
        "{changed} port(s) added or updated; the baseline {} holds {} port(s)",
        args.state.display(),
        baseline.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_key(host: &str, spec: &str) -> anyhow::Result<PortKey> {
    let (proto, port) = spec
        .split_once('/')
        .with_context(|| format!("{spec:?} is not PROTO/PORT (for example tcp/22)"))?;
    let protocol: Protocol = proto.parse().map_err(anyhow::Error::msg)?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("{spec:?}: {port:?} is not a port number"))?;
    Ok(PortKey {
        host: host.to_string(),
        protocol,
        port,
    })
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let Some(baseline) = load(&args.state)? else {
        bail!(
            "no baseline at {} (run `watchpost ports check` or `approve` first)",
            args.state.display()
        );
    };
    if args.jsonl {
        for entry in baseline.entries() {
            println!("{}", term::json::to_string(entry)?);
        }
    } else {
        println!(
            "{:<24} {:<10} {:<36} {:<26} SOURCE",
            "HOST", "PORT", "SERVICE", "APPROVED"
        );
        for entry in baseline.entries() {
            let approved = entry
                .approved_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            println!(
                "{:<24} {:<10} {:<36} {:<26} {}",
                term::line(&entry.host),
                format!("{}/{}", entry.port, entry.protocol),
                term::line(&entry.service.describe()),
                approved,
                term::line(&entry.source)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
