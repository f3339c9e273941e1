//! Imported by `migrate import` from diesel migration `2019-03-01-000000_add_email`.

use migrate_sqlite::{Result, Tx, migration};

/// diesel `2019-03-01-000000_add_email` (upstream version 20190301000000).
#[migration(seq = 3, name = "20190301000000_add_email", set = "imported_diesel")]
pub fn add_email(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/diesel/2019-03-01-000000_add_email/up.sql"
    ))?;
    Ok(())
}
