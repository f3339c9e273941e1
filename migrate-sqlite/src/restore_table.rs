//! Restoring one table from a backup: its rows replaced by the backup's, in one transaction,
//! under the migration lock, after an undo backup; other tables are not touched. Refused when
//! the table's shape in the backup is not today's; rolled back when the rows put back break a
//! foreign key.

use crate::backup::{self, BackupKind};
use crate::lock::FileLock;
use crate::outcome::shell_word;
use crate::pragmas::{BusyTimeout, PragmaGuard};
use crate::tracking::{self, HistoryEvent};
use crate::tx::quote_ident;
use crate::{BackupInfo, Error, FkViolation, RestoreFrom, Result, Session};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension};
use std::path::{Path, PathBuf};

/// The schema name the backup is attached under while its rows are copied.
const ATTACHED: &str = "migrate_backup";

/// What [`Session::restore_table`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRestoreReport {
    /// The table.
    pub table: String,
    /// The backup its rows came from.
    pub restored_from: PathBuf,
    /// Its rows before.
    pub rows_before: u64,
    /// Its rows now.
    pub rows_after: u64,
    /// The backup of the whole database taken just before, to undo it.
    pub undo_backup: BackupInfo,
}

impl Session<'_> {
    /// Puts back the rows of `table` from a backup: in one transaction, under the migration
    /// lock, after an undo backup of the whole database, the table's rows are replaced by the
    /// backup's; no other table is written (triggers do not fire during the copy). Refused
    /// ([`Error::TableShapeDiffers`]) when the table's columns, types or constraints in the
    /// backup differ from today's; rolled back ([`Error::TableRestoreBreaksForeignKeys`],
    /// naming the rows) when the result has foreign key violations that were not there before.
    ///
    /// ```
    /// use migrate_sqlite::{Migration, Migrator, RestoreFrom, Step};
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE a (x); CREATE TABLE b (y)"))])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// db.connection().execute_batch("INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)")?;
    /// db.snapshot("one-row-each")?;
    /// db.connection().execute_batch("DELETE FROM a; INSERT INTO b VALUES (2)")?;
    /// let report = db.restore_table("a", &RestoreFrom::Snapshot("one-row-each".into()))?;
    /// assert_eq!((report.rows_before, report.rows_after), (0, 1));
    /// let b: i64 = db.connection().query_row("SELECT count(*) FROM b", [], |r| r.get(0))?;
    /// assert_eq!(b, 2); // b keeps its write since the snapshot
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore_table(&self, table: &str, from: &RestoreFrom) -> Result<TableRestoreReport> {
        let (conn, db, config) = self.parts()?;
        refuse_internal_table(table)?;
        refuse_shadow_table(conn, table)?;
        let source = backup::locate(db, &config.backups, from)?;
        refuse_live_database(&source, db)?;
        backup::verify(&source)?;
        if !conn.is_autocommit() {
            return Err(Error::Unsupported(
                "the connection is inside a transaction; restore a table before opening one".into(),
            ));
        }
        let _lock = FileLock::acquire(db, config.busy_timeout)?;
        let _timeout = BusyTimeout::set(conn, config.busy_timeout)?;
        let attached = Attached::new(conn, &source)?;
        let table = attached.check_shape(table, db)?;
        // Foreign keys off before BEGIN (inside it the pragma is ignored): a DELETE of a parent
        // would otherwise cascade into other tables. They are checked after the copy instead.
        let pragmas = PragmaGuard::foreign_keys_off(conn)?;
        let triggers = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
        let result = in_transaction(conn, db, || {
            let undo = backup::take(
                conn,
                db,
                &config.backups,
                BackupKind::Automatic {
                    reason: "pre-restore-table".into(),
                },
            )?;
            let copied = copy_rows(conn, db, &table, &source, &undo);
            if copied.is_err() {
                // Nothing changed: the copy of the unchanged state is only noise.
                let _ = std::fs::remove_file(&undo.path);
            }
            let (rows_before, rows_after) = copied?;
            let event = HistoryEvent {
                set: config.set.clone(),
                action: "restore-table".into(),
                outcome: "ok".into(),
                detail: Some(format!(
                    "table {table} restored from {} ({rows_before} rows before, {rows_after} \
                     after); the state before is in {}",
                    source.display(),
                    undo.path.display()
                )),
                backup_path: Some(undo.path.display().to_string()),
                ..HistoryEvent::default()
            };
            tracking::ensure_tables(conn)?;
            tracking::append_history(conn, &event, &config.applied_by())?;
            Ok(TableRestoreReport {
                table: table.clone(),
                restored_from: source.clone(),
                rows_before,
                rows_after,
                undo_backup: undo,
            })
        });
        if let Err(e) = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, triggers) {
            log::error!("cannot turn triggers back on after restoring a table: {e}");
        }
        pragmas.restore()?;
        drop(attached);
        if let Ok(report) = &result {
            backup::prune(db, &config.backups, &[&report.undo_backup.path, &source]);
        }
        result
    }
}

