use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1, set = "app")]
fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

// The same seq in another set is fine.
#[migration(seq = 1, set = "audit")]
fn create_log(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE log (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

mod more {
    use migrate_sqlite::{migration, Result, Tx};

    #[migration(seq = 1, set = "app")]
    fn create_posts(tx: &Tx) -> Result<()> {
        tx.execute_batch("CREATE TABLE posts (id INTEGER PRIMARY KEY)")?;
        Ok(())
    }
}

fn main() {}
