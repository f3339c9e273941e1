//! Imported by `migrate import` from sqlx migration `20220101120000_create_users.up.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// sqlx `20220101120000_create_users.up.sql` (upstream version 20220101120000).
#[migration(seq = 1, name = "20220101120000_create_users", set = "imported_sqlx", down = create_users_down)]
pub fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/sqlx/20220101120000_create_users.up.sql"
    ))?;
    Ok(())
}

/// Reverts `create_users`.
pub fn create_users_down(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/sqlx/20220101120000_create_users.down.sql"
    ))?;
    Ok(())
}
