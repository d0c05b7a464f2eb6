//! Data-driven tests of each native detector, on fixtures written here.

extern crate watchpost_policy as policy;

mod common;

use common::{json_event, run, run_in_order, syslog_event, with_id};
use detect::{Detection, Detector, Level};
use events::{Event, Timestamp};
use policy::Policy;
use policy::{
    GapsConfig, LoginConfig, MaintenanceAction, PerformanceConfig, PolicyConfig, RebootConfig,
    Secs, StateConfig, gaps, login, perf, reboot,
};
use serde_json::json;

fn login_detector(cfg: LoginConfig) -> Vec<Box<dyn Detector>> {
    vec![Box::new(login::LoginFailures::new(
        cfg,
        &StateConfig::default(),
    ))]
}

fn small_login() -> LoginConfig {
    LoginConfig {
        window: Secs(60),
        per_user: 3,
        per_source: 3,
        spray_users: 3,
        success_after: 2,
        cooldown: Secs(600),
    }
}

fn lines(lines: &[&str]) -> Vec<Event> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| syslog_event("auth.log", i as u64 + 1, l, 2024))
        .collect()
}

/// One check per case: the log lines and the detections (id, entity key,
/// entity value) expected, in order.
fn check_login(case: &str, input: &[&str], expected: &[(&str, &str, &str)]) {
    let dets = run(&mut login_detector(small_login()), lines(input));
    let got: Vec<(String, String)> = dets
        .iter()
        .map(|d| {
            let (k, v) = expected
                .iter()
                .find(|(id, _, _)| *id == d.rule_id)
                .map(|(_, k, _)| (*k, d.entities.get(*k).cloned().unwrap_or_default()))
                .unwrap_or(("?", String::new()));
            (d.rule_id.clone(), format!("{k}={v}"))
        })
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(id, k, v)| (id.to_string(), format!("{k}={v}")))
        .collect();
    assert_eq!(got, want, "case {case}");
    for d in &dets {
        assert_eq!(d.policy, Some(Policy::BruteForce.as_str()), "case {case}");
    }
}

