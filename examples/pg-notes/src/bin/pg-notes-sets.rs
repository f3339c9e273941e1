//! `pg-notes-sets migrate ...`: pg-notes with a second migration set, `"uploads"` (sets run in
//! name order: "default" first), for
//! the `up --all-sets` tests (`tests/cli_all_sets.rs`). The app's own set is pg-notes'
//! `"default"`; the database is `PG_NOTES_URL`, backups go to `PG_NOTES_BACKUPS` when set.
//!
//! `PG_NOTES_SETS_FAIL=3` makes uploads migration 3 (`transaction = false`) fail after
//! creating its index: a failure in the second set that a rollback cannot undo.

use migrate_postgres::{Result, Tx, migration};
use pg_notes as _;
use std::process::ExitCode;

/// Files attached to notes.
#[migration(seq = 1, set = "uploads")]
fn create_uploads(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("CREATE TABLE uploads (id bigserial PRIMARY KEY, file_name text NOT NULL)")
}

/// Which note a file is attached to.
#[migration(seq = 2, set = "uploads")]
fn add_upload_note(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("ALTER TABLE uploads ADD COLUMN note_id bigint")
}

/// Built without holding writers off, hence outside a transaction (idempotent, as such
/// migrations must be).
#[migration(seq = 3, set = "uploads", transaction = false)]
fn index_uploads_by_note(tx: &mut Tx) -> Result<()> {
    tx.batch_execute(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS uploads_by_note ON uploads (note_id)",
    )?;
    if std::env::var_os("PG_NOTES_SETS_FAIL").is_some_and(|v| v == "3") {
        // Fails on purpose, after the index exists.
        tx.batch_execute("SELECT 1 / 0")?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let Ok(url) = std::env::var("PG_NOTES_URL") else {
        eprintln!("error: set PG_NOTES_URL, e.g. PG_NOTES_URL='host=/run/postgresql dbname=notes'");
        return ExitCode::from(migrate_postgres::cli::EXIT_USAGE);
    };
    let mut migrator = pg_notes::migrator();
    if let Some(dir) = std::env::var_os("PG_NOTES_BACKUPS") {
        migrator = migrator.backup_dir(dir);
    }
    migrate_postgres::cli::run(migrator, &url, std::env::args_os().skip(1))
}
