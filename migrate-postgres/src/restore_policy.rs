//! Whether a backup may be restored automatically after a `transaction = false` migration
//! failed: on PostgreSQL other sessions keep writing while such a migration runs, and a restore
//! deletes what they committed. Restored automatically only when no user table holds a row
//! written since the backup (outside the runner's own transactions) and no user table's row
//! count changed; otherwise the operator is told which tables would lose what.
//!
//! Read at the backup (tables locked against writers): the transaction snapshot and every
//! user table's row count. Read before restoring: each table's rows whose `xmin` the backup's
//! snapshot did not see and that no runner transaction wrote (inserts and updates), and its
//! row count (deletes). The runner's transactions are their top-level txids and, for the
//! transaction that took the backup, the xids its savepoints assigned (a migration writes in
//! its savepoint: its rows carry the savepoint's xid, which nothing shows once released). Just
//! before that transaction commits, while the backup's table locks still hold every other
//! writer off, every row the backup's snapshot does not see is the run's own: their xids are
//! collected and the row counts read again, so what the run itself wrote is the baseline. Limits: rows the failed `transaction = false` migration itself wrote, and row counts
//! changed by a later runner transaction (a chunk, a later set) count as written (so it is not
//! restored automatically either); a frozen row older than 2^32 transactions may
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

impl Baseline {
    /// In the transaction that took the backup, just before it commits: its table locks have
    /// held every other writer off the backup's tables since the backup, so every row there the
    /// backup's snapshot does not see and whose xid is still in progress was written by this
    /// transaction or one of its savepoints (a table created since by another session holds
    /// committed rows: never counted as the run's). Returns those rows'
    /// xids (the savepoints' ones are nowhere else to be read once released) and reads the
    /// row counts again, so that what the run itself inserted or deleted is the baseline.
    pub(crate) fn recount_own(&mut self, client: &mut impl GenericClient) -> Result<Vec<i64>> {
        let next = next_xid(client)?;
        let tables: Vec<String> = client
            .query(USER_TABLES, &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut unseen = Vec::new();
        for table in &tables {
            let sql = format!("SELECT DISTINCT x FROM ({}) n", unseen_rows(table));
            for row in client.query(&sql, &[&next, &self.snapshot])? {
                unseen.push(row.get::<_, i64>(0));
            }
        }
        unseen.sort_unstable();
        unseen.dedup();
        // Only this transaction's xids (its savepoints' included) are still in progress for
        // it: a table another session created since the backup is not locked, and the rows it
        // committed there are that session's, not the run's.
        let xids: Vec<i64> = client
            .query(
                "SELECT x FROM unnest($1::bigint[]) x
                 WHERE pg_xact_status(x::text::xid8) = 'in progress' ORDER BY x",
                &[&unseen],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        self.counts = counts(client)?;
        Ok(xids)
    }
}

/// The current snapshot's xmax (the next xid once every running one ended): a 32-bit xmin is
/// widened into its epoch from it.
fn next_xid(client: &mut impl GenericClient) -> Result<i64> {
    Ok(client
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )?
        .get(0))
}

/// The rows of `table` the snapshot `$2` does not see, each with its xmin widened to 64 bits
/// (`x`) into the epoch of the full xid `$1` (the current snapshot's xmax: a transaction still
/// running, the caller's own included, may have a higher one, so the nearest epoch is taken).
fn unseen_rows(table: &str) -> String {
    format!(
        "SELECT x FROM (
           SELECT CASE WHEN w > $1::bigint + 2147483648 THEN w - 4294967296
                       WHEN w < $1::bigint - 2147483648 THEN w + 4294967296
                       ELSE w END AS x FROM (
             SELECT ((($1::bigint >> 32) << 32) | xmin::text::bigint) AS w FROM {table}
             WHERE xmin::text::bigint > 2) widened) f
         WHERE NOT pg_visible_in_snapshot(x::text::xid8, $2::text::pg_snapshot)"
    )
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
    let next = next_xid(client)?;
    let mut written = Vec::new();
    for (table, rows) in &now {
        if is_tracking(table) {
            continue;
        }
        let sql = format!(
            "SELECT count(*) FROM ({}) n WHERE x <> ALL($3::bigint[])",
            unseen_rows(table)
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
