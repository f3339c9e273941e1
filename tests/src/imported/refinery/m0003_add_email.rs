//! Imported by `migrate import` from refinery migration `V3__add_email.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// refinery `V3__add_email.sql` (upstream version 3).
#[migration(seq = 3, name = "3_add_email", set = "imported_refinery")]
pub fn add_email(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/refinery/V3__add_email.sql"
    ))?;
    Ok(())
}
