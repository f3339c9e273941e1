//! The row-count guard: the rows of the user's tables before and after each migration, and the
//! rule that a migration which did not declare itself `destructive` must not leave a table with
//! fewer rows than it found.
//!
//! Counting every table around every migration would cost a full read of the database per
//! migration. Instead the runner counts every table once, before the first migration of a run
//! (the baseline), and after each migration counts only the tables the authorizer saw it write
//! to, create, drop or alter ([`Touched`]); the counts of the others cannot have changed. That
//! covers every way a table loses rows inside a migration: `DELETE` (also through triggers),
//! `INSERT`/`UPDATE OR REPLACE` removing conflicting rows, and a rebuild that copied fewer rows
//! than the old table had. Foreign key actions (`ON DELETE CASCADE`) cannot delete rows because
//! the runner keeps foreign keys off while migrations run.
//!
//! Tables are compared by name, so a table rebuilt under its old name (dropped and recreated in
//! the same migration, in SQLite's documented order or with the old table renamed first) is
//! judged by what it holds afterwards, not by its `DROP TABLE`. The counter also knows each
//! table's columns and which of them hold a non-NULL value, and after a step finds:
//! - tables gone: there before, not after under their name, and not renamed away (their root
//!   page does not belong to a new name now) — dropped, whatever the order of statements;
//! - column data gone: a column that held a value and is now missing (`ALTER TABLE … DROP
//!   COLUMN`, a rebuild without it), holds only NULL (a rebuild that did not copy it, an
//!   `UPDATE` that set it NULL everywhere), or was set by UPDATE in every row by a step that read
//!   no column of the table (the update hook counts the rows). A new column in the same
//!   position that holds values counts as the column renamed.
//!
//! "Holds a value" is `EXISTS (… WHERE c IS NOT NULL)` per nullable column of a table with rows:
//! it stops at the first non-NULL value, and scans the table only for a column that is NULL
//! everywhere.

use crate::sentry::{Touched, is_internal};
use crate::tx::quote_ident;
use crate::{Error, Result};
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};

pub use migrate_core::RowCount;

/// A table's name as SQLite compares names: ASCII letters folded to lower case, so `People`
/// and `people` are one table.
fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The plain tables of `main` whose rows are counted (by key, with the stored spelling), and
/// the keys of the other names `pragma_table_list` knows (views, virtual tables and their shadow
/// tables), which are not.
struct Listing {
    plain: BTreeMap<String, String>,
    other: BTreeSet<String>,
}

/// The root page of every table of `main`, by key: a renamed table keeps its root page.
fn root_pages(conn: &Connection) -> rusqlite::Result<BTreeMap<String, i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, rootpage FROM main.sqlite_schema WHERE type = 'table'")?;
    let rows = stmt.query_map([], |r| {
        Ok((key(&r.get::<_, String>(0)?), r.get::<_, i64>(1)?))
    })?;
    rows.collect()
}

/// A table's columns, and which of them hold at least one non-NULL value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Shape {
    /// Column names in declared order.
    columns: Vec<String>,
    /// Keys of the columns holding a value.
    filled: BTreeSet<String>,
    /// Each column's declaration (type, NOT NULL, default, primary key), by key: a column
    /// renamed by ALTER TABLE keeps it.
    declared: BTreeMap<String, String>,
}

impl Shape {
    fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| key(c) == key(column))
    }
}

/// A column as `PRAGMA table_info` describes it: name, NOT NULL, and its whole declaration
/// (`type|notnull|default|pk`).
type ColumnInfo = (String, bool, String);

/// The columns of `table`. `PRAGMA table_info` itself, not the `pragma_table_info` table:
/// the table-valued function prepares this same pragma again inside, and after every `CREATE`
/// (which invalidates prepared statements) both parses are paid anew.
fn table_info(conn: &Connection, table: &str) -> rusqlite::Result<Vec<ColumnInfo>> {
    let sql = format!("PRAGMA main.table_info('{}')", table.replace('\'', "''"));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        let name: String = r.get(1)?;
        let kind: String = r.get(2)?;
        let not_null: i64 = r.get(3)?;
        let default: Option<String> = r.get(4)?;
        let pk: i64 = r.get(5)?;
        let declared = format!("{kind}|{not_null}|{}|{pk}", default.unwrap_or_default());
        Ok((name, not_null != 0, declared))
    })?;
    rows.collect()
}

