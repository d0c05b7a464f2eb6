//! [`PolicyConfig`]: thresholds and windows of the native detectors.
//!
//! Every section has defaults that work, so an empty file (or no file) is a
//! valid configuration. Unknown keys are errors. Durations are written as
//! `30s`, `10m`, `2h`, `1d` or a plain number of seconds.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Errors of the policy crate.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A configuration file that does not parse or has unknown keys.
    #[error("policy config {file}: {message}")]
    Config {
        /// The file the configuration came from.
        file: String,
        /// What is wrong, with line and key as the TOML parser reports them.
        message: String,
    },
    /// A duration that does not parse.
    #[error("invalid duration {0:?}: expected a number with a unit, as in 30s, 10m, 2h or 1d")]
    Duration(String),
    /// A maintenance window that does not parse.
    #[error("invalid maintenance window {0:?}: expected `Sun 02:00-04:00` or `daily 01:00-02:30`")]
    Window(String),
}

/// Parses `30s`, `10m`, `2h`, `1d`, `1w` or plain seconds into seconds.
pub fn parse_duration(text: &str) -> Result<u64, PolicyError> {
    let t = text.trim();
    let bad = || PolicyError::Duration(text.to_string());
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// A duration in whole seconds, written in config as `10m` or `600`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Secs(pub u64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10m\" or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secs, E> {
                Ok(Secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secs, E> {
                u64::try_from(v).map(Secs).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secs, E> {
                parse_duration(v).map(Secs).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole policy configuration (`[policy]` in a TOML file).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Repeated login failures and password spraying.
    pub login: LoginConfig,
    /// Missing time spans and silent sources.
    pub gaps: GapsConfig,
    /// Unexpected reboots and maintenance windows.
    pub reboot: RebootConfig,
    /// Sudden performance degradation.
    pub performance: PerformanceConfig,
    /// Limits on the state every keyed detector keeps.
    pub state: StateConfig,
}

impl PolicyConfig {
    /// Parses a TOML document; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, PolicyError> {
        toml::from_str(text).map_err(|e| PolicyError::Config {
            file: file.to_string(),
            message: e.to_string(),
        })
    }
}

/// Bounds on keyed state (per user, per address, per host, per metric).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// A key with no event for this long is forgotten.
    pub idle_ttl: Secs,
    /// At most this many keys per detector table; the least recently seen
    /// are evicted first.
    pub max_keys: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            idle_ttl: Secs(86_400),
            max_keys: 1_000_000,
        }
    }
}

/// Thresholds of the login-failure detector.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// The sliding window failures are counted in.
    pub window: Secs,
    /// Failures for one user (from anywhere) in the window that fire.
    pub per_user: u32,
    /// Failures from one source address in the window that fire.
    pub per_source: u32,
    /// Distinct users failing from one source address in the window that
    /// fire as password spraying.
    pub spray_users: u32,
    /// A success for a user or from an address that had at least this many
    /// failures in the window fires.
    pub success_after: u32,
    /// After firing for a key, stay quiet for this long.
    pub cooldown: Secs,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            window: Secs(600),
            per_user: 10,
            per_source: 10,
            spray_users: 5,
            success_after: 5,
            cooldown: Secs(3600),
        }
    }
}

/// How missing time spans are found.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GapsConfig {
    /// A fixed threshold; when unset it is learned per source.
    pub min_gap: Option<Secs>,
    /// Quantile of a source's inter-arrival gaps used as its cadence.
    pub quantile: f64,
    /// The learned threshold is the quantile times this factor.
    pub factor: f64,
    /// The learned threshold is never below this.
    pub floor: Secs,
    /// Below this many gaps a source's cadence is not learned (and, with
    /// no `min_gap`, no gap is reported for it).
    pub min_samples: u64,
    /// Time going backwards by more than this is reported.
    pub backwards_tolerance: Secs,
    /// A forward step longer than this is reported as a clock jump rather
    /// than a gap.
    pub clock_jump: Secs,
    /// Events on each side of a gap used to measure local density.
    pub dense_window: usize,
    /// A gap this many times the local spacing on both sides is a missing
    /// window, even below the learned threshold (and at least `floor`).
    pub dense_factor: f64,
    /// Largest gaps remembered per source until the end of input.
    pub max_candidates: usize,
}

impl Default for GapsConfig {
    fn default() -> Self {
        Self {
            min_gap: None,
            quantile: 0.99,
            factor: 4.0,
            floor: Secs(300),
            min_samples: 50,
            backwards_tolerance: Secs(60),
            clock_jump: Secs(30 * 86_400),
            dense_window: 32,
            dense_factor: 100.0,
            max_candidates: 1000,
        }
    }
}

/// Unexpected-reboot settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RebootConfig {
    /// Maintenance windows in UTC, as `Sun 02:00-04:00` or
    /// `daily 01:00-02:30`.
    pub maintenance: Vec<String>,
    /// What a reboot inside a maintenance window gives: a low-severity
    /// detection (`low`) or nothing (`suppress`).
    pub in_maintenance: MaintenanceAction,
}

/// What happens to a reboot inside a maintenance window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceAction {
    /// Report at `low` severity.
    #[default]
    Low,
    /// Report nothing.
    Suppress,
}

/// Performance-degradation settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerformanceConfig {
    /// Numeric fields watched (dotted paths allowed), first present wins.
    pub value_fields: Vec<String>,
    /// Fields whose values, joined, name the series (plus host and field).
    pub key_fields: Vec<String>,
    /// Also read the request time at the end of access-log lines (nginx
    /// `$request_time`, seconds) from events that only have a message.
    pub access_log_request_time: bool,
    /// Smoothing of the baseline (EWMA weight of a new point).
    pub alpha: f64,
    /// Points a series needs before it is judged.
    pub warmup: u32,
    /// A point deviates when above baseline + `k` × deviation.
    pub k: f64,
    /// The deviation is at least this fraction of the baseline, so a flat
    /// series does not fire on noise.
    pub min_relative: f64,
    /// Fire when `n` of the last `m` points deviate.
    pub n: u32,
    /// See `n` (at most 32).
    pub m: u32,
}

impl Default for PerformanceConfig {
    fn default() -> Self {
        Self {
            value_fields: [
                "request_time",
                "response_time",
                "duration_ms",
                "latency_ms",
                "latency",
                "cpu_percent",
                "cpu.pct",
                "system.cpu.total.pct",
                "metric.value",
            ]
            .map(String::from)
            .to_vec(),
            key_fields: ["service", "metric", "metric.name", "name", "url", "path"]
                .map(String::from)
                .to_vec(),
            access_log_request_time: true,
            alpha: 0.05,
            warmup: 20,
            k: 4.0,
            min_relative: 0.2,
            n: 5,
            m: 8,
        }
    }
}
