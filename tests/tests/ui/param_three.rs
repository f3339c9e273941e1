use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_table(tx: &Tx, table: &str, column: &str) -> Result<()> {
    tx.execute_batch(&format!("CREATE TABLE {table} ({column} INTEGER PRIMARY KEY)"))?;
    Ok(())
}

fn main() {}
