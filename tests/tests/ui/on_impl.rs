use migrate_sqlite::{migration, Result, Tx};

struct Migrations;

#[migration(seq = 1)]
impl Migrations {
    fn create_users(tx: &Tx) -> Result<()> {
        tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
        Ok(())
    }
}

fn main() {}
