//! Open-port snapshots and the baseline, on fixtures written for these
//! tests and on the real nmap files of the corpus.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use time::macros::datetime;
use watchpost_monitor::ports::baseline::{Baseline, ChangeKind, STATE_KIND, detection};
use watchpost_monitor::ports::read::{ReadOptions, parse_bytes, read_files};
use watchpost_monitor::ports::{Protocol, Snapshot};
use watchpost_monitor::state;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn corpus() -> PathBuf {
    let dir = std::env::var("WATCHPOST_CORPUS")
        .expect("WATCHPOST_CORPUS must point at the shared corpus (for example ../shared/data)");
    PathBuf::from(dir).join("network/nmap")
}

fn snapshot(paths: &[PathBuf]) -> Snapshot {
    let (snapshot, problems) = read_files(paths, &ReadOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    snapshot
}

fn baseline_of(paths: &[PathBuf]) -> Baseline {
    let mut baseline = Baseline::new();
    for observation in snapshot(paths).ports.values() {
        baseline.approve(observation, datetime!(2026-11-30 12:00 UTC));
    }
    baseline
}

fn new_keys(baseline: &Baseline, current: &Snapshot) -> Vec<String> {
    baseline
        .diff(current)
        .iter()
        .filter(|c| c.kind == ChangeKind::New)
        .map(|c| c.observation.key.to_string())
        .collect()
}

#[test]
fn ss_snapshots_show_the_new_listeners() {
    let baseline = baseline_of(&[data("web01.ss-before.txt")]);
    assert_eq!(
        baseline.len(),
        4,
        "53, 22, 80, 443 (IPv4 and IPv6 rows merge)"
    );
    let after = snapshot(&[data("web01.ss-after.txt")]);
    assert_eq!(
        new_keys(&baseline, &after),
        ["web01 tcp/4444", "web01 tcp/6379"]
    );
    let changes = baseline.diff(&after);
    let d = detection(&changes[0], datetime!(2026-11-30 13:00 UTC));
    assert_eq!(d.fields["process"], "nc");
    assert_eq!(d.fields["addresses"], "0.0.0.0");
    assert_eq!(d.record, 6, "line of the 4444 row");
    assert_eq!(
        d.timestamp,
        Some(datetime!(2026-11-30 13:00 UTC)),
        "ss has no time: now is used"
    );
}

#[test]
fn udp_netstat_and_osquery_snapshots_are_read() {
    let udp = snapshot(&[data("web01.ss-udp.txt")]);
    let keys: Vec<String> = udp.ports.keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["web01 udp/53", "web01 udp/68", "web01 udp/51820"]);

    let netstat = snapshot(&[data("db01.netstat.txt")]);
    let keys: Vec<String> = netstat.ports.keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["db01 tcp/22", "db01 tcp/5432", "db01 udp/68"]);

    let options = ReadOptions {
        host: Some("web01".into()),
    };
    let (osq, problems) = read_files(&[data("osquery-listening-ports.json")], &options);
    assert!(problems.is_empty(), "{problems:?}");
    let keys: Vec<String> = osq.ports.keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["web01 tcp/22", "web01 tcp/8443", "web01 udp/53"]);
    // Against the TCP-only ss baseline of the same host, osquery finds 8443
    // and the UDP side of the resolver.
    let baseline = baseline_of(&[data("web01.ss-before.txt")]);
    assert_eq!(
        new_keys(&baseline, &osq),
        ["web01 tcp/8443", "web01 udp/53"]
    );
}

#[test]
fn osquery_differential_log_applies_added_and_removed_in_order() {
    let log = snapshot(&[data("osquery-differential.log")]);
    let keys: Vec<String> = log.ports.keys().map(ToString::to_string).collect();
    assert_eq!(
        keys,
        ["app02.corp.example tcp/22", "app02.corp.example tcp/31337"]
    );
    let seen = log.ports.values().last().unwrap().seen_at;
    assert_eq!(seen, Some(datetime!(2026-11-30 09:15 UTC)));
}