/// Refuses the framework's tables (`_migrate_*`) and SQLite's (`sqlite_*`): their rows go with
/// the schema and the data of the whole database. `_migrate_applied` from an older backup would
/// record migrations as not applied whose changes are in the data (the next `up` would skip or
/// repeat them).
fn refuse_internal_table(table: &str) -> Result<()> {
    let lower = table.to_ascii_lowercase();
    if lower.starts_with("_migrate_") || lower.starts_with("sqlite_") {
        return Err(Error::Unsupported(format!(
            "{table} is the migration record or SQLite's own table, which belongs with the rest \
            of the database: it cannot be restored alone; nothing was changed. Put back the \
            whole database instead (`migrate restore`, with the backup's path or \
            `--before SEQ`)"
        )));
    }
    Ok(())
}

/// Refuses a virtual table's shadow table (`notes_content` of a full-text table `notes`): its
/// rows alone would no longer match the rest of the index, which SQLite then reports malformed.
/// The virtual table itself can be restored.
fn refuse_shadow_table(conn: &Connection, table: &str) -> Result<()> {
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM pragma_table_list WHERE schema = 'main' AND name = ?1 COLLATE NOCASE",
            [table],
            |r| r.get(0),
        )
        .optional()?;
    if kind.as_deref() != Some("shadow") {
        return Ok(());
    }
    let lower = table.to_ascii_lowercase();
    let owner: Option<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'virtual'")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|v| lower.starts_with(&format!("{}_", v.to_ascii_lowercase())))
        .max_by_key(|v| v.len());
    let instead = match owner {
        Some(owner) => format!(
            "restore the virtual table itself (`migrate restore-table {}`)",
            shell_word(Path::new(&owner))
        ),
        None => "restore the virtual table it belongs to".to_owned(),
    };
    Err(Error::Unsupported(format!(
        "{table} is a shadow table of a virtual table (its stored index or content), which \
         cannot be restored alone without breaking the index; nothing was changed. Instead, \
         {instead}"
    )))
}

/// Refuses the live database itself as the source (ATTACHing it to itself would copy nothing).
fn refuse_live_database(source: &Path, db: &Path) -> Result<()> {
    // By device and inode: a hard link has another canonical path, and ATTACHing it would
    // wait on the live file's own lock and then blame another connection.
    if backup::same_file(source, db) {
        return Err(Error::Unsupported(format!(
            "{} is the live database itself, not a backup; nothing was changed. `migrate \
             backups` lists the backups",
            source.display()
        )));
    }
    Ok(())
}

