use migrate_postgres::{Result, Tx, migration};

/// Pinned notes are listed first.
#[migration(seq = 7, down = unpin)]
pub fn pin_notes(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false")
}

pub fn unpin(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("ALTER TABLE notes DROP COLUMN pinned")
}
