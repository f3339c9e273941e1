use migrate_sqlite::{Result, Tx, migration};

/// Creates the books table.
#[migration(seq = 1, set = "library")]
pub fn create_books(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE books (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL
        )",
    )?;
    Ok(())
}
