//! Imported by `migrate import` from sqlx migration `20220102120000_create_posts.up.sql`.

use migrate_sqlite::{Result, Tx, migration};

/// sqlx `20220102120000_create_posts.up.sql` (upstream version 20220102120000).
#[migration(seq = 2, name = "20220102120000_create_posts", set = "imported_sqlx", down = create_posts_down)]
pub fn create_posts(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/sqlx/20220102120000_create_posts.up.sql"
    ))?;
    Ok(())
}

/// Reverts `create_posts`.
pub fn create_posts_down(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!(
        "../../../fixtures/import/sqlx/20220102120000_create_posts.down.sql"
    ))?;
    Ok(())
}
