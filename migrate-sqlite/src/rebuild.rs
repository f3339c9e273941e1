//! The safe table rebuild: SQLite's 12-step procedure for changing a table's definition
//! (<https://sqlite.org/lang_altertable.html#otheralter>), done the one way that keeps child rows,
//! indexes, triggers and views intact.
//!
//! The order is the documented one — create the new table under a temporary name, copy, drop the
//! old table, rename the new one — never "rename the old table first", which silently rewrites
//! the foreign keys of child tables to point at the doomed copy. The rename runs with
//! `PRAGMA legacy_alter_table = ON` (put back as it was right after), so views, and triggers on
//! other tables, that name the table are neither rewritten nor refused: they stay as written and
//! resolve to the new table. The table's own indexes and triggers go with `DROP TABLE` and are
//! recreated from their stored SQL; views that mention the table are compiled against the new
//! definition to prove they still work. All of it runs in a savepoint of its own: a failure
//! leaves the database as it was before the call.
//!
//! It refuses to run while `foreign_keys` is ON: `PRAGMA foreign_keys = OFF` is a silent no-op
//! inside a transaction, and with enforcement on, `DROP TABLE` of a parent cascade-deletes (or
//! nulls) every child row. The runner switches enforcement off before its transaction begins.

use crate::tx::quote_ident;
use crate::{Error, Result, Tx};
use rusqlite::{Connection, OptionalExtension};

/// The rebuild's own savepoint (distinct from the runner's).
const SAVEPOINT: &str = "migrate_rebuild";

/// Prefix of the temporary name the new table is created under.
const TEMP_PREFIX: &str = "_migrate_rebuild_";

/// A table rebuild: a new definition for an existing table, and how to copy its rows.
///
/// By default every column the old and the new table have in common (by name) is copied;
/// columns only in the new table get their `DEFAULT`. [`column`](Rebuild::column) gives one
/// column an SQL expression over the old row instead, [`copy_select`](Rebuild::copy_select)
/// replaces the copy altogether. The table's indexes and triggers are recreated from their
/// stored SQL; views and other tables' triggers that name it are left as written and resolve to
/// the new table (views are checked to still compile). Drop the ones the new definition would
/// break before the rebuild, and create their replacements after it.
///
/// A rebuild that keeps every row and every column's values needs no declaration: the runner
/// sees the table recreated under its name. One that drops a column holding values removes
/// data and must be declared `destructive`. (`rebuild`, or
/// [`Flags::with_rebuilds_tables`](crate::Flags::with_rebuilds_tables) for a hand-built list, is
/// needed only with the row-count guard off, where it allows the drop of the old table.)
///
/// Run it with [`Rebuild::run`] (or [`Tx::rebuild_table`] for the default copy) inside a
/// migration. It checks that the new table has as many rows as the old one and that
/// `PRAGMA foreign_key_check` is clean for the table and the tables that reference it; on any
/// failure it rolls its own work back and returns [`Error::Rebuild`].
///
/// ```
/// use migrate_sqlite::{Flags, Migration, Migrator, Rebuild, Step};
/// # fn main() -> migrate_sqlite::Result<()> {
/// let list = vec![
///     Migration::new(1, "users", Step::sql(
///         "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER, legacy TEXT);
///          INSERT INTO users (name, age) VALUES ('ada', 36), ('bob', NULL);",
///     )),
///     // Drop `legacy`, make `age` NOT NULL with a default.
///     Migration::new(2, "rebuild_users", Step::new(|tx| {
///         Rebuild::new("users")
///             .definition(
///                 "CREATE TABLE users (
///                      id INTEGER PRIMARY KEY, name TEXT, age INTEGER NOT NULL DEFAULT 0)",
///             )
///             .column("age", "coalesce(age, 0)")
///             .run(tx)?;
///         Ok(())
///     }))
///     .with_flags(Flags::NONE.with_rebuilds_tables(true)),
/// ];
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// Migrator::new().with_migrations(list).on(&mut conn)?.up()?;
/// let ages: i64 = conn.query_row("SELECT sum(age) FROM users", [], |r| r.get(0))?;
/// assert_eq!(ages, 36);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Rebuild {
    table: String,
    definition: Option<String>,
    columns: Vec<(String, String)>,
    select: Option<String>,
}

