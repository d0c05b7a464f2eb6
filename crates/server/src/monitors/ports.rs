//! The scheduled ports check: every `interval`, the snapshot files of the
//! `[ports]` table that are new or changed are read and checked against the
//! baseline state file; new and changed ports become alerts.
//!
//! The baseline is the one `watchpost ports` keeps (`DATA_DIR/ports.json`
//! by default) and is read at every pass that has something to check, so
//! `watchpost ports approve` takes effect at the next pass. The server
//! writes it only on the first run (no state file: the first snapshot read
//! becomes the baseline, nothing is reported), never to learn a port: a
//! port that is not approved is found again whenever a snapshot that shows
//! it is read, and its alert key (host, protocol, port, and for a changed
//! service what changed) makes that the same alert.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use detect::Detection;
use monitor::ports::baseline::{ChangeKind, PortChange, detection};
use monitor::ports::check::{Checked, check};
use monitor::ports::config::PortsConfig;
use monitor::ports::folder::SnapshotFolder;
use monitor::ports::read::ReadOptions;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::watch;

use super::{AlertSink, MonitorStats, Stored, alert_key, sleep_until, unix_now};

/// The default state file in the data directory.
pub const DEFAULT_STATE_FILE: &str = "ports.json";

/// The ports monitor: its files, options and state file.
pub struct PortsMonitor {
    folder: SnapshotFolder,
    options: ReadOptions,
    state: PathBuf,
    interval: Duration,
}

/// A finding of one pass, ready to be stored.
struct Finding {
    detection: Detection,
    key: String,
    evidence: Value,
}

/// What one pass found.
#[derive(Default)]
struct PassResult {
    findings: Vec<Finding>,
    files_read: usize,
    files_refused: usize,
    new: usize,
    changed: usize,
}

impl PortsMonitor {
    /// Checks the `[ports]` table.
    pub fn new(config: &PortsConfig, data_dir: &Path) -> anyhow::Result<Self> {
        config.validate()?;
        Ok(PortsMonitor {
            folder: SnapshotFolder::new(config.dir.as_deref(), &config.paths)?,
            options: ReadOptions {
                host: config.host.clone(),
            },
            state: config
                .state
                .clone()
                .unwrap_or_else(|| data_dir.join(DEFAULT_STATE_FILE)),
            interval: config.interval,
        })
    }

    /// How often a pass runs.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The baseline state file.
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// Runs passes until told to stop; the first one at once.
    pub(super) async fn run(self, mut sink: AlertSink, mut stop: watch::Receiver<bool>) {
        let stats = Arc::clone(&sink.stats);
        let interval = self.interval;
        let mut monitor = self;
        let mut number: u64 = 0;
        loop {
            let next = tokio::time::Instant::now() + interval;
            number += 1;
            let blocking = tokio::task::spawn_blocking(move || {
                let result = monitor.pass();
                (monitor, result)
            });
            let mut result;
            (monitor, result) = match blocking.await {
                Ok(done) => done,
                Err(error) => {
                    tracing::error!(%error, "the ports pass failed; the ports monitor stopped");
                    return;
                }
            };
            let (mut alerts, mut duplicates) = (0, 0);
            for finding in std::mem::take(&mut result.findings) {
                match sink
                    .store(&finding.detection, finding.key, finding.evidence)
                    .await
                {
                    Stored::New => alerts += 1,
                    Stored::Duplicate => duplicates += 1,
                    Stored::Refused => {}
                    Stored::Stopped => return,
                }
            }
            count(&stats, &result, number);
            if result.files_read > 0 || result.files_refused > 0 {
                tracing::info!(
                    pass = number,
                    files_read = result.files_read,
                    files_refused = result.files_refused,
                    new = result.new,
                    changed = result.changed,
                    alerts,
                    duplicates,
                    "ports pass"
                );
            }
            tracing::debug!(pass = number, "ports pass done");
            if !sleep_until(next, &mut stop).await {
                return;
            }
        }
    }

