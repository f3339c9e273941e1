//! A backup that shows exactly the state a migration starts from: in the migration's own
//! transaction, every user table is locked `IN EXCLUSIVE MODE` (writers wait, readers and
//! pg_dump's ACCESS SHARE do not), then `pg_export_snapshot()` names the transaction's view of
//! the data, which `pg_dump --snapshot` reads. Under READ COMMITTED a snapshot exported after
//! the locks equals one taken before the first query: no writer can commit in between.

use crate::{Error, Result};
use postgres::GenericClient;

const PROBE: &str = "migrate_backup_probe";

/// Every table and partitioned table outside the system schemas (temporary ones excluded).
pub(crate) const USER_TABLES: &str = r"
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
ORDER BY 1";

/// Holds writers off until `client`'s transaction ends and exports its snapshot. `client` must
/// be inside an open transaction block; the locks wait at most the transaction's lock_timeout.
pub(crate) fn hold_writers_and_export(client: &mut impl GenericClient) -> Result<String> {
    // SAVEPOINT is refused outside a transaction block (25P01): there an exported snapshot
    // would die with the implicit transaction before pg_dump could import it.
    match client.batch_execute(&format!("SAVEPOINT {PROBE}")) {
        Ok(()) => client.batch_execute(&format!("RELEASE SAVEPOINT {PROBE}"))?,
        Err(e) if e.code().map(|c| c.code()) == Some("25P01") => {
            return Err(Error::BackupNotInTransaction {
                why: "no transaction is open on this connection (start one with BEGIN first)",
            });
        }
        Err(e) => return Err(e.into()),
    }
    let tables: Vec<String> = client
        .query(USER_TABLES, &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !tables.is_empty() {
        client.batch_execute(&format!(
            "LOCK TABLE {} IN EXCLUSIVE MODE",
            tables.join(", ")
        ))?;
    }
    let id: String = client.query_one("SELECT pg_export_snapshot()", &[])?.get(0);
    log::debug!(
        "{} tables locked against writers; snapshot {id}",
        tables.len()
    );
    Ok(id)
}
