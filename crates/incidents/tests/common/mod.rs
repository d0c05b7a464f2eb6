//! Test harness shared by the integration tests: fresh SQLite (tempdir) and
//! fresh PostgreSQL (a new database per test) stores, and the cast of users.

#![allow(dead_code)]

use std::sync::Arc;

use incidents::{NewUser, Role, Store, StoreOptions, User, Viewer};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Executor};
use watchpost_incidents as incidents;

/// A store under test plus a raw connection to its database.
pub struct Ctx {
    pub store: Arc<dyn Store>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Ctx {
    /// A raw pool on the same database, for tampering and inspection.
    pub async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .expect("raw connection")
    }

    /// Runs one raw SQL statement.
    pub async fn raw_exec(&self, sql: &str) -> u64 {
        let pool = self.raw().await;
        let n = pool
            .execute(AssertSqlSafe(sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected();
        pool.close().await;
        n
    }

    /// Drops the PostgreSQL test database (best effort).
    pub async fn finish(self) {
        if let Some((admin, db)) = &self.pg {
            drop(self.store);
            if let Ok(pool) = AnyPoolOptions::new()
                .max_connections(1)
                .connect(admin)
                .await
            {
                let _ = pool
                    .execute(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                    )))
                    .await;
            }
        }
    }
}

/// A fresh SQLite store in a temp dir.
pub async fn sqlite(options: StoreOptions) -> Ctx {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("watchpost.db");
    let url = format!("sqlite:{}", path.display());
    let store = incidents::open_with(&url, options)
        .await
        .expect("open sqlite");
    Ctx {
        store,
        url: format!("sqlite://{}", path.display()),
        dir,
        pg: None,
    }
}

/// A fresh PostgreSQL store in a new database on the server named by
/// `WATCHPOST_TEST_PG_URL`.
pub async fn postgres(mut options: StoreOptions) -> Ctx {
    let admin = std::env::var("WATCHPOST_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "WATCHPOST_TEST_PG_URL is not set: the PostgreSQL conformance tests need a real server. \
             Run `eval \"$(scripts/services start)\"` first (it installs and starts PostgreSQL)."
        )
    });
    sqlx::any::install_default_drivers();
    let db = format!("wp_test_{}", uuid::Uuid::now_v7().simple());
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("connect to {admin}: {e}"));
    pool.execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .expect("create test database");
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').expect("database url has a path");
    let url = format!("{base}/{db}");
    let dir = tempfile::tempdir().expect("tempdir");
    options.data_dir = Some(dir.path().to_owned());
    options.max_connections = 4;
    let store = incidents::open_with(&url, options)
        .await
        .expect("open postgres");
    Ctx {
        store,
        url,
        dir,
        pg: Some((admin, db)),
    }
}

/// The cast: two reporters, a responder, finance-ops and an admin.
pub struct Cast {
    pub reporter_a: Viewer,
    pub reporter_b: Viewer,
    pub responder: Viewer,
    pub finance: Viewer,
    pub admin: Viewer,
}

pub async fn user(store: &dyn Store, name: &str, role: Role) -> User {
    store
        .create_user(
            &Viewer::system(),
            NewUser {
                name: name.into(),
                role,
            },
        )
        .await
        .expect("create user")
}

/// Creates the cast. Making the responder and finance-ops on the server
/// host queues access-change notices for the Security Team; they are
/// marked sent here, so tests of incident notices start from an empty
/// outbox.
pub async fn cast(store: &dyn Store) -> Cast {
    let v = |u: User| Viewer::new(u.id, u.role);
    let cast = Cast {
        reporter_a: v(user(store, "alice", Role::Reporter).await),
        reporter_b: v(user(store, "bob", Role::Reporter).await),
        responder: v(user(store, "sam", Role::Responder).await),
        finance: v(user(store, "fran", Role::FinanceOps).await),
        admin: v(user(store, "ada", Role::Admin).await),
    };
    let sys = Viewer::system();
    let now = time::OffsetDateTime::now_utc();
    for m in store
        .claim_outbox(&sys, 1000, time::Duration::minutes(1), now)
        .await
        .expect("claim access notices")
    {
        assert_eq!(m.kind, incidents::OutboxKind::AccessChanged);
        store
            .mark_outbox_sent(&sys, m.id, now)
            .await
            .expect("mark access notice sent");
    }
    cast
}