impl Rebuild {
    /// A rebuild of `table` (give it a [`definition`](Rebuild::definition) before running).
    ///
    /// ```
    /// let rebuild = migrate_sqlite::Rebuild::new("users");
    /// # let _ = rebuild;
    /// ```
    pub fn new(table: impl Into<String>) -> Self {
        Rebuild {
            table: table.into(),
            definition: None,
            columns: Vec::new(),
            select: None,
        }
    }

    /// The table's new definition: a complete `CREATE TABLE <table> (...)` statement naming
    /// the table itself (the rebuild creates it under a temporary name and renames it).
    ///
    /// ```
    /// let rebuild = migrate_sqlite::Rebuild::new("users")
    ///     .definition("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    /// # let _ = rebuild;
    /// ```
    pub fn definition(mut self, create_table_sql: impl Into<String>) -> Self {
        self.definition = Some(create_table_sql.into());
        self
    }

    /// Fills column `name` of the new table with `expression`, SQL evaluated over each row of
    /// the old table (e.g. `"coalesce(age, 0)"`, `"CAST(price AS INTEGER)"`). The other
    /// common columns are still copied as they are.
    ///
    /// ```
    /// let rebuild = migrate_sqlite::Rebuild::new("users")
    ///     .definition("CREATE TABLE users (id INTEGER PRIMARY KEY, age INTEGER NOT NULL)")
    ///     .column("age", "coalesce(age, 0)");
    /// # let _ = rebuild;
    /// ```
    pub fn column(mut self, name: impl Into<String>, expression: impl Into<String>) -> Self {
        self.columns.push((name.into(), expression.into()));
        self
    }

    /// Copies the rows with this `SELECT` instead: its result columns fill the new table's
    /// columns in order (`INSERT INTO new SELECT ...`). It must still produce one row per old
    /// row, or the rebuild fails.
    ///
    /// ```
    /// let rebuild = migrate_sqlite::Rebuild::new("prices")
    ///     .definition("CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL)")
    ///     .copy_select("SELECT id, CAST(round(amount * 100) AS INTEGER) FROM prices");
    /// # let _ = rebuild;
    /// ```
    pub fn copy_select(mut self, select: impl Into<String>) -> Self {
        self.select = Some(select.into());
        self
    }

    /// Runs the rebuild on the migration's connection and returns the number of rows copied.
    /// Must run with foreign key enforcement off, as every migration run by the
    /// [`Migrator`](crate::Migrator) does.
    ///
    /// ```
    /// use migrate_sqlite::{migration, Rebuild, Result, Tx};
    ///
    /// #[migration(seq = 7, set = "rebuild_run_doc", rebuild)]
    /// fn drop_legacy_column(tx: &Tx) -> Result<()> {
    ///     Rebuild::new("users")
    ///         .definition("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    ///         .run(tx)?;
    ///     Ok(())
    /// }
    /// ```
    pub fn run(&self, tx: &Tx) -> Result<u64> {
        let conn: &Connection = tx;
        let fail = |step: &str, sql: Option<&str>, detail: String| Error::Rebuild {
            table: self.table.clone(),
            step: step.to_owned(),
            sql: sql.map(str::to_owned),
            detail,
        };
        let foreign_keys: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .map_err(|e| fail("reading PRAGMA foreign_keys", None, e.to_string()))?;
        if foreign_keys != 0 {
            return Err(fail(
                "checking that foreign keys are off",
                None,
                "foreign_keys is ON on this connection, so DROP TABLE would cascade to the rows \
                 of child tables (and PRAGMA foreign_keys = OFF is ignored inside a \
                 transaction). Run the rebuild inside a migration applied by the Migrator, \
                 which switches enforcement off before its transaction begins"
                    .to_owned(),
            ));
        }
        let Some(definition) = &self.definition else {
            return Err(fail(
                "checking the rebuild",
                None,
                "no new definition was given (Rebuild::definition)".to_owned(),
            ));
        };
        let temp = format!("{TEMP_PREFIX}{}", self.table);
        let create_new = rename_in_create(definition, &self.table, &temp)
            .map_err(|detail| fail("reading the new definition", Some(definition), detail))?;
        let plan = Plan::read(conn, &self.table, &temp)?;

        conn.execute_batch(&format!("SAVEPOINT {SAVEPOINT}"))
            .map_err(|e| fail("opening the rebuild's savepoint", None, e.to_string()))?;
        match self.steps(conn, &plan, &temp, &create_new) {
            Ok(rows) => {
                conn.execute_batch(&format!("RELEASE {SAVEPOINT}"))
                    .map_err(|e| fail("releasing the rebuild's savepoint", None, e.to_string()))?;
                log::info!("rebuilt table {:?} ({rows} rows)", self.table);
                Ok(rows)
            }
            Err(error) => {
                if let Err(e) =
                    conn.execute_batch(&format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}"))
                {
                    log::error!("cannot roll back the rebuild of {:?}: {e}", self.table);
                }
                Err(error)
            }
        }
    }

