//! The catalogue of policy detections: for every rule of the bundled pack
//! (`rules/policy/`) and every native detector output, its policy item,
//! default severity, incident category, the entity keys it names and the
//! fields they come from, and a short runbook for responders.

use detect::Level;

use crate::Policy;
use serde::Serialize;

/// Incident categories a policy detection maps to: the one category type
/// of the workspace, shared with the incident store.
pub use events::Category;

/// Where a catalogue entry's detections come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// A Sigma rule in `rules/policy/<file>`.
    Sigma {
        /// File name under `rules/policy/`.
        file: &'static str,
    },
    /// A native detector (its [`detect::Detector::name`]).
    Native {
        /// The detector name.
        detector: &'static str,
    },
}

/// One policy detection kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Entry {
    /// The Sigma rule id, or the native detection's stable id.
    pub id: &'static str,
    /// Title, as detections show it.
    pub title: &'static str,
    /// The policy item.
    pub policy: Policy,
    /// Default severity.
    pub level: Level,
    /// The incident category it maps to.
    pub category: Category,
    /// Rule file or native detector.
    pub source: Source,
    /// Entity keys (`user`, `source_ip`, `host`, `port`, `url`) and the
    /// event fields they are read from, first present wins.
    #[serde(skip)]
    pub entities: &'static [(&'static str, &'static [&'static str])],
    /// Configuration keys (in [`crate::PolicyConfig`]) that tune it.
    pub config: &'static [&'static str],
    /// What a responder does first.
    pub runbook: &'static str,
}

const WIN_HOST: (&str, &[&str]) = ("host", &["Computer", "Event.System.Computer"]);
const AWS_USER: (&str, &[&str]) = (
    "user",
    &[
        "requestParameters.userName",
        "userIdentity.userName",
        "userIdentity.arn",
    ],
);
const AWS_IP: (&str, &[&str]) = ("source_ip", &["sourceIPAddress"]);

const RB_LOCKOUT: &str = "Confirm with the user whether they triggered the lockout. If not, treat \
    it as password guessing: find the source addresses of the failures, block them, and reset the \
    password once the user is reached by a second channel.";
const RB_RESET: &str = "Ask the affected user, through a channel other than the account, whether \
    they made this change. If not: lock the account, revoke sessions and tokens, restore the MFA \
    factors, and open a security incident.";
const RB_LOGGING: &str = "Find out who changed logging and whether it was a planned change. If \
    not planned, restore logging first, then treat the time logging was off as a blind spot: \
    review the actor's other actions and open a security incident.";
const RB_AV: &str = "Check the action the antivirus took. If the threat is not quarantined or \
    removed, isolate the host. Find how the file arrived (user, process, download) and whether \
    other hosts have it.";
const RB_BRUTE: &str = "Block or rate-limit the source address, check whether any login from it \
    succeeded, and if so reset the account's password and sessions and open a security \
    incident.";
const RB_REBOOT: &str = "Ask the host's owner whether the reboot was planned. Check for power or \
    hardware faults, crashes (kernel panic, bugcheck) and signs of tampering around the reboot \
    time.";
const RB_GAP: &str = "Check that the log source is running and forwarding. Treat the missing \
    span as a blind spot: look at other sources for the same host and time, and find why no \
    events were written (service stopped, disk full, logs deleted).";
const RB_PERF: &str = "Check the service's load, recent deployments and resource use. A sudden \
    sustained slowdown can be an attack (denial of service, crypto-mining) as well as a fault.";

/// Every policy detection kind, Sigma rules first.
pub fn catalogue() -> &'static [Entry] {
    CATALOGUE
}

/// The catalogue entry for a rule or native detection id.
pub fn entry(id: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.id == id)
}

