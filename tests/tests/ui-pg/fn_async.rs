use migrate_postgres::{migration, Result, Tx};

#[migration(seq = 1)]
async fn create_users(tx: &mut Tx<'_>) -> Result<()> {
    tx.batch_execute("CREATE TABLE users (id bigint PRIMARY KEY)")
}

fn main() {}