#[test]
fn malformed_inputs_are_reported_and_skipped() {
    let files = [
        data("truncated-nmap.xml"),
        data("broken-tags-nmap.xml"),
        data("not-a-scan.xml"),
        data("malformed-osquery.json"),
        data("does-not-exist.xml"),
        data("web01.ss-before.txt"),
    ];
    let (snapshot, problems) = read_files(&files, &ReadOptions::default());
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 5, "{text:#?}");
    assert!(problems.iter().all(|p| p.skipped_file), "{text:#?}");
    let expect = [
        ("truncated-nmap.xml", "truncated nmap XML"),
        ("broken-tags-nmap.xml", "malformed XML at line 4"),
        ("not-a-scan.xml", "not an nmap XML file"),
        ("malformed-osquery.json", "not valid JSON"),
        ("does-not-exist.xml", "cannot read"),
    ];
    for ((file, reason), problem) in expect.iter().zip(&problems) {
        assert!(problem.file.ends_with(file), "{problem}");
        assert!(problem.reason.contains(reason), "{problem}");
    }
    assert_eq!(snapshot.len(), 4, "the good file is still read");
}

#[test]
fn corrupt_and_other_version_state_files_are_errors_naming_the_file() {
    for (name, expected) in [
        ("ports-state-v2.json", "format version 2"),
        ("ports-state-corrupt.json", "is corrupt"),
    ] {
        let path = data(name);
        let err = state::load::<Baseline>(&path, STATE_KIND)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(expected), "{err}");
    }
}

/// Open ports of a raw nmap XML file, read independently of the parser:
/// each `<port ...>...</port>` block whose `<state>` says `open`.
fn raw_open_ports(xml: &str) -> Vec<(String, u16)> {
    let block = regex::Regex::new(r"(?s)<port\s([^>]*)>(.*?)</port>").unwrap();
    let protocol = regex::Regex::new(r#"protocol="([a-z]+)""#).unwrap();
    let portid = regex::Regex::new(r#"portid="(\d+)""#).unwrap();
    let open = regex::Regex::new(r#"<state\s[^>]*\bstate="open""#).unwrap();
    let mut out: Vec<(String, u16)> = block
        .captures_iter(xml)
        .filter(|c| open.is_match(&c[2]))
        .map(|c| {
            let proto = protocol.captures(&c[1]).unwrap()[1].to_string();
            let port = portid.captures(&c[1]).unwrap()[1].parse().unwrap();
            (proto, port)
        })
        .collect();
    out.sort();
    out
}

fn nmap_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            nmap_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "xml") {
            out.push(path);
        }
    }
}

#[test]
fn corpus_every_nmap_file_parses_with_the_open_ports_of_the_raw_xml() {
    let mut files = Vec::new();
    nmap_files(&corpus(), &mut files);
    files.sort();
    assert_eq!(files.len(), 28, "the corpus README lists 28 nmap files");
    let mut total = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let parsed = parse_bytes(&bytes, &file.display().to_string(), &ReadOptions::default())
            .unwrap_or_else(|reason| panic!("{}: {reason}", file.display()));
        assert!(
            parsed.problems.is_empty(),
            "{}: {:?}",
            file.display(),
            parsed.problems
        );
        let mut got: Vec<(String, u16)> = parsed
            .observations
            .iter()
            .map(|o| (o.key.protocol.to_string(), o.key.port))
            .collect();
        got.sort();
        let expected = raw_open_ports(&String::from_utf8_lossy(&bytes));
        assert_eq!(got, expected, "{}", file.display());
        total += got.len();
    }
    assert!(total > 0);
}

