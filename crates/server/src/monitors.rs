//! Scheduled monitors: port snapshots and the URL monitor, run by
//! `watchpost serve` on their configured intervals. What they find becomes
//! alerts (and incidents) in the store, as live log detections do.
//!
//! ```text
//! [ports] every interval: list dir/paths ─> read new or changed files ─> ports::check (state file) ─┐
//! [[web.url]] each on its interval: fetch ─> judge against web.json ──────────────────────────────────┴─> alert (key) ─> Store
//! ```
//!
//! - [`ports`]: one task. Each pass reads the snapshot files that are new
//!   or changed ([`monitor::ports::folder`]) and checks them against the
//!   baseline state file ([`monitor::ports::check`], as `watchpost ports
//!   check` does). The first pass that reads a snapshot, with no state
//!   file, records the baseline and reports nothing.
//! - [`web`]: one task per `[[web.url]]`, each on its own `interval`, the
//!   first check at start ([`monitor::web::fetch_url`], then
//!   [`monitor::web::judge`] against the state file, which is read for each
//!   check and written only when a URL gets its first baseline).
//!
//! Neither monitor changes an approved baseline: approving stays a person's
//! act (`watchpost ports approve`, `watchpost web approve`, on the same
//! state files, picked up at the next pass). So the same finding is found
//! again on later passes, and its alert key is what keeps it from being
//! stored twice: the key is the finding itself (the port and what changed
//! on it; the URL, its approved fingerprint and the page seen), not the
//! hour it was seen in ([`alert_key`]).
//!
//! Counters ([`MonitorStats`]) are logged at each pass that found
//! something and when the server stops; they are not on `/metrics`.
//!
//! Must not: write a baseline a check did not create, or block the
//! runtime (file IO runs on the blocking pool).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use detect::{Detection, Level};
use incidents::access::Viewer;
use incidents::{Store, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Config;
use crate::ingest::alerts;

pub mod ports;
pub mod web;

/// Counters of the monitors since the server started.
#[derive(Debug, Default)]
pub struct MonitorStats {
    /// Ports passes run.
    pub port_passes: AtomicU64,
    /// Snapshot files read and used (new or changed content).
    pub port_files_read: AtomicU64,
    /// Snapshot files refused (unreadable, not a snapshot, malformed).
    pub port_files_refused: AtomicU64,
    /// New or changed ports found.
    pub port_detections: AtomicU64,
    /// When the last ports pass ended (Unix seconds; 0: none yet).
    pub port_last_pass: AtomicI64,
    /// URL checks run.
    pub web_checks: AtomicU64,
    /// Checks that found a page changed.
    pub web_changed: AtomicU64,
    /// Checks that could not fetch the URL.
    pub web_unreachable: AtomicU64,
    /// URLs that got their first baseline.
    pub web_baselined: AtomicU64,
    /// When the last URL check ended (Unix seconds; 0: none yet).
    pub web_last_check: AtomicI64,
    /// Alerts stored.
    pub alerts: AtomicU64,
    /// Findings whose alert (same key) was already stored.
    pub duplicate_alerts: AtomicU64,
    /// Alerts the store refused as invalid.
    pub refused_alerts: AtomicU64,
}

impl MonitorStats {
    /// The counters in the Prometheus text format (appended to the
    /// server's `/metrics`).
    pub fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write as _;
        let counters: [(&str, &AtomicU64, &str); 11] = [
            (
                "watchpost_monitor_port_passes_total",
                &self.port_passes,
                "Ports monitor passes run.",
            ),
            (
                "watchpost_monitor_port_files_read_total",
                &self.port_files_read,
                "Port snapshot files read and compared (new or changed content).",
            ),
            (
                "watchpost_monitor_port_files_refused_total",
                &self.port_files_refused,
                "Port snapshot files refused (unreadable, not a snapshot, malformed).",
            ),
            (
                "watchpost_monitor_port_findings_total",
                &self.port_detections,
                "New or changed ports found by comparisons.",
            ),
            (
                "watchpost_monitor_url_checks_total",
                &self.web_checks,
                "URL checks run.",
            ),
            (
                "watchpost_monitor_url_changed_total",
                &self.web_changed,
                "URL checks that found the page changed.",
            ),
            (
                "watchpost_monitor_url_unreachable_total",
                &self.web_unreachable,
                "URL checks that could not fetch the URL.",
            ),
            (
                "watchpost_monitor_url_baselined_total",
                &self.web_baselined,
                "URLs that got their first baseline.",
            ),
            (
                "watchpost_monitor_alerts_total",
                &self.alerts,
                "Monitor alerts stored.",
            ),
            (
                "watchpost_monitor_duplicate_alerts_total",
                &self.duplicate_alerts,
                "Monitor findings whose alert was already stored.",
            ),
            (
                "watchpost_monitor_refused_alerts_total",
                &self.refused_alerts,
                "Monitor alerts the store refused.",
            ),
        ];
        for (name, counter, help) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        let gauges: [(&str, &AtomicI64, &str); 2] = [
            (
                "watchpost_monitor_port_last_pass_seconds",
                &self.port_last_pass,
                "When the last ports pass ended (Unix seconds; 0: none yet).",
            ),
            (
                "watchpost_monitor_url_last_check_seconds",
                &self.web_last_check,
                "When the last URL check ended (Unix seconds; 0: none yet).",
            ),
        ];
        for (name, gauge, help) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {}", gauge.load(Ordering::Relaxed));
        }
    }

    fn log_totals(&self) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        tracing::info!(
            port_passes = get(&self.port_passes),
            port_files_read = get(&self.port_files_read),
            port_files_refused = get(&self.port_files_refused),
            port_detections = get(&self.port_detections),
            web_checks = get(&self.web_checks),
            web_changed = get(&self.web_changed),
            web_unreachable = get(&self.web_unreachable),
            web_baselined = get(&self.web_baselined),
            alerts = get(&self.alerts),
            duplicate_alerts = get(&self.duplicate_alerts),
            refused_alerts = get(&self.refused_alerts),
            "monitors stopped"
        );
    }
}

