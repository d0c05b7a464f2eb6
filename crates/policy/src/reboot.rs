//! [`Reboots`]: unexpected reboots.
//!
//! - **Windows**: 6008 (EventLog: the previous shutdown was unexpected),
//!   Kernel-Power 41 (rebooted without cleanly shutting down), and User32
//!   1074 (a shutdown or restart was initiated) with its reason. A 1074
//!   whose reason code carries the planned flag (`0x80000000`) is reported
//!   at `low`; an unplanned one at `medium`.
//! - **Linux**, per host: a boot (kernel `Linux version`, systemd `running
//!   in system mode`, journald `Runtime Journal` / `Journal started`) with
//!   no clean shutdown logged since the host's previous event (syslogd or
//!   rsyslogd `exiting on signal`, `Kernel log daemon terminating`,
//!   `shutdown`/`reboot` messages, systemd `Reached target Shutdown`,
//!   runlevel 0 or 6, ...). Only lines of the programs that log these
//!   (kernel, syslogd, systemd, init, ...) are followed; a host with no
//!   such line before the boot is not judged: nothing is known about what
//!   came before. Boot lines within
//!   five minutes of a boot belong to that boot.
//!
//! A reboot inside a configured maintenance window (UTC) is reported at
//! `low`, or not at all with `in_maintenance = "suppress"`.
//!
//! Saved state ([`Detector::save`]) holds each Linux host's last event,
//! the last event before its current burst, its last clean shutdown and
//! its last boot. Windows events leave no state. Maintenance windows only
//! change what is reported, not the state, so state saved under other
//! windows is taken back.

use detect::{Detection, Detector, Level};
use events::{Event, Timestamp};
use serde::{Deserialize, Serialize};
use time::Weekday;

pub use crate::ids::{LINUX_ID, WIN_41_ID, WIN_1074_ID, WIN_6008_ID};

use crate::config::{MaintenanceAction, PolicyError, RebootConfig, StateConfig};
use crate::emit::{self, detection, entity, field};
use crate::fields;
use crate::keyed::{KeyedState, SavedKeys, hash_key};
use crate::saved::{self, RestoreError, Stamp};

const BOOT_GRACE: i64 = 300;

/// Programs whose lines the detector follows: they log boots and clean
/// shutdowns, and their other lines tell that a host was up before a boot.
const LIFECYCLE_PROGRAMS: &[&str] = &[
    "kernel",
    "syslogd",
    "rsyslogd",
    "syslog",
    "klogd",
    "systemd",
    "systemd-journald",
    "systemd-logind",
    "shutdown",
    "init",
];

/// A weekly (or daily) time range in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// The day, or `None` for every day.
    pub day: Option<Weekday>,
    /// Start, minutes after midnight.
    pub start: u32,
    /// End, minutes after midnight (may be below `start`: crosses midnight).
    pub end: u32,
}

impl MaintenanceWindow {
    /// Parses `Sun 02:00-04:00` or `daily 23:30-00:30`.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError::Window(text.to_string());
        let (day, range) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(bad)?;
        let day = match day.to_ascii_lowercase().get(..3).ok_or_else(bad)? {
            "dai" | "eve" => None,
            "mon" => Some(Weekday::Monday),
            "tue" => Some(Weekday::Tuesday),
            "wed" => Some(Weekday::Wednesday),
            "thu" => Some(Weekday::Thursday),
            "fri" => Some(Weekday::Friday),
            "sat" => Some(Weekday::Saturday),
            "sun" => Some(Weekday::Sunday),
            _ => return Err(bad()),
        };
        let (a, b) = range.trim().split_once('-').ok_or_else(bad)?;
        let hm = |s: &str| -> Result<u32, PolicyError> {
            let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
            let h: u32 = h.parse().map_err(|_| bad())?;
            let m: u32 = m.parse().map_err(|_| bad())?;
            if h > 24 || m > 59 {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        Ok(Self {
            day,
            start: hm(a)?,
            end: hm(b)?,
        })
    }

    /// True when `ts` (taken as UTC) falls in the window.
    pub fn contains(&self, ts: Timestamp) -> bool {
        let t = ts.to_offset(time::UtcOffset::UTC);
        let minute = u32::from(t.hour()) * 60 + u32::from(t.minute());
        let day = t.weekday();
        if self.start <= self.end {
            self.day.is_none_or(|d| d == day) && minute >= self.start && minute < self.end
        } else {
            // Crosses midnight: the late part is on `day`, the early part
            // on the day after.
            (self.day.is_none_or(|d| d == day) && minute >= self.start)
                || (self.day.is_none_or(|d| d.next() == day) && minute < self.end)
        }
    }
}

/// "No time" in a [`HostState`] field (an event time is never this), so
/// optional times take 8 bytes rather than 16.
const NONE: i64 = i64::MIN;

#[derive(Debug, Serialize, Deserialize)]
struct HostState {
    last_event: i64,
    /// The last event before the current burst (events less than
    /// `BOOT_GRACE` apart), so a boot's own first lines are not "before".
    before_burst: i64,
    /// The last clean shutdown since the last boot, or [`NONE`].
    clean_shutdown: i64,
    /// The last boot, or [`NONE`].
    last_boot: i64,
}

impl Default for HostState {
    fn default() -> Self {
        Self {
            last_event: 0,
            before_burst: 0,
            clean_shutdown: NONE,
            last_boot: NONE,
        }
    }
}

/// The reboot detector.
#[derive(Debug)]
pub struct Reboots {
    windows: Vec<MaintenanceWindow>,
    action: MaintenanceAction,
    hosts: KeyedState<u64, HostState>,
    /// The settings that shape the state, as saved state records them.
    fingerprint: String,
}

/// The version of the saved state's format.
const STATE_VERSION: u32 = 1;

/// Everything the detector learned from events, as saved.
#[derive(Serialize)]
struct SavedRef<'a> {
    hosts: &'a KeyedState<u64, HostState>,
}

