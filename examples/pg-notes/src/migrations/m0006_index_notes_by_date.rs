use migrate_postgres::{Result, Tx, migration};

/// A notebook's notes are listed newest first. Built `CONCURRENTLY`, so writers are not held
/// off on a big table; that cannot run in a transaction, hence `transaction = false` (the runner
/// sends each statement alone and checks afterwards that no index was left INVALID).
#[migration(seq = 6, transaction = false, down = drop_index)]
pub fn index_notes_by_date(tx: &mut Tx) -> Result<()> {
    tx.batch_execute(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_by_date
         ON notes (notebook_id, created_at DESC)",
    )
}

pub fn drop_index(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("DROP INDEX CONCURRENTLY IF EXISTS notes_by_date")
}
