//! Whether a backup may be restored automatically after a `transaction = false` migration
//! failed: on PostgreSQL other sessions keep writing while such a migration runs, and a restore
//! deletes what they committed. Restored automatically only when no user table holds a row
//! written since the backup (outside the runner's own transactions) and no user table's row
//! count changed; otherwise the operator is told which tables would lose what.
//!
//! Read at the backup (tables locked against writers): the transaction snapshot and every
//! user table's row count. Read before restoring: each table's rows whose `xmin` the backup's
//! snapshot did not see and that no runner transaction wrote (inserts and updates), and its
//! row count (deletes). Limits: rows the failed migration itself wrote count as written (so
//! it is not restored automatically either); a frozen row older than 2^32 transactions may
//! look new (a refusal, never a loss); a commit between this check and the restore's replay
//! (milliseconds) is lost; a table dropped since the backup comes back with its rows.

use crate::Result;
use crate::backup::exact::USER_TABLES;
use postgres::GenericClient;
use std::collections::BTreeMap;

/// What the database held when a backup was taken.
#[derive(Clone, Debug)]
pub(crate) struct Baseline {
    /// `pg_current_snapshot()` as text, read before the tables were locked.
    snapshot: String,
    /// Rows of every user table, read with the tables locked.
    counts: BTreeMap<String, i64>,
}

/// The transaction's snapshot: read before the backup locks the tables (a commit between
/// the two is flagged as written, never missed).
pub(crate) fn snapshot(client: &mut impl GenericClient) -> Result<String> {
    Ok(client
        .query_one("SELECT pg_current_snapshot()::text", &[])?
        .get(0))
}

/// The row counts, read in the backup's transaction after it locked every user table.
pub(crate) fn baseline(client: &mut impl GenericClient, snapshot: String) -> Result<Baseline> {
    Ok(Baseline {
        snapshot,
        counts: counts(client)?,
    })
}

fn counts(client: &mut impl GenericClient) -> Result<BTreeMap<String, i64>> {
    let tables: Vec<String> = client
        .query(USER_TABLES, &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        counts.insert(table, n);
    }
    Ok(counts)
}

/// The user tables written since `baseline` by any transaction but `ours` (the runner's
/// transactions), with what changed; empty when a restore loses nothing anyone committed.
pub(crate) fn written_since(
    client: &mut impl GenericClient,
    baseline: &Baseline,
    ours: &[i64],
) -> Result<Vec<String>> {
    let now = counts(client)?;
    // The next full transaction id: a 32-bit xmin is widened into its epoch from it.
    let next: i64 = client
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )?
        .get(0);
    let mut written = Vec::new();
    for (table, rows) in &now {
        if is_tracking(table) {
            continue;
        }
        let sql = format!(
            "SELECT count(*) FROM (
               SELECT CASE WHEN w > $1::bigint THEN w - 4294967296 ELSE w END AS x FROM (
                 SELECT ((($1::bigint >> 32) << 32) | xmin::text::bigint) AS w FROM {table}
                 WHERE xmin::text::bigint > 2) widened) f
             WHERE NOT pg_visible_in_snapshot(x::text::xid8, $2::text::pg_snapshot)
               AND x <> ALL($3::bigint[])"
        );
        let new_rows: i64 = client
            .query_one(&sql, &[&next, &baseline.snapshot, &ours])?
            .get(0);
        let before = baseline.counts.get(table).copied();
        let mut what = Vec::new();
        if new_rows > 0 {
            what.push(format!("{new_rows} rows inserted or updated"));
        }
        match before {
            Some(before) if before != *rows => {
                what.push(format!("{before} rows then, {rows} now"));
            }
            None if *rows > 0 => what.push(format!("a new table with {rows} rows")),
            _ => {}
        }
        if !what.is_empty() {
            written.push(format!("{table} ({})", what.join("; ")));
        }
    }
    Ok(written)
}

/// The runner's own tables (`_migrate_applied`, `_migrate_history`, ...): a restore puts them
/// back as the backup holds them and the protocol records the restore after it.
fn is_tracking(table: &str) -> bool {
    let name = table.rsplit('.').next().unwrap_or(table);
    name.trim_start_matches('"').starts_with("_migrate_")
}