    /// One pass: read the new and changed files, check them against the
    /// baseline. Blocking (file IO).
    fn pass(&mut self) -> PassResult {
        let pass = self.folder.pass(&self.options, SystemTime::now());
        for error in &pass.errors {
            tracing::warn!(%error, "cannot list port snapshot files");
        }
        for problem in &pass.refused {
            tracing::warn!(file = %problem.file, reason = %problem.reason, "port snapshot file refused");
        }
        for problem in &pass.problems {
            tracing::warn!(file = %problem.file, line = ?problem.line, reason = %problem.reason, "part of a port snapshot file skipped");
        }
        let mut result = PassResult {
            files_read: pass.read.len(),
            files_refused: pass.refused.len(),
            ..PassResult::default()
        };
        if pass.read.is_empty() {
            return result;
        }
        let now = OffsetDateTime::now_utc();
        match check(&self.state, &pass.snapshot, now) {
            Ok(Checked::Baselined { baseline }) => {
                tracing::info!(
                    state = %self.state.display(),
                    ports = baseline.len(),
                    "no ports baseline yet: recorded the open ports seen as the baseline; later passes report ports not in it"
                );
            }
            Ok(Checked::Compared { changes, .. }) => {
                for change in &changes {
                    match change.kind {
                        ChangeKind::New => result.new += 1,
                        ChangeKind::Changed(_) => result.changed += 1,
                    }
                    result.findings.push(finding(change, now));
                }
            }
            Err(error) => {
                tracing::error!(
                    error = %monitor::describe(&error),
                    "cannot check port snapshots against the baseline; every file is read again next pass"
                );
                self.folder.forget_all();
            }
        }
        result
    }
}

fn count(stats: &MonitorStats, result: &PassResult, number: u64) {
    let add = |counter: &std::sync::atomic::AtomicU64, n: usize| {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    };
    stats.port_passes.store(number, Ordering::Relaxed);
    add(&stats.port_files_read, result.files_read);
    add(&stats.port_files_refused, result.files_refused);
    add(&stats.port_detections, result.new + result.changed);
    stats.port_last_pass.store(unix_now(), Ordering::Relaxed);
}

/// The alert of a new or changed port: keyed by the host, protocol and
/// port, and for a changed service by each part that changed (before and
/// after), so the same finding in later snapshots is the same alert, and
/// a different change on the same port is a new one.
fn finding(change: &PortChange, now: OffsetDateTime) -> Finding {
    let detection = detection(change, now);
    let key = &change.observation.key;
    let port = key.port.to_string();
    let mut parts: Vec<&[u8]> = vec![
        b"ports",
        detection.rule_id.as_bytes(),
        key.host.as_bytes(),
        key.protocol.as_str().as_bytes(),
        port.as_bytes(),
    ];
    if let ChangeKind::Changed(changed) = &change.kind {
        for (part, from, to) in changed {
            parts.extend([part.as_bytes(), from.as_bytes(), to.as_bytes()]);
        }
    }
    let evidence = json!({
        "monitor": "ports",
        "source": &*detection.file,
        "record": detection.record,
        "fields": &detection.fields,
    });
    Finding {
        key: alert_key(&parts),
        detection,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use monitor::ports::{Observation, PortKey, Protocol, Service};

    use super::*;

    fn change(port: u16, process: &str, kind: ChangeKind) -> PortChange {
        PortChange {
            observation: Observation {
                key: PortKey {
                    host: "web01".into(),
                    protocol: Protocol::Tcp,
                    port,
                },
                service: Service {
                    process: Some(process.into()),
                    ..Service::default()
                },
                hostname: None,
                addresses: BTreeSet::new(),
                file: "/snap/web01.ss.txt".into(),
                record: 3,
                seen_at: None,
            },
            kind,
        }
    }

    #[test]
    fn a_finding_keeps_its_key_across_passes_and_files() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let later = now + time::Duration::days(3);
        let a = finding(&change(4444, "nc", ChangeKind::New), now);
        let mut moved = change(4444, "python3", ChangeKind::New);
        moved.observation.file = "/snap/web01.2.ss.txt".into();
        moved.observation.record = 9;
        assert_eq!(a.key, finding(&moved, later).key);
        assert_ne!(
            a.key,
            finding(&change(4445, "nc", ChangeKind::New), now).key
        );
        let version =
            |to: &str| ChangeKind::Changed(vec![("process", "sshd".to_string(), to.to_string())]);
        let changed = finding(&change(22, "dropbear", version("dropbear")), now);
        assert_ne!(
            changed.key,
            finding(&change(22, "dropbear", ChangeKind::New), now).key
        );
        assert_eq!(
            changed.key,
            finding(&change(22, "dropbear", version("dropbear")), later).key
        );
        assert_ne!(
            changed.key,
            finding(&change(22, "telnetd", version("telnetd")), now).key
        );
        assert_eq!(a.detection.entities["port"], "4444");
        assert_eq!(a.evidence["monitor"], "ports");
        assert_eq!(a.evidence["source"], "/snap/web01.ss.txt");
        assert_eq!(
            a.evidence["fields"]["summary"],
            "new open port 4444/tcp on web01 (nc)"
        );
    }
}