/// `EXISTS (… WHERE c IS NOT NULL)` for each of `columns`, in one list.
fn probes(from: &str, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| {
            format!(
                ", EXISTS (SELECT 1 FROM {from} WHERE {} IS NOT NULL)",
                quote_ident(c)
            )
        })
        .collect()
}

/// The shape of a table read as `info`, given its rows and which nullable columns hold a value.
fn shape_of(info: Vec<ColumnInfo>, rows: u64, holds: &[(String, bool)]) -> Shape {
    let columns: Vec<String> = info.iter().map(|(name, _, _)| name.clone()).collect();
    let mut filled = BTreeSet::new();
    if rows > 0 {
        filled.extend(
            info.iter()
                .filter(|(_, not_null, _)| *not_null)
                .map(|(name, _, _)| key(name)),
        );
        filled.extend(holds.iter().filter(|(_, h)| *h).map(|(name, _)| key(name)));
    }
    let declared = info
        .into_iter()
        .map(|(name, _, declared)| (key(&name), declared))
        .collect();
    Shape {
        columns,
        filled,
        declared,
    }
}

/// The columns of `table` and, when it has rows, which hold a value.
fn read_shape(conn: &Connection, table: &str, rows: u64) -> rusqlite::Result<Shape> {
    let info = table_info(conn, table)?;
    let probed: Vec<&str> = info
        .iter()
        .filter(|(_, not_null, _)| !*not_null)
        .map(|(name, _, _)| name.as_str())
        .collect();
    if rows == 0 || probed.is_empty() {
        return Ok(shape_of(info, rows, &[]));
    }
    let from = format!("main.{}", quote_ident(table));
    // The list starts with ", ": a constant first column keeps the SQL valid.
    let sql = format!("SELECT 0{}", probes(&from, &probed));
    let holds = conn.query_row(&sql, [], |r| {
        (0..probed.len())
            .map(|i| Ok((probed[i].to_owned(), r.get::<_, bool>(i + 1)?)))
            .collect::<rusqlite::Result<Vec<_>>>()
    })?;
    Ok(shape_of(info, rows, &holds))
}

/// The rows of `table` and its shape, in two statements (the count and the probes share one).
fn count_and_shape(conn: &Connection, table: &str) -> rusqlite::Result<(u64, Shape)> {
    let info = table_info(conn, table)?;
    let probed: Vec<&str> = info
        .iter()
        .filter(|(_, not_null, _)| !*not_null)
        .map(|(name, _, _)| name.as_str())
        .collect();
    let from = format!("main.{}", quote_ident(table));
    let sql = format!(
        "SELECT (SELECT count(*) FROM {from}){}",
        probes(&from, &probed)
    );
    let (rows, holds) = conn.query_row(&sql, [], |r| {
        let rows = r.get::<_, i64>(0)?.max(0) as u64;
        let holds = (0..probed.len())
            .map(|i| Ok((probed[i].to_owned(), r.get::<_, bool>(i + 1)?)))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows, holds))
    })?;
    Ok((rows, shape_of(info, rows, &holds)))
}

/// The columns of `before` holding a value whose values are gone in `after`, as `table.column`:
/// missing, or NULL everywhere. A new column at the same position that holds values is the
/// column renamed when it is declared as the old one was (ALTER TABLE ... RENAME COLUMN) or the
/// step read the old column (a rebuild copying it under the new name); otherwise it replaced
/// the old column (dropped, then a column added with a DEFAULT took its place).
fn emptied_columns(
    table: &str,
    before: &Shape,
    after: &Shape,
    read_columns: &BTreeSet<String>,
) -> Vec<String> {
    let mut gone = Vec::new();
    for (position, column) in before.columns.iter().enumerate() {
        if !before.filled.contains(&key(column)) {
            continue;
        }
        let kept = if after.has(column) {
            after.filled.contains(&key(column))
        } else {
            after.columns.get(position).is_some_and(|c| {
                !before.has(c)
                    && after.filled.contains(&key(c))
                    && (read_columns.contains(&key(column))
                        || before.declared.get(&key(column)) == after.declared.get(&key(c)))
            })
        };
        if !kept {
            gone.push(format!("{table}.{column}"));
        }
    }
    gone
}