#[test]
fn login_failures_cases() {
    check_login(
        "three failures from one address in the window",
        &[
            "Mar  3 10:00:00 h sshd[1]: Failed password for root from 10.0.0.1 port 1 ssh2",
            "Mar  3 10:00:10 h sshd[2]: Failed password for admin from 10.0.0.1 port 2 ssh2",
            "Mar  3 10:00:20 h sshd[3]: Failed password for root from 10.0.0.1 port 3 ssh2",
        ],
        &[(login::PER_SOURCE_ID, "source_ip", "10.0.0.1")],
    );
    check_login(
        "failures spread beyond the window do not fire",
        &[
            "Mar  3 10:00:00 h sshd[1]: Failed password for root from 10.0.0.1 port 1 ssh2",
            "Mar  3 10:01:10 h sshd[2]: Failed password for root from 10.0.0.1 port 2 ssh2",
            "Mar  3 10:02:20 h sshd[3]: Failed password for root from 10.0.0.1 port 3 ssh2",
        ],
        &[],
    );
    check_login(
        "one user from many addresses",
        &[
            "Mar  3 10:00:00 h sshd[1]: Failed password for bob from 10.0.0.1 port 1 ssh2",
            "Mar  3 10:00:01 h sshd[2]: Failed password for bob from 10.0.0.2 port 2 ssh2",
            "Mar  3 10:00:02 h sshd[3]: Failed password for bob from 10.0.0.3 port 3 ssh2",
        ],
        &[(login::PER_USER_ID, "user", "bob")],
    );
    check_login(
        "message repeated counts each repetition",
        &[
            "Mar  3 10:00:00 h sshd[1]: message repeated 3 times: [ Failed password for root from 10.0.0.9 port 1 ssh2]",
        ],
        &[
            (login::PER_USER_ID, "user", "root"),
            (login::PER_SOURCE_ID, "source_ip", "10.0.0.9"),
        ],
    );
    check_login(
        "invalid user and its failed line are one attempt",
        &[
            "Mar  3 10:00:00 h sshd[7]: Invalid user zz from 10.0.0.5",
            "Mar  3 10:00:01 h sshd[7]: Failed password for invalid user zz from 10.0.0.5 port 9 ssh2",
            "Mar  3 10:00:02 h sshd[8]: Invalid user yy from 10.0.0.5",
            "Mar  3 10:00:03 h sshd[8]: Failed password for invalid user yy from 10.0.0.5 port 9 ssh2",
        ],
        &[],
    );
    check_login(
        "password spraying",
        &[
            "Mar  3 10:00:00 h sshd[1]: Failed password for a from 10.0.0.7 port 1 ssh2",
            "Mar  3 10:00:01 h sshd[2]: Invalid user b from 10.0.0.7",
            "Mar  3 10:00:02 h sshd[3]: Failed password for c from 10.0.0.7 port 1 ssh2",
        ],
        &[
            (login::PER_SOURCE_ID, "source_ip", "10.0.0.7"),
            (login::SPRAY_ID, "source_ip", "10.0.0.7"),
        ],
    );
    check_login(
        "success after failures",
        &[
            "Mar  3 10:00:00 h sshd[1]: Failed password for eve from 10.0.0.8 port 1 ssh2",
            "Mar  3 10:00:05 h sshd[2]: Failed password for eve from 10.0.0.8 port 1 ssh2",
            "Mar  3 10:00:09 h sshd[3]: Accepted password for eve from 10.0.0.8 port 1 ssh2",
        ],
        &[(login::SUCCESS_AFTER_ID, "user", "eve")],
    );
    check_login(
        "PAM failures from sshd itself repeat its Failed line",
        &[
            "Mar  3 10:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.3  user=root",
            "Mar  3 10:00:01 h sshd[2]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.3  user=root",
            "Mar  3 10:00:02 h sshd[3]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.3  user=root",
        ],
        &[],
    );
    // A parser that left no program: the PAM line still counts.
    let mut d = login::LoginFailures::new(LoginConfig::default(), &StateConfig::default());
    let mut e = json_event(
        "x",
        1,
        json!({"message": "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root"}),
    );
    e.meta.timestamp = Some(ts(1_700_000_000));
    assert!(d.selector().wants(&e));
    let a = d.normalise(&e, 0).expect("a PAM failure");
    assert_eq!(a.source_ip.as_deref(), Some("218.188.2.4"));
    assert_eq!(a.user.as_deref(), Some("root"));
    // The same line filed under program `sshd` by a parser still counts;
    // sshd's own `pam_unix(sshd:auth)` line does not.
    let mut e2 = e.clone();
    e2.fields.insert("program".into(), json!("sshd"));
    assert!(d.normalise(&e2, 0).is_some());
    e2.fields.insert(
        "message".into(),
        json!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root"),
    );
    assert!(d.normalise(&e2, 0).is_none());
    check_login(
        "old-style sshd(pam_unix) failures count",
        &[
            "Jun 14 15:16:01 combo sshd(pam_unix)[1]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
            "Jun 14 15:16:02 combo sshd(pam_unix)[2]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
            "Jun 14 15:16:03 combo sshd(pam_unix)[3]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root",
        ],
        &[(login::PER_SOURCE_ID, "source_ip", "218.188.2.4")],
    );
}

/// Normalisation across the cloud and Windows sources: (record, expected
/// outcome, user, source address).
#[test]
fn login_normalisation_across_sources() {
    let cases = [
        (
            json!({"EventID": 4625, "Channel": "Security", "TargetUserName": "bob", "TargetDomainName": "CORP", "IpAddress": "::ffff:10.1.1.1"}),
            Some((login::Outcome::Failure, "CORP\\bob", "10.1.1.1")),
        ),
        (
            json!({"Event": {"System": {"EventID": 4771, "Channel": "Security"}, "EventData": {"TargetUserName": "amy", "IpAddress": "10.1.1.2"}}}),
            Some((login::Outcome::Failure, "amy", "10.1.1.2")),
        ),
        (
            json!({"eventType": "user.session.start", "outcome": {"result": "FAILURE"}, "actor": {"alternateId": "h@x.io"}, "client": {"ipAddress": "1.1.1.1"}}),
            Some((login::Outcome::Failure, "h@x.io", "1.1.1.1")),
        ),
        (
            json!({"eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Failure"}, "userIdentity": {"userName": "alice"}, "sourceIPAddress": "2.2.2.2"}),
            Some((login::Outcome::Failure, "alice", "2.2.2.2")),
        ),
        (
            json!({"id": {"applicationName": "login"}, "name": "login_failure", "actor": {"email": "bob@example.com"}, "ipAddress": "3.3.3.3"}),
            Some((login::Outcome::Failure, "bob@example.com", "3.3.3.3")),
        ),
        (
            json!({"category": "SignInLogs", "properties": {"status": {"errorCode": 50126}, "userPrincipalName": "a@lotr.com", "ipAddress": "4.4.4.4"}}),
            Some((login::Outcome::Failure, "a@lotr.com", "4.4.4.4")),
        ),
        (
            json!({"action": "user.failed_login", "actor": "octo", "actor_ip": "5.5.5.5"}),
            Some((login::Outcome::Failure, "octo", "5.5.5.5")),
        ),
        (
            json!({"eventType": "user.account.lock", "actor": {"alternateId": "h@x.io"}}),
            None,
        ),
        (json!({"EventID": 4688, "Channel": "Security"}), None),
    ];
    let mut d = login::LoginFailures::new(LoginConfig::default(), &StateConfig::default());
    for (i, (record, want)) in cases.into_iter().enumerate() {
        let mut e = json_event("x", i as u64, record.clone());
        e.meta.timestamp = Some(ts(1_700_000_000));
        assert_eq!(
            d.selector().wants(&e),
            want.is_some(),
            "interested in {record}"
        );
        let got = d.normalise(&e, 0);
        let got = got.map(|a| (a.outcome, a.user.unwrap(), a.source_ip.unwrap()));
        let want = want.map(|(o, u, ip)| (o, u.to_string(), ip.to_string()));
        assert_eq!(got, want, "record {record}");
    }
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(secs).unwrap()
}