/// Runs `f` inside `BEGIN IMMEDIATE`; commits on success, rolls back otherwise. A COMMIT that
/// waited the whole timeout for readers (rollback-journal mode) is rolled back too: the
/// "stayed locked" error says nothing was changed, and the undo backup of that unchanged state
/// is removed.
fn in_transaction(
    conn: &Connection,
    db: &Path,
    f: impl FnOnce() -> Result<TableRestoreReport>,
) -> Result<TableRestoreReport> {
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {}
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            return Err(Error::Locked {
                path: db.display().to_string(),
                waited_ms: conn
                    .query_row("PRAGMA busy_timeout", [], |r| r.get::<_, i64>(0))
                    .map_or(0, |ms| ms.max(0) as u64),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let mut undo = None;
    let result = f().and_then(|report| match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(report),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            undo = Some(report.undo_backup.path);
            Err(Error::Busy {
                path: db.display().to_string(),
                waited_ms: crate::pragmas::busy_timeout(conn).map_or(0, |t| t.as_millis() as u64),
                doing: "committing the table restore".into(),
                held_by: crate::busy::READERS.into(),
                outcome: "Nothing was changed: the table restore was rolled back.".into(),
            })
        }
        Err(e) => Err(e.into()),
    });
    if result.is_err() && !conn.is_autocommit() {
        match conn.execute_batch("ROLLBACK") {
            Ok(()) => {
                if let Some(undo) = undo
                    && let Err(e) = std::fs::remove_file(&undo)
                {
                    log::warn!(
                        "cannot remove {} (the state is unchanged): {e}",
                        undo.display()
                    );
                }
            }
            Err(e) => log::error!("ROLLBACK of a table restore failed: {e}"),
        }
    }
    result
}

/// Replaces the rows of `table` with the backup's; fails (for the caller to roll back) when the
/// result has new foreign key violations. Returns the rows before and after.
fn copy_rows(
    conn: &Connection,
    db: &Path,
    table: &str,
    source: &Path,
    undo: &BackupInfo,
) -> Result<(u64, u64)> {
    let old_violations = crate::foreign_keys::violations(conn)?;
    let count = |schema: &str| -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {schema}.{}", quote_ident(table));
        Ok(conn.query_row(&sql, [], |r| r.get::<_, i64>(0))?.max(0) as u64)
    };
    let rows_before = count("main")?;
    // Generated columns (hidden 2 and 3) are computed, not copied.
    let mut columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_xinfo(?1, 'main') WHERE hidden = 0 ORDER BY cid")?
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The rowid too, where the table has one: other data may know a row by it (an
    // external-content full-text index). The first alias no column has taken names it.
    let without_rowid: bool = conn.query_row(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    if !without_rowid
        && let Some(alias) = ["_rowid_", "rowid", "oid"]
            .into_iter()
            .find(|a| !columns.iter().any(|c| c.eq_ignore_ascii_case(a)))
    {
        columns.insert(0, alias.to_owned());
    }
    let columns = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let quoted = quote_ident(table);
    // A row today's constraints refuse (a UNIQUE index added since the backup) ends the copy:
    // the caller rolls back, so the error says nothing was changed.
    conn.execute_batch(&format!(
        "DELETE FROM main.{quoted};
         INSERT INTO main.{quoted} ({columns}) SELECT {columns} FROM {ATTACHED}.{quoted};"
    ))
    .map_err(|e| Error::Runner {
        doing: format!(
            "putting back the rows of {table} from {} (rolled back, nothing was changed)",
            source.display()
        ),
        path: db.display().to_string(),
        error: e,
    })?;
    let new: Vec<FkViolation> = crate::foreign_keys::violations(conn)?
        .into_iter()
        .filter(|v| !old_violations.contains(v))
        .collect();
    if !new.is_empty() {
        let first = &new[0];
        let from = shell_word(source);
        let advice = if first.table.eq_ignore_ascii_case(table) {
            format!(
                "The backup's rows refer to {} rows that are gone: put that table back first \
                 (`migrate restore-table {} {from}`), then this one",
                first.parent,
                shell_word(Path::new(&first.parent))
            )
        } else {
            format!(
                "Rows of {} refer to {table} rows the backup does not have: fix those rows \
                 first, or put back the whole database (`migrate restore {from}`)",
                first.table
            )
        };
        return Err(Error::TableRestoreBreaksForeignKeys {
            table: table.to_owned(),
            backup: source.to_owned(),
            violations: new,
            advice,
        });
    }
    log::warn!(
        "table {table} restored from {}; undo backup {}",
        source.display(),
        undo.path.display()
    );
    Ok((rows_before, count("main")?))
}

/// The backup attached to the live connection; detached when dropped.
struct Attached<'c> {
    conn: &'c Connection,
    source: PathBuf,
}

