use migrate_sqlite::{Result, Tx, migration};

/// Adds an ISBN column to books.
///
/// Reversible: `drop_isbn` removes it.
#[migration(seq = 2, set = "library", down = drop_isbn)]
pub fn add_isbn(tx: &Tx) -> Result<()> {
    tx.execute_batch("ALTER TABLE books ADD COLUMN isbn TEXT")?;
    Ok(())
}

/// The reverse of `add_isbn`.
pub fn drop_isbn(tx: &Tx) -> Result<()> {
    tx.execute_batch("ALTER TABLE books DROP COLUMN isbn")?;
    Ok(())
}
