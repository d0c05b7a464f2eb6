//! The event spool on real files: reading back after reopening, torn tails,
//! corruption, segment rollover and commit, the size cap, group commit
//! under concurrency, and waking a waiting reader. Expected values are
//! worked out by hand from the record format (8 header bytes + payload).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::mpsc;
use std::time::Duration;

use watchpost_server::spool::{Spool, SpoolConfig, SpoolError, TornTail};

/// A spool config in `dir` with the given sizes.
fn config(dir: &Path, segment_bytes: u64, max_bytes: u64) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_owned(),
        segment_bytes,
        max_bytes,
    }
}

/// Opens a spool in `dir` with the default sizes.
fn open(dir: &Path) -> Spool {
    Spool::open(config(dir, 64 << 20, 1 << 30)).unwrap()
}

/// The segment file names in `dir`, sorted.
fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

/// The path of the segment starting at `first`.
fn segment(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

/// Everything in the spool from `offset` on.
fn read_all(spool: &Spool, offset: u64) -> Vec<(u64, Vec<u8>)> {
    spool.read_from(offset, usize::MAX).unwrap()
}

/// `(offset, payload)` pairs from string payloads.
fn records(first: u64, payloads: &[&str]) -> Vec<(u64, Vec<u8>)> {
    (first..)
        .zip(payloads)
        .map(|(offset, p)| (offset, p.as_bytes().to_vec()))
        .collect()
}

#[test]
fn spool_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Spool>();
}

#[test]
fn appended_batches_read_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let spool = open(dir.path());
        assert_eq!(spool.append(&[b"a", b"bb"]).unwrap(), 0..2);
        assert_eq!(spool.append(&[b"ccc"]).unwrap(), 2..3);
        assert_eq!(spool.append(&[b"dd", b"", b"f"]).unwrap(), 3..6);
        assert_eq!(spool.append(&[]).unwrap(), 6..6);
        assert_eq!(spool.stats().appended_records, 6);
    }
    let spool = open(dir.path());
    assert_eq!(
        read_all(&spool, 0),
        records(0, &["a", "bb", "ccc", "dd", "", "f"])
    );
    assert_eq!(spool.read_from(2, 2).unwrap(), records(2, &["ccc", "dd"]));
    assert_eq!(spool.read_from(6, 10).unwrap(), vec![]);
    assert_eq!(spool.read_from(0, 0).unwrap(), vec![]);
    assert_eq!(spool.recovered().torn, None);
    assert_eq!(spool.end(), 6);
    assert_eq!(spool.committed(), 0);
    let stats = spool.stats();
    assert_eq!(stats.appended_records, 0);
    // 6 headers of 8 bytes + 1 + 2 + 3 + 2 + 0 + 1 payload bytes.
    assert_eq!(stats.bytes_on_disk, 57);
    assert_eq!(stats.segments, 1);
    assert_eq!(segment_files(dir.path()), ["00000000000000000000.seg"]);
}

/// Appends `tail` by hand to a segment holding "one", "two", "three"
/// (35 bytes), reopens, and checks that exactly `tail` is cut and counted.
fn check_torn_tail(tail: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = segment(dir.path(), 0);
    {
        let spool = open(dir.path());
        assert_eq!(spool.append(&[b"one", b"two"]).unwrap(), 0..2);
        assert_eq!(spool.append(&[b"three"]).unwrap(), 2..3);
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 35);
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(tail)
        .unwrap();

    let spool = open(dir.path());
    let torn = tail.len() as u64;
    assert_eq!(
        spool.recovered().torn,
        Some(TornTail {
            segment: path.clone(),
            position: 35,
            bytes: torn,
        }),
        "tail {tail:?}"
    );
    assert_eq!(spool.stats().recovered_torn_bytes, torn);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 35);
    assert_eq!(read_all(&spool, 0), records(0, &["one", "two", "three"]));
    assert_eq!(spool.append(&[b"four"]).unwrap(), 3..4);
    drop(spool);

    let spool = open(dir.path());
    assert_eq!(spool.recovered().torn, None);
    assert_eq!(
        read_all(&spool, 0),
        records(0, &["one", "two", "three", "four"])
    );
}

