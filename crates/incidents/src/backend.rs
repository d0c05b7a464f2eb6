//! The SQL backend behind [`crate::Store`]: one implementation for SQLite
//! and PostgreSQL through sqlx's `Any` driver. The schema uses only integer
//! and text columns (times are unix microseconds) so one query text runs on
//! both; each database has its own migrations directory.
//!
//! SQLite runs in WAL mode with `busy_timeout` and `foreign_keys=on`, one
//! writer connection and a pool of readers. Every write transaction first
//! touches the audit chain head row, which serialises writers (a row lock on
//! PostgreSQL, the write lock on SQLite) so the hash chain never forks.

mod ops;
mod rows;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde_json::Value;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyConnection, AnyPool, Arguments, AssertSqlSafe, Executor, FromRow, Transaction};
use time::OffsetDateTime;

use self::rows::DomainRow;
use crate::access::Viewer;
use crate::audit::{AUDIT_KEY_FILE, AuditEntry, AuditKey, unix_micros};
use crate::ids::IncidentId;
use crate::query::{Arg, Sql};
use crate::store::{Backend, Result, StoreError, StoreOptions};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A write transaction holding the audit chain lock, and the key its audit
/// entries are chained with. It derefs to the connection, so `&mut *tx` is
/// an executor.
pub(crate) struct Tx {
    inner: Transaction<'static, Any>,
    key: Arc<AuditKey>,
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

impl Tx {
    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    /// Rolls the transaction back now (dropping it also rolls back, but
    /// only when its connection is next used).
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

/// The SQL store.
pub(crate) struct SqlStore {
    backend: Backend,
    writer: AnyPool,
    reader: AnyPool,
    options: StoreOptions,
    data_dir: PathBuf,
    audit_key: Arc<AuditKey>,
}

/// Where a URL points.
enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

fn parse_target(url: &str) -> Result<Target> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres(url.to_owned()));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    } else {
        url
    };
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    }
    Ok(Target::Sqlite(PathBuf::from(path)))
}

impl SqlStore {
    /// Opens the store and runs migrations.
    pub(crate) async fn open(url: &str, options: StoreOptions) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        match parse_target(url)? {
            Target::Sqlite(path) => Self::open_sqlite(&path, options).await,
            Target::Postgres(url) => Self::open_postgres(&url, options).await,
        }
    }

    async fn open_sqlite(path: &Path, options: StoreOptions) -> Result<SqlStore> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let abs = std::path::absolute(path).map_err(io)?;
        let url = format!("sqlite://{}?mode=rwc", abs.display());
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(StdDuration::from_secs(60))
            .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn, true)))
            .connect(&url)
            .await?;
        SQLITE_MIGRATIONS.run(&writer).await?;
        fill_search_text(&writer).await?;
        let reader = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(StdDuration::from_secs(60))
            .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn, false)))
            .connect(&url)
            .await?;
        let data_dir = options.data_dir.clone().unwrap_or(dir);
        let audit_key = open_audit_key(&writer, &options, &data_dir).await?;
        Ok(SqlStore {
            backend: Backend::Sqlite,
            writer,
            reader,
            options,
            data_dir,
            audit_key,
        })
    }

    async fn open_postgres(url: &str, options: StoreOptions) -> Result<SqlStore> {
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(StdDuration::from_secs(60))
            .connect(url)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        fill_search_text(&pool).await?;
        let data_dir = options
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("watchpost-data"));
        let audit_key = open_audit_key(&pool, &options, &data_dir).await?;
        Ok(SqlStore {
            backend: Backend::Postgres,
            writer: pool.clone(),
            reader: pool,
            options,
            data_dir,
            audit_key,
        })
    }

    /// Begins a write transaction holding the audit chain lock.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        begin_on(&self.writer, &self.audit_key).await
    }
}

