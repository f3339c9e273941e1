use migrate_sqlite::{migration, Result, Tx};

#[migration(seq = 1, transaction = "no")]
fn vacuum(tx: &Tx) -> Result<()> {
    tx.execute_batch("VACUUM")?;
    Ok(())
}

fn main() {}
