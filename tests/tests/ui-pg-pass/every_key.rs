//! A crate that depends on migrate-postgres alone: every key of the attribute, in both forms,
//! compiles and registers what it says.

use migrate_postgres::{migration, Flags, Result, Tx, TxMode};

/// Creates the users table.
#[migration(seq = 1, set = "pg_every_key", down = drop_users)]
fn create_users(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("CREATE TABLE users (id bigint PRIMARY KEY)")
}

fn drop_users(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("DROP TABLE users")
}

/// Outside any transaction, one statement at a time.
#[migration(seq = 2, set = "pg_every_key", transaction = false, name = "index_users")]
fn users_index(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS users_id ON users (id)")
}

/// Reversible module form, with both flags and an explicit crate path.
#[migration(seq = 3, set = "pg_every_key", destructive, rebuild = true, crate = ::migrate_postgres)]
mod add_email {
    use migrate_postgres::{Result, Tx};

    pub fn up(tx: &mut Tx) -> Result<()> {
        tx.batch_execute("ALTER TABLE users ADD COLUMN email text")
    }

    pub fn down(tx: &mut Tx) -> Result<()> {
        tx.batch_execute("ALTER TABLE users DROP COLUMN email")
    }
}

fn main() {
    let mut found = migrate_postgres::registered("pg_every_key");
    found.sort_by_key(|m| m.seq);
    let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["create_users", "index_users", "add_email"]);
    assert!(found[0].down.is_some());
    assert_eq!(found[1].mode, TxMode::NonTransactional);
    assert_eq!(found[2].flags, Flags::NONE.with_destructive(true).with_rebuilds_tables(true));
    assert_eq!(found[0].description, "Creates the users table.");
    // The SQLite backend does not see PostgreSQL migrations.
    assert!(migrate_sqlite::registered("pg_every_key").is_empty());
}
