//! The one query the guard sends after each migration: the user tables whose row counters or
//! catalog rows changed since the previous read, with exact counts of those that gained or
//! lost rows, in one round trip.
//!
//! - `pg_stat_get_xact_tuples_inserted/updated/deleted(oid)` are the current transaction's
//!   counters (`pg_stat_xact_user_tables`, without the view's join on `pg_index`). They only
//!   grow inside a transaction, except that a `TRUNCATE` resets those of its own subtransaction
//!   (and a truncated table's catalog row changes, unless the same migration created it). The
//!   previous values of tables that have any are sent back as arrays, so only tables whose
//!   counters *differ* come back; and the previous sum over every table, so that when it
//!   moved by exactly what the tables whose catalog rows changed moved, the per-table
//!   comparison (a join over every table) is skipped. They also count work of rolled-back
//!   subtransactions: a reason to recount, never to conclude.
//! - Catalog rows changed since the previous read have an `xmin` newer than the newest one
//!   that read saw (each savepoint that writes gets a new, larger subtransaction id; `age()`
//!   compares xids safely across wraparound; the snapshot's `xmax` would not do, as it does
//!   not move while only this transaction writes): new, renamed, truncated or rewritten tables
//!   (`pg_class`), dropped, renamed or retyped columns (`pg_attribute`, scanned only when its
//!   update/delete counters moved).
//! - A dropped table deletes its `pg_class` row: when `pg_class`'s delete counter moved, the
//!   oids of every user table come back, so the guard sees which known table is gone.
//! - Counts use `query_to_xml(format('SELECT count(*) ...'))`: a count of a table chosen by the
//!   query itself, without a function of our own in the user's database.

use postgres::Statement;
use postgres::types::Type;
use std::collections::BTreeMap;

/// A table's oid.
pub(crate) type Oid = u32;

/// The transaction's row counters of one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub ins: i64,
    pub upd: i64,
    pub del: i64,
}

/// Where a read starts from: what the previous read saw.
#[derive(Clone, Debug, Default)]
pub(crate) struct Since {
    /// Counters of every table whose counters were non-zero at a previous read.
    pub counters: BTreeMap<Oid, Counters>,
    /// The newest `xmin` of a catalog row the previous read saw (a 32-bit xid); `None`
    /// before the first read (then: the transaction's own id).
    pub newest: Option<i64>,
    /// `pg_class`'s delete counter at the previous read.
    pub class_deletes: i64,
    /// `pg_attribute`'s update + delete counters at the previous read.
    pub attribute_changes: i64,
    /// The sum of every user table's inserted and deleted counters at the previous read.
    pub sum: i64,
}

/// One user table as a read saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    pub filenode: u32,
    pub counters: Counters,
    /// Its columns `(attnum, name)` when its catalog rows changed (or on a full read).
    pub columns: Option<Vec<(i16, String)>>,
    /// Its exact rows, when its insert or delete counter moved (or it was asked for).
    pub rows: Option<u64>,
}

/// What one read returned.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observation {
    pub newest: i64,
    pub class_deletes: i64,
    pub attribute_changes: i64,
    /// The sum of every user table's inserted and deleted counters.
    pub sum: i64,
    /// Every user table's oid, when a relation was dropped since the previous read (or on a
    /// full read).
    pub all_oids: Option<Vec<Oid>>,
    pub tables: Vec<Seen>,
}

impl Observation {
    /// The state the next read starts from.
    pub fn advance(&self, since: &mut Since) {
        for seen in &self.tables {
            // A table without counters is sent as none (the arrays stay as small as the
            // tables this transaction wrote to).
            if seen.counters.ins == 0 && seen.counters.del == 0 {
                since.counters.remove(&seen.oid);
            } else {
                since.counters.insert(seen.oid, seen.counters);
            }
        }
        since.sum = self.sum;
        since.newest = Some(self.newest);
        since.class_deletes = self.class_deletes;
        since.attribute_changes = self.attribute_changes;
    }
}

