//! Imported by `migrate import` from sqlx migration `20220201000000_add_email.up.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// sqlx `20220201000000_add_email.up.sql` (upstream version 20220201000000).
#[migration(seq = 3, name = "20220201000000_add_email", set = "imported_sqlx", down = add_email_down)]
pub fn add_email(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/sqlx/20220201000000_add_email.up.sql"
    ))?;
    Ok(())
}

/// Reverts `add_email`.
pub fn add_email_down(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/sqlx/20220201000000_add_email.down.sql"
    ))?;
    Ok(())
}
