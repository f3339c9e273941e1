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
/// may not, with their owners; extension members are left out (pg_dump skips them).
const UNREADABLE: &str = r"
SELECT format('%I.%I', n.nspname, c.relname), pg_get_userbyid(c.relowner)::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'S')
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')
  AND NOT has_table_privilege(c.oid, 'SELECT')
UNION ALL
SELECT format('%I', n.nspname), pg_get_userbyid(n.nspowner)::text FROM pg_namespace n
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  AND NOT has_schema_privilege(n.oid, 'USAGE')
ORDER BY 1";

/// Refuses, naming the objects and the GRANTs that fix it, when the role cannot read all of
/// them. `config` is the connection's: each GRANT is a `psql` command to the same server,
/// logged in as the objects' owner.
pub(crate) fn check_readable(
    client: &mut impl GenericClient,
    config: &postgres::Config,
) -> Result<()> {
    let rows = client.query(UNREADABLE, &[])?;
    if rows.is_empty() {
        return Ok(());
    }
    let objects: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let role: String = client.query_one("SELECT current_user::text", &[])?.get(0);
    let mut by_owner: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in &rows {
        by_owner.entry(row.get(1)).or_default().push(row.get(0));
    }
    let grants = by_owner
        .iter()
        .map(|(owner, objects)| {
            let mut as_owner = config.clone();
            as_owner.user(owner);
            crate::connection_target::psql_command(
                &crate::connection_target::conninfo(&as_owner),
                &grant_sql(&role, objects),
            )
        })
        .collect();
    Err(Error::BackupPrivileges {
        role,
        objects,
        grants,
    })
}

/// The GRANTs that let `role` read `objects` (`schema.relation`, or a bare `schema` that lacks
/// USAGE).
fn grant_sql(role: &str, objects: &[String]) -> String {
    let role = crate::connection::quote_ident(role);
    let (relations, schemas): (Vec<&String>, Vec<&String>) =
        objects.iter().partition(|o| o.contains('.'));
    let mut grants = Vec::new();
    if !schemas.is_empty() {
        let names: Vec<&str> = schemas.iter().map(|s| s.as_str()).collect();
        grants.push(format!(
            "GRANT USAGE ON SCHEMA {} TO {role}",
            names.join(", ")
        ));
    }
    if !relations.is_empty() {
        let names: Vec<&str> = relations.iter().map(|s| s.as_str()).collect();
        grants.push(format!("GRANT SELECT ON {} TO {role}", names.join(", ")));
    }
    grants.join("; ")
}
