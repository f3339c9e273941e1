//! The command line of an app with two migration sets, for `tests/tests/cli_all_sets.rs`
//! (`migrate-cli` links the `imported_*` sets, which conflict when all are applied to one
//! database): `"library"` from the `library-migrations` crate and `"shelves"` below. The
//! database is `MIGRATE_CLI_DB`; the app's own set is `"library"`.
//!
//! `SHELVES_FAIL=1` makes the shelves migration 2 fail after creating its table (a
//! transactional failure in the second set of an `up --all-sets`); `SHELVES_FAIL=3` makes
//! migration 3 (`transaction = false`) fail after creating its index (a failure a rollback
//! cannot undo: the pre-migration backup is restored). `SHELVES_WAIT_FOR=FILE` makes migration 3,
//! after its index, create `FILE.ready` and wait (at most 60 s) until FILE exists: the test
//! writes to the database from its own process meanwhile.

use library_migrations as _;
use migrate_sqlite::{Error, Migrator, Result, Tx, migration};
use std::process::ExitCode;

/// Shelves.
#[migration(seq = 1, set = "shelves")]
fn create_shelves(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE shelves (id INTEGER PRIMARY KEY, label TEXT NOT NULL)")?;
    Ok(())
}

/// Which book stands on which shelf.
#[migration(seq = 2, set = "shelves")]
fn create_shelf_books(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE shelf_books (
             shelf_id INTEGER NOT NULL REFERENCES shelves(id),
             book_id INTEGER NOT NULL
         )",
    )?;
    if std::env::var_os("SHELVES_FAIL").is_some_and(|v| v == "1") {
        return Err(Error::msg("shelves migration 2 fails on purpose"));
    }
    Ok(())
}

/// Outside a transaction (idempotent, as such migrations must be).
#[migration(seq = 3, set = "shelves", transaction = false)]
fn index_shelf_books(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE INDEX IF NOT EXISTS shelf_books_by_book ON shelf_books (book_id)")?;
    if let Some(go) = std::env::var_os("SHELVES_WAIT_FOR").map(std::path::PathBuf::from) {
        let mut ready = go.clone().into_os_string();
        ready.push(".ready");
        std::fs::write(&ready, b"").map_err(|e| Error::msg(format!("SHELVES_WAIT_FOR: {e}")))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !go.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    if std::env::var_os("SHELVES_FAIL").is_some_and(|v| v == "3") {
        return Err(Error::msg("shelves migration 3 fails on purpose"));
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(db) = std::env::var_os("MIGRATE_CLI_DB") else {
        eprintln!("migrate-cli-sets: set MIGRATE_CLI_DB to the database file");
        return ExitCode::from(migrate_sqlite::cli::EXIT_USAGE);
    };
    migrate_sqlite::cli::run(Migrator::new().set("library"), db, std::env::args_os())
}
