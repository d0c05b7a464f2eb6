//! The one logsource decision: which Sigma logsource(s) an event belongs
//! to. Every table of it is here; `sources` and `detect` only call it.
//!
//! It is made in two steps, both here:
//!
//! 1. **At parse time**, from what the parser knows: the format
//!    ([`WINDOWS`] for EVTX and Windows JSON, [`WEBSERVER`] for access
//!    logs, [`AUDITD`] for audit records), a syslog file's name
//!    ([`of_syslog_file`]), or a JSON record's shape ([`of_json`]). The
//!    result is the event's [`crate::Meta::logsource`].
//! 2. **At match time**, [`route`] refines it from the event's fields into
//!    a [`Route`]: Windows events by `Channel` and `EventID`, Linux events
//!    by `program` and audit `type`. `detect` turns a route into the views
//!    its rules are compared with (and adds the field renames some
//!    categories need).
//!
//! `docs/logsource-mapping.md` shows the whole mapping as one table.
//!
//! # JSON records, by shape
//!
//! The first row whose test passes wins.
//!
//! | test on the record | product | service |
//! |---|---|---|
//! | `eventSource` and `eventName` | `aws` | `cloudtrail` |
//! | `protoPayload.@type` (or `protoPayload.at_sign_type`) ends with `AuditLog`, or a `protoPayload` object without a type, or `logName` contains `cloudaudit.googleapis.com` | `gcp` | `gcp.audit` |
//! | `apiVersion` starts with `audit.k8s.io/`, or `kind` `Event` with `verb` and `objectRef` | `kubernetes` | `audit` |
//! | `eventType` (or `eventtype`) and `actor` or `displayMessage` (or `displaymessage`) | `okta` | `okta` |
//! | `kind` starts with `admin#reports#activity`, or `id.applicationName` | `google_workspace` | `admin` |
//! | `Workload` or `Operation`, and `RecordType` (any of them also in lower case) | `m365` | `audit` |
//! | `category` is `SignInLogs` / `NonInteractiveUserSignInLogs` / ... sign-ins | `azure` | `signinlogs` |
//! | `properties.activityDisplayName` or `category` `AuditLogs` with `operationName` | `azure` | `auditlogs` |
//! | `operationName` and a `resourceId` under `/subscriptions/` | `azure` | `activitylogs` |
//! | `action` and `actor` | `github` | `audit` |
//! | `@stream` or `_path` naming a Zeek log, with `uid` or `ts` | `zeek` | the log name (`conn`, `dns`, `http`, ...) |
//! | `SyslogMessage` starting with `type=`, or `type` plus `msg` `audit(...)` | `linux` | `auditd` |
//! | anything else | unknown | unknown |
//!
//!
//! Windows events exported to JSON (`{"Event": {"System": ...}}`) never get
//! here: they are flattened like EVTX records and are [`WINDOWS`].
//!
//! # Syslog files, by name
//!
//! `auth.log*`, `secure*` and `*_auth.log` are `linux`/`auth`; every other
//! syslog file is `linux`/`syslog`.
//!
//! # Refinement ([`route`])
//!
//! - An event with a `Channel` is `windows`, with the service of its
//!   channel ([`WINDOWS_SERVICES`], compared case-insensitively) and the
//!   categories of its service and `EventID` ([`windows_categories`]).
//! - A `linux` event keeps its service and gains the service of its
//!   `program` (or `appname`) when that has one of its own
//!   ([`LINUX_PROGRAMS`]): an sshd line in `auth.log` is both `auth` and
//!   `sshd`. Audit `EXECVE` records are also `process_creation`.
//! - Everything else keeps its parse-time logsource.
//!
//! Every value is `&'static str`: deciding never allocates. Pure: no IO.

use crate::{Event, LogSource, Map, Value, lookup};

/// EVTX records and Windows events exported to JSON.
pub const WINDOWS: LogSource = LogSource::product("windows");

/// Web server access logs (the category of the Sigma taxonomy).
pub const WEBSERVER: LogSource = LogSource {
    product: None,
    service: None,
    category: Some("webserver"),
};

/// Linux audit records (`type=... msg=audit(...)`).
pub const AUDITD: LogSource = LogSource::service("linux", "auditd");

/// Zeek logs watchpost knows by name.
const ZEEK_LOGS: &[&str] = &[
    "conn",
    "dns",
    "http",
    "ssl",
    "x509",
    "files",
    "smb_files",
    "smb_mapping",
    "dce_rpc",
    "kerberos",
    "ntlm",
    "rdp",
    "ssh",
    "smtp",
    "ftp",
    "notice",
    "weird",
    "pe",
    "dpd",
    "software",
    "dhcp",
    "sip",
    "snmp",
    "tunnel",
    "radius",
    "mysql",
    "irc",
    "capture_loss",
    "loaded_scripts",
    "packet_filter",
    "reporter",
    "stats",
];

