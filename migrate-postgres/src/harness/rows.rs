//! Row counts of every user table, for the check's row-loss rule.

use crate::{Connection, Result};
use migrate_core::RowCount;
use std::collections::BTreeMap;

/// `schema.table` -> (oid, rows). The oid tells a renamed table (same oid, new name) from a
/// dropped one.
pub(crate) type Counts = BTreeMap<String, (i64, u64)>;

/// Ordinary and partitioned tables outside the system schemas, without the runner's own
/// tables and extension members.
const TABLES: &str = r#"
SELECT format('%I.%I', n.nspname, c.relname), c.oid::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT (n.nspname = $1 AND c.relname LIKE '\_migrate\_%')
  AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')
ORDER BY 1
"#;

/// Exact counts (`count(*)`: the check's databases are small, and estimates lag deletes).
pub(crate) fn count_all(conn: &mut Connection) -> Result<Counts> {
    let tracking = conn.schema.name.clone();
    let client = conn.client();
    let tables: Vec<(String, i64)> = client
        .query(TABLES, &[&tracking])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut counts = Counts::new();
    for (table, oid) in tables {
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        counts.insert(table, (oid, u64::try_from(rows).unwrap_or(0)));
    }
    Ok(counts)
}

/// Tables with fewer rows after: by name (a table rebuilt under its old name is compared with
/// what it replaced), else by oid (a renamed table); a table gone under both, that held rows,
/// lost them all (`after` is `None`).
pub(crate) fn lost(before: &Counts, after: &Counts) -> Vec<RowCount> {
    before
        .iter()
        .filter_map(|(table, &(oid, was))| {
            let now = after
                .get(table)
                .or_else(|| after.values().find(|(o, _)| *o == oid))
                .map(|&(_, n)| n);
            let lost = match now {
                Some(now) => now < was,
                None => was > 0,
            };
            lost.then(|| RowCount {
                table: table.clone(),
                before: Some(was),
                after: now,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_by_name_then_by_oid_and_dropped_tables_lose_their_rows() {
        let before = Counts::from([
            ("public.a".into(), (1, 3)),
            ("public.b".into(), (2, 3)),
            ("public.gone".into(), (3, 5)),
            ("public.empty_gone".into(), (4, 0)),
            ("public.renamed".into(), (5, 4)),
            ("public.rebuilt".into(), (6, 2)),
        ]);
        let after = Counts::from([
            ("public.a".into(), (1, 1)),
            ("public.b".into(), (2, 4)),
            ("public.new".into(), (7, 0)),
            ("public.new_name".into(), (5, 4)),
            ("public.rebuilt".into(), (8, 2)),
        ]);
        assert_eq!(
            lost(&before, &after),
            [
                RowCount {
                    table: "public.a".into(),
                    before: Some(3),
                    after: Some(1)
                },
                RowCount {
                    table: "public.gone".into(),
                    before: Some(5),
                    after: None
                },
            ]
        );
    }
}
