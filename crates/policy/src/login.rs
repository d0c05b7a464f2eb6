//! [`LoginFailures`]: repeated login failures per user and per source
//! address over a sliding time window, password spraying (many users
//! failing from one address), and a success that follows a burst of
//! failures.
//!
//! It first normalises each event into an attempt (outcome, user, source
//! address, service) across sshd/PAM syslog lines, Windows 4625/4771/4776
//! (and 4624 successes), Okta, Google Workspace, Entra ID sign-ins, GitHub
//! and AWS console logins, then keeps bounded per-key windows.
//!
//! One sshd attempt is counted once: an `Invalid user` line counts, and the
//! first `Failed ... for invalid user` line of the same sshd process
//! (host and pid) that follows it is the same attempt, so it does not
//! count again; a modern sshd's own PAM line (`pam_unix(sshd:auth):
//! authentication failure; ...`) repeats its `Failed` line and does not
//! count, while other PAM failures (su, login, old `sshd(pam_unix)` lines)
//! do; rsyslog's `message repeated N times: [ Failed ... ]` counts N.
//!
//! Saved state ([`Detector::save`]) holds the three keyed tables: each
//! user's and each address's failure times and cooldowns, each address's
//! recent distinct users and spraying cooldown, and the sshd processes
//! whose `Invalid user` line is still waiting for its `Failed` line.

use detect::{Detection, Detector};
use events::Event;
use serde::{Deserialize, Serialize};

pub use crate::ids::{PER_SOURCE_ID, PER_USER_ID, SPRAY_ID, SUCCESS_AFTER_ID};

use crate::config::{LoginConfig, StateConfig};
use crate::emit::{self, detection, entity, field};
use crate::fields;
use crate::keyed::{KeyedState, SavedKeys, hash_key};
use crate::saved::{self, RestoreError, Stamp};

/// Whether an attempt failed or succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The login failed.
    Failure,
    /// The login succeeded.
    Success,
}

/// One login attempt, normalised from any supported source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Failure or success.
    pub outcome: Outcome,
    /// The account name as the log writes it.
    pub user: Option<String>,
    /// The client address.
    pub source_ip: Option<String>,
    /// The service (`sshd`, `pam`, `windows`, `okta`, ...).
    pub service: &'static str,
    /// How many attempts this record stands for (`message repeated`).
    pub count: u32,
    /// True when accounts are local to the host (syslog, Windows local).
    pub host_scoped: bool,
}

/// Times are kept as seconds since 2000-01-01 in a `u32` (to 2136), so a
/// key's window costs 4 bytes per remembered failure.
const BASE: i64 = 946_684_800;

fn rel(t: i64) -> u32 {
    u32::try_from((t - BASE).clamp(0, i64::from(u32::MAX))).unwrap_or(u32::MAX)
}

/// Failure times held inline by a [`Window`]; more go to the heap.
const INLINE_TIMES: usize = 2;

/// The failure times of one key in the window (oldest first, at most the
/// largest threshold that reads them) and its cooldown. Most keys fail
/// once or twice: their times are held inline in 16 bytes, and only a key
/// with more failures in the window allocates.
///
/// Saved as its times and cooldown, whichever way they are held.
#[derive(Debug, Deserialize)]
#[serde(from = "SavedWindow")]
enum Window {
    Inline {
        len: u8,
        cooldown_until: u32,
        times: [u32; INLINE_TIMES],
    },
    Heap(Box<HeapWindow>),
}

#[derive(Debug)]
struct HeapWindow {
    times: Vec<u32>,
    cooldown_until: u32,
}

#[derive(Serialize)]
struct SavedWindowRef<'a> {
    times: &'a [u32],
    cooldown_until: u32,
}

#[derive(Deserialize)]
struct SavedWindow {
    times: Vec<u32>,
    cooldown_until: u32,
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SavedWindowRef {
            times: self.times(),
            cooldown_until: self.cooldown_until(),
        }
        .serialize(s)
    }
}

