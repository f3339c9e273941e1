use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1, down = drop_user)]
fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

fn drop_users(tx: &Tx) -> Result<()> {
    tx.execute_batch("DROP TABLE users")?;
    Ok(())
}

fn main() {}
