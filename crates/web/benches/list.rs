//! Latency of filtered incident lists through the whole HTTP stack (router,
//! auth with a token lookup, query parsing, store with visibility, JSON),
//! in process, on SQLite. Seeds `WATCHPOST_BENCH_INCIDENTS` incidents
//! (default 10,000; one in ten sensitive) by filing reports, then prints
//! p50/p95 per query and viewer.
//!
//! Run: `cargo bench -p watchpost-web --bench list`

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use incidents::{Category, Channel, NewReport, NewUser, Role, TokenHash, Viewer};
use tower::ServiceExt;
use watchpost_web as web;

const CATEGORIES: [Category; 5] = [
    Category::Theft,
    Category::SecurityIncident,
    Category::AccountAbuse,
    Category::PropertyDamage,
    Category::Forgery,
];

fn main() {
    let n: usize = std::env::var("WATCHPOST_BENCH_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn user(store: &dyn incidents::Store, name: &str, role: Role) -> (Viewer, String) {
    let user = store
        .create_user(
            &Viewer::system(),
            NewUser {
                name: name.to_owned(),
                role,
            },
        )
        .await
        .unwrap();
    let token = web::token::generate();
    store
        .create_token(&Viewer::system(), user.id, "bench", TokenHash::of(&token))
        .await
        .unwrap();
    (Viewer::new(user.id, role), token)
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("watchpost.db").display());
    let options = incidents::StoreOptions {
        data_dir: Some(dir.path().to_owned()),
        // Seeding files thousands of reports as 20 users within seconds.
        max_reports_per_hour: u32::MAX,
        ..Default::default()
    };
    let store = incidents::open_with(&url, options).await.unwrap();
    let (_, responder) = user(store.as_ref(), "responder", Role::Responder).await;
    let mut reporters = Vec::new();
    for i in 0..20 {
        reporters.push(user(store.as_ref(), &format!("reporter{i}"), Role::Reporter).await);
    }
    let seeding = Instant::now();
    for i in 0..n {
        let (viewer, _) = &reporters[i % reporters.len()];
        store
            .file_report(
                viewer,
                NewReport {
                    channel: Channel::Api,
                    category: CATEGORIES[i % CATEGORIES.len()],
                    description: format!("bench report {i}"),
                    occurred_at: None,
                    location: None,
                    sensitive: i % 10 == 0,
                    anonymous: false,
                    attachments: Vec::new(),
                },
            )
            .await
            .unwrap();
    }
    println!("seeded {n} incidents in {:.1?}", seeding.elapsed());

    let router = web::router(
        web::AppState::new(store.clone()),
        web::DEFAULT_MAX_BODY_BYTES,
    );
    let queries = [
        (
            "status+category, page 50",
            "/api/v1/incidents?status=triage&category=theft&limit=50",
        ),
        (
            "text search, page 50",
            "/api/v1/incidents?q=report%2012&limit=50",
        ),
        ("unfiltered, page 50", "/api/v1/incidents?limit=50"),
    ];
    for (who, token) in [("responder", &responder), ("reporter", &reporters[0].1)] {
        for (name, path) in queries {
            let mut samples = Vec::new();
            for _ in 0..200 {
                let request = Request::get(path)
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                let start = Instant::now();
                let response = router.clone().oneshot(request).await.unwrap();
                let status = response.status();
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                samples.push(start.elapsed());
                assert!(status.is_success(), "{path}: {status}");
            }
            samples.sort();
            let p = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
            println!(
                "{who:<9}  {name:<26}  p50 {:>8.2?}  p95 {:>8.2?}",
                p(0.50),
                p(0.95)
            );
        }
    }
}