impl From<SavedWindow> for Window {
    fn from(saved: SavedWindow) -> Self {
        let SavedWindow {
            times: all,
            cooldown_until,
        } = saved;
        if all.len() <= INLINE_TIMES {
            let mut times = [0; INLINE_TIMES];
            times[..all.len()].copy_from_slice(&all);
            Window::Inline {
                len: all.len() as u8,
                cooldown_until,
                times,
            }
        } else {
            Window::Heap(Box::new(HeapWindow {
                times: all,
                cooldown_until,
            }))
        }
    }
}

impl Default for Window {
    fn default() -> Self {
        Window::Inline {
            len: 0,
            cooldown_until: 0,
            times: [0; INLINE_TIMES],
        }
    }
}

impl Window {
    fn times(&self) -> &[u32] {
        match self {
            Window::Inline { len, times, .. } => &times[..usize::from(*len)],
            Window::Heap(h) => &h.times,
        }
    }

    fn len(&self) -> usize {
        self.times().len()
    }

    fn cooldown_until(&self) -> u32 {
        match self {
            Window::Inline { cooldown_until, .. } => *cooldown_until,
            Window::Heap(h) => h.cooldown_until,
        }
    }

    fn set_cooldown_until(&mut self, t: u32) {
        match self {
            Window::Inline { cooldown_until, .. } => *cooldown_until = t,
            Window::Heap(h) => h.cooldown_until = t,
        }
    }

    fn push(&mut self, now: i64, n: u32, window: i64, cap: usize) {
        let t = rel(now);
        let k = n.min(u32::try_from(cap).unwrap_or(u32::MAX)) as usize;
        match self {
            Window::Inline { len, times, .. } if usize::from(*len) + k <= INLINE_TIMES => {
                let l = usize::from(*len);
                times[l..l + k].fill(t);
                *len += k as u8;
            }
            Window::Inline {
                len,
                cooldown_until,
                times,
            } => {
                let mut v = Vec::with_capacity(usize::from(*len) + k);
                v.extend_from_slice(&times[..usize::from(*len)]);
                v.resize(v.len() + k, t);
                *self = Window::Heap(Box::new(HeapWindow {
                    times: v,
                    cooldown_until: *cooldown_until,
                }));
            }
            Window::Heap(h) => h.times.resize(h.times.len() + k, t),
        }
        self.prune(now, window);
        if self.len() > cap {
            self.drop_oldest(self.len() - cap);
        }
    }

    fn prune(&mut self, now: i64, window: i64) {
        let now = i64::from(rel(now));
        let keep = self
            .times()
            .iter()
            .position(|t| now - i64::from(*t) <= window)
            .unwrap_or(self.len());
        self.drop_oldest(keep);
    }

    fn clear(&mut self) {
        self.drop_oldest(self.len());
    }

    /// Drops the `k` oldest times; a window that fits inline again moves
    /// back inline.
    fn drop_oldest(&mut self, k: usize) {
        if k == 0 {
            return;
        }
        match self {
            Window::Inline { len, times, .. } => {
                let l = usize::from(*len);
                times.copy_within(k..l, 0);
                *len = (l - k) as u8;
            }
            Window::Heap(h) => {
                h.times.drain(..k);
                if h.times.len() <= INLINE_TIMES {
                    let mut times = [0; INLINE_TIMES];
                    times[..h.times.len()].copy_from_slice(&h.times);
                    *self = Window::Inline {
                        len: h.times.len() as u8,
                        cooldown_until: h.cooldown_until,
                        times,
                    };
                }
            }
        }
    }
}

/// Distinct users failing from one address: (user hash, last failure),
/// in the order first seen. One user (the usual case) is held inline.
///
/// Saved as the list of (user hash, last failure), whichever way it is
/// held.
#[derive(Debug, Deserialize)]
#[serde(from = "Vec<(u64, u32)>")]
enum Users {
    Inline {
        len: u8,
        seen: u32,
        user: u64,
    },
    #[allow(
        clippy::box_collection,
        reason = "a thin pointer keeps the enum at 16 bytes"
    )]
    Heap(Box<Vec<(u64, u32)>>),
}

