//! Imported by `migrate import` from diesel migration `2018-02-01-120000_create_posts`.

use migrate_sqlite::{Result, Tx, migration};

/// diesel `2018-02-01-120000_create_posts` (upstream version 20180201120000).
#[migration(seq = 2, name = "20180201120000_create_posts", set = "imported_diesel", down = create_posts_down)]
pub fn create_posts(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/diesel/2018-02-01-120000_create_posts/up.sql"
    ))?;
    Ok(())
}

/// Reverts `create_posts`.
pub fn create_posts_down(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/diesel/2018-02-01-120000_create_posts/down.sql"
    ))?;
    Ok(())
}
