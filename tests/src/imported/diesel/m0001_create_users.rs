//! Imported by `migrate import` from diesel migration `2018-01-01-000000_create_users`.

use migrate_sqlite::{Result, Tx, migration};

/// diesel `2018-01-01-000000_create_users` (upstream version 20180101000000).
#[migration(seq = 1, name = "20180101000000_create_users", set = "imported_diesel", down = create_users_down)]
pub fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/diesel/2018-01-01-000000_create_users/up.sql"
    ))?;
    Ok(())
}

/// Reverts `create_users`.
pub fn create_users_down(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/diesel/2018-01-01-000000_create_users/down.sql"
    ))?;
    Ok(())
}