/// A whole record (header and payload) as the spool writes it.
fn record_bytes(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn torn_tail_of_the_last_segment_is_cut_and_counted() {
    let whole = record_bytes(b"four!");
    // Part of a header.
    check_torn_tail(&whole[..3]);
    // A header and half the payload.
    check_torn_tail(&whole[..10]);
    // A whole record with a bad checksum.
    let mut bad_crc = whole.clone();
    bad_crc[4] ^= 0xff;
    check_torn_tail(&bad_crc);
    // Garbage whose "length" runs far past the end of the file.
    check_torn_tail(b"\xff\xff\xff\xffgarbage!");
    // A bad record followed by a good one: the writes of a crash reach
    // the disk in any order, so everything from the first bad one goes.
    let mut bad_then_good = bad_crc;
    bad_then_good.extend_from_slice(&record_bytes(b"five"));
    check_torn_tail(&bad_then_good);
}

#[test]
fn bad_checksum_in_an_older_segment_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        // 10-byte payloads take 18 bytes: three fit in 64, a fourth not.
        let spool = Spool::open(config(dir.path(), 64, 1 << 20)).unwrap();
        for i in 0..9u8 {
            assert_eq!(
                spool.append(&[&[i; 10]]).unwrap(),
                u64::from(i)..u64::from(i) + 1
            );
        }
    }
    assert_eq!(
        segment_files(dir.path()),
        [
            "00000000000000000000.seg",
            "00000000000000000003.seg",
            "00000000000000000006.seg"
        ]
    );
    // Flip a payload byte of the second record (byte 18) of segment 3.
    let path = segment(dir.path(), 3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[18 + 8] ^= 1;
    std::fs::write(&path, &bytes).unwrap();

    let error = Spool::open(config(dir.path(), 64, 1 << 20)).unwrap_err();
    match &error {
        SpoolError::Corrupt {
            path: at, position, ..
        } => {
            assert_eq!(at, &path);
            assert_eq!(*position, 18);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("00000000000000000003.seg") && message.contains("byte 18"),
        "{message}"
    );
}

#[test]
fn rollover_and_commit_delete_consumed_segments_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let payload = |i: u8| vec![i; 100];
    {
        // 100-byte payloads take 108 bytes: two fit in 256, a third not.
        let spool = Spool::open(config(dir.path(), 256, 1 << 20)).unwrap();
        for i in 0..6u8 {
            spool.append(&[&payload(i)]).unwrap();
        }
        assert_eq!(
            segment_files(dir.path()),
            [
                "00000000000000000000.seg",
                "00000000000000000002.seg",
                "00000000000000000004.seg"
            ]
        );
        let stats = spool.stats();
        assert_eq!((stats.segments, stats.bytes_on_disk), (3, 648));

        spool.commit(3).unwrap();
        // Segment 2 still holds record 3, which is not yet committed.
        assert_eq!(
            segment_files(dir.path()),
            ["00000000000000000002.seg", "00000000000000000004.seg"]
        );
        assert_eq!(spool.committed(), 3);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("committed")).unwrap(),
            "3\n"
        );
        let stats = spool.stats();
        assert_eq!(
            (stats.segments, stats.bytes_on_disk, stats.committed),
            (2, 432, 3)
        );
        // Lower commits are ignored; commits past the end are refused.
        spool.commit(1).unwrap();
        assert_eq!(spool.committed(), 3);
        assert!(matches!(
            spool.commit(7),
            Err(SpoolError::CommitPastEnd { offset: 7, end: 6 })
        ));
        assert_eq!(spool.committed(), 3);
    }

    let spool = Spool::open(config(dir.path(), 256, 1 << 20)).unwrap();
    assert_eq!(spool.committed(), 3);
    let replay = spool.read_from(spool.committed(), 100).unwrap();
    assert_eq!(
        replay,
        vec![(3, payload(3)), (4, payload(4)), (5, payload(5))]
    );
    // Record 2 is still on disk (segment 2); record 1 went with segment 0.
    assert_eq!(spool.read_from(2, 1).unwrap(), vec![(2, payload(2))]);
    assert!(matches!(
        spool.read_from(0, 10),
        Err(SpoolError::Deleted {
            offset: 0,
            oldest: 2
        })
    ));

    assert_eq!(spool.append(&[&payload(6)]).unwrap(), 6..7);
    assert_eq!(
        segment_files(dir.path()),
        [
            "00000000000000000002.seg",
            "00000000000000000004.seg",
            "00000000000000000006.seg"
        ]
    );
    // Committing everything frees everything: the last segment is
    // replaced by an empty one starting at the next offset.
    spool.commit(7).unwrap();
    assert_eq!(segment_files(dir.path()), ["00000000000000000007.seg"]);
    assert_eq!(spool.stats().bytes_on_disk, 0);
    drop(spool);

    let spool = Spool::open(config(dir.path(), 256, 1 << 20)).unwrap();
    assert_eq!((spool.committed(), spool.end()), (7, 7));
    assert_eq!(spool.read_from(7, 10).unwrap(), vec![]);
    assert_eq!(spool.append(&[b"next"]).unwrap(), 7..8);
    assert_eq!(spool.read_from(7, 10).unwrap(), records(7, &["next"]));
}