/// [`SavedRef`], read back.
#[derive(Deserialize)]
struct Saved {
    hosts: SavedKeys<u64, HostState>,
}

impl Reboots {
    /// A detector; fails on a maintenance window that does not parse.
    pub fn new(config: &RebootConfig, state: &StateConfig) -> Result<Self, PolicyError> {
        let windows = config
            .maintenance
            .iter()
            .map(|w| MaintenanceWindow::parse(w))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            windows,
            action: config.in_maintenance,
            // Hosts can be quiet for weeks between reboots.
            hosts: KeyedState::new(state.idle_ttl.0.max(90 * 86_400), state.max_keys),
            // Only the state bounds shape the host table.
            fingerprint: saved::fingerprint(state),
        })
    }

    fn stamp(&self) -> Stamp<'_> {
        Stamp {
            detector: self.name(),
            version: STATE_VERSION,
            config: &self.fingerprint,
            key_hash: Some(crate::keyed::hash_probe()),
        }
    }

    /// Decodes and checks everything before changing anything.
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let saved: Saved = saved::decode(&self.stamp(), bytes)?;
        self.hosts = self.hosts.restored(saved.hosts)?;
        Ok(())
    }

    /// Hosts held.
    pub fn keys(&self) -> usize {
        self.hosts.len()
    }

    /// Applies maintenance windows; `None` means suppressed.
    fn finalise(&self, mut d: Detection, ts: Timestamp) -> Option<Detection> {
        if self.windows.iter().any(|w| w.contains(ts)) {
            match self.action {
                MaintenanceAction::Suppress => return None,
                MaintenanceAction::Low => {
                    d.level = d.level.min(Level::Low);
                    field(&mut d, "maintenance_window", "true");
                }
            }
        }
        Some(d)
    }

    fn windows_event(&self, event: &Event, id: i64, ts: Timestamp) -> Option<Detection> {
        let provider = fields::provider(event)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let host = fields::host(event);
        let (rule, level) = match id {
            6008 if provider.is_empty() || provider == "eventlog" => (WIN_6008_ID, None),
            41 if provider.is_empty() || provider.contains("kernel-power") => (WIN_41_ID, None),
            1074 if provider.is_empty() || provider.contains("user32") => {
                let code = fields::event_data(event, "param4").unwrap_or_default();
                let planned = u64::from_str_radix(code.trim_start_matches("0x"), 16)
                    .is_ok_and(|c| c & 0x8000_0000 != 0);
                (
                    WIN_1074_ID,
                    Some(if planned { Level::Low } else { Level::Medium }),
                )
            }
            _ => return None,
        };
        let mut d = detection(rule, &event.meta, Some(ts), level);
        entity(&mut d, "host", host.as_deref());
        if id == 1074 {
            let get = |n: &str| fields::event_data(event, n);
            if let Some(p) = get("param1") {
                field(&mut d, "process", p);
            }
            if let Some(r) = get("param3") {
                field(&mut d, "reason", r);
            }
            if let Some(c) = get("param4") {
                field(&mut d, "reason_code", c);
            }
            if let Some(t) = get("param5") {
                field(&mut d, "shutdown_type", t);
            }
            if let Some(c) = get("param6") {
                field(&mut d, "comment", c);
            }
            if let Some(u) = get("param7") {
                entity(&mut d, "user", Some(&u));
            }
            let planned = d.level == Level::Low;
            field(&mut d, "planned", planned);
        }
        self.finalise(d, ts)
    }
}

/// The kind of a Linux lifecycle line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// The host is booting.
    Boot,
    /// The host is shutting down cleanly.
    Shutdown,
}