fn timed(source: &str, record: u64, secs: i64) -> Event {
    let mut e = json_event(source, record, json!({"message": "tick"}));
    e.meta.timestamp = Some(ts(secs));
    e.meta.host = Some("h1".into());
    e
}

fn gaps_detector(cfg: GapsConfig) -> Vec<Box<dyn Detector>> {
    vec![Box::new(gaps::Gaps::new(cfg, &StateConfig::default()))]
}

#[test]
fn gaps_learned_threshold_reports_the_hole() {
    // One event a minute for 200 minutes, then a 3-hour hole, then 100 more.
    let mut events = Vec::new();
    let mut t = 1_700_000_000;
    for i in 0..300u64 {
        if i == 200 {
            t += 3 * 3600;
        } else {
            t += 60;
        }
        events.push(timed("app.log", i + 1, t));
    }
    let dets = run_in_order(&mut gaps_detector(GapsConfig::default()), &events);
    let gaps = with_id(&dets, gaps::GAP_ID);
    assert_eq!(gaps.len(), 1, "{dets:#?}");
    let g = gaps[0];
    assert_eq!(g.fields["seconds"], (3 * 3600).to_string());
    assert_eq!(g.record, 201);
    assert_eq!(g.fields["kind"], "gap");
    // Learned: 99th percentile 60 s (rounded up to its bucket) x 4, but at
    // least the 5-minute floor.
    assert_eq!(g.fields["expected_seconds"], "300");
    assert_eq!(g.policy, Some(Policy::LogGap.as_str()));
    assert_eq!(g.host.as_deref(), Some("h1"));
}

#[test]
fn gaps_backwards_and_clock_jump() {
    let events = vec![
        timed("a.log", 1, 1_000_000),
        timed("a.log", 2, 1_000_010),
        timed("a.log", 3, 999_000),
        timed("a.log", 4, 999_030),
        timed("a.log", 5, 999_030 + 40 * 86_400),
    ];
    let dets = run_in_order(&mut gaps_detector(GapsConfig::default()), &events);
    let back = with_id(&dets, gaps::BACKWARDS_ID);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].record, 3);
    let jump = with_id(&dets, gaps::CLOCK_JUMP_ID);
    assert_eq!(jump.len(), 1);
    assert_eq!(jump[0].record, 5);
}

#[test]
fn gaps_fixed_min_gap_and_dense_window() {
    // Dense (1 s apart) on both sides of a 10-minute hole: a missing
    // window even though the source has too few samples to learn from.
    let mut events = Vec::new();
    for i in 0..40 {
        events.push(timed("d.log", i + 1, 5000 + i as i64));
    }
    for i in 0..40 {
        events.push(timed("d.log", i + 41, 5039 + 600 + i as i64));
    }
    let dets = run_in_order(&mut gaps_detector(GapsConfig::default()), &events);
    let gaps = with_id(&dets, gaps::GAP_ID);
    assert_eq!(gaps.len(), 1, "{dets:#?}");
    assert_eq!(gaps[0].fields["kind"], "missing_window");
    assert_eq!(gaps[0].fields["seconds"], "600");
    assert_eq!(gaps[0].level, Level::Low);
    // With a fixed 20-minute threshold the hole is not a gap of kind gap.
    let cfg = GapsConfig {
        min_gap: Some(Secs(1200)),
        dense_factor: 1e9,
        ..GapsConfig::default()
    };
    let dets = run_in_order(&mut gaps_detector(cfg), &events);
    assert!(with_id(&dets, gaps::GAP_ID).is_empty(), "{dets:#?}");
}

