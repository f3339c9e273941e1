//! Connection settings the runner changes for a batch and must put back on every path.
//!
//! `PRAGMA foreign_keys` is a silent no-op inside a transaction, so it is switched off in
//! autocommit mode before `BEGIN`; `legacy_alter_table` survives `COMMIT`, so a migration that
//! turned it on must not leave it on. The values are read first (bundled SQLite defaults
//! `foreign_keys` to ON, a system library to OFF: never assume) and restored when the guard drops.

use rusqlite::Connection;
use std::time::Duration;

/// Restores `foreign_keys` and `legacy_alter_table` when dropped.
pub struct PragmaGuard<'c> {
    conn: &'c Connection,
    foreign_keys: bool,
    legacy_alter_table: bool,
}

impl<'c> PragmaGuard<'c> {
    /// Reads the current values and turns foreign key enforcement off. Must be called in
    /// autocommit mode.
    pub fn foreign_keys_off(conn: &'c Connection) -> rusqlite::Result<Self> {
        debug_assert!(
            conn.is_autocommit(),
            "pragma set inside a transaction is a no-op"
        );
        let foreign_keys = read_flag(conn, "foreign_keys")?;
        let legacy_alter_table = read_flag(conn, "legacy_alter_table")?;
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        Ok(PragmaGuard {
            conn,
            foreign_keys,
            legacy_alter_table,
        })
    }

    /// Puts the run's settings back after a migration step, so one migration's pragmas do not
    /// leak into the next: `legacy_alter_table` as it was before the run, and, in autocommit
    /// mode (after a non-transactional step), `foreign_keys` off again.
    pub fn reset_after_step(&self) -> rusqlite::Result<()> {
        self.conn.execute_batch(&format!(
            "PRAGMA legacy_alter_table = {}",
            on_off(self.legacy_alter_table)
        ))?;
        if self.conn.is_autocommit() {
            self.conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        Ok(())
    }

    /// Restores the values now, reporting failure (drop only logs it).
    pub fn restore(self) -> rusqlite::Result<()> {
        let result = self.apply();
        std::mem::forget(self);
        result
    }

    fn apply(&self) -> rusqlite::Result<()> {
        if !self.conn.is_autocommit() {
            // A transaction left open by an error path: end it, or the pragma is ignored.
            self.conn.execute_batch("ROLLBACK")?;
        }
        self.conn.execute_batch(&format!(
            "PRAGMA foreign_keys = {}; PRAGMA legacy_alter_table = {};",
            on_off(self.foreign_keys),
            on_off(self.legacy_alter_table)
        ))
    }
}

impl Drop for PragmaGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.apply() {
            log::error!("cannot restore foreign_keys/legacy_alter_table: {e}");
        }
    }
}

/// Reads a boolean pragma.
pub fn read_flag(conn: &Connection, pragma: &str) -> rusqlite::Result<bool> {
    conn.query_row(&format!("PRAGMA {pragma}"), [], |row| row.get::<_, i64>(0))
        .map(|v| v != 0)
}

fn on_off(on: bool) -> &'static str {
    if on { "ON" } else { "OFF" }
}

/// Sets the connection's busy timeout for one operation and puts the caller's back afterwards.
pub struct BusyTimeout<'c> {
    conn: &'c Connection,
    previous: Duration,
}

impl<'c> BusyTimeout<'c> {
    /// Reads the current timeout and sets `timeout`.
    pub fn set(conn: &'c Connection, timeout: Duration) -> rusqlite::Result<Self> {
        let previous = busy_timeout(conn)?;
        conn.busy_timeout(timeout)?;
        Ok(BusyTimeout { conn, previous })
    }
}

impl Drop for BusyTimeout<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.busy_timeout(self.previous) {
            log::error!("cannot restore busy_timeout: {e}");
        }
    }
}

/// The connection's current busy timeout.
pub fn busy_timeout(conn: &Connection) -> rusqlite::Result<Duration> {
    let ms: i64 = conn.query_row("PRAGMA busy_timeout", [], |row| row.get(0))?;
    Ok(Duration::from_millis(ms.max(0) as u64))
}