/// The running monitors.
pub struct Monitors {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    stats: Arc<MonitorStats>,
}

impl Monitors {
    /// Checks the `[ports]` and `[web]` tables and starts a task for each
    /// monitor they configure; `None` when they configure none. Must be
    /// called inside a Tokio runtime.
    pub fn start(
        config: &Config,
        data_dir: &Path,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Option<Monitors>> {
        let ports = config
            .ports
            .as_ref()
            .map(|ports| ports::PortsMonitor::new(ports, data_dir))
            .transpose()?;
        let web = match &config.web {
            Some(web) => web::WebMonitor::new(web, data_dir)?,
            None => None,
        };
        if ports.is_none() && web.is_none() {
            return Ok(None);
        }
        let incident_level = incident_level(config)?;
        let stats = Arc::new(MonitorStats::default());
        let (stop, stopping) = watch::channel(false);
        let sink = AlertSink {
            store,
            incident_level,
            stats: Arc::clone(&stats),
            stop: stopping.clone(),
        };
        let mut tasks = JoinSet::new();
        if let Some(ports) = ports {
            tracing::info!(
                interval = ?ports.interval(),
                state = %ports.state().display(),
                "ports monitor started"
            );
            tasks.spawn(ports.run(sink.clone(), stopping.clone()));
        }
        if let Some(web) = web {
            let web = Arc::new(web);
            tracing::info!(
                urls = web.urls(),
                state = %web.state().display(),
                "URL monitor started"
            );
            for index in 0..web.urls() {
                tasks.spawn(web::run(
                    Arc::clone(&web),
                    index,
                    sink.clone(),
                    stopping.clone(),
                ));
            }
        }
        Ok(Some(Monitors { stop, tasks, stats }))
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<MonitorStats> {
        &self.stats
    }

    /// Stops every task (a pass or check in progress ends first; an alert
    /// being retried is given up, and found again after a restart) and
    /// logs the totals.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while let Some(ended) = self.tasks.join_next().await {
            if let Err(error) = ended {
                tracing::warn!(%error, "a monitor task failed");
            }
        }
        self.stats.log_totals();
    }
}