/// A string field.
fn get_str<'a>(fields: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    lookup(fields, path).and_then(Value::as_str)
}

/// True when the field exists and is not null.
fn has(fields: &Map<String, Value>, path: &str) -> bool {
    lookup(fields, path).is_some_and(|v| !v.is_null())
}

/// The logsource of a JSON record, from its shape (the module's first
/// table).
pub fn of_json(fields: &Map<String, Value>) -> LogSource {
    if has(fields, "eventSource") && has(fields, "eventName") {
        return LogSource::service("aws", "cloudtrail");
    }
    let proto_type = get_str(fields, "protoPayload.@type")
        .or_else(|| get_str(fields, "protoPayload.at_sign_type"));
    let log_name = get_str(fields, "logName").or_else(|| get_str(fields, "logname"));
    if proto_type.is_some_and(|t| t.ends_with("AuditLog"))
        || (proto_type.is_none() && lookup(fields, "protoPayload").is_some_and(Value::is_object))
        || log_name.is_some_and(|n| n.contains("cloudaudit.googleapis.com"))
    {
        return LogSource::service("gcp", "gcp.audit");
    }
    if get_str(fields, "apiVersion").is_some_and(|v| v.starts_with("audit.k8s.io/"))
        || (get_str(fields, "kind") == Some("Event")
            && has(fields, "verb")
            && has(fields, "objectRef"))
    {
        return LogSource::service("kubernetes", "audit");
    }
    if (has(fields, "eventType") || has(fields, "eventtype"))
        && ["actor", "displayMessage", "displaymessage"]
            .iter()
            .any(|k| has(fields, k))
    {
        return LogSource::service("okta", "okta");
    }
    if get_str(fields, "kind").is_some_and(|k| k.starts_with("admin#reports#activity"))
        || has(fields, "id.applicationName")
    {
        return LogSource::service("google_workspace", "admin");
    }
    if ["Workload", "Operation", "workload", "operation"]
        .iter()
        .any(|k| has(fields, k))
        && (has(fields, "RecordType") || has(fields, "recordtype"))
    {
        return LogSource::service("m365", "audit");
    }
    let category = get_str(fields, "category").unwrap_or("");
    if category.ends_with("SignInLogs") || category.ends_with("SignInLogsRaw") {
        return LogSource::service("azure", "signinlogs");
    }
    if has(fields, "operationName")
        && (category == "AuditLogs" || has(fields, "properties.activityDisplayName"))
    {
        return LogSource::service("azure", "auditlogs");
    }
    if has(fields, "operationName")
        && get_str(fields, "resourceId")
            .is_some_and(|r| r.to_ascii_lowercase().starts_with("/subscriptions/"))
    {
        return LogSource::service("azure", "activitylogs");
    }
    if has(fields, "action") && has(fields, "actor") {
        return LogSource::service("github", "audit");
    }
    if let Some(stream) = get_str(fields, "@stream").or_else(|| get_str(fields, "_path"))
        && (has(fields, "uid") || has(fields, "ts"))
    {
        return match ZEEK_LOGS.iter().find(|name| **name == stream) {
            Some(name) => LogSource::service("zeek", name),
            None => LogSource::product("zeek"),
        };
    }
    if get_str(fields, "SyslogMessage").is_some_and(|m| m.starts_with("type="))
        || (has(fields, "type") && get_str(fields, "msg").is_some_and(|m| m.starts_with("audit(")))
    {
        return AUDITD;
    }
    LogSource::default()
}

/// The logsource of a syslog file, from its name.
pub fn of_syslog_file(name: &str) -> LogSource {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let file = file.to_ascii_lowercase();
    if file.starts_with("auth.log") || file.starts_with("secure") || file.contains("_auth.log") {
        LogSource::service("linux", "auth")
    } else {
        LogSource::service("linux", "syslog")
    }
}

/// Where an event belongs: one product, up to two services, and any number
/// of categories (from static tables).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Route {
    /// Sigma product.
    pub product: Option<&'static str>,
    /// Sigma services (a sshd line in `auth.log` is both `auth` and `sshd`).
    pub services: [Option<&'static str>; 2],
    /// Categories found from the event's fields.
    pub categories: &'static [&'static str],
    /// A category the parser set (cloud, web, ...).
    pub parser_category: Option<&'static str>,
}

