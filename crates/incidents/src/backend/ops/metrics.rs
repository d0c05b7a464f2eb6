//! Response metrics: time to acknowledge and time to resolve, mean and
//! median, per severity and per category, over the visible incidents
//! reported in a period.

use std::collections::BTreeMap;

use crate::access::{Viewer, incident_visible};
use crate::audit::unix_micros;
use crate::backend::{SqlStore, fetch_all, parse_col};
use crate::enums::{Category, Severity};
use crate::query::Sql;
use crate::store::{MetricRow, Metrics, MetricsQuery, Result, StoreError};

/// One incident's reported, acknowledged and resolved times (unix
/// microseconds).
type Times = (i64, Option<i64>, Option<i64>);

/// Counts and TTA/TTR statistics for one group of incidents.
fn metric_row(key: String, rows: &[Times]) -> MetricRow {
    fn stats(mut xs: Vec<f64>) -> (Option<f64>, Option<f64>) {
        if xs.is_empty() {
            return (None, None);
        }
        xs.sort_by(f64::total_cmp);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let mid = xs.len() / 2;
        let p50 = if xs.len().is_multiple_of(2) {
            (xs[mid - 1] + xs[mid]) / 2.0
        } else {
            xs[mid]
        };
        (Some(mean), Some(p50))
    }
    // Durations clamp at zero: a backdated or hand-edited row never yields
    // a negative figure.
    let secs = |start: i64, end: i64| ((end - start).max(0)) as f64 / 1e6;
    let tta: Vec<f64> = rows
        .iter()
        .filter_map(|(r, a, _)| a.map(|a| secs(*r, a)))
        .collect();
    let ttr: Vec<f64> = rows
        .iter()
        .filter_map(|(r, _, z)| z.map(|z| secs(*r, z)))
        .collect();
    let (acknowledged, resolved) = (tta.len() as i64, ttr.len() as i64);
    let (tta_mean_secs, tta_p50_secs) = stats(tta);
    let (ttr_mean_secs, ttr_p50_secs) = stats(ttr);
    MetricRow {
        key,
        count: rows.len() as i64,
        acknowledged,
        tta_mean_secs,
        tta_p50_secs,
        resolved,
        ttr_mean_secs,
        ttr_p50_secs,
    }
}

impl SqlStore {
    pub(super) async fn metrics(&self, v: &Viewer, query: MetricsQuery) -> Result<Metrics> {
        if query.to <= query.from {
            return Err(StoreError::Invalid(
                "metrics period: `to` must be after `from`".into(),
            ));
        }
        let mut q = Sql::new(
            "SELECT i.severity, i.category, i.reported_at, i.acknowledged_at, i.resolved_at FROM incidents i WHERE ",
        );
        incident_visible(&mut q, v, "i");
        q.push(" AND i.status <> 'merged' AND i.reported_at >= ")
            .bind(unix_micros(query.from))
            .push(" AND i.reported_at < ")
            .bind(unix_micros(query.to));
        type MRow = (String, String, i64, Option<i64>, Option<i64>);
        let rows: Vec<MRow> = fetch_all(&self.reader, &q).await?;
        let mut by_sev: BTreeMap<Severity, Vec<Times>> =
            Severity::ALL.iter().map(|s| (*s, Vec::new())).collect();
        let mut by_cat: BTreeMap<Category, Vec<Times>> = BTreeMap::new();
        let mut all = Vec::with_capacity(rows.len());
        for (sev, cat, r, a, z) in rows {
            let sev: Severity = parse_col("severity", &sev)?;
            let cat: Category = parse_col("category", &cat)?;
            by_sev.entry(sev).or_default().push((r, a, z));
            by_cat.entry(cat).or_default().push((r, a, z));
            all.push((r, a, z));
        }
        Ok(Metrics {
            query,
            total: metric_row("all".into(), &all),
            by_severity: by_sev
                .iter()
                .map(|(k, rows)| metric_row(k.as_str().into(), rows))
                .collect(),
            by_category: by_cat
                .iter()
                .map(|(k, rows)| metric_row(k.as_str().into(), rows))
                .collect(),
        })
    }
}
