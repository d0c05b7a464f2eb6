//! Saved state: a detector stopped after part of its input, rebuilt from
//! the same configuration and given back its saved state, goes on as if it
//! had never stopped (the same detections, none repeated, none missing),
//! while a detector that starts fresh at the same point does not.
//!
//! Each case is a hand-written sequence whose detections are known by
//! hand; [`check`] runs it uninterrupted, resumed after a restore at a
//! chosen point and at every other point, and fresh from the chosen point.

extern crate watchpost_policy as policy;

mod common;

use common::{json_event, syslog_event};
use detect::{Detection, Detector};
use events::{Event, LogSource, Timestamp};
use policy::{
    GapsConfig, LoginConfig, MaintenanceAction, PerformanceConfig, RebootConfig, Secs, StateConfig,
    antivirus, gaps, login, perf, reboot,
};
use serde_json::json;

/// One step of a live run: an event, or the clock reaching a time with no
/// new event (unix seconds).
enum Step {
    Event(Event),
    Advance(i64),
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(secs).unwrap()
}

/// Feeds steps as a live driver does: only the events the detector wants.
fn feed(d: &mut dyn Detector, steps: &[Step], out: &mut Vec<Detection>) {
    let selector = d.selector();
    for step in steps {
        match step {
            Step::Event(e) => {
                if selector.wants(e) {
                    d.observe(e, out);
                }
            }
            Step::Advance(t) => d.advance(ts(*t), out),
        }
    }
}

fn uninterrupted(make: &dyn Fn() -> Box<dyn Detector>, steps: &[Step]) -> Vec<Detection> {
    let mut d = make();
    let mut out = Vec::new();
    feed(d.as_mut(), steps, &mut out);
    d.finish(&mut out);
    out
}

/// Runs `steps[..split]`, saves, builds a new detector, restores, and runs
/// the rest.
fn resumed(make: &dyn Fn() -> Box<dyn Detector>, steps: &[Step], split: usize) -> Vec<Detection> {
    let mut out = Vec::new();
    let mut before = make();
    feed(before.as_mut(), &steps[..split], &mut out);
    let saved = before.save().expect("a stateful detector saves its state");
    drop(before);
    let mut after = make();
    after.restore(&saved).unwrap();
    assert_eq!(
        after.save().unwrap(),
        saved,
        "restored state saves as the same bytes (split at {split})"
    );
    feed(after.as_mut(), &steps[split..], &mut out);
    after.finish(&mut out);
    out
}

/// A fresh detector fed only `steps[split..]`.
fn fresh_from(
    make: &dyn Fn() -> Box<dyn Detector>,
    steps: &[Step],
    split: usize,
) -> Vec<Detection> {
    uninterrupted(make, &steps[split..])
}

/// (rule id, record) of each detection.
fn ids(dets: &[Detection]) -> Vec<(&str, u64)> {
    dets.iter()
        .map(|d| (d.rule_id.as_str(), d.record))
        .collect()
}

/// The restore check of one case: `expected` uninterrupted, the same
/// detections resumed at `split` and at every other point, and
/// `fresh_expected` (something else) from a fresh detector at `split`.
fn check(
    make: &dyn Fn() -> Box<dyn Detector>,
    steps: &[Step],
    split: usize,
    expected: &[(&str, u64)],
    fresh_expected: &[(&str, u64)],
) {
    let all = uninterrupted(make, steps);
    assert_eq!(ids(&all), expected, "uninterrupted: {all:#?}");
    let resumed_at_split = resumed(make, steps, split);
    assert_eq!(ids(&resumed_at_split), expected);
    assert_eq!(resumed_at_split, all);
    let fresh = fresh_from(make, steps, split);
    assert_eq!(ids(&fresh), fresh_expected, "fresh: {fresh:#?}");
    assert_ne!(fresh, all, "the case must need the saved state");
    for at in 0..=steps.len() {
        assert_eq!(resumed(make, steps, at), all, "resumed at {at}");
    }
}