#[test]
fn gaps_live_silent_once_then_recovered() {
    let cfg = GapsConfig {
        min_gap: Some(Secs(600)),
        ..GapsConfig::default()
    };
    let mut d = gaps::Gaps::new(cfg, &StateConfig::default());
    let mut out = Vec::new();
    d.observe(&timed("live", 1, 10_000), &mut out);
    d.observe(&timed("live", 2, 10_060), &mut out);
    d.advance(ts(10_500), &mut out);
    assert!(out.is_empty(), "not silent long enough: {out:#?}");
    d.advance(ts(10_700), &mut out);
    d.advance(ts(11_000), &mut out);
    assert_eq!(
        with_id(&out, gaps::SILENT_ID).len(),
        1,
        "fires once: {out:#?}"
    );
    assert_eq!(out[0].fields["silent_since"], "1970-01-01T02:47:40Z");
    // Dated when it became overdue (10_060 + 600), whatever the clock read
    // when it was seen: found again by a replay, it is the same detection.
    assert_eq!(out[0].timestamp, Some(ts(10_660)));
    assert_eq!(out[0].fields["expected_seconds"], "600");
    d.observe(&timed("live", 3, 11_100), &mut out);
    let rec = with_id(&out, gaps::RECOVERED_ID);
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].fields["seconds"], "1040");
    d.advance(ts(11_200), &mut out);
    assert_eq!(out.len(), 2, "quiet again after recovery: {out:#?}");
}

fn reboot_run(cfg: RebootConfig, input: &[&str]) -> Vec<Detection> {
    let mut d: Vec<Box<dyn Detector>> = vec![Box::new(
        reboot::Reboots::new(&cfg, &StateConfig::default()).unwrap(),
    )];
    run(&mut d, lines(input))
}

#[test]
fn reboot_linux_cases() {
    let crash = [
        "Mar  3 10:00:00 web kernel: eth0: link up",
        "Mar  3 12:00:00 web syslogd 1.4.1: restart.",
        "Mar  3 12:00:00 web kernel: Linux version 2.6.5-1.358 (bhcompile@bugs) #1",
        "Mar  3 12:00:01 web kernel: Linux version 2.6.5-1.358 (again, same boot)",
    ];
    let dets = reboot_run(RebootConfig::default(), &crash);
    assert_eq!(dets.len(), 1, "{dets:#?}");
    assert_eq!(dets[0].rule_id, reboot::LINUX_ID);
    assert_eq!(dets[0].record, 3);
    assert_eq!(dets[0].level, Level::High);
    assert_eq!(dets[0].host.as_deref().unwrap(), "web");

    let clean = [
        "Mar  3 10:00:00 web kernel: eth0: link up",
        "Mar  3 11:59:00 web shutdown[99]: shutting down for system reboot",
        "Mar  3 11:59:30 web syslogd 1.4.1: exiting on signal 15",
        "Mar  3 12:00:00 web kernel: Linux version 2.6.5-1.358 (bhcompile@bugs) #1",
    ];
    assert!(reboot_run(RebootConfig::default(), &clean).is_empty());

    let first = ["Mar  3 12:00:00 web kernel: Linux version 2.6.5 #1"];
    assert!(reboot_run(RebootConfig::default(), &first).is_empty());

    // 2024-03-03 is a Sunday.
    let window = RebootConfig {
        maintenance: vec!["Sun 11:30-12:30".into()],
        in_maintenance: MaintenanceAction::Low,
    };
    let dets = reboot_run(window.clone(), &crash);
    assert_eq!(dets.len(), 1);
    assert_eq!(dets[0].level, Level::Low);
    let suppress = RebootConfig {
        in_maintenance: MaintenanceAction::Suppress,
        ..window
    };
    assert!(reboot_run(suppress, &crash).is_empty());
    let bad = RebootConfig {
        maintenance: vec!["Funday 1-2".into()],
        ..RebootConfig::default()
    };
    assert!(reboot::Reboots::new(&bad, &StateConfig::default()).is_err());
}

