//! New open network ports: snapshots of listening ports and their
//! comparison with an approved baseline.
//!
//! A [`Snapshot`] maps `(host, protocol, port)` ([`PortKey`]) to what was
//! seen there ([`Observation`]: service name, product, version, process,
//! bind addresses). Parsers turn one input file into observations:
//! [`nmap`] (XML from `nmap -oX`), [`ss`] (`ss -ltnp` / `ss -lunp`),
//! [`netstat`] (`netstat -ltnp` / `-lunp`) and [`osquery`]
//! (`listening_ports` query results and differential logs). [`read`] does
//! the file IO and format detection. [`baseline`] is the pure decision:
//! which observations are new or changed against the approved baseline,
//! and the detections they become. [`check`] is one check against the
//! baseline state file (the CLI's `ports check`, and each pass of the
//! server's schedule); [`folder`] tracks the snapshot files the server
//! looks at on every pass ([`config`], the `[ports]` table).
//!
//! Parsers are pure (bytes in, observations and located problems out) and
//! never panic on bad input.

pub mod baseline;
pub mod check;
pub mod config;
pub mod folder;
pub mod netstat;
pub mod nmap;
pub mod osquery;
pub mod read;
pub mod ss;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use events::{SourceId, Timestamp};
use serde::{Deserialize, Serialize};

/// A transport protocol of a listening port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "tcp6" | "6" => Ok(Protocol::Tcp),
            "udp" | "udp6" | "17" => Ok(Protocol::Udp),
            "sctp" | "132" => Ok(Protocol::Sctp),
            other => Err(format!(
                "unknown protocol {other:?} (expected tcp, udp or sctp)"
            )),
        }
    }
}

/// What identifies a port in the baseline: host, protocol and number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortKey {
    /// The host: the IP address nmap scanned, the osquery host identifier,
    /// or the host name given for `ss`/`netstat` snapshots.
    pub host: String,
    /// The transport protocol.
    pub protocol: Protocol,
    /// The port number.
    pub port: u16,
}

impl fmt::Display for PortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.host, self.protocol, self.port)
    }
}

/// What runs on a port. Every part is optional: `ss` knows the process but
/// not the product, nmap without `-sV` knows only a service name guessed
/// from the port number. Two services are compared only on the parts both
/// of them know, so mixing tools does not raise false changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Service {
    /// The service name (nmap `service/@name`, for example `ssh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The product (nmap `-sV`, for example `OpenSSH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The product version (nmap `-sV`, for example `4.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The listening process (`ss -p`, `netstat -p`, osquery `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

impl Service {
    /// The parts that differ, as `(part, before, after)`, comparing only
    /// parts that both sides know.
    pub fn changes_from(&self, before: &Service) -> Vec<(&'static str, String, String)> {
        let mut out = Vec::new();
        let parts = [
            ("service", &before.name, &self.name),
            ("product", &before.product, &self.product),
            ("version", &before.version, &self.version),
            ("process", &before.process, &self.process),
        ];
        for (part, old, new) in parts {
            if let (Some(old), Some(new)) = (old, new)
                && old != new
            {
                out.push((part, old.clone(), new.clone()));
            }
        }
        out
    }

    /// A short human description (`ssh OpenSSH 4.3`, `sshd`,
    /// `ssh (sshd)`), or `-` when nothing is known.
    pub fn describe(&self) -> String {
        let parts: Vec<&str> = [&self.name, &self.product, &self.version]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let mut text = parts.join(" ");
        if let Some(process) = &self.process {
            if text.is_empty() {
                text.push_str(process);
            } else {
                text.push_str(&format!(" ({process})"));
            }
        }
        if text.is_empty() { "-".into() } else { text }
    }

    /// Fills parts this service lacks from `other`.
    pub fn fill_from(&mut self, other: &Service) {
        for (mine, theirs) in [
            (&mut self.name, &other.name),
            (&mut self.product, &other.product),
            (&mut self.version, &other.version),
            (&mut self.process, &other.process),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }
}

/// One open (listening) port seen in a snapshot file.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Host, protocol and port.
    pub key: PortKey,
    /// What runs there.
    pub service: Service,
    /// The host name, when the input gives one besides the address.
    pub hostname: Option<String>,
    /// Local addresses the port is bound to (`ss`, `netstat`, osquery).
    pub addresses: BTreeSet<String>,
    /// The file the observation came from.
    pub file: SourceId,
    /// The 1-based line (nmap, `ss`, `netstat`, osquery logs) or array
    /// element (osquery results) of the observation.
    pub record: u64,
    /// When the scan or query ran, if the input says so.
    pub seen_at: Option<Timestamp>,
}