#[test]
fn full_spool_writes_nothing_until_a_commit_frees_space() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(config(dir.path(), 256, 500)).unwrap();
    let payload = [7u8; 100];
    for i in 0..4 {
        assert_eq!(spool.append(&[&payload]).unwrap(), i..i + 1);
    }
    // 4 × 108 = 432 bytes; one more record would make 540 > 500.
    match spool.append(&[&payload]) {
        Err(SpoolError::Full {
            max_bytes,
            bytes_on_disk,
            needed,
        }) => assert_eq!((max_bytes, bytes_on_disk, needed), (500, 432, 108)),
        other => panic!("expected Full, got {other:?}"),
    }
    assert!(matches!(
        spool.append(&[b"small", &payload]),
        Err(SpoolError::Full { needed: 121, .. })
    ));
    let on_disk: u64 = segment_files(dir.path())
        .iter()
        .map(|name| std::fs::metadata(dir.path().join(name)).unwrap().len())
        .sum();
    assert_eq!(on_disk, 432);
    assert_eq!(spool.stats().bytes_on_disk, 432);
    assert_eq!(spool.end(), 4);
    assert_eq!(read_all(&spool, 0).len(), 4);

    // Committing records 0 and 1 deletes segment 0 (216 bytes).
    spool.commit(2).unwrap();
    assert_eq!(spool.stats().bytes_on_disk, 216);
    assert_eq!(spool.append(&[&payload]).unwrap(), 4..5);
    assert_eq!(spool.append(&[&payload]).unwrap(), 5..6);
    assert!(matches!(
        spool.append(&[&payload]),
        Err(SpoolError::Full { .. })
    ));
}

#[test]
fn concurrent_appends_share_fsyncs() {
    const THREADS: usize = 8;
    const APPENDS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    let start = Barrier::new(THREADS);
    let appended: Vec<Vec<(u64, String)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (spool, start) = (&spool, &start);
                scope.spawn(move || {
                    start.wait();
                    (0..APPENDS)
                        .map(|i| {
                            let payload = format!("thread {t} record {i}");
                            let range = spool.append(&[payload.as_bytes()]).unwrap();
                            assert_eq!(range.end - range.start, 1);
                            (range.start, payload)
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    let total = (THREADS * APPENDS) as u64;
    let mut expected: Vec<(u64, Vec<u8>)> = Vec::new();
    for thread in &appended {
        // Each thread's records are in the order it appended them.
        assert!(thread.windows(2).all(|w| w[0].0 < w[1].0));
        expected.extend(thread.iter().map(|(o, p)| (*o, p.clone().into_bytes())));
    }
    expected.sort();
    let offsets: Vec<u64> = expected.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..total).collect::<Vec<_>>());
    assert_eq!(read_all(&spool, 0), expected);

    let stats = spool.stats();
    assert_eq!(stats.appended_records, total);
    assert!(
        stats.fsyncs < total,
        "{} fsyncs for {total} appends",
        stats.fsyncs
    );
    drop(spool);
    assert_eq!(read_all(&open(dir.path()), 0), expected);
}

#[test]
fn wait_for_is_woken_by_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    assert!(!spool.wait_for(0, Duration::ZERO));
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            ready_tx.send(()).unwrap();
            // A long timeout: only the append ends this wait in time.
            let woken = spool.wait_for(0, Duration::from_secs(600));
            (woken, spool.read_from(0, 10).unwrap())
        });
        ready_rx.recv().unwrap();
        assert_eq!(spool.append(&[b"wake up"]).unwrap(), 0..1);
        let (woken, read) = reader.join().unwrap();
        assert!(woken);
        assert_eq!(read, records(0, &["wake up"]));
    });
    assert!(spool.wait_for(0, Duration::ZERO));
    assert!(!spool.wait_for(1, Duration::ZERO));
}