/// The only address of a single-host scan, read from the raw XML.
fn raw_single_host(xml: &str) -> String {
    let re = regex::Regex::new(r#"<address addr="([^"]+)" addrtype="ipv4""#).unwrap();
    let hosts: BTreeSet<String> = re.captures_iter(xml).map(|c| c[1].to_string()).collect();
    assert_eq!(hosts.len(), 1, "expected a single-host scan: {hosts:?}");
    hosts.into_iter().next().unwrap()
}

fn check_new_ports_between(before: &str, after: &str) -> Vec<String> {
    let (before, after) = (corpus().join(before), corpus().join(after));
    let raw_before = std::fs::read_to_string(&before).unwrap();
    let raw_after = std::fs::read_to_string(&after).unwrap();
    let host = raw_single_host(&raw_before);
    assert_eq!(
        host,
        raw_single_host(&raw_after),
        "the two scans must be of the same host"
    );
    let old: BTreeSet<(String, u16)> = raw_open_ports(&raw_before).into_iter().collect();
    let expected: Vec<String> = raw_open_ports(&raw_after)
        .into_iter()
        .filter(|p| !old.contains(p))
        .map(|(proto, port)| format!("{host} {proto}/{port}"))
        .collect();
    let mut got = new_keys(&baseline_of(&[before]), &snapshot(&[after]));
    got.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(got, expected_sorted);
    got
}

#[test]
fn corpus_new_ports_between_two_scans_of_the_same_host() {
    let ndiff = "nmap_repo/ndiff/test-scans";
    let got = check_new_ports_between(
        &format!("{ndiff}/simple.xml"),
        &format!("{ndiff}/single.xml"),
    );
    assert!(
        !got.is_empty(),
        "simple.xml -> single.xml must show new ports"
    );
    let got = check_new_ports_between(
        &format!("{ndiff}/single.xml"),
        &format!("{ndiff}/complex.xml"),
    );
    assert!(
        !got.is_empty(),
        "single.xml -> complex.xml must show new ports"
    );
    let zen = "nmap_repo/zenmap/test";
    let got = check_new_ports_between(
        &format!("{zen}/xml_test14.xml"),
        &format!("{zen}/xml_test13.xml"),
    );
    assert!(
        !got.is_empty(),
        "xml_test14.xml -> xml_test13.xml must show new ports"
    );
    // The other way round nothing is new: a closed port is not reported.
    let got = check_new_ports_between(
        &format!("{zen}/xml_test13.xml"),
        &format!("{zen}/xml_test14.xml"),
    );
    assert!(got.is_empty());
}

#[test]
fn corpus_service_version_changes_are_reported() {
    // os.xml saw 22/tcp without -sV (name "ssh" guessed from the port
    // table); complex.xml probed it: the name is the same, so only parts
    // both scans know are compared and nothing is reported for 22/tcp.
    let ndiff = corpus().join("nmap_repo/ndiff/test-scans");
    let baseline = baseline_of(&[ndiff.join("os.xml")]);
    let changes = baseline.diff(&snapshot(&[ndiff.join("complex.xml")]));
    assert!(
        changes
            .iter()
            .all(|c| !(c.observation.key.port == 22 && c.observation.key.protocol == Protocol::Tcp)),
        "{changes:?}"
    );
    // A baseline from a -sV scan with an older version: the version change
    // is reported.
    let mut downgraded = snapshot(&[ndiff.join("complex.xml")]);
    let ssh = downgraded
        .ports
        .values_mut()
        .find(|o| o.key.port == 22)
        .unwrap();
    ssh.service.version = Some("3.9p1".into());
    let mut old = Baseline::new();
    for o in downgraded.ports.values() {
        old.approve(o, datetime!(2026-11-30 12:00 UTC));
    }
    let changes = old.diff(&snapshot(&[ndiff.join("complex.xml")]));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        changes[0].kind,
        ChangeKind::Changed(vec![("version", "3.9p1".into(), "4.3".into())])
    );
}

/// `(host, protocol, port)` of every open port of every up host, read from
/// the raw XML with regexes, independently of the parser.
fn raw_open_host_ports(xml: &str) -> BTreeSet<String> {
    let host_re = regex::Regex::new(r"(?s)<host[ >].*?</host>").unwrap();
    let status = regex::Regex::new(r#"<status state="([a-z]+)""#).unwrap();
    let addr = regex::Regex::new(r#"<address addr="([^"]+)" addrtype="ipv4""#).unwrap();
    let mut out = BTreeSet::new();
    for host in host_re.find_iter(xml) {
        let host = host.as_str();
        if status.captures(host).is_some_and(|c| &c[1] != "up") {
            continue;
        }
        let address = addr
            .captures(host)
            .expect("every host of these scans has an IPv4 address")[1]
            .to_string();
        for (proto, port) in raw_open_ports(host) {
            out.insert(format!("{address} {proto}/{port}"));
        }
    }
    out
}

#[test]
fn corpus_new_ports_between_two_scans_of_many_hosts() {
    let dir = corpus().join("nmap_repo/ndiff/test-scans");
    let (before, after) = (dir.join("random-1.xml"), dir.join("random-2.xml"));
    let old = raw_open_host_ports(&std::fs::read_to_string(&before).unwrap());
    let expected: Vec<String> = raw_open_host_ports(&std::fs::read_to_string(&after).unwrap())
        .difference(&old)
        .cloned()
        .collect();
    let mut got = new_keys(&baseline_of(&[before]), &snapshot(&[after]));
    got.sort();
    let mut expected = expected;
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}

#[test]
fn corpus_replaying_the_same_scans_gives_identical_detections() {
    let dir = corpus().join("nmap_repo/ndiff/test-scans");
    let now = datetime!(2026-11-30 12:00 UTC);
    let run = || {
        let baseline = baseline_of(&[dir.join("random-1.xml")]);
        let current = snapshot(&[dir.join("random-2.xml")]);
        baseline
            .diff(&current)
            .iter()
            .map(|c| serde_json::to_string(&detection(c, now)).unwrap())
            .collect::<Vec<_>>()
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}
