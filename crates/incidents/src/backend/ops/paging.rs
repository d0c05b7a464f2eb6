//! Keyset pagination for the list operations: newest first, by
//! `(created_at, id)`, with an opaque `<micros>_<uuid>` cursor.

use time::OffsetDateTime;

use crate::audit::unix_micros;
use crate::query::Sql;
use crate::store::{Page, PageRequest, Result, StoreError};

/// The cursor that continues after the item with `created_at` and `id`.
pub(super) fn cursor_of(created_at: OffsetDateTime, id: &str) -> String {
    format!("{}_{id}", unix_micros(created_at))
}

/// Splits a cursor from [`cursor_of`] back into its time and id.
fn parse_cursor(c: &str) -> Result<(i64, String)> {
    let bad = || StoreError::Invalid("cursor is not one returned by a previous page".into());
    let (t, id) = c.split_once('_').ok_or_else(bad)?;
    let t: i64 = t.parse().map_err(|_| bad())?;
    let id: uuid::Uuid = id.parse().map_err(|_| bad())?;
    Ok((t, id.to_string()))
}

/// The page size asked for: 50 by default, 1 to 500.
pub(super) fn page_limit(p: &PageRequest) -> Result<i64> {
    match p.limit {
        None => Ok(50),
        Some(n @ 1..=500) => Ok(i64::from(n)),
        Some(n) => Err(StoreError::Invalid(format!(
            "limit must be 1 to 500 (got {n})"
        ))),
    }
}

/// Appends the keyset condition and ordering for `alias` (newest first).
pub(super) fn keyset(q: &mut Sql, alias: &str, page: &PageRequest, limit: i64) -> Result<()> {
    if let Some(c) = &page.cursor {
        let (t, id) = parse_cursor(c)?;
        q.push(" AND (")
            .push(alias)
            .push(".created_at < ")
            .bind(t)
            .push(" OR (")
            .push(alias)
            .push(".created_at = ")
            .bind(t)
            .push(" AND ")
            .push(alias)
            .push(".id < ")
            .bind(id)
            .push("))");
    }
    q.push(" ORDER BY ")
        .push(alias)
        .push(".created_at DESC, ")
        .push(alias)
        .push(".id DESC LIMIT ")
        .bind(limit + 1);
    Ok(())
}

/// Cuts the `limit + 1` rows fetched by [`keyset`] to a page, with a cursor
/// if there is more.
pub(super) fn paginate<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next_cursor }
}
