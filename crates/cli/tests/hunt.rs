//! `watchpost hunt` and `watchpost rules check`, run as the real binary on
//! small fixtures under `tests/data/hunt/`, plus corpus runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hunt")
}

fn watchpost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(args)
        .output()
        .expect("run watchpost")
}

fn path(p: &str) -> String {
    data().join(p).display().to_string()
}

fn json_stdout(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    v.as_array().expect("one JSON array").clone()
}

fn hunt_good(extra: &[&str]) -> Output {
    let rules = path("rules/good");
    let logs = path("logs/windows.ndjson");
    let mut args = vec!["hunt", "--no-policy", "-r", rules.as_str()];
    args.extend_from_slice(extra);
    args.push(logs.as_str());
    watchpost(&args)
}

#[test]
fn hunt_json_has_every_field_and_exit_code_1() {
    let out = hunt_good(&["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dets = json_stdout(&out);
    let mut seen: Vec<(String, u64)> = dets
        .iter()
        .map(|d| {
            for key in [
                "rule_id",
                "rule_title",
                "level",
                "timestamp",
                "file",
                "record",
                "host",
            ] {
                assert!(d.get(key).is_some(), "{key} missing in {d}");
            }
            assert!(d["file"].as_str().unwrap().ends_with("windows.ndjson"));
            (
                d["rule_id"].as_str().unwrap().to_string(),
                d["record"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    let id = |n: u32| format!("5f7c1d2e-0000-4000-8000-00000000000{n}");
    // Line 1: Sysmon whoami; line 3: Security 4688 whoami (renamed fields);
    // line 4: base64offset; line 6: Defender. Line 5 (System) carries the
    // Defender keyword but is not the Defender channel.
    assert_eq!(seen, vec![(id(1), 1), (id(1), 3), (id(2), 4), (id(3), 6)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("detections: 4"), "{stderr}");
    assert!(stderr.contains("rules: 3 loaded, 0 failed"), "{stderr}");
}

#[test]
fn hunt_min_level_filters() {
    let out = hunt_good(&["--json", "--min-level", "high"]);
    let levels: Vec<String> = json_stdout(&out)
        .iter()
        .map(|d| d["level"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(levels.len(), 2, "{levels:?}");
    assert!(levels.iter().all(|l| l == "high" || l == "critical"));
}

#[test]
fn hunt_jsonl_and_csv_agree_with_json() {
    let json = json_stdout(&hunt_good(&["--json"]));
    let jsonl = hunt_good(&["--jsonl"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines, json);
    let csv = hunt_good(&["--csv"]);
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some("timestamp,level,rule_id,rule_title,host,file,record,policy,fields")
    );
    assert_eq!(rows.count(), json.len());
}

#[test]
fn hunt_table_is_aligned() {
    let out = hunt_good(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    let col = |l: &str| {
        l.find("LEVEL")
            .or_else(|| l.find("medium"))
            .or_else(|| l.find("high"))
            .or_else(|| l.find("critical"))
    };
    let first = col(lines[0]).expect("header has LEVEL");
    for l in &lines[1..] {
        assert_eq!(col(l), Some(first), "{text}");
    }
}

#[test]
fn hunt_is_deterministic() {
    let a = hunt_good(&["--json"]);
    let b = hunt_good(&["--json", "-j", "1"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn hunt_without_detections_exits_0() {
    let rules = path("rules/good");
    let logs = path("logs/quiet.ndjson");
    let out = watchpost(&["hunt", "--no-policy", "-r", &rules, "--json", &logs]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(json_stdout(&out).is_empty());
}

#[test]
fn hunt_hostile_rule_is_counted_and_skipped() {
    let good = path("rules/good");
    let hostile = path("rules/hostile");
    let logs = path("logs/windows.ndjson");
    let out = watchpost(&[
        "hunt",
        "--no-policy",
        "-r",
        &good,
        "-r",
        &hostile,
        "--json",
        &logs,
    ]);
    assert_eq!(out.status.code(), Some(3), "problems give exit code 3");
    assert_eq!(json_stdout(&out).len(), 4, "the good rules still ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rules: 3 loaded, 1 failed"), "{stderr}");
    assert!(stderr.contains("lookaround.yml"), "{stderr}");
}

#[test]
fn hunt_bad_arguments_exit_2() {
    let logs = path("logs/windows.ndjson");
    let out = watchpost(&["hunt", "--no-policy", &logs]);
    assert_eq!(out.status.code(), Some(2));
    let out = watchpost(&[
        "hunt",
        "--from",
        "yesterday",
        "-r",
        &path("rules/good"),
        &logs,
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn hunt_unreadable_input_is_a_problem() {
    let rules = path("rules/good");
    let out = watchpost(&[
        "hunt",
        "--no-policy",
        "-r",
        &rules,
        "--json",
        "/nonexistent/logs/dir",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rules_check_json_lists_failures() {
    let out = watchpost(&["rules", "check", "--json", &path("rules")]);
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON object");
    assert_eq!(v["loaded"], 4, "good (3) and linux (1)");
    assert_eq!(v["failed"], 1);
    let e = &v["errors"][0];
    assert!(e["file"].as_str().unwrap().ends_with("lookaround.yml"));
    assert_eq!(e["rule_id"], "5f7c1d2e-0000-4000-8000-0000000000ff");
    assert!(!e["reason"].as_str().unwrap().is_empty());
}

#[test]
fn rules_check_text_groups_by_reason() {
    let out = watchpost(&["rules", "check", &path("rules/good")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("loaded: 3  failed: 0"), "{text}");
    let out = watchpost(&["rules", "check", &path("rules")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(1):"), "{text}");
    assert!(text.contains("lookaround.yml"), "{text}");
}

/// `tests/data/counts/rules`, counted by hand: `base.yml` and
/// `corr_good.yml` load (2); two plain rules are broken (a condition naming
/// a missing selection, and text that is not YAML) and three correlations
/// fail (one names a rule that does not exist, one has a timespan that is
/// not a duration, one has an expression condition on `event_count`): 5.
#[test]
fn hunt_and_rules_check_count_failed_rules_alike() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/counts/rules")
        .display()
        .to_string();
    let (loaded, failed) = (2, 5);

    let check = watchpost(&["rules", "check", "--json", &rules]);
    assert_eq!(check.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&check.stdout).expect("JSON object");
    let mut files: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "corr_bad_condition.yml",
            "corr_bad_timespan.yml",
            "corr_missing_rule.yml",
            "plain_bad_condition.yml",
            "plain_bad_yaml.yml"
        ],
        "{v}"
    );
    assert_eq!(
        (v["loaded"].as_u64(), v["failed"].as_u64()),
        (Some(loaded), Some(failed))
    );

    let text = watchpost(&["rules", "check", &rules]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(&format!("loaded: {loaded}  failed: {failed}")),
        "{stdout}"
    );

    let hunt = watchpost(&[
        "hunt",
        "--no-policy",
        "-r",
        &rules,
        &path("logs/quiet.ndjson"),
    ]);
    assert_eq!(hunt.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&hunt.stderr);
    assert!(
        stderr.contains(&format!("rules: {loaded} loaded, {failed} failed")),
        "{stderr}"
    );
}

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var("WATCHPOST_CORPUS").expect(
            "WATCHPOST_CORPUS is not set: point it at the shared corpus (e.g. ../shared/data)",
        ),
    )
}

#[test]
fn corpus_rules_check_loads_nearly_all() {
    let sigma = corpus().join("sigma");
    let dirs: Vec<String> = std::fs::read_dir(&sigma)
        .expect("sigma dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
        })
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["rules", "check", "--json"];
    args.extend(dirs.iter().map(String::as_str));
    let out = watchpost(&args);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON object");
    let loaded = v["loaded"].as_f64().unwrap();
    let failed = v["failed"].as_f64().unwrap();
    assert!(loaded / (loaded + failed) >= 0.995, "{v}");
}

/// Counts EVTX records independently of `sources`: the `evtx` crate's plain
/// single-threaded iterator.
fn evtx_records(dir: &Path) -> u64 {
    let mut n = 0;
    for entry in walk(dir) {
        if entry
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        {
            let Ok(mut parser) = evtx::EvtxParser::from_path(&entry) else {
                continue;
            };
            n += parser.records().filter(|r| r.is_ok()).count() as u64;
        }
    }
    n
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn corpus_hunt_evtx_attack_samples() {
    let root = corpus();
    let logs = root.join("evtx/EVTX-ATTACK-SAMPLES");
    let rules = root.join("sigma/rules/windows");
    let args = [
        "hunt",
        "--no-policy",
        "--json",
        "--include",
        "*.evtx",
        "-r",
        rules.to_str().unwrap(),
        logs.to_str().unwrap(),
    ];
    let a = watchpost(&args);
    let stderr = String::from_utf8_lossy(&a.stderr).to_string();
    assert!(matches!(a.status.code(), Some(1 | 3)), "{stderr}");
    let dets = json_stdout(&a);
    assert!(!dets.is_empty(), "{stderr}");
    let expected = evtx_records(&logs);
    assert!(
        stderr.contains(&format!("events: {expected} ")),
        "independent count {expected}; summary: {stderr}"
    );
    let b = watchpost(&args);
    assert_eq!(a.stdout, b.stdout, "two runs give identical output");
}

#[test]
fn hunt_time_window() {
    let out = hunt_good(&[
        "--json",
        "--from",
        "2024-03-01T11:00:00Z",
        "--to",
        "2024-03-01T14:00:00Z",
    ]);
    let records: Vec<u64> = json_stdout(&out)
        .iter()
        .map(|d| d["record"].as_u64().unwrap())
        .collect();
    // Lines 3 (11:00, inclusive) and 4 (12:00); line 6 (14:00) is excluded.
    assert_eq!(records, vec![3, 4]);
}

#[test]
fn hunt_syslog_sshd_rules_see_only_sshd_lines() {
    let rules = path("rules/linux");
    let logs = path("logs/linux");
    let out = watchpost(&["hunt", "--no-policy", "-r", &rules, "--json", &logs]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dets = json_stdout(&out);
    let records: Vec<u64> = dets.iter().map(|d| d["record"].as_u64().unwrap()).collect();
    // Line 4 says "Failed password" too, but comes from `su`, not sshd.
    assert_eq!(records, vec![1, 5]);
    assert!(dets.iter().all(|d| d["host"] == "web1"));
    assert!(
        dets[0]["timestamp"]
            .as_str()
            .unwrap()
            .contains("-03-01T10:00:01")
    );
}

/// Four failed logins for root from one address within a minute: below the
/// default thresholds, above the ones a `--policy-config` sets.
#[test]
fn hunt_policy_config_sets_the_login_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let lines: String = (0..4)
        .map(|i| {
            format!(
                "Dec 10 06:55:{:02} gate sshd[2420{i}]: Failed password for root from 198.51.100.7 port 4239{i} ssh2\n",
                10 + i
            )
        })
        .collect();
    std::fs::write(&log, lines).unwrap();
    let log = log.display().to_string();
    let brute_force = |out: &Output| -> Vec<Value> {
        json_stdout(out)
            .into_iter()
            .filter(|d| d["policy"] == "brute_force")
            .collect()
    };

    let default = watchpost(&["hunt", "--json", &log]);
    assert_eq!(default.status.code(), Some(0), "{default:?}");
    assert!(brute_force(&default).is_empty());

    let config = dir.path().join("policy.toml");
    std::fs::write(&config, "[login]\nper_user = 3\nper_source = 3\n").unwrap();
    let config = config.display().to_string();
    let tuned = watchpost(&["hunt", "--json", "--policy-config", &config, &log]);
    assert_eq!(tuned.status.code(), Some(1), "{tuned:?}");
    let hits = brute_force(&tuned);
    assert!(
        hits.iter().any(|d| d["source_ip"] == "198.51.100.7"),
        "{hits:?}"
    );
    assert!(hits.iter().any(|d| d["user"] == "root"), "{hits:?}");

    // An unknown key is an error that names the file and the key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[login]\nper_usr = 3\n").unwrap();
    let out = watchpost(&["hunt", "--policy-config", &bad.display().to_string(), &log]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("per_usr"),
        "{stderr}"
    );
}
