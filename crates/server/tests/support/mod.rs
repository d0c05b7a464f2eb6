//! The pipeline the input tests feed: a real `Ingest` (spool, checker,
//! detection worker) in a temporary directory, stopped and its spool read
//! back; and waiting on an input's counters with a deadline.
//!
//! Each test target uses only some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use watchpost_server::ingest::{Ingest, IngestConfig, Intake, SourceCounts, record};
use watchpost_server::spool::{Spool, SpoolConfig};
use web::events::{EventSink, IngestStatus};

/// A running pipeline with no rules and the default policy; inputs are
/// started on its intake.
pub struct Pipeline {
    pub dir: TempDir,
    pub data_dir: PathBuf,
    pub spool_dir: PathBuf,
    pub ingest: Ingest,
    pub intake: Arc<Intake>,
}

/// What a stopped pipeline holds.
pub struct Stopped {
    pub status: IngestStatus,
    pub sources: BTreeMap<String, SourceCounts>,
    /// The spooled records, in order: (source, line). Every one is syslog.
    pub spooled: Vec<(String, Vec<u8>)>,
    /// The lines of the dead-letter file (none when there is no file).
    pub dead_letters: Vec<String>,
}

impl Pipeline {
    /// Starts a pipeline in a fresh temporary directory.
    pub async fn start() -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let spool_dir = dir.path().join("spool");
        let store = watchpost_server::open_store(&watchpost_server::StoreLocation::new(
            Some(data_dir.clone()),
            None,
        ))
        .await
        .unwrap();
        let engine_config = engine::EngineConfig {
            rules: vec![],
            policy: Some(policy::PolicyConfig::default()),
        };
        let for_load = engine_config.clone();
        let engine = tokio::task::spawn_blocking(move || engine::Engine::load(for_load))
            .await
            .unwrap()
            .unwrap();
        let ingest = Ingest::start(
            &IngestConfig {
                spool_dir: Some(spool_dir.clone()),
                // Nothing is committed (and so deleted) before the spool is
                // read back: the replay horizon is a century of event time.
                replay_horizon_secs: Some(100 * 365 * 86_400),
                ..IngestConfig::default()
            },
            &data_dir,
            engine_config,
            Arc::new(engine),
            store,
        )
        .unwrap();
        let intake = ingest.intake();
        Pipeline {
            dir,
            data_dir,
            spool_dir,
            ingest,
            intake,
        }
    }

    /// Stops the pipeline (its inputs stopped first) and reads the spool
    /// and the dead-letter file back.
    pub async fn stop(self) -> Stopped {
        let status = EventSink::status(&*self.intake);
        let sources = self.ingest.sources();
        drop(self.intake);
        let ingest = self.ingest;
        tokio::task::spawn_blocking(move || ingest.stop())
            .await
            .unwrap();
        let spool = Spool::open(SpoolConfig {
            dir: self.spool_dir.clone(),
            ..SpoolConfig::default()
        })
        .unwrap();
        let spooled = spool
            .read_from(0, 100_000)
            .unwrap()
            .into_iter()
            .map(|(_, bytes)| {
                let r = record::decode(&bytes).unwrap();
                assert_eq!(r.format, sources::Format::Syslog);
                (r.source.to_owned(), r.line.to_vec())
            })
            .collect();
        let dead_letters = std::fs::read_to_string(
            self.data_dir
                .join(watchpost_server::ingest::DEAD_LETTER_FILE),
        )
        .map_or(Vec::new(), |text| text.lines().map(str::to_owned).collect());
        Stopped {
            status,
            sources,
            spooled,
            dead_letters,
        }
    }
}

/// Waits (for at most 20 s) until `done` holds of an input's `counts` and
/// the intake's status.
pub async fn wait_until<C: Debug>(
    intake: &Intake,
    what: &str,
    counts: impl Fn() -> C,
    done: impl Fn(&C, &IngestStatus) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let counts = counts();
        let status = EventSink::status(intake);
        if done(&counts, &status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {counts:?} {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