#[test]
fn reboot_windows_cases() {
    let cases = [
        (
            json!({"EventID": 6008, "Provider_Name": "EventLog", "Computer": "pc1"}),
            Some((reboot::WIN_6008_ID, Level::High)),
        ),
        (
            json!({"EventID": 41, "Provider_Name": "Microsoft-Windows-Kernel-Power", "Computer": "pc1"}),
            Some((reboot::WIN_41_ID, Level::High)),
        ),
        (
            json!({"EventID": 1074, "Provider_Name": "User32", "param1": "C:\\Windows\\system32\\shutdown.exe", "param3": "Other (Planned)", "param4": "0x80000000", "param5": "restart", "param7": "CORP\\admin"}),
            Some((reboot::WIN_1074_ID, Level::Low)),
        ),
        (
            json!({"EventID": 1074, "Provider_Name": "User32", "param4": "0x5000a"}),
            Some((reboot::WIN_1074_ID, Level::Medium)),
        ),
        (
            json!({"EventID": 41, "Provider_Name": "Some-Other-Provider"}),
            None,
        ),
    ];
    for (record, want) in cases {
        let mut e = json_event("System.evtx", 1, record.clone());
        e.meta.timestamp = Some(ts(1_700_000_000));
        let mut d =
            reboot::Reboots::new(&RebootConfig::default(), &StateConfig::default()).unwrap();
        let mut out = Vec::new();
        d.observe(&e, &mut out);
        let got = out.first().map(|d| (d.rule_id.as_str(), d.level));
        assert_eq!(got, want, "record {record}");
        if let Some(d) = out.first()
            && record["param7"].is_string()
        {
            assert_eq!(d.entities["user"], "CORP\\admin");
            assert_eq!(d.fields["planned"], "true");
        }
    }
}

fn perf_events(values: &[f64]) -> Vec<Event> {
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
            e
        })
        .collect()
}

fn perf_run(values: &[f64]) -> Vec<Detection> {
    let mut d: Vec<Box<dyn Detector>> = vec![Box::new(perf::Performance::new(
        PerformanceConfig::default(),
        &StateConfig::default(),
    ))];
    run(&mut d, perf_events(values))
}

#[test]
fn performance_spike_vs_sustained_shift() {
    let base: Vec<f64> = (0..60).map(|i| 100.0 + f64::from(i % 7) * 3.0).collect();
    let mut spike = base.clone();
    spike[40] = 5000.0;
    spike[41] = 4000.0;
    assert!(perf_run(&spike).is_empty(), "one spike must not fire");

    let mut shift = base.clone();
    shift.extend((0..10).map(|i| 400.0 + f64::from(i)));
    let dets = perf_run(&shift);
    assert_eq!(dets.len(), 1, "{dets:#?}");
    let d = &dets[0];
    assert_eq!(d.rule_id, perf::PERF_ID);
    assert_eq!(d.policy, Some(Policy::Performance.as_str()));
    assert_eq!(d.fields["service"], "checkout");
    // Fires on the fifth deviating point of the shift.
    assert_eq!(d.record, 65);

    let mut flapping = base;
    for i in (45..60).step_by(3) {
        flapping[i] = 600.0;
    }
    assert!(
        perf_run(&flapping).is_empty(),
        "isolated spikes must not fire"
    );
}

#[test]
fn performance_fixture_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (file, fires) in [
        ("metrics_spike.ndjson", false),
        ("metrics_shift.ndjson", true),
    ] {
        let events = common::ndjson_file(&dir.join(file));
        let mut d: Vec<Box<dyn Detector>> = vec![Box::new(perf::Performance::new(
            PerformanceConfig::default(),
            &StateConfig::default(),
        ))];
        let dets = run(&mut d, events);
        assert_eq!(!dets.is_empty(), fires, "{file}: {dets:#?}");
        if fires {
            assert!(
                dets.iter().all(|d| d.host.as_deref() == Some("web-1")),
                "{dets:#?}"
            );
            assert_eq!(dets.len(), 1, "{file}: only the degraded host fires");
        }
    }
}

