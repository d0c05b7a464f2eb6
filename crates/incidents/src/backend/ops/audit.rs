//! Reading and verifying the audit trail, keying it, and recording reads of
//! sensitive records. Appending to it is [`crate::backend::append_audit`],
//! called inside each write transaction.
//!
//! Verification and re-keying page through the log by `seq`
//! ([`AUDIT_PAGE`] rows at a time) inside one read snapshot, so memory stays
//! constant whatever the length of the chain.

use serde_json::{Value, json};

use crate::access::{Viewer, audit_visible};
use crate::audit::{AuditEntry, AuditReport, ChainHash, ChainVerifier};
use crate::backend::rows::{AUDIT_COLS, AuditRow};
use crate::backend::{
    Change, SqlStore, Tx, append_audit, exec, fetch_all, fetch_domain, fetch_opt, now,
};
use crate::ids::{IncidentId, ReportId};
use crate::query::Sql;
use crate::store::{Backend, Result, StoreError};

/// Rows read per page when walking the whole chain.
pub(crate) const AUDIT_PAGE: i64 = 5_000;

/// One page of raw audit rows after `after_seq`, in `seq` order.
async fn audit_page(tx: &mut Tx, after_seq: i64) -> Result<Vec<AuditRow>> {
    let mut q = Sql::new(&format!(
        "SELECT {AUDIT_COLS} FROM audit_log au WHERE au.seq > "
    ));
    q.bind(after_seq)
        .push(" ORDER BY au.seq LIMIT ")
        .bind(AUDIT_PAGE);
    fetch_all::<_, AuditRow>(&mut **tx, &q).await
}

