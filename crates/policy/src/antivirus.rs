//! [`Antivirus`]: ClamAV `FOUND` lines and EDR-style JSON alerts, plus the
//! extraction of threat name, file and action that [`crate::annotate`]
//! also applies to Defender events matched by the Sigma pack.
//!
//! - **ClamAV** (clamd, clamscan, freshclam and on-access logs, plain or
//!   syslog): a message `PATH: THREAT FOUND`, optionally after a clamd
//!   timestamp (`Mon Nov 30 12:00:00 2026 -> `).
//! - **EDR alert** (a generic JSON shape): an event with `threat.name`
//!   and either `alert.severity` or `event.kind: alert`. Optional:
//!   `file.path`, `action` (or `event.action`), `host.name`, `user.name`,
//!   `source.ip`. `alert.severity` (`critical`, `high`, `medium`, `low`,
//!   `informational`, or 0-100) sets the level.

use detect::{Detection, Detector, Level};
use events::Event;

pub use crate::ids::{CLAMAV_ID, EDR_ID};

use crate::emit::{detection, entity, field};
use crate::fields;

/// What an antivirus record says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finding {
    /// Threat or signature name.
    pub threat: Option<String>,
    /// The file it was found in.
    pub file: Option<String>,
    /// What the product did (quarantined, removed, blocked, ...).
    pub action: Option<String>,
    /// The user involved.
    pub user: Option<String>,
}

/// Parses a ClamAV `PATH: THREAT FOUND` message.
pub fn clamav(msg: &str) -> Option<Finding> {
    let body = msg.trim_end().strip_suffix(" FOUND")?;
    let body = match body.split_once(" -> ") {
        Some((_, rest)) => rest,
        None => body,
    };
    let (path, threat) = body.rsplit_once(": ")?;
    let threat = threat.trim();
    if threat.is_empty() || threat.contains(' ') {
        return None;
    }
    Some(Finding {
        threat: Some(threat.to_string()),
        file: Some(path.trim().to_string()),
        action: None,
        user: None,
    })
}

/// Reads threat, file, action and user from a Defender event (flattened
/// or nested, names with or without spaces).
pub fn defender(event: &Event) -> Finding {
    let get = |n: &str| fields::event_data(event, n);
    Finding {
        threat: get("Threat Name"),
        file: get("Path").map(|p| {
            // Defender writes `file:_C:\...` (and several `;`-joined).
            p.split(';')
                .next()
                .unwrap_or(&p)
                .trim_start_matches("file:_")
                .to_string()
        }),
        action: get("Action Name")
            .filter(|a| !a.starts_with("%%"))
            .or_else(|| get("Execution Name").filter(|a| !a.starts_with("%%"))),
        user: get("Detection User"),
    }
}

fn edr(event: &Event) -> Option<(Finding, Level)> {
    let threat = fields::text(event, "threat.name")?;
    let severity = fields::text(event, "alert.severity");
    let is_alert =
        severity.is_some() || fields::text(event, "event.kind").as_deref() == Some("alert");
    if !is_alert {
        return None;
    }
    let level = match severity.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some(s) => match Level::parse(s) {
            Some(l) => l,
            None => match s.parse::<u32>() {
                Ok(n) if n >= 90 => Level::Critical,
                Ok(n) if n >= 70 => Level::High,
                Ok(n) if n >= 40 => Level::Medium,
                Ok(_) => Level::Low,
                Err(_) => Level::High,
            },
        },
        None => Level::High,
    };
    Some((
        Finding {
            threat: Some(threat),
            file: fields::first_text(event, &["file.path", "file.name"]),
            action: fields::first_text(event, &["action", "event.action"]),
            user: fields::first_text(event, &["user.name", "user"]),
        },
        level,
    ))
}

/// Puts a finding into a detection's fields (`threat`, `file`, `action`)
/// and the `user` entity.
pub fn apply(d: &mut Detection, f: &Finding) {
    if let Some(t) = &f.threat {
        field(d, "threat", t);
    }
    if let Some(p) = &f.file {
        field(d, "file_path", p);
    }
    if let Some(a) = &f.action {
        field(d, "action", a);
    }
    if !d.entities.contains_key("user") {
        entity(d, "user", f.user.as_deref());
    }
}

/// The antivirus detector (stateless).
#[derive(Debug, Default)]
pub struct Antivirus;

/// The events the detector wants (its [`detect::Selector`]).
fn wants(event: &Event) -> bool {
    fields::message(event).is_some_and(|m| m.trim_end().ends_with(" FOUND"))
        || event.get("threat").is_some()
        || event.get("threat.name").is_some()
}

// Each event is judged alone, so the default `save` (nothing) and
// `restore` (nothing to take back) are right.
impl Detector for Antivirus {
    fn name(&self) -> &'static str {
        "antivirus"
    }

    fn selector(&self) -> std::sync::Arc<dyn detect::Selector> {
        std::sync::Arc::new(wants)
    }

    /// Keeps nothing: any shard may look at an event, so events spread by
    /// their source.
    fn shard_key(&self, event: &Event) -> Option<u64> {
        Some(detect::shard_key(&["antivirus", &event.meta.source]))
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Detection>) {
        let host = fields::host(event);
        if let Some(f) = fields::message(event).and_then(clamav) {
            let mut d = detection(CLAMAV_ID, &event.meta, event.meta.timestamp, None);
            entity(&mut d, "host", host.as_deref());
            apply(&mut d, &f);
            out.push(d);
            return;
        }
        if let Some((f, level)) = edr(event) {
            let mut d = detection(EDR_ID, &event.meta, event.meta.timestamp, Some(level));
            entity(
                &mut d,
                "host",
                fields::text(event, "host.name").or(host).as_deref(),
            );
            entity(
                &mut d,
                "source_ip",
                fields::text(event, "source.ip").as_deref(),
            );
            apply(&mut d, &f);
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamav_lines() {
        for (line, threat, file) in [
            (
                "/home/u/eicar.com: Win.Test.EICAR_HDB-1 FOUND",
                "Win.Test.EICAR_HDB-1",
                "/home/u/eicar.com",
            ),
            (
                "Mon Nov 30 12:00:01 2026 -> /tmp/x y/a.exe: Win.Trojan.Agent-1 FOUND",
                "Win.Trojan.Agent-1",
                "/tmp/x y/a.exe",
            ),
        ] {
            let f = clamav(line).expect(line);
            assert_eq!(f.threat.as_deref(), Some(threat));
            assert_eq!(f.file.as_deref(), Some(file));
        }
        assert_eq!(
            clamav("Database updated (1 signatures) FOUND nothing"),
            None
        );
        assert_eq!(clamav("/a: OK"), None);
    }
}
