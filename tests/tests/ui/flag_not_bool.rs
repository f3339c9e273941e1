use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1, destructive = 1)]
fn drop_users(tx: &Tx) -> Result<()> {
    tx.execute_batch("DROP TABLE users")?;
    Ok(())
}

fn main() {}
