//! The checksum `#[migration]` records is a hash of the `up` step's code that formatting does
//! not change (whitespace, comments, trailing commas, rustfmt's layout) and any real edit does.
//!
//! Each migration below is alone in its set, so `registered(set)` finds exactly it.

use migrate_sqlite::{Checksum, Result, Tx, migration};

fn checksum_of(set: &str) -> Checksum {
    let found = migrate_sqlite::registered(set);
    assert_eq!(found.len(), 1, "set {set:?} has one migration");
    found[0].checksum
}

/// The reference, as rustfmt writes it.
#[migration(seq = 1, set = "checksum_tidy")]
fn seed_tidy(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = -1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

// The same code written carelessly: other whitespace and line breaks, comments, trailing
// commas, a comma after a block match arm, `=-1`, a doc comment, another name, `pub`.
/// A different doc comment: not part of the checksum.
#[rustfmt::skip]
#[migration(seq = 1, set = "checksum_ugly")]
pub fn seed_ugly(
    tx : & Tx ,
)
-> Result < ( ) >
{
    // a comment
    tx.execute_batch("CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",)?;   /* another comment */
    let rows = [ (1,250), (2,-1), (3,1_000), ];
    for (id,cents) in rows { match cents { c if c<0 => {}, _ => { tx.execute("INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)", (id, cents, "seed",),)?; }, } }


    let negative =-1;
    tx.execute( "DELETE FROM prices WHERE cents = ?1" , [ negative ] ) ? ;
    Ok( () )
}

/// The same `up` in the module form, with a `down`: neither the form nor `down` counts.
#[migration(seq = 1, set = "checksum_module")]
mod seed_module {
    use migrate_sqlite::{Result, Tx};

    pub fn up(tx: &Tx) -> Result<()> {
        tx.execute_batch(
            "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",
        )?;
        let rows = [(1, 250), (2, -1), (3, 1_000)];
        for (id, cents) in rows {
            match cents {
                c if c < 0 => {}
                _ => {
                    tx.execute(
                        "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                        (id, cents, "seed"),
                    )?;
                }
            }
        }
        let negative = -1;
        tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
        Ok(())
    }

    pub fn down(tx: &Tx) -> Result<()> {
        tx.execute_batch("DROP TABLE prices")?;
        Ok(())
    }
}

/// A real change: one word of SQL.
#[migration(seq = 1, set = "checksum_sql_changed")]
fn seed_sql_changed(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE UNIQUE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = -1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

/// A real change: a sign (`-1` to `1`).
#[migration(seq = 1, set = "checksum_code_changed")]
fn seed_code_changed(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = 1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

/// A real change inside a string's whitespace: SQL text is data, kept as written.
#[migration(seq = 1, set = "checksum_string_changed")]
fn seed_string_changed(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
        CREATE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = -1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

/// A tiny migration whose checksum is pinned below.
#[migration(seq = 1, set = "checksum_pinned")]
fn create_t(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

#[test]
fn formatting_does_not_change_the_checksum() {
    assert_eq!(checksum_of("checksum_tidy"), checksum_of("checksum_ugly"));
}

#[test]
fn the_form_and_the_down_step_do_not_change_the_checksum() {
    assert_eq!(checksum_of("checksum_tidy"), checksum_of("checksum_module"));
}

#[test]
fn real_changes_change_the_checksum() {
    let reference = checksum_of("checksum_tidy");
    for set in [
        "checksum_sql_changed",
        "checksum_code_changed",
        "checksum_string_changed",
    ] {
        assert_ne!(reference, checksum_of(set), "{set}");
    }
}

/// Checksums are stored in databases: the same code must hash to the same value in every build
/// and release. If this fails, the serialization changed: bump `CHECKSUM_VERSION` in
/// migrate-core (so stored checksums read as "older algorithm", not "modified migration") and
/// pin the new value.
#[test]
fn the_checksum_is_pinned_across_builds() {
    assert_eq!(
        checksum_of("checksum_pinned").to_string(),
        "v1:5ceaa5bea644e799"
    );
}
