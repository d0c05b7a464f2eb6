//! The policy watch list end to end: `watchpost hunt --jsonl` with the
//! bundled pack and native detectors on real logs. Expectations are read
//! from the raw lines here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var("WATCHPOST_CORPUS")
            .expect("WATCHPOST_CORPUS must point at the shared corpus (../shared/data)"),
    )
}

fn hunt(path: &PathBuf) -> (String, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(["hunt", "--jsonl"])
        .arg(path)
        .output()
        .expect("the binary runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let rows = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (text, rows)
}

fn policy_rows<'a>(rows: &'a [Value], policy: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["policy"] == policy).collect()
}

#[test]
fn corpus_policy_hunt_sshd_brute_force() {
    for file in [
        "linux/loghub_OpenSSH_2k.log",
        "linux/elastic_examples_suspicious_login_auth.log",
    ] {
        let path = corpus().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        // Addresses with `Failed password` lines: every reported address is
        // one of them, and the most frequent one is reported.
        let mut per_ip: BTreeMap<String, usize> = BTreeMap::new();
        for l in text.lines().filter(|l| l.contains("Failed password for ")) {
            let ip = l
                .rsplit(" from ")
                .next()
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            *per_ip.entry(ip.to_string()).or_default() += 1;
        }
        let (_, rows) = hunt(&path);
        let brute = policy_rows(&rows, "brute_force");
        assert!(!brute.is_empty(), "{file}");
        let reported: BTreeSet<&str> = brute
            .iter()
            .filter(|r| r["rule_id"] == "watchpost.policy.login_failures.source")
            .map(|r| r["source_ip"].as_str().expect("source_ip entity"))
            .collect();
        let attackers: BTreeSet<&str> = text
            .lines()
            .filter(|l| {
                l.contains(" sshd[") && (l.contains("Failed ") || l.contains("Invalid user "))
            })
            .filter_map(|l| l.rsplit(" from ").next()?.split(' ').next())
            .collect();
        assert!(reported.is_subset(&attackers), "{file}: {reported:?}");
        let top = per_ip.iter().max_by_key(|(_, n)| **n).unwrap().0;
        assert!(reported.contains(top.as_str()), "{file}: top address {top}");
        for r in &brute {
            assert!(r["host"].is_string(), "{r}");
            assert!(
                r["timestamp"].is_string() && r["record"].as_u64() > Some(0),
                "{r}"
            );
        }
    }
}

#[test]
fn corpus_policy_hunt_reboot() {
    let path = corpus().join("linux/loghub_Linux_2k.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let boots: Vec<u64> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(" kernel: Linux version "))
        .map(|(i, _)| i as u64 + 1)
        .collect();
    let (_, rows) = hunt(&path);
    let reboots: Vec<u64> = policy_rows(&rows, "unexpected_reboot")
        .iter()
        .map(|r| r["record"].as_u64().unwrap())
        .collect();
    assert_eq!(reboots, boots);
}

#[test]
fn corpus_policy_hunt_defender() {
    let dir = corpus().join("antivirus");
    let mut raw = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        raw += text
            .lines()
            .filter(|l| {
                ["1116", "1117"].iter().any(|id| {
                    l.contains(&format!("\"EventID\":\"{id}\""))
                        || l.contains(&format!("\"EventID\":{id},"))
                })
            })
            .count();
    }
    let (_, rows) = hunt(&dir);
    let av = policy_rows(&rows, "antivirus");
    assert_eq!(av.len(), raw);
    for r in &av {
        assert!(r["fields"]["threat"].is_string(), "{r}");
        assert!(r["host"].is_string(), "{r}");
    }
}

#[test]
fn corpus_policy_hunt_cloudtrail_logging_off() {
    let path = corpus().join("cloud/aws_cloudtrail/stratus_red_team_detonations.ndjson");
    let text = std::fs::read_to_string(&path).unwrap();
    let names = [
        "StopLogging",
        "DeleteTrail",
        "UpdateTrail",
        "PutEventSelectors",
        "DeleteFlowLogs",
        "DeleteResolverQueryLogConfig",
    ];
    let raw = text
        .lines()
        .filter(|l| {
            names.iter().any(|n| {
                l.contains(&format!("\"eventName\": \"{n}\""))
                    || l.contains(&format!("\"eventName\":\"{n}\""))
            })
        })
        .count();
    let (first, rows) = hunt(&path);
    let off = policy_rows(&rows, "logging_disabled");
    assert!(raw >= 3);
    assert_eq!(off.len(), raw);
    for r in &off {
        assert!(r["user"].is_string() && r["source_ip"].is_string(), "{r}");
    }
    // Replaying the same input gives the same output.
    let (second, _) = hunt(&path);
    assert_eq!(first, second);
}

/// Addresses with at least `n` PAM `authentication failure` lines (with a
/// `rhost=`) within any `window` seconds, read from the raw lines.
fn pam_addresses_over(text: &str, window: i64, n: usize) -> BTreeSet<String> {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| l.contains("authentication failure;"))
    {
        let Some(ip) = l
            .split("rhost=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .filter(|ip| !ip.is_empty())
        else {
            continue;
        };
        let month = months.iter().position(|m| *m == &l[0..3]).unwrap() as i64;
        let day: i64 = l[4..6].trim().parse().unwrap();
        let hms: Vec<i64> = l[7..15].split(':').map(|x| x.parse().unwrap()).collect();
        let t = ((month * 31 + day) * 24 + hms[0]) * 3600 + hms[1] * 60 + hms[2];
        per.entry(ip.to_string()).or_default().push(t);
    }
    per.into_iter()
        .filter(|(_, ts)| {
            let mut s = 0;
            (0..ts.len()).any(|e| {
                while ts[e] - ts[s] > window {
                    s += 1;
                }
                e - s + 1 >= n
            })
        })
        .map(|(ip, _)| ip)
        .collect()
}

#[test]
fn corpus_policy_hunt_pam_brute_force() {
    let path = corpus().join("linux/loghub_Linux_2k.log");
    let text = std::fs::read_to_string(&path).unwrap();
    // The default thresholds: 10 failures from one address in 10 minutes.
    let want = pam_addresses_over(&text, 600, 10);
    assert!(!want.is_empty());
    let (_, rows) = hunt(&path);
    let got: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["rule_id"] == "watchpost.policy.login_failures.source")
        .map(|r| r["source_ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn policy_hunt_performance_fixtures() {
    // Fixtures of the policy crate: JSON latency metrics and nginx access
    // logs with request times. One spike stays quiet; a sustained shift
    // fires once.
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policy/tests/data");
    for (file, fires) in [
        ("metrics_spike.ndjson", 0),
        ("metrics_shift.ndjson", 1),
        ("access_spike.log", 0),
        ("access_slow.log", 1),
    ] {
        let (_, rows) = hunt(&data.join(file));
        let perf = policy_rows(&rows, "performance");
        assert_eq!(perf.len(), fires, "{file}: {perf:#?}");
    }
}