static CATALOGUE: &[Entry] = &[
    // Lockouts.
    Entry {
        id: "2ccd35d3-e76f-4bc3-a9af-de44f0643c8a",
        title: "Windows account locked out",
        policy: Policy::Lockout,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "win_account_lockout.yml",
        },
        entities: &[
            (
                "user",
                &["TargetUserName", "Event.EventData.TargetUserName"],
            ),
            WIN_HOST,
        ],
        config: &[],
        runbook: RB_LOCKOUT,
    },
    Entry {
        id: "839725d3-c636-4b8a-b346-c6e8a9ccbe5f",
        title: "Several Windows accounts locked out on one host",
        policy: Policy::Lockout,
        level: Level::High,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "win_account_lockout.yml",
        },
        entities: &[WIN_HOST],
        config: &[],
        runbook: RB_LOCKOUT,
    },
    Entry {
        id: "881bfe0b-c05d-473f-953e-af4a9edbb7ee",
        title: "Okta account locked",
        policy: Policy::Lockout,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "okta_account_lock.yml",
        },
        entities: &[
            ("user", &["target.0.alternateId", "actor.alternateId"]),
            ("source_ip", &["client.ipAddress"]),
        ],
        config: &[],
        runbook: RB_LOCKOUT,
    },
    Entry {
        id: "69d88d30-6af4-45d7-893d-f25ca78d7706",
        title: "Entra ID sign-in blocked by account lockout",
        policy: Policy::Lockout,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "entra_signin_locked.yml",
        },
        entities: &[
            ("user", &["properties.userPrincipalName"]),
            ("source_ip", &["properties.ipAddress", "callerIpAddress"]),
        ],
        config: &[],
        runbook: RB_LOCKOUT,
    },
    // Password resets and MFA changes.
    Entry {
        id: "5806916e-3e0d-4c1f-a83f-82e50c86ab0e",
        title: "Windows password changed or reset",
        policy: Policy::PasswordReset,
        level: Level::Low,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "win_password_change.yml",
        },
        entities: &[
            (
                "user",
                &["TargetUserName", "Event.EventData.TargetUserName"],
            ),
            WIN_HOST,
        ],
        config: &[],
        runbook: RB_RESET,
    },
    Entry {
        id: "9ab7001f-0636-4ca2-a46c-99ad30dce024",
        title: "Okta password reset or MFA factor change",
        policy: Policy::PasswordReset,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "okta_password_mfa_change.yml",
        },
        entities: &[
            ("user", &["target.0.alternateId", "actor.alternateId"]),
            ("source_ip", &["client.ipAddress"]),
        ],
        config: &[],
        runbook: RB_RESET,
    },
    Entry {
        id: "f8bd491d-6396-4b75-8dfd-badc94f9e1c0",
        title: "Google Workspace password or 2-step verification change",
        policy: Policy::PasswordReset,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "gws_password_mfa_change.yml",
        },
        entities: &[
            (
                "user",
                &[
                    "parameters.USER_EMAIL",
                    "parameters.user_email",
                    "actor.email",
                ],
            ),
            ("source_ip", &["ipAddress"]),
        ],
        config: &[],
        runbook: RB_RESET,
    },
    Entry {
        id: "f7b7eeb5-5ec5-4123-8cb1-bc85e7a2b42e",
        title: "Entra ID password reset or authentication method change",
        policy: Policy::PasswordReset,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "entra_password_mfa_change.yml",
        },
        entities: &[
            (
                "user",
                &[
                    "properties.targetResources.0.userPrincipalName",
                    "properties.initiatedBy.user.userPrincipalName",
                ],
            ),
            (
                "source_ip",
                &["properties.initiatedBy.user.ipAddress", "callerIpAddress"],
            ),
        ],
        config: &[],
        runbook: RB_RESET,
    },
    Entry {
        id: "36d5a284-20f9-409a-b3b1-81295709ece1",
        title: "AWS console password or MFA device change",
        policy: Policy::PasswordReset,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "aws_console_password_mfa_change.yml",
        },
        entities: &[AWS_USER, AWS_IP],
        config: &[],
        runbook: RB_RESET,
    },
    Entry {
        id: "0c2caba8-cba4-4916-866e-0efdcd66206f",
        title: "GitHub password or two-factor change",
        policy: Policy::PasswordReset,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Sigma {
            file: "github_password_2fa_change.yml",
        },
        entities: &[("user", &["user", "actor"]), ("source_ip", &["actor_ip"])],
        config: &[],
        runbook: RB_RESET,
    },
    // Logging switched off or reduced.
    Entry {
        id: "39940c05-165f-4ed4-8d17-5076e4a340d2",
        title: "AWS CloudTrail logging stopped or reduced",
        policy: Policy::LoggingDisabled,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "aws_cloudtrail_logging_off.yml",
        },
        entities: &[
            ("user", &["userIdentity.arn", "userIdentity.userName"]),
            AWS_IP,
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "2ab4fcc4-09ee-4fb6-b310-88bbcb1321dc",
        title: "AWS log source deleted or stopped",
        policy: Policy::LoggingDisabled,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "aws_logging_reduced.yml",
        },
        entities: &[
            ("user", &["userIdentity.arn", "userIdentity.userName"]),
            AWS_IP,
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "a3a1aafb-cb04-4235-907b-26b1eabfb98a",
        title: "GCP log sink or audit configuration changed",
        policy: Policy::LoggingDisabled,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "gcp_logging_changed.yml",
        },
        entities: &[
            ("user", &["protoPayload.authenticationInfo.principalEmail"]),
            ("source_ip", &["protoPayload.requestMetadata.callerIp"]),
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "a477838c-b050-433e-aaf3-57d981365b1f",
        title: "Windows Security log cleared",
        policy: Policy::LoggingDisabled,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "win_log_cleared.yml",
        },
        entities: &[
            (
                "user",
                &[
                    "SubjectUserName",
                    "UserData.LogFileCleared.SubjectUserName",
                    "Event.UserData.LogFileCleared.SubjectUserName",
                ],
            ),
            WIN_HOST,
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "fc8c3cc0-af11-46e7-858d-33429a289276",
        title: "Windows event log cleared",
        policy: Policy::LoggingDisabled,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "win_log_cleared.yml",
        },
        entities: &[
            (
                "user",
                &[
                    "SubjectUserName",
                    "UserData.LogFileCleared.SubjectUserName",
                    "Event.UserData.LogFileCleared.SubjectUserName",
                ],
            ),
            WIN_HOST,
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "2eafa415-d954-443d-9310-a44cadc2d843",
        title: "Windows audit policy changed",
        policy: Policy::LoggingDisabled,
        level: Level::Medium,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "win_log_cleared.yml",
        },
        entities: &[
            (
                "user",
                &["SubjectUserName", "Event.EventData.SubjectUserName"],
            ),
            WIN_HOST,
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "b9bdafc0-0081-4c75-a588-5859a7123935",
        title: "Windows audit policy changed, then Security log cleared",
        policy: Policy::LoggingDisabled,
        level: Level::Critical,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "win_log_cleared.yml",
        },
        entities: &[WIN_HOST],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "6dee3b4f-8737-41cd-9d24-5f7a6d38d2e6",
        title: "Linux audit configuration changed or audit daemon stopped",
        policy: Policy::LoggingDisabled,
        level: Level::Medium,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "auditd_config_change.yml",
        },
        entities: &[
            ("user", &["auid", "AUID", "uid"]),
            ("host", &["hostname", "Computer"]),
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "eae8726d-2c65-4756-af23-d55f5039ed15",
        title: "GitHub audit log streaming changed",
        policy: Policy::LoggingDisabled,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "github_audit_stream_change.yml",
        },
        entities: &[("user", &["actor"]), ("source_ip", &["actor_ip"])],
        config: &[],
        runbook: RB_LOGGING,
    },
    Entry {
        id: "46ce84c2-a22f-432e-b242-f82caa31a303",
        title: "Kubernetes audit configuration changed",
        policy: Policy::LoggingDisabled,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "k8s_audit_policy_change.yml",
        },
        entities: &[
            ("user", &["user.username"]),
            ("source_ip", &["sourceIPs.0"]),
        ],
        config: &[],
        runbook: RB_LOGGING,
    },
    // Antivirus.
    Entry {
        id: "68230722-df34-4180-9e06-4210ff5cdb21",
        title: "Microsoft Defender found malware",
        policy: Policy::Antivirus,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "win_defender_threat.yml",
        },
        entities: &[("user", &["Detection User", "DetectionUser"]), WIN_HOST],
        config: &[],
        runbook: RB_AV,
    },
    Entry {
        id: "0b0984ee-ac7a-4aab-bbb5-ac4710154f25",
        title: "Microsoft Defender acted on malware",
        policy: Policy::Antivirus,
        level: Level::Medium,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "win_defender_threat.yml",
        },
        entities: &[("user", &["Detection User", "DetectionUser"]), WIN_HOST],
        config: &[],
        runbook: RB_AV,
    },
    Entry {
        id: "2b5ed3c2-f691-4315-8259-7e8cfd272ef3",
        title: "Microsoft Defender failed to act on malware",
        policy: Policy::Antivirus,
        level: Level::Critical,
        category: Category::SecurityIncident,
        source: Source::Sigma {
            file: "win_defender_threat.yml",
        },
        entities: &[("user", &["Detection User", "DetectionUser"]), WIN_HOST],
        config: &[],
        runbook: RB_AV,
    },
    // Native: antivirus.
    Entry {
        id: crate::ids::CLAMAV_ID,
        title: "ClamAV found malware",
        policy: Policy::Antivirus,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Native {
            detector: "antivirus",
        },
        entities: &[],
        config: &[],
        runbook: RB_AV,
    },
    Entry {
        id: crate::ids::EDR_ID,
        title: "EDR alert",
        policy: Policy::Antivirus,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Native {
            detector: "antivirus",
        },
        entities: &[],
        config: &[],
        runbook: RB_AV,
    },
    // Native: login failures.
    Entry {
        id: crate::ids::PER_USER_ID,
        title: "Repeated login failures for one user",
        policy: Policy::BruteForce,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Native {
            detector: "login_failures",
        },
        entities: &[],
        config: &["login.window", "login.per_user", "login.cooldown"],
        runbook: RB_BRUTE,
    },
    Entry {
        id: crate::ids::PER_SOURCE_ID,
        title: "Repeated login failures from one address",
        policy: Policy::BruteForce,
        level: Level::Medium,
        category: Category::AccountAbuse,
        source: Source::Native {
            detector: "login_failures",
        },
        entities: &[],
        config: &["login.window", "login.per_source", "login.cooldown"],
        runbook: RB_BRUTE,
    },
    Entry {
        id: crate::ids::SPRAY_ID,
        title: "Password spraying: many users failing from one address",
        policy: Policy::BruteForce,
        level: Level::High,
        category: Category::AccountAbuse,
        source: Source::Native {
            detector: "login_failures",
        },
        entities: &[],
        config: &["login.window", "login.spray_users", "login.cooldown"],
        runbook: RB_BRUTE,
    },
    Entry {
        id: crate::ids::SUCCESS_AFTER_ID,
        title: "Successful login after a burst of failures",
        policy: Policy::BruteForce,
        level: Level::High,
        category: Category::AccountAbuse,
        source: Source::Native {
            detector: "login_failures",
        },
        entities: &[],
        config: &["login.window", "login.success_after"],
        runbook: "Treat the account as compromised until the user confirms the login: reset \
            the password, revoke sessions, review what the session did, and block the source.",
    },
    // Native: gaps.
    Entry {
        id: crate::ids::GAP_ID,
        title: "Missing time span in a log source",
        policy: Policy::LogGap,
        level: Level::Medium,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "gaps" },
        entities: &[],
        config: &[
            "gaps.min_gap",
            "gaps.quantile",
            "gaps.factor",
            "gaps.floor",
            "gaps.min_samples",
            "gaps.dense_window",
            "gaps.dense_factor",
        ],
        runbook: RB_GAP,
    },
    Entry {
        id: crate::ids::SILENT_ID,
        title: "Log source silent",
        policy: Policy::LogGap,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "gaps" },
        entities: &[],
        config: &["gaps.min_gap", "gaps.quantile", "gaps.factor", "gaps.floor"],
        runbook: RB_GAP,
    },
    Entry {
        id: crate::ids::RECOVERED_ID,
        title: "Log source recovered",
        policy: Policy::LogGap,
        level: Level::Informational,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "gaps" },
        entities: &[],
        config: &[],
        runbook: "No action: the source that was reported silent sends events again. Review \
            the silent span as a blind spot.",
    },
    Entry {
        id: crate::ids::BACKWARDS_ID,
        title: "Log time went backwards",
        policy: Policy::LogGap,
        level: Level::Low,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "gaps" },
        entities: &[],
        config: &["gaps.backwards_tolerance"],
        runbook: "Check the host's clock and time synchronisation, and whether log lines were \
            inserted or replayed. Timelines built from this source may be out of order.",
    },
    Entry {
        id: crate::ids::CLOCK_JUMP_ID,
        title: "Log time jumped forward",
        policy: Policy::LogGap,
        level: Level::Low,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "gaps" },
        entities: &[],
        config: &["gaps.clock_jump"],
        runbook: "Check the host's clock and time synchronisation. A jump can hide a real gap \
            or shift events out of the investigated time range.",
    },
    // Native: reboots.
    Entry {
        id: crate::ids::LINUX_ID,
        title: "Linux host booted without a clean shutdown",
        policy: Policy::UnexpectedReboot,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "reboot" },
        entities: &[],
        config: &["reboot.maintenance", "reboot.in_maintenance"],
        runbook: RB_REBOOT,
    },
    Entry {
        id: crate::ids::WIN_6008_ID,
        title: "Windows: previous shutdown was unexpected",
        policy: Policy::UnexpectedReboot,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "reboot" },
        entities: &[],
        config: &["reboot.maintenance", "reboot.in_maintenance"],
        runbook: RB_REBOOT,
    },
    Entry {
        id: crate::ids::WIN_41_ID,
        title: "Windows rebooted without a clean shutdown (Kernel-Power 41)",
        policy: Policy::UnexpectedReboot,
        level: Level::High,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "reboot" },
        entities: &[],
        config: &["reboot.maintenance", "reboot.in_maintenance"],
        runbook: RB_REBOOT,
    },
    Entry {
        id: crate::ids::WIN_1074_ID,
        title: "Windows shutdown or restart initiated",
        policy: Policy::UnexpectedReboot,
        level: Level::Medium,
        category: Category::SecurityIncident,
        source: Source::Native { detector: "reboot" },
        entities: &[],
        config: &["reboot.maintenance", "reboot.in_maintenance"],
        runbook: "Check the initiating process and user and the reason given. A planned \
            reason is reported at low severity; an unplanned one needs the owner's \
            confirmation.",
    },
    // Native: performance.
    Entry {
        id: crate::ids::PERF_ID,
        title: "Sustained performance degradation",
        policy: Policy::Performance,
        level: Level::Medium,
        category: Category::DenialOfService,
        source: Source::Native {
            detector: "performance",
        },
        entities: &[],
        config: &[
            "performance.value_fields",
            "performance.key_fields",
            "performance.alpha",
            "performance.warmup",
            "performance.k",
            "performance.min_relative",
            "performance.n",
            "performance.m",
        ],
        runbook: RB_PERF,
    },
];
