//! `watchpost web ...`: website modification or defacement.
//!
//! `check` fetches the configured URLs (the `[web]` table of the config
//! file, and/or URLs on the command line) once and compares each with its
//! approved baseline. A URL with no baseline gets one from this fetch (and
//! is reported as `baselined`). `approve URL` fetches a URL and makes the
//! result its new baseline.
//!
//! Exit codes of `check`: 0 nothing changed, 1 a page changed, 3 nothing
//! changed but a URL was unreachable, 2 the command could not run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use monitor::state;
use monitor::web::baseline::STATE_KIND;
use monitor::web::{Status, WebConfig, WebState, approve as approve_url, check_once, run_blocking};

use crate::term;

/// The default config file (used when it exists).
const DEFAULT_CONFIG: &str = "./watchpost.toml";
/// The default web state file.
const DEFAULT_STATE: &str = "./watchpost-data/web.json";
/// Exit code of `check` when a page changed.
const EXIT_CHANGED: u8 = 1;
/// Exit code of `check` when nothing changed but a URL was unreachable.
const EXIT_UNREACHABLE: u8 = 3;

/// Subcommands of `watchpost web`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Fetch the watched URLs once and report changes against their
    /// baselines (a URL with no baseline gets one).
    Check(CheckArgs),
    /// Fetch a URL and accept the result as its new baseline.
    Approve(ApproveArgs),
}

/// Arguments of `watchpost web check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The config file with `[[web.url]]` entries (default ./watchpost.toml,
    /// when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The web state file.
    #[arg(long, default_value = DEFAULT_STATE)]
    state: PathBuf,
    /// Print one JSON outcome per line instead of a table.
    #[arg(long)]
    jsonl: bool,
    /// Check only these URLs (configured or not) instead of the config's list.
    urls: Vec<String>,
}

/// Arguments of `watchpost web approve`.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The URL whose current page becomes the baseline.
    url: String,
    /// The config file (for limits and the URL's ignore patterns).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The web state file.
    #[arg(long, default_value = DEFAULT_STATE)]
    state: PathBuf,
}

/// Runs a `web` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => check(args),
        Command::Approve(args) => approve(args),
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<WebConfig> {
    match path {
        Some(path) => Ok(WebConfig::from_file(path)?),
        None if Path::new(DEFAULT_CONFIG).exists() => {
            Ok(WebConfig::from_file(Path::new(DEFAULT_CONFIG))?)
        }
        None => Ok(WebConfig::default()),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut config = load_config(args.config.as_deref())?;
    if !args.urls.is_empty() {
        let urls: Vec<_> = args.urls.iter().map(|u| config.url_or_default(u)).collect();
        for url in &urls {
            url.validate()?;
        }
        config.url = urls;
    }
    if config.url.is_empty() {
        bail!(
            "no URLs to check: list them under [[web.url]] in the config file or on the command line"
        );
    }
    let mut web_state = state::load::<WebState>(&args.state, STATE_KIND)?.unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    let outcomes = run_blocking(check_once(&config, &mut web_state, now))
        .context("cannot start the runtime")?;
    let baselined = outcomes
        .iter()
        .filter(|o| o.status == Status::Baselined)
        .count();
    if baselined > 0 {
        state::save(&args.state, STATE_KIND, &web_state)?;
    }
    let (mut changed, mut unreachable) = (0, 0);
    if !args.jsonl {
        println!("{:<48} {:<12} DETAIL", "URL", "RESULT");
    }
    for outcome in &outcomes {
        let (result, detail) = match &outcome.status {
            Status::Baselined => (
                "baselined",
                format!("no baseline yet: recorded in {}", args.state.display()),
            ),
            Status::Unchanged { similarity } => {
                ("unchanged", format!("similarity {similarity:.2}"))
            }
            Status::Changed { summary, .. } => {
                changed += 1;
                ("CHANGED", summary.clone())
            }
            Status::Unreachable { reason } => {
                unreachable += 1;
                ("unreachable", reason.clone())
            }
        };
        if args.jsonl {
            println!("{}", term::json::to_string(outcome)?);
        } else {
            // Summaries quote page titles and script sources, and reasons
            // quote server answers: escape them, and the URL.
            let mut detail = detail;
            for note in &outcome.notes {
                detail.push_str(&format!(" [{note}]"));
            }
            println!(
                "{:<48} {:<12} {}",
                term::line(&outcome.url),
                result,
                term::line(&detail)
            );
        }
    }
    eprintln!(
        "{} URL(s): {changed} changed, {unreachable} unreachable, {baselined} baselined",
        outcomes.len()
    );
    Ok(if changed > 0 {
        ExitCode::from(EXIT_CHANGED)
    } else if unreachable > 0 {
        ExitCode::from(EXIT_UNREACHABLE)
    } else {
        ExitCode::SUCCESS
    })
}

fn approve(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let url = config.url_or_default(&args.url);
    url.validate()?;
    let mut web_state = state::load::<WebState>(&args.state, STATE_KIND)?.unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    let (fingerprint, notes) = run_blocking(approve_url(&config, &url, &mut web_state, now))
        .context("cannot start the runtime")?
        .with_context(|| format!("{} is unreachable", args.url))?;
    state::save(&args.state, STATE_KIND, &web_state)?;
    for note in notes {
        eprintln!("note: {}", term::line(&note));
    }
    println!(
        "approved {}: status {}, title \"{}\", {} script source(s), {} bytes, content {}",
        term::line(&args.url),
        fingerprint.status,
        term::line(fingerprint.title.as_deref().unwrap_or("")),
        fingerprint.scripts.len(),
        fingerprint.bytes,
        &fingerprint.content_hash[..16]
    );
    Ok(ExitCode::SUCCESS)
}
