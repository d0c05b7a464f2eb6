//! Bad input: each case is counted, located, skipped, and the rest of the
//! data still comes through. None of these may panic.

use std::io::Write;
use std::path::PathBuf;

use watchpost_sources::{PathFilter, ProblemKind, discover};

use crate::read_all;

/// Deterministic pseudo-random bytes (xorshift), so garbage is repeatable.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn invalid_json_lines_among_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let mut text = String::new();
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for n in 1..=60_000u64 {
        if n % 197 == 0 {
            text.push_str("{\"truncated\": \n");
            invalid.push(n);
        } else if n % 263 == 0 {
            text.push_str("not json at all\n");
            invalid.push(n);
        } else {
            text.push_str(&format!(
                "{{\"n\": {n}, \"eventSource\": \"s\", \"eventName\": \"e\"}}\n"
            ));
            valid.push(n);
        }
    }
    std::fs::write(&path, text).unwrap();
    let (events, summary) = read_all(&path, None);
    let records: Vec<u64> = events.iter().map(|e| e.meta.record).collect();
    assert_eq!(records, valid, "every valid line, numbered by its line");
    assert!(
        events
            .iter()
            .all(|e| e.fields["n"] == serde_json::json!(e.meta.record))
    );
    let located: Vec<String> = summary
        .problems
        .iter()
        .map(|p| p.location.clone())
        .collect();
    let want: Vec<String> = invalid.iter().map(|n| format!("line {n}")).collect();
    assert_eq!(located, want);
    assert!(
        summary
            .problems
            .iter()
            .all(|p| p.kind == ProblemKind::Malformed)
    );
    assert_eq!(summary.events, valid.len() as u64);
}

#[test]
fn a_flood_of_bad_lines_is_summed_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.ndjson");
    let mut text = "{\"ok\": 1}\n".to_owned();
    text.push_str(&"{bad\n".repeat(5000));
    std::fs::write(&path, text).unwrap();
    let (events, summary) = read_all(&path, None);
    assert_eq!(events.len(), 1);
    let listed = watchpost_sources::MAX_LISTED_PROBLEMS;
    assert_eq!(summary.problems.len(), listed + 1);
    assert_eq!(summary.problems[0].location, "line 2");
    let last = summary.problems.last().unwrap();
    assert_eq!(last.kind, ProblemKind::Malformed);
    assert_eq!(last.location, format!("from line {}", listed + 2));
    assert!(
        last.message.starts_with(&format!("{} more", 5000 - listed)),
        "{}",
        last.message
    );
}

#[test]
fn binary_garbage_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["garbage.bin", "garbage.log", "garbage.json"] {
        let path = dir.path().join(name);
        std::fs::write(&path, garbage(200_000, 7)).unwrap();
        let (events, summary) = read_all(&path, None);
        assert!(events.is_empty(), "{name}");
        assert_eq!(summary.problems.len(), 1, "{name}: {:?}", summary.problems);
        assert_eq!(
            summary.problems[0].kind,
            ProblemKind::UnknownFormat,
            "{name}"
        );
        assert_eq!(summary.problems[0].location, "offset 0");
    }
}

#[test]
fn binary_garbage_lines_inside_a_text_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("messages");
    let mut bytes = Vec::new();
    for n in 1..=50 {
        bytes.extend_from_slice(format!("Jan  1 00:00:{n:02} h app[1]: line {n}\n").as_bytes());
    }
    let mut junk = garbage(300, 3);
    junk.retain(|b| *b != b'\n');
    junk[0] = 0;
    bytes.extend_from_slice(&junk);
    bytes.push(b'\n');
    for n in 52..=101 {
        bytes.extend_from_slice(
            format!("Jan  1 00:01:{:02} h app[1]: line {n}\n", n - 52).as_bytes(),
        );
    }
    std::fs::write(&path, bytes).unwrap();
    // The file is mostly text, so it is read as syslog.
    let (events, summary) = read_all(&path, None);
    let records: Vec<u64> = events.iter().map(|e| e.meta.record).collect();
    let want: Vec<u64> = (1..=50).chain(52..=101).collect();
    assert_eq!(records, want);
    assert_eq!(summary.problems.len(), 1);
    assert_eq!(summary.problems[0].location, "line 51");
    assert_eq!(summary.problems[0].kind, ProblemKind::Malformed);
}

/// The peak resident set of this process, in KiB (nextest runs each test
/// in a process of its own).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Writes `head`, a line of `len` bytes of `fill`, then `tail`.
fn write_long_line(path: &PathBuf, head: &[u8], fill: u8, len: usize, tail: &[u8]) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    file.write_all(head).unwrap();
    let block = vec![fill; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        file.write_all(&block[..n]).unwrap();
        left -= n;
    }
    file.write_all(tail).unwrap();
    file.flush().unwrap();
}

#[test]
fn a_100_mb_line_is_skipped_without_holding_it() {
    let dir = tempfile::tempdir().unwrap();
    let len = 100 * 1024 * 1024;
    let json = dir.path().join("big.ndjson");
    write_long_line(
        &json,
        b"{\"a\":1}\n{\"x\":\"",
        b'a',
        len,
        b"\"}\n{\"b\":2}\n",
    );
    let text = dir.path().join("big.log");
    write_long_line(
        &text,
        b"Jan  1 00:00:01 h app[1]: before\n",
        b'a',
        len,
        b"\nJan  1 00:00:02 h app[1]: after\n",
    );
    let before = peak_rss_kib();
    for path in [&json, &text] {
        let (events, summary) = read_all(path, None);
        let records: Vec<u64> = events.iter().map(|e| e.meta.record).collect();
        assert_eq!(records, [1, 3], "{}", path.display());
        assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
        let problem = &summary.problems[0];
        assert_eq!(problem.kind, ProblemKind::Oversized);
        assert_eq!(problem.location, "line 2");
    }
    let grown_mib = peak_rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "reading a 100 MiB line grew the peak RSS by {grown_mib} MiB"
    );
}

