//! `watchpost gaps`: missing time spans in log files.
//!
//! A thin caller of [`engine::gaps::find`], which runs the policy gap
//! detector over every file. Per source (file and host) it reports every
//! span with no events longer than `--min-gap`, or by default longer than
//! the threshold learned from that source's own cadence, plus time going
//! backwards and clock jumps.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use detect::Detection;
use engine::gaps::GapsOptions;
use policy::{GapsConfig, PolicyConfig, gaps};
use serde::Serialize;
use sources::{PathFilter, ReadOptions, TimeZone};

use crate::term;

/// Exit code: no gaps and no input problems.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: gaps (or time going backwards, or clock jumps) found.
pub const EXIT_FOUND: u8 = 1;
/// Exit code: ran, but some input could not be read.
pub const EXIT_PROBLEMS: u8 = 3;

const EXIT_CODES: &str = "Exit codes:
  0  no gaps, no problems
  1  gaps, backwards time or clock jumps found
  2  could not run (bad arguments, unreadable configuration)
  3  ran, but some files or records could not be read (see stderr)";

/// Arguments of `watchpost gaps`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct Args {
    /// Log files and folders (folders are walked).
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<PathBuf>,
    /// Report spans longer than this (`30m`, `2h`, `1d`, seconds). By
    /// default the threshold is learned per source: the 99th percentile of
    /// its gaps times 4, at least 5 minutes.
    #[arg(long, value_name = "DURATION", value_parser = parse_min_gap)]
    pub min_gap: Option<u64>,
    /// A policy configuration file (TOML); its `[gaps]` section applies.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON object per line.
    #[arg(long, conflicts_with = "json")]
    pub jsonl: bool,
    /// Print one JSON array.
    #[arg(long)]
    pub json: bool,
    /// Include files matching these globs only (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip files matching these globs (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// The time zone of RFC 3164 syslog lines, which carry none: an IANA
    /// name (America/New_York), `local` or `UTC` [default: UTC].
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

fn parse_min_gap(text: &str) -> Result<u64, String> {
    policy::parse_duration(text).map_err(|e| e.to_string())
}

/// One reported span.
#[derive(Debug, Serialize)]
struct Row {
    source: String,
    host: Option<String>,
    from: String,
    to: String,
    seconds: f64,
    expected_seconds: Option<f64>,
    kind: String,
}

fn row(d: &Detection) -> Row {
    let kind = match d.rule_id.as_str() {
        gaps::BACKWARDS_ID => "time_backwards".to_string(),
        gaps::CLOCK_JUMP_ID => "clock_jump".to_string(),
        _ => d
            .fields
            .get("kind")
            .cloned()
            .unwrap_or_else(|| "gap".into()),
    };
    let num = |k: &str| d.fields.get(k).and_then(|v| v.parse::<f64>().ok());
    Row {
        source: d
            .fields
            .get("source")
            .cloned()
            .unwrap_or_else(|| d.file.to_string()),
        host: d.host.clone(),
        from: d.fields.get("from").cloned().unwrap_or_default(),
        to: d.fields.get("to").cloned().unwrap_or_default(),
        seconds: num("seconds").unwrap_or(0.0),
        expected_seconds: num("expected_seconds"),
        kind,
    }
}

/// Runs `watchpost gaps`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config: GapsConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            PolicyConfig::from_toml(&text, &path.display().to_string())?.gaps
        }
        None => GapsConfig::default(),
    };
    if let Some(secs) = args.min_gap {
        config.min_gap = Some(policy::Secs(secs));
    }
    let timezone = match &args.timezone {
        Some(zone) => TimeZone::parse(zone)?,
        None => TimeZone::UTC,
    };
    let options = GapsOptions {
        filter: PathFilter {
            include: args.include.clone(),
            exclude: args.exclude.clone(),
        },
        read: ReadOptions { timezone },
    };
    let report = engine::gaps::find(&args.paths, config, &options);
    for (file, back) in &report.reordered {
        eprintln!(
            "{}: not in time order ({back} steps back); sorted by time",
            term::line(file)
        );
    }
    let (files, undated, problems) = (report.files, report.undated, &report.problems);
    let out = &report.detections;
    let mut rows: Vec<Row> = out.iter().map(row).collect();
    rows.sort_by(|a, b| {
        (&a.source, &a.host, &a.from, &a.to).cmp(&(&b.source, &b.host, &b.from, &b.to))
    });
    print(&args, &rows)?;
    for p in problems {
        eprintln!(
            "problem: {} {}: {}",
            term::line(&p.source),
            term::line(&p.location),
            term::line(&p.message)
        );
    }
    eprintln!(
        "{} files, {} spans reported, {} events without a time, {} problems",
        files,
        rows.len(),
        undated,
        problems.len()
    );
    Ok(ExitCode::from(if !problems.is_empty() {
        EXIT_PROBLEMS
    } else if rows.is_empty() {
        EXIT_CLEAN
    } else {
        EXIT_FOUND
    }))
}

fn print(args: &Args, rows: &[Row]) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if args.jsonl {
        for r in rows {
            term::json::to_writer(&mut w, r)?;
            writeln!(w)?;
        }
    } else if args.json {
        term::json::to_writer_pretty(&mut w, rows)?;
        writeln!(w)?;
    } else {
        // Hosts and sources (file names) come from the logs: escape them.
        let table: Vec<[String; 7]> = rows
            .iter()
            .map(|r| {
                [
                    term::line(&r.from).into_owned(),
                    term::line(&r.to).into_owned(),
                    format!("{}", r.seconds),
                    r.expected_seconds.map_or("-".into(), |e| format!("{e}")),
                    term::line(&r.kind).into_owned(),
                    term::line(r.host.as_deref().unwrap_or("-")).into_owned(),
                    term::line(&r.source).into_owned(),
                ]
            })
            .collect();
        let header = [
            "FROM", "TO", "SECONDS", "EXPECTED", "KIND", "HOST", "SOURCE",
        ];
        let mut widths = header.map(str::len);
        for r in &table {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                }
            }
            s
        };
        writeln!(w, "{}", line(&header))?;
        for r in &table {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            writeln!(w, "{}", line(&cells))?;
        }
    }
    w.flush()?;
    Ok(())
}
