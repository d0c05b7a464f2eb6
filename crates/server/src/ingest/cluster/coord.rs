//! Who runs which partition, decided by PostgreSQL: session-level
//! advisory locks for membership and partition leases, and a table of
//! partition checkpoints written under the partition's lock.
//!
//! A node holds, on one PostgreSQL session of its own:
//! - the lock `(MEMBER, hash(node_id))` while it is up: the live nodes are
//!   the holders of such locks (`pg_locks`);
//! - the lock `(PARTITION, p)` for every partition `p` it runs.
//!
//! A node that dies (SIGKILL, power) closes its session with the process,
//! and PostgreSQL frees its locks at once; one cut off from PostgreSQL
//! loses them when the server drops the session. A checkpoint is written
//! only by a statement that checks, in the same statement, that this
//! session still holds the partition's lock, so a node that lost its
//! lease cannot overwrite the new owner's checkpoint.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::{Connection, PgConnection, Row};

/// Advisory lock class of membership locks.
const MEMBER: i32 = 0x5750_0001;
/// Advisory lock class of partition locks.
const PARTITION: i32 = 0x5750_0002;
/// How long one coordination statement may take.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The coordinator's session.
pub struct Coord {
    conn: PgConnection,
    node: String,
}

/// A stable 31-bit hash of a node id (membership lock key).
fn member_key(node: &str) -> i32 {
    (crc32fast::hash(node.as_bytes()) & 0x7fff_ffff) as i32
}

/// Why a coordination call failed.
pub type CoordError = sqlx::Error;