/// The columns of a table with `rows` rows before and after that held values and that UPDATE
/// set in every row while the step read no column of the table (`UPDATE t SET c = 'x'`, no
/// WHERE): every value replaced, as `table.column (overwritten in every row)`. A step that read
/// the table is left out, whatever read it: a WHERE, `SET c = lower(c)` (values transformed,
/// not replaced), a loop that reads rows and updates each.
fn overwritten_columns(
    table: &str,
    table_key: &str,
    before: &Shape,
    after: &Shape,
    rows: u64,
    touched: &Touched,
) -> Vec<String> {
    let Some(columns) = touched.updated_columns.get(table_key) else {
        return Vec::new();
    };
    if touched.updated_rows.get(table_key).copied().unwrap_or(0) < rows
        || touched.read_tables.contains(table_key)
    {
        return Vec::new();
    }
    before
        .columns
        .iter()
        .filter(|c| {
            let column = key(c);
            columns.contains(&column)
                && before.filled.contains(&column)
                && after.filled.contains(&column)
        })
        .map(|c| format!("{table}.{c} (overwritten in every row)"))
        .collect()
}

fn list_tables(conn: &Connection) -> rusqlite::Result<Listing> {
    let mut stmt =
        conn.prepare_cached("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")?;
    let mut listing = Listing {
        plain: BTreeMap::new(),
        other: BTreeSet::new(),
    };
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (name, kind) = row?;
        if is_internal(&name) {
            continue;
        }
        if kind == "table" {
            listing.plain.insert(key(&name), name);
        } else {
            listing.other.insert(key(&name));
        }
    }
    Ok(listing)
}

/// The rows of `table` (SQLite counts the pages of its smallest index or of the table).
fn count(conn: &Connection, table: &str) -> rusqlite::Result<u64> {
    let sql = format!("SELECT count(*) FROM main.{}", quote_ident(table));
    conn.query_row(&sql, [], |row| row.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
}

/// Rows of tables by key, with each table's stored spelling.
pub(crate) type Counts = BTreeMap<String, (String, u64)>;

/// The rows of every plain user table of `main`.
pub(crate) fn count_all(conn: &Connection) -> rusqlite::Result<Counts> {
    count_listed(conn, list_tables(conn)?.plain)
}

fn count_listed(conn: &Connection, plain: BTreeMap<String, String>) -> rusqlite::Result<Counts> {
    let mut counts = BTreeMap::new();
    for (key, table) in plain {
        let rows = count(conn, &table)?;
        counts.insert(key, (table, rows));
    }
    Ok(counts)
}

/// Every table counted before or after, matched by name as SQLite matches names.
pub(crate) fn compare(before: &Counts, after: &Counts) -> Vec<RowCount> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .map(|key| {
            let (was, now) = (before.get(key), after.get(key));
            let name = now
                .or(was)
                .map(|(name, _)| name.clone())
                .unwrap_or_default();
            RowCount {
                table: name,
                before: was.map(|(_, rows)| *rows),
                after: now.map(|(_, rows)| *rows),
            }
        })
        .collect()
}

/// What a step did to the tables it touched.
#[derive(Debug, Default)]
pub(crate) struct StepTables {
    /// Rows of each touched table before and after.
    pub counts: Vec<RowCount>,
    /// Tables that were there before and are gone (dropped, not renamed or rebuilt).
    pub gone: Vec<String>,
    /// Columns whose values are gone, as `table.column`.
    pub emptied: Vec<String>,
}

/// The counts a run keeps up to date from one migration to the next.
pub(crate) struct RowCounter {
    /// Rows of every plain user table, as the last migration left them.
    known: Counts,
    /// Columns of every known table with rows (by key); a table without an entry has no rows.
    shapes: BTreeMap<String, Shape>,
    /// Root page of every known table, by key.
    roots: BTreeMap<String, i64>,
    /// Keys of views, virtual tables and shadow tables: written to, but not counted.
    uncounted: BTreeSet<String>,
}

