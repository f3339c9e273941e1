//! The cascade trap: rebuilding a parent table whose children reference it with
//! `ON DELETE CASCADE`. Inside a transaction `PRAGMA foreign_keys = OFF` is a no-op, so a runner
//! that switches it there loses every child row; this one switches it before `BEGIN`.

mod common;
use common::*;
use migrate_sqlite::{Flags, Migration, Step};
use rusqlite::Connection;

const SCHEMA: &str = "
    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE books (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
        title TEXT
    );
    INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Herbert');
    INSERT INTO books VALUES (1, 1, 'The Dispossessed'), (2, 1, 'Lathe of Heaven'), (3, 2, 'Dune');
";

/// SQLite's 12-step rebuild: add NOT NULL to authors.name.
const REBUILD: &str = "
    CREATE TABLE authors_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
    INSERT INTO authors_new (id, name) SELECT id, coalesce(name, '') FROM authors;
    DROP TABLE authors;
    ALTER TABLE authors_new RENAME TO authors;
";

fn book_count(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM books", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_trap_is_real_when_foreign_keys_are_switched_inside_a_transaction() {
    let db = temp_db();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    assert_eq!(
        pragma(&conn, "foreign_keys"),
        1,
        "bundled SQLite enforces foreign keys"
    );
    // What a naive runner does: the pragma inside the transaction is silently ignored.
    conn.execute_batch(&format!(
        "BEGIN; PRAGMA foreign_keys = OFF; {REBUILD} COMMIT;"
    ))
    .unwrap();
    assert_eq!(book_count(&conn), 0, "every child row was cascade-deleted");
}

#[test]
fn children_survive_a_parent_rebuild() {
    let db = temp_db();
    let list = vec![
        Migration::new(1, "schema", Step::sql(SCHEMA)),
        Migration::new(2, "rebuild_authors", Step::sql(REBUILD))
            .with_flags(Flags::NONE.with_rebuilds_tables(true)),
    ];
    let mut conn = Connection::open(&db.path).unwrap();
    migrate_sqlite::Migrator::new()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(book_count(&conn), 3);
    let violations: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);
    assert_eq!(
        pragma(&conn, "foreign_keys"),
        1,
        "enforcement is back on afterwards"
    );
    // Enforcement really is on again: an orphan is refused.
    assert!(
        conn.execute("INSERT INTO books VALUES (9, 99, 'orphan')", [])
            .is_err()
    );
}