    /// Steps 4 to 10 of the procedure, inside the savepoint.
    fn steps(&self, conn: &Connection, plan: &Plan, temp: &str, create_new: &str) -> Result<u64> {
        let table = &self.table;
        let exec = |step: &str, sql: &str| {
            conn.execute_batch(sql).map_err(|e| Error::Rebuild {
                table: table.clone(),
                step: step.to_owned(),
                sql: Some(sql.to_owned()),
                detail: e.to_string(),
            })
        };
        let fail = |step: &str, sql: Option<&str>, detail: String| Error::Rebuild {
            table: table.clone(),
            step: step.to_owned(),
            sql: sql.map(str::to_owned),
            detail,
        };

        exec("creating the new table", create_new)?;
        let copy = self.copy_sql(conn, plan, temp)?;
        let copied = conn
            .execute(&copy, [])
            .map_err(|e| fail("copying the rows", Some(&copy), e.to_string()))?
            as u64;
        let old_rows = count(conn, table)
            .map_err(|e| fail("counting the old table's rows", None, e.to_string()))?;
        let new_rows = count(conn, temp)
            .map_err(|e| fail("counting the new table's rows", None, e.to_string()))?;
        if new_rows != old_rows || copied != old_rows {
            return Err(fail(
                "checking the row count",
                Some(&copy),
                format!(
                    "the copy put {new_rows} row(s) into the new table but {table:?} has \
                     {old_rows}; nothing was changed. Make the copy produce exactly one row per \
                     old row (delete unwanted rows before the rebuild, in the same migration)"
                ),
            ));
        }

        exec(
            "dropping the old table",
            &format!("DROP TABLE {}", quote_ident(table)),
        )?;
        let legacy: i64 = conn
            .query_row("PRAGMA legacy_alter_table", [], |r| r.get(0))
            .map_err(|e| fail("reading PRAGMA legacy_alter_table", None, e.to_string()))?;
        exec(
            "renaming the new table",
            &format!(
                "PRAGMA legacy_alter_table = ON; ALTER TABLE {} RENAME TO {}; \
                 PRAGMA legacy_alter_table = {};",
                quote_ident(temp),
                quote_ident(table),
                if legacy != 0 { "ON" } else { "OFF" }
            ),
        )?;
        if let Some(seq) = plan.sequence {
            exec(
                "restoring the AUTOINCREMENT counter",
                &format!(
                    "UPDATE sqlite_sequence SET seq = max(seq, {seq}) WHERE name = {}",
                    quote_literal(table)
                ),
            )?;
        }
        for (name, kind, sql) in &plan.own {
            exec(&format!("recreating {kind} {name:?}"), sql)?;
        }
        for name in &plan.views {
            let sql = format!("SELECT * FROM {} LIMIT 0", quote_ident(name));
            conn.prepare(&sql).map_err(|e| {
                fail(
                    &format!("checking view {name:?} against the new definition"),
                    Some(&sql),
                    format!("{e}; drop the view before the rebuild and create a new one after it"),
                )
            })?;
        }
        self.check_foreign_keys(conn)?;
        Ok(new_rows)
    }

