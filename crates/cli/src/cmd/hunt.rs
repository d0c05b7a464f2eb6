//! `watchpost hunt`: Sigma rules (and the policy watch list) over log files.
//!
//! Files are read and matched in parallel (rayon over files, and over the
//! batches a large file is split into). Events that a correlation or a
//! native detector needs are kept and fed, in time order, to the ordered
//! stage at the end. Output is sorted, so the same input always prints the
//! same result.

mod output;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use detect::{Detection, Detector, Level, Matcher, Pending, Stateful};
use events::{Event, Timestamp};
use policy::PolicyConfig;
use rayon::prelude::*;
use sources::{Format, PathFilter, Problem};
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
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
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

    fn in_window(&self, event: &Event) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        let Some(ts) = event.meta.timestamp else {
            return false;
        };
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts < t)
    }
}

/// Counters shared by the worker threads.
#[derive(Default)]
struct Counters {
    events: AtomicU64,
    matched_window: AtomicU64,
    bytes: AtomicU64,
}

thread_local! {
    /// Per-thread copies of the native detectors, used only to ask
    /// `interested` from worker threads (detectors are `Send`, not `Sync`).
    static PROBES: std::cell::RefCell<Option<Vec<Box<dyn Detector>>>> = const { std::cell::RefCell::new(None) };
}

/// The policy configuration of this run, set once before any worker starts.
static POLICY_CONFIG: OnceLock<PolicyConfig> = OnceLock::new();

/// The run's native detectors. The configuration was checked when the run
/// started (see [`run`]), so building them again cannot fail.
fn policy_detectors() -> Vec<Box<dyn Detector>> {
    policy::detectors(POLICY_CONFIG.get_or_init(PolicyConfig::default))
        .expect("the policy configuration was checked at start")
}

fn probe_interested(event: &Event) -> bool {
    PROBES.with(|p| {
        let mut p = p.borrow_mut();
        p.get_or_insert_with(policy_detectors)
            .iter()
            .any(|d| d.interested(event))
    })
}

/// Reads `--policy-config` (or the defaults) and checks that it builds.
fn load_policy_config(path: Option<&Path>) -> anyhow::Result<PolicyConfig> {
    let config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            PolicyConfig::from_toml(&text, &path.display().to_string())?
        }
        None => PolicyConfig::default(),
    };
    policy::detectors(&config)?;
    Ok(config)
}

/// Runs a hunt.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot start the worker threads")?;
    }
    if args.rules.is_empty() && args.no_policy {
        bail!("no rules: give -r RULES, or drop --no-policy to use the bundled policy pack");
    }
    let policy_config = load_policy_config(args.policy_config.as_deref())?;
    POLICY_CONFIG
        .set(policy_config)
        .map_err(|_| anyhow::anyhow!("the policy configuration was set twice"))?;

    // Rules.
    let rules_started = Instant::now();
    let (mut set, mut rule_errors) = rules::load_paths(&args.rules);
    if !args.no_policy {
        let (pack, errors) = rules::policy_pack();
        set.extend(pack);
        rule_errors.extend(errors);
    }
    let (matcher, errors) = Matcher::new(&set);
    rule_errors.extend(errors);
    let detectors = if args.no_policy {
        Vec::new()
    } else {
        policy_detectors()
    };
    let use_detectors = !detectors.is_empty();
    let (mut stage, errors) = Stateful::new(&matcher, detectors);
    rule_errors.extend(errors);
    // Counted as `rules check` counts: what runs, and one failure per error.
    let rules_loaded = stage.rules_loaded();
    // The parsed rules are no longer needed; freeing them takes a while and
    // would only delay the hunt (see the end of this function).
    std::mem::forget(set);
    let rules_elapsed = rules_started.elapsed();
    if rules_loaded == 0 && !args.rules.is_empty() && !use_detectors {
        bail!("no rule could be loaded from {:?}", args.rules);
    }

    // Files.
    let filter = PathFilter {
        include: args.include.clone(),
        exclude: args.exclude.clone(),
    };
    let (files, mut problems) = sources::discover(&args.paths, &filter);
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let progress = progress_bar(total_bytes);

    let counters = Counters::default();
    let detections: Mutex<Vec<Detection>> = Mutex::new(Vec::new());
    let pending: Mutex<Vec<Pending>> = Mutex::new(Vec::new());
    let file_problems: Mutex<Vec<Problem>> = Mutex::new(Vec::new());
    let format = args.format;
    let keep_all = !stage.is_idle();

    let sink = |batch: Vec<Event>| {
        let n = batch.len() as u64;
        counters.events.fetch_add(n, Ordering::Relaxed);
        // Build the engines this batch needs on every core first.
        matcher.prepare(batch.iter().filter(|e| args.in_window(e)));
        let (found, kept): (Vec<Vec<Detection>>, Vec<Option<Pending>>) = batch
            .into_par_iter()
            .with_min_len(64)
            .filter(|e| args.in_window(e))
            .map(|event| {
                let mut out = Vec::new();
                let sigma = matcher.scan(&event, &mut out);
                for d in &mut out {
                    policy::annotate(d, Some(&event));
                }
                let keep =
                    keep_all && (!sigma.is_empty() || (use_detectors && probe_interested(&event)));
                (out, keep.then_some(Pending { event, sigma }))
            })
            .unzip();
        let found: Vec<Detection> = found.into_iter().flatten().collect();
        let kept: Vec<Pending> = kept.into_iter().flatten().collect();
        counters
            .matched_window
            .fetch_add(kept.len() as u64, Ordering::Relaxed);
        if !found.is_empty() {
            detections
                .lock()
                .expect("no panics hold the lock")
                .extend(found);
        }
        if !kept.is_empty() {
            pending
                .lock()
                .expect("no panics hold the lock")
                .extend(kept);
        }
        progress.set_message(rate_message(
            counters.events.load(Ordering::Relaxed),
            started.elapsed(),
        ));
    };

    files.par_iter().for_each(|path| {
        let summary = sources::read_file(path, format, &sink);
        counters.bytes.fetch_add(summary.bytes, Ordering::Relaxed);
        progress.inc(summary.bytes);
        if !summary.problems.is_empty() {
            file_problems
                .lock()
                .expect("no panics hold the lock")
                .extend(summary.problems);
        }
    });
    progress.finish_and_clear();

    // Ordered stage.
    let mut detections = detections.into_inner().expect("no panics hold the lock");
    let pending = pending.into_inner().expect("no panics hold the lock");
    stage.run(pending, &|d, e| policy::annotate(d, e), &mut detections);
    if let Some(min) = args.min_level {
        detections.retain(|d| d.level >= min);
    }
    sort_detections(&mut detections);

    problems.extend(file_problems.into_inner().expect("no panics hold the lock"));
    problems.sort_by(|a, b| {
        (&a.source, &a.location, &a.message).cmp(&(&b.source, &b.location, &b.message))
    });

    output::print(&detections, args.output())?;

    let summary = Summary {
        files: files.len(),
        events: counters.events.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
        rules_loaded,
        rule_errors: &rule_errors,
        rules_elapsed,
        detections: &detections,
        problems: &problems,
        elapsed: started.elapsed(),
    };
    summary.print();

    // The compiled rules and engines are large and the process ends right
    // after this: skip freeing them, which would cost tens of milliseconds
    // on a short hunt. (The operating system reclaims the memory.)
    std::mem::forget(stage);
    std::mem::forget(matcher);

    let code = if !problems.is_empty() || !rule_errors.is_empty() {
        EXIT_PROBLEMS
    } else if !detections.is_empty() {
        EXIT_DETECTIONS
    } else {
        EXIT_CLEAN
    };
    Ok(ExitCode::from(code))
}

