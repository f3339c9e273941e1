use migrate_sqlite::migration;

#[migration(seq = 1)]
mod create_users {
    use migrate_sqlite::{Result, Tx};

    pub fn apply(tx: &Tx) -> Result<()> {
        tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
        Ok(())
    }

    pub fn down(tx: &Tx) -> Result<()> {
        tx.execute_batch("DROP TABLE users")?;
        Ok(())
    }
}

fn main() {}
