use migrate_sqlite::{migration, Result, Tx};

struct Connection;

#[migration(seq = 1)]
fn create_users(conn: &Connection) -> Result<()> {
    let _ = conn;
    Ok(())
}

// `Tx` is the right type; it is imported so that only the parameter is wrong.
fn _uses(_: &Tx) {}

fn main() {}