impl Route {
    /// The logsource to record on a detection (first service and
    /// category).
    pub fn logsource(&self) -> LogSource {
        LogSource {
            product: self.product,
            service: self.services[0],
            category: self.categories.first().copied().or(self.parser_category),
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

/// The categories of a Windows event, from its service and `EventID`.
pub fn windows_categories(service: &str, event_id: i64) -> &'static [&'static str] {
    match (service, event_id) {
        ("sysmon", 1) => &["process_creation"],
        ("sysmon", 2) => &["file_change"],
        ("sysmon", 3) => &["network_connection"],
        ("sysmon", 4 | 16) => &["sysmon_status"],
        ("sysmon", 5) => &["process_termination"],
        ("sysmon", 6) => &["driver_load"],
        ("sysmon", 7) => &["image_load"],
        ("sysmon", 8) => &["create_remote_thread"],
        ("sysmon", 9) => &["raw_access_thread"],
        ("sysmon", 10) => &["process_access"],
        ("sysmon", 11) => &["file_event"],
        ("sysmon", 12) => &["registry_add", "registry_delete", "registry_event"],
        ("sysmon", 13) => &["registry_set", "registry_event"],
        ("sysmon", 14) => &["registry_rename", "registry_event"],
        ("sysmon", 15) => &["create_stream_hash"],
        ("sysmon", 17 | 18) => &["pipe_created"],
        ("sysmon", 19..=21) => &["wmi_event"],
        ("sysmon", 22) => &["dns_query"],
        ("sysmon", 23) => &["file_delete"],
        ("sysmon", 24) => &["clipboard_capture"],
        ("sysmon", 25) => &["process_tampering"],
        ("sysmon", 26) => &["file_delete", "file_delete_detected"],
        ("sysmon", 27) => &["file_block_executable"],
        ("sysmon", 28) => &["file_block_shredding"],
        ("sysmon", 29) => &["file_executable_detected"],
        ("sysmon", 255) => &["sysmon_error"],
        ("security", 4688) => &["process_creation"],
        ("security", 5156) => &["network_connection"],
        ("security", 4663) => &["file_access"],
        ("windefend", 1006 | 1015 | 1116 | 1117) => &["antivirus"],
        ("powershell-classic", 400) => &["ps_classic_start"],
        ("powershell-classic", 600) => &["ps_classic_provider_start"],
        ("powershell-classic", 800) => &["ps_classic_script"],
        ("powershell", 4103) => &["ps_module"],
        ("powershell", 4104) => &["ps_script"],
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

/// Works out where an event belongs (the module's second table). The
/// parser's logsource ([`of_json`], [`of_syslog_file`], or a format's
/// constant) is the starting point; Windows events are refined by
/// `Channel` and `EventID`, Linux events by `program` and audit `type`.
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
        let categories: &'static [&'static str] = if parsed.service == Some("auditd")
            && event
                .fields
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("EXECVE"))
        {
            &["process_creation"]
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

    use serde_json::json;

    use super::*;
    use crate::Meta;

    fn obj(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn classifies_each_known_shape() {
        let cases = [
            (
                json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}),
                Some("aws"),
                Some("cloudtrail"),
            ),
            (
                json!({"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog"}}),
                Some("gcp"),
                Some("gcp.audit"),
            ),
            (
                json!({"protoPayload": {"at_sign_type": "type.googleapis.com/google.cloud.audit.AuditLog"}}),
                Some("gcp"),
                Some("gcp.audit"),
            ),
            (
                json!({"apiVersion": "audit.k8s.io/v1", "verb": "create"}),
                Some("kubernetes"),
                Some("audit"),
            ),
            (
                json!({"eventType": "user.session.start", "actor": {"id": "1"}}),
                Some("okta"),
                Some("okta"),
            ),
            (
                json!({"kind": "admin#reports#activity", "id": {"applicationName": "admin"}}),
                Some("google_workspace"),
                Some("admin"),
            ),
            (
                json!({"Workload": "Exchange", "Operation": "New-InboxRule", "RecordType": 1}),
                Some("m365"),
                Some("audit"),
            ),
            (
                json!({"category": "SignInLogs", "operationName": "Sign-in activity"}),
                Some("azure"),
                Some("signinlogs"),
            ),
            (
                json!({"operationName": "Add member", "properties": {"activityDisplayName": "Add member"}}),
                Some("azure"),
                Some("auditlogs"),
            ),
            (
                json!({"operationName": "MICROSOFT.COMPUTE/VM/WRITE", "resourceId": "/SUBSCRIPTIONS/1/x"}),
                Some("azure"),
                Some("activitylogs"),
            ),
            (
                json!({"action": "repo.destroy", "actor": "octocat"}),
                Some("github"),
                Some("audit"),
            ),
            (
                json!({"@stream": "dns", "uid": "C1", "ts": 1.5}),
                Some("zeek"),
                Some("dns"),
            ),
            (
                json!({"_path": "conn", "uid": "C1"}),
                Some("zeek"),
                Some("conn"),
            ),
            (
                json!({"SyslogMessage": "type=AUOMS_EXECVE audit(1:2): x"}),
                Some("linux"),
                Some("auditd"),
            ),
            (json!({"message": "hello"}), None, None),
        ];
        for (record, product, service) in cases {
            let ls = of_json(&obj(record.clone()));
            assert_eq!((ls.product, ls.service), (product, service), "{record}");
        }
    }

