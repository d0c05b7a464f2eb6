//! List-query latency at 100,000 incidents, on SQLite and PostgreSQL.
//!
//! Seeds 100k incidents (mixed severity, status and category; 10% sensitive;
//! 1% reported by the benchmark's reporter) with batched inserts in one
//! transaction, then times filtered list queries through the `Store` API
//! for several viewers and prints p50/p95/max.
//!
//! Run: `cargo bench -p watchpost-incidents` (PostgreSQL runs when
//! `WATCHPOST_TEST_PG_URL` is set; `eval "$(scripts/services start)"`).
//! `WATCHPOST_BENCH_N` overrides the incident count.

use std::time::{Duration as StdDuration, Instant};

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Executor};
use time::OffsetDateTime;
use watchpost_incidents::{
    Category, IncidentFilter, MetricsQuery, NewUser, PageRequest, Role, Severity, Status, Store,
    Viewer,
};

const STATUSES: [&str; 8] = [
    "triage",
    "investigating",
    "contained",
    "eradicated",
    "recovered",
    "closed",
    "closed",
    "declined",
];
const SEVERITIES: [&str; 4] = ["SEV1", "SEV2", "SEV3", "SEV4"];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

async fn seed(raw: &AnyPool, n: usize, reporter: &str) -> StdDuration {
    let start = Instant::now();
    let mut rng = Rng(0x5eed_1234_abcd);
    let now = OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let year = 365 * 86_400 * 1_000_000i64;
    let cats: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let mut tx = raw.begin().await.unwrap();
    let batch = 500;
    let mut i = 0;
    while i < n {
        let m = batch.min(n - i);
        let mut inc = String::from(
            "INSERT INTO incidents (id, title, description, title_lc, description_lc, category, severity, status, sensitive, disclosure, alert_count, reported_at, acknowledged_at, resolved_at, created_at, updated_at) VALUES ",
        );
        let mut reps = String::new();
        for k in 0..m {
            let id = uuid::Uuid::now_v7();
            let created = now - (rng.next() as i64).rem_euclid(year);
            let status = rng.pick(&STATUSES);
            let sev = rng.pick(&SEVERITIES);
            let cat = rng.pick(&cats);
            let sensitive = i64::from(rng.next().is_multiple_of(10));
            let ack = created + (rng.next() % 7_200_000_000) as i64;
            let res = ack + (rng.next() % 86_400_000_000) as i64;
            let (ack, res) = match status {
                "triage" => ("NULL".to_owned(), "NULL".to_owned()),
                "recovered" | "closed" => (ack.to_string(), res.to_string()),
                _ => (ack.to_string(), "NULL".to_owned()),
            };
            if k > 0 {
                inc.push_str(", ");
            }
            // Seeded text is lower-case ASCII already: the search copies
            // (`*_lc`, folded by the store) equal it.
            let title = format!("incident {} on host-{}", i + k, rng.next() % 500);
            let description = format!("seeded incident number {}", i + k);
            inc.push_str(&format!(
                "('{id}', '{title}', '{description}', '{title}', '{description}', '{cat}', '{sev}', '{status}', {sensitive}, 'none', 0, {created}, {ack}, {res}, {created}, {created})",
            ));
            let who = if rng.next().is_multiple_of(100) {
                format!("'{reporter}'")
            } else {
                format!("'{}'", uuid::Uuid::now_v7())
            };
            if !reps.is_empty() {
                reps.push_str(", ");
            }
            reps.push_str(&format!(
                "('{}', {who}, 'web', '{cat}', 'seeded', 'seeded', {sensitive}, '{id}', {created})",
                uuid::Uuid::now_v7()
            ));
        }
        tx.execute(AssertSqlSafe(inc)).await.unwrap();
        tx.execute(AssertSqlSafe(format!(
            "INSERT INTO reports (id, reporter_id, channel, category, description, description_lc, sensitive, incident_id, created_at) VALUES {reps}"
        )))
        .await
        .unwrap();
        i += m;
    }
    tx.commit().await.unwrap();
    let analyze = if raw.connect_options().database_url.scheme() == "sqlite" {
        "ANALYZE"
    } else {
        "ANALYZE incidents"
    };
    raw.execute(analyze).await.unwrap();
    if analyze == "ANALYZE incidents" {
        raw.execute("ANALYZE reports").await.unwrap();
        raw.execute("ANALYZE incident_participants").await.unwrap();
    }
    start.elapsed()
}

fn pct(sorted: &[StdDuration], p: f64) -> StdDuration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

