use migrate_postgres::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_users(tx: &Tx) -> Result<()> {
    let _ = tx;
    Ok(())
}

fn main() {}
