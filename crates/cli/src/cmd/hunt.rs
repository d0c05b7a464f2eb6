//! `watchpost hunt`: Sigma rules (and the policy watch list) over log files.
//!
//! A thin caller of [`engine::Engine::hunt`]: it turns arguments into an
//! engine and hunt options, shows progress, and prints the report.

mod output;
mod submit;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use detect::Level;
use engine::{Engine, EngineConfig, HuntOptions, HuntReport};
use events::Timestamp;
use policy::PolicyConfig;
use sources::{Format, PathFilter, ReadOptions, TimeZone};
use time::format_description::well_known::Rfc3339;

use crate::term;

pub use output::OutputFormat;

/// Exit code: the hunt ran cleanly and found nothing.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: the hunt ran cleanly and found detections.
pub const EXIT_DETECTIONS: u8 = 1;
/// Exit code: the hunt ran, but input or rule problems occurred (some files,
/// records or rules were skipped); detections, if any, are still printed.
pub const EXIT_PROBLEMS: u8 = 3;

const EXIT_CODES: &str = "Exit codes:
  0  no detections, no problems
  1  detections found, no problems
  2  could not run (bad arguments, no rules, ...)
  3  ran, but input or rule problems occurred (skipped files, records or rules;
     see the summary); detections, if any, are printed as usual";

/// Arguments of `watchpost hunt`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct Args {
    /// Sigma rule files or folders (repeatable).
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    pub rules: Vec<PathBuf>,
    /// Log files and folders to hunt through (folders are walked).
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON array.
    #[arg(long, conflicts_with_all = ["jsonl", "csv"])]
    pub json: bool,
    /// Print one JSON object per line.
    #[arg(long, conflicts_with = "csv")]
    pub jsonl: bool,
    /// Print CSV with a header row.
    #[arg(long)]
    pub csv: bool,
    /// Drop detections below this level.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub min_level: Option<Level>,
    /// Keep only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<Timestamp>,
    /// Keep only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<Timestamp>,
    /// Read every file as this format instead of detecting it.
    /// One of: evtx, json, syslog, access, auditd.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub format: Option<Format>,
    /// Only read files matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip files matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Do not load the bundled policy pack and native policy detectors.
    #[arg(long)]
    pub no_policy: bool,
    /// Thresholds of the native policy detectors (TOML: `[login]`,
    /// `[reboot]`, `[performance]`, `[state]`; see docs/policy.md).
    #[arg(long, value_name = "FILE", conflicts_with = "no_policy")]
    pub policy_config: Option<PathBuf>,
    /// The time zone of RFC 3164 syslog lines, which carry none: an IANA
    /// name (America/New_York), `local` (this machine's zone) or `UTC`
    /// [default: UTC]. Lines that state an offset (RFC 5424, ISO 8601) keep
    /// it; daylight-saving changes within a file are followed in file
    /// order.
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// MiB of events kept for correlations and policy detectors that are
    /// held in memory; past it they are spilled to a temporary file and
    /// merged back in time order [default: 4].
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<usize>,
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Also send the detections to a watchpost server (its base URL) as
    /// alerts, keyed as live detection keys them: sending twice stores
    /// nothing twice. Needs a responder's or admin's `--token`.
    #[arg(long, value_name = "URL")]
    pub submit: Option<String>,
    /// The API token for `--submit`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "WATCHPOST_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// With `--submit`: the lowest level that opens or joins an incident;
    /// lower detections wait in the server's alert queue.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level, default_value = "medium", requires = "submit")]
    pub incident_level: Level,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s)
        .ok_or_else(|| format!("unknown level {s:?} (informational, low, medium, high, critical)"))
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s)
        .ok_or_else(|| format!("unknown format {s:?} (evtx, json, syslog, access, auditd)"))
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s, &Rfc3339).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

impl Args {
    fn output(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else if self.jsonl {
            OutputFormat::Jsonl
        } else if self.csv {
            OutputFormat::Csv
        } else {
            OutputFormat::Table
        }
    }
}

/// Reads `--policy-config` (or the defaults).
fn load_policy_config(path: Option<&Path>) -> anyhow::Result<PolicyConfig> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(PolicyConfig::from_toml(&text, &path.display().to_string())?)
        }
        None => Ok(PolicyConfig::default()),
    }
}

/// A progress bar on stderr, when it is a terminal.
struct Bar {
    bar: indicatif::ProgressBar,
    started: Instant,
}

impl engine::Progress for Bar {
    fn started(&self, total_bytes: u64) {
        self.bar.set_length(total_bytes);
    }