impl RowCounter {
    /// The baseline: every plain user table, counted once, and the columns of those with rows.
    pub fn start(conn: &Connection) -> rusqlite::Result<RowCounter> {
        let Listing { plain, other } = list_tables(conn)?;
        let known = count_listed(conn, plain)?;
        let mut shapes = BTreeMap::new();
        for (key, (name, rows)) in &known {
            if *rows > 0 {
                shapes.insert(key.clone(), read_shape(conn, name, *rows)?);
            }
        }
        Ok(RowCounter {
            known,
            shapes,
            roots: root_pages(conn)?,
            uncounted: other,
        })
    }

    /// After a migration: counts the tables it touched (and, when names may have moved, every
    /// table it left that the counter does not know), returns them with their counts before,
    /// the tables it made disappear and the column data it removed, and remembers the new
    /// state for the next migration.
    pub fn after_step(
        &mut self,
        conn: &Connection,
        touched: Touched,
    ) -> rusqlite::Result<StepTables> {
        // Key -> spelling: the stored one when the table is known, else as the step wrote it.
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for written in &touched.tables {
            let written = written.clone();
            let key = key(&written);
            let name = self.known.get(&key).map_or(written, |(n, _)| n.clone());
            names.insert(key, name);
        }
        let listed = if touched.relist {
            let Listing { plain, other } = list_tables(conn)?;
            for (key, name) in &plain {
                if !self.known.contains_key(key) || names.contains_key(key) {
                    names.insert(key.clone(), name.clone());
                }
            }
            for (key, (name, _)) in &self.known {
                if !plain.contains_key(key) {
                    names.entry(key.clone()).or_insert_with(|| name.clone());
                }
            }
            self.uncounted = other;
            Some(plain)
        } else {
            None
        };
        // A table renamed by the step (ALTER TABLE changed it, its root page is now under a new
        // name) keeps its columns' record under the new name, so a column dropped after the
        // rename is still seen. If a new table took the old name ("archive, start afresh"),
        // the old rows are all under the new name: the table of the old name starts anew.
        let mut carried: BTreeMap<String, (Shape, Option<u64>)> = BTreeMap::new();
        let roots_now = match &listed {
            Some(plain) => {
                let roots_now = root_pages(conn)?;
                for (old_key, root) in &self.roots {
                    let Some(old_rows) = self.known.get(old_key).map(|(_, rows)| *rows) else {
                        continue;
                    };
                    if !touched.altered.contains(old_key) {
                        continue;
                    }
                    let Some((new_key, _)) = roots_now.iter().find(|(now, r)| {
                        *r == root
                            && *now != old_key
                            && plain.contains_key(*now)
                            && !self.known.contains_key(*now)
                    }) else {
                        continue;
                    };
                    if plain.contains_key(old_key) {
                        // Recreated under its name: only if every row went with the rename.
                        if count(conn, &plain[new_key])? != old_rows {
                            continue;
                        }
                        self.known.remove(old_key);
                    }
                    if let Some(shape) = self.shapes.remove(old_key) {
                        carried.insert(new_key.clone(), (shape, Some(old_rows)));
                    }
                }
                Some(roots_now)
            }
            None => None,
        };
        let mut out = StepTables::default();
        let mut disappeared = Vec::new();
        for (key, name) in names {
            // A known table whose name is now a view or virtual table is gone all the same.
            if self.uncounted.contains(&key) && !self.known.contains_key(&key) {
                continue;
            }
            let exists = match &listed {
                Some(plain) => plain.contains_key(&key),
                // No view or virtual table came or went, so a name that exists now and is not
                // a known view, virtual or shadow table is a plain table (views do not exist
                // to this call).
                None => conn.table_exists(Some("main"), &name)?,
            };
            let (after, shape_after) = if exists {
                let (rows, shape) = count_and_shape(conn, &name)?;
                (Some(rows), Some(shape))
            } else {
                (None, None)
            };
            let before = match after {
                Some(rows) => self.known.insert(key.clone(), (name.clone(), rows)),
                None => self.known.remove(&key),
            }
            .map(|(_, rows)| rows);
            // Under its old name, for a table renamed by the step.
            let (shape_before, rows_before) = match self.shapes.remove(&key) {
                Some(shape) => (Some(shape), before),
                None => carried
                    .remove(&key)
                    .map_or((None, before), |(shape, rows)| (Some(shape), rows)),
            };
            if let (Some(rows), Some(shape)) = (after.filter(|rows| *rows > 0), shape_after) {
                if let Some(was) = &shape_before {
                    out.emptied
                        .extend(emptied_columns(&name, was, &shape, &touched.read_columns));
                    if rows_before == Some(rows) {
                        out.emptied.extend(overwritten_columns(
                            &name, &key, was, &shape, rows, &touched,
                        ));
                    }
                }
                self.shapes.insert(key.clone(), shape);
            }
            if before.is_some() && after.is_none() {
                disappeared.push((key, name.clone()));
            }
            if before.is_some() || after.is_some() {
                out.counts.push(RowCount {
                    table: name,
                    before,
                    after,
                });
            }
        }
        if touched.relist || !disappeared.is_empty() {
            // Renames and drops (which move root pages under auto_vacuum). A table created
            // since the last read has no root page known yet: read only when needed, as
            // reading sqlite_schema after every CREATE would cost a scan per migration.
            let roots_now = match roots_now {
                Some(roots) => roots,
                None => root_pages(conn)?,
            };
            let before = std::mem::replace(&mut self.roots, roots_now);
            let new_names: BTreeSet<String> = out
                .counts
                .iter()
                .filter(|c| c.before.is_none() && c.after.is_some())
                .map(|c| key(&c.table))
                .collect();
            for (key, name) in disappeared {
                // Renamed away: ALTER TABLE changed it, and its root page now belongs to a name
                // that was not there before.
                let renamed = touched.altered.contains(&key)
                    && match before.get(&key) {
                        Some(root) => self
                            .roots
                            .iter()
                            .any(|(now, r)| r == root && new_names.contains(now)),
                        None => !new_names.is_empty(),
                    };
                if !renamed {
                    out.gone.push(name);
                }
            }
        }
        Ok(out)
    }
}