/// Garbage is refused, and the detector goes on as built, fresh.
fn check_garbage_refused(make: &dyn Fn() -> Box<dyn Detector>, steps: &[Step]) {
    let all = uninterrupted(make, steps);
    for garbage in [
        &b"not json"[..],
        b"",
        b"{}",
        b"[1,2,3]",
        br#"{"detector":"x","version":1,"config":"","key_hash":null,"state":{}}"#,
        &[0xff, 0xfe, 0x00],
    ] {
        let mut d = make();
        let fresh = d.save();
        assert!(d.restore(garbage).is_err(), "{garbage:?} accepted");
        assert_eq!(d.save(), fresh, "a refused restore changes nothing");
        let mut out = Vec::new();
        feed(d.as_mut(), steps, &mut out);
        d.finish(&mut out);
        assert_eq!(out, all, "works fresh after refusing {garbage:?}");
    }
}

/// State saved by `make` (after `steps`) is refused by `other` as saved
/// under another configuration, and `other` is left fresh.
fn check_other_config_refused(
    make: &dyn Fn() -> Box<dyn Detector>,
    other: &dyn Fn() -> Box<dyn Detector>,
    steps: &[Step],
) {
    let mut d = make();
    feed(d.as_mut(), steps, &mut Vec::new());
    let saved = d.save().unwrap();
    let mut o = other();
    let fresh = o.save();
    assert_eq!(
        o.restore(&saved),
        Err("saved under another configuration".to_string())
    );
    assert_eq!(o.save(), fresh);
    // The same configuration takes it.
    assert_eq!(make().restore(&saved), Ok(()));
}

// Login failures.

fn login_config() -> LoginConfig {
    LoginConfig {
        window: Secs(60),
        per_user: 10,
        per_source: 5,
        spray_users: 6,
        success_after: 3,
        cooldown: Secs(600),
    }
}

fn login_with(config: LoginConfig) -> Box<dyn Detector> {
    Box::new(login::LoginFailures::new(config, &StateConfig::default()))
}

fn login() -> Box<dyn Detector> {
    login_with(login_config())
}

fn syslog(lines: &[&str]) -> Vec<Step> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| Step::Event(syslog_event("auth.log", i as u64 + 1, l, 2024)))
        .collect()
}

/// Sixteen sshd lines. From 10.0.0.1: failures for u1..u5 at 0, 10, 20,
/// 30 and 40 s (the fifth, record 7, reaches `per_source` = 5), a success
/// at 45 s after 5 >= `success_after` = 3 failures (record 8), then v1..v5;
/// v1 (record 9) is the sixth distinct user in 60 s (`spray_users` = 6).
/// Cooldowns keep the later failures quiet. From 10.0.0.2: an `Invalid
/// user` line and its `Failed` line (one attempt), then three more: four,
/// below the threshold.
fn login_steps() -> Vec<Step> {
    syslog(&[
        "Mar  3 10:00:00 h sshd[1]: Failed password for u1 from 10.0.0.1 port 1 ssh2",
        "Mar  3 10:00:10 h sshd[2]: Failed password for u2 from 10.0.0.1 port 2 ssh2",
        "Mar  3 10:00:20 h sshd[77]: Invalid user zz from 10.0.0.2",
        "Mar  3 10:00:20 h sshd[3]: Failed password for u3 from 10.0.0.1 port 3 ssh2",
        "Mar  3 10:00:25 h sshd[77]: Failed password for invalid user zz from 10.0.0.2 port 9 ssh2",
        "Mar  3 10:00:30 h sshd[4]: Failed password for u4 from 10.0.0.1 port 4 ssh2",
        "Mar  3 10:00:40 h sshd[5]: Failed password for u5 from 10.0.0.1 port 5 ssh2",
        "Mar  3 10:00:45 h sshd[6]: Accepted password for u5 from 10.0.0.1 port 6 ssh2",
        "Mar  3 10:00:50 h sshd[7]: Failed password for v1 from 10.0.0.1 port 7 ssh2",
        "Mar  3 10:00:55 h sshd[78]: Failed password for y1 from 10.0.0.2 port 8 ssh2",
        "Mar  3 10:01:00 h sshd[8]: Failed password for v2 from 10.0.0.1 port 9 ssh2",
        "Mar  3 10:01:05 h sshd[79]: Failed password for y2 from 10.0.0.2 port 10 ssh2",
        "Mar  3 10:01:10 h sshd[9]: Failed password for v3 from 10.0.0.1 port 11 ssh2",
        "Mar  3 10:01:15 h sshd[80]: Failed password for y3 from 10.0.0.2 port 12 ssh2",
        "Mar  3 10:01:20 h sshd[10]: Failed password for v4 from 10.0.0.1 port 13 ssh2",
        "Mar  3 10:01:30 h sshd[11]: Failed password for v5 from 10.0.0.1 port 14 ssh2",
    ])
}

