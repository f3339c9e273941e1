//! From two schemas to the steps of a migration: `CREATE` for what is new, `ALTER TABLE ...
//! ADD/RENAME COLUMN` where SQLite can change a table in place, a [`Rebuild`](crate::Rebuild)
//! where it cannot, `DROP` for what is gone; the reverse steps when nothing is lost. Every
//! in-place change is tried on the migrated schema first (in a savepoint) and kept only if it
//! yields exactly the desired table; the whole result is checked the same way.

use super::schema::{Object, Objects, canonical, column_definitions, objects};
use crate::tx::quote_ident;
use crate::{Error, Rebuild, Result, Tx};
use rusqlite::Connection;
use std::collections::BTreeSet;

/// One step of a generated migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// SQL run as a batch.
    Sql(String),
    /// A table rebuilt to this definition.
    Rebuild {
        /// The table.
        table: String,
        /// Its new `CREATE TABLE`.
        definition: String,
    },
}

/// What the migration must do, and how it must declare itself.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// The forward steps.
    pub up: Vec<Piece>,
    /// The reverse steps, when nothing the forward steps remove is lost.
    pub down: Option<Vec<Piece>>,
    /// It drops schema objects or rebuilds tables.
    pub rebuild: bool,
    /// It loses data (a table or a column goes).
    pub destructive: bool,
    /// One line per change, for the doc comment.
    pub summary: Vec<String>,
}

impl Changes {
    /// True when the schemas are already the same.
    pub fn is_empty(&self) -> bool {
        self.up.is_empty()
    }
}

/// How one changed table is brought to its new shape.
enum TableChange {
    InPlace {
        up: Vec<String>,
        down: Vec<String>,
        what: Vec<String>,
    },
    Rebuilt,
}

