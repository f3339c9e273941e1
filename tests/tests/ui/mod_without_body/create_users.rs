use migrate_sqlite::{Result, Tx};

pub fn up(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}
