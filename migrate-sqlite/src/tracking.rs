//! The tracking tables: `_migrate_applied` (one row per applied migration, written in the same
//! transaction as the migration), `_migrate_history` (append-only log of every run) and
//! `_migrate_row_counts` (the row-count guard's counts, per history row).

use crate::{Result, RowCount};
use migrate_core::{AppliedRow, RowState};
pub use migrate_core::{HistoryEvent, HistoryRow, RecordedRow};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

/// Table of applied (and started) migrations.
pub const APPLIED_TABLE: &str = "_migrate_applied";

const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS _migrate_applied (
    set_name    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    checksum    TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('applied', 'started', 'reverting')),
    applied_at  TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL,
    applied_by  TEXT    NOT NULL,
    schema_fingerprint TEXT,
    PRIMARY KEY (set_name, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _migrate_history (
    id          INTEGER PRIMARY KEY, -- append-only, so rowids only grow
    at          TEXT    NOT NULL,
    set_name    TEXT    NOT NULL,
    seq         INTEGER,
    name        TEXT,
    action      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    detail      TEXT,
    duration_ms INTEGER,
    backup_path TEXT,
    applied_by  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS _migrate_row_counts (
    history_id  INTEGER NOT NULL,
    table_name  TEXT    NOT NULL,
    rows_before INTEGER, -- NULL: the table did not exist before the migration
    rows_after  INTEGER, -- NULL: the table does not exist after it
    PRIMARY KEY (history_id, table_name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _migrate_schema (
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    sql  TEXT NOT NULL,
    PRIMARY KEY (type, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _migrate_state (
    set_name TEXT PRIMARY KEY,
    digest   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS _migrate_applied_inserted AFTER INSERT ON _migrate_applied
BEGIN DELETE FROM _migrate_state WHERE set_name = NEW.set_name; END;
CREATE TRIGGER IF NOT EXISTS _migrate_applied_updated
AFTER UPDATE OF set_name, seq, name, checksum, state ON _migrate_applied
BEGIN DELETE FROM _migrate_state WHERE set_name IN (OLD.set_name, NEW.set_name); END;
CREATE TRIGGER IF NOT EXISTS _migrate_applied_deleted AFTER DELETE ON _migrate_applied
BEGIN DELETE FROM _migrate_state WHERE set_name = OLD.set_name; END;
";

/// The current time as SQLite formats it, UTC with milliseconds: `2026-11-22 10:49:14.123`.
pub const NOW: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now')";

/// Creates the tracking tables if they do not exist (inside the caller's transaction).
pub fn ensure_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE_TABLES)
}

/// True when the tracking tables exist.
pub fn tables_exist(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [APPLIED_TABLE],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Every row of `set`, by seq. Empty when the tables do not exist yet. A table this framework
/// cannot read (another tool's, or a row edited by hand) is named with the way out.
pub fn read_rows(conn: &Connection, set: &str) -> Result<Vec<RecordedRow>> {
    read_rows_raw(conn, set).map_err(|e| unreadable(conn, set, e))
}

fn read_rows_raw(conn: &Connection, set: &str) -> rusqlite::Result<Vec<RecordedRow>> {
    if !tables_exist(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT seq, name, checksum, state, applied_at, duration_ms, applied_by,
                schema_fingerprint
         FROM _migrate_applied WHERE set_name = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([set], |r| {
        let state: String = r.get(3)?;
        Ok(RecordedRow {
            row: AppliedRow {
                seq: r.get::<_, i64>(0)? as u64,
                name: r.get(1)?,
                checksum: r.get(2)?,
                // 'reverting' is the down of a non-transactional migration, interrupted.
                state: if state == "applied" {
                    RowState::Applied
                } else {
                    RowState::Started
                },
            },
            applied_at: r.get(4)?,
            duration_ms: r.get::<_, i64>(5)?.max(0) as u64,
            applied_by: r.get(6)?,
            fingerprint: r.get(7)?,
        })
    })?;
    rows.collect()
}

/// Only what a plan needs (seq, name, checksum, state): the no-op start reads this. Errors as
/// [`read_rows`].
pub fn read_plan_rows(conn: &Connection, set: &str) -> Result<Vec<AppliedRow>> {
    read_plan_rows_raw(conn, set).map_err(|e| unreadable(conn, set, e))
}

fn read_plan_rows_raw(conn: &Connection, set: &str) -> rusqlite::Result<Vec<AppliedRow>> {
    if !tables_exist(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT seq, name, checksum, state = 'applied'
         FROM _migrate_applied WHERE set_name = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([set], |r| {
        Ok(AppliedRow {
            seq: r.get::<_, i64>(0)? as u64,
            name: r.get(1)?,
            checksum: r.get(2)?,
            state: if r.get(3)? {
                RowState::Applied
            } else {
                RowState::Started
            },
        })
    })?;
    rows.collect()
}

/// The columns of `_migrate_applied` and the type each row must hold in it.
const APPLIED_COLUMNS: [(&str, &str); 8] = [
    ("set_name", "text"),
    ("seq", "integer"),
    ("name", "text"),
    ("checksum", "text"),
    ("state", "text"),
    ("applied_at", "text"),
    ("duration_ms", "integer"),
    ("applied_by", "text"),
];

/// Why reading `_migrate_applied` failed, found by looking at the table (only after a failure:
/// the happy path pays nothing): another tool's table of the same name, or a value of the wrong
/// type. Any other error is returned as it was.
fn unreadable(conn: &Connection, set: &str, error: rusqlite::Error) -> crate::Error {
    // Only errors a table of another shape or a bad value cause; a busy or broken database
    // is reported as it is (looking at the table would wait for the lock a second time).
    let about_the_table = match &error {
        rusqlite::Error::SqliteFailure(e, _) | rusqlite::Error::SqlInputError { error: e, .. } => {
            e.code == rusqlite::ErrorCode::Unknown
        }
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => true,
        _ => false,
    };
    if !about_the_table {
        return error.into();
    }
    let path = conn
        .path()
        .filter(|p| !p.is_empty())
        .unwrap_or(":memory:")
        .to_owned();
    let Ok(columns) = table_columns(conn, APPLIED_TABLE) else {
        return error.into();
    };
    let mut missing: Vec<&str> = APPLIED_COLUMNS
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !columns.iter().any(|have| have == c))
        .collect();
    if !columns.iter().any(|c| c == "schema_fingerprint") {
        missing.push("schema_fingerprint");
    }
    if !missing.is_empty() {
        return crate::Error::TrackingUnreadable {
            path,
            problem: format!(
                "the table {APPLIED_TABLE} is not this framework's (its columns are {}; \
                 missing: {}): another tool or app keeps a table of that name in this database",
                columns.join(", "),
                missing.join(", ")
            ),
            way_out: format!(
                "Check that this is the database you meant (`--database`). This framework \
                 cannot share {APPLIED_TABLE} with another tool: keep its migrations in a \
                 database of their own, or rename the other tool's table (and tell that tool)"
            ),
        };
    }
    for (column, wanted) in APPLIED_COLUMNS {
        let sql = format!(
            "SELECT quote(seq), typeof({column}) FROM {APPLIED_TABLE} \
             WHERE set_name = ?1 AND typeof({column}) <> '{wanted}' LIMIT 1"
        );
        let bad = conn
            .query_row(&sql, [set], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional();
        if let Ok(Some((seq, found))) = bad {
            return crate::Error::TrackingUnreadable {
                path,
                problem: format!(
                    "the row of migration {seq} (set {set:?}) in {APPLIED_TABLE} has {} {column} \
                     where {} {wanted} value belongs: it was written by hand or by another tool",
                    if found == "null" {
                        "a NULL".to_owned()
                    } else {
                        format!("a {found}")
                    },
                    if wanted == "integer" { "an" } else { "a" }
                ),
                way_out: if column == "checksum" {
                    format!(
                        "Put a checksum back (in the sqlite3 shell: `UPDATE {APPLIED_TABLE} SET \
                         checksum = 'unknown' WHERE set_name = '{set}' AND seq = {seq}`), then \
                         record this binary's checksum for it: `migrate up --accept-checksum \
                         {seq}`. Or restore a backup (`migrate backups` lists them)"
                    )
                } else {
                    format!(
                        "Put the value back by hand (the sqlite3 shell: `UPDATE {APPLIED_TABLE} \
                         SET {column} = ... WHERE set_name = '{set}' AND seq = {seq}`), or \
                         restore a backup (`migrate backups` lists them)"
                    )
                },
            };
        }
    }
    error.into()
}

fn table_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

/// The highest seq recorded for `set` in any state (`Plan::current`), by the primary key.
pub fn highest_seq(conn: &Connection, set: &str) -> rusqlite::Result<Option<u64>> {
    conn.query_row(
        "SELECT max(seq) FROM _migrate_applied WHERE set_name = ?1",
        [set],
        |row| row.get::<_, Option<i64>>(0),
    )
    .map(|seq| seq.map(|s| s as u64))
}

pub use migrate_core::RowValues;

/// Records a migration as applied (replacing a `started` row).
pub fn insert_applied(conn: &Connection, v: &RowValues) -> rusqlite::Result<()> {
    upsert(conn, v, "applied")
}

/// Records a non-transactional migration as started, before it runs.
pub fn insert_started(conn: &Connection, v: &RowValues) -> rusqlite::Result<()> {
    upsert(conn, v, "started")
}

fn upsert(conn: &Connection, v: &RowValues, state: &str) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT OR REPLACE INTO _migrate_applied
             (set_name, seq, name, checksum, state, applied_at, duration_ms, applied_by)
         VALUES (?1, ?2, ?3, ?4, ?5, {NOW}, ?6, ?7)"
    );
    conn.prepare_cached(&sql)?.execute(params![
        v.set,
        v.seq as i64,
        v.name,
        v.checksum,
        state,
        v.duration_ms as i64,
        v.applied_by
    ])?;
    Ok(())
}

/// Marks an applied non-transactional migration as being reverted, before its down runs; the
/// row keeps its original checksum and times.
pub fn mark_reverting(conn: &Connection, set: &str, seq: u64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE _migrate_applied SET state = 'reverting' WHERE set_name = ?1 AND seq = ?2",
        params![set, seq as i64],
    )?;
    Ok(())
}

/// Removes a migration's row (after its `down`).
pub fn delete_row(conn: &Connection, set: &str, seq: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM _migrate_applied WHERE set_name = ?1 AND seq = ?2")?
        .execute(params![set, seq as i64])?;
    Ok(())
}

/// Replaces the recorded checksum of an applied migration.
pub fn update_checksum(
    conn: &Connection,
    set: &str,
    seq: u64,
    checksum: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE _migrate_applied SET checksum = ?3 WHERE set_name = ?1 AND seq = ?2",
        params![set, seq as i64, checksum],
    )?;
    Ok(())
}

/// Stores the schema fingerprint on the highest applied row of the set.
pub fn set_fingerprint(conn: &Connection, set: &str, fingerprint: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE _migrate_applied SET schema_fingerprint = ?2
         WHERE set_name = ?1 AND seq = (SELECT max(seq) FROM _migrate_applied WHERE set_name = ?1)",
        params![set, fingerprint],
    )?;
    Ok(())
}

/// The fingerprint stored on the highest applied row of the set, if any.
pub fn last_fingerprint(conn: &Connection, set: &str) -> rusqlite::Result<Option<String>> {
    if !tables_exist(conn)? {
        return Ok(None);
    }
    conn.query_row(
        "SELECT schema_fingerprint FROM _migrate_applied WHERE set_name = ?1
         ORDER BY seq DESC LIMIT 1",
        [set],
        |row| row.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// Appends an event to the history.
pub fn append_history(
    conn: &Connection,
    e: &HistoryEvent,
    applied_by: &str,
) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT INTO _migrate_history
             (at, set_name, seq, name, action, outcome, detail, duration_ms, backup_path, applied_by)
         VALUES ({NOW}, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    );
    conn.prepare_cached(&sql)?.execute(params![
        e.set,
        e.seq.map(|s| s as i64),
        e.name,
        e.action,
        e.outcome,
        e.detail,
        e.duration_ms.map(|d| d as i64),
        e.backup_path,
        applied_by
    ])?;
    if !e.row_counts.is_empty() {
        let id = conn.last_insert_rowid();
        let mut insert = conn.prepare_cached(
            "INSERT INTO _migrate_row_counts (history_id, table_name, rows_before, rows_after)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for count in &e.row_counts {
            insert.execute(params![
                id,
                count.table,
                count.before.map(|n| n as i64),
                count.after.map(|n| n as i64)
            ])?;
        }
    }
    Ok(())
}

/// The history of `set`, oldest first.
pub fn read_history(conn: &Connection, set: &str) -> Result<Vec<HistoryRow>> {
    if !tables_exist(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(
        "SELECT id, at, seq, name, action, outcome, detail, duration_ms, backup_path, applied_by
         FROM _migrate_history WHERE set_name = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([set], |r| {
        Ok(HistoryRow {
            id: r.get(0)?,
            at: r.get(1)?,
            event: HistoryEvent {
                set: set.to_owned(),
                seq: r.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                name: r.get(3)?,
                action: r.get(4)?,
                outcome: r.get(5)?,
                detail: r.get(6)?,
                duration_ms: r.get::<_, Option<i64>>(7)?.map(|d| d.max(0) as u64),
                backup_path: r.get(8)?,
                row_counts: Vec::new(),
            },
            applied_by: r.get(9)?,
        })
    })?;
    let mut rows = rows.collect::<rusqlite::Result<Vec<HistoryRow>>>()?;
    let mut counts = read_row_counts(conn, set)?;
    for row in &mut rows {
        row.event.row_counts = counts.remove(&row.id).unwrap_or_default();
    }
    Ok(rows)
}

/// The row counts of `set`'s history rows, by history id (none in a database whose tracking
/// tables predate them).
fn read_row_counts(conn: &Connection, set: &str) -> Result<BTreeMap<i64, Vec<RowCount>>> {
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = '_migrate_row_counts'",
        [],
        |row| row.get(0),
    )?;
    let mut counts: BTreeMap<i64, Vec<RowCount>> = BTreeMap::new();
    if !exists {
        return Ok(counts);
    }
    let mut stmt = conn.prepare(
        "SELECT c.history_id, c.table_name, c.rows_before, c.rows_after
         FROM _migrate_row_counts c JOIN _migrate_history h ON h.id = c.history_id
         WHERE h.set_name = ?1 ORDER BY c.history_id, c.table_name",
    )?;
    let rows = stmt.query_map([set], |r| {
        let rows = |i| {
            r.get::<_, Option<i64>>(i)
                .map(|n| n.map(|n| n.max(0) as u64))
        };
        Ok((
            r.get::<_, i64>(0)?,
            RowCount {
                table: r.get(1)?,
                before: rows(2)?,
                after: rows(3)?,
            },
        ))
    })?;
    for row in rows {
        let (id, count) = row?;
        counts.entry(id).or_default().push(count);
    }
    Ok(counts)
}