#[test]
fn a_rebuild_that_drops_referenced_rows_is_refused_and_rolled_back() {
    let db = temp_db();
    migrator(vec![Migration::new(1, "schema", Step::sql(SCHEMA))])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let before = dump(&db.path);
    let lossy = "
        CREATE TABLE authors_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        INSERT INTO authors_new SELECT id, name FROM authors WHERE id = 1;
        DROP TABLE authors;
        ALTER TABLE authors_new RENAME TO authors;
    ";
    let list = vec![
        Migration::new(1, "schema", Step::sql(SCHEMA)),
        Migration::new(2, "lossy_rebuild", Step::sql(lossy))
            .with_flags(Flags::NONE.with_rebuilds_tables(true)),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(
        err.to_string().contains("books rowid 3 -> authors"),
        "{err}"
    );
    assert_eq!(dump(&db.path), before);
}

#[test]
fn a_foreign_key_added_by_create_and_rename_is_checked() {
    // No table declares a foreign key before the run; the migration adds one through a
    // created-then-renamed table and leaves an orphan: the check must still run.
    let db = temp_db();
    let list = vec![
        Migration::new(
            1,
            "schema",
            Step::sql("CREATE TABLE authors (id INTEGER PRIMARY KEY); CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER);"),
        ),
        Migration::new(
            2,
            "add_fk",
            Step::sql(
                "CREATE TABLE books_new (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES authors(id));
                 INSERT INTO books_new VALUES (1, 42);
                 DROP TABLE books;
                 ALTER TABLE books_new RENAME TO books;",
            ),
        )
        .with_flags(Flags::NONE.with_rebuilds_tables(true)),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(
        err.to_string().contains("books rowid 1 -> authors"),
        "{err}"
    );
}

/// The older rebuild order: rename the parent away first. SQLite 3.26+ rewrites the children's
/// REFERENCES to the renamed table, which is then dropped.
const RENAME_PARENT_FIRST: &str = "
    ALTER TABLE authors RENAME TO old_authors;
    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
    INSERT INTO authors (id, name) SELECT id, coalesce(name, '') FROM old_authors;
    DROP TABLE old_authors;
";

#[test]
fn the_rename_trap_is_named_with_its_fix_and_legacy_alter_table_avoids_it() {
    let db = temp_db();
    let schema = || Migration::new(1, "schema", Step::sql(SCHEMA));
    migrator(vec![schema()])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let before = dump(&db.path);
    let trap = Migration::new(2, "rename_first", Step::sql(RENAME_PARENT_FIRST));
    let err = migrator(vec![schema(), trap])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("referencing table(s) old_authors that no longer exist"),
        "{text}"
    );
    assert!(text.contains("rename trap"), "{text}");
    assert!(text.contains("Rename the *new* table instead"), "{text}");
    assert!(text.contains("PRAGMA legacy_alter_table = ON"), "{text}");
    assert!(!text.contains("ON DELETE CASCADE does not fire"), "{text}");
    assert_eq!(dump(&db.path), before, "rolled back");

    assert!(
        text.contains("declare the migration `legacy_alter_table`"),
        "{text}"
    );

    // The fix the message names: the same history declared `legacy_alter_table`, as it ran
    // before 3.26; the application's connection gets its setting back.
    let fixed = Migration::new(2, "rename_first", Step::sql(RENAME_PARENT_FIRST))
        .with_flags(Flags::NONE.with_legacy_alter_table(true));
    let mut app = Connection::open(&db.path).unwrap();
    migrate_sqlite::Migrator::new()
        .with_migrations(vec![schema(), fixed])
        .without_backups()
        .on(&mut app)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(pragma(&app, "legacy_alter_table"), 0);
    drop(app);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert_eq!(book_count(&conn), 3);
    let parent: String = conn
        .query_row(
            "SELECT \"table\" FROM pragma_foreign_key_list('books')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(parent, "authors");
    assert!(!table_exists(&conn, "old_authors"));
    let violations: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);
}

#[test]
fn a_foreign_key_mismatch_already_in_the_database_does_not_block_the_migration_that_fixes_it() {
    // The app created these tables itself (foreign keys off, as a system SQLite defaults):
    // reviews references books.title, which is neither the PRIMARY KEY nor UNIQUE.
    let db = temp_db();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT);
             CREATE TABLE reviews (book_title TEXT REFERENCES books (title));",
        )
        .unwrap();
    let fix = Migration::new(
        1,
        "unique_titles",
        Step::sql("CREATE UNIQUE INDEX books_title ON books (title)"),
    );
    let report = migrator(vec![fix]).open(&db.path).unwrap().up();
    let conn = Connection::open(&db.path).unwrap();
    assert!(report.is_ok(), "{:?}", report.err().map(|e| e.to_string()));
    assert_eq!(applied_seqs(&conn), [1]);
    let check: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(check, 0);
}

/// A migration that creates a foreign key SQLite cannot check (it references a column that is
/// neither the parent's primary key nor unique) fails and rolls back, naming the table.
#[test]
fn a_migration_that_leaves_a_foreign_key_mismatch_fails_naming_the_table() {
    let db = temp_db();
    let list = vec![
        Migration::new(
            1,
            "books",
            Step::sql("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT)"),
        ),
        Migration::new(
            2,
            "reviews",
            Step::sql("CREATE TABLE reviews (book_title TEXT REFERENCES books (title))"),
        ),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("foreign key mismatch"), "{text}");
    assert!(text.contains("reviews"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&conn, "reviews"));
    assert!(
        !table_exists(&conn, "books"),
        "all or nothing: the run rolled back"
    );
    assert_eq!(applied_seqs(&conn), [0u64; 0]);
}

/// The dry run applies the same rule: a foreign key mismatch already there does not stop the
/// plan, one a pending migration creates is reported as that migration's failure.
#[test]
fn the_dry_run_treats_foreign_key_mismatches_as_up_does() {
    let db = temp_db();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT);
             CREATE TABLE reviews (book_title TEXT REFERENCES books (title));",
        )
        .unwrap();
    let before = std::fs::read(&db.path).unwrap();
    let list = vec![
        Migration::new(
            1,
            "notes",
            Step::sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)"),
        ),
        Migration::new(
            2,
            "quotes",
            Step::sql("CREATE TABLE quotes (book_title TEXT REFERENCES books (title))"),
        ),
    ];
    let dry = migrator(list).open(&db.path).unwrap().dry_run().unwrap();
    assert!(!dry.is_ok());
    assert_eq!(
        dry.migrations.len(),
        2,
        "migration 1 ran, migration 2 failed in the plan"
    );
    let text = format!("{dry:?}");
    assert!(text.contains("quotes"), "{text}");
    assert!(text.contains("foreign key mismatch"), "{text}");
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        before,
        "the file is untouched"
    );
}
