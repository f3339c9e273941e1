//! Imported by `migrate import` from plain migration `03-email.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// plain `03-email.sql` (upstream version 3).
#[migration(seq = 3, name = "03-email", set = "imported_plain")]
pub fn m_03_email(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!("../../../fixtures/import/plain/03-email.sql"))?;
    Ok(())
}
