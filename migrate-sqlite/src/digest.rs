//! A digest of a set's tracking rows, kept in `_migrate_state`, so that a start with nothing to
//! do reads one row instead of every tracking row. Triggers clear it whenever `_migrate_applied`
//! changes (the runner's writes and anyone's hand edits alike); the runner writes a fresh one
//! before each commit. No digest, or a different one, only means "take the full path".

use crate::Step;
use migrate_core::{ChecksumHasher, Registry};
use rusqlite::{Connection, OptionalExtension};
use std::fmt::{self, Write};

/// The digest the database would hold if exactly this registry were applied.
pub fn of_registry(registry: &Registry<Step>) -> String {
    let mut hasher = ChecksumHasher::new();
    for m in registry.migrations() {
        write_row(&mut hasher, m.seq, &m.name, &m.checksum);
    }
    hasher.finish().to_string()
}

/// One row into the hash, formatted straight into it (no allocation per row).
fn write_row(hasher: &mut ChecksumHasher, seq: u64, name: &str, checksum: &dyn fmt::Display) {
    struct HashInto<'h>(&'h mut ChecksumHasher);
    impl fmt::Write for HashInto<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    // Writing into a hasher cannot fail.
    let _ = writeln!(HashInto(hasher), "{seq}\t{name}\t{checksum}");
}

/// The stored digest of `set`, if there is one.
pub fn stored(conn: &Connection, set: &str) -> rusqlite::Result<Option<String>> {
    let found = conn
        .prepare_cached("SELECT digest FROM _migrate_state WHERE set_name = ?1")
        .and_then(|mut stmt| stmt.query_row([set], |row| row.get(0)).optional());
    match found {
        Err(rusqlite::Error::SqliteFailure(_, Some(message)))
            if message.starts_with("no such table") =>
        {
            Ok(None)
        }
        other => other,
    }
}

/// Recomputes and stores the digest of `set` from its rows (none while a row is not applied).
pub fn store(conn: &Connection, set: &str) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, name, checksum, state = 'applied' FROM _migrate_applied
         WHERE set_name = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([set])?;
    let mut hasher = ChecksumHasher::new();
    while let Some(row) = rows.next()? {
        if !row.get::<_, bool>(3)? {
            return Ok(());
        }
        let seq: i64 = row.get(0)?;
        let (name, checksum): (String, String) = (row.get(1)?, row.get(2)?);
        write_row(&mut hasher, seq as u64, &name, &checksum);
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO _migrate_state (set_name, digest) VALUES (?1, ?2)",
    )?
    .execute([set, &hasher.finish().to_string()])?;
    Ok(())
}
