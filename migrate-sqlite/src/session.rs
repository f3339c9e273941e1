//! An open database with its migrations: the operations users call.

use crate::backup::{self, BackupKind, RestoreOptions};
use crate::fingerprint::{self, SchemaDiff};
use crate::pragmas::BusyTimeout;
use crate::report::StatusReport;
use crate::resolve::{self, Resolution};
use crate::runner::{self, Operation};
use crate::tracking::{self, HistoryRow};
use crate::{
    BackupInfo, Error, Migration, Migrator, RestoreFrom, RestoreReport, Result, RunReport, Step,
};
use migrate_core::{DownTarget, Plan, Registry};
use rusqlite::Connection;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

/// A connection the session owns or borrows.
pub(crate) enum Conn<'c> {
    Owned(Connection),
    Borrowed(&'c mut Connection),
}

impl Deref for Conn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Conn::Owned(conn) => conn,
            Conn::Borrowed(conn) => conn,
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            Conn::Owned(conn) => conn,
            Conn::Borrowed(conn) => conn,
        }
    }
}

/// A database opened by a [`Migrator`], with its validated migrations.
///
/// ```
/// use migrate_sqlite::{Migration, Migrator, Step};
/// let dir = tempfile::tempdir()?;
/// let migrator = Migrator::new().with_migrations([
///     Migration::new(1, "create_notes", Step::sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
///         .with_down(Step::sql("DROP TABLE notes")),
///     Migration::new(2, "add_body", Step::sql("ALTER TABLE notes ADD COLUMN body TEXT"))
///         .with_down(Step::sql("ALTER TABLE notes DROP COLUMN body")),
/// ]);
/// let mut db = migrator.open(dir.path().join("notes.db"))?;
/// db.up_to(1)?;
/// db.up()?;
/// db.redo()?;
/// db.down(1)?;
/// assert_eq!(db.status()?.current, Some(1));
/// db.down_to(0)?;
/// assert_eq!(db.status()?.current, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Session<'c> {
    conn: Conn<'c>,
    registry: Registry<Step>,
    config: Migrator,
    path: Option<PathBuf>,
}

impl<'c> Session<'c> {
    /// `path` is the database file as the caller named it (None in memory).
    pub(crate) fn new(
        conn: Conn<'c>,
        registry: Registry<Step>,
        config: Migrator,
        path: Option<PathBuf>,
    ) -> Self {
        Session {
            conn,
            registry,
            config,
            path,
        }
    }

