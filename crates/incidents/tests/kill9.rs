//! Crash safety: a child process (this test binary, re-executed in writer
//! mode) writes to a SQLite store continuously; the parent kills it with
//! SIGKILL mid-write, then reopens the database and checks that it is
//! intact, that the audit chain verifies, and that every write the child
//! reported as committed is there with its audit entry.

use watchpost_incidents as incidents;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use incidents::{Category, Channel, NewReport, NewUser, Role, Status, Viewer};

const CHILD_ENV: &str = "WATCHPOST_KILL9_CHILD_DB";
const TEST_NAME: &str = "kill9_sqlite_stays_consistent";

/// Writer mode: files reports and moves incidents forever, printing one
/// line per committed change.
async fn child_writer(db: &str) -> ! {
    // The writer files far more than a person's hourly report limit.
    let options = incidents::StoreOptions {
        max_reports_per_hour: u32::MAX,
        ..incidents::StoreOptions::default()
    };
    let store = incidents::open_with(&format!("sqlite:{db}"), options)
        .await
        .expect("child open");
    let u = store
        .create_user(
            &Viewer::system(),
            NewUser {
                name: "writer".into(),
                role: Role::Responder,
            },
        )
        .await
        .expect("child user");
    let v = Viewer::new(u.id, u.role);
    let mut out = std::io::stdout().lock();
    for k in 0u64.. {
        let r = store
            .file_report(
                &v,
                NewReport {
                    channel: Channel::Cli,
                    category: Category::Theft,
                    description: format!("report {k} {}", "x".repeat(200)),
                    occurred_at: None,
                    location: None,
                    sensitive: k.is_multiple_of(5),
                    anonymous: false,
                    attachments: vec![],
                },
            )
            .await
            .expect("child report");
        writeln!(out, "committed report {}", r.id).unwrap();
        out.flush().unwrap();
        if k.is_multiple_of(3) {
            store
                .transition_incident(&v, r.incident_id, Status::Investigating, None)
                .await
                .expect("child transition");
            writeln!(out, "committed transition {}", r.incident_id).unwrap();
            out.flush().unwrap();
        }
    }
    unreachable!("the writer loop never ends")
}

#[test]
fn kill9_sqlite_stays_consistent() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(db) = std::env::var(CHILD_ENV) {
        rt.block_on(child_writer(&db));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("watchpost.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut reports = Vec::new();
    let mut transitions = Vec::new();
    let mut record = |line: &str| {
        if let Some(id) = line.strip_prefix("committed report ") {
            reports.push(id.to_owned());
        } else if let Some(id) = line.strip_prefix("committed transition ") {
            transitions.push(id.to_owned());
        }
    };
    // Let it commit a few hundred changes, then kill it without warning.
    let mut n = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        record(&line);
        if line.starts_with("committed ") {
            n += 1;
            if n == 400 {
                break;
            }
        }
    }
    assert_eq!(n, 400, "the writer stopped early");
    child.kill().expect("SIGKILL the writer");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer was killed: {status:?}");
    // Lines it printed after a commit but before the kill count too.
    for line in lines {
        record(&line.unwrap());
    }
    assert!(reports.len() >= 300, "{} reports", reports.len());

    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let raw = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&raw)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&raw)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        raw.close().await;

        let store = incidents::open(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        let sys = Viewer::system();
        let report = store.verify_audit(&sys).await.unwrap();
        assert!(report.is_ok(), "{report:?}");
        let mut audited_reports = HashSet::new();
        let mut audited_transitions = HashSet::new();
        let mut after = 0;
        loop {
            let page = store.list_audit(&sys, after, 1000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in page {
                match e.action.as_str() {
                    "report.file" => {
                        audited_reports.insert(e.entity_id);
                    }
                    "incident.transition" => {
                        audited_transitions.insert(e.entity_id);
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(report.entries, after, "verify covered the whole chain");
        for id in &reports {
            let r = store.get_report(&sys, id.parse().unwrap()).await;
            assert!(r.is_ok(), "committed report {id} is missing: {r:?}");
            assert!(
                audited_reports.contains(id),
                "report {id} has no audit entry"
            );
        }
        for id in &transitions {
            let i = store.get_incident(&sys, id.parse().unwrap()).await.unwrap();
            assert_eq!(i.incident.status, Status::Investigating, "{id}");
            assert!(
                audited_transitions.contains(id),
                "transition of {id} has no audit entry"
            );
        }
        // The store still takes writes after the crash, and the chain goes on.
        store
            .create_user(
                &sys,
                NewUser {
                    name: "after-crash".into(),
                    role: Role::Reporter,
                },
            )
            .await
            .unwrap();
        let again = store.verify_audit(&sys).await.unwrap();
        assert!(
            again.is_ok() && again.entries == report.entries + 1,
            "{again:?}"
        );
        store.close().await;
    });
}