async fn measure(
    label: &str,
    store: &dyn Store,
    viewer: &Viewer,
    filter: &IncidentFilter,
    second_page: bool,
) -> (StdDuration, usize) {
    let iters = 200;
    let first = store
        .list_incidents(viewer, filter, &PageRequest::first(50))
        .await
        .unwrap();
    let page = if second_page {
        PageRequest {
            limit: Some(50),
            cursor: first.next_cursor.clone(),
        }
    } else {
        PageRequest::first(50)
    };
    let mut times = Vec::with_capacity(iters);
    let mut rows = 0;
    for _ in 0..iters {
        let t = Instant::now();
        let p = store.list_incidents(viewer, filter, &page).await.unwrap();
        times.push(t.elapsed());
        rows = p.items.len();
    }
    times.sort();
    let (p50, p95, max) = (pct(&times, 0.50), pct(&times, 0.95), times[times.len() - 1]);
    println!(
        "  {label:<58} rows={rows:<3} p50={:>7.2}ms p95={:>7.2}ms max={:>7.2}ms",
        p50.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    (p95, rows)
}

async fn bench(name: &str, url: &str, raw_url: &str, n: usize) {
    let store = watchpost_incidents::open(url).await.expect("open store");
    let sys = Viewer::system();
    let mut viewers = Vec::new();
    for (user, role) in [
        ("resp", Role::Responder),
        ("rep", Role::Reporter),
        ("adm", Role::Admin),
    ] {
        let u = store
            .create_user(
                &sys,
                NewUser {
                    name: user.into(),
                    role,
                },
            )
            .await
            .unwrap();
        viewers.push((role, Viewer::new(u.id, u.role)));
    }
    let raw = AnyPoolOptions::new()
        .max_connections(1)
        .connect(raw_url)
        .await
        .unwrap();
    let took = seed(&raw, n, &viewers[1].1.user_id.to_string()).await;
    raw.close().await;
    println!(
        "{name}: seeded {n} incidents (+{n} reports) in {:.1}s",
        took.as_secs_f64()
    );
    let status_sev = IncidentFilter {
        status: vec![Status::Investigating],
        severity: vec![Severity::Sev2],
        ..Default::default()
    };
    let open_sev1 = IncidentFilter {
        status: vec![Status::Triage, Status::Investigating, Status::Contained],
        severity: vec![Severity::Sev1],
        ..Default::default()
    };
    let cat = IncidentFilter {
        category: vec![Category::Theft],
        ..Default::default()
    };
    let text = IncidentFilter {
        text: Some("host-42".into()),
        ..Default::default()
    };
    let mut worst = StdDuration::ZERO;
    for (role, v) in &viewers {
        for (label, f, second) in [
            (
                "status=investigating severity=SEV2, page 1",
                &status_sev,
                false,
            ),
            (
                "status=investigating severity=SEV2, page 2 (cursor)",
                &status_sev,
                true,
            ),
            ("open statuses severity=SEV1, page 1", &open_sev1, false),
            ("category=theft, page 1", &cat, false),
            ("no filter, page 1", &IncidentFilter::default(), false),
        ] {
            let (p95, _) = measure(&format!("{role:<9} {label}"), &*store, v, f, second).await;
            worst = worst.max(p95);
        }
        let (p95, _) = measure(
            &format!("{role:<9} text search 'host-42' (readable fields), page 1"),
            &*store,
            v,
            &text,
            false,
        )
        .await;
        worst = worst.max(p95);
        for (label, f) in [
            ("status=investigating severity=SEV2", &status_sev),
            ("all", &IncidentFilter::default()),
        ] {
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..50 {
                let t = Instant::now();
                n = store.count_incidents(v, f).await.unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            println!(
                "  {:<58} n={n:<6} p50={:>7.2}ms p95={:>7.2}ms",
                format!("{role:<9} count {label}"),
                pct(&times, 0.5).as_secs_f64() * 1e3,
                pct(&times, 0.95).as_secs_f64() * 1e3
            );
        }
        let period = MetricsQuery {
            from: OffsetDateTime::now_utc() - time::Duration::days(400),
            to: OffsetDateTime::now_utc(),
        };
        let t = Instant::now();
        let m = store.metrics(v, period).await.unwrap();
        println!(
            "  {:<58} n={:<6} {:>7.2}ms (one run)",
            format!("{role:<9} metrics over all incidents"),
            m.total.count,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    println!(
        "{name}: worst p95 over the filtered lists = {:.2}ms (target < 50ms): {}",
        worst.as_secs_f64() * 1e3,
        if worst < StdDuration::from_millis(50) {
            "PASS"
        } else {
            "FAIL"
        }
    );
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    sqlx::any::install_default_drivers();
    let n: usize = std::env::var("WATCHPOST_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("watchpost.db");
    bench(
        "sqlite",
        &format!("sqlite:{}", db.display()),
        &format!("sqlite://{}", db.display()),
        n,
    )
    .await;
    match std::env::var("WATCHPOST_TEST_PG_URL") {
        Ok(admin) => {
            let name = format!("wp_bench_{}", uuid::Uuid::now_v7().simple());
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&admin)
                .await
                .unwrap();
            pool.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            let url = format!("{base}/{name}");
            bench("postgres", &url, &url, n).await;
            if std::env::var_os("WATCHPOST_BENCH_KEEP").is_some() {
                println!("postgres: kept database {url}");
                return;
            }
            let _ = pool
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await;
        }
        Err(_) => eprintln!(
            "postgres: NOT RUN: set WATCHPOST_TEST_PG_URL (eval \"$(scripts/services start)\")"
        ),
    }
}
