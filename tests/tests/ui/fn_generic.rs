use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_table<T: Default>(tx: &Tx) -> Result<()> {
    let _ = T::default();
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

fn main() {}
