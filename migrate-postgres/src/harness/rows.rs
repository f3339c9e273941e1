//! Row counts of every user table, for the check's row-loss rule.

use crate::{Connection, Result};
use migrate_core::RowCount;
use std::collections::BTreeMap;

/// `schema.table` -> rows.
pub(crate) type Counts = BTreeMap<String, u64>;

/// Ordinary and partitioned tables outside the system schemas, without the runner's own
/// tables and extension members.
const TABLES: &str = r#"
SELECT format('%I.%I', n.nspname, c.relname)
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
    let tables: Vec<String> = client
        .query(TABLES, &[&tracking])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut counts = Counts::new();
    for table in tables {
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        counts.insert(table, u64::try_from(rows).unwrap_or(0));
    }
    Ok(counts)
}

/// Tables in both with fewer rows after (a dropped or renamed table is not a loss here).
pub(crate) fn lost(before: &Counts, after: &Counts) -> Vec<RowCount> {
    before
        .iter()
        .filter_map(|(table, &was)| {
            let now = *after.get(table)?;
            (now < was).then(|| RowCount {
                table: table.clone(),
                before: Some(was),
                after: Some(now),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tables_in_both_with_fewer_rows_are_losses() {
        let before = Counts::from([
            ("public.a".into(), 3),
            ("public.b".into(), 3),
            ("public.gone".into(), 5),
        ]);
        let after = Counts::from([
            ("public.a".into(), 1),
            ("public.b".into(), 4),
            ("public.new".into(), 0),
        ]);
        assert_eq!(
            lost(&before, &after),
            [RowCount {
                table: "public.a".into(),
                before: Some(3),
                after: Some(1)
            }]
        );
    }
}
