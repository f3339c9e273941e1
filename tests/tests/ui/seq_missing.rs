use migrate_sqlite::{migration, Result, Tx};

#[migration(name = "create_users")]
fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

fn main() {}
