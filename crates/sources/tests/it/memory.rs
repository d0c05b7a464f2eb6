//! `read_bytes` reads a file's content from memory exactly as `read_file`
//! reads the file: same format detection, same events, same problems.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use events::Event;
use watchpost_sources::{FileSummary, Format, read_bytes};

use crate::{data, read_all};

/// Reads `data` from memory under `name`, events sorted by record number.
fn read_memory(
    name: &str,
    content: &[u8],
    format: Option<Format>,
    modified: Option<SystemTime>,
) -> (Vec<Event>, FileSummary) {
    let events = Mutex::new(Vec::new());
    let summary = read_bytes(
        name,
        content,
        format,
        modified,
        &Default::default(),
        &|batch| {
            events.lock().unwrap().extend(batch);
        },
    );
    let mut events = events.into_inner().unwrap();
    events.sort_by_key(|e| e.meta.record);
    (events, summary)
}

/// Reads `path` both ways and checks they agree; returns the event count.
fn agree(path: &Path, format: Option<Format>) -> usize {
    let content = std::fs::read(path).unwrap();
    let modified = std::fs::metadata(path).unwrap().modified().ok();
    let name = path.display().to_string();
    let (from_file, file_summary) = read_all(path, format);
    let (from_memory, memory_summary) = read_memory(&name, &content, format, modified);
    assert_eq!(from_memory, from_file, "{name}: events");
    assert_eq!(memory_summary, file_summary, "{name}: summary");
    from_file.len()
}

#[test]
fn memory_and_file_agree_on_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    // (fixture, events it holds: counted by hand from the file)
    let cases: &[(&str, usize)] = &[
        ("access_combined.log", 5),
        ("access_wrapped.log", 2),
        ("array.json", 2),
        ("audit.log", 4),
        ("auth.log", 6),
        ("cloudtrail_records.json", 2),
        ("mixed.ndjson", 5),
    ];
    for (fixture, want) in cases {
        // A copy with a fixed modification time, so syslog years agree.
        let copy = dir.path().join(fixture);
        std::fs::copy(data(fixture), &copy).unwrap();
        let file = std::fs::File::options().write(true).open(&copy).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
            .unwrap();
        assert_eq!(agree(&copy, None), *want, "{fixture}");

        // The same content gzip-compressed.
        let gz = dir.path().join(format!("{fixture}.gz"));
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        encoder
            .write_all(&std::fs::read(data(fixture)).unwrap())
            .unwrap();
        encoder.finish().unwrap();
        agree(&gz, None);
    }
}

#[test]
fn memory_and_file_agree_on_forced_formats_and_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"\x00\x01\x02\x03binary\x04\x05\x06\x07\x08").unwrap();
    assert_eq!(agree(&garbage, None), 0);
    for format in [
        Format::Evtx,
        Format::Json,
        Format::Syslog,
        Format::AccessLog,
        Format::Auditd,
    ] {
        agree(&data("auth.log"), Some(format));
        agree(&garbage, Some(format));
    }
}
