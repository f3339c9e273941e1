//! When a table counts as big for the dry run's warnings.

/// Thresholds of the dry run's size-based warnings (an index built without `CONCURRENTLY`,
/// ACCESS EXCLUSIVE held): a table is big from `big_table_bytes` (`pg_total_relation_size`)
/// or `big_table_rows` rows, whichever comes first. Default: 10 MB or 100,000 rows.
///
/// ```
/// use migrate_postgres::DryRunOptions;
/// let strict = DryRunOptions::default().big_table_bytes(1024 * 1024).big_table_rows(1000);
/// assert!(strict.is_big(2 * 1024 * 1024, 10));
/// assert!(strict.is_big(0, 1000));
/// assert!(!DryRunOptions::default().is_big(8192, 10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DryRunOptions {
    big_bytes: i64,
    big_rows: u64,
}

impl Default for DryRunOptions {
    fn default() -> Self {
        DryRunOptions {
            big_bytes: 10 * 1024 * 1024,
            big_rows: 100_000,
        }
    }
}

impl DryRunOptions {
    /// A table of at least `bytes` is big.
    ///
    /// ```
    /// let _ = migrate_postgres::DryRunOptions::default().big_table_bytes(100 * 1024 * 1024);
    /// ```
    pub fn big_table_bytes(mut self, bytes: i64) -> Self {
        self.big_bytes = bytes;
        self
    }

    /// A table of at least `rows` rows is big.
    ///
    /// ```
    /// let _ = migrate_postgres::DryRunOptions::default().big_table_rows(1_000_000);
    /// ```
    pub fn big_table_rows(mut self, rows: u64) -> Self {
        self.big_rows = rows;
        self
    }

    /// True when a table of `bytes` and `rows` is big.
    ///
    /// ```
    /// assert!(migrate_postgres::DryRunOptions::default().is_big(20 * 1024 * 1024, 0));
    /// ```
    pub fn is_big(&self, bytes: i64, rows: u64) -> bool {
        bytes >= self.big_bytes || rows >= self.big_rows
    }
}
