//! How Sigma rules see an event: its views and field renames.
//!
//! Which logsources an event belongs to is decided in one place,
//! [`events::taxonomy`] (tables in `docs/logsource-mapping.md`). This module
//! turns that decision, a [`Route`], into the views a rule's logsource is
//! compared with: each service (or none) crossed with no category and each
//! category. Where a Security-log event stands in for a Sysmon one (4688 for
//! `process_creation`, ...), the view carries a rename table that maps the
//! Sigma (Sysmon) field name to the event's own name, consulted at lookup
//! time (no per-event copy).
//!
//! Every value is `&'static str`: building views never allocates.

use events::taxonomy::Route;

/// A field rename table: `(sigma name, event name)`.
pub type Renames = &'static [(&'static str, &'static str)];

/// One logsource view of an event: what a rule's logsource is compared
/// with, plus the field renames rules of this view see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// Sigma product.
    pub product: Option<&'static str>,
    /// Sigma service.
    pub service: Option<&'static str>,
    /// Sigma category.
    pub category: Option<&'static str>,
    /// Renames applied when a rule of this category reads the event.
    pub renames: Renames,
}

/// Security 4688 as `process_creation` (pySigma's Windows audit mapping).
pub const RENAMES_4688: Renames = &[
    ("Image", "NewProcessName"),
    ("ParentImage", "ParentProcessName"),
    ("ProcessId", "NewProcessId"),
    ("ParentProcessId", "ProcessId"),
    ("User", "SubjectUserName"),
    ("LogonId", "SubjectLogonId"),
];

/// Security 5156 as `network_connection`.
pub const RENAMES_5156: Renames = &[
    ("Image", "Application"),
    ("ProcessId", "ProcessID"),
    ("SourceIp", "SourceAddress"),
    ("DestinationIp", "DestAddress"),
    ("DestinationPort", "DestPort"),
];

/// Security 4663 as `file_access`.
pub const RENAMES_4663: Renames = &[("Image", "ProcessName"), ("TargetFilename", "ObjectName")];

/// Defender detections as `antivirus` (the category's generic fields).
pub const RENAMES_DEFENDER_AV: Renames = &[("Signature", "ThreatName"), ("Filename", "Path")];

/// The renames rules of `category` need to read an event of `service`
/// (empty where the event has the Sigma names already).
pub fn renames(service: Option<&str>, category: &str) -> Renames {
    match (service, category) {
        (Some("security"), "process_creation") => RENAMES_4688,
        (Some("security"), "network_connection") => RENAMES_5156,
        (Some("security"), "file_access") => RENAMES_4663,
        (Some("windefend"), "antivirus") => RENAMES_DEFENDER_AV,
        _ => &[],
    }
}

/// Calls `f` for every view of `route`: each service (or none) crossed
/// with no category (or the parser's) and each category.
pub fn for_each_view(route: &Route, mut f: impl FnMut(View)) {
    let mut list: [Option<&'static str>; 2] = [None; 2];
    let mut n = 0;
    for s in route.services.iter().flatten().copied() {
        list[n] = Some(s);
        n += 1;
    }
    let services: &[Option<&'static str>] = if n == 0 { &[None] } else { &list[..n] };
    for &service in services {
        f(View {
            product: route.product,
            service,
            category: route.parser_category,
            renames: &[],
        });
        for &category in route.categories {
            f(View {
                product: route.product,
                service,
                category: Some(category),
                renames: renames(service, category),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use events::taxonomy::{WINDOWS, route};
    use events::{Event, LogSource, Meta, Value};
    use serde_json::json;

    use super::*;

    /// `(product, service, category, number of renames)` of one view.
    type ViewSummary = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        usize,
    );

    fn views(ls: LogSource, fields: Value) -> Vec<ViewSummary> {
        let Value::Object(map) = fields else {
            panic!("object")
        };
        let mut meta = Meta::new(Arc::from("t"), 1);
        meta.logsource = ls;
        let mut out = Vec::new();
        for_each_view(&route(&Event::new(meta, map)), |v| {
            out.push((v.product, v.service, v.category, v.renames.len()))
        });
        out
    }

    /// Data-driven: (parse-time logsource, fields, expected views), the
    /// rename counts from pySigma's Windows audit mapping.
    #[test]
    fn views_and_renames() {
        let cases: Vec<(LogSource, Value, Vec<ViewSummary>)> = vec![
            (
                WINDOWS,
                json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 13}),
                vec![
                    (Some("windows"), Some("sysmon"), None, 0),
                    (Some("windows"), Some("sysmon"), Some("registry_set"), 0),
                    (Some("windows"), Some("sysmon"), Some("registry_event"), 0),
                ],
            ),
            (
                WINDOWS,
                json!({"Channel": "Security", "EventID": 4688}),
                vec![
                    (Some("windows"), Some("security"), None, 0),
                    (
                        Some("windows"),
                        Some("security"),
                        Some("process_creation"),
                        6,
                    ),
                ],
            ),
            (
                WINDOWS,
                json!({"Channel": "Security", "EventID": 5156}),
                vec![
                    (Some("windows"), Some("security"), None, 0),
                    (
                        Some("windows"),
                        Some("security"),
                        Some("network_connection"),
                        5,
                    ),
                ],
            ),
            (
                WINDOWS,
                json!({"Channel": "Microsoft-Windows-Windows Defender/Operational", "EventID": 1116}),
                vec![
                    (Some("windows"), Some("windefend"), None, 0),
                    (Some("windows"), Some("windefend"), Some("antivirus"), 2),
                ],
            ),
            (
                LogSource::service("linux", "auth"),
                json!({"program": "sshd"}),
                vec![
                    (Some("linux"), Some("auth"), None, 0),
                    (Some("linux"), Some("sshd"), None, 0),
                ],
            ),
            (
                events::taxonomy::WEBSERVER,
                json!({"cs-method": "GET"}),
                vec![(None, None, Some("webserver"), 0)],
            ),
            (
                LogSource::default(),
                json!({"message": "hello"}),
                vec![(None, None, None, 0)],
            ),
        ];
        for (ls, fields, want) in cases {
            assert_eq!(views(ls, fields.clone()), want, "fields {fields}");
        }
    }
}
