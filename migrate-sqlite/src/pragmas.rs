//! Connection settings the runner changes for a batch, and the ones migrations change, put back
//! on every path.
//!
//! `PRAGMA foreign_keys` is a silent no-op inside a transaction, so it is switched off in
//! autocommit mode before `BEGIN`. A migration's connection-level pragmas (`recursive_triggers`,
//! `synchronous`, `legacy_alter_table`, `cache_size`, ...) would otherwise stay set on the
//! application's connection after the run, and on the next migrations of the run: every one in
//! [`RESTORED`] is read before the run (never assumed: bundled SQLite defaults `foreign_keys` to
//! ON, a system library to OFF), put back after each step that set it, and put back again at the
//! end of the run. `writable_schema` is off while migrations run. (`locking_mode` is refused by
//! the authorizer instead: a migration has no use for it.)

use rusqlite::Connection;
use std::collections::BTreeSet;
use std::time::Duration;

/// The connection-level pragmas a migration may set that the runner puts back. Database-level
/// settings (`user_version`, `journal_mode`, `page_size`, `auto_vacuum`, ...) are part of the
/// file and are a migration's to change.
pub const RESTORED: &[&str] = &[
    "analysis_limit",
    "automatic_index",
    "busy_timeout",
    "cache_size",
    "cache_spill",
    "cell_size_check",
    "checkpoint_fullfsync",
    "defer_foreign_keys",
    "fullfsync",
    "ignore_check_constraints",
    "journal_size_limit",
    "legacy_alter_table",
    "mmap_size",
    "query_only",
    "read_uncommitted",
    "recursive_triggers",
    "reverse_unordered_selects",
    "secure_delete",
    "synchronous",
    "temp_store",
    "threads",
    "trusted_schema",
    "wal_autocheckpoint",
    "writable_schema",
];

/// Restores `foreign_keys` and every pragma of [`RESTORED`] the run changed when dropped.
pub struct PragmaGuard<'c> {
    conn: &'c Connection,
    foreign_keys: bool,
    /// Each pragma of [`RESTORED`] as it was before the run.
    saved: Vec<(&'static str, i64)>,
}

impl<'c> PragmaGuard<'c> {
    /// Reads the current values, turns foreign key enforcement and `writable_schema` off. Must
    /// be called in autocommit mode.
    pub fn foreign_keys_off(conn: &'c Connection) -> rusqlite::Result<Self> {
        debug_assert!(
            conn.is_autocommit(),
            "pragma set inside a transaction is a no-op"
        );
        let foreign_keys = read_flag(conn, "foreign_keys")?;
        let mut saved = Vec::with_capacity(RESTORED.len());
        for &name in RESTORED {
            if let Some(value) = read_value(conn, name)? {
                saved.push((name, value));
            }
        }
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        let guard = PragmaGuard {
            conn,
            foreign_keys,
            saved,
        };
        if guard.saved_value("writable_schema").is_some_and(|v| v != 0) {
            // Writing sqlite_schema directly must take a pragma the authorizer sees.
            conn.execute_batch("PRAGMA writable_schema = OFF")?;
        }
        Ok(guard)
    }

    fn saved_value(&self, name: &str) -> Option<i64> {
        self.saved
            .iter()
            .find(|(saved, _)| *saved == name)
            .map(|(_, value)| *value)
    }

    /// Puts the run's settings back after a migration step that set the pragmas `set`
    /// (lower-case names), so one migration's pragmas do not leak into the next: each as it
    /// was before the run (`writable_schema` off), and, in autocommit mode (after a
    /// non-transactional step), `foreign_keys` off again. One SQLite refuses inside a
    /// transaction is put back at the end of the run.
    pub fn reset_after_step(&self, set: &BTreeSet<String>) -> rusqlite::Result<()> {
        for &(name, value) in &self.saved {
            if !set.contains(name) {
                continue;
            }
            let value = if name == "writable_schema" { 0 } else { value };
            if let Err(e) = self.set(name, value) {
                // synchronous and temp_store cannot change inside a transaction: the end of
                // the run puts them back.
                log::warn!("cannot put PRAGMA {name} back after the step yet: {e}");
            }
        }
        if set.contains("foreign_keys") && self.conn.is_autocommit() {
            self.conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        Ok(())
    }

    fn set(&self, name: &str, value: i64) -> rusqlite::Result<()> {
        self.conn.execute_batch(&format!("PRAGMA {name} = {value}"))
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
            "PRAGMA foreign_keys = {}",
            on_off(self.foreign_keys)
        ))?;
        // Read back rather than remembered: a failed step's pragmas were never reported.
        for &(name, value) in &self.saved {
            if read_value(self.conn, name)? != Some(value) {
                self.set(name, value)?;
            }
        }
        Ok(())
    }
}

impl Drop for PragmaGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.apply() {
            log::error!("cannot restore the connection's pragmas: {e}");
        }
    }
}

/// Reads an integer pragma; `None` when this build does not have it.
fn read_value(conn: &Connection, pragma: &str) -> rusqlite::Result<Option<i64>> {
    let mut stmt = conn.prepare(&format!("PRAGMA {pragma}"))?;
    let mut rows = stmt.query([])?;
    match rows.next()? {
        Some(row) => Ok(row.get::<_, i64>(0).ok()),
        None => Ok(None),
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
