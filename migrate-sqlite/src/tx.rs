//! The handle a migration step receives.

use rusqlite::Connection;
use std::ops::Deref;

/// The connection a migration runs on, inside its savepoint (or outside any transaction for a
/// `transaction = false` migration). Derefs to [`rusqlite::Connection`].
///
/// ```
/// use migrate_sqlite::{Result, Tx};
/// fn add_index(tx: &Tx) -> Result<()> {
///     tx.execute_batch("CREATE INDEX notes_body ON notes (body)")?;
///     Ok(())
/// }
/// ```
pub struct Tx<'c> {
    conn: &'c Connection,
    seq: u64,
    name: &'c str,
}

impl<'c> Tx<'c> {
    pub(crate) fn new(conn: &'c Connection, seq: u64, name: &'c str) -> Self {
        Tx { conn, seq, name }
    }

    /// The seq of the migration being run.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The name of the migration being run.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Number of rows in `table`.
    ///
    /// ```
    /// # use migrate_sqlite::{Result, Tx};
    /// fn check(tx: &Tx) -> Result<()> {
    ///     let before = tx.row_count("notes")?;
    ///     # let _ = before;
    ///     Ok(())
    /// }
    /// ```
    pub fn row_count(&self, table: &str) -> crate::Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(table));
        let count: i64 = self.conn.query_row(&sql, [], |row| row.get(0))?;
        Ok(count as u64)
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// `name` as an SQL identifier, double quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
