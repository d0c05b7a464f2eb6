//! Reading and verifying the audit trail. Appending to it is
//! [`crate::backend::append_audit`], called inside each write transaction.

use crate::access::{Viewer, audit_visible};
use crate::audit::{AuditEntry, AuditReport, verify_chain};
use crate::backend::rows::{AUDIT_COLS, AuditRow};
use crate::backend::{SqlStore, exec, fetch_all, fetch_domain, fetch_opt};
use crate::query::Sql;
use crate::store::{Backend, Result, StoreError};

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
        // Read the chain and its head in one snapshot.
        let mut tx = self.reader.begin().await?;
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
        let q = Sql::new(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log au ORDER BY au.seq"
        ));
        let rows = fetch_all::<_, AuditRow>(&mut *tx, &q).await?;
        tx.commit().await?;
        Ok(verify_chain(rows.into_iter().map(AuditRow::into_raw), head))
    }
}