    /// The `INSERT INTO temp ... SELECT ... FROM table` of the copy.
    fn copy_sql(&self, conn: &Connection, plan: &Plan, temp: &str) -> Result<String> {
        let from = quote_ident(&self.table);
        if let Some(select) = &self.select {
            return Ok(format!("INSERT INTO {} {select}", quote_ident(temp)));
        }
        let fail = |detail: String| Error::Rebuild {
            table: self.table.clone(),
            step: "choosing the columns to copy".to_owned(),
            sql: None,
            detail,
        };
        let new_columns = stored_columns(conn, temp).map_err(|e| fail(e.to_string()))?;
        for (name, _) in &self.columns {
            if !new_columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                return Err(fail(format!(
                    "Rebuild::column names {name:?}, which the new definition does not have \
                     (or which is generated)"
                )));
            }
        }
        let (mut targets, mut values) = (Vec::new(), Vec::new());
        for column in &new_columns {
            let mapped = self
                .columns
                .iter()
                .rev()
                .find(|(name, _)| name.eq_ignore_ascii_case(column));
            let value = match mapped {
                Some((_, expression)) => expression.clone(),
                None if plan
                    .old_columns
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(column)) =>
                {
                    quote_ident(column)
                }
                None => continue,
            };
            targets.push(quote_ident(column));
            values.push(value);
        }
        if targets.is_empty() {
            return Err(fail(
                "the old and the new table have no column in common; say what to copy with \
                 Rebuild::column or Rebuild::copy_select"
                    .to_owned(),
            ));
        }
        Ok(format!(
            "INSERT INTO {} ({}) SELECT {} FROM {from}",
            quote_ident(temp),
            targets.join(", "),
            values.join(", ")
        ))
    }

    /// `PRAGMA foreign_key_check` of the table and of every table that references it.
    fn check_foreign_keys(&self, conn: &Connection) -> Result<()> {
        let fail = |detail: String| Error::Rebuild {
            table: self.table.clone(),
            step: "PRAGMA foreign_key_check".to_owned(),
            sql: None,
            detail,
        };
        let mut tables = vec![self.table.clone()];
        tables.extend(referencing_tables(conn, &self.table).map_err(|e| fail(e.to_string()))?);
        let mut found = Vec::new();
        for table in &tables {
            let mut stmt = conn
                .prepare(&format!("PRAGMA foreign_key_check({})", quote_ident(table)))
                .map_err(|e| fail(e.to_string()))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(crate::FkViolation {
                        table: r.get(0)?,
                        rowid: r.get(1)?,
                        parent: r.get(2)?,
                    })
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| fail(e.to_string()))?;
            found.extend(rows);
        }
        if found.is_empty() {
            return Ok(());
        }
        Err(fail(format!(
            "{} foreign key violation(s) after the rebuild: {}{}",
            found.len(),
            found
                .iter()
                .take(10)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if found.len() > 10 { ", ..." } else { "" }
        )))
    }
}

impl Tx<'_> {
    /// Rebuilds `table` with a new `CREATE TABLE` definition, copying every column the old and
    /// new definitions share (see [`Rebuild`] for expressions and custom copies). Returns the
    /// number of rows copied.
    ///
    /// ```
    /// use migrate_sqlite::{migration, Result, Tx};
    ///
    /// #[migration(seq = 3, set = "rebuild_table_doc", rebuild)]
    /// fn make_name_required(tx: &Tx) -> Result<()> {
    ///     tx.execute("UPDATE users SET name = '' WHERE name IS NULL", [])?;
    ///     tx.rebuild_table(
    ///         "users",
    ///         "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    ///     )?;
    ///     Ok(())
    /// }
    /// ```
    pub fn rebuild_table(&self, table: &str, definition: &str) -> Result<u64> {
        Rebuild::new(table).definition(definition).run(self)
    }
}

/// A schema object: (name, type, sql).
type Object = (String, String, String);

/// What the schema says before anything changes.
struct Plan {
    /// The old table's stored (non-generated) columns.
    old_columns: Vec<String>,
    /// The table's own indexes and triggers: (name, kind, sql), in creation order.
    own: Vec<Object>,
    /// Views whose SQL mentions the table, checked against the new definition afterwards.
    views: Vec<String>,
    /// The old `sqlite_sequence` value, for an AUTOINCREMENT table.
    sequence: Option<i64>,
}

