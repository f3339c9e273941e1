use migrate_postgres::{migration, Result, Tx};

#[migration(seq = 1, set = "app")]
fn create_users(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("CREATE TABLE users (id bigint PRIMARY KEY)")
}

// The same seq in another set is fine.
#[migration(seq = 1, set = "audit")]
fn create_log(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("CREATE TABLE log (id bigint PRIMARY KEY)")
}

mod more {
    use migrate_postgres::{migration, Result, Tx};

    #[migration(seq = 1, set = "app")]
    fn create_posts(tx: &mut Tx) -> Result<()> {
        tx.batch_execute("CREATE TABLE posts (id bigint PRIMARY KEY)")
    }
}

fn main() {}
