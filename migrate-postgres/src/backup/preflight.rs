//! What is checked before a backup writes anything: the server's version (to pick the tools)
//! and that the role may read everything pg_dump will read.

use crate::{Error, Result};
use postgres::GenericClient;

/// `SHOW server_version_num` as a number (150018 for 15.18).
pub(crate) fn server_version_num(client: &mut impl GenericClient) -> Result<u32> {
    let row = client.query_one("SHOW server_version_num", &[])?;
    let text: String = row.get(0);
    Ok(text.trim().parse().unwrap_or(0))
}

/// Tables and sequences whose rows pg_dump reads, and schemas it enters, that the current role
/// may not; extension members are left out (pg_dump skips them).
const UNREADABLE: &str = r"
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'S')
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')
  AND NOT has_table_privilege(c.oid, 'SELECT')
UNION ALL
SELECT format('%I', n.nspname) FROM pg_namespace n
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  AND NOT has_schema_privilege(n.oid, 'USAGE')
ORDER BY 1";

/// Refuses, naming the objects, when the role cannot read all of them.
pub(crate) fn check_readable(client: &mut impl GenericClient) -> Result<()> {
    let objects: Vec<String> = client
        .query(UNREADABLE, &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if objects.is_empty() {
        return Ok(());
    }
    let role: String = client.query_one("SELECT current_user::text", &[])?.get(0);
    Err(Error::BackupPrivileges { role, objects })
}