#[test]
fn unreadable_inputs_are_reported() {
    // Tests run as root, so permissions do not make a file unreadable.
    // These fail for root too: a directory where a file is expected, a
    // FIFO (which would block a plain open), and a dangling symlink.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.log");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo failed");
    let dangling = dir.path().join("gone.json");
    std::os::unix::fs::symlink(dir.path().join("missing"), &dangling).unwrap();
    let subdir = dir.path().join("sub.evtx");
    std::fs::create_dir(&subdir).unwrap();
    for path in [&fifo, &dangling, &subdir] {
        let (events, summary) = read_all(path, None);
        assert!(events.is_empty());
        assert_eq!(summary.problems.len(), 1, "{}", path.display());
        assert_eq!(
            summary.problems[0].kind,
            ProblemKind::Unreadable,
            "{}",
            path.display()
        );
        assert_eq!(summary.problems[0].source, path.display().to_string());
    }
    // Walking the directory reports the FIFO and the dangling link, and
    // keeps the good file.
    std::fs::write(dir.path().join("good.log"), "x\n").unwrap();
    let (files, problems) = discover(&[dir.path().to_path_buf()], &PathFilter::default());
    assert_eq!(files, [dir.path().join("good.log")]);
    let mut kinds: Vec<(String, ProblemKind)> = problems
        .iter()
        .map(|p| (p.source.rsplit('/').next().unwrap().to_owned(), p.kind))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("gone.json".to_owned(), ProblemKind::Unreadable),
            ("pipe.log".to_owned(), ProblemKind::Unreadable)
        ]
    );
}

#[test]
fn symlink_loop_is_reported_and_walk_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("a/b");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(inner.join("x.log"), "x\n").unwrap();
    std::fs::write(dir.path().join("z.log"), "z\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("a"), inner.join("back")).unwrap();
    let (files, problems) = discover(&[dir.path().to_path_buf()], &PathFilter::default());
    assert_eq!(files, [inner.join("x.log"), dir.path().join("z.log")]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::Loop);
    assert!(
        problems[0].source.ends_with("a/b/back"),
        "{}",
        problems[0].source
    );
}

#[test]
fn generated_broken_evtx_files() {
    let dir = tempfile::tempdir().unwrap();
    // A header magic and nothing valid after it.
    let mut bytes = b"ElfFile\0".to_vec();
    bytes.extend(garbage(4096 + 65536 * 2, 11));
    let garbage_evtx = dir.path().join("garbage.evtx");
    std::fs::write(&garbage_evtx, &bytes).unwrap();
    // Just the magic: shorter than a file header.
    let stub = dir.path().join("stub.evtx");
    std::fs::write(&stub, b"ElfFile\0").unwrap();
    for path in [&garbage_evtx, &stub] {
        let (events, summary) = read_all(path, None);
        assert!(events.is_empty());
        assert!(!summary.problems.is_empty(), "{}", path.display());
        assert!(
            summary
                .problems
                .iter()
                .all(|p| p.kind == ProblemKind::Malformed)
        );
    }
    // Gzip-compressed EVTX is refused with a clear reason.
    let gz = dir.path().join("log.evtx.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(&bytes).unwrap();
    encoder.finish().unwrap();
    let (events, summary) = read_all(&gz, None);
    assert!(events.is_empty());
    assert_eq!(summary.problems.len(), 1);
    assert_eq!(summary.problems[0].kind, ProblemKind::UnknownFormat);
    assert!(summary.problems[0].message.contains("gzip"));
}

#[test]
fn audit_records_cut_or_spliced_anywhere_never_panic() {
    let record = "node=h type=EXECVE msg=audit(1700000000.123:456): argc=3 a0=\"dd\" a1=69663D2F6465762F7A65726F a2_len=4 a2[0]=6273 a2[1]=\"=1\" msg='op=x acct=\"r\" res=ok'\u{1d}UID=\"root\"";
    let splices = [
        "\"", "'", "=", " ", "\u{1d}", "#035", "(", ")", ":", "é", "\0",
    ];
    let mut lines = 0;
    for (cut, _) in record.char_indices() {
        let head = &record[..cut];
        let _ = watchpost_sources::parse_audit_record(head);
        for splice in splices {
            let line = format!("{head}{splice}{}", &record[cut..]);
            let _ = watchpost_sources::parse_audit_record(&line);
            lines += 1;
        }
    }
    assert!(lines > 1000);
    // A long line of words that are no pairs, and one of only quotes.
    let words = format!("type=X msg=audit(1.0:1): {}", "w ".repeat(200_000));
    let record = watchpost_sources::parse_audit_record(&words).unwrap();
    assert_eq!(record.fields["msg"].as_str().map(str::len), Some(399_999));
    let quotes = format!("type=X msg=audit(1.0:1): a={}", "\"".repeat(100_001));
    assert!(watchpost_sources::parse_audit_record(&quotes).is_ok());
}
