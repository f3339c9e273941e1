//! Imported by `migrate import` from plain migration `01-users.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// plain `01-users.sql` (upstream version 1).
#[migration(seq = 1, name = "01-users", set = "imported_plain")]
pub fn m_01_users(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!("../../../fixtures/import/plain/01-users.sql"))?;
    Ok(())
}