/// The rules for a step of an `up` that did not declare `destructive` (and was not allowed it
/// for the run): no table it found may be gone, no column's values may be gone, and no table
/// may end with fewer rows.
pub(crate) fn check_step(seq: u64, allowed: bool, tables: &StepTables) -> Result<()> {
    if allowed {
        return Ok(());
    }
    check_gone(seq, allowed, tables)?;
    if !tables.emptied.is_empty() {
        return Err(Error::ColumnDataLost {
            seq,
            columns: tables.emptied.clone(),
        });
    }
    check_losses(seq, allowed, &tables.counts)
}

/// The first rule of [`check_step`] alone: no table it found may be gone.
pub(crate) fn check_gone(seq: u64, allowed: bool, tables: &StepTables) -> Result<()> {
    if allowed || tables.gone.is_empty() {
        return Ok(());
    }
    Err(Error::UndeclaredDestruction {
        statements: tables
            .gone
            .iter()
            .map(|t| format!("DROP TABLE {t}"))
            .collect(),
        seq,
    })
}

/// The guard's rule for an `up`: no table may end with fewer rows unless the migration declared
/// `destructive` or the operator allowed it for the run.
pub(crate) fn check_losses(seq: u64, allowed: bool, counts: &[RowCount]) -> Result<()> {
    if allowed {
        return Ok(());
    }
    let lost: Vec<RowCount> = counts
        .iter()
        .filter(|c| c.lost().is_some())
        .cloned()
        .collect();
    if lost.is_empty() {
        Ok(())
    } else {
        Err(Error::RowsLost { seq, tables: lost })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(sql: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        conn
    }

    fn touched(tables: &[&str], relist: bool) -> Touched {
        Touched {
            tables: tables.iter().map(|t| (*t).to_owned()).collect(),
            relist,
            ..Touched::default()
        }
    }

    #[test]
    fn baseline_counts_plain_tables_only() {
        let conn = db("CREATE TABLE a (x); INSERT INTO a VALUES (1), (2);
             CREATE VIEW v AS SELECT * FROM a;
             CREATE VIRTUAL TABLE f USING fts5(body);
             CREATE TABLE _migrate_applied (x);");
        let counter = RowCounter::start(&conn).unwrap();
        assert_eq!(
            counter.known,
            BTreeMap::from([("a".to_owned(), ("a".to_owned(), 2))])
        );
        assert!(counter.uncounted.contains("v"));
        assert!(counter.uncounted.contains("f"));
        assert!(counter.uncounted.contains("f_data"));
    }

    #[test]
    fn counts_touched_tables_and_remembers_them() {
        let conn = db("CREATE TABLE a (x); INSERT INTO a VALUES (1), (2); CREATE TABLE b (y);");
        let mut counter = RowCounter::start(&conn).unwrap();
        conn.execute_batch(
            "DELETE FROM a WHERE x = 1; CREATE TABLE c (z); INSERT INTO c VALUES (1)",
        )
        .unwrap();
        let counts = counter
            .after_step(&conn, touched(&["a", "c"], false))
            .unwrap()
            .counts;
        assert_eq!(
            counts,
            [
                RowCount {
                    table: "a".into(),
                    before: Some(2),
                    after: Some(1)
                },
                RowCount {
                    table: "c".into(),
                    before: None,
                    after: Some(1)
                },
            ]
        );
        conn.execute_batch("DROP TABLE c").unwrap();
        let counts = counter
            .after_step(&conn, touched(&["c"], false))
            .unwrap()
            .counts;
        assert_eq!(
            counts,
            [RowCount {
                table: "c".into(),
                before: Some(1),
                after: None
            }]
        );
    }

    #[test]
    fn a_relist_follows_renamed_tables() {
        let conn = db("CREATE TABLE a (x); INSERT INTO a VALUES (1), (2);");
        let mut counter = RowCounter::start(&conn).unwrap();
        conn.execute_batch("ALTER TABLE a RENAME TO b").unwrap();
        let mut renamed = touched(&["a"], true);
        // As the sentry reports ALTER TABLE a.
        renamed.altered.insert("a".to_owned());
        let step = counter.after_step(&conn, renamed).unwrap();
        assert!(step.gone.is_empty(), "a rename is not a drop: {step:?}");
        let counts = step.counts;
        assert_eq!(
            counts,
            [
                RowCount {
                    table: "a".into(),
                    before: Some(2),
                    after: None
                },
                RowCount {
                    table: "b".into(),
                    before: None,
                    after: Some(2)
                },
            ]
        );
        assert_eq!(
            counter.known,
            BTreeMap::from([("b".to_owned(), ("b".to_owned(), 2))])
        );
    }

    #[test]
    fn shadow_tables_of_a_new_virtual_table_are_not_counted() {
        let conn = db("");
        let mut counter = RowCounter::start(&conn).unwrap();
        conn.execute_batch("CREATE VIRTUAL TABLE f USING fts5(body)")
            .unwrap();
        let counts = counter
            .after_step(&conn, touched(&["f_data", "f_idx"], true))
            .unwrap()
            .counts;
        assert_eq!(counts, []);
    }

    #[test]
    fn only_shrunk_tables_that_still_exist_are_losses() {
        let counts = [
            RowCount {
                table: "kept".into(),
                before: Some(3),
                after: Some(3),
            },
            RowCount {
                table: "shrunk".into(),
                before: Some(3),
                after: Some(1),
            },
            RowCount {
                table: "dropped".into(),
                before: Some(3),
                after: None,
            },
            RowCount {
                table: "new".into(),
                before: None,
                after: Some(0),
            },
        ];
        let Err(Error::RowsLost { seq, tables }) = check_losses(7, false, &counts) else {
            panic!("a shrunk table must fail the guard");
        };
        assert_eq!(
            (seq, tables.len(), tables[0].table.as_str()),
            (7, 1, "shrunk")
        );
        assert!(check_losses(7, true, &counts).is_ok());
    }
}
