use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 9223372036854775808)]
fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

fn main() {}
