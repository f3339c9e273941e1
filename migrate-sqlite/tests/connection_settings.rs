//! Connection settings a migration changes do not leak into the next migrations of the run.

mod common;
use common::runs::*;
use common::*;
use migrate_sqlite::{Error, Migration, Migrator, Step};
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------------
// Connection settings a migration changes do not leak into the next migrations of the run
// ---------------------------------------------------------------------------------------------

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

const REBUILD: &str = "
    CREATE TABLE authors_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
    INSERT INTO authors_new (id, name) SELECT id, coalesce(name, '') FROM authors;
    DROP TABLE authors;
    ALTER TABLE authors_new RENAME TO authors;
";

/// A non-transactional migration that ends with `PRAGMA foreign_keys = ON` does not leave
/// enforcement on for the next migration: a later table rebuild in the same run cascades
/// nothing, and the caller's setting is back afterwards.
#[test]
fn foreign_keys_turned_on_by_a_non_transactional_migration_are_off_for_the_next_one() {
    let db = temp_db();
    let list = vec![
        Migration::new(1, "schema", Step::sql(SCHEMA)),
        non_tx(
            2,
            "tags_by_the_book",
            "PRAGMA foreign_keys = OFF;
             BEGIN;
             CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);
             COMMIT;
             PRAGMA foreign_keys = ON;",
        ),
        Migration::new(3, "rebuild_authors", Step::sql(REBUILD))
            .with_flags(migrate_sqlite::Flags::NONE.with_rebuilds_tables(true)),
    ];
    let mut conn = Connection::open(&db.path).unwrap();
    Migrator::new()
        .without_backups()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    let books: i64 = conn
        .query_row("SELECT count(*) FROM books", [], |r| r.get(0))
        .unwrap();
    assert_eq!(books, 3, "the rebuild cascade-deleted the books");
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    assert_eq!(pragma(&conn, "foreign_keys"), 1, "the caller's ON is back");
}

/// `legacy_alter_table` turned on by one migration is reset before the next, so a later
/// `ALTER TABLE ... RENAME` in the same run rewrites the views that use the table.
#[test]
fn legacy_alter_table_is_reset_between_migrations_of_one_run() {
    let db = temp_db();
    let list = vec![
        Migration::new(
            1,
            "schema",
            Step::sql("CREATE TABLE t (x); CREATE VIEW v AS SELECT x FROM t;"),
        ),
        Migration::new(
            2,
            "rebuild_with_legacy",
            Step::sql("PRAGMA legacy_alter_table = ON; CREATE TABLE other (y);"),
        ),
        Migration::new(3, "rename", Step::sql("ALTER TABLE t RENAME TO u")),
    ];
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let view = conn.query_row("SELECT count(*) FROM v", [], |r| r.get::<_, i64>(0));
    assert_eq!(view, Ok(0), "view v broken by a rename run in legacy mode");
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
}

/// A transactional migration cannot switch the journal off (it would make its own work
/// impossible to roll back): refused, the run rolls back, the journal mode is unchanged.
#[test]
fn a_migration_cannot_switch_the_journal_off_inside_the_runners_transaction() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "bulk_load",
        Step::new(|tx| {
            let _: String = tx.query_row("PRAGMA journal_mode = OFF", [], |r| r.get(0))?;
            tx.execute_batch("CREATE TABLE half (x); INSERT INTO missing VALUES (1);")?;
            Ok(())
        }),
    ));
    let mut conn = Connection::open(&db.path).unwrap();
    let err = Migrator::new()
        .without_backups()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        matches!(cause(&err), Error::Refused { why } if why.contains("changed journal_mode")),
        "{err}"
    );
    assert_eq!(
        outcome(&err),
        "Nothing from this run was kept: the database is as it was before the run (seq 1). \
         Nothing needs restoring; fix the migration and run `migrate up` again."
    );
    let check = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&check, "half"));
    assert_eq!(applied_seqs(&check), [1]);
    assert_eq!(history(&check), ["1 up ok", "2 up failed"]);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "the connection's journal mode changed");
}
