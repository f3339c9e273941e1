//! Imported by `migrate import` from refinery migration `V1__create_users.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// refinery `V1__create_users.sql` (upstream version 1).
#[migration(seq = 1, name = "1_create_users", set = "imported_refinery")]
pub fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/refinery/V1__create_users.sql"
    ))?;
    Ok(())
}
