//! Logsource routing: which Sigma logsources an event belongs to.
//!
//! The full mapping is documented in one table in
//! `docs/logsource-mapping.md`. In short:
//!
//! - Windows events are routed by `Channel` to a service
//!   ([`WINDOWS_SERVICES`]) and by channel + `EventID` to categories
//!   ([`windows_categories`]). Where a Security-log event stands in for a
//!   Sysmon one (4688 for `process_creation`, ...), the category carries a
//!   rename table that maps the Sigma (Sysmon) field name to the event's
//!   own name, consulted at lookup time (no per-event copy).
//! - Linux syslog events keep the service the parser set (`auth`,
//!   `syslog`) and gain the service of their `program` (`sshd`, `sudo`,
//!   `cron`, ...). auditd `EXECVE` records are `process_creation`.
//! - Everything else keeps the logsource the parser set.
//!
//! Every value is `&'static str`: routing never allocates.

use events::{Event, LogSource, Value};

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

/// A category an event belongs to, with the renames its rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// Sigma category name.
    pub name: &'static str,
    /// Field renames for this category (empty for native Sysmon fields).
    pub renames: Renames,
}

/// Where an event belongs: one product, up to two services, and any number
/// of categories (from static tables).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Route {
    /// Sigma product.
    pub product: Option<&'static str>,
    /// Sigma services (a sshd line in `auth.log` is both `auth` and `sshd`).
    pub services: [Option<&'static str>; 2],
    /// Categories, with their renames.
    pub categories: &'static [Category],
    /// A category the parser set (cloud, web, ...), without renames.
    pub parser_category: Option<&'static str>,
}

impl Route {
    /// The logsource to record on the event (first service and category).
    pub fn logsource(&self) -> LogSource {
        LogSource {
            product: self.product,
            service: self.services[0],
            category: self
                .categories
                .first()
                .map(|c| c.name)
                .or(self.parser_category),
        }
    }