/// Fills in the case-folded search copies of incidents and reports written
/// before they existed (migration 0003), in batches. Folding happens here, in Rust, so
/// that SQLite and PostgreSQL search alike.
async fn fill_search_text(pool: &AnyPool) -> Result<()> {
    loop {
        let batch: Vec<(String, String, String)> = fetch_all(
            pool,
            &Sql::new(
                "SELECT id, title, description FROM incidents WHERE title_lc IS NULL LIMIT 1000",
            ),
        )
        .await?;
        if batch.is_empty() {
            break;
        }
        let mut tx = pool.begin().await?;
        for (id, title, description) in batch {
            let mut q = Sql::new("UPDATE incidents SET title_lc = ");
            q.bind(ops::fold_case(&title))
                .push(", description_lc = ")
                .bind(ops::fold_case(&description))
                .push(" WHERE id = ")
                .bind(id);
            exec(&mut *tx, &q).await?;
        }
        tx.commit().await?;
    }
    loop {
        let batch: Vec<(String, String)> = fetch_all(
            pool,
            &Sql::new(
                "SELECT id, description FROM reports WHERE description_lc IS NULL LIMIT 1000",
            ),
        )
        .await?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        for (id, description) in batch {
            let mut q = Sql::new("UPDATE reports SET description_lc = ");
            q.bind(ops::fold_case(&description))
                .push(" WHERE id = ")
                .bind(id);
            exec(&mut *tx, &q).await?;
        }
        tx.commit().await?;
    }
}

/// Begins a write transaction on `writer` holding the audit chain lock.
async fn begin_on(writer: &AnyPool, key: &Arc<AuditKey>) -> Result<Tx> {
    let mut inner = writer.begin().await?;
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
        .execute(&mut *inner)
        .await?;
    Ok(Tx {
        inner,
        key: key.clone(),
    })
}

/// The audit key from the options, or `<data_dir>/audit.key` (created when
/// missing), checked against the database's chain (see
/// [`ops::init_audit_key`]). A key file created here is removed again when
/// the database refuses it, so a failed open leaves nothing behind.
async fn open_audit_key(
    writer: &AnyPool,
    options: &StoreOptions,
    data_dir: &Path,
) -> Result<Arc<AuditKey>> {
    let (key, created_file) = match &options.audit_key {
        Some(key) => (key.clone(), None),
        None => {
            let path = data_dir.join(AUDIT_KEY_FILE);
            let key = AuditKey::load_or_create(&path)?;
            let created = key.was_created().then_some(path);
            (key, created)
        }
    };
    let key = Arc::new(key);
    let result = async {
        let tx = begin_on(writer, &key).await?;
        ops::init_audit_key(tx).await
    }
    .await;
    if let Err(error) = result {
        if let Some(path) = created_file {
            let _ = std::fs::remove_file(path);
        }
        return Err(error);
    }
    Ok(key)
}

/// Per-connection SQLite settings; the writer also switches the file to WAL.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection, writer: bool) -> Result<(), sqlx::Error> {
    if writer {
        conn.execute("PRAGMA journal_mode = WAL").await?;
    }
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    Ok(())
}

/// A [`Sql`]'s arguments as driver arguments, for `query_with` and
/// `query_as_with`.
fn any_args(args: &[Arg]) -> Result<AnyArguments> {
    let mut out = AnyArguments::default();
    for a in args {
        match a {
            Arg::Text(s) => out.add(s.clone()),
            Arg::Int(i) => out.add(*i),
            Arg::Bool(b) => out.add(i64::from(*b)),
            Arg::NullText => out.add(None::<String>),
            Arg::NullInt => out.add(None::<i64>),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// Runs a statement; returns rows affected.
pub(crate) async fn exec<'e, E>(e: E, sql: &Sql) -> Result<u64>
where
    E: Executor<'e, Database = Any>,
{
    let q = sqlx::query_with(AssertSqlSafe(sql.text.clone()), any_args(&sql.args)?);
    Ok(q.execute(e).await?.rows_affected())
}

/// Fetches all rows as `T`.
pub(crate) async fn fetch_all<'e, E, T>(e: E, sql: &Sql) -> Result<Vec<T>>
where
    E: Executor<'e, Database = Any>,
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let q = sqlx::query_as_with(AssertSqlSafe(sql.text.clone()), any_args(&sql.args)?);
    Ok(q.fetch_all(e).await?)
}

/// Fetches at most one row as `T`.
pub(crate) async fn fetch_opt<'e, E, T>(e: E, sql: &Sql) -> Result<Option<T>>
where
    E: Executor<'e, Database = Any>,
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let q = sqlx::query_as_with(AssertSqlSafe(sql.text.clone()), any_args(&sql.args)?);
    Ok(q.fetch_optional(e).await?)
}

/// Fetches all rows of shape `R` and converts them to domain values.
pub(crate) async fn fetch_domain<'e, E, R>(e: E, sql: &Sql) -> Result<Vec<R::Domain>>
where
    E: Executor<'e, Database = Any>,
    R: DomainRow,
{
    fetch_all::<_, R>(e, sql)
        .await?
        .into_iter()
        .map(R::into_domain)
        .collect()
}

/// Fetches one row of shape `R` and converts it; no row is
/// `NotFound(what)`.
pub(crate) async fn fetch_one<'e, E, R>(e: E, sql: &Sql, what: &'static str) -> Result<R::Domain>
where
    E: Executor<'e, Database = Any>,
    R: DomainRow,
{
    fetch_opt::<_, R>(e, sql)
        .await?
        .ok_or(StoreError::NotFound(what))?
        .into_domain()
}

