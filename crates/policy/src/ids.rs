//! The stable ids of the native detectors' detections. They live apart
//! from the detectors so that the catalogue, which describes every id,
//! and the detectors, which emit them, do not depend on each other.

// `antivirus`
/// Detection id: ClamAV found malware.
pub const CLAMAV_ID: &str = "watchpost.policy.antivirus.clamav";
/// Detection id: an EDR alert.
pub const EDR_ID: &str = "watchpost.policy.antivirus.edr";

// `login`
/// Detection id: too many failures for one user.
pub const PER_USER_ID: &str = "watchpost.policy.login_failures.user";
/// Detection id: too many failures from one address.
pub const PER_SOURCE_ID: &str = "watchpost.policy.login_failures.source";
/// Detection id: password spraying.
pub const SPRAY_ID: &str = "watchpost.policy.login_failures.spray";
/// Detection id: success after a burst of failures.
pub const SUCCESS_AFTER_ID: &str = "watchpost.policy.login_failures.success_after_failures";

// `gaps`
/// Detection id: a missing time span.
pub const GAP_ID: &str = "watchpost.policy.log_gap.gap";
/// Detection id: a source silent for longer than expected (live).
pub const SILENT_ID: &str = "watchpost.policy.log_gap.silent";
/// Detection id: a silent source sends events again (live).
pub const RECOVERED_ID: &str = "watchpost.policy.log_gap.recovered";
/// Detection id: time went backwards.
pub const BACKWARDS_ID: &str = "watchpost.policy.log_gap.time_backwards";
/// Detection id: time jumped forward by more than `clock_jump`.
pub const CLOCK_JUMP_ID: &str = "watchpost.policy.log_gap.clock_jump";

// `reboot`
/// Detection id: a Linux boot with no clean shutdown before it.
pub const LINUX_ID: &str = "watchpost.policy.unexpected_reboot.linux";
/// Detection id: Windows 6008.
pub const WIN_6008_ID: &str = "watchpost.policy.unexpected_reboot.windows_6008";
/// Detection id: Windows Kernel-Power 41.
pub const WIN_41_ID: &str = "watchpost.policy.unexpected_reboot.windows_41";
/// Detection id: Windows 1074.
pub const WIN_1074_ID: &str = "watchpost.policy.unexpected_reboot.windows_1074";

// `perf`
/// Detection id: sustained degradation.
pub const PERF_ID: &str = "watchpost.policy.performance.degradation";
