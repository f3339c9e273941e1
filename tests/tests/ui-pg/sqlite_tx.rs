// A step written for the SQLite backend does not register as a PostgreSQL migration.
use migrate_postgres::{migration, Result};

#[migration(seq = 1)]
fn create_users(tx: &mut migrate_sqlite::Tx) -> Result<()> {
    let _ = tx;
    Ok(())
}

fn main() {}
