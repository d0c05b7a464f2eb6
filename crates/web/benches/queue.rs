//! Server-side render time and page weight of the incident queue page
//! (`GET /incidents`) through the whole stack (router, session lookup,
//! store with visibility, count, template), in process, on SQLite with
//! `WATCHPOST_BENCH_INCIDENTS` incidents (default 100,000).
//!
//! Seeding goes through the store's bulk path, `ingest_alerts` (one
//! transaction per 500 alerts): each alert names its own host, so each
//! opens its own incident, with severities from the alerts' levels. Then
//! it prints p50/p95 per page and the weight of the queue HTML plus
//! `app.css` and `htmx.min.js` (uncompressed). Targets: p95 under 100 ms, weight under 100 KB.
//!
//! Run: `cargo bench -p watchpost-web --bench queue`

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use incidents::{AlertLevel, NewAlert, NewSession, NewUser, Role, TokenHash, Viewer};
use tower::ServiceExt;
use watchpost_web as web;

const LEVELS: [AlertLevel; 4] = [
    AlertLevel::Critical,
    AlertLevel::High,
    AlertLevel::Medium,
    AlertLevel::Low,
];

/// Requests timed per page.
const SAMPLES: usize = 200;

fn main() {
    let n: usize = std::env::var("WATCHPOST_BENCH_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("watchpost.db").display());
    let options = incidents::StoreOptions {
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let store = incidents::open_with(&url, options).await.unwrap();
    let system = Viewer::system();
    let responder = store
        .create_user(
            &system,
            NewUser {
                name: "responder".to_owned(),
                role: Role::Responder,
            },
        )
        .await
        .unwrap();

    let seeding = Instant::now();
    let now = time::OffsetDateTime::now_utc();
    let mut i = 0;
    while i < n {
        let batch: Vec<NewAlert> = (i..n.min(i + 500))
            .map(|k| NewAlert {
                rule_id: format!("bench-rule-{}", k % 40),
                rule_title: format!("Bench detection {}", k % 40),
                level: LEVELS[k % LEVELS.len()],
                entities: [("host".to_owned(), format!("host-{k}"))].into(),
                evidence: vec![serde_json::json!({ "n": k })],
                policy: None,
                detected_at: now,
                key: Some(format!("bench-{k}")),
                queue_only: false,
                group: None,
            })
            .collect();
        i += batch.len();
        for outcome in store.ingest_alerts(&system, batch).await.unwrap() {
            outcome.unwrap();
        }
    }
    println!("seeded {n} incidents in {:.1?}", seeding.elapsed());

    // A signed-in responder's session.
    let session_id = "ab".repeat(32);
    store
        .create_session(NewSession {
            user: responder.id,
            id_hash: TokenHash::of(&session_id),
            csrf: "cd".repeat(32),
            created_at: now,
            expires_at: now + Duration::from_secs(3600),
        })
        .await
        .unwrap();
    let cookie = format!("__Host-wp_session={session_id}");
    let router = web::router(
        web::AppState::new(store.clone()),
        web::DEFAULT_MAX_BODY_BYTES,
    );
    let get = |path: &str| {
        Request::get(path)
            .header("host", "wp.example")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap()
    };
    let mut assets = 0;
    for asset in ["/static/app.css", "/static/htmx.min.js"] {
        let response = router.clone().oneshot(get(asset)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assets += axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .len();
    }

    let pages = [
        ("first page", "/incidents"),
        ("severity=SEV1", "/incidents?severity=SEV1"),
        (
            "status+severity+q",
            "/incidents?status=triage&severity=SEV2&q=host-9",
        ),
    ];
    for (name, path) in pages {
        let mut samples = Vec::with_capacity(SAMPLES);
        let mut bytes = 0;
        for _ in 0..SAMPLES {
            let start = Instant::now();
            let response = router.clone().oneshot(get(path)).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            samples.push(start.elapsed());
            assert_eq!(status, StatusCode::OK, "{path}");
            let html = std::str::from_utf8(&body).unwrap();
            assert!(html.contains("<tbody>"), "{path}: no rows");
            bytes = body.len();
        }
        samples.sort();
        let p = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        println!(
            "{name:<18}  p50 {:>8.2?}  p95 {:>8.2?}  html {:>6} B + css and js {assets} B = {:.1} KB",
            p(0.50),
            p(0.95),
            bytes,
            (bytes + assets) as f64 / 1000.0
        );
    }
}
