//! Errors of the SQLite backend. Each says what happened, what state the database was left in,
//! and what to run next.

use std::path::PathBuf;

/// Any error, as [`Error::other`] keeps it.
pub type BoxedError = Box<dyn std::error::Error + Send + Sync>;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A foreign key violation reported by `PRAGMA foreign_key_check`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FkViolation {
    /// Table holding the bad reference.
    pub table: String,
    /// rowid of the row, when the table has one.
    pub rowid: Option<i64>,
    /// The table it should reference.
    pub parent: String,
}

impl std::fmt::Display for FkViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rowid {
            Some(rowid) => write!(f, "{} rowid {} -> {}", self.table, rowid, self.parent),
            None => write!(f, "{} -> {}", self.table, self.parent),
        }
    }
}

/// Errors of `migrate-sqlite`.
///
/// Each message says what happened, what was kept and what to run next. A variant that wraps
/// another error either includes its message or returns it from
/// [`source()`](std::error::Error::source), so `anyhow`'s `{:#}` and error reporters print
/// every cause once. `Debug` prints the
/// message and its causes (as `anyhow` does), so `fn main() -> Result<()>` shows the message,
/// not a struct dump:
///
/// ```
/// use migrate_sqlite::Error;
/// let e = Error::BackupFailed {
///     dir: "/var/backups".into(),
///     error: Box::new(Error::msg("disk full")),
/// };
/// assert_eq!(format!("{e:?}"), e.to_string());
/// assert!(e.to_string().starts_with("could not write a backup into /var/backups: disk full."));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry or plan was refused before anything ran (see [`migrate_core::Error`]).
    #[error(transparent)]
    Core(#[from] migrate_core::Error),

    /// An SQLite call failed (in a migration's own code, or in the runner with no more context).
    /// (Its message is part of this one, so it is not also returned by `source()`.)
    #[error("SQLite: {0}")]
    Sql(rusqlite::Error),

    /// An error raised by a migration's own code with [`Error::msg`].
    #[error("{0}")]
    Message(String),

    /// The runner's own SQL failed; `doing` says at which step.
    /// (SQLite's message is part of this one, so it is not also returned by `source()`.)
    #[error("{doing} failed on {path}: {error}")]
    Runner {
        /// What the runner was doing.
        doing: String,
        /// The database.
        path: String,
        /// SQLite's error.
        error: rusqlite::Error,
    },

    /// The database file could not be opened.
    /// (SQLite's message is part of this one, so it is not also returned by `source()`.)
    #[error("cannot open the database {path}: {error}")]
    Open {
        /// The path.
        path: PathBuf,
        /// SQLite's error.
        error: rusqlite::Error,
    },

    /// A file operation (lock file, backup) failed.
    /// (The OS message is part of this one, so it is not also returned by `source()`.)
    #[error("{doing} {path}: {error}")]
    Io {
        /// What was being done, e.g. "cannot create the lock file".
        doing: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },

    /// Another connection kept the database or the migration lock for longer than the timeout.
    #[error(
        "{path} stayed locked by another connection (another migrator, or a long write by the \
         app) for more than {waited_ms} ms; this run did not start or was stopped where the \
         error says. Wait for it to finish and run again, or raise the timeout \
         (Migrator::busy_timeout; `--busy-timeout-ms` on the command line)"
    )]
    Locked {
        /// The database.
        path: String,
        /// How long we waited.
        waited_ms: u64,
    },

    /// A migration failed; `outcome` says what the run kept, read back from the database.
    ///
    /// The message includes `source`'s, so `source()` does not return it; it returns `cause`,
    /// the error the migration's own code returned through `?` or [`Error::other`] (an I/O or
    /// parse error...), which the message then leaves out.
    #[error(
        "migration {seq} {name:?} (set {set:?}, {direction}) failed: {}\n{outcome}",
        if cause.is_some() { "its own code returned an error (the cause follows)".to_owned() } else { source.to_string() }
    )]
    MigrationFailed {
        /// Its set.
        set: String,
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// Applying or reverting.
        direction: crate::Direction,
        /// What went wrong (with `cause`, only its text: [`Error::Message`]).
        source: Box<Error>,
        /// What was kept, what was rolled back, and what to do next.
        outcome: String,
        /// The migration's own error (see above); `None` for the framework's own errors.
        /// (Boxed twice: a thin pointer keeps every `Result` of this crate small.)
        #[source]
        cause: Option<Box<BoxedError>>,
    },

    /// Every migration succeeded but the final commit failed; SQLite rolled the run back.
    /// `outcome` says what is recorded now and the command to run again.
    /// (The message includes `error`'s, so `source()` does not return it.)
    #[error("the run's final commit failed: {error}\n{outcome}")]
    CommitFailed {
        /// Why the commit failed.
        error: Box<Error>,
        /// What is recorded now.
        outcome: String,
    },

    /// A migration's code panicked; it was rolled back like any failure.
    #[error("the migration's code panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },

    /// A migration ended the runner's transaction itself (possible only around the authorizer,
    /// which refuses COMMIT, ROLLBACK and BEGIN inside transactional migrations).
    #[error(
        "the migration ended the runner's transaction itself{}. Remove that statement: the \
         runner wraps each migration in a savepoint and commits for you. A migration that must \
         run outside a transaction declares `transaction = false`",
        step_error.as_ref().map(|e| format!(" (and then failed: {e})")).unwrap_or_default()
    )]
    TransactionEscaped {
        /// The step's own error, if it also returned one.
        step_error: Option<String>,
    },

    /// The migration ran a statement that would break the runner's transaction; it was refused.
    #[error("refused: {why}")]
    Refused {
        /// What was refused and why.
        why: String,
    },

    /// `PRAGMA foreign_key_check` found violations the migration introduced.
    #[error(
        "the migration left {} new foreign key violation(s): {}{}{}. Note that foreign keys are \
         checked after each migration, not enforced while it runs: ON DELETE CASCADE does not \
         fire inside migrations, so delete or update child rows explicitly",
        violations.len(),
        violations.iter().take(10).map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
        if violations.len() > 10 { ", ..." } else { "" },
        if *already_there > 0 { format!(" ({already_there} older violations were already there and are not blamed on it)") } else { String::new() }
    )]
    ForeignKeyViolations {
        /// The new violations.
        violations: Vec<FkViolation>,
        /// How many violations existed before it ran.
        already_there: usize,
    },

    /// The pre-migration (or requested) backup could not be written; nothing was migrated.
    #[error(
        "could not write a backup into {}: {error}. Nothing was migrated or restored. Free \
         some space or fix the directory's permissions, or choose another directory \
         (Migrator::backup_dir)",
        dir.display()
    )]
    /// (The message includes `error`'s, so `source()` does not return it.)
    BackupFailed {
        /// The backup directory.
        dir: PathBuf,
        /// What went wrong.
        error: Box<Error>,
    },

    /// A backup file failed `quick_check` (or is not a database); it was not used.
    #[error(
        "the backup {} is damaged ({detail}); it was not used and the database was not touched. \
         Pick another backup (`migrate backups` lists them)",
        path.display()
    )]
    BackupDamaged {
        /// The file.
        path: PathBuf,
        /// What `quick_check` or SQLite said.
        detail: String,
    },

    /// A snapshot name that could escape the backup directory or is otherwise unusable.
    #[error("{0}")]
    InvalidSnapshotName(String),

    /// No backup matched.
    #[error("there is no {wanted} in {}; nothing was changed", dir.display())]
    NoBackup {
        /// What was asked for.
        wanted: String,
        /// Where we looked.
        dir: PathBuf,
    },

    /// A migration dropped or deleted data without declaring it; it was rolled back.
    #[error(
        "the migration drops or deletes data without declaring it: {}. If that is intended, \
         declare it (`#[migration(seq = {seq}, destructive)]`), or allow it for this run \
         (`--allow-destructive`). (A table dropped and recreated under the same name \
         in the same migration, with no fewer rows and no column data lost, needs no \
         declaration.)",
        statements.join(", ")
    )]
    UndeclaredDestruction {
        /// What it ran, e.g. `DROP TABLE books`, `DELETE FROM notes`.
        statements: Vec<String>,
        /// Its seq.
        seq: u64,
    },

    /// The row-count guard: a migration left a table with fewer rows than it found, without
    /// declaring that it removes data; it was rolled back.
    ///
    /// ```
    /// use migrate_sqlite::{Error, RowCount};
    /// let e = Error::RowsLost {
    ///     seq: 7,
    ///     tables: vec![RowCount { table: "notes".into(), before: Some(10), after: Some(8) }],
    /// };
    /// assert!(e.to_string().contains("notes 10 -> 8 (2 rows lost)"));
    /// ```
    #[error(
        "the migration left fewer rows than it found: {}, and it does not declare that it \
         removes data. Look for a REPLACE that replaced rows (INSERT or UPDATE OR REPLACE, or a \
         column declared ON CONFLICT REPLACE), or a copy that skipped some. If the rows are meant to go, declare it \
         (`#[migration(seq = {seq}, destructive)]`) or allow it for this run \
         (`--allow-destructive`)",
        tables.iter().map(|c| format!("{c} ({} rows lost)", c.lost().unwrap_or(0))).collect::<Vec<_>>().join(", ")
    )]
    RowsLost {
        /// Its seq.
        seq: u64,
        /// The tables that lost rows, with their counts before and after.
        tables: Vec<crate::RowCount>,
    },

    /// The test harness found a problem with a migration.
    #[error("migration {seq} {name:?}: {problem}")]
    CheckFailed {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// What is wrong.
        problem: String,
    },

    /// A table rebuild ([`Rebuild`](crate::Rebuild), [`Tx::rebuild_table`](crate::Tx::rebuild_table))
    /// failed or was refused; its own work was rolled back.
    ///
    /// ```
    /// let e = migrate_sqlite::Error::Rebuild {
    ///     table: "users".into(),
    ///     step: "checking the row count".into(),
    ///     sql: None,
    ///     detail: "the copy put 9 row(s) into the new table but \"users\" has 10".into(),
    /// };
    /// assert!(e.to_string().starts_with("rebuilding table \"users\" failed while checking"));
    /// ```
    #[error(
        "rebuilding table {table:?} failed while {step}: {detail}{}",
        sql.as_ref().map(|s| format!(" (SQL: {s})")).unwrap_or_default()
    )]
    Rebuild {
        /// The table being rebuilt.
        table: String,
        /// Which step of the rebuild, e.g. "copying the rows".
        step: String,
        /// The statement that failed, when one did.
        sql: Option<String>,
        /// What went wrong.
        detail: String,
    },

    /// A migration step refers to a kind of work this build cannot do.
    #[error("{0}")]
    Unsupported(String),

    /// A command that only reads (or was refused) found no database at the path; no file was
    /// created.
    #[error(
        "no database at {}; nothing was created. Check the path (`--database`); applying the \
         migrations (`migrate up`) is the only command that creates the database",
        path.display()
    )]
    NoDatabase {
        /// The path as given.
        path: PathBuf,
    },

    /// The database path names a directory, not a file.
    #[error(
        "{} is a directory, not a database file; nothing was changed. Give the path of the \
         database file itself (for example {})",
        path.display(),
        path.join("app.db").display()
    )]
    NotAFile {
        /// The path as given.
        path: PathBuf,
    },

    /// The database stayed busy (SQLITE_BUSY) past the timeout in the middle of an operation.
    #[error(
        "{path} stayed locked for more than {waited_ms} ms while {doing}: {held_by}. {outcome} \
         Wait for it to finish and run again, or raise the timeout (Migrator::busy_timeout; \
         `--busy-timeout-ms` on the command line)"
    )]
    Busy {
        /// The database.
        path: String,
        /// How long SQLite's busy handler waited.
        waited_ms: u64,
        /// What was waiting, e.g. "reading the tracking rows".
        doing: String,
        /// Who held it, as far as can be known.
        held_by: String,
        /// What the operation kept, read back where it wrote anything.
        outcome: String,
    },

    /// `down N` asked for more migrations than are applied; refused before anything changed.
    #[error(
        "cannot revert {steps} migration(s): set {set:?} has only {applied} applied; nothing was \
         changed. To revert every applied migration, run `migrate down --to 0` (`down_to(0)`)"
    )]
    DownTooFar {
        /// The set.
        set: String,
        /// How many were asked for.
        steps: usize,
        /// How many are applied.
        applied: usize,
    },

    /// The tracking table is not one this framework can read (another tool's table of the same
    /// name, or a row edited by hand).
    #[error("{path}: {problem}; nothing was changed. {way_out}")]
    TrackingUnreadable {
        /// The database.
        path: String,
        /// What is wrong with which table or row.
        problem: String,
        /// How to get out of it.
        way_out: String,
    },

    /// Adopting a database another tool migrated was refused; nothing was changed.
    #[error("refusing to adopt this database from {tool}; nothing was changed: {reason}")]
    AdoptionRefused {
        /// The tool it was migrated with (`diesel`, `sqlx`, ...).
        tool: String,
        /// Why, and what to do.
        reason: String,
    },

    /// A restore refused its source before anything changed: the live database itself, or a
    /// file that is empty, not SQLite, or holds no migrations of this set.
    ///
    /// ```
    /// # use migrate_sqlite::Error;
    /// let e = Error::RestoreRefused {
    ///     path: "app.db.migrate-lock".into(),
    ///     reason: "it is empty (0 bytes)".into(),
    ///     way_out: "restore one of `migrate backups`".into(),
    /// };
    /// assert!(e.to_string().contains("nothing was changed"));
    /// ```
    #[error(
        "refused to restore from {}: {reason}; nothing was changed. To go on: {way_out}",
        path.display()
    )]
    RestoreRefused {
        /// The file that was to be restored.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
        /// What to do instead, or how to insist.
        way_out: String,
    },

    /// The live database is damaged, so a restore cannot take its undo backup; nothing was
    /// changed. `Session::restore_damaged` (what `migrate restore` does then) keeps the damaged
    /// file aside and restores.
    ///
    /// ```
    /// # use migrate_sqlite::Error;
    /// let e = Error::LiveDatabaseDamaged {
    ///     path: "app.db".into(),
    ///     detail: "file is not a database".into(),
    ///     backup: "app.db.backups/app.db.20261122T104914.123Z.pre-up.db".into(),
    /// };
    /// assert!(e.to_string().contains("keeps the damaged file aside"));
    /// assert!(e.to_string().contains("`migrate restore app.db.backups/app.db.2026"));
    /// ```
    #[error(
        "the live database {} is damaged ({detail}), so no undo backup of it can be taken; \
         nothing was changed. Stop every program that uses it, then run `migrate restore {} \
         --yes`: it keeps the damaged file aside (never deleted) and restores (library: \
         `Session::restore_damaged`)",
        path.display(),
        crate::outcome::shell_word(backup)
    )]
    LiveDatabaseDamaged {
        /// The live database.
        path: PathBuf,
        /// What `quick_check` or SQLite said.
        detail: String,
        /// The backup that was to be restored.
        backup: PathBuf,
    },

    /// A migration removed the values of a column (dropped it, rebuilt its table without it or
    /// without copying it, set it NULL everywhere, or overwrote it in every row without reading
    /// it) without declaring that it removes data; it was rolled back.
    ///
    /// ```
    /// let columns = vec!["people.email".into()];
    /// let e = migrate_sqlite::Error::ColumnDataLost { seq: 4, columns };
    /// assert!(e.to_string().contains("people.email"));
    /// ```
    #[error(
        "the migration removed the values of {} (the column is gone, NULL in every row, or \
         overwritten in every row by an UPDATE in a migration that read nothing of the table), \
         and it does not declare that it removes data. If a rebuild meant to keep it, copy the \
         column into the new table; if the values are meant to go, declare it \
         (`#[migration(seq = {seq}, destructive)]`) or allow it for this run \
         (`--allow-destructive`)",
        columns.join(", ")
    )]
    ColumnDataLost {
        /// Its seq.
        seq: u64,
        /// The columns, as `table.column`.
        columns: Vec<String>,
    },

    /// New foreign key violations point at a parent table that no longer exists: the rename
    /// trap of SQLite 3.26 and later. The migration was rolled back.
    ///
    /// ```
    /// let e = migrate_sqlite::Error::ForeignKeyParentDropped {
    ///     violations: vec![],
    ///     parents: vec!["old_p".into()],
    /// };
    /// assert!(e.to_string().contains("old_p"));
    /// ```
    #[error(
        "the migration left {} child row(s) referencing table(s) {} that no longer exist: {}. \
         This is the rename trap: `ALTER TABLE p RENAME TO {}` made SQLite (3.26 and later) \
         rewrite every child's REFERENCES to the new name, and that table was then dropped. \
         Rename the *new* table instead (create `new_p`, copy, drop `p`, rename `new_p` to \
         `p`: SQLite's documented order, which the `Rebuild` helper, `tx.rebuild_table(..)`, \
         follows), or, for a history written against SQLite before 3.26, declare the migration \
         `legacy_alter_table` (`#[migration(seq = N, legacy_alter_table)]`) so it runs with \
         `PRAGMA legacy_alter_table = ON` as it ran then (the runner puts it back afterwards)",
        violations.len(),
        parents.join(", "),
        violations.iter().take(10).map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
        parents.first().map(String::as_str).unwrap_or("old_p")
    )]
    ForeignKeyParentDropped {
        /// The new violations.
        violations: Vec<FkViolation>,
        /// The referenced tables that do not exist.
        parents: Vec<String>,
    },

    /// A conflict SQLite resolves by ROLLBACK (a constraint declared `ON CONFLICT ROLLBACK`,
    /// `INSERT OR ROLLBACK`, a trigger's `RAISE(ROLLBACK)`) ended the runner's transaction in
    /// the middle of a transactional migration. Everything the run had not committed was rolled
    /// back, and the runner's commit hook refused every statement that would have committed on
    /// its own after it.
    ///
    /// ```
    /// let e = migrate_sqlite::Error::TransactionRolledBack {
    ///     step_error: Some("UNIQUE constraint failed: t.x".into()),
    /// };
    /// assert!(e.to_string().contains("ON CONFLICT ROLLBACK"));
    /// ```
    #[error(
        "SQLite ended the transaction in the middle of the migration{}: a conflict resolved by \
         ROLLBACK (a constraint declared ON CONFLICT ROLLBACK, INSERT or UPDATE OR ROLLBACK, or \
         a trigger's RAISE(ROLLBACK)) rolls back everything the run had not committed yet. \
         Statements after it would each have committed on their own, so the runner refused \
         every one of them: nothing after the conflict was committed. Handle the conflict in \
         the migration (ON CONFLICT ABORT, OR IGNORE, or RAISE(ABORT)) and run it again",
        step_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
    )]
    TransactionRolledBack {
        /// The step's own error, if it returned one (usually the constraint that failed).
        step_error: Option<String>,
    },

    /// A migration left a table whose foreign key SQLite cannot check ("foreign key mismatch":
    /// the referenced columns are neither the parent's primary key nor covered by a unique
    /// index); the migration was rolled back.
    ///
    /// ```
    /// let e = migrate_sqlite::Error::ForeignKeyMismatch { tables: vec!["reviews".into()] };
    /// assert!(e.to_string().contains("reviews"));
    /// ```
    #[error(
        "the migration left foreign keys SQLite cannot check in {} (\"foreign key mismatch\": \
         the columns they reference are neither the parent table's PRIMARY KEY nor covered by a \
         UNIQUE index); it was rolled back. Reference the parent's primary key, or create a \
         UNIQUE index on the referenced columns in the same migration, then run it again",
        tables.join(", ")
    )]
    ForeignKeyMismatch {
        /// The child tables whose foreign keys cannot be checked.
        tables: Vec<String>,
    },

    /// Any other error, raised by a migration's own code with `?` (I/O, parsing...) or
    /// [`Error::other`]. Transparent: its message is the error's. Once the runner reports the
    /// migration as failed, [`Error::MigrationFailed`]'s `source()` returns the error itself.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),

    /// `restore-table`: the table is missing from the backup or from the live database.
    #[error(
        "there is no table {table:?} in {}; nothing was changed. `migrate backups` lists the \
         backups; the table name is the one in the schema (`migrate status` shows the database)",
        place.display()
    )]
    TableNotFound {
        /// The table asked for.
        table: String,
        /// The backup or database it is missing from.
        place: PathBuf,
    },

    /// `restore-table`: the table's shape in the backup is not today's, so its rows cannot be
    /// put back as they are.
    #[error(
        "refused: table {table:?} in the backup {} does not have today's shape ({differences}); \
         nothing was changed. Put back the whole database from that backup instead (`migrate \
         restore {}`), or copy the rows you need by hand",
        backup.display(),
        crate::outcome::shell_word(backup)
    )]
    TableShapeDiffers {
        /// The table.
        table: String,
        /// The backup file.
        backup: PathBuf,
        /// What differs, e.g. `column isbn only today`.
        differences: String,
    },

    /// `restore-table`: the rows put back broke foreign keys; the restore was rolled back.
    #[error(
        "putting back table {table:?} from {} would leave {} foreign key violation(s): {}; it \
         was rolled back and nothing was changed. {advice}",
        backup.display(),
        violations.len(),
        violations.iter().take(10).map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
    )]
    TableRestoreBreaksForeignKeys {
        /// The table.
        table: String,
        /// The backup file.
        backup: PathBuf,
        /// The new violations.
        violations: Vec<FkViolation>,
        /// What to run instead.
        advice: String,
    },

    /// The live database failed SQLite's `quick_check` while its backup was being taken (the
    /// check runs on the state being copied): the database is damaged, not the backup
    /// directory. No backup was written and nothing was migrated.
    #[error(
        "the database {} is damaged: SQLite's quick_check of it found {detail}. No backup was \
         written and nothing was migrated or changed. Stop every program that uses it, then \
         run `migrate restore --yes` (the newest backup; `migrate backups` lists the others, \
         `migrate restore FILE --yes` takes one of them): the damaged file is kept aside",
        path.display()
    )]
    DatabaseDamaged {
        /// The live database.
        path: PathBuf,
        /// What `quick_check` or SQLite said.
        detail: String,
    },

    /// Part-way through a run (under `KeepApplied`, the backup to restore if the next
    /// `transaction = false` migration fails), the live database failed SQLite's
    /// `quick_check`: that migration was not run; the ones before it were already committed.
    ///
    /// ```
    /// let e = migrate_sqlite::Error::DamagedMidRun {
    ///     path: "app.db".into(),
    ///     detail: "database disk image is malformed".into(),
    ///     backup: Some("app.db.backups/app.db.20261122T104914.123Z.pre-up.db".into()),
    /// };
    /// assert!(e.to_string().contains("`migrate restore app.db.backups/app.db.2026"));
    /// assert!(!e.to_string().contains("space"));
    /// ```
    #[error(
        "the database {} is damaged: SQLite's quick_check of it found {detail}, while the backup \
         to restore if the next migration fails was being taken. That migration was not run \
         and no backup was written for it; the migrations this run applied before it were \
         already committed. Stop every program that uses the database, then {}: the damaged \
         file is kept aside",
        path.display(),
        match backup {
            Some(b) => format!(
                "restore the backup taken before this run (`migrate restore {} --yes`)",
                crate::outcome::shell_word(b)
            ),
            None => "restore the newest backup (`migrate restore --yes`; `migrate backups` lists \
                     the others)"
                .to_owned(),
        }
    )]
    DamagedMidRun {
        /// The live database.
        path: PathBuf,
        /// What `quick_check` or SQLite said.
        detail: String,
        /// The backup taken before this run, if one was.
        backup: Option<PathBuf>,
    },

    /// The automatic restore of the one backup of `up --all-sets` after a later set's
    /// `transaction = false` failure was not done: another connection committed to the
    /// database since that backup was taken, and restoring would throw its writes away.
    #[error(
        "the database was not restored automatically from {}: another program (or connection) \
         committed to it since that backup was taken before the first set, and restoring would \
         throw those writes away. Save what must be kept, then restore the backup \
         (`migrate restore {}`)",
        backup.display(), crate::outcome::shell_word(backup)
    )]
    RestoreNotAutomatic {
        /// The run's backup.
        backup: PathBuf,
    },
}

