use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_users() -> Result<()> {
    Ok(())
}

fn _uses(_: &Tx) {}

fn main() {}
