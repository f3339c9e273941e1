use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1)]
fn create_users(tx: &Tx) -> Result<()>
where
    for<'a> &'a Tx<'a>: Sized,
{
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

fn main() {}