#[test]
fn bad_files_in_the_directory_are_errors_or_ignored_never_panics() {
    // A file that is not the spool's is ignored.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"\x00\xffrandom").unwrap();
    let spool = open(dir.path());
    assert_eq!(spool.append(&[b"x"]).unwrap(), 0..1);
    drop(spool);

    // An empty last segment holds no records.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(segment(dir.path(), 0), b"").unwrap();
    let spool = open(dir.path());
    assert_eq!((spool.end(), spool.recovered().torn_bytes()), (0, 0));
    drop(spool);

    // A `.seg` file not named by 20 digits.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.seg");
    std::fs::write(&path, b"junk").unwrap();
    assert!(matches!(
        Spool::open(config(dir.path(), 1024, 4096)),
        Err(SpoolError::BadSegmentName { path: p }) if p == path
    ));

    // A committed file cut short, or not a number.
    for content in ["12", "", "x\n", "99999999999999999999999\n"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("committed"), content).unwrap();
        assert!(
            matches!(
                Spool::open(config(dir.path(), 1024, 4096)),
                Err(SpoolError::BadCommitted { .. })
            ),
            "{content:?}"
        );
    }

    // A committed offset past the records on disk.
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    std::fs::write(dir.path().join("committed"), "5\n").unwrap();
    assert!(matches!(
        Spool::open(config(dir.path(), 1024, 4096)),
        Err(SpoolError::CommittedPastEnd {
            committed: 5,
            end: 0,
            ..
        })
    ));

    // Records missing between two segments.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(segment(dir.path(), 0), record_bytes(b"a")).unwrap();
    std::fs::write(segment(dir.path(), 5), record_bytes(b"b")).unwrap();
    assert!(matches!(
        Spool::open(config(dir.path(), 1024, 4096)),
        Err(SpoolError::Gap {
            expected: 1,
            found: 5,
            ..
        })
    ));

    // Two spools on one directory.
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    assert!(matches!(
        Spool::open(config(dir.path(), 1024, 4096)),
        Err(SpoolError::Locked { .. })
    ));
    drop(first);
    drop(open(dir.path()));

    // Sizes of zero.
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Spool::open(config(dir.path(), 0, 4096)),
        Err(SpoolError::Config { .. })
    ));
    assert!(matches!(
        Spool::open(config(dir.path(), 1024, 0)),
        Err(SpoolError::Config { .. })
    ));
}

#[test]
fn config_reads_a_spool_table_with_defaults() {
    #[derive(serde::Deserialize)]
    struct File {
        spool: SpoolConfig,
    }
    let file: File = toml::from_str("[spool]\ndir = \"/var/spool/watchpost\"\n").unwrap();
    assert_eq!(
        file.spool,
        SpoolConfig {
            dir: PathBuf::from("/var/spool/watchpost"),
            segment_bytes: 64 << 20,
            max_bytes: 1 << 30,
        }
    );
    assert!(toml::from_str::<File>("[spool]\nsegment_byte = 1\n").is_err());
}

#[cfg(unix)]
#[test]
fn spool_files_are_owner_only_and_a_loose_directory_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("spool");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

    let spool = open(&dir);
    spool.append(&[b"one".as_slice()]).unwrap();
    spool.commit(1).unwrap();

    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the spool directory");
    for name in ["lock", "committed"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    for name in segment_files(&dir) {
        assert_eq!(mode(&dir.join(&name)), 0o600, "{name}");
    }
    assert!(!segment_files(&dir).is_empty());
}
