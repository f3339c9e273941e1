use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_users(tx: &Tx, table: &str) -> Result<()> {
    tx.execute_batch(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))?;
    Ok(())
}

fn main() {}