impl Plan {
    fn read(conn: &Connection, table: &str, temp: &str) -> Result<Plan> {
        let fail = |detail: String| Error::Rebuild {
            table: table.to_owned(),
            step: "reading the schema".to_owned(),
            sql: None,
            detail,
        };
        let sql_error = |e: rusqlite::Error| fail(e.to_string());
        let old: Option<String> = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_error)?;
        match old {
            None => return Err(fail(format!("there is no table named {table:?}"))),
            Some(sql)
                if sql
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("CREATE VIRTUAL") =>
            {
                return Err(fail("a virtual table cannot be rebuilt".to_owned()));
            }
            Some(_) if table.to_ascii_lowercase().starts_with("sqlite_") => {
                return Err(fail("SQLite's own tables cannot be rebuilt".to_owned()));
            }
            Some(_) => {}
        }
        let taken: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = ?1)",
                [temp],
                |r| r.get(0),
            )
            .map_err(sql_error)?;
        if taken {
            return Err(fail(format!(
                "the temporary name {temp:?} is taken by an existing object; drop it first"
            )));
        }
        let objects = |sql: &str, params: &[&str]| -> rusqlite::Result<Vec<Object>> {
            let mut stmt = conn.prepare(sql)?;
            stmt.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        };
        let own = objects(
            "SELECT name, type, sql FROM sqlite_schema
             WHERE tbl_name = ?1 COLLATE NOCASE AND type IN ('index', 'trigger')
               AND sql IS NOT NULL
             ORDER BY rowid",
            &[table],
        )
        .map_err(sql_error)?;
        // A textual match: every real reference contains the name, and a false positive only
        // costs a check.
        let views = objects(
            "SELECT name, type, sql FROM sqlite_schema
             WHERE type = 'view' AND sql LIKE ?1 ESCAPE '\\'
             ORDER BY rowid",
            &[&format!("%{}%", like_escape(table))],
        )
        .map_err(sql_error)?
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
        let old_columns = stored_columns(conn, table).map_err(sql_error)?;
        let has_sequence: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence')",
                [],
                |r| r.get(0),
            )
            .map_err(sql_error)?;
        let sequence = if has_sequence {
            conn.query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_error)?
        } else {
            None
        };
        Ok(Plan {
            old_columns,
            own,
            views,
            sequence,
        })
    }
}

/// The columns of `table` a row is stored with (generated and hidden columns left out).
fn stored_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0")?;
    stmt.query_map([table], |r| r.get(0))?.collect()
}

/// Tables other than `table` whose foreign keys reference it.
fn referencing_tables(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT m.name FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
         WHERE m.type = 'table' AND f.\"table\" = ?1 COLLATE NOCASE
           AND NOT m.name = ?1 COLLATE NOCASE",
    )?;
    stmt.query_map([table], |r| r.get(0))?.collect()
}

