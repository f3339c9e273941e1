use migrate_postgres::{Result, Tx, migration};

/// Data migration: notes written before notebooks were required go to an "Inbox" notebook,
/// which then becomes required.
#[migration(seq = 4, down = optional_notebook)]
pub fn default_notebook(tx: &mut Tx) -> Result<()> {
    tx.batch_execute(
        "INSERT INTO notebooks (name) VALUES ('Inbox') ON CONFLICT (name) DO NOTHING",
    )?;
    let moved = tx.execute(
        "UPDATE notes SET notebook_id = (SELECT id FROM notebooks WHERE name = 'Inbox')
         WHERE notebook_id IS NULL",
        &[],
    )?;
    log::info!("moved {moved} notes to the Inbox notebook");
    tx.batch_execute("ALTER TABLE notes ALTER COLUMN notebook_id SET NOT NULL")
}

/// Notes stay in the Inbox; only an empty Inbox is removed.
pub fn optional_notebook(tx: &mut Tx) -> Result<()> {
    tx.batch_execute(
        "ALTER TABLE notes ALTER COLUMN notebook_id DROP NOT NULL;
         DELETE FROM notebooks WHERE name = 'Inbox'
           AND NOT EXISTS (SELECT 1 FROM notes WHERE notebook_id = notebooks.id)",
    )
}