impl<'c> Attached<'c> {
    fn new(conn: &'c Connection, source: &Path) -> Result<Attached<'c>> {
        let name = source.to_str().ok_or_else(|| {
            Error::Unsupported(format!(
                "the backup path {} is not valid UTF-8, which SQLite's ATTACH cannot take; \
                 nothing was changed. Copy it to a plain name first",
                source.display()
            ))
        })?;
        conn.execute(&format!("ATTACH DATABASE ?1 AS {ATTACHED}"), [name])?;
        Ok(Attached {
            conn,
            source: source.to_owned(),
        })
    }

    /// The table's name as the live schema spells it, after checking that the backup has the
    /// same table with the same columns, types and constraints.
    fn check_shape(&self, table: &str, db: &Path) -> Result<String> {
        let live = self
            .definition("main", table)?
            .ok_or_else(|| Error::TableNotFound {
                table: table.to_owned(),
                place: db.to_owned(),
            })?;
        let saved = self
            .definition(ATTACHED, table)?
            .ok_or_else(|| Error::TableNotFound {
                table: table.to_owned(),
                place: self.source.clone(),
            })?;
        let live_columns = self.columns("main", &live.0)?;
        let saved_columns = self.columns(ATTACHED, &saved.0)?;
        let mut differences = Vec::new();
        for (name, shape) in &saved_columns {
            match live_columns
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                None => differences.push(format!("column {name} only in the backup")),
                Some((_, now)) if now != shape => {
                    differences.push(format!("column {name} was {shape}, is {now}"))
                }
                Some(_) => {}
            }
        }
        for (name, _) in &live_columns {
            if !saved_columns
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                differences.push(format!("column {name} only today"));
            }
        }
        if differences.is_empty() && body(&live.1) != body(&saved.1) {
            differences.push(format!(
                "constraints differ: the backup has `{}`, today `{}`",
                collapse(&saved.1),
                collapse(&live.1)
            ));
        }
        if !differences.is_empty() {
            return Err(Error::TableShapeDiffers {
                table: live.0,
                backup: self.source.clone(),
                differences: differences.join("; "),
            });
        }
        Ok(live.0)
    }

    /// (name, CREATE TABLE sql) of a table in `schema`, by SQLite's case-insensitive name.
    fn definition(&self, schema: &str, table: &str) -> Result<Option<(String, String)>> {
        let sql = format!(
            "SELECT name, sql FROM {schema}.sqlite_schema
             WHERE type = 'table' AND name = ?1 COLLATE NOCASE"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([table])?;
        Ok(match rows.next()? {
            Some(row) => Some((row.get(0)?, row.get(1)?)),
            None => None,
        })
    }

    /// Each column as (name, `type NOT NULL DEFAULT x PRIMARY KEY`).
    fn columns(&self, schema: &str, table: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, type, \"notnull\", dflt_value, pk, hidden
             FROM pragma_table_xinfo(?1, ?2) ORDER BY cid",
        )?;
        let rows = stmt.query_map([table, schema], |r| {
            let name: String = r.get(0)?;
            let mut shape: String = r.get::<_, String>(1)?;
            if shape.is_empty() {
                shape = "(no type)".into();
            }
            if r.get::<_, bool>(2)? {
                shape.push_str(" NOT NULL");
            }
            if let Some(default) = r.get::<_, Option<String>>(3)? {
                shape.push_str(&format!(" DEFAULT {default}"));
            }
            if r.get::<_, i64>(4)? > 0 {
                shape.push_str(" PRIMARY KEY");
            }
            if r.get::<_, i64>(5)? > 1 {
                shape.push_str(" GENERATED");
            }
            Ok((name, shape))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        if let Err(e) = self
            .conn
            .execute_batch(&format!("DETACH DATABASE {ATTACHED}"))
        {
            log::warn!("cannot detach the backup after restoring a table: {e}");
        }
    }
}

/// The definition after `CREATE TABLE name`, whitespace collapsed: a rename changes the name's
/// quoting, not the shape.
fn body(sql: &str) -> String {
    collapse(sql.find('(').map_or(sql, |at| &sql[at..]))
}

fn collapse(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