/// `[ingest] incident_level`, read as the detection worker reads it.
fn incident_level(config: &Config) -> anyhow::Result<Level> {
    match &config.ingest.incident_level {
        None => Ok(Level::Medium),
        Some(name) => Level::parse(name).with_context(|| {
            format!(
                "ingest.incident_level: {name:?} is not one of informational, low, medium, high, critical"
            )
        }),
    }
}

/// Resolves once the monitors are told to stop (or their owner is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Sleeps until `until`; false when told to stop first.
async fn sleep_until(until: tokio::time::Instant, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep_until(until) => true,
        () = stopped(stop) => false,
    }
}

/// The deterministic key of a monitor finding: `wpm1-` and the hex SHA-256
/// of its parts, each length-prefixed so no two part lists collide. The
/// parts name the finding (see each monitor), never the time it was seen,
/// so the same finding found on every pass, or again after a restart, is
/// one alert.
pub fn alert_key(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    format!("wpm1-{}", hex::encode(h.finalize()))
}

/// What became of a finding's alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Stored now.
    New,
    /// Its key was already stored.
    Duplicate,
    /// The store refused it as invalid (logged).
    Refused,
    /// Not stored: the server is stopping and the store is unreachable.
    Stopped,
}

/// Stores findings as alerts, as the detection worker does.
#[derive(Clone)]
struct AlertSink {
    store: Arc<dyn Store>,
    incident_level: Level,
    stats: Arc<MonitorStats>,
    stop: watch::Receiver<bool>,
}

impl AlertSink {
    /// Stores the alert of `detection` under `key`, retrying while the store
    /// is unreachable (until told to stop).
    async fn store(&mut self, detection: &Detection, key: String, evidence: Value) -> Stored {
        let mut alert = alerts::new_alert(
            detection,
            &[],
            evidence,
            self.incident_level,
            OffsetDateTime::now_utc(),
        );
        alert.key = Some(key);
        let mut wait = Duration::from_millis(100);
        loop {
            match self
                .store
                .ingest_alert(&Viewer::system(), alert.clone())
                .await
            {
                Ok(outcome) if outcome.duplicate => {
                    self.stats.duplicate_alerts.fetch_add(1, Ordering::Relaxed);
                    return Stored::Duplicate;
                }
                Ok(outcome) => {
                    self.stats.alerts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        rule = %alert.rule_id,
                        alert = %outcome.alert_id,
                        disposition = outcome.disposition.as_str(),
                        "monitor alert stored"
                    );
                    return Stored::New;
                }
                Err(StoreError::Invalid(reason)) => {
                    self.stats.refused_alerts.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(rule = %alert.rule_id, %reason, "the store refused a monitor alert");
                    return Stored::Refused;
                }
                Err(error) => {
                    if *self.stop.borrow() {
                        return Stored::Stopped;
                    }
                    tracing::error!(%error, "cannot store a monitor alert; retrying");
                    let until = tokio::time::Instant::now() + wait;
                    if !sleep_until(until, &mut self.stop).await {
                        return Stored::Stopped;
                    }
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

/// Unix seconds of now, for the "last pass" counters.
fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_length_prefixed_hashes_of_the_parts() {
        let key = alert_key(&[b"ports", b"web01"]);
        assert!(key.starts_with("wpm1-") && key.len() == 5 + 64, "{key}");
        assert!(incidents::NewAlert::valid_key(&key));
        assert_eq!(key, alert_key(&[b"ports", b"web01"]));
        assert_ne!(key, alert_key(&[b"portsweb01"]));
        assert_ne!(key, alert_key(&[b"port", b"sweb01"]));
    }
}
