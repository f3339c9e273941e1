//! The embeddable command line as an application would ship it, for `tests/tests/cli.rs`:
//! `migrate-cli <migrate arguments>` runs `migrate_sqlite::cli::run` on the migrations of set
//! `"library"` (from the `library-migrations` crate) and the database named by the
//! `MIGRATE_CLI_DB` environment variable (`--database` overrides it).
//!
//! `MIGRATE_CLI_BROKEN=1` adds a migration 4 `fails_on_purpose` to the library's migrations,
//! which creates a table and then returns an error (the "failed" exit code).
//! `MIGRATE_CLI_LOSSY=1` adds a migration 4 `one_book_left` that folds every book into one row
//! (a unique title, then `UPDATE OR REPLACE` of every title) without declaring `destructive`:
//! the row-count guard's case.
//! `MIGRATE_CLI_GROW=1` adds a migration 4 `grow_by_8_mb` that inserts 8 MiB of blobs into a
//! new table `covers` (for a disk that fills up during a migration).
//! `MIGRATE_CLI_LENDING=1` adds a reversible migration 4 `create_loans`: `members` and `loans`
//! with foreign keys to `books` and `members` (the runbook tests: verify, restore-table).

use library_migrations as _;
use migrate_sqlite::{Error, Migration, Migrator, Step};
use std::process::ExitCode;

const SET: &str = "library";

fn migrator() -> Migrator {
    let migrator = Migrator::new().set(SET);
    if std::env::var_os("MIGRATE_CLI_BROKEN").is_some_and(|v| v == "1") {
        let fails = Migration::new(
            4,
            "fails_on_purpose",
            Step::new(|tx| {
                tx.execute_batch("CREATE TABLE half_done (x)")?;
                Err(Error::msg("migration 4 fails on purpose"))
            }),
        )
        .in_set(SET);
        let mut list = migrate_sqlite::registered(SET);
        list.push(fails);
        return migrator.with_migrations(list);
    }
    if std::env::var_os("MIGRATE_CLI_LOSSY").is_some_and(|v| v == "1") {
        let lossy = Migration::new(
            4,
            "one_book_left",
            Step::sql(
                "CREATE UNIQUE INDEX books_title ON books (title);
                 UPDATE OR REPLACE books SET title = 'Collected Works';",
            ),
        )
        .in_set(SET);
        let mut list = migrate_sqlite::registered(SET);
        list.push(lossy);
        return migrator.with_migrations(list);
    }
    if std::env::var_os("MIGRATE_CLI_GROW").is_some_and(|v| v == "1") {
        let grow = Migration::new(
            4,
            "grow_by_8_mb",
            Step::sql(
                "CREATE TABLE covers (image BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2048)
                 INSERT INTO covers SELECT randomblob(4096) FROM n;",
            ),
        )
        .in_set(SET);
        let mut list = migrate_sqlite::registered(SET);
        list.push(grow);
        return migrator.with_migrations(list);
    }
    if std::env::var_os("MIGRATE_CLI_LENDING").is_some_and(|v| v == "1") {
        let lending = Migration::new(
            4,
            "create_loans",
            Step::sql(
                "CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                 CREATE TABLE loans (
                     id INTEGER PRIMARY KEY,
                     book_id INTEGER NOT NULL REFERENCES books(id),
                     member_id INTEGER NOT NULL REFERENCES members(id)
                 );",
            ),
        )
        .with_down(Step::sql("DROP TABLE loans; DROP TABLE members;"))
        .in_set(SET);
        let mut list = migrate_sqlite::registered(SET);
        list.push(lending);
        return migrator.with_migrations(list);
    }
    migrator
}

fn main() -> ExitCode {
    let Some(db) = std::env::var_os("MIGRATE_CLI_DB") else {
        eprintln!("migrate-cli: set MIGRATE_CLI_DB to the database file");
        return ExitCode::from(migrate_sqlite::cli::EXIT_USAGE);
    };
    migrate_sqlite::cli::run(migrator(), db, std::env::args_os())
}
