//! Replacing the content of the live database with that of an attached backup, inside the
//! caller's write transaction: schema text copied exactly from the backup's `sqlite_schema`,
//! every row (rowids kept), `sqlite_sequence`, `sqlite_stat1`, `user_version` and
//! `application_id`.
//!
//! Why not the backup API: it cannot write into a connection that holds a transaction
//! (`sqlite3_backup_init` fails), so the safety copy and the restore would need two
//! transactions, and a commit by another process could land between them and be lost. Done
//! logically, the safety copy (taken from a second connection while this one holds
//! `BEGIN IMMEDIATE`) and the restore are one write transaction: no commit can come between.
//! The live file keeps its own journal mode, page size and encoding.
//!
//! The caller switched `foreign_keys` off in autocommit mode first: inside a transaction the
//! pragma is ignored, and `DROP TABLE` of a parent would then check or cascade.

use rusqlite::Connection;

/// Where the backup is attached for the restore.
pub const SOURCE: &str = "migrate_restore_source";

/// One object of a schema, as `sqlite_schema` has it.
struct Object {
    kind: String,
    name: String,
    sql: Option<String>,
}

/// Makes `main` hold exactly what the attached schema [`SOURCE`] holds. Runs inside the
/// caller's transaction; on error the caller rolls back and nothing has changed.
pub fn replace_main(conn: &Connection) -> rusqlite::Result<()> {
    drop_everything(conn)?;
    let objects = objects(conn, SOURCE)?;
    let shadow = tables_of_type(conn, SOURCE, "shadow")?;
    // Tables first (a virtual table creates its own shadow tables), then rows, then indexes,
    // views and triggers: no trigger fires during the copy and each index is built once.
    for o in objects.iter().filter(|o| o.kind == "table") {
        if is_internal(&o.name) || shadow.contains(&o.name) {
            continue;
        }
        if let Some(sql) = &o.sql {
            conn.execute_batch(sql)?;
        }
    }
    copy_rows(conn, &shadow)?;
    for kind in ["index", "view", "trigger"] {
        for o in objects.iter().filter(|o| o.kind == kind) {
            // Indexes without SQL are a table's own (UNIQUE, PRIMARY KEY): already there.
            if let Some(sql) = &o.sql {
                conn.execute_batch(sql)?;
            }
        }
    }
    copy_internal_tables(conn)?;
    for pragma in ["user_version", "application_id"] {
        let value: i64 = conn.query_row(&format!("PRAGMA {SOURCE}.{pragma}"), [], |r| r.get(0))?;
        conn.execute_batch(&format!("PRAGMA main.{pragma} = {value}"))?;
    }
    Ok(())
}

/// Drops every trigger, view and table of `main` (their indexes go with them), and empties
/// the internal tables that cannot be dropped.
fn drop_everything(conn: &Connection) -> rusqlite::Result<()> {
    for o in objects(conn, "main")? {
        let what = match o.kind.as_str() {
            "trigger" => "TRIGGER",
            "view" => "VIEW",
            _ => continue,
        };
        conn.execute_batch(&format!("DROP {what} IF EXISTS main.{}", quote(&o.name)))?;
    }
    // A virtual table drops its shadow tables itself.
    for name in tables_of_type(conn, "main", "virtual")? {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS main.{}", quote(&name)))?;
    }
    for name in tables_of_type(conn, "main", "table")? {
        if name == "sqlite_sequence" {
            conn.execute_batch("DELETE FROM main.sqlite_sequence")?;
        } else if !is_internal(&name) || name.starts_with("sqlite_stat") {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS main.{}", quote(&name)))?;
        } else {
            conn.execute_batch(&format!("DELETE FROM main.{}", quote(&name)))?;
        }
    }
    Ok(())
}

/// Copies the rows of every ordinary and shadow table (shadow tables were filled by their
/// virtual table's constructor: emptied first).
fn copy_rows(conn: &Connection, shadow: &[String]) -> rusqlite::Result<()> {
    for name in tables_of_type(conn, SOURCE, "table")?
        .into_iter()
        .chain(shadow.iter().cloned())
    {
        if is_internal(&name) {
            continue;
        }
        if shadow.contains(&name) {
            conn.execute_batch(&format!("DELETE FROM main.{}", quote(&name)))?;
        }
        copy_table(conn, &name)?;
    }
    Ok(())
}

