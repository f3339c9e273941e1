//! A digest of a set's tracking rows, kept in `_migrate_state`, so that a start with nothing to
//! do reads one row instead of every tracking row. Triggers clear it whenever `_migrate_applied`
//! changes (the runner's writes and anyone's hand edits alike); the runner writes a fresh one
//! before each commit. No digest, or a different one, only means "take the full path".
//!
//! It covers each row's seq and checksum, not its name: a migration renamed in the code (same
//! checksum) changes nothing to apply, accept or refuse, so it must not send every later start
//! down the full path.

use crate::Step;
use migrate_core::{Checksum, ChecksumHasher, Registry};
use rusqlite::{Connection, OptionalExtension};
use std::fmt::{self, Write};

/// The digest the database would hold if exactly this registry were applied.
pub fn of_registry(registry: &Registry<Step>) -> String {
    let mut hasher = ChecksumHasher::new();
    let mut line = [0u8; ROW_MAX];
    for m in registry.migrations() {
        hasher.write(row_bytes(&mut line, m.seq, &m.checksum));
    }
    hasher.finish().to_string()
}

/// The longest row: a 20-digit seq, a tab, `v255:`, 16 hex digits, a newline.
const ROW_MAX: usize = 20 + 1 + 5 + 16 + 1;

/// The row `write_row` formats (`{seq}\t{checksum}\n`), built by hand: a no-op start hashes one
/// per migration, and the formatting machinery was most of the digest's cost.
fn row_bytes<'b>(line: &'b mut [u8; ROW_MAX], seq: u64, checksum: &Checksum) -> &'b [u8] {
    fn decimal(out: &mut [u8], at: usize, mut n: u64) -> usize {
        let mut digits = [0u8; 20];
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            out[at + i] = digits[len - 1 - i];
        }
        at + len
    }
    let mut at = decimal(line, 0, seq);
    line[at] = b'\t';
    line[at + 1] = b'v';
    at = decimal(line, at + 2, u64::from(checksum.version()));
    line[at] = b':';
    at += 1;
    let value = checksum.value();
    for i in 0..16 {
        line[at + i] = b"0123456789abcdef"[((value >> (60 - 4 * i)) & 0xf) as usize];
    }
    at += 16;
    line[at] = b'\n';
    &line[..at + 1]
}

/// One row into the hash, formatted straight into it (no allocation per row).
fn write_row(hasher: &mut ChecksumHasher, seq: u64, checksum: &dyn fmt::Display) {
    struct HashInto<'h>(&'h mut ChecksumHasher);
    impl fmt::Write for HashInto<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    // Writing into a hasher cannot fail.
    let _ = writeln!(HashInto(hasher), "{seq}\t{checksum}");
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
        "SELECT seq, checksum, state = 'applied' FROM _migrate_applied
         WHERE set_name = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([set])?;
    let mut hasher = ChecksumHasher::new();
    while let Some(row) = rows.next()? {
        if !row.get::<_, bool>(2)? {
            return Ok(());
        }
        let seq: i64 = row.get(0)?;
        let checksum: String = row.get(1)?;
        write_row(&mut hasher, seq as u64, &checksum);
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO _migrate_state (set_name, digest) VALUES (?1, ?2)",
    )?
    .execute([set, &hasher.finish().to_string()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Migration, Migrator};

    /// Migration 1 under `name`, with the checksum of `sql` (as `#[migration]` computes it
    /// from the code, not the name).
    fn migration(name: &str, sql: &'static str) -> Migration {
        Migration::new(1, name, Step::sql(sql)).with_checksum(Checksum::of_text(sql))
    }

    fn registry(name: &str, sql: &'static str) -> Registry<Step> {
        Migrator::new()
            .with_migrations([migration(name, sql)])
            .registry()
            .unwrap()
    }

    #[test]
    fn rows_built_by_hand_are_the_formatted_rows() {
        let mut line = [0u8; ROW_MAX];
        for (seq, version, value) in [
            (0, 1, 0),
            (1, 1, 0x0123_4567_89ab_cdef),
            (42, 9, u64::MAX),
            (1_000_000, 10, 0xf),
            (u64::MAX, u8::MAX, 0x8000_0000_0000_0000),
        ] {
            let checksum = Checksum::from_parts(version, value);
            let formatted = format!("{seq}\t{checksum}\n");
            assert_eq!(row_bytes(&mut line, seq, &checksum), formatted.as_bytes());
        }
    }

    #[test]
    fn a_renamed_migration_keeps_the_digest_and_a_changed_one_does_not() {
        let mut conn = Connection::open_in_memory().unwrap();
        let sql = "CREATE TABLE t (x)";
        Migrator::new()
            .with_migrations([migration("t", sql)])
            .on(&mut conn)
            .unwrap()
            .up()
            .unwrap();
        let stored = stored(&conn, "default").unwrap();
        assert_eq!(stored, Some(of_registry(&registry("t", sql))));
        assert_eq!(stored, Some(of_registry(&registry("create_t", sql))));
        let changed = registry("t", "CREATE TABLE t (y)");
        assert_ne!(stored, Some(of_registry(&changed)));
    }
}
