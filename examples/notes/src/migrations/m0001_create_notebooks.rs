use migrate_sqlite::{Result, Tx, migration};

/// Notebooks group notes.
#[migration(seq = 1, down = drop_notebooks)]
pub fn create_notebooks(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE notebooks (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        )",
    )?;
    Ok(())
}

pub fn drop_notebooks(tx: &Tx) -> Result<()> {
    tx.execute_batch("DROP TABLE notebooks")?;
    Ok(())
}
