//! Imported by `migrate import` from plain migration `02-posts.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// plain `02-posts.sql` (upstream version 2).
#[migration(seq = 2, name = "02-posts", set = "imported_plain")]
pub fn m_02_posts(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!("../../../fixtures/import/plain/02-posts.sql"))?;
    Ok(())
}
