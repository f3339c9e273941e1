use migrate_postgres::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_users(tx: &mut Tx, extra: u32) -> Result<()> {
    let _ = (tx, extra);
    Ok(())
}

fn main() {}
