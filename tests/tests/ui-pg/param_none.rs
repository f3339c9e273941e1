use migrate_postgres::{migration, Result};

#[migration(seq = 1)]
fn create_users() -> Result<()> {
    Ok(())
}

fn main() {}