impl Observation {
    /// A listening socket from a local socket table (`ss`, `netstat`): one
    /// bound address and, when the table shows it, the owning process.
    pub(crate) fn listening(
        key: PortKey,
        address: String,
        process: Option<String>,
        file: SourceId,
        record: u64,
    ) -> Self {
        Self {
            key,
            service: Service {
                process,
                ..Service::default()
            },
            hostname: None,
            addresses: [address].into_iter().collect(),
            file,
            record,
            seen_at: None,
        }
    }
}

/// All open ports seen in one or more files, keyed by host, protocol and
/// port. When two files report the same key, the later file wins (and
/// fills in the parts it does not know from the earlier one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The observations.
    pub ports: BTreeMap<PortKey, Observation>,
}

impl Snapshot {
    /// Adds an observation (see the type's doc for duplicates).
    pub fn insert(&mut self, mut observation: Observation) {
        if let Some(previous) = self.ports.get(&observation.key) {
            observation.service.fill_from(&previous.service);
            observation
                .addresses
                .extend(previous.addresses.iter().cloned());
            if observation.hostname.is_none() {
                observation.hostname.clone_from(&previous.hostname);
            }
        }
        self.ports.insert(observation.key.clone(), observation);
    }

    /// Number of open ports.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// True when no port is open.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }
}

/// A problem found while reading one input: the file (and line, when
/// known) and why. The rest of the input is still used unless the problem
/// says the whole file was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The input file.
    pub file: String,
    /// The 1-based line or record, when the problem has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What is wrong.
    pub reason: String,
    /// True when the whole file was skipped.
    pub skipped_file: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.reason)?,
            None => write!(f, "{}: {}", self.file, self.reason)?,
        }
        if self.skipped_file {
            f.write_str(" (file skipped)")?;
        }
        Ok(())
    }
}

/// What a parser returns: the observations it could read, and located
/// problems with the rest.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Open ports read.
    pub observations: Vec<Observation>,
    /// Lines or records that could not be read.
    pub problems: Vec<(Option<u64>, String)>,
}

/// Splits `addr:port` (with `[v6]:port`, `*:port`, `addr%iface:port`) into
/// address and port.
pub(crate) fn split_addr_port(s: &str) -> Option<(String, u16)> {
    let (addr, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    Some((addr.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_compare_only_known_parts() {
        let nmap = Service {
            name: Some("ssh".into()),
            product: Some("OpenSSH".into()),
            version: Some("4.3".into()),
            process: None,
        };
        let ss = Service {
            process: Some("sshd".into()),
            ..Service::default()
        };
        assert!(ss.changes_from(&nmap).is_empty());
        let newer = Service {
            version: Some("9.6".into()),
            ..nmap.clone()
        };
        assert_eq!(
            newer.changes_from(&nmap),
            vec![("version", "4.3".to_string(), "9.6".to_string())]
        );
        assert_eq!(nmap.describe(), "ssh OpenSSH 4.3");
        assert_eq!(ss.describe(), "sshd");
    }

    #[test]
    fn address_and_port_split() {
        assert_eq!(split_addr_port("0.0.0.0:22"), Some(("0.0.0.0".into(), 22)));
        assert_eq!(split_addr_port("[::]:443"), Some(("::".into(), 443)));
        assert_eq!(split_addr_port(":::22"), Some(("::".into(), 22)));
        assert_eq!(split_addr_port("*:80"), Some(("*".into(), 80)));
        assert_eq!(
            split_addr_port("127.0.0.53%lo:53"),
            Some(("127.0.0.53%lo".into(), 53))
        );
        assert_eq!(split_addr_port("0.0.0.0:*"), None);
        assert_eq!(split_addr_port("nonsense"), None);
    }
}