impl Default for Users {
    fn default() -> Self {
        Users::Inline {
            len: 0,
            seen: 0,
            user: 0,
        }
    }
}

impl Serialize for Users {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Users::Inline { len: 0, .. } => s.collect_seq(std::iter::empty::<(u64, u32)>()),
            Users::Inline { seen, user, .. } => s.collect_seq([(*user, *seen)]),
            Users::Heap(v) => s.collect_seq(v.iter()),
        }
    }
}

impl From<Vec<(u64, u32)>> for Users {
    fn from(all: Vec<(u64, u32)>) -> Self {
        let mut users = Users::Heap(Box::new(all));
        users.fit();
        users
    }
}

impl Users {
    fn len(&self) -> usize {
        match self {
            Users::Inline { len, .. } => usize::from(*len),
            Users::Heap(v) => v.len(),
        }
    }

    /// Keeps the users whose last failure is within `window` of `t`.
    fn retain_recent(&mut self, t: u32, window: i64) {
        let recent = |seen: u32| i64::from(t) - i64::from(seen) <= window;
        match self {
            Users::Inline { len, seen, .. } => {
                if *len == 1 && !recent(*seen) {
                    *len = 0;
                }
            }
            Users::Heap(v) => {
                v.retain(|(_, seen)| recent(*seen));
                self.fit();
            }
        }
    }

    /// Marks `user` as failing at `t`, adding it last when new.
    fn touch(&mut self, user: u64, t: u32) {
        match self {
            Users::Inline { len: 0, .. } => {
                *self = Users::Inline {
                    len: 1,
                    seen: t,
                    user,
                };
            }
            Users::Inline {
                seen, user: held, ..
            } if *held == user => *seen = t,
            Users::Inline {
                seen, user: held, ..
            } => {
                *self = Users::Heap(Box::new(vec![(*held, *seen), (user, t)]));
            }
            Users::Heap(v) => match v.iter_mut().find(|(u, _)| *u == user) {
                Some(slot) => slot.1 = t,
                None => v.push((user, t)),
            },
        }
    }

    /// Drops the user seen first.
    fn remove_first(&mut self) {
        match self {
            Users::Inline { len, .. } => *len = 0,
            Users::Heap(v) => {
                v.remove(0);
                self.fit();
            }
        }
    }

