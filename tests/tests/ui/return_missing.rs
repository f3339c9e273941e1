use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_users(tx: &Tx) {
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)").unwrap();
}

fn _result() -> Result<()> {
    Ok(())
}

fn main() {}