#[test]
fn performance_access_log_request_times() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (file, fires) in [("access_spike.log", false), ("access_slow.log", true)] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let events: Vec<Event> = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                // No parsed time: the detector reads the access-log time.
                let mut e = json_event(file, i as u64 + 1, json!({"message": l}));
                assert!(e.meta.timestamp.is_none());
                e.meta.host = Some("www".into());
                e
            })
            .collect();
        let mut d: Vec<Box<dyn Detector>> = vec![Box::new(perf::Performance::new(
            PerformanceConfig::default(),
            &StateConfig::default(),
        ))];
        let dets = run(&mut d, events);
        assert_eq!(dets.len(), usize::from(fires), "{file}: {dets:#?}");
    }
}

#[test]
fn antivirus_clamav_and_edr() {
    let mut d: Vec<Box<dyn Detector>> = vec![Box::new(policy::antivirus::Antivirus)];
    let mut events = lines(&[
        "Mar  3 10:00:00 fs1 clamd[812]: /srv/share/invoice.doc: Doc.Downloader.Emotet-1 FOUND",
        "Mar  3 10:00:01 fs1 clamd[812]: /srv/share/ok.txt: OK",
        "Mar  3 10:05:00 fs1 freshclam[90]: daily.cvd updated (version: 27000, sigs: 2000)",
    ]);
    let mut edr = json_event(
        "edr.ndjson",
        1,
        json!({"alert": {"severity": "critical"}, "threat": {"name": "Cobalt Strike Beacon"}, "file": {"path": "C:\\Users\\a\\b.exe"}, "action": "blocked", "host": {"name": "pc7"}, "user": {"name": "amy"}}),
    );
    edr.meta.timestamp = Some(ts(1_709_460_000));
    events.push(edr);
    let dets = run(&mut d, events);
    assert_eq!(dets.len(), 2, "{dets:#?}");
    let clam = &dets[0];
    assert_eq!(clam.rule_id, policy::antivirus::CLAMAV_ID);
    assert_eq!(clam.fields["threat"], "Doc.Downloader.Emotet-1");
    assert_eq!(clam.fields["file_path"], "/srv/share/invoice.doc");
    assert_eq!(clam.host.as_deref().unwrap(), "fs1");
    let e = &dets[1];
    assert_eq!(e.rule_id, policy::antivirus::EDR_ID);
    assert_eq!(e.level, Level::Critical);
    assert_eq!(e.fields["action"], "blocked");
    assert_eq!(e.host.as_deref().unwrap(), "pc7");
    assert_eq!(e.entities["user"], "amy");
}

#[test]
fn config_rejects_unknown_keys_and_parses_durations() {
    let ok = PolicyConfig::from_toml(
        "[login]\nwindow = \"15m\"\nper_source = 20\n[gaps]\nmin_gap = 1800\n[reboot]\nmaintenance = [\"Sun 02:00-04:00\"]\nin_maintenance = \"suppress\"\n",
        "policy.toml",
    )
    .unwrap();
    assert_eq!(ok.login.window, Secs(900));
    assert_eq!(ok.login.per_source, 20);
    assert_eq!(ok.login.per_user, LoginConfig::default().per_user);
    assert_eq!(ok.gaps.min_gap, Some(Secs(1800)));
    assert_eq!(ok.reboot.in_maintenance, MaintenanceAction::Suppress);
    let err = PolicyConfig::from_toml("[login]\nwindoww = \"1m\"\n", "policy.toml").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("policy.toml") && msg.contains("windoww"),
        "{msg}"
    );
    assert!(PolicyConfig::from_toml("[login]\nwindow = \"5 parsecs\"\n", "p.toml").is_err());
    assert_eq!(policy::parse_duration("2h").unwrap(), 7200);
    assert!(policy::parse_duration("h").is_err());
}

#[test]
fn state_stays_bounded() {
    let state = StateConfig {
        idle_ttl: Secs(3600),
        max_keys: 1000,
    };
    let mut d = login::LoginFailures::new(LoginConfig::default(), &state);
    let mut out = Vec::new();
    for i in 0..50_000u32 {
        let line = format!(
            "Mar  3 10:00:00 h sshd[{i}]: Failed password for u{i} from 10.{}.{}.{} port 1 ssh2",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        );
        let mut e = syslog_event("auth.log", u64::from(i), &line, 2024);
        e.meta.timestamp = Some(ts(1_700_000_000 + i64::from(i)));
        d.observe(&e, &mut out);
    }
    assert!(d.keys() <= 2000, "users + sources bounded: {}", d.keys());
    assert!(out.is_empty());
}
