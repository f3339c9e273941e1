use migrate_sqlite::{Result, Tx, migration};

/// Notes can be pinned to the top of the list.
#[migration(seq = 6, down = unpin_notes)]
pub fn pin_notes(tx: &Tx) -> Result<()> {
    tx.execute_batch("ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")?;
    Ok(())
}

pub fn unpin_notes(tx: &Tx) -> Result<()> {
    tx.execute_batch("ALTER TABLE notes DROP COLUMN pinned")?;
    Ok(())
}
