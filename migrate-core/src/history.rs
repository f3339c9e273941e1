//! The history a backend keeps: one event per act of a run (applied, reverted, failed, drift
//! found, checksum accepted), with the row counts of the tables a migration touched. Every
//! backend writes and reads back these values.

/// The rows of one user table before and after a migration (`None`: the table did not exist).
///
/// ```
/// use migrate_core::RowCount;
/// let count = RowCount { table: "notes".into(), before: None, after: Some(0) };
/// assert!(count.changed());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowCount {
    /// The table.
    pub table: String,
    /// Its rows before the migration.
    pub before: Option<u64>,
    /// Its rows after the migration.
    pub after: Option<u64>,
}

impl RowCount {
    /// True when the table was created, dropped, or its number of rows changed.
    ///
    /// ```
    /// use migrate_core::RowCount;
    /// let same = RowCount { table: "notes".into(), before: Some(3), after: Some(3) };
    /// assert!(!same.changed());
    /// ```
    pub fn changed(&self) -> bool {
        self.before != self.after
    }

    /// The rows the table lost, when it existed before and after and has fewer rows now.
    ///
    /// ```
    /// use migrate_core::RowCount;
    /// let shrunk = RowCount { table: "notes".into(), before: Some(10), after: Some(7) };
    /// assert_eq!(shrunk.lost(), Some(3));
    /// let dropped = RowCount { table: "notes".into(), before: Some(10), after: None };
    /// assert_eq!(dropped.lost(), None);
    /// ```
    pub fn lost(&self) -> Option<u64> {
        match (self.before, self.after) {
            (Some(before), Some(after)) if after < before => Some(before - after),
            _ => None,
        }
    }
}

impl std::fmt::Display for RowCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = |n: Option<u64>| n.map_or("-".to_owned(), |n| n.to_string());
        write!(
            f,
            "{} {} -> {}",
            self.table,
            rows(self.before),
            rows(self.after)
        )
    }
}

/// One event of the history table.
///
/// ```
/// let e = migrate_core::HistoryEvent { set: "default".into(), action: "up".into(), ..Default::default() };
/// assert!(e.row_counts.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryEvent {
    /// The set.
    pub set: String,
    /// The migration, if the event is about one.
    pub seq: Option<u64>,
    /// Its name.
    pub name: Option<String>,
    /// `up`, `down`, `start`, `accept-checksum`, `run`.
    pub action: String,
    /// `ok`, `failed`, `rolled-back`.
    pub outcome: String,
    /// Error text or other detail.
    pub detail: Option<String>,
    /// How long it took.
    pub duration_ms: Option<u64>,
    /// The backup taken before the run, once backups exist.
    pub backup_path: Option<String>,
    /// Rows of the tables a migration touched, before and after it (the row-count guard).
    pub row_counts: Vec<RowCount>,
}

/// A history row as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// Row id, increasing.
    pub id: i64,
    /// When (UTC).
    pub at: String,
    /// The event.
    pub event: HistoryEvent,
    /// Who wrote it.
    pub applied_by: String,
}

/// One tracking row with the details `status` shows, as a backend reads it back.
///
/// ```
/// use migrate_core::{AppliedRow, RecordedRow, RowState};
/// let row = RecordedRow {
///     row: AppliedRow { seq: 1, name: "a".into(), checksum: "c".into(), state: RowState::Applied },
///     applied_at: "2026-12-01 15:00:00.000".into(),
///     duration_ms: 3,
///     applied_by: "migrate".into(),
///     fingerprint: None,
/// };
/// assert_eq!(row.row.seq, 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRow {
    /// The core's view of the row.
    pub row: crate::AppliedRow,
    /// When it was applied (UTC).
    pub applied_at: String,
    /// How long it took.
    pub duration_ms: u64,
    /// Framework and app version that applied it.
    pub applied_by: String,
    /// Schema fingerprint after it, when recorded.
    pub fingerprint: Option<String>,
}

/// What a tracking row records about a migration: the values both backends write into their
/// `_migrate_applied` table when a migration is applied or marked started.
///
/// ```
/// let row = migrate_core::RowValues {
///     set: "default",
///     seq: 3,
///     name: "add_email",
///     checksum: "v1:0123456789abcdef".into(),
///     duration_ms: 12,
///     applied_by: "migrate-sqlite 0.1.0",
/// };
/// assert_eq!(row.seq, 3);
/// ```
#[derive(Clone, Debug)]
pub struct RowValues<'a> {
    /// The set.
    pub set: &'a str,
    /// The migration's seq.
    pub seq: u64,
    /// Its name.
    pub name: &'a str,
    /// Its checksum, as text.
    pub checksum: String,
    /// How long it ran.
    pub duration_ms: u64,
    /// Framework and app version.
    pub applied_by: &'a str,
}