/// `sqlite_sequence` (after the rows: inserting rows moves it) and the statistics tables.
fn copy_internal_tables(conn: &Connection) -> rusqlite::Result<()> {
    let source = tables_of_type(conn, SOURCE, "table")?;
    if source.iter().any(|n| n == "sqlite_sequence") {
        conn.execute_batch("DELETE FROM main.sqlite_sequence")?;
        copy_table(conn, "sqlite_sequence")?;
    }
    const STATS: [&str; 2] = ["sqlite_stat1", "sqlite_stat4"];
    if !STATS.iter().any(|stat| source.iter().any(|n| n == stat)) {
        return Ok(());
    }
    // They cannot be created by name; ANALYZE of the schema table creates them (the ones this
    // build of SQLite knows), then they get exactly the backup's rows.
    conn.execute_batch("ANALYZE main.sqlite_schema")?;
    let live = tables_of_type(conn, "main", "table")?;
    for stat in STATS
        .into_iter()
        .filter(|stat| live.iter().any(|n| n == stat))
    {
        if source.iter().any(|n| n == stat) {
            conn.execute_batch(&format!("DELETE FROM main.{stat}"))?;
            copy_table(conn, stat)?;
        } else {
            conn.execute_batch(&format!("DROP TABLE main.{stat}"))?;
        }
    }
    for stat in STATS
        .into_iter()
        .filter(|stat| !live.iter().any(|n| n == stat))
    {
        if source.iter().any(|n| n == stat) {
            log::warn!("{stat} of the backup is not restored (this SQLite has no such table)");
        }
    }
    Ok(())
}

/// `INSERT INTO main.t (rowid, columns) SELECT rowid, columns FROM source.t`: every column a
/// row stores (generated columns are computed again), and the rowid where the table has one.
fn copy_table(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    let mut columns = Vec::new();
    let mut any_hidden = false;
    let mut stmt = conn.prepare(&format!("PRAGMA {SOURCE}.table_xinfo({})", quote(name)))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let column: String = row.get("name")?;
        let hidden: i64 = row.get("hidden")?;
        if hidden == 0 {
            columns.push(column);
        } else {
            any_hidden = true;
        }
    }
    let table = quote(name);
    let rowid = has_rowid(conn, name)?;
    if !any_hidden && (!rowid || has_integer_primary_key(conn, name)?) {
        // Every value, the rowid included, is a column here: `SELECT *` keeps them all, and
        // lets SQLite copy the records as they are (its transfer optimization) instead of
        // decoding and encoding each row (3-4 times faster on a large table).
        return conn.execute_batch(&format!(
            "INSERT INTO main.{table} SELECT * FROM {SOURCE}.{table}"
        ));
    }
    if rowid {
        // The first alias no column has taken names the rowid itself.
        if let Some(alias) = ["_rowid_", "rowid", "oid"]
            .into_iter()
            .find(|a| !columns.iter().any(|c| c.eq_ignore_ascii_case(a)))
        {
            columns.insert(0, alias.to_owned());
        }
    }
    let list = columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    conn.execute_batch(&format!(
        "INSERT INTO main.{table} ({list}) SELECT {list} FROM {SOURCE}.{table}"
    ))
}

fn has_rowid(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    let without_rowid: i64 = conn.query_row(
        "SELECT wr FROM pragma_table_list WHERE schema = ?1 AND name = ?2",
        [SOURCE, name],
        |r| r.get(0),
    )?;
    Ok(without_rowid == 0)
}

/// Whether the rowid table `name` of the backup has an INTEGER PRIMARY KEY, i.e. a column that
/// is its rowid: one primary key column and no index made for it (a primary key that is not
/// the rowid, `INTEGER PRIMARY KEY DESC` included, gets an index of origin `pk`).
fn has_integer_primary_key(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM pragma_table_info(?1, ?2) WHERE pk > 0) = 1
            AND NOT EXISTS (SELECT 1 FROM pragma_index_list(?1, ?2) WHERE origin = 'pk')",
        [name, SOURCE],
        |r| r.get(0),
    )
}

/// The objects of `schema` in the order they were created.
fn objects(conn: &Connection, schema: &str) -> rusqlite::Result<Vec<Object>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT type, name, sql FROM {}.sqlite_schema ORDER BY rowid",
        quote(schema)
    ))?;
    stmt.query_map([], |r| {
        Ok(Object {
            kind: r.get(0)?,
            name: r.get(1)?,
            sql: r.get(2)?,
        })
    })?
    .collect()
}

/// The tables of `schema` whose `PRAGMA table_list` type is `kind` (`table`, `virtual`,
/// `shadow`), schema tables left out.
fn tables_of_type(conn: &Connection, schema: &str, kind: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM pragma_table_list WHERE schema = ?1 AND type = ?2
         AND name NOT IN ('sqlite_schema', 'sqlite_master', 'sqlite_temp_schema',
                          'sqlite_temp_master')
         ORDER BY name",
    )?;
    stmt.query_map([schema, kind], |r| r.get(0))?.collect()
}

/// SQLite's own tables (`sqlite_sequence`, `sqlite_stat1`, ...): never created by name.
fn is_internal(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("sqlite_"))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