/// The changes that turn the schema of `current` into the schema of `desired`. `current` is
/// used as scratch (savepoints, rolled back).
pub fn between(current: &Connection, desired: &Connection) -> Result<Changes> {
    let old = objects(current)?;
    let new = objects(desired)?;
    let tables = |objects: &Objects| -> Vec<Object> {
        objects
            .values()
            .filter(|o| o.kind == "table")
            .cloned()
            .collect()
    };
    let (old_tables, new_tables) = (tables(&old), tables(&new));
    let find = |list: &[Object], name: &str| {
        list.iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .cloned()
    };

    let mut changes = Changes::default();
    let mut created = Vec::new();
    let mut dropped = Vec::new();
    let mut in_place = Vec::new();
    let mut rebuilt = Vec::new();
    // A virtual table cannot be altered or rebuilt: it is dropped and created again.
    let mut recreated: Vec<Object> = Vec::new();
    current.execute_batch("PRAGMA foreign_keys = OFF; SAVEPOINT generate_probe")?;
    let decided = (|| -> Result<()> {
        for table in &new_tables {
            match find(&old_tables, &table.name) {
                None => created.push(table.clone()),
                Some(before) if canonical(&before.sql) == canonical(&table.sql) => {}
                Some(before) if is_virtual(&before) || is_virtual(table) => {
                    recreated.push(table.clone())
                }
                Some(before) => match change_table(current, &before, table)? {
                    TableChange::InPlace { up, down, what } => {
                        changes.summary.extend(what);
                        in_place.push((table.clone(), up, down));
                    }
                    TableChange::Rebuilt => rebuilt.push((before, table.clone())),
                },
            }
        }
        for table in &old_tables {
            if find(&new_tables, &table.name).is_none() {
                dropped.push(table.clone());
            }
        }
        Ok(())
    })();
    // The probes stay applied: the other objects are compared with the tables as altered.
    let after_alters = decided.and_then(|()| objects(current));
    current.execute_batch("ROLLBACK TO generate_probe; RELEASE generate_probe")?;
    let after_alters = after_alters?;

    let touched: BTreeSet<String> = rebuilt
        .iter()
        .map(|(t, _)| t.name.to_lowercase())
        .chain(dropped.iter().map(|t| t.name.to_lowercase()))
        .chain(recreated.iter().map(|t| t.name.to_lowercase()))
        .collect();
    let others = |objects: &Objects| -> Vec<Object> {
        let mut list: Vec<Object> = objects
            .values()
            .filter(|o| o.kind != "table")
            .cloned()
            .collect();
        // Triggers and views before indexes when dropping; created in the reverse order.
        list.sort_by_key(|o| (kind_rank(&o.kind), o.name.to_lowercase()));
        list
    };
    let to_drop: Vec<Object> = others(&after_alters)
        .into_iter()
        .filter(|o| {
            let key = (o.kind.clone(), o.name.to_lowercase());
            touched.contains(&o.table.to_lowercase())
                || new
                    .get(&key)
                    .is_none_or(|n| canonical(&n.sql) != canonical(&o.sql))
        })
        .collect();
    let mut to_create: Vec<Object> = others(&new)
        .into_iter()
        .filter(|o| {
            let key = (o.kind.clone(), o.name.to_lowercase());
            touched.contains(&o.table.to_lowercase())
                || after_alters
                    .get(&key)
                    .is_none_or(|s| canonical(&s.sql) != canonical(&o.sql))
        })
        .collect();
    to_create.reverse();
    let old_versions: Vec<Object> = to_drop
        .iter()
        .filter_map(|o| old.get(&(o.kind.clone(), o.name.to_lowercase())).cloned())
        .collect();

    let mut up: Vec<Piece> = Vec::new();
    let mut down: Vec<Piece> = Vec::new();
    for o in &to_drop {
        up.push(Piece::Sql(format!(
            "DROP {} {};",
            o.kind.to_uppercase(),
            quote_ident(&o.name)
        )));
        changes.summary.push(format!("drops {} {}", o.kind, o.name));
        changes.rebuild = true;
    }
    for t in &recreated {
        up.push(Piece::Sql(format!(
            "DROP TABLE {};\n{};",
            quote_ident(&t.name),
            t.sql
        )));
        changes.rebuild = true;
        changes.destructive = true;
        changes.summary.push(format!(
            "drops and creates again virtual table {} (its rows are lost)",
            t.name
        ));
    }
    for t in &created {
        up.push(Piece::Sql(format!("{};", t.sql)));
        changes.summary.push(format!("creates table {}", t.name));
    }
    for (_, alters, _) in &in_place {
        for alter in alters {
            up.push(Piece::Sql(alter.clone()));
        }
    }
    for (before, after) in &rebuilt {
        up.push(Piece::Rebuild {
            table: after.name.clone(),
            definition: after.sql.clone(),
        });
        changes.rebuild = true;
        let kept: Vec<String> = column_definitions(&after.sql)
            .into_iter()
            .map(|c| c.0)
            .collect();
        let lost: Vec<String> = column_definitions(&before.sql)
            .into_iter()
            .map(|c| c.0)
            .filter(|c| !kept.contains(c))
            .collect();
        if lost.is_empty() {
            changes
                .summary
                .push(format!("rebuilds table {}", after.name));
        } else {
            changes.destructive = true;
            changes.summary.push(format!(
                "rebuilds table {} without column(s) {} (their data is lost)",
                after.name,
                lost.join(", ")
            ));
        }
    }
    for t in &dropped {
        up.push(Piece::Sql(format!("DROP TABLE {};", quote_ident(&t.name))));
        changes.rebuild = true;
        changes.destructive = true;
        changes
            .summary
            .push(format!("drops table {} (its rows are lost)", t.name));
    }
    for o in &to_create {
        up.push(Piece::Sql(format!("{};", o.sql)));
        changes
            .summary
            .push(format!("creates {} {}", o.kind, o.name));
    }

    // The reverse, in the opposite order.
    for o in to_create.iter().rev() {
        down.push(Piece::Sql(format!(
            "DROP {} {};",
            o.kind.to_uppercase(),
            quote_ident(&o.name)
        )));
    }
    for (before, _) in rebuilt.iter().rev() {
        down.push(Piece::Rebuild {
            table: before.name.clone(),
            definition: before.sql.clone(),
        });
    }
    for (_, _, reverse) in in_place.iter().rev() {
        for alter in reverse.iter().rev() {
            down.push(Piece::Sql(alter.clone()));
        }
    }
    for t in created.iter().rev() {
        down.push(Piece::Sql(format!("DROP TABLE {};", quote_ident(&t.name))));
    }
    for o in old_versions.iter().rev() {
        down.push(Piece::Sql(format!("{};", o.sql)));
    }
    changes.up = merge(up);
    changes.down = (!changes.destructive).then(|| merge(down));
    check(current, &changes, &old, &new)?;
    Ok(changes)
}

fn is_virtual(table: &Object) -> bool {
    canonical(&table.sql).starts_with("create virtual table")
}

