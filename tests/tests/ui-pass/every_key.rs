//! Every key of the attribute, in both forms, compiles and registers what it says.

use migrate_sqlite::{migration, Flags, Result, TxMode, Tx};

/// Forward-only, outside any transaction.
#[migration(seq = 1, set = "every_key", name = "vacuum", transaction = false)]
fn compact(tx: &Tx) -> Result<()> {
    tx.execute_batch("VACUUM")?;
    Ok(())
}

/// Reversible through `down = ...`, with both flags.
#[migration(
    seq = 2,
    set = "every_key",
    down = self::steps::drop_users,
    destructive,
    rebuild = true,
    crate = ::migrate_sqlite,
)]
fn create_users(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

mod steps {
    use migrate_sqlite::{Result, Tx};

    pub fn drop_users(tx: &Tx) -> Result<()> {
        tx.execute_batch("DROP TABLE users")?;
        Ok(())
    }
}

/// A module whose steps are private, with a raw identifier as its name.
#[migration(seq = 3, set = "every_key", destructive = false, transaction = true, legacy_alter_table)]
mod r#type {
    use migrate_sqlite::{Result, Tx};

    fn up(tx: &Tx<'_>) -> Result<()> {
        tx.execute_batch("CREATE TABLE kinds (id INTEGER PRIMARY KEY)")?;
        Ok(())
    }

    fn down(tx: &Tx<'_>) -> Result<()> {
        tx.execute_batch("DROP TABLE kinds")?;
        Ok(())
    }
}

fn main() {
    let mut found = migrate_sqlite::registered("every_key");
    found.sort_by_key(|m| m.seq);
    let summary: Vec<_> = found
        .iter()
        .map(|m| (m.seq, m.name.as_str(), m.mode, m.is_reversible(), m.flags))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "vacuum", TxMode::NonTransactional, false, Flags::NONE),
            (
                2,
                "create_users",
                TxMode::Transactional,
                true,
                Flags::NONE.with_destructive(true).with_rebuilds_tables(true),
            ),
            (
                3,
                "type",
                TxMode::Transactional,
                true,
                Flags::NONE.with_legacy_alter_table(true),
            ),
        ]
    );
    assert_eq!(found[0].description, "Forward-only, outside any transaction.");
}