#[test]
fn login_resumes_after_restore() {
    check(
        &login,
        &login_steps(),
        // After three failures from 10.0.0.1 and the `Invalid user` line.
        4,
        &[
            ("watchpost.policy.login_failures.source", 7),
            ("watchpost.policy.login_failures.success_after_failures", 8),
            ("watchpost.policy.login_failures.spray", 9),
        ],
        // Fresh at record 5: 10.0.0.1's fifth failure is record 13 and its
        // sixth user record 15; the success follows only two failures.
        &[
            ("watchpost.policy.login_failures.source", 13),
            ("watchpost.policy.login_failures.spray", 15),
        ],
    );
}

#[test]
fn login_cooldown_survives_a_restore() {
    // Split right after the per-source detection (record 7): 10.0.0.1
    // fails five more times in 60 s (records 9 to 16), so a fresh detector
    // fires a second time at record 16; the restored one is in its
    // cooldown and does not repeat the detection.
    check(
        &login,
        &login_steps(),
        7,
        &[
            ("watchpost.policy.login_failures.source", 7),
            ("watchpost.policy.login_failures.success_after_failures", 8),
            ("watchpost.policy.login_failures.spray", 9),
        ],
        &[("watchpost.policy.login_failures.source", 16)],
    );
}

#[test]
fn login_refuses_garbage_and_another_configuration() {
    check_garbage_refused(&login, &login_steps());
    let other = || {
        login_with(LoginConfig {
            per_source: 6,
            ..login_config()
        })
    };
    check_other_config_refused(&login, &other, &login_steps()[..4]);
    let other_bounds = || {
        let state = StateConfig {
            max_keys: 100,
            ..StateConfig::default()
        };
        Box::new(login::LoginFailures::new(login_config(), &state)) as Box<dyn Detector>
    };
    check_other_config_refused(&login, &other_bounds, &login_steps()[..4]);
}

#[test]
fn a_restore_refused_late_changes_nothing() {
    // State that decodes and whose first tables are sound, but whose last
    // table repeats a key: refused, and the detector keeps what it had.
    let steps = login_steps();
    let mut saver = login();
    feed(saver.as_mut(), &steps[..4], &mut Vec::new());
    let mut value: serde_json::Value = serde_json::from_slice(&saver.save().unwrap()).unwrap();
    let pending = &mut value["state"]["invalid_pending"]["entries"];
    let entry = pending[0].clone();
    pending.as_array_mut().unwrap().push(entry);
    let bad = serde_json::to_vec(&value).unwrap();

    let mut d = login();
    let mut out = Vec::new();
    feed(d.as_mut(), &steps[..6], &mut out);
    let before = d.save();
    let err = d.restore(&bad).unwrap_err();
    assert_eq!(err, "saved state is inconsistent: a key is saved twice");
    assert_eq!(d.save(), before);
    feed(d.as_mut(), &steps[6..], &mut out);
    assert_eq!(out, uninterrupted(&login, &steps));
}

#[test]
fn another_version_or_detector_is_refused() {
    let steps = login_steps();
    let mut d = login();
    feed(d.as_mut(), &steps[..4], &mut Vec::new());
    let saved = d.save().unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&saved).unwrap();
    assert_eq!(value["version"], 1);
    value["version"] = json!(2);
    assert_eq!(
        login().restore(&serde_json::to_vec(&value).unwrap()),
        Err("saved state format version 2, expected 1".to_string())
    );
    assert_eq!(
        perf_detector().restore(&saved),
        Err("saved state of detector \"login_failures\", not \"performance\"".to_string())
    );
}

// Performance.

fn perf_with(config: PerformanceConfig) -> Box<dyn Detector> {
    Box::new(perf::Performance::new(config, &StateConfig::default()))
}

fn perf_detector() -> Box<dyn Detector> {
    perf_with(PerformanceConfig::default())
}

