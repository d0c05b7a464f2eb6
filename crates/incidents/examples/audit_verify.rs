//! Measures `verify_audit` over a long chain: appends N audit entries
//! (default 1,000,000) to a fresh SQLite store through raw multi-row
//! inserts, chained with the store's key exactly as the store chains them,
//! then verifies the whole chain and reports the time and the growth of the
//! peak resident set size (`VmHWM`, reset just before verifying).
//!
//! ```sh
//! cargo run --release -p watchpost-incidents --example audit_verify 1000000
//! # PostgreSQL: a URL of an empty database as the second argument
//! cargo run --release -p watchpost-incidents --example audit_verify 1000000 postgres://...
//! ```
//!
//! Exits non-zero when the chain does not verify or the peak grew by 64 MiB
//! or more.

use std::time::Instant;

use sqlx::any::AnyPoolOptions;
use sqlx::{AssertSqlSafe, Executor};
use watchpost_incidents::{AuditEntry, AuditKey, StoreOptions, UserId, Viewer};

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: i64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let pg = args.next();
    let dir = tempfile::tempdir()?;
    let url =
        pg.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("watchpost.db").display()));
    let key = AuditKey::generate();
    let store = watchpost_incidents::open_with(
        &url,
        StoreOptions {
            data_dir: Some(dir.path().to_owned()),
            audit_key: Some(key.clone()),
            ..StoreOptions::default()
        },
    )
    .await?;

    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    let started = Instant::now();
    let (mut seq, mut prev): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&pool)
            .await?;
    let mut tx = pool.begin().await?;
    let mut left = n;
    while left > 0 {
        let batch = left.min(1000);
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, incident_id, before_json, after_json, hash) VALUES ",
        );
        for i in 0..batch {
            seq += 1;
            let mut e = AuditEntry {
                seq,
                at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + seq)?,
                actor: UserId::SYSTEM,
                action: "incident.update".into(),
                entity: "incident".into(),
                entity_id: format!("0190b5a0-0000-7000-8000-{seq:012}"),
                incident_id: None,
                related_incident_id: None,
                sensitive: false,
                before: serde_json::json!({ "severity": "SEV3", "title": "Repeated login failures for admin on web-1" }),
                after: serde_json::json!({ "severity": "SEV2", "title": "Repeated login failures for admin on web-1" }),
                hash: String::new(),
            };
            e.hash = e.compute_hash(&key, &prev);
            prev = e.hash.clone();
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({seq}, {}, '{}', '{}', '{}', '{}', NULL, '{}', '{}', '{}')",
                e.at.unix_timestamp() * 1_000_000,
                e.actor,
                e.action,
                e.entity,
                e.entity_id,
                e.before,
                e.after,
                e.hash
            ));
        }
        (&mut *tx).execute(AssertSqlSafe(sql)).await?;
        left -= batch;
    }
    (&mut *tx)
        .execute(AssertSqlSafe(format!(
            "UPDATE audit_head SET seq = {seq}, hash = '{prev}' WHERE id = 1"
        )))
        .await?;
    tx.commit().await?;
    pool.close().await;
    println!("inserted {n} entries in {:.1?}", started.elapsed());

    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let report = store.verify_audit(&Viewer::system()).await?;
    let took = started.elapsed();
    let peak = status_kib("VmHWM:");
    let growth = peak.saturating_sub(before);
    println!(
        "after verify: RssAnon {} MiB, RssFile {} MiB, RssShmem {} MiB",
        status_kib("RssAnon:") / 1024,
        status_kib("RssFile:") / 1024,
        status_kib("RssShmem:") / 1024
    );
    println!(
        "verified {} entries in {took:.1?} ({:.0} entries/s); fault: {:?}",
        report.entries,
        report.entries as f64 / took.as_secs_f64(),
        report.fault
    );
    println!(
        "RSS before verify {} MiB, peak during verify {} MiB, growth {} MiB",
        before / 1024,
        peak / 1024,
        growth / 1024
    );
    store.close().await;
    if !report.is_ok() || report.entries != n || growth >= 64 * 1024 {
        return Err("verification failed or memory grew by 64 MiB or more".into());
    }
    Ok(())
}