    fn file_read(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn events(&self, events: u64) {
        self.bar
            .set_message(rate_message(events, self.started.elapsed()));
    }
}

/// Runs a hunt.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let policy = if args.no_policy {
        None
    } else {
        Some(load_policy_config(args.policy_config.as_deref())?)
    };
    let timezone = match &args.timezone {
        Some(zone) => TimeZone::parse(zone)?,
        None => TimeZone::UTC,
    };
    let options = HuntOptions {
        format: args.format,
        from: args.from,
        to: args.to,
        min_level: args.min_level,
        filter: PathFilter {
            include: args.include.clone(),
            exclude: args.exclude.clone(),
        },
        read: ReadOptions { timezone },
        memory_budget: args
            .memory_budget
            .map(|mib| mib.saturating_mul(1024 * 1024)),
    };
    let config = EngineConfig {
        rules: args.rules.clone(),
        policy,
    };
    let submit_token = match (&args.submit, &args.token) {
        (Some(_), None) => anyhow::bail!("--submit needs --token (or WATCHPOST_TOKEN)"),
        (_, token) => token.clone(),
    };
    let (engine, report, rules_elapsed) = pool.install(|| -> anyhow::Result<_> {
        let rules_started = Instant::now();
        let engine = Engine::load(config)?;
        let rules_elapsed = rules_started.elapsed();
        let bar = Bar {
            bar: progress_bar(0),
            started,
        };
        let report = engine.hunt(&args.paths, &options, &bar);
        bar.bar.finish_and_clear();
        Ok((engine, report, rules_elapsed))
    })?;

    output::print(&report.detections, args.output())?;
    if let (Some(url), Some(token)) = (&args.submit, &submit_token) {
        submit::submit(url, token, report.detections.iter(), args.incident_level)?;
    }
    let summary = Summary {
        report: &report,
        rules_loaded: engine.rules_loaded(),
        rule_errors: engine.rule_errors(),
        rules_elapsed,
        elapsed: started.elapsed(),
    };
    summary.print();
    let code = if !report.problems.is_empty() || !engine.rule_errors().is_empty() {
        EXIT_PROBLEMS
    } else if !report.detections.is_empty() {
        EXIT_DETECTIONS
    } else {
        EXIT_CLEAN
    };
    // The compiled rules are large and the process ends right after this:
    // skip freeing them, which would cost tens of milliseconds on a short
    // hunt. (The operating system reclaims the memory.)
    std::mem::forget(engine);
    std::mem::forget(pool);
    Ok(ExitCode::from(code))
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({binary_bytes_per_sec}) {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn rate_message(events: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    format!("{events} events ({:.0} events/s)", events as f64 / secs)
}

/// What the summary on stderr reports.
struct Summary<'a> {
    report: &'a HuntReport,
    rules_loaded: usize,
    rule_errors: &'a [rules::RuleError],
    rules_elapsed: Duration,
    elapsed: Duration,
}

/// How many located problems and rule errors the summary lists.
const SHOW_FIRST: usize = 5;

impl Summary<'_> {
    fn print(&self) {
        let secs = self.elapsed.as_secs_f64();
        let report = self.report;
        eprintln!(
            "files: {}  events: {}  bytes: {} ({:.1} MiB)",
            report.files,
            report.events,
            report.bytes,
            report.bytes as f64 / (1024.0 * 1024.0)
        );
        if report.spilled > 0 || report.detections.spilled() > 0 {
            eprintln!(
                "spilled to disk: {} of {} events kept for the ordered stage, {} detections",
                report.spilled,
                report.kept,
                report.detections.spilled()
            );
        }
        if !report.skipped.is_empty() {
            eprintln!(
                "skipped: {} files that are not logs (--format forces a format)",
                report.skipped.len()
            );
            for s in report.skipped.iter().take(SHOW_FIRST) {
                eprintln!("  {}", term::line(&s.path));
            }
            if report.skipped.len() > SHOW_FIRST {
                eprintln!("  ... and {} more", report.skipped.len() - SHOW_FIRST);
            }
        }
        eprintln!(
            "rules: {} loaded, {} failed (in {:.3} s)",
            self.rules_loaded,
            self.rule_errors.len(),
            self.rules_elapsed.as_secs_f64()
        );
        for e in self.rule_errors.iter().take(SHOW_FIRST) {
            eprintln!(
                "  rule {} ({}): {}",
                term::line(&e.file),
                term::line(e.rule_id.as_deref().unwrap_or("-")),
                term::line(first_line(&e.reason))
            );
        }
        if self.rule_errors.len() > SHOW_FIRST {
            eprintln!("  ... (`watchpost rules check` lists them all)");
        }
        let levels: Vec<String> = Level::ALL
            .iter()
            .rev()
            .map(|l| (l, report.detections.count(*l)))
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| format!("{l} {n}"))
            .collect();
        if levels.is_empty() {
            eprintln!("detections: 0");
        } else {
            eprintln!(
                "detections: {} ({})",
                report.detections.len(),
                levels.join(", ")
            );
        }
        let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
        for p in &report.problems {
            *per_kind
                .entry(format!("{:?}", p.kind).to_lowercase())
                .or_default() += 1;
        }
        let kinds: Vec<String> = per_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        if kinds.is_empty() {
            eprintln!("problems: 0");
        } else {
            eprintln!("problems: {} ({})", report.problems.len(), kinds.join(", "));
        }
        for p in report.problems.iter().take(SHOW_FIRST) {
            eprintln!(
                "  {} {}: {}",
                term::line(&p.source),
                term::line(&p.location),
                term::line(first_line(&p.message))
            );
        }
        if report.problems.len() > SHOW_FIRST {
            eprintln!("  ... and {} more", report.problems.len() - SHOW_FIRST);
        }
        eprintln!(
            "elapsed: {:.3} s  ({:.0} events/s)",
            secs,
            report.events as f64 / secs.max(1e-6)
        );
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