    #[test]
    fn names_syslog_files() {
        let cases = [
            ("/var/log/auth.log.1", "auth"),
            ("/var/log/secure-20240101", "auth"),
            ("/x/elastic_examples_suspicious_login_auth.log", "auth"),
            ("C:\\logs\\auth.log", "auth"),
            ("/var/log/messages", "syslog"),
            ("/var/log/syslog", "syslog"),
        ];
        for (name, service) in cases {
            let ls = of_syslog_file(name);
            assert_eq!(
                (ls.product, ls.service),
                (Some("linux"), Some(service)),
                "{name}"
            );
        }
    }

    fn event(ls: LogSource, fields: Value) -> Event {
        let mut meta = Meta::new(Arc::from("t"), 1);
        meta.logsource = ls;
        Event::new(meta, obj(fields))
    }

    type Want = (
        Option<&'static str>,
        [Option<&'static str>; 2],
        &'static [&'static str],
    );

    /// Data-driven: (parse-time logsource, fields, expected route), written
    /// from the Sigma taxonomy appendix.
    #[test]
    fn routing_table() {
        let none = LogSource::default();
        let cases: Vec<(LogSource, Value, Want)> = vec![
            (
                none,
                json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1}),
                (
                    Some("windows"),
                    [Some("sysmon"), None],
                    &["process_creation"],
                ),
            ),
            (
                none,
                json!({"Channel": "microsoft-windows-sysmon/operational", "EventID": "13"}),
                (
                    Some("windows"),
                    [Some("sysmon"), None],
                    &["registry_set", "registry_event"],
                ),
            ),
            (
                WINDOWS,
                json!({"Channel": "Security", "EventID": 4688}),
                (
                    Some("windows"),
                    [Some("security"), None],
                    &["process_creation"],
                ),
            ),
            (
                WINDOWS,
                json!({"Channel": "Security", "EventID": 4624}),
                (Some("windows"), [Some("security"), None], &[]),
            ),
            (
                WINDOWS,
                json!({"Channel": "Microsoft-Windows-Windows Defender/Operational", "EventID": 1116}),
                (Some("windows"), [Some("windefend"), None], &["antivirus"]),
            ),
            (
                WINDOWS,
                json!({"Channel": "Microsoft-Windows-PowerShell/Operational", "EventID": 4104}),
                (Some("windows"), [Some("powershell"), None], &["ps_script"]),
            ),
            (
                WINDOWS,
                json!({"Channel": "Windows PowerShell", "EventID": 400}),
                (
                    Some("windows"),
                    [Some("powershell-classic"), None],
                    &["ps_classic_start"],
                ),
            ),
            (
                WINDOWS,
                json!({"Channel": "Some-Unknown/Operational", "EventID": 1}),
                (Some("windows"), [None, None], &[]),
            ),
            (
                LogSource::service("linux", "auth"),
                json!({"program": "sshd", "message": "Failed password"}),
                (Some("linux"), [Some("auth"), Some("sshd")], &[]),
            ),
            (
                LogSource::service("linux", "syslog"),
                json!({"program": "kernel"}),
                (Some("linux"), [Some("syslog"), None], &[]),
            ),
            (
                LogSource::service("linux", "syslog"),
                json!({"appname": "sudo"}),
                (Some("linux"), [Some("syslog"), Some("sudo")], &[]),
            ),
            (
                AUDITD,
                json!({"type": "EXECVE"}),
                (Some("linux"), [Some("auditd"), None], &["process_creation"]),
            ),
            (
                AUDITD,
                json!({"type": "SYSCALL", "program": "auditd"}),
                (Some("linux"), [Some("auditd"), None], &[]),
            ),
            (
                LogSource::service("aws", "cloudtrail"),
                json!({"eventName": "StopLogging"}),
                (Some("aws"), [Some("cloudtrail"), None], &[]),
            ),
            (none, json!({"message": "hello"}), (None, [None, None], &[])),
        ];
        for (ls, fields, want) in cases {
            let r = route(&event(ls, fields.clone()));
            assert_eq!(
                (r.product, r.services, r.categories),
                want,
                "fields {fields}"
            );
        }
    }

    #[test]
    fn a_route_records_its_first_service_and_category() {
        let r = route(&event(WEBSERVER, json!({"cs-method": "GET"})));
        assert_eq!(r.logsource(), WEBSERVER);
        let r = route(&event(
            WINDOWS,
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 12}),
        ));
        assert_eq!(
            r.logsource(),
            LogSource::service("windows", "sysmon").with_category("registry_add")
        );
    }
}
