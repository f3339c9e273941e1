use migrate_sqlite::{Result, Tx, migration};

/// Notes belong to a notebook; deleting a notebook deletes its notes.
#[migration(seq = 2, down = drop_notes)]
pub fn create_notes(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE notes (
            id          INTEGER PRIMARY KEY,
            notebook_id INTEGER REFERENCES notebooks(id) ON DELETE CASCADE,
            title       TEXT,
            body        TEXT NOT NULL,
            created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )",
    )?;
    Ok(())
}

pub fn drop_notes(tx: &Tx) -> Result<()> {
    tx.execute_batch("DROP TABLE notes")?;
    Ok(())
}