fn kind_rank(kind: &str) -> u8 {
    match kind {
        "trigger" => 0,
        "view" => 1,
        _ => 2,
    }
}

/// Consecutive SQL pieces as one batch.
fn merge(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut merged: Vec<Piece> = Vec::new();
    for piece in pieces {
        match (merged.last_mut(), piece) {
            (Some(Piece::Sql(text)), Piece::Sql(more)) => {
                text.push('\n');
                text.push_str(&more);
            }
            (_, piece) => merged.push(piece),
        }
    }
    merged
}

/// ADD or RENAME COLUMN when that yields exactly the new table, else a rebuild. Leaves the
/// in-place change applied on `conn` (inside the caller's savepoint).
fn change_table(conn: &Connection, before: &Object, after: &Object) -> Result<TableChange> {
    let old_columns = column_definitions(&before.sql);
    let new_columns = column_definitions(&after.sql);
    let table = quote_ident(&before.name);
    let mut up = Vec::new();
    let mut down = Vec::new();
    let mut what = Vec::new();
    if new_columns.len() > old_columns.len()
        && old_columns
            .iter()
            .zip(&new_columns)
            .all(|(a, b)| a.0 == b.0)
    {
        for (name, definition) in &new_columns[old_columns.len()..] {
            up.push(format!("ALTER TABLE {table} ADD COLUMN {definition};"));
            down.push(format!(
                "ALTER TABLE {table} DROP COLUMN {};",
                quote_ident(name)
            ));
            what.push(format!("adds column {name} to table {}", after.name));
        }
    } else if new_columns.len() == old_columns.len() {
        for ((old_name, old_def), (new_name, new_def)) in old_columns.iter().zip(&new_columns) {
            if old_name == new_name {
                continue;
            }
            // Only a rename if the rest of the definition is the same.
            let rest = |def: &str| canonical(def.split_once(' ').map_or("", |(_, r)| r));
            if rest(old_def) != rest(new_def) {
                return Ok(TableChange::Rebuilt);
            }
            let (from, to) = (first_word(old_def), first_word(new_def));
            up.push(format!("ALTER TABLE {table} RENAME COLUMN {from} TO {to};"));
            down.push(format!("ALTER TABLE {table} RENAME COLUMN {to} TO {from};"));
            what.push(format!(
                "renames column {old_name} of table {} to {new_name}",
                after.name
            ));
        }
    }
    if up.is_empty() {
        return Ok(TableChange::Rebuilt);
    }
    conn.execute_batch("SAVEPOINT generate_table")?;
    let fits = conn.execute_batch(&up.join("\n")).is_ok()
        && objects(conn)?
            .get(&("table".to_owned(), before.name.to_lowercase()))
            .is_some_and(|now| canonical(&now.sql) == canonical(&after.sql));
    if fits {
        conn.execute_batch("RELEASE generate_table")?;
        Ok(TableChange::InPlace { up, down, what })
    } else {
        conn.execute_batch("ROLLBACK TO generate_table; RELEASE generate_table")?;
        Ok(TableChange::Rebuilt)
    }
}

fn first_word(definition: &str) -> &str {
    definition.split_whitespace().next().unwrap_or(definition)
}

/// Runs the generated steps on the current schema (rolled back) and checks that up yields the
/// desired schema and down, when there is one, the current schema again.
fn check(conn: &Connection, changes: &Changes, old: &Objects, new: &Objects) -> Result<()> {
    let canon = |objects: &Objects| -> Vec<(String, String, String)> {
        objects
            .iter()
            .map(|((kind, name), o)| (kind.clone(), name.clone(), canonical(&o.sql)))
            .collect()
    };
    conn.execute_batch("SAVEPOINT generate_check")?;
    let result = (|| -> Result<()> {
        run(conn, &changes.up)?;
        let after_up = objects(conn)?;
        if canon(&after_up) != canon(new) {
            return Err(mismatch("up", &canon(&after_up), &canon(new)));
        }
        if let Some(down) = &changes.down {
            run(conn, down)?;
            let after_down = objects(conn)?;
            if canon(&after_down) != canon(old) {
                return Err(mismatch("down", &canon(&after_down), &canon(old)));
            }
        }
        Ok(())
    })();
    conn.execute_batch("ROLLBACK TO generate_check; RELEASE generate_check")?;
    result
}

