//! Imported by `migrate import` from refinery migration `V2__create_posts.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// refinery `V2__create_posts.sql` (upstream version 2).
#[migration(seq = 2, name = "2_create_posts", set = "imported_refinery")]
pub fn create_posts(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/refinery/V2__create_posts.sql"
    ))?;
    Ok(())
}
