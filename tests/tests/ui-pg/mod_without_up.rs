use migrate_postgres::migration;

#[migration(seq = 1)]
mod create_users {
    use migrate_postgres::{Result, Tx};

    pub fn forward(tx: &mut Tx) -> Result<()> {
        tx.batch_execute("CREATE TABLE users (id bigint PRIMARY KEY)")
    }
}

fn main() {}
