//! The file-tail input end to end: files in a temporary directory, a real
//! `Ingest` (spool, checker, detection worker), and the spool read back
//! after the pipeline has stopped.
//!
//! Every line here is written by hand for these tests. Tests wait on
//! counters with a deadline, never on a fixed sleep; "nothing more arrives"
//! is checked after the input has completed a few more polls.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use support::{Pipeline, wait_until};
use tokio::sync::watch;
use watchpost_server::ingest::SourceCounts;
use watchpost_server::ingest::tail::{self, StartAt, TailConfig, TailCounts, TailStats};
use web::events::IngestStatus;

/// The `n`th RFC 3164 line of these tests (each one different).
fn line(n: usize) -> String {
    format!(
        "<38>Dec  3 10:{:02}:{:02} bastion sshd[{}]: Accepted publickey for deploy from 192.0.2.{} port {} ssh2",
        (n / 60) % 60,
        n % 60,
        4000 + n,
        n % 250 + 1,
        40_000 + n
    )
}

/// Lines `range` with their line feeds.
fn lines(range: std::ops::RangeInclusive<usize>) -> String {
    range.map(|n| format!("{}\n", line(n))).collect()
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// One running tail input.
struct Running {
    stats: Arc<TailStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What a stopped pipeline holds.
struct Finished {
    status: IngestStatus,
    sources: BTreeMap<String, SourceCounts>,
    /// The spooled records, in order: (source, line).
    spooled: Vec<(String, String)>,
    dead_letters: Vec<serde_json::Value>,
}

impl Finished {
    fn lines(&self) -> Vec<String> {
        self.spooled.iter().map(|(_, line)| line.clone()).collect()
    }

    /// The lines, sorted (when files are read in turn).
    fn sorted(&self) -> Vec<String> {
        let mut lines = self.lines();
        lines.sort();
        lines
    }
}

fn expected(numbers: impl IntoIterator<Item = usize>) -> Vec<String> {
    numbers.into_iter().map(line).collect()
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

/// A running pipeline with a directory for the test's log files.
async fn pipeline() -> Pipeline {
    let p = Pipeline::start().await;
    std::fs::create_dir_all(p.logs()).unwrap();
    p
}

impl Pipeline {
    /// The directory the test's log files go in.
    fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// A config following `patterns` (relative to the log directory),
    /// polling every 20 ms.
    fn config(&self, patterns: &[&str]) -> TailConfig {
        let mut config = TailConfig::new(
            patterns
                .iter()
                .map(|p| self.logs().join(p).display().to_string())
                .collect(),
        );
        config.poll_millis = 20;
        config
    }

    /// Starts a tail input keeping its state in the data directory.
    fn tail(&self, config: TailConfig) -> Running {
        let tail = tail::start(config, &self.data_dir).unwrap();
        let (stop, shutdown) = watch::channel(false);
        let stats = tail.stats();
        let task = tokio::spawn(tail.run(Arc::clone(&self.intake), shutdown));
        Running { stats, stop, task }
    }

    /// Waits until `done` holds of the input's and the intake's counts.
    async fn until(
        &self,
        running: &Running,
        what: &str,
        done: impl Fn(&TailCounts, &IngestStatus) -> bool,
    ) {
        wait_until(&self.intake, what, || running.stats.snapshot(), done).await;
    }

    /// Waits for three more complete polls, so that anything still to
    /// arrive has been sent.
    async fn settle(&self, running: &Running) {
        let polls = running.stats.snapshot().polls;
        self.until(running, "three more polls", |c, _| c.polls >= polls + 3)
            .await;
    }

    /// Stops the pipeline and reads the spool back.
    async fn finish(self) -> Finished {
        let stopped = self.stop().await;
        Finished {
            status: stopped.status,
            sources: stopped.sources,
            spooled: stopped
                .spooled
                .into_iter()
                .map(|(source, line)| (source, String::from_utf8(line).unwrap()))
                .collect(),
            dead_letters: stopped
                .dead_letters
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        }
    }
}

impl Running {
    /// Stops the input and waits for it (it saves its offsets).
    async fn stop(self) -> TailCounts {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the tail input stops")
            .unwrap()
            .unwrap();
        self.stats.snapshot()
    }
}

const APP: &str = "tail/syslog/app.log";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_lines_arrive_once_and_in_order() {
    let p = pipeline().await;
    let log = p.logs().join("app.log");
    append(&log, &lines(1..=3));
    let running = p.tail(p.config(&["app.log"]));
    p.until(&running, "3 lines", |c, s| c.lines == 3 && s.accepted == 3)
        .await;
    // More than one batch's worth, appended in pieces.
    append(&log, &lines(4..=1500));
    append(&log, &lines(1501..=2600));
    p.until(&running, "2600 lines", |c, s| {
        c.lines == 2600 && s.accepted == 2600
    })
    .await;
    p.settle(&running).await;
    let counts = running.stop().await;
    let size = std::fs::metadata(&log).unwrap().len();
    let done = p.finish().await;

    assert_eq!(done.lines(), expected(1..=2600));
    assert!(done.spooled.iter().all(|(source, _)| source == APP));
    assert_eq!(done.sources[APP].accepted, 2600);
    assert_eq!((done.status.accepted, done.status.rejected), (2600, 0));
    assert_eq!(counts.bytes, size);
    assert_eq!((counts.files, counts.rejected, counts.errors), (1, 0, 0));
    assert_eq!((counts.rotations, counts.truncations), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_line_waits_for_its_line_feed() {
    let p = pipeline().await;
    let log = p.logs().join("app.log");
    let second = line(2);
    let (head, tail) = second.split_at(30);
    append(&log, &format!("{}\n{head}", line(1)));
    let running = p.tail(p.config(&["app.log"]));
    p.until(&running, "the first line", |c, _| c.lines == 1)
        .await;
    p.settle(&running).await;
    assert_eq!(running.stats.snapshot().lines, 1, "a partial line was sent");
    append(&log, &format!("{tail}\n"));
    p.until(&running, "the completed line", |c, _| c.lines == 2)
        .await;
    p.settle(&running).await;
    running.stop().await;
    let done = p.finish().await;
    assert_eq!(done.lines(), expected(1..=2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_rotation_reads_the_old_file_to_its_end_then_the_new_one() {
    let p = pipeline().await;
    let log = p.logs().join("app.log");
    let rotated = p.logs().join("app.log.1");
    append(&log, &lines(1..=3));
    // Only `app.log` is followed: the rotated file leaves the globs.
    let running = p.tail(p.config(&["app.log"]));
    p.until(&running, "3 lines", |c, _| c.lines == 3).await;
    std::fs::rename(&log, &rotated).unwrap();
    // The writer has not reopened its log yet: it still appends to the
    // old file, and its last line is cut short.
    append(&rotated, &format!("{}\n{}", line(4), line(5)));
    append(&log, &lines(6..=7));
    p.until(&running, "7 lines, the old file closed", |c, _| {
        c.lines == 7 && c.open_files == 1 && c.rotations == 1
    })
    .await;
    append(&log, &lines(8..=8));
    p.until(&running, "8 lines", |c, _| c.lines == 8).await;
    p.settle(&running).await;
    let counts = running.stop().await;
    let done = p.finish().await;

    assert_eq!(done.sorted(), sorted(expected(1..=8)));
    // Each file's lines in order.
    let old: Vec<String> = done
        .lines()
        .into_iter()
        .filter(|l| expected(1..=5).contains(l))
        .collect();
    assert_eq!(old, expected(1..=5));
    // The rotated file keeps the source it was read under.
    assert!(done.spooled.iter().all(|(source, _)| source == APP));
    assert_eq!((counts.files, counts.truncations), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_renamed_within_the_globs_is_followed_under_its_new_name() {
    let p = pipeline().await;
    let log = p.logs().join("app.log");
    let rotated = p.logs().join("app.log.1");
    append(&log, &lines(1..=2));
    let running = p.tail(p.config(&["app.log*"]));
    p.until(&running, "2 lines", |c, _| c.lines == 2).await;
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, &lines(3..=3));
    append(&log, &lines(4..=5));
    p.until(&running, "5 lines", |c, _| c.lines == 5 && c.rotations == 1)
        .await;
    p.settle(&running).await;
    let counts = running.stop().await;
    let done = p.finish().await;
    assert_eq!(done.sorted(), sorted(expected(1..=5)));
    assert_eq!((counts.files, counts.open_files), (2, 0));
    assert_eq!(done.sources[APP].accepted, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copytruncate_rotation_gives_every_line_once() {
    for pattern in ["app.log", "app.log*"] {
        let p = pipeline().await;
        let log = p.logs().join("app.log");
        append(&log, &lines(1..=3));
        let running = p.tail(p.config(&[pattern]));
        p.until(&running, "3 lines", |c, _| c.lines == 3).await;
        append(&log, &lines(4..=4));
        if pattern == "app.log" {
            // The copy is not followed: what was not read before the
            // truncation is lost (as with any reader of copytruncate).
            p.until(&running, "4 lines", |c, _| c.lines == 4).await;
        }
        // logrotate's copytruncate: copy, then truncate in place.
        std::fs::copy(&log, p.logs().join("app.log.1")).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&log, &lines(5..=6));
        p.until(&running, "6 lines", |c, _| {
            c.lines == 6 && c.truncations == 1
        })
        .await;
        p.settle(&running).await;
        let counts = running.stop().await;
        let done = p.finish().await;
        assert_eq!(done.sorted(), sorted(expected(1..=6)), "{pattern}");
        assert_eq!(counts.truncations, 1, "{pattern}");
        let copies = if pattern == "app.log" { 1 } else { 2 };
        assert_eq!(counts.files, copies, "{pattern}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_saved_offsets() {
    let p = pipeline().await;
    let log = p.logs().join("app.log");
    append(&log, &lines(1..=3));
    let running = p.tail(p.config(&["app.log"]));
    p.until(&running, "3 lines", |c, _| c.lines == 3).await;
    running.stop().await;

    append(&log, &lines(4..=5));
    // `start_at = "end"` is for files without a saved offset: this one
    // has one.
    let mut config = p.config(&["app.log"]);
    config.start_at = StartAt::End;
    let running = p.tail(config);
    p.until(&running, "the 2 new lines", |c, s| {
        c.lines == 2 && s.accepted == 5
    })
    .await;
    p.settle(&running).await;
    let counts = running.stop().await;

    // The state file is owner-only JSON in the data directory.
    let state: Vec<PathBuf> = std::fs::read_dir(&p.data_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tail-state-")
        })
        .collect();
    assert_eq!(state.len(), 1, "{state:?}");
    assert_eq!(
        watchpost_server::at_rest::mode_of(&state[0]).unwrap(),
        Some(0o600)
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state[0]).unwrap()).unwrap();
    assert_eq!(
        saved["files"][0]["offset"],
        std::fs::metadata(&log).unwrap().len()
    );
    assert_eq!(saved["files"][0]["line"], 5);

    let done = p.finish().await;
    assert_eq!(done.lines(), expected(1..=5));
    assert_eq!(counts.bytes, (lines(4..=5)).len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glob_picks_up_files_created_after_start() {
    let p = pipeline().await;
    std::fs::create_dir_all(p.logs().join("web1")).unwrap();
    let first = p.logs().join("web1/app-1.log");
    // Before start, and `start_at = "end"`: not read.
    append(&first, &lines(1..=1));
    let mut config = p.config(&["*/app-*.log"]);
    config.start_at = StartAt::End;
    let running = p.tail(config);
    p.until(&running, "the first file", |c, _| {
        c.files == 1 && c.polls > 0
    })
    .await;
    append(&first, &lines(2..=2));
    p.until(&running, "1 line", |c, _| c.lines == 1).await;

    // A new directory and file: read from its start whatever `start_at`.
    std::fs::create_dir_all(p.logs().join("web2")).unwrap();
    append(&p.logs().join("web2/app-2.log"), &lines(3..=4));
    append(&p.logs().join("web2/other.log"), &lines(9..=9));
    append(&p.logs().join("web2/app-3.log.gz"), &lines(9..=9));
    p.until(&running, "3 lines", |c, _| c.lines == 3).await;
    p.settle(&running).await;
    let counts = running.stop().await;
    let done = p.finish().await;
    assert_eq!(done.sorted(), sorted(expected(2..=4)));
    assert_eq!(counts.files, 2);
    assert_eq!(done.sources["tail/syslog/app-1.log"].accepted, 1);
    assert_eq!(done.sources["tail/syslog/app-2.log"].accepted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_is_not_syslog_is_rejected_and_does_not_block_the_rest() {
    let p = pipeline().await;
    let log = p.logs().join("auth.log");
    append(&log, &lines(1..=1));
    let running = p.tail(p.config(&["auth.log"]));
    p.until(&running, "1 line", |c, _| c.lines == 1).await;
    append(
        &log,
        &format!("this is not a syslog line at all\n{}\n", line(2)),
    );
    p.until(&running, "the rejection and the next line", |c, s| {
        c.rejected == 1 && c.lines == 2 && s.rejected == 1
    })
    .await;
    append(&log, &lines(3..=3));
    p.until(&running, "3 lines", |c, _| c.lines == 3).await;
    p.settle(&running).await;
    let counts = running.stop().await;
    let done = p.finish().await;

    assert_eq!(done.lines(), expected(1..=3));
    let source = "tail/syslog/auth.log";
    assert_eq!(done.sources[source].rejected, 1);
    assert_eq!((done.status.accepted, done.status.rejected), (3, 1));
    assert_eq!(counts.rejected, 1);
    // The intake keeps the refused line, numbered as in the file.
    assert_eq!(done.dead_letters.len(), 1);
    assert_eq!(done.dead_letters[0]["source"], source);
    assert_eq!(done.dead_letters[0]["line"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = TailConfig::new(vec!["/var/log/**/x.log".to_owned()]);
    let error = format!("{:#}", tail::start(config.clone(), dir.path()).unwrap_err());
    assert!(error.contains("`**`"), "{error}");
    config.paths = vec!["/var/log/x.evtx".to_owned()];
    config.format = "evtx".to_owned();
    let error = format!("{:#}", tail::start(config, dir.path()).unwrap_err());
    assert!(error.contains("evtx"), "{error}");
}