/// Appends `n` audit entries after the chain head through raw SQL, chained
/// with `key` exactly as the store chains them, each with an `after` of
/// about `pad` bytes; moves the head. Returns `n`. Fast: multi-row inserts
/// in one transaction.
pub async fn bulk_audit(ctx: &Ctx, key: &incidents::AuditKey, n: i64, pad: usize) -> i64 {
    use incidents::AuditEntry;
    let pool = ctx.raw().await;
    let (mut seq, mut prev): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&pool)
            .await
            .expect("chain head");
    let mut tx = pool.begin().await.expect("begin");
    let padding = "x".repeat(pad);
    let mut left = n;
    while left > 0 {
        let batch = left.min(500);
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, incident_id, before_json, after_json, hash) VALUES ",
        );
        for i in 0..batch {
            seq += 1;
            let mut e = AuditEntry {
                seq,
                at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + seq).unwrap(),
                actor: incidents::UserId::SYSTEM,
                action: "bulk.entry".into(),
                entity: "bulk".into(),
                entity_id: seq.to_string(),
                incident_id: None,
                related_incident_id: None,
                sensitive: false,
                before: serde_json::Value::Null,
                after: serde_json::json!({ "n": seq, "pad": padding }),
                hash: String::new(),
            };
            e.hash = e.compute_hash(key, &prev);
            prev = e.hash.clone();
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({seq}, {}, '{}', 'bulk.entry', 'bulk', '{seq}', NULL, 'null', '{}', '{}')",
                e.at.unix_timestamp() * 1_000_000,
                e.actor,
                e.after,
                e.hash
            ));
        }
        tx.execute(AssertSqlSafe(sql)).await.expect("bulk insert");
        left -= batch;
    }
    tx.execute(AssertSqlSafe(format!(
        "UPDATE audit_head SET seq = {seq}, hash = '{prev}' WHERE id = 1"
    )))
    .await
    .expect("move head");
    tx.commit().await.expect("commit");
    pool.close().await;
    n
}

/// One `Vm...` figure of /proc/self/status, in KiB (0 where unavailable).
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak resident set size (`VmHWM`) to the current one (writes
/// `5` to /proc/self/clear_refs) and returns the current RSS in KiB.
pub fn reset_peak_rss_kib() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    proc_status_kib("VmRSS:")
}

/// The peak resident set size (`VmHWM`) in KiB.
pub fn peak_rss_kib() -> u64 {
    proc_status_kib("VmHWM:")
}

/// Declares each case of `cases` as a test on SQLite (temp dir) and on
/// PostgreSQL (a fresh database), each with default store options. The
/// test file must `use watchpost_incidents as incidents;` and have a
/// `cases` module of `async fn case(&Ctx)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let ctx = super::common::sqlite(super::incidents::StoreOptions::default()).await;
                    super::cases::$case(&ctx).await;
                    ctx.finish().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let ctx = super::common::postgres(super::incidents::StoreOptions::default()).await;
                    super::cases::$case(&ctx).await;
                    ctx.finish().await;
                }
            )+
        }
    };
}

/// A report filed on the web channel, not anonymous, without attachments.
pub fn report(category: incidents::Category, sensitive: bool, text: &str) -> incidents::NewReport {
    incidents::NewReport {
        channel: incidents::Channel::Web,
        category,
        description: text.into(),
        occurred_at: None,
        location: None,
        sensitive,
        anonymous: false,
        attachments: vec![],
    }
}
