//! `watchpost gaps` end to end: the binary reads real files through
//! `sources` and reports missing spans.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var("WATCHPOST_CORPUS")
            .expect("WATCHPOST_CORPUS must point at the shared corpus (../shared/data)"),
    )
}

fn gaps(args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .arg("gaps")
        .args(args)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows = if args.contains(&"--jsonl") {
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
    } else {
        Vec::new()
    };
    let text = if args.contains(&"--jsonl") {
        String::from_utf8(out.stderr).unwrap()
    } else {
        stdout
    };
    (out.status.code().unwrap_or(-1), rows, text)
}

/// `Mmm dd hh:mm:ss` of a raw line as `MM-DDTHH:MM:SS`, the part of an
/// RFC 3339 time that does not depend on the inferred year.
fn month_day_time(line: &str) -> String {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|m| *m == &line[0..3]).unwrap() + 1;
    let d: u32 = line[4..6].trim().parse().unwrap();
    format!("{m:02}-{d:02}T{}", &line[7..15])
}

fn secs(line: &str) -> i64 {
    let t = &line[7..15];
    let day: i64 = line[4..6].trim().parse().unwrap();
    let p: Vec<i64> = t.split(':').map(|x| x.parse().unwrap()).collect();
    day * 86_400 + p[0] * 3600 + p[1] * 60 + p[2]
}

fn span(row: &Value) -> (String, String) {
    let part = |k: &str| row[k].as_str().unwrap()[5..19].to_string();
    (part("from"), part("to"))
}

#[test]
fn corpus_gaps_reports_exactly_the_cut_span() {
    let src = corpus().join("linux/loghub_OpenSSH_2k.log");
    let text = std::fs::read_to_string(&src).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The threshold the detector learns, computed from the raw lines: the
    // 99th percentile of the gaps times 4, at least 300 s.
    let mut g: Vec<i64> = lines.windows(2).map(|w| secs(w[1]) - secs(w[0])).collect();
    g.sort_unstable();
    let threshold = ((g[(0.99 * g.len() as f64).ceil() as usize - 1] * 4) as f64).max(300.0);
    // Cut a span of lines from the middle, twice as long as the threshold.
    let a = 1000;
    let b = (a + 1..lines.len())
        .find(|&j| (secs(lines[j]) - secs(lines[a - 1])) as f64 >= 2.0 * threshold)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("sshd_cut.log");
    let kept: Vec<&str> = lines[..a].iter().chain(&lines[b..]).copied().collect();
    std::fs::write(&cut, kept.join("\n") + "\n").unwrap();
    let want = (month_day_time(lines[a - 1]), month_day_time(lines[b]));
    let want_secs = (secs(lines[b]) - secs(lines[a - 1])) as f64;

    let (code, rows, stderr) = gaps(&["--jsonl", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "gaps found: {stderr}");
    let hits: Vec<&Value> = rows.iter().filter(|r| span(r) == want).collect();
    assert_eq!(hits.len(), 1, "the cut span, once: {rows:#?}");
    assert_eq!(hits[0]["seconds"].as_f64(), Some(want_secs));
    assert_eq!(hits[0]["kind"], "gap");
    assert_eq!(hits[0]["host"], "LabSZ");
    assert!(
        hits[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("sshd_cut.log")
    );
    for r in &rows {
        assert!(
            r["seconds"].as_f64() >= r["expected_seconds"].as_f64(),
            "{r}"
        );
    }

    let (_, rows, _) = gaps(&["--jsonl", src.to_str().unwrap()]);
    assert!(!rows.iter().any(|r| span(r) == want));
    for r in &rows {
        let s = r["seconds"].as_f64().unwrap();
        assert!(s >= r["expected_seconds"].as_f64().unwrap(), "{r}");
        assert!(
            s >= threshold,
            "nothing below the threshold {threshold}: {r}"
        );
    }
}

fn write_log(dir: &Path, name: &str, times: &[(u32, u32)]) -> PathBuf {
    let path = dir.join(name);
    let text: String = times
        .iter()
        .enumerate()
        .map(|(i, (h, m))| format!("Mar  3 {h:02}:{m:02}:00 web1 app[1]: tick {i}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn gaps_min_gap_table_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Every 5 minutes from 08:00 to 12:00, except 09:00-10:30.
    let times: Vec<(u32, u32)> = (0..48)
        .map(|i| (8 + i * 5 / 60, i * 5 % 60))
        .filter(|(h, m)| !((*h == 9) || (*h == 10 && *m < 30)))
        .collect();
    let log = write_log(dir.path(), "app.log", &times);
    let (code, _, table) = gaps(&["--min-gap", "30m", log.to_str().unwrap()]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("FROM"));
    // Columns line up: each header starts where its value starts.
    let col = lines[0].find("SECONDS").unwrap();
    assert_eq!(&lines[1][col..col + 4], "5700");
    assert!(lines[1].contains("08:55:00") && lines[1].contains("10:30:00"));

    let (code, rows, _) = gaps(&["--min-gap", "2h", "--jsonl", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{rows:?}");
    assert!(rows.is_empty());

    let (code, _, _) = gaps(&["--min-gap", "soon", log.to_str().unwrap()]);
    assert_eq!(code, 2, "a bad duration is a usage error");
}

#[test]
fn gaps_time_backwards_and_unordered_files() {
    let dir = tempfile::tempdir().unwrap();
    // In order, one minute apart, except one line that steps back 10 min.
    let mut times: Vec<(u32, u32)> = (0..100).map(|i| (8 + i / 60, i % 60)).collect();
    times[50] = (8, 40);
    let log = write_log(dir.path(), "ordered.log", &times);
    let (code, rows, _) = gaps(&["--jsonl", log.to_str().unwrap()]);
    assert_eq!(code, 1);
    let back: Vec<&Value> = rows
        .iter()
        .filter(|r| r["kind"] == "time_backwards")
        .collect();
    assert_eq!(back.len(), 1, "{rows:#?}");
    assert_eq!(&back[0]["from"].as_str().unwrap()[11..19], "08:49:00");
    assert_eq!(&back[0]["to"].as_str().unwrap()[11..19], "08:40:00");

    // Written out of time order (an export): judged in time order, so a
    // regular cadence reports nothing.
    let mut shuffled: Vec<(u32, u32)> = (0..100).map(|i| (8 + i / 60, i % 60)).collect();
    shuffled.reverse();
    let log = write_log(dir.path(), "export.log", &shuffled);
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(["gaps", "--jsonl"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in time order"));
}