    /// Applies every pending migration.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up()?;
    /// assert_eq!(db.status()?.current, Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn up(&mut self) -> Result<RunReport> {
        self.run(Operation::Up(None))
    }

    /// Applies pending migrations up to and including `seq`.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// let report = db.up_to(2)?;
    /// assert_eq!(report.after, Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn up_to(&mut self, seq: u64) -> Result<RunReport> {
        self.run(Operation::Up(Some(seq)))
    }

    /// Reverts the last `steps` applied migrations.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up()?;
    /// assert_eq!(db.down(2)?.after, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn down(&mut self, steps: usize) -> Result<RunReport> {
        self.run(Operation::Down(DownTarget::Steps(steps)))
    }

    /// Reverts every applied migration above `seq` (0 reverts all).
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up()?;
    /// assert_eq!(db.down_to(0)?.after, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn down_to(&mut self, seq: u64) -> Result<RunReport> {
        self.run(Operation::Down(DownTarget::To(seq)))
    }

    /// Reverts the last applied migration and applies it again, in one transaction.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up()?;
    /// let report = db.redo()?;
    /// assert_eq!(report.steps.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redo(&mut self) -> Result<RunReport> {
        self.run(Operation::Redo)
    }

    /// Settles a non-transactional migration that started and never finished, after you
    /// checked the database: [`Resolution::Applied`] records it as done,
    /// [`Resolution::NotApplied`] forgets it so the next `up` runs it again. Recorded in the
    /// history.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let mut db = Migrator::new()
    /// #     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    /// #     .on(&mut conn)?;
    /// // Only a started-and-unfinished migration can be resolved.
    /// assert!(db.resolve(1, Resolution::Applied).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(&mut self, seq: u64, resolution: Resolution) -> Result<()> {
        let _timeout = self.busy_timeout()?;
        resolve::resolve(
            &self.conn,
            self.path.as_deref(),
            self.registry.set(),
            &self.config,
            seq,
            resolution,
        )
    }

    fn run(&mut self, op: Operation) -> Result<RunReport> {
        runner::run(
            &mut self.conn,
            self.path.as_deref(),
            &self.registry,
            &self.config,
            op,
        )
    }

    /// The plan: every migration's state against the database, without changing anything.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// let plan = db.plan()?;
    /// assert_eq!(plan.to_apply(None, &Policy::default())?, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan(&self) -> Result<Plan> {
        let _timeout = self.busy_timeout()?;
        runner::read_plan(&self.conn, &self.registry)
            .map_err(|e| self.busy(e, "reading the tracking rows"))
    }

    /// What [`up`](Session::up) would do, without changing anything: every pending migration
    /// runs in a transaction that is rolled back, recording the SQL it runs, the schema objects
    /// it adds, removes and changes, and the rows of each table before and after. A migration
    /// that fails is reported with its error and the dry run stops there.
    ///
    /// No backup is taken, no lock file is used and no tracking table is created or written:
    /// the database file is left byte for byte as it was. Foreign keys are switched off for the
    /// run and put back, as `up` does; the connection's trace hook and authorizer are replaced
    /// during the run and cleared afterwards. Migrations declared `transaction = false` cannot
    /// be rolled back, so the dry run stops before them and reports them as not run. Refused
    /// like `up` when the plan is blocked.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// let dry = db.dry_run()?;
    /// assert!(dry.is_ok());
    /// assert_eq!(dry.migrations[2].statements, ["CREATE TABLE t3 (x)"]);
    /// assert_eq!(dry.migrations[2].tables_created(), ["t3"]);
    /// assert_eq!(db.status()?.current, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dry_run(&mut self) -> Result<crate::DryRun> {
        crate::dry_run::run(
            &mut self.conn,
            self.path.as_deref(),
            &self.registry,
            &self.config,
        )
    }

    /// A revert or redo previewed on this session's own connection (see `dry_run_down`).
    pub(crate) fn dry_run_operation(
        &mut self,
        operation: crate::DryRunOperation,
    ) -> Result<crate::DryRun> {
        crate::dry_run::run_operation(
            &mut self.conn,
            self.path.as_deref(),
            &self.registry,
            &self.config,
            operation,
        )
    }

    /// Where every migration stands, with times, and any schema drift.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up_to(1)?;
    /// let status = db.status()?;
    /// assert_eq!(status.lines[1].status, Status::Pending);
    /// println!("{status}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> Result<StatusReport> {
        let _timeout = self.busy_timeout()?;
        let conn = &*self.conn;
        let read = || -> Result<StatusReport> {
            conn.execute_batch("BEGIN")?;
            let report = self.status_in_snapshot();
            // A read-only snapshot: ending it cannot wait for anyone, on every path.
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")?;
            }
            report
        };
        read().map_err(|e| self.busy(e, "reading the status"))
    }

    fn status_in_snapshot(&self) -> Result<StatusReport> {
        let recorded = tracking::read_rows(&self.conn, self.registry.set())?;
        Ok(StatusReport::assemble(
            &self.registry,
            &recorded,
            self.drift()?,
        ))
    }

    /// Differences between the live schema and the one recorded after the last run, if any.
    fn drift(&self) -> Result<Option<SchemaDiff>> {
        let conn = &*self.conn;
        if !tracking::tables_exist(conn)? {
            return Ok(None);
        }
        let live = fingerprint::objects(conn)?;
        let recorded = fingerprint::stored(conn)?;
        let last = tracking::last_fingerprint(conn, self.registry.set())?;
        if last.is_none() && recorded.is_empty() {
            return Ok(None);
        }
        let diff = SchemaDiff::between(&recorded, &live);
        Ok((!diff.is_empty()).then_some(diff))
    }

    /// The history of this set, oldest first.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up()?;
    /// assert_eq!(db.history()?.len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn history(&self) -> Result<Vec<HistoryRow>> {
        let _timeout = self.busy_timeout()?;
        tracking::read_history(&self.conn, self.registry.set())
            .map_err(|e| self.busy(e, "reading the history"))
    }

    /// The normalized schema (tables, indexes, views, triggers) as text, without the
    /// framework's own tables.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up_to(1)?;
    /// assert_eq!(db.schema()?, "CREATE TABLE t1 (x);\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn schema(&self) -> Result<String> {
        let _timeout = self.busy_timeout()?;
        fingerprint::objects(&self.conn)
            .map(|objects| fingerprint::dump(&objects))
            .map_err(|e| self.busy(e.into(), "reading the schema"))
    }

    /// Takes a verified backup now (kept by the retention rule like the automatic ones).
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// let backup = db.backup()?;
    /// assert!(backup.path.starts_with(dir.path().join("app.db.backups")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backup(&self) -> Result<BackupInfo> {
        let kind = BackupKind::Automatic {
            reason: "manual".into(),
        };
        backup::back_up(&self.conn, self.file()?, &self.config, kind)
    }

    /// The one pre-migration backup of a run over several sets, taken before the first
    /// (`migrate up --all-sets`; each set's run then uses it through
    /// `Migrator::with_run_backup`).
    /// With `PRAGMA data_version` read while the backup held writers off (see
    /// `Migrator::with_run_backup_seen`).
    pub(crate) fn back_up_for_run(&self) -> Result<(BackupInfo, i64)> {
        let kind = BackupKind::Automatic {
            reason: "pre-up".into(),
        };
        backup::back_up_seen(&self.conn, self.file()?, &self.config, kind)
    }

    /// The connection, when the session opened it itself (`Migrator::open`): for the next
    /// session on the same file.
    pub(crate) fn into_connection(self) -> Option<Connection> {
        match self.conn {
            Conn::Owned(conn) => Some(conn),
            Conn::Borrowed(_) => None,
        }
    }

    /// Takes a named snapshot (never pruned automatically). Names are ASCII letters, digits,
    /// `-` and `_`: nothing that could leave the backup directory.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// db.snapshot("before-import")?;
    /// assert_eq!(db.snapshots()?.len(), 1);
    /// assert!(db.snapshot("../escape").is_err());
    /// db.delete_snapshot("before-import")?;
    /// assert!(db.snapshots()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self, name: &str) -> Result<BackupInfo> {
        let kind = BackupKind::Snapshot {
            name: name.to_owned(),
        };
        backup::back_up(&self.conn, self.file()?, &self.config, kind)
    }

    /// Named snapshots, oldest first.
    pub fn snapshots(&self) -> Result<Vec<BackupInfo>> {
        Ok(self
            .backups()?
            .into_iter()
            .filter(|b| matches!(b.kind, BackupKind::Snapshot { .. }))
            .collect())
    }

    /// Every backup and snapshot, oldest first (failed-state copies are listed apart, by
    /// [`failed_states`](Self::failed_states)).
    pub fn backups(&self) -> Result<Vec<BackupInfo>> {
        Ok(backup::all(self.file()?, &self.config.backups)?
            .into_iter()
            .filter(|b| b.kind != BackupKind::FailedState)
            .collect())
    }

    /// The states failed `transaction = false` migrations left, kept for inspection before
    /// each automatic restore, oldest first. Never restored as "the newest backup".
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .open(dir.path().join("app.db"))?;
    /// assert!(db.failed_states()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failed_states(&self) -> Result<Vec<BackupInfo>> {
        Ok(backup::all(self.file()?, &self.config.backups)?
            .into_iter()
            .filter(|b| b.kind == BackupKind::FailedState)
            .collect())
    }

    /// The newest backup or snapshot taken before migration `seq` was applied: one that holds
    /// no applied migration at or above `seq` (pre-migration and manual backups, snapshots;
    /// never a failed-state or pre-restore copy). `migrate restore --before SEQ` restores it.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let list = (1..=2).map(|seq| Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)"))));
    /// let mut db = Migrator::new().with_migrations(list).open(dir.path().join("app.db"))?;
    /// db.up_to(1)?;
    /// db.up()?; // backs up the database at seq 1 first
    /// let before_2 = db.backup_before(2)?.expect("the pre-up backup");
    /// assert_eq!(before_2.schema_version, Some(1));
    /// assert!(db.backup_before(1)?.is_some()); // the backup taken before the first run
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backup_before(&self, seq: u64) -> Result<Option<BackupInfo>> {
        let before = |b: &BackupInfo| b.schema_version.is_none_or(|v| v < seq);
        let state_of_the_database = |b: &BackupInfo| match &b.kind {
            BackupKind::Snapshot { .. } => true,
            BackupKind::Automatic { reason } => {
                matches!(
                    reason.as_str(),
                    "pre-up" | "pre-down" | "pre-redo" | "manual"
                )
            }
            // Taken by hand: a state of the database like any other.
            BackupKind::Manual => true,
            #[allow(unreachable_patterns)]
            _ => false,
        };
        Ok(self
            .backups()?
            .into_iter()
            .filter(|b| state_of_the_database(b) && before(b))
            .max_by(|a, b| a.created_at.cmp(&b.created_at)))
    }

    /// The directory the backups of this database go to.
    #[cfg(feature = "cli")]
    pub(crate) fn backup_dir(&self) -> Result<PathBuf> {
        Ok(self.config.backups.dir_for(self.file()?))
    }

    /// Deletes a named snapshot.
    pub fn delete_snapshot(&self, name: &str) -> Result<()> {
        backup::delete_snapshot(self.file()?, &self.config.backups, name)
    }

    /// Restores a backup into the live database, under the migration lock: the undo backup of
    /// the current state and the restore are one write transaction, so no commit of another
    /// connection is lost; the database keeps its journal mode. Refused, with nothing touched:
    /// a backup that fails `quick_check`, the live file itself (another name, a hard link), and
    /// a file that is not a backup of this database (see [`RestoreOptions`]). A damaged live
    /// database gives [`Error::LiveDatabaseDamaged`]: see [`restore_damaged`](Self::restore_damaged).
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// db.snapshot("empty")?;
    /// db.connection().execute("INSERT INTO t VALUES (1)", [])?;
    /// let report = db.restore(&RestoreFrom::Snapshot("empty".into()))?;
    /// let rows: i64 = db.connection().query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
    /// assert_eq!(rows, 0);
    /// assert!(report.undo_backup.path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(&self, from: &RestoreFrom) -> Result<RestoreReport> {
        self.restore_with(from, RestoreOptions::default())
    }

    /// [`restore`](Self::restore) with options, e.g. to restore a file that is not a backup
    /// of this database (see [`RestoreOptions`]).
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// let empty = dir.path().join("empty.db");
    /// std::fs::write(&empty, b"")?;
    /// let from = RestoreFrom::File(empty);
    /// assert!(db.restore(&from).is_err());
    /// db.restore_with(&from, RestoreOptions::default().allow_foreign_source())?;
    /// assert!(db.status()?.current.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore_with(
        &self,
        from: &RestoreFrom,
        options: RestoreOptions,
    ) -> Result<RestoreReport> {
        backup::restore(&self.conn, self.file()?, &self.config, from, options)
    }

    /// Restores over a damaged live database, which [`restore`](Self::restore) refuses
    /// ([`Error::LiveDatabaseDamaged`]: no undo backup can be taken of it). The damaged file is
    /// kept aside, never deleted, as `<db>.damaged-<UTC>` beside it (with its `-wal`/`-journal`),
    /// and the backup takes its place. Consumes the session, whose connection is closed first;
    /// every other program using the database must be stopped: its open connections would
    /// keep using the damaged file. Refused if the database is not damaged.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.db");
    /// let migrator = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))]);
    /// let mut db = migrator.open(&path)?;
    /// db.up()?;
    /// db.snapshot("good")?;
    /// drop(db);
    /// std::fs::write(&path, b"not a database any more, the header is gone")?;
    /// let db = migrator.open(&path)?;
    /// let from = RestoreFrom::Snapshot("good".into());
    /// assert!(matches!(db.restore(&from), Err(Error::LiveDatabaseDamaged { .. })));
    /// let report = db.restore_damaged(&from, RestoreOptions::default())?;
    /// assert!(report.damaged_kept.exists());
    /// assert_eq!(migrator.open(&path)?.status()?.current, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore_damaged(
        self,
        from: &RestoreFrom,
        options: RestoreOptions,
    ) -> Result<crate::DamagedRestore> {
        let db = self.file()?.to_owned();
        let Session { conn, config, .. } = self;
        drop(conn);
        backup::restore_damaged(&db, &config, from, options)
    }

    /// Adopts a database that `from` migrated: its record of applied migrations is matched to
    /// this binary's (imported with `migrate import`, whose names carry the upstream version),
    /// the live schema is checked against what those migrations build on a scratch database,
    /// and, after a verified backup, they are recorded as applied in one transaction, with the
    /// adoption in the history. `up` then applies the rest. Any refusal changes nothing.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.db");
    /// // refinery ran V1__create_users.sql here.
    /// rusqlite::Connection::open(&path)?.execute_batch(
    ///     "CREATE TABLE users (id INTEGER PRIMARY KEY);
    ///      CREATE TABLE refinery_schema_history (version INT4 PRIMARY KEY, name VARCHAR(255),
    ///          applied_on VARCHAR(255), checksum VARCHAR(255));
    ///      INSERT INTO refinery_schema_history VALUES (1, 'create_users', '2024-01-01T00:00:00Z', '1');",
    /// )?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([
    ///         Migration::new(1, "1_create_users", Step::sql("CREATE TABLE users (id INTEGER PRIMARY KEY)")),
    ///         Migration::new(2, "add_email", Step::sql("ALTER TABLE users ADD COLUMN email TEXT")),
    ///     ])
    ///     .open(&path)?;
    /// let report = db.adopt(Tool::Refinery)?;
    /// assert_eq!(report.adopted.len(), 1);
    /// assert_eq!(db.up()?.after, Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt(&mut self, from: crate::Tool) -> Result<crate::AdoptReport> {
        crate::adopt::adopt(
            &self.conn,
            self.path.as_deref(),
            &self.registry,
            &self.config,
            from,
        )
    }

    /// The connection, the database file and the settings, for the operations that live in
    /// modules of their own (restoring one table).
    pub(crate) fn parts(&self) -> Result<(&Connection, &Path, &Migrator)> {
        Ok((&self.conn, self.file()?, &self.config))
    }

    fn file(&self) -> Result<&Path> {
        self.path.as_deref().ok_or_else(|| {
            Error::Unsupported(
                "this database is in memory: backups, snapshots and restore need a file".into(),
            )
        })
    }

    /// A bare SQLITE_BUSY of a read as the "stayed locked" error.
    pub(crate) fn busy(&self, e: Error, doing: &str) -> Error {
        let label = self
            .path
            .as_deref()
            .map_or(":memory:".to_owned(), |p| p.display().to_string());
        crate::busy::explain(
            e,
            &label,
            self.config.busy_timeout,
            doing,
            crate::busy::WRITER,
        )
    }

    /// This migrator's busy timeout for one operation; the caller's comes back afterwards.
    pub(crate) fn busy_timeout(&self) -> Result<BusyTimeout<'_>> {
        Ok(BusyTimeout::set(&self.conn, self.config.busy_timeout)?)
    }

    /// The migrations of this session's set, by seq.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// assert_eq!(db.migrations().len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn migrations(&self) -> &[Migration] {
        self.registry.migrations()
    }

    /// The connection.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let list = (1..=3).map(|seq| {
    /// #     Migration::new(seq, format!("t{seq}"), Step::sql(format!("CREATE TABLE t{seq} (x)")))
    /// #         .with_down(Step::sql(format!("DROP TABLE t{seq}")))
    /// # });
    /// # let mut db = Migrator::new().with_migrations(list).on(&mut conn)?;
    /// db.up()?;
    /// db.connection().execute("INSERT INTO t1 VALUES (1)", [])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}
