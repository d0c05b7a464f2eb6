//! nmap XML (`nmap -oX`) to open-port observations.
//!
//! Reads `<host>` elements whose `<status state>` is `up` (a host without
//! a status, as in some old files, counts as up), takes the host's IPv4 or
//! IPv6 address as the host key (the MAC address only when there is no IP)
//! and its first `<hostname>` for display, and reports every `<port>` whose
//! `<state state>` is exactly `open`. `open|filtered`, `filtered` and
//! `closed` are not open ports. `<service>` gives name, product and version
//! (`-sV`); OS detection (`-O`), scripts (`-A`, `-sC`), `<os>/<portused>`
//! and run statistics are ignored.
//!
//! A file that is not XML, has no `<nmaprun>` root, or stops before
//! `</nmaprun>` (an interrupted scan) is an error for the whole file: a
//! partial scan would hide ports, and nmap itself writes the closing tag
//! on every finished run, including runs where every host was down.

use events::{SourceId, Timestamp};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::{Observation, Parsed, PortKey, Protocol, Service};

/// Why an nmap file is unusable as a whole.
#[derive(Debug, thiserror::Error)]
pub enum NmapError {
    /// Not well-formed XML.
    #[error("malformed XML at line {line}")]
    Malformed {
        /// The 1-based line of the error.
        line: u64,
        /// The XML reader's error.
        source: quick_xml::Error,
    },
    /// No root element at all.
    #[error("not an nmap XML file: no <nmaprun> element")]
    NoRoot,
    /// Another root element.
    #[error("not an nmap XML file: the root element is <{0}>, not <nmaprun>")]
    OtherRoot(String),
    /// The scan stopped before `</nmaprun>`.
    #[error("truncated nmap XML: <nmaprun> is never closed (interrupted scan?)")]
    Truncated,
}

/// Parses one nmap XML document. `Err` means the whole file is unusable.
pub fn parse(data: &[u8], file: &SourceId) -> Result<Parsed, NmapError> {
    let mut reader = quick_xml::Reader::from_reader(data);
    let mut lines = LineCounter::default();
    let mut out = Parsed::default();
    let mut scan_start: Option<Timestamp> = None;
    let mut root_open = false;
    let mut root_closed = false;
    let mut host: Option<HostCtx> = None;
    let mut port: Option<PortCtx> = None;

    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|source| NmapError::Malformed {
            line: lines.line_at(data, reader.error_position()),
            source,
        })?;
        match event {
            Event::Eof => break,
            Event::Start(e) if !root_open => {
                scan_start = check_root(&e)?;
                root_open = true;
            }
            Event::Empty(e) if !root_open => {
                scan_start = check_root(&e)?;
                root_open = true;
                root_closed = true;
            }
            Event::Start(e) => {
                let line = lines.line_at(data, position);
                open_element(&e, line, &mut host, &mut port);
            }
            Event::Empty(e) => {
                let line = lines.line_at(data, position);
                open_element(&e, line, &mut host, &mut port);
                close_element(
                    e.local_name().as_ref(),
                    &mut host,
                    &mut port,
                    file,
                    scan_start,
                    &mut out,
                );
            }
            Event::End(e) => {
                if e.local_name().as_ref() == "nmaprun" {
                    root_closed = true;
                }
                close_element(
                    e.local_name().as_ref(),
                    &mut host,
                    &mut port,
                    file,
                    scan_start,
                    &mut out,
                );
            }
            _ => {}
        }
    }
    if !root_open {
        return Err(NmapError::NoRoot);
    }
    if !root_closed {
        return Err(NmapError::Truncated);
    }
    Ok(out)
}

/// Checks that the root element is `<nmaprun>` and returns the scan start.
fn check_root(e: &BytesStart<'_>) -> Result<Option<Timestamp>, NmapError> {
    if e.local_name().as_ref() != "nmaprun" {
        return Err(NmapError::OtherRoot(e.local_name().as_ref().to_owned()));
    }
    Ok(attr(e, "start")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_unix_timestamp(s).ok()))
}

