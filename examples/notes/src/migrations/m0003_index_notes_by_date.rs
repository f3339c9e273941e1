use migrate_sqlite::{Result, Tx, migration};

/// The note list is sorted by date.
#[migration(seq = 3, down = drop_index)]
pub fn index_notes_by_date(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE INDEX notes_by_date ON notes (created_at)")?;
    Ok(())
}

pub fn drop_index(tx: &Tx) -> Result<()> {
    tx.execute_batch("DROP INDEX notes_by_date")?;
    Ok(())
}
