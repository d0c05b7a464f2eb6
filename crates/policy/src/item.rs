//! [`Policy`]: the watch-list items of the incident response policy.

use detect::Detection;
use serde::Serialize;

/// The incident response policy's watch-list items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Repeated login failures (including password spraying).
    BruteForce,
    /// Account lockouts.
    Lockout,
    /// Missing time spans in logs, or a source gone silent.
    LogGap,
    /// A reboot that was not planned.
    UnexpectedReboot,
    /// A network port open that was not open before.
    NewPort,
    /// Antivirus and EDR warnings.
    Antivirus,
    /// Password resets and MFA changes.
    PasswordReset,
    /// Logging switched off or reduced.
    LoggingDisabled,
    /// Sudden performance degradation.
    Performance,
    /// Website modification or defacement.
    WebChange,
}

impl Policy {
    /// Every item, in declaration order.
    pub const ALL: [Policy; 10] = [
        Policy::BruteForce,
        Policy::Lockout,
        Policy::LogGap,
        Policy::UnexpectedReboot,
        Policy::NewPort,
        Policy::Antivirus,
        Policy::PasswordReset,
        Policy::LoggingDisabled,
        Policy::Performance,
        Policy::WebChange,
    ];

    /// The stable snake_case name used in output and rule tags (and in
    /// [`Detection::policy`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            Policy::BruteForce => "brute_force",
            Policy::Lockout => "lockout",
            Policy::LogGap => "log_gap",
            Policy::UnexpectedReboot => "unexpected_reboot",
            Policy::NewPort => "new_port",
            Policy::Antivirus => "antivirus",
            Policy::PasswordReset => "password_reset",
            Policy::LoggingDisabled => "logging_disabled",
            Policy::Performance => "performance",
            Policy::WebChange => "web_change",
        }
    }

    /// The item of a stable name.
    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The item a detection is about, when it is a policy detection.
    pub fn of(detection: &Detection) -> Option<Policy> {
        detection.policy.and_then(Policy::from_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_ones() {
        // The names of docs/policy.md, written out by hand.
        let names = [
            "brute_force",
            "lockout",
            "log_gap",
            "unexpected_reboot",
            "new_port",
            "antivirus",
            "password_reset",
            "logging_disabled",
            "performance",
            "web_change",
        ];
        let ours: Vec<&str> = Policy::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(ours, names);
        for n in names {
            assert_eq!(Policy::from_name(n).map(Policy::as_str), Some(n));
        }
        assert_eq!(Policy::from_name("BruteForce"), None);
    }
}