fn count(conn: &Connection, table: &str) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(
        &format!("SELECT count(*) FROM {}", quote_ident(table)),
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `definition` (a `CREATE TABLE table ...` statement) with the table's name replaced by `temp`.
fn rename_in_create(
    definition: &str,
    table: &str,
    temp: &str,
) -> std::result::Result<String, String> {
    let mut lexer = Lexer {
        text: definition,
        at: 0,
    };
    let expected = "expected `CREATE TABLE <name> (...)`";
    if !lexer.keyword("CREATE") {
        return Err(expected.to_owned());
    }
    if lexer.keyword("TEMP") || lexer.keyword("TEMPORARY") {
        return Err("a rebuild cannot create a TEMP table".to_owned());
    }
    if !lexer.keyword("TABLE") {
        return Err(expected.to_owned());
    }
    if lexer.keyword("IF") && !(lexer.keyword("NOT") && lexer.keyword("EXISTS")) {
        return Err(expected.to_owned());
    }
    lexer.skip_space();
    let start = lexer.at;
    let mut name = lexer.identifier().ok_or(expected)?;
    let mut end = lexer.at;
    lexer.skip_space();
    if lexer.rest().starts_with('.') {
        if !name.eq_ignore_ascii_case("main") {
            return Err(format!(
                "the new definition names schema {name:?}; only `main` tables can be rebuilt"
            ));
        }
        lexer.at += 1;
        lexer.skip_space();
        name = lexer.identifier().ok_or(expected)?;
        end = lexer.at;
    }
    if !name.eq_ignore_ascii_case(table) {
        return Err(format!(
            "the new definition creates {name:?}, not {table:?}; it must name the table it \
             replaces"
        ));
    }
    Ok(format!(
        "{}{}{}",
        &definition[..start],
        quote_ident(temp),
        &definition[end..]
    ))
}

/// Just enough of SQLite's tokenizer to find a `CREATE TABLE` statement's name.
struct Lexer<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    /// Skips white space and comments.
    fn skip_space(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.at += rest.len() - trimmed.len();
            let rest = self.rest();
            if rest.starts_with("--") {
                self.at += rest.find('\n').map_or(rest.len(), |i| i + 1);
            } else if let Some(comment) = rest.strip_prefix("/*") {
                self.at += comment.find("*/").map_or(rest.len(), |i| i + 4);
            } else {
                return;
            }
        }
    }

    /// Consumes `word` (any case) if it is the next token.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        if rest[..len].eq_ignore_ascii_case(word) {
            self.at += len;
            true
        } else {
            false
        }
    }

    /// Consumes an identifier, bare or quoted (`"x"`, `` `x` ``, `[x]`, `'x'`), and returns it
    /// unquoted.
    fn identifier(&mut self) -> Option<String> {
        let rest = self.rest();
        let first = rest.chars().next()?;
        let close = match first {
            '"' => '"',
            '`' => '`',
            '\'' => '\'',
            '[' => ']',
            c if is_word_char(c) && !c.is_ascii_digit() => {
                let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
                self.at += len;
                return Some(rest[..len].to_owned());
            }
            _ => return None,
        };
        let mut name = String::new();
        let mut chars = rest.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if c == close {
                // A doubled closing quote is one quote character (not inside brackets).
                if close != ']' && chars.peek().is_some_and(|&(_, next)| next == close) {
                    chars.next();
                    name.push(c);
                    continue;
                }
                self.at += i + c.len_utf8();
                return Some(name);
            }
            name.push(c);
        }
        None
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_while_foreign_keys_are_on() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY,
                                 parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);
             INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1);",
        )
        .unwrap();
        let tx = Tx::new(&conn, 1, "rebuild_parent");
        let error = tx
            .rebuild_table(
                "parent",
                "CREATE TABLE parent (id INTEGER PRIMARY KEY, x TEXT)",
            )
            .unwrap_err();
        assert!(
            matches!(&error, Error::Rebuild { table, .. } if table == "parent"),
            "{error:?}"
        );
        assert!(error.to_string().contains("foreign_keys is ON"), "{error}");
        let children: i64 = conn
            .query_row("SELECT count(*) FROM child", [], |r| r.get(0))
            .unwrap();
        assert_eq!(children, 1);
    }

    #[test]
    fn renames_the_table_in_the_definition() {
        let cases = [
            ("CREATE TABLE users (id)", "CREATE TABLE \"_t\" (id)"),
            (
                "create table if not exists Users(id)",
                "create table if not exists \"_t\"(id)",
            ),
            ("CREATE TABLE \"users\" (id)", "CREATE TABLE \"_t\" (id)"),
            ("CREATE TABLE main.[users] (id)", "CREATE TABLE \"_t\" (id)"),
            (
                "-- new\nCREATE /* x */ TABLE `users`(id)",
                "-- new\nCREATE /* x */ TABLE \"_t\"(id)",
            ),
        ];
        for (input, output) in cases {
            assert_eq!(rename_in_create(input, "users", "_t").unwrap(), output);
        }
        let quoted = rename_in_create("CREATE TABLE \"a\"\"b\" (id)", "a\"b", "_t").unwrap();
        assert_eq!(quoted, "CREATE TABLE \"_t\" (id)");
        for bad in [
            "CREATE TABLE other (id)",
            "CREATE TEMP TABLE users (id)",
            "CREATE INDEX users ON x (id)",
            "CREATE TABLE aux.users (id)",
            "users (id)",
        ] {
            assert!(rename_in_create(bad, "users", "_t").is_err(), "{bad}");
        }
    }
}