    /// Calls `f` for every view: each service (or none) crossed with no
    /// category and each category.
    pub fn for_each_view(&self, mut f: impl FnMut(View)) {
        let mut list: [Option<&'static str>; 2] = [None; 2];
        let mut n = 0;
        for s in self.services.iter().flatten().copied() {
            list[n] = Some(s);
            n += 1;
        }
        let services: &[Option<&'static str>] = if n == 0 { &[None] } else { &list[..n] };
        for &service in services {
            f(View {
                product: self.product,
                service,
                category: self.parser_category,
                renames: &[],
            });
            for c in self.categories {
                f(View {
                    product: self.product,
                    service,
                    category: Some(c.name),
                    renames: c.renames,
                });
            }
        }
    }
}

/// Windows channels and their Sigma services (taxonomy appendix).
/// Compared case-insensitively.
pub const WINDOWS_SERVICES: &[(&str, &str)] = &[
    ("Security", "security"),
    ("Microsoft-Windows-Sysmon/Operational", "sysmon"),
    ("System", "system"),
    ("Application", "application"),
    ("Microsoft-Windows-PowerShell/Operational", "powershell"),
    ("PowerShellCore/Operational", "powershell"),
    ("Windows PowerShell", "powershell-classic"),
    (
        "Microsoft-Windows-Windows Defender/Operational",
        "windefend",
    ),
    (
        "Microsoft-Windows-TaskScheduler/Operational",
        "taskscheduler",
    ),
    ("Microsoft-Windows-WMI-Activity/Operational", "wmi"),
    ("DNS Server", "dns-server"),
    (
        "Microsoft-Windows-DNS-Server/Analytical",
        "dns-server-analytic",
    ),
    ("Microsoft-Windows-DNS-Server/Audit", "dns-server-audit"),
    (
        "Microsoft-Windows-DNS Client Events/Operational",
        "dns-client",
    ),
    (
        "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
        "driver-framework",
    ),
    (
        "Microsoft-Windows-CodeIntegrity/Operational",
        "codeintegrity-operational",
    ),
    (
        "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
        "firewall-as",
    ),
    ("Microsoft-Windows-Bits-Client/Operational", "bits-client"),
    ("Microsoft-Windows-NTLM/Operational", "ntlm"),
    (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "security-mitigations",
    ),
    (
        "Microsoft-Windows-Security-Mitigations/User Mode",
        "security-mitigations",
    ),
    ("Microsoft-Windows-AppLocker/MSI and Script", "applocker"),
    ("Microsoft-Windows-AppLocker/EXE and DLL", "applocker"),
    (
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "applocker",
    ),
    (
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
        "applocker",
    ),
    ("Microsoft-Windows-PrintService/Admin", "printservice-admin"),
    (
        "Microsoft-Windows-PrintService/Operational",
        "printservice-operational",
    ),
    ("Microsoft-Windows-SmbClient/Security", "smbclient-security"),
    ("Microsoft-Windows-SMBClient/Security", "smbclient-security"),
    (
        "Microsoft-Windows-Application-Experience/Program-Telemetry",
        "application-experience",
    ),
    (
        "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant",
        "application-experience",
    ),
    (
        "Microsoft-Windows-AppModel-Runtime/Admin",
        "appmodel-runtime",
    ),
    (
        "Microsoft-Windows-AppXDeploymentServer/Operational",
        "appxdeployment-server",
    ),
    (
        "Microsoft-Windows-AppxPackaging/Operational",
        "appxpackaging-om",
    ),
    (
        "Microsoft-Windows-BitLocker/BitLocker Management",
        "bitlocker",
    ),
    ("Microsoft-Windows-CAPI2/Operational", "capi2"),
    (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
        "certificateservicesclient-lifecycle-system",
    ),
    ("Microsoft-Windows-DHCP-Server/Operational", "dhcp"),
    (
        "Microsoft-Windows-Diagnosis-Scripted/Operational",
        "diagnosis-scripted",
    ),
    ("Microsoft-Windows-Hyper-V-Worker", "hyper-v-worker"),
    (
        "Microsoft-IIS-Configuration/Operational",
        "iis-configuration",
    ),
    (
        "Microsoft-Windows-Kernel-EventTracing",
        "kernel-event-tracing",
    ),
    (
        "Microsoft-Windows-Kernel-ShimEngine/Operational",
        "kernel-shimengine",
    ),
    (
        "Microsoft-Windows-Kernel-ShimEngine/Diagnostic",
        "kernel-shimengine",
    ),
    ("Microsoft-Windows-LDAP-Client/Debug", "ldap"),
    ("Microsoft-Windows-LSA/Operational", "lsa-server"),
    ("MSExchange Management", "msexchange-management"),
    ("Microsoft-Windows-Ntfs/Operational", "ntfs"),
    ("OpenSSH/Operational", "openssh"),
    ("Microsoft-Windows-SENSE/Operational", "sense"),
    (
        "Microsoft-ServiceBus-Client/Operational",
        "servicebus-client",
    ),
    ("Microsoft-ServiceBus-Client/Admin", "servicebus-client"),
    ("Microsoft-Windows-Shell-Core/Operational", "shell-core"),
    (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        "terminalservices-localsessionmanager",
    ),
    ("Microsoft-Windows-VHDMP/Operational", "vhdmp"),
];

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

/// The categories of a Windows event, from its service and `EventID`.
pub fn windows_categories(service: &str, event_id: i64) -> &'static [Category] {
    match (service, event_id) {
        ("sysmon", 1) => &[Category {
            name: "process_creation",
            renames: &[],
        }],
        ("sysmon", 2) => &[Category {
            name: "file_change",
            renames: &[],
        }],
        ("sysmon", 3) => &[Category {
            name: "network_connection",
            renames: &[],
        }],
        ("sysmon", 4 | 16) => &[Category {
            name: "sysmon_status",
            renames: &[],
        }],
        ("sysmon", 5) => &[Category {
            name: "process_termination",
            renames: &[],
        }],
        ("sysmon", 6) => &[Category {
            name: "driver_load",
            renames: &[],
        }],
        ("sysmon", 7) => &[Category {
            name: "image_load",
            renames: &[],
        }],
        ("sysmon", 8) => &[Category {
            name: "create_remote_thread",
            renames: &[],
        }],
        ("sysmon", 9) => &[Category {
            name: "raw_access_thread",
            renames: &[],
        }],
        ("sysmon", 10) => &[Category {
            name: "process_access",
            renames: &[],
        }],
        ("sysmon", 11) => &[Category {
            name: "file_event",
            renames: &[],
        }],
        ("sysmon", 12) => &[
            Category {
                name: "registry_add",
                renames: &[],
            },
            Category {
                name: "registry_delete",
                renames: &[],
            },
            Category {
                name: "registry_event",
                renames: &[],
            },
        ],
        ("sysmon", 13) => &[
            Category {
                name: "registry_set",
                renames: &[],
            },
            Category {
                name: "registry_event",
                renames: &[],
            },
        ],
        ("sysmon", 14) => &[
            Category {
                name: "registry_rename",
                renames: &[],
            },
            Category {
                name: "registry_event",
                renames: &[],
            },
        ],
        ("sysmon", 15) => &[Category {
            name: "create_stream_hash",
            renames: &[],
        }],
        ("sysmon", 17 | 18) => &[Category {
            name: "pipe_created",
            renames: &[],
        }],
        ("sysmon", 19..=21) => &[Category {
            name: "wmi_event",
            renames: &[],
        }],
        ("sysmon", 22) => &[Category {
            name: "dns_query",
            renames: &[],
        }],
        ("sysmon", 23) => &[Category {
            name: "file_delete",
            renames: &[],
        }],
        ("sysmon", 24) => &[Category {
            name: "clipboard_capture",
            renames: &[],
        }],
        ("sysmon", 25) => &[Category {
            name: "process_tampering",
            renames: &[],
        }],
        ("sysmon", 26) => &[
            Category {
                name: "file_delete",
                renames: &[],
            },
            Category {
                name: "file_delete_detected",
                renames: &[],
            },
        ],
        ("sysmon", 27) => &[Category {
            name: "file_block_executable",
            renames: &[],
        }],
        ("sysmon", 28) => &[Category {
            name: "file_block_shredding",
            renames: &[],
        }],
        ("sysmon", 29) => &[Category {
            name: "file_executable_detected",
            renames: &[],
        }],
        ("sysmon", 255) => &[Category {
            name: "sysmon_error",
            renames: &[],
        }],
        ("security", 4688) => &[Category {
            name: "process_creation",
            renames: RENAMES_4688,
        }],
        ("security", 5156) => &[Category {
            name: "network_connection",
            renames: RENAMES_5156,
        }],
        ("security", 4663) => &[Category {
            name: "file_access",
            renames: RENAMES_4663,
        }],
        ("windefend", 1006 | 1015 | 1116 | 1117) => &[Category {
            name: "antivirus",
            renames: RENAMES_DEFENDER_AV,
        }],
        ("powershell-classic", 400) => &[Category {
            name: "ps_classic_start",
            renames: &[],
        }],
        ("powershell-classic", 600) => &[Category {
            name: "ps_classic_provider_start",
            renames: &[],
        }],
        ("powershell-classic", 800) => &[Category {
            name: "ps_classic_script",
            renames: &[],
        }],
        ("powershell", 4103) => &[Category {
            name: "ps_module",
            renames: &[],
        }],
        ("powershell", 4104) => &[Category {
            name: "ps_script",
            renames: &[],
        }],
        _ => &[],
    }
}

/// Linux programs that have a Sigma service of their own.
pub const LINUX_PROGRAMS: &[(&str, &str)] = &[
    ("sshd", "sshd"),
    ("sudo", "sudo"),
    ("cron", "cron"),
    ("CRON", "cron"),
    ("crond", "cron"),
    ("anacron", "cron"),
    ("vsftpd", "vsftpd"),
    ("clamd", "clamav"),
    ("freshclam", "clamav"),
    ("guacd", "guacamole"),
    ("auditd", "auditd"),
    ("audispd", "auditd"),
];

/// Works out where an event belongs. The parser's logsource is the
/// starting point; Windows events are refined by `Channel` and `EventID`,
/// Linux syslog events by `program`.
pub fn route(event: &Event) -> Route {
    let parsed = event.meta.logsource;
    if let Some(Value::String(channel)) = event.fields.get("Channel") {
        let service = WINDOWS_SERVICES
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(channel))
            .map(|(_, s)| *s);
        let categories = match (service, event.get_i64("EventID")) {
            (Some(s), Some(id)) => windows_categories(s, id),
            _ => &[],
        };
        return Route {
            product: Some("windows"),
            services: [service, None],
            categories,
            parser_category: None,
        };
    }
    if parsed.product == Some("linux") {
        let program = event
            .fields
            .get("program")
            .or_else(|| event.fields.get("appname"))
            .and_then(Value::as_str)
            .and_then(|p| LINUX_PROGRAMS.iter().find(|(name, _)| *name == p))
            .map(|(_, s)| *s);
        let second = program.filter(|p| Some(*p) != parsed.service);
        let categories: &'static [Category] = if parsed.service == Some("auditd")
            && event
                .fields
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("EXECVE"))
        {
            &[Category {
                name: "process_creation",
                renames: &[],
            }]
        } else {
            &[]
        };
        let services = match parsed.service {
            Some(s) => [Some(s), second],
            None => [second, None],
        };
        return Route {
            product: Some("linux"),
            services,
            categories,
            parser_category: parsed.category,
        };
    }
    Route {
        product: parsed.product,
        services: [parsed.service, None],
        categories: &[],
        parser_category: parsed.category,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use events::{Map, Meta};
    use serde_json::json;

    use super::*;

    /// `(product, service, category, number of renames)` of one view.
    type ViewSummary = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        usize,
    );

    fn event(ls: LogSource, fields: Value) -> Event {
        let Value::Object(map) = fields else {
            panic!("object")
        };
        let mut meta = Meta::new(Arc::from("t"), 1);
        meta.logsource = ls;
        Event::new(meta, map)
    }

    fn views(e: &Event) -> Vec<ViewSummary> {
        let mut out = Vec::new();
        route(e).for_each_view(|v| out.push((v.product, v.service, v.category, v.renames.len())));
        out
    }

    /// Data-driven: (parser logsource, fields, expected views).
    #[test]
    fn routing_table() {
        let none = LogSource::default();
        let cases: Vec<(LogSource, Value, Vec<ViewSummary>)> = vec![
            (
                none,
                json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1}),
                vec![
                    (Some("windows"), Some("sysmon"), None, 0),
                    (Some("windows"), Some("sysmon"), Some("process_creation"), 0),
                ],
            ),
            (
                none,
                json!({"Channel": "microsoft-windows-sysmon/operational", "EventID": "13"}),
                vec![
                    (Some("windows"), Some("sysmon"), None, 0),
                    (Some("windows"), Some("sysmon"), Some("registry_set"), 0),
                    (Some("windows"), Some("sysmon"), Some("registry_event"), 0),
                ],
            ),
            (
                none,
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
                none,
                json!({"Channel": "Security", "EventID": 4624}),
                vec![(Some("windows"), Some("security"), None, 0)],
            ),
            (
                none,
                json!({"Channel": "Microsoft-Windows-Windows Defender/Operational", "EventID": 1116}),
                vec![
                    (Some("windows"), Some("windefend"), None, 0),
                    (Some("windows"), Some("windefend"), Some("antivirus"), 2),
                ],
            ),
            (
                none,
                json!({"Channel": "Microsoft-Windows-PowerShell/Operational", "EventID": 4104}),
                vec![
                    (Some("windows"), Some("powershell"), None, 0),
                    (Some("windows"), Some("powershell"), Some("ps_script"), 0),
                ],
            ),
            (
                none,
                json!({"Channel": "Windows PowerShell", "EventID": 400}),
                vec![
                    (Some("windows"), Some("powershell-classic"), None, 0),
                    (
                        Some("windows"),
                        Some("powershell-classic"),
                        Some("ps_classic_start"),
                        0,
                    ),
                ],
            ),
            (
                none,
                json!({"Channel": "Some-Unknown/Operational", "EventID": 1}),
                vec![(Some("windows"), None, None, 0)],
            ),
            (
                LogSource::service("linux", "auth"),
                json!({"program": "sshd", "message": "Failed password"}),
                vec![
                    (Some("linux"), Some("auth"), None, 0),
                    (Some("linux"), Some("sshd"), None, 0),
                ],
            ),
            (
                LogSource::service("linux", "syslog"),
                json!({"program": "kernel"}),
                vec![(Some("linux"), Some("syslog"), None, 0)],
            ),
            (
                LogSource::service("linux", "auditd"),
                json!({"type": "EXECVE"}),
                vec![
                    (Some("linux"), Some("auditd"), None, 0),
                    (Some("linux"), Some("auditd"), Some("process_creation"), 0),
                ],
            ),
            (
                LogSource::service("aws", "cloudtrail"),
                json!({"eventName": "StopLogging"}),
                vec![(Some("aws"), Some("cloudtrail"), None, 0)],
            ),
            (
                none,
                json!({"message": "hello"}),
                vec![(None, None, None, 0)],
            ),
        ];
        for (ls, fields, want) in cases {
            let e = event(ls, fields.clone());
            assert_eq!(views(&e), want, "fields {fields}");
        }
        let _ = Map::new();
    }
}