#[derive(Default)]
struct HostCtx {
    up: bool,
    ip: Option<String>,
    mac: Option<String>,
    hostname: Option<String>,
    ports: Vec<PortCtx>,
}

#[derive(Default)]
struct PortCtx {
    protocol: Option<Protocol>,
    port: Option<u16>,
    open: bool,
    service: Service,
    line: u64,
}

fn open_element(
    e: &BytesStart<'_>,
    line: u64,
    host: &mut Option<HostCtx>,
    port: &mut Option<PortCtx>,
) {
    match e.local_name().as_ref() {
        "host" => {
            *host = Some(HostCtx {
                up: true,
                ..HostCtx::default()
            });
        }
        "status" => {
            if let Some(h) = host.as_mut() {
                h.up = attr(e, "state").as_deref() == Some("up");
            }
        }
        "address" => {
            if let Some(h) = host.as_mut()
                && let Some(addr) = attr(e, "addr")
            {
                match attr(e, "addrtype").as_deref() {
                    Some("mac") => h.mac = h.mac.take().or(Some(addr)),
                    _ => h.ip = h.ip.take().or(Some(addr)),
                }
            }
        }
        "hostname" => {
            if let Some(h) = host.as_mut()
                && h.hostname.is_none()
            {
                h.hostname = attr(e, "name");
            }
        }
        "port" if host.is_some() => {
            *port = Some(PortCtx {
                protocol: attr(e, "protocol").and_then(|p| p.parse().ok()),
                port: attr(e, "portid").and_then(|p| p.parse().ok()),
                line,
                ..PortCtx::default()
            });
        }
        "state" => {
            if let Some(p) = port.as_mut() {
                p.open = attr(e, "state").as_deref() == Some("open");
            }
        }
        "service" => {
            if let Some(p) = port.as_mut() {
                p.service = Service {
                    name: attr(e, "name"),
                    product: attr(e, "product"),
                    version: attr(e, "version"),
                    process: None,
                };
            }
        }
        _ => {}
    }
}

fn close_element(
    name: &str,
    host: &mut Option<HostCtx>,
    port: &mut Option<PortCtx>,
    file: &SourceId,
    scan_start: Option<Timestamp>,
    out: &mut Parsed,
) {
    match name {
        "port" => {
            if let (Some(h), Some(p)) = (host.as_mut(), port.take()) {
                h.ports.push(p);
            }
        }
        "host" => {
            let Some(h) = host.take() else { return };
            if !h.up {
                return;
            }
            let Some(address) = h.ip.or(h.mac) else {
                if !h.ports.is_empty() {
                    out.problems
                        .push((None, "a <host> with ports has no <address>".into()));
                }
                return;
            };
            for p in h.ports {
                if !p.open {
                    continue;
                }
                let (Some(protocol), Some(number)) = (p.protocol, p.port) else {
                    out.problems.push((
                        Some(p.line),
                        "open <port> without a known protocol (tcp, udp, sctp) or a valid portid"
                            .into(),
                    ));
                    continue;
                };
                out.observations.push(Observation {
                    key: PortKey {
                        host: address.clone(),
                        protocol,
                        port: number,
                    },
                    service: p.service,
                    hostname: h.hostname.clone(),
                    addresses: Default::default(),
                    file: file.clone(),
                    record: p.line,
                    seen_at: scan_start,
                });
            }
        }
        _ => {}
    }
}

/// An attribute's value, unescaped; `None` when absent, empty or not
/// decodable.
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .or_else(|_| Ok::<_, ()>(a.value.to_string()))
                .ok()
        })
        .filter(|v| !v.is_empty())
}

/// Turns byte positions into 1-based line numbers, scanning forward only.
#[derive(Default)]
struct LineCounter {
    pos: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, data: &[u8], position: u64) -> u64 {
        let target = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(data.len());
        if target < self.pos {
            self.pos = 0;
            self.line = 0;
        }
        self.line += data[self.pos..target]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.pos = target;
        // The element starts after any whitespace the reader skipped.
        let skipped = data[target..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.line + 1 + skipped
    }
}