fn run(conn: &Connection, pieces: &[Piece]) -> Result<()> {
    let tx = Tx::new(conn, 0, "generated");
    for piece in pieces {
        match piece {
            Piece::Sql(sql) => conn.execute_batch(sql)?,
            Piece::Rebuild { table, definition } => {
                Rebuild::new(table.clone())
                    .definition(definition.clone())
                    .run(&tx)?;
            }
        }
    }
    Ok(())
}

fn mismatch(
    direction: &str,
    got: &[(String, String, String)],
    wanted: &[(String, String, String)],
) -> Error {
    let differing: Vec<String> = got
        .iter()
        .filter(|o| !wanted.contains(o))
        .chain(wanted.iter().filter(|o| !got.contains(o)))
        .map(|(kind, name, _)| format!("{kind} {name}"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Error::Unsupported(format!(
        "the generated {direction} steps would not give exactly the schema wanted (differs: \
         {}); nothing was written. Write this migration by hand: the same `migrate new` \
         command without `--from-schema` writes a skeleton",
        differing.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    //! One schema edit per test: the generated steps, applied after a migration that builds
    //! the old schema, give exactly the desired schema (canonical form), the harness passes on
    //! them (round trip included when there is a down), and the declarations are right.

    use super::*;
    use crate::generate::schema::canonical_objects;
    use crate::testing::Harness;
    use crate::{Flags, Migration, Migrator, Step};

    fn db(sql: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        conn
    }

    fn step(pieces: Vec<Piece>) -> Step {
        Step::new(move |tx| {
            let conn: &Connection = tx;
            run(conn, &pieces)
        })
    }

    /// Generates the change from `old` to `new`, checks it end to end, returns it.
    fn edit(old: &str, seed: &str, new: &str) -> Changes {
        let changes = between(&db(old), &db(new)).unwrap();
        let mut second = Migration::new(2, "generated", step(changes.up.clone())).with_flags(
            Flags::NONE
                .with_rebuilds_tables(changes.rebuild)
                .with_destructive(changes.destructive),
        );
        if let Some(down) = &changes.down {
            second = second.with_down(step(down.clone()));
        }
        let migrator =
            Migrator::new().with_migrations([Migration::new(1, "old", Step::sql(old)), second]);
        let checked = Harness::new(migrator.clone()).seed_at(1, seed).assert_ok();
        drop(checked);
        let mut conn = Connection::open_in_memory().unwrap();
        migrator.on(&mut conn).unwrap().up().unwrap();
        assert_eq!(
            canonical_objects(&conn).unwrap(),
            canonical_objects(&db(new)).unwrap()
        );
        changes
    }

    fn sql(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Sql(s) => s.clone(),
                Piece::Rebuild { table, .. } => format!("REBUILD {table}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    const BOOKS: &str =
        "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, isbn TEXT);
                         CREATE INDEX books_isbn ON books (isbn);";
    const SEED: &str = "INSERT INTO books (title, isbn) VALUES ('Dune', '1'), ('Emma', NULL)";

    #[test]
    fn new_table_index_view_trigger_and_an_added_column_are_made_in_place() {
        let changes = edit(
            BOOKS,
            SEED,
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, isbn TEXT, pages INTEGER DEFAULT 0);
             CREATE INDEX books_isbn ON books (isbn);
             CREATE TABLE shelves (id INTEGER PRIMARY KEY, label TEXT);
             CREATE INDEX shelves_label ON shelves (label);
             CREATE VIEW thick AS SELECT title FROM books WHERE pages > 500;
             CREATE TRIGGER no_empty BEFORE INSERT ON shelves BEGIN SELECT RAISE(ABORT, 'x') WHERE new.label = ''; END;",
        );
        let up = sql(&changes.up);
        assert!(
            up.contains("ALTER TABLE \"books\" ADD COLUMN pages INTEGER DEFAULT 0;"),
            "{up}"
        );
        assert!(!up.contains("REBUILD"), "{up}");
        assert!(!changes.rebuild && !changes.destructive);
        assert!(sql(changes.down.as_ref().unwrap()).contains("DROP COLUMN \"pages\""));
    }

    #[test]
    fn a_renamed_column_is_renamed_in_place_with_its_index() {
        let changes = edit(
            BOOKS,
            SEED,
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, code TEXT);
             CREATE INDEX books_isbn ON books (code);",
        );
        let up = sql(&changes.up);
        assert_eq!(up, "ALTER TABLE \"books\" RENAME COLUMN isbn TO code;");
        assert_eq!(
            sql(changes.down.as_ref().unwrap()),
            "ALTER TABLE \"books\" RENAME COLUMN code TO isbn;"
        );
    }

    #[test]
    fn a_new_not_null_is_a_reversible_rebuild_that_keeps_the_index() {
        let changes = edit(
            BOOKS,
            "INSERT INTO books (title, isbn) VALUES ('Dune', '1'), ('Emma', '2')",
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, isbn TEXT NOT NULL DEFAULT '');
             CREATE INDEX books_isbn ON books (isbn);",
        );
        assert_eq!(
            sql(&changes.up),
            "DROP INDEX \"books_isbn\";\nREBUILD books\nCREATE INDEX books_isbn ON books (isbn);"
        );
        assert!(changes.rebuild && !changes.destructive);
        assert!(changes.down.is_some());
    }

    #[test]
    fn a_dropped_column_is_a_destructive_rebuild_without_down() {
        let changes = edit(
            BOOKS,
            SEED,
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL);",
        );
        assert!(changes.rebuild && changes.destructive);
        assert!(changes.down.is_none());
        assert!(
            changes
                .summary
                .iter()
                .any(|s| s.contains("without column(s) isbn"))
        );
    }

    #[test]
    fn a_dropped_table_is_destructive_without_down() {
        let changes = edit(&format!("{BOOKS} CREATE TABLE old_notes (x);"), SEED, BOOKS);
        assert_eq!(sql(&changes.up), "DROP TABLE \"old_notes\";");
        assert!(changes.destructive && changes.down.is_none());
    }

    #[test]
    fn a_changed_index_and_view_are_dropped_and_created_again() {
        let changes = edit(
            &format!("{BOOKS} CREATE VIEW titles AS SELECT title FROM books;"),
            SEED,
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, isbn TEXT);
             CREATE UNIQUE INDEX books_isbn ON books (isbn);
             CREATE VIEW titles AS SELECT title, isbn FROM books;",
        );
        let up = sql(&changes.up);
        assert!(
            up.starts_with("DROP VIEW \"titles\";\nDROP INDEX \"books_isbn\";"),
            "{up}"
        );
        assert!(up.contains("CREATE UNIQUE INDEX books_isbn"), "{up}");
        assert!(changes.rebuild && !changes.destructive && changes.down.is_some());
    }

    #[test]
    fn a_full_text_table_is_created_and_dropped_whole_without_its_shadow_tables() {
        // SQLite stores an FTS5 table's shadow tables (`notes_data`, `notes_config`, ...) as
        // tables of their own; the virtual table creates and drops them itself.
        let with_notes = format!("{BOOKS} CREATE VIRTUAL TABLE notes USING fts5 (body);");
        let changes = edit(BOOKS, SEED, &with_notes);
        assert_eq!(
            sql(&changes.up),
            "CREATE VIRTUAL TABLE notes USING fts5 (body);"
        );
        assert_eq!(sql(changes.down.as_ref().unwrap()), "DROP TABLE \"notes\";");
        assert_eq!(changes.summary, ["creates table notes"]);
        let changes = edit(&with_notes, SEED, BOOKS);
        assert_eq!(sql(&changes.up), "DROP TABLE \"notes\";");
        assert!(changes.destructive && changes.down.is_none());
    }

    #[test]
    fn a_changed_virtual_table_is_dropped_and_created_again_and_declared_destructive() {
        // Neither ALTER TABLE nor a rebuild applies to a virtual table.
        let changes = edit(
            &format!("{BOOKS} CREATE VIRTUAL TABLE notes USING fts5 (body);"),
            SEED,
            &format!("{BOOKS} CREATE VIRTUAL TABLE notes USING fts5 (title, body);"),
        );
        assert_eq!(
            sql(&changes.up),
            "DROP TABLE \"notes\";\nCREATE VIRTUAL TABLE notes USING fts5 (title, body);"
        );
        assert!(changes.destructive && changes.down.is_none());
        assert_eq!(
            changes.summary,
            ["drops and creates again virtual table notes (its rows are lost)"]
        );
    }

    #[test]
    fn formatting_alone_is_no_change() {
        let changes = between(
            &db(BOOKS),
            &db("create table \"books\" (\n id integer primary key,\n title text not null,\n isbn text\n);
                 create index books_isbn on books(isbn);"),
        )
        .unwrap();
        assert!(changes.is_empty());
    }
}
