//! `watchpost rules ...`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use detect::{Matcher, Stateful};
use engine::load_rule_paths;

use crate::term;

/// Subcommands of `watchpost rules`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load rules and list every one that fails, with its reason.
    ///
    /// Exit codes: 0 every rule loaded, 2 could not run, 3 some rules failed.
    Check {
        /// Rule files or folders (walked for *.yml / *.yaml).
        #[arg(value_name = "DIR", required = true)]
        paths: Vec<PathBuf>,
        /// Print one JSON object: {loaded, failed, errors: [{file, rule_id, reason}]}.
        #[arg(long)]
        json: bool,
    },
}

/// What `rules check` found.
#[derive(Debug, serde::Serialize)]
struct Report {
    loaded: usize,
    failed: usize,
    errors: Vec<rules::RuleError>,
}

/// Loads and compiles the rules under `paths`, as `hunt` would, and counts
/// them as `hunt` does ([`Stateful::rules_loaded`], and one failure per
/// error).
fn check(paths: &[PathBuf]) -> Report {
    let (set, mut errors) = load_rule_paths(paths);
    let (matcher, compile_errors) = Matcher::new(&set);
    errors.extend(compile_errors);
    let (stage, corr_errors) = Stateful::new(&matcher, Vec::new());
    errors.extend(corr_errors);
    errors.sort_by(|a, b| (&a.file, &a.rule_id, &a.reason).cmp(&(&b.file, &b.rule_id, &b.reason)));
    Report {
        loaded: stage.rules_loaded(),
        failed: errors.len(),
        errors,
    }
}

/// The reason's kind, for grouping: its text up to the first `:` (or the
/// first line), without quoted specifics.
fn reason_group(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or("");
    let head = line.split(':').next().unwrap_or(line).trim();
    if head.is_empty() {
        line.to_string()
    } else {
        head.to_string()
    }
}

/// Runs a `rules` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { paths, json } => {
            let report = check(&paths);
            if json {
                println!("{}", term::json::to_string(&report)?);
            } else {
                let mut groups: BTreeMap<String, Vec<&rules::RuleError>> = BTreeMap::new();
                for e in &report.errors {
                    groups.entry(reason_group(&e.reason)).or_default().push(e);
                }
                // Files, ids and reasons quote the rule files: escape them.
                for (group, errors) in &groups {
                    println!("{} ({}):", term::line(group), errors.len());
                    for e in errors {
                        println!(
                            "  {} ({}): {}",
                            term::line(&e.file),
                            term::line(e.rule_id.as_deref().unwrap_or("-")),
                            term::line(&e.reason.replace('\n', " "))
                        );
                    }
                }
                let total = report.loaded + report.failed;
                let pct = if total == 0 {
                    100.0
                } else {
                    100.0 * report.loaded as f64 / total as f64
                };
                println!(
                    "loaded: {}  failed: {}  ({pct:.2}% loaded)",
                    report.loaded, report.failed
                );
            }
            Ok(ExitCode::from(if report.failed == 0 {
                0
            } else {
                super::hunt::EXIT_PROBLEMS
            }))
        }
    }
}