/// One latency point a minute for the checkout service.
fn perf_steps(values: &[f64]) -> Vec<Step> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut e = json_event(
                "metrics.ndjson",
                i as u64 + 1,
                json!({"service": "checkout", "latency_ms": v}),
            );
            e.meta.timestamp = Some(ts(1_700_000_000 + 60 * i as i64));
            Step::Event(e)
        })
        .collect()
}

/// 30 points around 100-118 ms (past the default warmup of 20), then ten
/// at 1000 ms: with the defaults (fire when 5 of the last 8 points
/// deviate), the fifth high point, record 35, fires, and the series stays
/// firing through record 40. Eight normal points (41 to 48) re-arm it,
/// and five more at 1000 ms fire again at record 53.
fn perf_values() -> Vec<f64> {
    let normal = |i: i32| 100.0 + f64::from(i % 7) * 3.0;
    let mut values: Vec<f64> = (0..30).map(normal).collect();
    values.extend([1000.0; 10]);
    values.extend((0..8).map(normal));
    values.extend([1000.0; 5]);
    values
}

#[test]
fn performance_resumes_after_restore() {
    check(
        &perf_detector,
        &perf_steps(&perf_values()),
        // The baseline is learned before the split, the spike after it.
        30,
        &[
            ("watchpost.policy.performance.degradation", 35),
            ("watchpost.policy.performance.degradation", 53),
        ],
        // Fresh, the first high point starts the series: records 31 to 50
        // are its warmup, and only three points are judged after it.
        &[],
    );
}

#[test]
fn performance_firing_series_does_not_fire_again_after_restore() {
    // Split after the detection: restored, the series is still firing and
    // stays quiet. State that forgot it is firing (edited here) fires again
    // at the next point, record 36: the flag has to be saved.
    let steps = perf_steps(&perf_values());
    assert_eq!(
        ids(&resumed(&perf_detector, &steps, 35)),
        [
            ("watchpost.policy.performance.degradation", 35),
            ("watchpost.policy.performance.degradation", 53),
        ]
    );
    let mut d = perf_detector();
    feed(d.as_mut(), &steps[..35], &mut Vec::new());
    let mut value: serde_json::Value = serde_json::from_slice(&d.save().unwrap()).unwrap();
    let series = &mut value["state"]["series"]["entries"][0][2];
    assert_eq!(series["firing"], true);
    series["firing"] = json!(false);
    let mut forgetful = perf_detector();
    forgetful
        .restore(&serde_json::to_vec(&value).unwrap())
        .unwrap();
    let mut out = Vec::new();
    feed(forgetful.as_mut(), &steps[35..], &mut out);
    assert_eq!(
        ids(&out),
        [
            ("watchpost.policy.performance.degradation", 36),
            ("watchpost.policy.performance.degradation", 53),
        ]
    );
}

#[test]
fn performance_refuses_garbage_and_another_configuration() {
    let steps = perf_steps(&perf_values());
    check_garbage_refused(&perf_detector, &steps);
    let other = || {
        perf_with(PerformanceConfig {
            alpha: 0.1,
            ..PerformanceConfig::default()
        })
    };
    check_other_config_refused(&perf_detector, &other, &steps[..30]);
}

// Reboots.

fn reboot_with(config: &RebootConfig) -> Box<dyn Detector> {
    Box::new(reboot::Reboots::new(config, &StateConfig::default()).unwrap())
}

fn reboots() -> Box<dyn Detector> {
    reboot_with(&RebootConfig::default())
}

/// Two hosts seen up at 10:00; db shuts down cleanly at 11:59. At 12:00
/// web boots with no clean shutdown (record 4) and logs a second boot line
/// of the same boot; db boots cleanly, then a second line of its boot.
fn reboot_steps() -> Vec<Step> {
    syslog(&[
        "Mar  3 10:00:00 web kernel: eth0: link up",
        "Mar  3 10:00:05 db kernel: eth0: link up",
        "Mar  3 11:59:00 db shutdown[99]: shutting down for system reboot",
        "Mar  3 12:00:00 web kernel: Linux version 6.1.0 (build@host) #1 SMP",
        "Mar  3 12:00:01 web kernel: Linux version 6.1.0 (build@host) #1 SMP",
        "Mar  3 12:00:30 db kernel: Linux version 6.1.0 (build@host) #1 SMP",
        "Mar  3 12:00:40 db kernel: Linux version 6.1.0 (build@host) #1 SMP",
    ])
}