/// Sorts detections into their one stable order: time, file, record,
/// rule id, rule title, then the rest of the content.
pub fn sort_detections(detections: &mut [Detection]) {
    detections.sort_by(|a, b| {
        (
            a.timestamp,
            &a.file,
            a.record,
            &a.rule_id,
            &a.rule_title,
            a.level,
            &a.fields,
            &a.entities,
        )
            .cmp(&(
                b.timestamp,
                &b.file,
                b.record,
                &b.rule_id,
                &b.rule_title,
                b.level,
                &b.fields,
                &b.entities,
            ))
    });
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
    files: usize,
    events: u64,
    bytes: u64,
    rules_loaded: usize,
    rule_errors: &'a [rules::RuleError],
    rules_elapsed: Duration,
    detections: &'a [Detection],
    problems: &'a [Problem],
    elapsed: Duration,
}

/// How many located problems and rule errors the summary lists.
const SHOW_FIRST: usize = 5;

impl Summary<'_> {
    fn print(&self) {
        let secs = self.elapsed.as_secs_f64();
        eprintln!(
            "files: {}  events: {}  bytes: {} ({:.1} MiB)",
            self.files,
            self.events,
            self.bytes,
            self.bytes as f64 / (1024.0 * 1024.0)
        );
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
        let mut per_level: BTreeMap<Level, usize> = BTreeMap::new();
        for d in self.detections {
            *per_level.entry(d.level).or_default() += 1;
        }
        let levels: Vec<String> = Level::ALL
            .iter()
            .rev()
            .filter_map(|l| per_level.get(l).map(|n| format!("{l} {n}")))
            .collect();
        if levels.is_empty() {
            eprintln!("detections: 0");
        } else {
            eprintln!(
                "detections: {} ({})",
                self.detections.len(),
                levels.join(", ")
            );
        }
        let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
        for p in self.problems {
            *per_kind
                .entry(format!("{:?}", p.kind).to_lowercase())
                .or_default() += 1;
        }
        let kinds: Vec<String> = per_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        if kinds.is_empty() {
            eprintln!("problems: 0");
        } else {
            eprintln!("problems: {} ({})", self.problems.len(), kinds.join(", "));
        }
        for p in self.problems.iter().take(SHOW_FIRST) {
            eprintln!(
                "  {} {}: {}",
                term::line(&p.source),
                term::line(&p.location),
                term::line(first_line(&p.message))
            );
        }
        if self.problems.len() > SHOW_FIRST {
            eprintln!("  ... and {} more", self.problems.len() - SHOW_FIRST);
        }
        eprintln!(
            "elapsed: {:.3} s  ({:.0} events/s)",
            secs,
            self.events as f64 / secs.max(1e-6)
        );
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
