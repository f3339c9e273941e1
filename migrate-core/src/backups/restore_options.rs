//! What a restore may accept besides this database's own backups.

/// Options of a restore. By default only a backup of this database is restored (one of the
/// backup directory's files, or a file that holds this set's tracking table); a foreign file
/// would replace the database with another application's content.
///
/// ```
/// let options = migrate_core::backups::RestoreOptions::default().allow_foreign_source();
/// assert!(options.allow_foreign_source);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Restore the file whatever it holds (it must still pass the backend's verification: a
    /// SQLite `quick_check`, a complete read of a PostgreSQL dump).
    pub allow_foreign_source: bool,
}

impl RestoreOptions {
    /// Restore the file whatever it holds.
    ///
    /// ```
    /// let options = migrate_core::backups::RestoreOptions::default().allow_foreign_source();
    /// # let _ = options;
    /// ```
    pub fn allow_foreign_source(mut self) -> Self {
        self.allow_foreign_source = true;
        self
    }
}
