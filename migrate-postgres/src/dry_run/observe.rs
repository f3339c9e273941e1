//! What a dry run reads around each migration, inside the migration's transaction: the user
//! tables (storage file, size, columns, indexes, constraints), the relation locks this
//! transaction holds, and its per-table tuple counters. Every read runs in a savepoint rolled
//! back at once, so the dry run's own reads leave no lock behind (a subtransaction's locks go
//! with its rollback) and the next migration's locks are its own.

use super::locks::LockMode;
use crate::Result;
use crate::connection::Schema;
use postgres::Client;
use std::collections::{BTreeMap, BTreeSet};

/// The savepoint the reads run in.
const OBSERVE: &str = "migrate_observe";

/// User tables: ordinary and partitioned, materialized views (a `REFRESH` locks and rewrites
/// them; one never populated cannot be counted and is left out) and views (for their locks
/// only: replacing one blocks every query on it), outside the system schemas, not the
/// runner's own.
const TABLES: &str = r#"
SELECT c.oid::bigint, format('%I.%I', n.nspname, c.relname), c.relfilenode::bigint,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)
                  FROM pg_partition_tree(c.oid) t)::bigint
            ELSE pg_total_relation_size(c.oid) END,
       c.relkind = 'm', c.relkind = 'v'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (c.relkind IN ('r', 'p', 'v') OR (c.relkind = 'm' AND c.relispopulated))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT (n.nspname = $1 AND c.relname LIKE '\_migrate\_%')
  AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')
"#;

const COLUMNS: &str = r#"
SELECT a.attrelid::bigint, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attnum, a.attgenerated <> ''
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"#;

const INDEXES: &str = r#"
SELECT i.indexrelid::bigint, i.indrelid::bigint, format('%I.%I', n.nspname, c.relname)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = ANY($1)
"#;

const CONSTRAINTS: &str = r#"
SELECT oid::bigint, conrelid::bigint, conname::text, contype::text, convalidated,
       pg_get_constraintdef(oid)
FROM pg_constraint WHERE conrelid = ANY($1)
"#;

/// Relation locks of this session, granted (a dry run's transaction waits for nothing else).
const LOCKS: &str = r#"
SELECT relation::bigint, mode FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"#;

/// Rows inserted, updated and deleted by this transaction so far, per table.
const WRITES: &str = r#"
SELECT relid::bigint, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables
"#;

/// A column as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    /// `attnum`: a rename keeps it, so a renamed column is not taken for a dropped one.
    pub number: i16,
    pub name: String,
    pub type_name: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// `GENERATED ALWAYS AS (...) STORED`: `default` is its expression.
    pub generated: bool,
}

/// A user table at one moment.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    /// `schema.table`, quoted where needed.
    pub name: String,
    /// The storage file: a rewrite gives the table a new one.
    pub relfilenode: i64,
    /// `pg_total_relation_size`: heap, indexes and TOAST (a partitioned table: its
    /// partitions', which it has none of its own).
    pub size_bytes: i64,
    /// A materialized view, not a table.
    pub materialized: bool,
    /// A view: no rows of its own, never counted; only its locks are reported.
    pub view: bool,
    pub columns: Vec<Column>,
}

/// A constraint on a user table.
#[derive(Clone, Debug)]
pub(crate) struct Constraint {
    pub table: i64,
    pub name: String,
    /// `f` foreign key, `c` check, `p` primary key, `u` unique, `x` exclusion.
    pub kind: String,
    pub validated: bool,
    pub definition: String,
}

/// The catalog and this transaction's locks and writes, between two migrations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observation {
    /// By oid.
    pub tables: BTreeMap<i64, Table>,
    /// Index oid -> (table oid, index name).
    pub indexes: BTreeMap<i64, (i64, String)>,
    /// By oid.
    pub constraints: BTreeMap<i64, Constraint>,
    /// (relation oid, mode) held by this transaction.
    pub locks: BTreeSet<(i64, LockMode)>,
    /// Rows written by this transaction so far, per table oid.
    pub writes: BTreeMap<i64, i64>,
}

/// Reads everything, in a savepoint rolled back at once. The locks come first, before the
/// reads take locks of their own.
pub(crate) fn observe(client: &mut Client, schema: &Schema) -> Result<Observation> {
    client.batch_execute(&format!(
        "SAVEPOINT {OBSERVE}; SET LOCAL search_path = pg_catalog"
    ))?;
    let observed = read_all(client, schema);
    client.batch_execute(&format!(
        "ROLLBACK TO SAVEPOINT {OBSERVE}; RELEASE SAVEPOINT {OBSERVE}"
    ))?;
    observed
}

fn read_all(client: &mut Client, schema: &Schema) -> Result<Observation> {
    let mut seen = Observation::default();
    for row in client.query(LOCKS, &[])? {
        let mode: String = row.get(1);
        if let (Some(oid), Some(mode)) = (row.get::<_, Option<i64>>(0), LockMode::parse(&mode)) {
            seen.locks.insert((oid, mode));
        }
    }
    for row in client.query(WRITES, &[])? {
        seen.writes.insert(row.get(0), row.get(1));
    }
    for row in client.query(TABLES, &[&schema.name])? {
        seen.tables.insert(
            row.get(0),
            Table {
                name: row.get(1),
                relfilenode: row.get(2),
                size_bytes: row.get(3),
                materialized: row.get(4),
                view: row.get(5),
                columns: Vec::new(),
            },
        );
    }
    // `oid[]` parameters: the oids travel as bigint and are cast on the server.
    let oids: Vec<i64> = seen.tables.keys().copied().collect();
    let cast = |sql: &str| sql.replace("ANY($1)", "ANY($1::bigint[]::oid[])");
    for row in client.query(&cast(COLUMNS), &[&oids])? {
        let oid: i64 = row.get(0);
        if let Some(table) = seen.tables.get_mut(&oid) {
            table.columns.push(Column {
                number: row.get(5),
                name: row.get(1),
                type_name: row.get(2),
                not_null: row.get(3),
                default: row.get(4),
                generated: row.get(6),
            });
        }
    }
    for row in client.query(&cast(INDEXES), &[&oids])? {
        seen.indexes.insert(row.get(0), (row.get(1), row.get(2)));
    }
    for row in client.query(&cast(CONSTRAINTS), &[&oids])? {
        seen.constraints.insert(
            row.get(0),
            Constraint {
                table: row.get(1),
                name: row.get(2),
                kind: row.get(3),
                validated: row.get(4),
                definition: row.get(5),
            },
        );
    }
    Ok(seen)
}

/// Exact row counts of `tables` (oid, qualified name), in a savepoint rolled back at once
/// (their ACCESS SHARE locks go with it).
pub(crate) fn count_rows(
    client: &mut Client,
    tables: &[(i64, String)],
) -> Result<BTreeMap<i64, u64>> {
    let mut counts = BTreeMap::new();
    if tables.is_empty() {
        return Ok(counts);
    }
    client.batch_execute(&format!("SAVEPOINT {OBSERVE}"))?;
    let mut counted = Ok(());
    for (oid, name) in tables {
        match client.query_one(&format!("SELECT count(*) FROM {name}"), &[]) {
            Ok(row) => {
                counts.insert(*oid, row.get::<_, i64>(0).max(0) as u64);
            }
            Err(e) => {
                counted = Err(e);
                break;
            }
        }
    }
    client.batch_execute(&format!(
        "ROLLBACK TO SAVEPOINT {OBSERVE}; RELEASE SAVEPOINT {OBSERVE}"
    ))?;
    counted?;
    Ok(counts)
}
