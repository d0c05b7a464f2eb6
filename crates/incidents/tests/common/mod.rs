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