impl Coord {
    /// Opens the session, creates the cluster's tables when missing, checks
    /// the partition counts (source and keyed) against those the cluster
    /// was created with, and takes this node's membership lock.
    pub async fn connect(
        url: &str,
        node: &str,
        partitions: u32,
        keyed_partitions: u32,
    ) -> anyhow::Result<Coord> {
        let mut conn = tokio::time::timeout(STATEMENT_TIMEOUT, PgConnection::connect(url))
            .await
            .map_err(|_| anyhow::anyhow!("PostgreSQL did not answer within 10 s"))?
            .map_err(|e| {
                anyhow::anyhow!("cannot connect to PostgreSQL for partition leases: {e}")
            })?;
        sqlx::query("SET application_name = 'watchpost cluster'")
            .execute(&mut conn)
            .await?;
        // Tables of the cluster only (not the store's): created here, the
        // same on every node.
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS cluster_settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL)",
        )
        .execute(&mut conn)
        .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS cluster_checkpoints (
                partition INTEGER PRIMARY KEY,
                next_seq BIGINT NOT NULL,
                state BYTEA NOT NULL,
                node TEXT NOT NULL,
                written_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .execute(&mut conn)
        .await?;
        // Routing depends on both counts: every node must use the ones the
        // cluster was created with.
        for (name, count) in [
            ("partitions", partitions),
            ("keyed_partitions", keyed_partitions),
        ] {
            sqlx::query(
                "INSERT INTO cluster_settings (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(count.to_string())
            .execute(&mut conn)
            .await?;
            let have: String =
                sqlx::query_scalar("SELECT value FROM cluster_settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut conn)
                    .await?;
            if have != count.to_string() {
                anyhow::bail!(
                    "the cluster was created with {name} = {have}, and this node is configured with {count}: set [cluster] {name} = {have}"
                );
            }
        }
        let mut coord = Coord {
            conn,
            node: node.to_owned(),
        };
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(MEMBER)
            .bind(member_key(node))
            .fetch_one(&mut coord.conn)
            .await?;
        if !got {
            anyhow::bail!(
                "another node with the id {node:?} (or one whose id hashes alike) is running: give each node its own [cluster] node_id"
            );
        }
        Ok(coord)
    }

    /// The live nodes: holders of membership locks in this database.
    pub async fn live_nodes(&mut self) -> Result<u64, CoordError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
               AND d.datname = current_database() AND l.classid = CAST($1 AS oid)",
        )
        .bind(i64::from(MEMBER))
        .fetch_one(&mut self.conn)
        .await?;
        Ok(n.max(1) as u64)
    }

    /// The partitions some node runs.
    pub async fn held(&mut self) -> Result<BTreeSet<u32>, CoordError> {
        let rows = sqlx::query(
            "SELECT CAST(l.objid AS BIGINT) AS p FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
               AND d.datname = current_database() AND l.classid = CAST($1 AS oid)",
        )
        .bind(i64::from(PARTITION))
        .fetch_all(&mut self.conn)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| u32::try_from(r.get::<i64, _>("p")).ok())
            .collect())
    }

    /// Takes partition `p`'s lock if no node holds it.
    pub async fn try_take(&mut self, p: u32) -> Result<bool, CoordError> {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(PARTITION)
            .bind(p as i32)
            .fetch_one(&mut self.conn)
            .await
    }

    /// Gives partition `p`'s lock up.
    pub async fn release(&mut self, p: u32) -> Result<(), CoordError> {
        sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(PARTITION)
            .bind(p as i32)
            .execute(&mut self.conn)
            .await
            .map(drop)
    }

    /// Partition `p`'s checkpoint: the next stream sequence to read and
    /// the saved state.
    pub async fn checkpoint(&mut self, p: u32) -> Result<Option<(u64, Vec<u8>)>, CoordError> {
        let row =
            sqlx::query("SELECT next_seq, state FROM cluster_checkpoints WHERE partition = $1")
                .bind(p as i32)
                .fetch_optional(&mut self.conn)
                .await?;
        Ok(row.map(|r| {
            (
                u64::try_from(r.get::<i64, _>("next_seq")).unwrap_or(0),
                r.get::<Vec<u8>, _>("state"),
            )
        }))
    }

    /// Writes partition `p`'s checkpoint if this session still holds its
    /// lock; `false` when it does not (the lease is gone).
    pub async fn save_checkpoint(
        &mut self,
        p: u32,
        next_seq: u64,
        state: &[u8],
    ) -> Result<bool, CoordError> {
        let done = sqlx::query(
            "INSERT INTO cluster_checkpoints (partition, next_seq, state, node, written_at)
             SELECT $1, $2, $3, $4, now()
             WHERE EXISTS (SELECT 1 FROM pg_locks
                           WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted
                             AND objsubid = 2 AND classid = CAST($5 AS oid)
                             AND objid = CAST($6 AS oid))
             ON CONFLICT (partition) DO UPDATE
               SET next_seq = EXCLUDED.next_seq, state = EXCLUDED.state,
                   node = EXCLUDED.node, written_at = EXCLUDED.written_at",
        )
        .bind(p as i32)
        .bind(i64::try_from(next_seq).unwrap_or(i64::MAX))
        .bind(state)
        .bind(&self.node)
        .bind(i64::from(PARTITION))
        .bind(i64::from(p))
        .execute(&mut self.conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the session answers.
    pub async fn ping(&mut self) -> Result<(), CoordError> {
        tokio::time::timeout(STATEMENT_TIMEOUT, self.conn.ping())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }
}

/// The order in which `node` prefers partitions (rendezvous hashing): most
/// preferred first. Every node ranks partitions differently, so free
/// partitions spread without any node telling another.
pub fn preference(node: &str, partitions: u32) -> Vec<u32> {
    let mut ranked: Vec<(u32, u32)> = (0..partitions)
        .map(|p| {
            let mut h = crc32fast::Hasher::new();
            h.update(node.as_bytes());
            h.update(&p.to_le_bytes());
            (h.finalize(), p)
        })
        .collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    ranked.into_iter().map(|(_, p)| p).collect()
}

/// This node's fair share of `partitions` among `nodes`.
pub fn share(partitions: u32, nodes: u64) -> usize {
    let nodes = nodes.max(1) as usize;
    (partitions as usize).div_ceil(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_partition() {
        assert_eq!(share(16, 1), 16);
        assert_eq!(share(16, 3), 6);
        assert_eq!(share(16, 16), 1);
        assert_eq!(share(16, 40), 1);
        assert_eq!(share(3, 0), 3);
    }

    #[test]
    fn preferences_are_permutations_that_differ_by_node() {
        let a = preference("node-a", 16);
        let b = preference("node-b", 16);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>());
        assert_ne!(a, b);
        assert_eq!(a, preference("node-a", 16), "stable");
    }
}