/// Current time, truncated to microseconds (the stored precision).
pub(crate) fn now() -> OffsetDateTime {
    from_micros(unix_micros(OffsetDateTime::now_utc()))
}

/// Unix microseconds to a time (out-of-range values clamp to the epoch).
pub(crate) fn from_micros(m: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Optional time to its column value.
pub(crate) fn opt_micros(t: Option<OffsetDateTime>) -> Arg {
    Arg::from(t.map(unix_micros))
}

/// Parses a stored enum or id, mapping failure to `Corrupt`.
pub(crate) fn parse_col<T: FromStr>(what: &str, s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("{what} {s:?}: {e}")))
}

/// One audit append request.
pub(crate) struct Change<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub incident_id: Option<IncidentId>,
    /// The other incident a link or merge names (see
    /// [`crate::audit::AuditEntry::related_incident_id`]).
    pub related_incident_id: Option<IncidentId>,
    pub before: Value,
    pub after: Value,
}

#[derive(FromRow)]
struct HeadRow {
    seq: i64,
    hash: String,
}

/// Whether an audit entry about `change` is sensitive: its state before or
/// after says so (incidents, reports and alerts carry `sensitive`), or an
/// incident it names is sensitive once the change is written.
async fn change_is_sensitive(tx: &mut Tx, change: &Change<'_>) -> Result<bool> {
    let flagged = |v: &Value| v.get("sensitive").and_then(Value::as_bool) == Some(true);
    if flagged(&change.before) || flagged(&change.after) {
        return Ok(true);
    }
    let named: Vec<String> = change
        .incident_id
        .iter()
        .chain(change.related_incident_id.iter())
        .map(ToString::to_string)
        .collect();
    if named.is_empty() {
        return Ok(false);
    }
    let mut q = Sql::new("SELECT COUNT(*) FROM incidents WHERE sensitive <> 0 AND id IN ");
    q.bind_list(named);
    let (n,): (i64,) = fetch_opt(&mut **tx, &q).await?.unwrap_or((0,));
    Ok(n > 0)
}

/// Appends an audit entry inside `tx` (which holds the chain lock).
pub(crate) async fn append_audit(
    tx: &mut Tx,
    viewer: &Viewer,
    at: OffsetDateTime,
    change: Change<'_>,
) -> Result<i64> {
    let head: HeadRow = fetch_opt(
        &mut **tx,
        &Sql::new("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"),
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("audit chain head row is missing".into()))?;
    let sensitive = change_is_sensitive(tx, &change).await?;
    let entry = AuditEntry {
        seq: head.seq,
        at,
        actor: viewer.user_id,
        action: change.action.to_owned(),
        entity: change.entity.to_owned(),
        entity_id: change.entity_id,
        incident_id: change.incident_id,
        related_incident_id: change.related_incident_id,
        sensitive,
        before: change.before,
        after: change.after,
        hash: String::new(),
    };
    let hash = entry.compute_hash(&tx.key, &head.hash);
    let mut q = Sql::new(
        "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, incident_id, related_incident_id, sensitive, before_json, after_json, hash) VALUES ",
    );
    q.bind_list([
        Arg::from(entry.seq),
        Arg::from(unix_micros(entry.at)),
        Arg::from(entry.actor.to_string()),
        Arg::from(entry.action.clone()),
        Arg::from(entry.entity.clone()),
        Arg::from(entry.entity_id.clone()),
        Arg::from(entry.incident_id.map(|i| i.to_string())),
        Arg::from(entry.related_incident_id.map(|i| i.to_string())),
        Arg::from(entry.sensitive),
        Arg::from(entry.before.to_string()),
        Arg::from(entry.after.to_string()),
        Arg::from(hash.clone()),
    ]);
    exec(&mut **tx, &q).await?;
    let mut q = Sql::new("UPDATE audit_head SET hash = ");
    q.bind(hash).push(" WHERE id = 1");
    exec(&mut **tx, &q).await?;
    Ok(entry.seq)
}