impl Error {
    /// Wraps any error so that `?` works on it inside a migration and its cause is kept
    /// (returned by [`source()`](std::error::Error::source), printed by `Debug`).
    ///
    /// ```
    /// use migrate_sqlite::{Error, Result, Tx};
    /// fn seed_prices(tx: &Tx) -> Result<()> {
    ///     let price: i64 = "12x".parse().map_err(Error::other)?;
    ///     tx.execute("INSERT INTO prices (cents) VALUES (?1)", [price])?;
    ///     Ok(())
    /// }
    /// ```
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Other(error.into())
    }

    /// For [`Error::MigrationFailed`]: the error a step returned, and the cause `source()`
    /// should return (an [`Error::Other`]'s error, whose text then stays out of the message).
    pub(crate) fn split_cause(self) -> (Box<Error>, Option<Box<BoxedError>>) {
        match self {
            Error::Other(cause) => (
                Box::new(Error::Message(cause.to_string())),
                Some(Box::new(cause)),
            ),
            error => (Box::new(error), None),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::Sql(error)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Error {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Error::Other(error)
    }
}

/// `?` on a file read inside a data migration.
impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Other(Box::new(error))
    }
}

/// The message, then each cause on its own line (as `anyhow` prints), instead of a struct dump:
/// this is what `fn main() -> Result<()>` shows. A cause whose text the message already holds
/// (`Runner`, `Open`, `Io` include their SQLite or OS error) is not printed again, nor are its
/// own causes (rusqlite's error repeats its message with the result code).
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut printed = self.to_string();
        f.write_str(&printed)?;
        let mut heading = false;
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let text = error.to_string();
            if printed.contains(&text) {
                break;
            }
            if !heading {
                f.write_str("\n\nCaused by:")?;
                heading = true;
            }
            write!(f, "\n    {text}")?;
            printed.push_str(&text);
            cause = error.source();
        }
        Ok(())
    }
}

impl Error {
    /// An error with a message, for a migration's own checks.
    ///
    /// ```
    /// use migrate_sqlite::{Error, Result, Tx};
    /// fn check_data(tx: &Tx) -> Result<()> {
    ///     if tx.row_count("users")? == 0 {
    ///         return Err(Error::msg("expected at least one user"));
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Message(message.into())
    }
}