    /// Moves a list of at most one user back inline.
    fn fit(&mut self) {
        if let Users::Heap(v) = self
            && v.len() <= 1
        {
            *self = match v.first() {
                Some(&(user, seen)) => Users::Inline { len: 1, seen, user },
                None => Users::default(),
            };
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SourceState {
    failures: Window,
    users: Users,
    spray_cooldown_until: u32,
}

/// The login-failure detector.
#[derive(Debug)]
pub struct LoginFailures {
    config: LoginConfig,
    by_user: KeyedState<u64, Window>,
    by_source: KeyedState<u64, SourceState>,
    /// sshd processes that logged `Invalid user` and whose next
    /// `Failed ... for invalid user` line is the same attempt.
    invalid_pending: KeyedState<u64, ()>,
    /// The settings that shape the state, as saved state records them.
    fingerprint: String,
}

/// The version of the saved state's format.
const STATE_VERSION: u32 = 1;

/// Everything the detector learned from events, as saved.
#[derive(Serialize)]
struct SavedRef<'a> {
    by_user: &'a KeyedState<u64, Window>,
    by_source: &'a KeyedState<u64, SourceState>,
    invalid_pending: &'a KeyedState<u64, ()>,
}

/// [`SavedRef`], read back.
#[derive(Deserialize)]
struct Saved {
    by_user: SavedKeys<u64, Window>,
    by_source: SavedKeys<u64, SourceState>,
    invalid_pending: SavedKeys<u64, ()>,
}

impl LoginFailures {
    /// A detector with the given thresholds and state bounds.
    pub fn new(config: LoginConfig, state: &StateConfig) -> Self {
        let ttl = state.idle_ttl.0.max(config.window.0);
        Self {
            by_user: KeyedState::new(ttl, state.max_keys),
            by_source: KeyedState::new(ttl, state.max_keys),
            invalid_pending: KeyedState::new(3600, state.max_keys),
            // Every threshold and bound shapes the windows and tables.
            fingerprint: saved::fingerprint(&(&config, state)),
            config,
        }
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
        let by_user = self.by_user.restored(saved.by_user)?;
        let by_source = self.by_source.restored(saved.by_source)?;
        let invalid_pending = self.invalid_pending.restored(saved.invalid_pending)?;
        self.by_user = by_user;
        self.by_source = by_source;
        self.invalid_pending = invalid_pending;
        Ok(())
    }

    /// Keys held (users, addresses, pending sshd processes).
    pub fn keys(&self) -> usize {
        self.by_user.len() + self.by_source.len() + self.invalid_pending.len()
    }

    /// Normalises one event into an attempt, updating the sshd pid state.
    pub fn normalise(&mut self, event: &Event, now: i64) -> Option<Attempt> {
        if let Some(a) = windows_attempt(event) {
            return Some(a);
        }
        if let Some(a) = cloud_attempt(event) {
            return Some(a);
        }
        self.syslog_attempt(event, now)
    }

    fn syslog_attempt(&mut self, event: &Event, now: i64) -> Option<Attempt> {
        let raw = fields::message(event)?;
        // Parsers that do not recognise a tag (`sshd(pam_unix)[12]:`) leave
        // no program; the tag may then still open the message.
        let (program, pid, msg) = match fields::program(event) {
            Some(p) => (p.to_string(), fields::pid(event), raw),
            None => split_tag(raw).unwrap_or((String::new(), None, raw)),
        };
        let host = fields::host(event).unwrap_or_default();
        if program == "sshd" {
            let (msg, count) = match repeated(msg) {
                Some((inner, n)) => (inner, n),
                None => (msg, 1),
            };
            if let Some(rest) = msg.strip_prefix("Invalid user ") {
                let (user, ip) = user_from(rest)?;
                if let Some(pid) = &pid {
                    self.invalid_pending
                        .entry(hash_key(&[&host, pid]), now, || ());
                }
                return Some(ssh(Outcome::Failure, user, ip, count));
            }
            if let Some(rest) = msg.strip_prefix("Failed ") {
                let rest = rest.split_once(" for ")?.1;
                let (rest, invalid) = match rest.strip_prefix("invalid user ") {
                    Some(r) => (r, true),
                    None => (rest, false),
                };
                let (user, ip) = user_from(rest)?;
                let mut count = count;
                if invalid && let Some(pid) = &pid {
                    let key = hash_key(&[&host, pid]);
                    if self.invalid_pending.get(&key).is_some() {
                        // Same attempt as the `Invalid user` line.
                        self.invalid_pending.remove(&key);
                        count -= 1;
                        if count == 0 {
                            return None;
                        }
                    }
                }
                return Some(ssh(Outcome::Failure, user, ip, count));
            }
            if let Some(rest) = msg.strip_prefix("Accepted ") {
                let rest = rest.split_once(" for ")?.1;
                let (user, ip) = user_from(rest)?;
                return Some(ssh(Outcome::Success, user, ip, 1));
            }
        }
        // PAM failures (su, login, old `sshd(pam_unix)` lines, which some
        // parsers file under program `sshd`). A modern sshd's own PAM line
        // (`pam_unix(sshd:auth): ...`) repeats its `Failed` line.
        if msg.contains("authentication failure;") && !msg.starts_with("pam_unix(sshd:") {
            let user = fields::word_after(msg, " user=").map(str::to_string);
            let ip = fields::word_after(msg, "rhost=").map(str::to_string);
            return Some(Attempt {
                outcome: Outcome::Failure,
                user,
                source_ip: ip,
                service: "pam",
                count: 1,
                host_scoped: true,
            });
        }
        None
    }

    fn failure(&mut self, event: &Event, a: &Attempt, now: i64, out: &mut Vec<Detection>) {
        let cfg = &self.config;
        let window = i64::try_from(cfg.window.0).unwrap_or(i64::MAX);
        let cooldown = i64::try_from(cfg.cooldown.0).unwrap_or(i64::MAX);
        let host = fields::host(event);
        if let Some(user) = &a.user {
            let key = user_key(a, user, host.as_deref());
            let cap = cfg.per_user.max(cfg.success_after).max(1) as usize;
            let w = self.by_user.entry(key, now, Window::default);
            w.push(now, a.count, window, cap);
            if w.len() >= cfg.per_user as usize && rel(now) >= w.cooldown_until() {
                w.set_cooldown_until(rel(now.saturating_add(cooldown)));
                let n = w.len();
                let mut d = detection(PER_USER_ID, &event.meta, event.meta.timestamp, None);
                entity(&mut d, "user", Some(user));
                if a.host_scoped {
                    entity(&mut d, "host", host.as_deref());
                }
                entity(&mut d, "source_ip", a.source_ip.as_deref());
                common_fields(&mut d, a, n, cfg.window.0);
                out.push(d);
            }
        }
        if let Some(ip) = &a.source_ip {
            let cap = cfg.per_source.max(cfg.success_after).max(1) as usize;
            let s = self
                .by_source
                .entry(hash_key(&[ip]), now, SourceState::default);
            s.failures.push(now, a.count, window, cap);
            if s.failures.len() >= cfg.per_source as usize
                && rel(now) >= s.failures.cooldown_until()
            {
                s.failures
                    .set_cooldown_until(rel(now.saturating_add(cooldown)));
                let n = s.failures.len();
                let mut d = detection(PER_SOURCE_ID, &event.meta, event.meta.timestamp, None);
                entity(&mut d, "source_ip", Some(ip));
                entity(&mut d, "host", host.as_deref());
                common_fields(&mut d, a, n, cfg.window.0);
                out.push(d);
            }
            if let Some(user) = &a.user {
                let t = rel(now);
                s.users.retain_recent(t, window);
                s.users.touch(hash_key(&[&user.to_lowercase()]), t);
                let cap = cfg.spray_users.max(1) as usize;
                if s.users.len() > cap {
                    s.users.remove_first();
                }
                if s.users.len() >= cfg.spray_users as usize && t >= s.spray_cooldown_until {
                    s.spray_cooldown_until = rel(now.saturating_add(cooldown));
                    let mut d = detection(SPRAY_ID, &event.meta, event.meta.timestamp, None);
                    entity(&mut d, "source_ip", Some(ip));
                    entity(&mut d, "host", host.as_deref());
                    field(&mut d, "last_user", user);
                    field(&mut d, "distinct_users", s.users.len());
                    field(&mut d, "service", a.service);
                    field(&mut d, "window_seconds", cfg.window.0);
                    out.push(d);
                }
            }
        }
    }

    fn success(&mut self, event: &Event, a: &Attempt, now: i64, out: &mut Vec<Detection>) {
        let cfg = &self.config;
        let window = i64::try_from(cfg.window.0).unwrap_or(i64::MAX);
        let host = fields::host(event);
        let mut by_user = 0;
        if let Some(user) = &a.user {
            let key = user_key(a, user, host.as_deref());
            if let Some(w) = self.by_user.get_mut(&key) {
                w.prune(now, window);
                by_user = w.len();
                w.clear();
            }
        }
        let mut by_source = 0;
        if let Some(ip) = &a.source_ip
            && let Some(s) = self.by_source.get_mut(&hash_key(&[ip]))
        {
            s.failures.prune(now, window);
            by_source = s.failures.len();
        }
        let needed = cfg.success_after.max(1) as usize;
        if by_user >= needed || by_source >= needed {
            let mut d = detection(SUCCESS_AFTER_ID, &event.meta, event.meta.timestamp, None);
            entity(&mut d, "user", a.user.as_deref());
            entity(&mut d, "source_ip", a.source_ip.as_deref());
            entity(&mut d, "host", host.as_deref());
            field(&mut d, "failures_for_user", by_user);
            field(&mut d, "failures_from_source", by_source);
            field(&mut d, "service", a.service);
            field(&mut d, "window_seconds", cfg.window.0);
            out.push(d);
        }
    }
}

fn common_fields(d: &mut Detection, a: &Attempt, n: usize, window: u64) {
    field(d, "failures", n);
    field(d, "window_seconds", window);
    field(d, "service", a.service);
}

fn user_key(a: &Attempt, user: &str, host: Option<&str>) -> u64 {
    let user = user.to_lowercase();
    let host = if a.host_scoped {
        host.unwrap_or("")
    } else {
        ""
    };
    hash_key(&[a.service_scope(), host, &user])
}

impl Attempt {
    fn service_scope(&self) -> &'static str {
        match self.service {
            // Local accounts: sshd and PAM share the host's user database.
            "sshd" | "pam" => "unix",
            s => s,
        }
    }
}

fn ssh(outcome: Outcome, user: String, ip: String, count: u32) -> Attempt {
    Attempt {
        outcome,
        // sshd logs `Invalid user  from ...` for an empty name.
        user: (!user.is_empty()).then_some(user),
        source_ip: Some(ip),
        service: "sshd",
        count,
        host_scoped: true,
    }
}

/// `USER from IP[ port N ...]` → (user, ip). The user may contain spaces
/// in principle, so split at the last ` from `.
fn user_from(rest: &str) -> Option<(String, String)> {
    let (user, after) = rest.rsplit_once(" from ")?;
    let ip = after.split_whitespace().next()?;
    Some((user.trim().to_string(), ip.to_string()))
}

/// rsyslog's `message repeated N times: [ MSG]`.
fn repeated(msg: &str) -> Option<(&str, u32)> {
    let rest = msg.strip_prefix("message repeated ")?;
    let (n, rest) = rest.split_once(" times: [")?;
    let n: u32 = n.trim().parse().ok()?;
    let inner = rest.trim_end().strip_suffix(']').unwrap_or(rest).trim();
    Some((inner, n))
}

/// `prog[pid]: message` → (prog, pid, message), for records whose
/// parser left the tag in the message.
fn split_tag(raw: &str) -> Option<(String, Option<String>, &str)> {
    let (tag, msg) = raw.split_once(": ")?;
    if tag.contains(' ') {
        return None;
    }
    match tag.split_once('[') {
        Some((p, rest)) => Some((
            p.to_string(),
            Some(rest.trim_end_matches(']').to_string()),
            msg,
        )),
        None => Some((tag.to_string(), None, msg)),
    }
}

fn windows_attempt(event: &Event) -> Option<Attempt> {
    let id = fields::event_id(event)?;
    if let Some(ch) = fields::channel(event)
        && !ch.eq_ignore_ascii_case("security")
    {
        return None;
    }
    let user = fields::event_data(event, "TargetUserName");
    let ip = fields::event_data(event, "IpAddress").map(|ip| fields::clean_ip(&ip));
    let outcome = match id {
        4625 | 4771 => Outcome::Failure,
        4776 => {
            let status = fields::event_data(event, "Status").unwrap_or_default();
            if status == "0x0" || status == "0" {
                Outcome::Success
            } else {
                Outcome::Failure
            }
        }
        4624 => Outcome::Success,
        _ => return None,
    };
    // Machine accounts log on all the time; their failures are not
    // password guessing.
    if outcome == Outcome::Success && user.as_deref().is_some_and(|u| u.ends_with('$')) {
        return None;
    }
    let ip = ip.filter(|i| i != "127.0.0.1" && i != "::1");
    let domain = fields::event_data(event, "TargetDomainName");
    let user = user.map(|u| match &domain {
        Some(d) if !d.is_empty() => format!("{d}\\{u}"),
        _ => u,
    });
    Some(Attempt {
        outcome,
        user,
        source_ip: ip,
        service: "windows",
        count: 1,
        host_scoped: domain.is_none(),
    })
}

fn cloud_attempt(event: &Event) -> Option<Attempt> {
    let cloud = |outcome, user, ip, service| {
        Some(Attempt {
            outcome,
            user,
            source_ip: ip,
            service,
            count: 1,
            host_scoped: false,
        })
    };
    // Okta.
    if let Some(kind) = fields::text(event, "eventType") {
        if kind == "user.session.start" || kind == "user.authentication.auth_via_mfa" {
            let result = fields::text(event, "outcome.result")?;
            let outcome = match result.as_str() {
                "SUCCESS" => Outcome::Success,
                "FAILURE" | "DENY" => Outcome::Failure,
                _ => return None,
            };
            return cloud(
                outcome,
                fields::text(event, "actor.alternateId"),
                fields::text(event, "client.ipAddress"),
                "okta",
            );
        }
        if kind == "ConsoleLogin" {
            // Not Okta: fall through to CloudTrail below.
        } else if fields::text(event, "eventName").is_none() {
            return None;
        }
    }
    // AWS console.
    if fields::text(event, "eventName").as_deref() == Some("ConsoleLogin") {
        let outcome = match fields::text(event, "responseElements.ConsoleLogin")?.as_str() {
            "Success" => Outcome::Success,
            "Failure" => Outcome::Failure,
            _ => return None,
        };
        let user = fields::first_text(
            event,
            &[
                "userIdentity.userName",
                "additionalEventData.UserName",
                "userIdentity.arn",
            ],
        );
        return cloud(outcome, user, fields::text(event, "sourceIPAddress"), "aws");
    }
    // Google Workspace.
    if fields::text(event, "id.applicationName").as_deref() == Some("login") {
        let outcome = match fields::text(event, "name")?.as_str() {
            "login_failure" => Outcome::Failure,
            "login_success" => Outcome::Success,
            _ => return None,
        };
        return cloud(
            outcome,
            fields::text(event, "actor.email"),
            fields::text(event, "ipAddress"),
            "google_workspace",
        );
    }
    // Entra ID sign-in logs.
    let category = fields::text(event, "category");
    if category.as_deref() == Some("SignInLogs")
        || category.as_deref() == Some("NonInteractiveUserSignInLogs")
    {
        let code = fields::text(event, "properties.status.errorCode")
            .or_else(|| fields::text(event, "resultType"))?;
        let outcome = if code == "0" {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        return cloud(
            outcome,
            fields::text(event, "properties.userPrincipalName"),
            fields::first_text(event, &["properties.ipAddress", "callerIpAddress"]),
            "entra",
        );
    }
    // GitHub.
    if let Some(action) = fields::text(event, "action") {
        let outcome = match action.as_str() {
            "user.failed_login" => Outcome::Failure,
            "user.login" => Outcome::Success,
            _ => return None,
        };
        return cloud(
            outcome,
            fields::first_text(event, &["user", "actor"]),
            fields::text(event, "actor_ip"),
            "github",
        );
    }
    None
}

/// The events the detector wants (its [`detect::Selector`]).
fn wants(event: &Event) -> bool {
    if event.meta.timestamp.is_none() {
        return false;
    }
    if let Some(id) = fields::event_id(event) {
        return matches!(id, 4624 | 4625 | 4771 | 4776);
    }
    if let Some(m) = fields::message(event) {
        return [
            "Failed ",
            "Invalid user ",
            "Accepted ",
            "authentication failure;",
            "message repeated ",
        ]
        .iter()
        .any(|needle| m.contains(needle));
    }
    let is = |path: &str, values: &[&str]| event.get_str(path).is_some_and(|v| values.contains(&v));
    is(
        "eventType",
        &["user.session.start", "user.authentication.auth_via_mfa"],
    ) || is("eventName", &["ConsoleLogin"])
        || is("id.applicationName", &["login"])
        || is("category", &["SignInLogs", "NonInteractiveUserSignInLogs"])
        || is("action", &["user.failed_login", "user.login"])
}

impl Detector for LoginFailures {
    fn name(&self) -> &'static str {
        "login_failures"
    }

    fn selector(&self) -> std::sync::Arc<dyn detect::Selector> {
        std::sync::Arc::new(wants)
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Detection>) {
        let Some(ts) = event.meta.timestamp else {
            return;
        };
        let now = emit::secs(ts);
        let Some(attempt) = self.normalise(event, now) else {
            return;
        };
        match attempt.outcome {
            Outcome::Failure => self.failure(event, &attempt, now, out),
            Outcome::Success => self.success(event, &attempt, now, out),
        }
    }

    fn save(&self) -> Option<Vec<u8>> {
        saved::encode(
            &self.stamp(),
            SavedRef {
                by_user: &self.by_user,
                by_source: &self.by_source,
                invalid_pending: &self.invalid_pending,
            },
        )
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.restore_state(state).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-key state, in bytes: a user's window and an address's state,
    /// and their slots in the keyed tables (key hash, last seen, state).
    #[test]
    fn per_key_state_is_compact() {
        assert_eq!(std::mem::size_of::<Window>(), 16);
        assert_eq!(std::mem::size_of::<Users>(), 16);
        assert_eq!(std::mem::size_of::<SourceState>(), 40);
        assert_eq!(KeyedState::<u64, Window>::SLOT_BYTES, 32);
        assert_eq!(KeyedState::<u64, SourceState>::SLOT_BYTES, 56);
    }

    const T0: i64 = 1_700_000_000;

    fn inline(w: &Window) -> bool {
        matches!(w, Window::Inline { .. })
    }

    #[test]
    fn window_spills_past_two_times_and_comes_back() {
        let mut w = Window::default();
        w.push(T0, 1, 60, 10);
        w.push(T0 + 1, 1, 60, 10);
        assert!(inline(&w));
        assert_eq!(w.times(), [rel(T0), rel(T0 + 1)]);
        w.set_cooldown_until(7);
        w.push(T0 + 2, 3, 60, 10);
        assert!(!inline(&w));
        assert_eq!(w.len(), 5);
        assert_eq!(w.cooldown_until(), 7);
        // 62 s on, the first two times have left the window; three stay.
        w.prune(T0 + 62, 60);
        assert_eq!(w.len(), 3);
        assert!(!inline(&w));
        // Two minutes later none is left, and the window is inline again.
        w.prune(T0 + 120, 60);
        assert_eq!(w.len(), 0);
        assert!(inline(&w));
        assert_eq!(w.cooldown_until(), 7);
    }

    #[test]
    fn window_keeps_the_newest_up_to_the_cap() {
        let mut w = Window::default();
        for i in 0..6 {
            w.push(T0 + i, 1, 600, 4);
        }
        assert_eq!(
            w.times(),
            [rel(T0 + 2), rel(T0 + 3), rel(T0 + 4), rel(T0 + 5)]
        );
        // `message repeated 9 times` counts at most the cap.
        w.push(T0 + 10, 9, 600, 4);
        assert_eq!(w.times(), [rel(T0 + 10); 4]);
        w.clear();
        assert_eq!(w.len(), 0);
        assert!(inline(&w));
    }

    #[test]
    fn users_keep_order_and_expire() {
        let mut u = Users::default();
        u.touch(1, 100);
        u.touch(1, 110);
        assert_eq!(u.len(), 1);
        assert!(matches!(u, Users::Inline { seen: 110, .. }));
        u.touch(2, 120);
        u.touch(3, 130);
        assert_eq!(u.len(), 3);
        u.remove_first();
        u.retain_recent(185, 60);
        // User 2 (last failed at 120) is more than 60 s old at 185.
        assert!(matches!(
            u,
            Users::Inline {
                len: 1,
                user: 3,
                seen: 130
            }
        ));
        u.retain_recent(191, 60);
        assert_eq!(u.len(), 0);
    }
}