/// The read. `$1` tracking schema, `$2..$4` previous counters (oid, inserted, deleted) of the
/// tables that had any, `$5` previous newest xmin, `$6` false for a full read (every table with
/// its columns, no counts), `$7` previous attribute changes, `$8` previous class deletes, `$9`
/// the previous sum of every table's counters.
///
/// Two ways to the same answer. The per-table comparison with `$2..$4` (a join over every
/// table) runs only when the sums say a table whose catalog rows did not change moved its
/// counters; otherwise the tables whose catalog rows changed (a few, found by `xmin`) are the
/// whole answer. Counters only grow inside a transaction (work of a rolled-back subtransaction
/// stays counted), except a `TRUNCATE`'s reset, and a truncated table's catalog row changes
/// (or it was created in the same migration): so when the sum over every table moved by
/// exactly what the changed tables moved, no other table moved.
const READ: &str = r#"
WITH cat AS (
  SELECT pg_catalog.pg_stat_get_xact_tuples_deleted('pg_catalog.pg_class'::regclass) AS class_del,
         pg_catalog.pg_stat_get_xact_tuples_updated('pg_catalog.pg_attribute'::regclass)
           + pg_catalog.pg_stat_get_xact_tuples_deleted('pg_catalog.pg_attribute'::regclass)
           AS attr_changes,
         pg_catalog.age(coalesce($5::text::xid,
                                 pg_catalog.xid(pg_catalog.pg_current_xact_id()))) AS since_age,
         (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1) AS tracking
), tables AS MATERIALIZED (
  -- Every table a user made (oids below 16384 are initdb's: the system catalogs and
  -- information_schema), the runner's own tracking tables left out by their names (a user
  -- table renamed to another `_migrate_x` must not leave the sums unseen).
  SELECT c.oid, c.relnamespace, c.relname, c.relfilenode, c.xmin,
         pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) AS ins,
         pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) AS del
  FROM pg_catalog.pg_class c
  WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND c.oid::int8 >= 16384
    AND NOT (c.relnamespace = (SELECT tracking FROM cat)
             AND c.relname IN ('_migrate_applied', '_migrate_history', '_migrate_row_counts',
                               '_migrate_schema', '_migrate_state', '_migrate_commit_guard'))
), moved_columns AS (
  SELECT a.attrelid, a.xmin FROM pg_catalog.pg_attribute a
  WHERE $6 AND (SELECT attr_changes FROM cat) <> $7 AND a.attnum > 0
    AND pg_catalog.age(a.xmin) < (SELECT since_age FROM cat)
), fresh AS MATERIALIZED (
  -- Tables whose catalog rows changed since the previous read, with their previous counters.
  SELECT t.*, coalesce($3[pg_catalog.array_position($2, t.oid::int8)], 0) AS prev_ins,
         coalesce($4[pg_catalog.array_position($2, t.oid::int8)], 0) AS prev_del
  FROM tables t
  WHERE pg_catalog.age(t.xmin) < (SELECT since_age FROM cat)
     OR t.oid IN (SELECT attrelid FROM moved_columns)
), sums AS (
  SELECT (SELECT coalesce(sum(ins + del), 0) FROM tables)::int8 AS now_sum,
         (SELECT coalesce(sum(ins + del - prev_ins - prev_del), 0) FROM fresh)::int8 AS fresh_moved
), quiet AS (
  -- Only the fresh tables moved (no table dropped, the sums agree): skip the comparison.
  SELECT $6 AND (SELECT class_del FROM cat) = $8 AND now_sum - $9 = fresh_moved AS only_fresh
  FROM sums
), newest AS (
  SELECT x FROM (SELECT f.xmin AS x FROM fresh f
                 WHERE pg_catalog.age(f.xmin) < (SELECT since_age FROM cat)
                 UNION ALL SELECT xmin FROM moved_columns) s
  ORDER BY pg_catalog.age(x) LIMIT 1
), prev AS (
  -- The multi-array form of unnest exists only unqualified, in FROM.
  SELECT * FROM unnest($2::int8[], $3::int8[], $4::int8[]) AS p(oid, ins, del)
), compared AS (
  SELECT f.oid, f.relnamespace, f.relname, f.relfilenode, f.ins, f.del, true AS catalog_changed,
         (f.ins, f.del) IS DISTINCT FROM (f.prev_ins, f.prev_del) AS counters_changed
  FROM fresh f WHERE (SELECT only_fresh FROM quiet)
  UNION ALL
  SELECT t.oid, t.relnamespace, t.relname, t.relfilenode, t.ins, t.del,
         $6 AND (pg_catalog.age(t.xmin) < (SELECT since_age FROM cat)
                 OR t.oid IN (SELECT attrelid FROM moved_columns)),
         (t.ins, t.del) IS DISTINCT FROM (coalesce(p.ins, 0), coalesce(p.del, 0))
  FROM tables t LEFT JOIN prev p ON p.oid = t.oid::int8
  WHERE NOT (SELECT only_fresh FROM quiet)
), changed AS (
  SELECT c.*, n.nspname::text AS nspname, c.relname::text AS name,
         $6 AND c.counters_changed AS count_it
  FROM compared c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE (NOT $6 OR c.catalog_changed OR c.counters_changed)
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname !~ '^pg_(toast|temp)'
)
SELECT NULL::int8 AS oid,
       coalesce((SELECT x FROM newest),
                coalesce($5::text::xid, pg_catalog.xid(pg_catalog.pg_current_xact_id())))
         ::text::int8 AS ins,
       class_del AS upd, attr_changes AS del,
       CASE WHEN NOT $6 OR class_del <> $8 THEN (SELECT pg_catalog.array_agg(oid::int8) FROM tables) END,
       NULL::text, NULL::text, NULL::int8, NULL::int4[], NULL::text[],
       (SELECT now_sum FROM sums)