/// Walks the chain from the first entry with `verifier`, page by page;
/// `each` sees every entry that verifies. Stops at the first fault.
async fn walk_chain<F>(tx: &mut Tx, verifier: &mut ChainVerifier<'_>, mut each: F) -> Result<()>
where
    F: AsyncFnMut(&mut Tx, &AuditEntry) -> Result<()>,
{
    let mut after = i64::MIN;
    loop {
        let page = audit_page(tx, after).await?;
        let Some(last) = page.last().map(AuditRow::seq) else {
            return Ok(());
        };
        let full = page.len() as i64 == AUDIT_PAGE;
        for row in page {
            if let Some(entry) = verifier.push(row.into_raw()) {
                each(&mut *tx, &entry).await?;
            } else {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
        after = last;
    }
}

/// Checks the store's key against the chain head inside `tx` (which holds
/// the chain lock) and commits:
/// - the head names this key: nothing to do;
/// - it names another key: [`StoreError::AuditKey`];
/// - no key yet and no entries: the head is marked with this key;
/// - no key yet and entries written unkeyed: only a key created by this
///   open re-keys them. The SHA-256 chain is verified first (a broken one
///   is refused, naming the first bad entry), every hash is recomputed with
///   the key, and an `audit.rekey` entry records how many entries were
///   re-keyed and the old head hash.
pub(crate) async fn init_audit_key(mut tx: Tx) -> Result<()> {
    let (head_seq, head_hash, key_id): (i64, String, Option<String>) = fetch_opt(
        &mut *tx,
        &Sql::new("SELECT seq, hash, key_id FROM audit_head WHERE id = 1"),
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("audit chain head row is missing".into()))?;
    let key = tx.key.clone();
    let id = key.id();
    match key_id {
        Some(stored) if stored == id => return Ok(()),
        Some(stored) => {
            return Err(StoreError::AuditKey(format!(
                "this database's audit chain is keyed with key id {stored}, but the key given has id {id}: \
                 use the same key file as the server (audit_key_file, or audit.key in the data directory)"
            )));
        }
        None if head_seq == 0 => {}
        None if !key.was_created() => {
            return Err(StoreError::AuditKey(format!(
                "the audit chain has {head_seq} entries written without a key, and the key {id} was not \
                 created by this start; only a newly created key re-keys an unkeyed chain. Remove or \
                 move the key file and start again to create one"
            )));
        }
        None => {
            let old_head = head_hash.clone();
            let mut legacy = ChainVerifier::new(ChainHash::Legacy);
            let mut prev = crate::audit::GENESIS_HASH.to_owned();
            walk_chain(
                &mut tx,
                &mut legacy,
                async |tx: &mut Tx, entry: &AuditEntry| {
                    let hash = entry.compute_hash(&tx.key, &prev);
                    let mut q = Sql::new("UPDATE audit_log SET hash = ");
                    q.bind(hash.clone()).push(" WHERE seq = ").bind(entry.seq);
                    exec(&mut **tx, &q).await?;
                    prev = hash;
                    Ok(())
                },
            )
            .await?;
            let report = legacy.finish(Some((head_seq, head_hash)));
            if let Some(fault) = report.fault {
                return Err(StoreError::AuditKey(format!(
                    "the audit chain written without a key is broken at entry {}: {}; it was not re-keyed \
                     (restore the database from a backup, or investigate with the old version)",
                    fault.seq, fault.reason
                )));
            }
            let mut q = Sql::new("UPDATE audit_head SET hash = ");
            q.bind(prev).push(" WHERE id = 1");
            exec(&mut *tx, &q).await?;
            set_key_id(&mut tx, &id).await?;
            append_audit(
                &mut tx,
                &Viewer::system(),
                now(),
                Change {
                    action: "audit.rekey",
                    entity: "audit",
                    entity_id: id.clone(),
                    incident_id: None,
                    related_incident_id: None,
                    before: json!({ "entries": head_seq, "head_hash": old_head, "alg": "sha256" }),
                    after: json!({ "entries": head_seq, "key_id": id, "alg": "hmac-sha256" }),
                },
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(
                entries = head_seq,
                key_id = %id,
                "re-keyed the audit chain written without a key (recorded as an audit.rekey entry)"
            );
            return Ok(());
        }
    }
    set_key_id(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(())
}

async fn set_key_id(tx: &mut Tx, id: &str) -> Result<()> {
    let mut q = Sql::new("UPDATE audit_head SET key_id = ");
    q.bind(id).push(" WHERE id = 1");
    exec(&mut **tx, &q).await?;
    Ok(())
}

impl SqlStore {
    pub(super) async fn list_audit(
        &self,
        v: &Viewer,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        if !v.can_read_audit() {
            return Err(StoreError::Forbidden(
                "only admins and responders read the audit log",
            ));
        }
        if !(1..=1000).contains(&limit) {
            return Err(StoreError::Invalid(format!(
                "limit must be 1 to 1000 (got {limit})"
            )));
        }
        let mut q = Sql::new(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log au WHERE au.seq > "
        ));
        q.bind(after_seq).push(" AND ");
        audit_visible(&mut q, v, "au");
        q.push(" ORDER BY au.seq LIMIT ").bind(i64::from(limit));
        fetch_domain::<_, AuditRow>(&self.reader, &q).await
    }

    pub(super) async fn verify_audit(&self, v: &Viewer) -> Result<AuditReport> {
        if !v.can_read_audit() {
            return Err(StoreError::Forbidden(
                "only admins and responders verify the audit log",
            ));
        }
        // Read the chain and its head in one snapshot, a page at a time.
        let inner = self.reader.begin().await?;
        let mut tx = Tx {
            inner,
            key: self.audit_key.clone(),
        };
        if self.backend == Backend::Postgres {
            exec(
                &mut *tx,
                &Sql::new("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"),
            )
            .await?;
        }
        let head: Option<(i64, String)> = fetch_opt(
            &mut *tx,
            &Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1"),
        )
        .await?;
        let key = self.audit_key.clone();
        let mut verifier = ChainVerifier::new(ChainHash::Keyed(&key));
        walk_chain(
            &mut tx,
            &mut verifier,
            async |_: &mut Tx, _: &AuditEntry| Ok(()),
        )
        .await?;
        tx.commit().await?;
        Ok(verifier.finish(head))
    }

    /// Records that `v` read `entity` `entity_id` of `incident` (a
    /// sensitive record): one audit entry with no content, `before` null
    /// and `after` naming only what was read. The system viewer's reads
    /// (notifier, CLI) are not recorded.
    pub(super) async fn record_read(
        &self,
        v: &Viewer,
        action: &'static str,
        entity: &'static str,
        entity_id: String,
        incident: IncidentId,
    ) -> Result<()> {
        if v.is_system() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        append_audit(
            &mut tx,
            v,
            now(),
            Change {
                action,
                entity,
                entity_id: entity_id.clone(),
                incident_id: Some(incident),
                related_incident_id: None,
                before: Value::Null,
                after: json!({ "read": entity, "id": entity_id }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`SqlStore::record_read`] when `report` is sensitive or belongs to a
    /// sensitive incident; otherwise nothing.
    pub(super) async fn record_report_read(
        &self,
        v: &Viewer,
        report: ReportId,
        action: &'static str,
        entity: &'static str,
        entity_id: String,
    ) -> Result<()> {
        if v.is_system() {
            return Ok(());
        }
        let mut q = Sql::new(
            "SELECT r.incident_id FROM reports r JOIN incidents i ON i.id = r.incident_id WHERE r.id = ",
        );
        q.bind(report.to_string())
            .push(" AND (r.sensitive = 1 OR i.sensitive = 1)");
        let Some((incident,)) = fetch_opt::<_, (String,)>(&self.reader, &q).await? else {
            return Ok(());
        };
        let incident = crate::backend::parse_col("incident id", &incident)?;
        self.record_read(v, action, entity, entity_id, incident)
            .await
    }
}