#[test]
fn reboot_resumes_after_restore() {
    check(
        &reboots,
        &reboot_steps(),
        // After both hosts were seen up and db's clean shutdown.
        3,
        &[("watchpost.policy.unexpected_reboot.linux", 4)],
        // Fresh, nothing is known of either host before its boot.
        &[],
    );
}

#[test]
fn reboot_refuses_garbage_and_other_state_bounds_but_not_other_windows() {
    let steps = reboot_steps();
    check_garbage_refused(&reboots, &steps);
    let other = || {
        let state = StateConfig {
            max_keys: 10,
            ..StateConfig::default()
        };
        Box::new(reboot::Reboots::new(&RebootConfig::default(), &state).unwrap())
            as Box<dyn Detector>
    };
    check_other_config_refused(&reboots, &other, &steps[..3]);
    // Maintenance windows change what is reported, not the state: state
    // saved without them is taken back, and web's reboot (2024-03-03 is a
    // Sunday) is reported at low inside the window.
    let windows = RebootConfig {
        maintenance: vec!["Sun 11:30-12:30".into()],
        in_maintenance: MaintenanceAction::Low,
    };
    let mut d = reboots();
    feed(d.as_mut(), &steps[..3], &mut Vec::new());
    let mut w = reboot_with(&windows);
    w.restore(&d.save().unwrap()).unwrap();
    let mut out = Vec::new();
    feed(w.as_mut(), &steps[3..], &mut out);
    assert_eq!(ids(&out), [("watchpost.policy.unexpected_reboot.linux", 4)]);
    assert_eq!(out[0].level, detect::Level::Low);
}

// Gaps.

const T0: i64 = 1_700_000_000;

fn gaps_with(config: GapsConfig) -> Box<dyn Detector> {
    Box::new(gaps::Gaps::new(config, &StateConfig::default()))
}

fn gap_detector() -> Box<dyn Detector> {
    gaps_with(GapsConfig::default())
}

fn tick(record: u64, secs: i64) -> Step {
    let mut e = json_event("app.log", record, json!({"message": "tick"}));
    e.meta.timestamp = Some(ts(secs));
    e.meta.host = Some("h1".into());
    e.meta.logsource = LogSource::service("linux", "syslog");
    Step::Event(e)
}

/// One event a minute, records 1 to 60 (59 gaps of 60 s: with the
/// defaults, 50 samples learn a cadence, and the threshold is the 300 s
/// floor). The clock then reads 400 s after the last event: silent since
/// record 60; read again, still the same silence. Record 61 comes 600 s
/// after record 60: recovered.
fn gap_steps() -> Vec<Step> {
    let mut steps: Vec<Step> = (0..60).map(|i| tick(i + 1, T0 + 60 * i as i64)).collect();
    let last = T0 + 59 * 60;
    steps.push(Step::Advance(last + 400));
    steps.push(Step::Advance(last + 500));
    steps.push(tick(61, last + 600));
    steps
}

#[test]
fn gaps_resumes_after_restore() {
    check(
        &gap_detector,
        &gap_steps(),
        // After 40 events: 39 samples, not yet a learned cadence.
        40,
        &[
            ("watchpost.policy.log_gap.silent", 60),
            ("watchpost.policy.log_gap.recovered", 61),
        ],
        // Fresh, 20 events give 19 samples: no cadence, no silence.
        &[],
    );
}

#[test]
fn gaps_hole_above_the_learned_threshold_resumes_after_restore() {
    // One event a minute for 200 minutes, a 3-hour hole before record
    // 201, then 19 more: at the end of input the hole is a gap (the learned
    // threshold is the 300 s floor). Fresh after record 195, the source
    // has 24 samples: too few to learn, and too few events before the
    // hole to measure its density.
    let mut steps: Vec<Step> = (0..200).map(|i| tick(i + 1, T0 + 60 * i as i64)).collect();
    let after = T0 + 199 * 60 + 3 * 3600;
    steps.extend((0..20).map(|i| tick(201 + i, after + 60 * i as i64)));
    check(
        &gap_detector,
        &steps,
        195,
        &[("watchpost.policy.log_gap.gap", 201)],
        &[],
    );
    let all = uninterrupted(&gap_detector, &steps);
    assert_eq!(all[0].fields["kind"], "gap");
    assert_eq!(all[0].fields["seconds"], (3 * 3600).to_string());
}