FROM cat
UNION ALL
SELECT oid::int8, ins, pg_catalog.pg_stat_get_xact_tuples_updated(oid), del, NULL, nspname, name,
       relfilenode::int8,
       CASE WHEN NOT $6 OR catalog_changed THEN ARRAY(
         SELECT a.attnum::int4 FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = changed.oid AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum) END,
       CASE WHEN NOT $6 OR catalog_changed THEN ARRAY(
         SELECT a.attname::text FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = changed.oid AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum) END,
       CASE WHEN count_it THEN (pg_catalog.xpath('/row/c/text()', pg_catalog.query_to_xml(
         pg_catalog.format('SELECT count(*) AS c FROM %I.%I', nspname, name),
         false, true, '')))[1]::text::int8 END
FROM changed
"#;

/// The read, prepared once per run (a named statement: parsed once, and after a few runs
/// planned once; user DDL does not invalidate it, as it reads only catalogs).
pub(crate) fn prepare(client: &mut postgres::Client) -> Result<Statement, postgres::Error> {
    client.prepare_typed(
        READ,
        &[
            Type::TEXT,
            Type::INT8_ARRAY,
            Type::INT8_ARRAY,
            Type::INT8_ARRAY,
            Type::INT8,
            Type::BOOL,
            Type::INT8,
            Type::INT8,
            Type::INT8,
        ],
    )
}

/// Reads what changed since `since` (`full`: every table with its columns, nothing counted).
pub(crate) fn read(
    client: &mut postgres::Client,
    statement: &Statement,
    tracking_schema: &str,
    since: &Since,
    full: bool,
) -> Result<Observation, postgres::Error> {
    let oids: Vec<i64> = since.counters.keys().map(|&o| i64::from(o)).collect();
    let ins: Vec<i64> = since.counters.values().map(|c| c.ins).collect();
    let del: Vec<i64> = since.counters.values().map(|c| c.del).collect();
    let newest = since.newest;
    let stepping = !full;
    let rows = client.query(
        statement,
        &[
            &tracking_schema,
            &oids,
            &ins,
            &del,
            &newest,
            &stepping,
            &since.attribute_changes,
            &since.class_deletes,
            &since.sum,
        ],
    )?;
    let mut out = Observation::default();
    for row in rows {
        let oid: Option<i64> = row.get(0);
        let Some(oid) = oid else {
            out.newest = row.get(1);
            out.class_deletes = row.get(2);
            out.attribute_changes = row.get(3);
            out.sum = row.get(10);
            out.all_oids = row
                .get::<_, Option<Vec<i64>>>(4)
                .map(|all| all.into_iter().map(to_oid).collect());
            continue;
        };
        let attnums: Option<Vec<i32>> = row.get(8);
        let names: Option<Vec<String>> = row.get(9);
        let columns = attnums.zip(names).map(|(nums, names)| {
            nums.into_iter()
                .map(|n| i16::try_from(n).unwrap_or(i16::MAX))
                .zip(names)
                .collect()
        });
        out.tables.push(Seen {
            oid: to_oid(oid),
            schema: row.get(5),
            name: row.get(6),
            filenode: to_oid(row.get(7)),
            counters: Counters {
                ins: row.get(1),
                upd: row.get(2),
                del: row.get(3),
            },
            columns,
            rows: row.get::<_, Option<i64>>(10).map(|n| n.max(0) as u64),
        });
    }
    Ok(out)
}

fn to_oid(n: i64) -> Oid {
    u32::try_from(n).unwrap_or(0)
}