/// Classifies a syslog message (with its program) as a boot or a clean
/// shutdown marker.
pub fn lifecycle(program: &str, msg: &str) -> Option<Lifecycle> {
    let p = program.to_ascii_lowercase();
    if p == "kernel" && msg.starts_with("Linux version ") {
        return Some(Lifecycle::Boot);
    }
    if p == "systemd" && msg.contains("running in system mode") {
        return Some(Lifecycle::Boot);
    }
    if p.starts_with("systemd-journal")
        && (msg.starts_with("Runtime Journal") || msg.starts_with("Journal started"))
    {
        return Some(Lifecycle::Boot);
    }
    let shutdown = [
        "exiting on signal 15",
        "Kernel log daemon terminating",
        "Reached target Shutdown",
        "Reached target System Shutdown",
        "Reached target Reboot",
        "Reached target Power-Off",
        "System is going down",
        "system is going down",
        "shutting down for system",
        "Switching to runlevel: 0",
        "Switching to runlevel: 6",
        "reboot: Restarting system",
        "reboot: Power down",
        "Journal stopped",
        "Stopping System Logging Service",
    ];
    if shutdown.iter().any(|s| msg.contains(s))
        || (p == "shutdown" && msg.contains("shutting down"))
        || (p == "init" && msg.contains("Switching to runlevel: 0"))
    {
        return Some(Lifecycle::Shutdown);
    }
    None
}

/// The events the detector wants (its [`detect::Selector`]).
fn wants(event: &Event) -> bool {
    if event.meta.timestamp.is_none() {
        return false;
    }
    if let Some(id) = fields::event_id(event) {
        return matches!(id, 6008 | 41 | 1074);
    }
    let Some(msg) = fields::message(event) else {
        return false;
    };
    let program = fields::program(event)
        .or_else(|| msg.split_once(": ").map(|(tag, _)| tag))
        .unwrap_or("");
    let program = program.split(['[', ' ']).next().unwrap_or("");
    LIFECYCLE_PROGRAMS.contains(&program) || lifecycle(program, msg).is_some()
}

impl Detector for Reboots {
    fn name(&self) -> &'static str {
        "reboot"
    }

    fn selector(&self) -> std::sync::Arc<dyn detect::Selector> {
        std::sync::Arc::new(wants)
    }

    /// A host's state is its own: the key is the host (Windows events,
    /// which keep no state, go with their host too).
    fn shard_key(&self, event: &Event) -> Option<u64> {
        fields::host(event).map(|h| detect::shard_key(&["reboot", &h]))
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Detection>) {
        let Some(ts) = event.meta.timestamp else {
            return;
        };
        if let Some(id) = fields::event_id(event) {
            if let Some(d) = self.windows_event(event, id, ts) {
                out.push(d);
            }
            return;
        }
        let Some(host) = fields::host(event) else {
            return;
        };
        let now = emit::secs(ts);
        let marker = fields::message(event).and_then(|m| match fields::program(event) {
            Some(p) => lifecycle(p, m),
            None => {
                let (tag, rest) = m.split_once(": ")?;
                lifecycle(tag.split('[').next().unwrap_or(tag), rest)
            }
        });
        let key = hash_key(&[&host]);
        let known = self.hosts.get(&key).is_some();
        let state = self.hosts.entry(key, now, HostState::default);
        match marker {
            Some(Lifecycle::Shutdown) => state.clean_shutdown = now,
            Some(Lifecycle::Boot) => {
                let same_boot = state.last_boot != NONE && now - state.last_boot <= BOOT_GRACE;
                let previous = if now - state.last_event <= BOOT_GRACE {
                    state.before_burst
                } else {
                    state.last_event
                };
                let clean = std::mem::replace(&mut state.clean_shutdown, NONE) != NONE;
                state.last_boot = now;
                if now - state.last_event > BOOT_GRACE {
                    state.before_burst = state.last_event;
                }
                state.last_event = now;
                if same_boot || !known || clean {
                    return;
                }
                let mut d = detection(LINUX_ID, &event.meta, Some(ts), None);
                entity(&mut d, "host", Some(&host));
                field(&mut d, "last_event_before_boot", emit::rfc3339(previous));
                field(&mut d, "down_seconds", now - previous);
                if let Some(d) = self.finalise(d, ts) {
                    out.push(d);
                }
                return;
            }
            None => {}
        }
        if now - state.last_event > BOOT_GRACE {
            state.before_burst = state.last_event;
        }
        state.last_event = now;
    }

    fn save(&self) -> Option<Vec<u8>> {
        saved::encode(&self.stamp(), SavedRef { hosts: &self.hosts })
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.restore_state(state).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-host state, in bytes, and its slot in the keyed table.
    #[test]
    fn per_host_state_is_compact() {
        assert_eq!(std::mem::size_of::<HostState>(), 32);
        assert_eq!(KeyedState::<u64, HostState>::SLOT_BYTES, 48);
    }
}
