use migrate_sqlite::{Result, Tx, migration};

/// Data migration: notes written before notebooks existed go to an "Inbox" notebook.
#[migration(seq = 4, down = forget_inbox)]
pub fn default_notebook(tx: &Tx) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO notebooks (name) VALUES ('Inbox')",
        [],
    )?;
    let moved = tx.execute(
        "UPDATE notes SET notebook_id = (SELECT id FROM notebooks WHERE name = 'Inbox')
         WHERE notebook_id IS NULL",
        [],
    )?;
    log::info!("moved {moved} notes to the Inbox notebook");
    Ok(())
}

/// Notes stay in the Inbox; only an empty Inbox is removed.
pub fn forget_inbox(tx: &Tx) -> Result<()> {
    tx.execute(
        "DELETE FROM notebooks WHERE name = 'Inbox'
         AND NOT EXISTS (SELECT 1 FROM notes WHERE notebook_id = notebooks.id)",
        [],
    )?;
    Ok(())
}