#[test]
fn gaps_missing_window_resumes_after_restore() {
    // Events a second apart on both sides of a 10-minute hole before
    // record 41: a missing window (the hole is 600 times the local
    // spacing), found once 31 events follow it. Fresh after record 20,
    // there are too few events before the hole to measure its density.
    let mut steps: Vec<Step> = (0..40).map(|i| tick(i + 1, 5000 + i as i64)).collect();
    steps.extend((0..40).map(|i| tick(i + 41, 5039 + 600 + i as i64)));
    check(
        &gap_detector,
        &steps,
        20,
        &[("watchpost.policy.log_gap.gap", 41)],
        &[],
    );
    let all = uninterrupted(&gap_detector, &steps);
    assert_eq!(all[0].fields["kind"], "missing_window");
}

#[test]
fn gaps_learned_cadence_survives_a_restore() {
    // Learn the cadence, save, restore into a new detector, then the clock
    // passes the threshold: the restored detector reports the silence, a
    // fresh one has learned nothing.
    let steps = gap_steps();
    let mut learner = gap_detector();
    feed(learner.as_mut(), &steps[..60], &mut Vec::new());
    let saved = learner.save().unwrap();

    let mut restored = gap_detector();
    restored.restore(&saved).unwrap();
    let mut out = Vec::new();
    restored.advance(ts(T0 + 59 * 60 + 400), &mut out);
    assert_eq!(ids(&out), [("watchpost.policy.log_gap.silent", 60)]);
    assert_eq!(out[0].rule_id, gaps::SILENT_ID);
    assert_eq!(out[0].timestamp, Some(ts(T0 + 59 * 60 + 300)));
    assert_eq!(out[0].fields["expected_seconds"], "300");
    assert_eq!(out[0].host.as_deref(), Some("h1"));
    assert_eq!(&*out[0].file, "app.log");
    assert_eq!(out[0].logsource, LogSource::service("linux", "syslog"));

    let mut fresh = gap_detector();
    let mut none = Vec::new();
    fresh.advance(ts(T0 + 59 * 60 + 400), &mut none);
    assert!(none.is_empty(), "{none:#?}");
}

#[test]
fn gaps_refuses_garbage_and_another_configuration() {
    let steps = gap_steps();
    check_garbage_refused(&gap_detector, &steps);
    let other = || {
        gaps_with(GapsConfig {
            min_samples: 10,
            ..GapsConfig::default()
        })
    };
    check_other_config_refused(&gap_detector, &other, &steps[..40]);
}

#[test]
fn gaps_inconsistent_state_is_refused() {
    let steps = gap_steps();
    let mut d = gap_detector();
    feed(d.as_mut(), &steps[..60], &mut Vec::new());
    let value: serde_json::Value = serde_json::from_slice(&d.save().unwrap()).unwrap();
    let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = value.clone();
        edit(&mut v);
        let mut g = gap_detector();
        let err = g.restore(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(g.save(), gap_detector().save());
        err
    };
    assert_eq!(
        refused(&|v| v["state"]["sources"][0]["logsource"] = json!(7)),
        "saved state is inconsistent: a source's logsource is unknown"
    );
    assert_eq!(
        refused(&|v| {
            let hist = v["state"]["sources"][0]["learned"]["hist"]
                .as_array_mut()
                .unwrap();
            hist.push(hist[0].clone());
        }),
        "saved state is inconsistent: a gap histogram is out of order or range"
    );
    assert_eq!(
        refused(&|v| {
            let sources = v["state"]["sources"].as_array_mut().unwrap();
            sources.push(sources[0].clone());
        }),
        "saved state is inconsistent: a source is saved twice"
    );
}

// Antivirus.

#[test]
fn antivirus_keeps_no_state() {
    let mut d = antivirus::Antivirus;
    assert_eq!(d.save(), None);
    assert_eq!(d.restore(b"anything"), Ok(()));
}
