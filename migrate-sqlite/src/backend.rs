//! SQLite's primitives for the run protocol (`migrate_core::protocol`): the lock file,
//! `BEGIN IMMEDIATE`, the authorizer ([`Sentry`]) and the pragmas it watches, foreign keys off
//! with `foreign_key_check` after each step, the row-count guard, the backup API, the digest
//! the no-op start reads. The order of these acts and every decision are the protocol's.

use crate::backup::{self, BackupKind};
use crate::lock::FileLock;
use crate::outcome::{self, Recorded};
use crate::pragmas::PragmaGuard;
use crate::row_counts::{self, RowCounter};
use crate::runner::{begin_immediate, read_recorded, runner_error};
use crate::sentry::{Phase, Sentry};
use crate::step_call::{StepRules, call_step};
use crate::tracking::{self, RowValues};
use crate::{
    Direction, Error, FkViolation, HistoryEvent, Migration, Migrator, Result, RowCount, Step, busy,
    digest, fingerprint, foreign_keys, sqlite_codes,
};
use migrate_core::protocol::{Backend, Job, RowChange};
use migrate_core::{AppliedRow, Registry, SchemaDiff, TxMode};
use rusqlite::{Connection, ErrorCode};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One run on one SQLite connection.
pub(crate) struct SqliteBackend<'a> {
    conn: &'a Connection,
    /// The database file (None in memory: no lock file, no backups).
    path: Option<&'a Path>,
    config: &'a Migrator,
    label: String,
    applied_by: String,
    lock: Option<FileLock>,
    sentry: Option<Sentry>,
    pragmas: Option<PragmaGuard<'a>>,
    /// Foreign key violations already there before the current step: only new ones fail it.
    fk_baseline: BTreeSet<FkViolation>,
    /// Tables whose foreign keys SQLite cannot check ("foreign key mismatch") before the
    /// current step: only a table that newly has one fails it.
    fk_mismatched: BTreeSet<String>,
    /// Whether any table declares a foreign key; with none, no violation is possible.
    fk_declared: bool,
    /// The row-count guard's counts (None when it is off).
    rows: Option<RowCounter>,
    /// Every backup this run wrote (retention must not delete them: messages name them).
    written: Vec<PathBuf>,
}

impl<'a> SqliteBackend<'a> {
    /// Only for the one backup of `up --all-sets`, taken on this connection
    /// (`BackupSettings::run_backup_seen`): its `PRAGMA data_version` changed since, so another
    /// connection committed, and restoring would throw that away. (A commit between this check
    /// and the restore's write transaction is kept in the failed-state copy.)
    fn refuse_if_written_since(&self, from: &Path) -> Result<()> {
        let settings = &self.config.backups;
        let (Some(run), Some(seen)) = (&settings.run_backup, settings.run_backup_seen) else {
            return Ok(());
        };
        if run != from || backup::data_version(self.conn)? == seen {
            return Ok(());
        }
        Err(Error::RestoreNotAutomatic {
            backup: from.to_owned(),
        })
    }

    pub fn new(
        conn: &'a Connection,
        path: Option<&'a Path>,
        config: &'a Migrator,
        label: String,
    ) -> Self {
        SqliteBackend {
            conn,
            path,
            config,
            label,
            applied_by: config.applied_by(),
            lock: None,
            sentry: None,
            pragmas: None,
            fk_baseline: BTreeSet::new(),
            fk_mismatched: BTreeSet::new(),
            fk_declared: true,
            rows: None,
            written: Vec::new(),
        }
    }

    fn sql(&self, sql: &str, doing: &str) -> Result<()> {
        self.conn
            .execute_batch(sql)
            .map_err(runner_error(&self.label, doing))
    }

    fn sentry(&self) -> &Sentry {
        self.sentry
            .as_ref()
            .expect("the protocol runs steps only in an open session")
    }

    /// The row-count guard's baseline: every user table, counted once per transaction.
    fn count_all_rows(&mut self) -> Result<()> {
        if self.config.count_rows {
            let counter = RowCounter::start(self.conn).map_err(runner_error(
                &self.label,
                "counting the rows of every table",
            ))?;
            self.rows = Some(counter);
        }
        Ok(())
    }

    /// Fails on violations that were not there before the step. Skipped while no table
    /// declares a foreign key (the sentry says when a step created or altered a table).
    fn check_foreign_keys(&mut self) -> Result<()> {
        let (changed, altered) = self.sentry().take_changed_tables();
        if !self.fk_declared && !changed.is_empty() {
            // After an ALTER TABLE a created table may live on under another name (the rebuild
            // pattern): look at the whole schema, which only that case pays for.
            let declared = if altered {
                foreign_keys::any_declared(self.conn)
            } else {
                foreign_keys::declared_in(self.conn, &changed)
            };
            self.fk_declared =
                declared.map_err(runner_error(&self.label, "looking for foreign keys"))?;
        }
        if !self.fk_declared {
            return Ok(());
        }
        let (now, mismatched) = foreign_keys::violations_and_mismatches(self.conn)
            .map_err(runner_error(&self.label, "PRAGMA foreign_key_check"))?;
        let now: BTreeSet<FkViolation> = now.into_iter().collect();
        let new_mismatches: Vec<String> = mismatched
            .difference(&self.fk_mismatched)
            .cloned()
            .collect();
        if !new_mismatches.is_empty() {
            return Err(Error::ForeignKeyMismatch {
                tables: new_mismatches,
            });
        }
        let new: Vec<FkViolation> = now.difference(&self.fk_baseline).cloned().collect();
        if new.is_empty() {
            self.fk_baseline = now;
            self.fk_mismatched = mismatched;
            Ok(())
        } else {
            Err(
                foreign_keys::introduced(self.conn, new, self.fk_baseline.len()).map_err(
                    runner_error(&self.label, "looking up the referenced tables"),
                )?,
            )
        }
    }

    /// The row-count guard after a step: counts the tables it touched. In a transactional
    /// `up` that did not declare `destructive`, a table it found that is gone (dropped, not
    /// rebuilt), a column whose values are gone, or a table left with fewer rows fails the
    /// step. Outside a transaction other connections may have written meanwhile, so lost rows
    /// or column values there are logged and recorded, not failed (failing would restore the
    /// backup over their writes); a table gone fails it, as a `DROP TABLE` always did.
    fn check_row_counts(&mut self, m: &Migration, job: Job) -> Result<Vec<RowCount>> {
        let touched = self.sentry().take_touched();
        let Some(counter) = self.rows.as_mut() else {
            return Ok(Vec::new());
        };
        let tables = counter
            .after_step(self.conn, touched)
            .map_err(runner_error(
                &self.label,
                "counting rows after the migration",
            ))?;
        if job.direction == Direction::Up {
            let allowed = m.flags.destructive || self.config.allow_destructive;
            match m.mode {
                TxMode::Transactional => row_counts::check_step(m.seq, allowed, &tables)?,
                TxMode::NonTransactional => {
                    row_counts::check_gone(m.seq, allowed, &tables)?;
                    if let Err(e) = row_counts::check_step(m.seq, allowed, &tables) {
                        log::warn!("migration {} (outside a transaction): {e}", m.label());
                    }
                }
            }
        }
        Ok(tables.counts)
    }
}

impl Backend for SqliteBackend<'_> {
    type Step = Step;
    type Error = Error;

    fn label(&self) -> String {
        self.label.clone()
    }

    fn tracking_table(&self) -> String {
        tracking::APPLIED_TABLE.to_owned()
    }

    fn unchanged_since_last_run(&mut self, registry: &Registry<Step>) -> Result<bool> {
        Ok(digest::stored(self.conn, registry.set())? == Some(digest::of_registry(registry)))
    }

    fn read_rows(&mut self, set: &str) -> Result<Vec<AppliedRow>> {
        Ok(read_recorded(self.conn, set)?.rows().to_vec())
    }

    fn explain_unlocked(&self, error: Error) -> Error {
        busy::explain(
            error,
            &self.label,
            self.config.busy_timeout,
            "reading the tracking rows (before taking the migration lock)",
            busy::WRITER,
        )
    }

    fn lock(&mut self) -> Result<()> {
        if let Some(path) = self.path {
            self.lock = Some(FileLock::acquire(path, self.config.busy_timeout)?);
        }
        Ok(())
    }

    fn unlock(&mut self) {
        if let Some(path) = self.path
            && !self.config.backups.disabled
        {
            // Never the backups this run wrote: its messages name them.
            let keep: Vec<&Path> = self.written.iter().map(PathBuf::as_path).collect();
            backup::prune(path, &self.config.backups, &keep);
        }
        self.lock = None;
    }

    fn open_session(&mut self) -> Result<()> {
        let sentry = Sentry::install(self.conn)
            .map_err(runner_error(&self.label, "installing the authorizer"))?;
        // Reading the connection's settings reads the schema: it can meet a writer's lock too.
        let pragmas = PragmaGuard::foreign_keys_off(self.conn)
            .map_err(runner_error(&self.label, "switching foreign keys off"))
            .map_err(|e| {
                busy::explain(
                    e,
                    &self.label,
                    self.config.busy_timeout,
                    "reading the connection's settings (before BEGIN IMMEDIATE)",
                    busy::WRITER,
                )
            });
        match pragmas {
            Ok(pragmas) => {
                self.sentry = Some(sentry);
                self.pragmas = Some(pragmas);
                Ok(())
            }
            Err(e) => {
                if let Err(e) = Sentry::uninstall(self.conn) {
                    log::error!("cannot remove the authorizer: {e}");
                }
                Err(e)
            }
        }
    }

    fn close_session(&mut self) -> Result<()> {
        let restored = match self.pragmas.take() {
            Some(pragmas) => pragmas.restore().map_err(runner_error(
                &self.label,
                "restoring foreign_keys and legacy_alter_table",
            )),
            None => Ok(()),
        };
        if self.sentry.take().is_some()
            && let Err(e) = Sentry::uninstall(self.conn)
        {
            log::error!("cannot remove the authorizer: {e}");
        }
        restored
    }

    fn begin(&mut self) -> Result<()> {
        begin_immediate(self.conn, &self.label, self.config.busy_timeout)
    }

    fn commit(&mut self, doing: &str) -> Result<()> {
        self.sql("COMMIT", doing)
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            log::error!("ROLLBACK failed: {e}");
        }
    }

    fn in_transaction(&mut self) -> bool {
        !self.conn.is_autocommit()
    }

    fn ensure_tracking(&mut self) -> Result<()> {
        tracking::ensure_tables(self.conn)
            .map_err(runner_error(&self.label, "creating the tracking tables"))
    }

    fn read_rows_locked(&mut self, set: &str) -> Result<Vec<AppliedRow>> {
        tracking::read_plan_rows(self.conn, set)
    }

    fn highest_seq(&mut self, set: &str) -> Result<Option<u64>> {
        Ok(tracking::highest_seq(self.conn, set)?)
    }

    fn write_tracking(&mut self, set: &str, changes: &[RowChange]) -> Result<()> {
        for change in changes {
            match change {
                RowChange::Applied {
                    seq,
                    name,
                    checksum,
                    duration_ms,
                } => tracking::insert_applied(
                    self.conn,
                    &RowValues {
                        set,
                        seq: *seq,
                        name,
                        checksum: checksum.clone(),
                        duration_ms: *duration_ms,
                        applied_by: &self.applied_by,
                    },
                ),
                RowChange::Removed { seq } => tracking::delete_row(self.conn, set, *seq),
            }
            .map_err(runner_error(&self.label, "writing the tracking rows"))?;
        }
        Ok(())
    }

    fn mark_started(&mut self, set: &str, m: &Migration, direction: Direction) -> Result<()> {
        let marked = match direction {
            Direction::Up => tracking::insert_started(
                self.conn,
                &RowValues {
                    set,
                    seq: m.seq,
                    name: &m.name,
                    checksum: m.checksum.to_string(),
                    duration_ms: 0,
                    applied_by: &self.applied_by,
                },
            ),
            Direction::Down => tracking::mark_reverting(self.conn, set, m.seq),
        };
        marked.map_err(runner_error(
            &self.label,
            "recording the migration as started",
        ))
    }

    fn update_checksum(&mut self, set: &str, seq: u64, checksum: &str) -> Result<()> {
        Ok(tracking::update_checksum(self.conn, set, seq, checksum)?)
    }

    fn write_history(&mut self, events: &[HistoryEvent]) -> Result<()> {
        for event in events {
            tracking::append_history(self.conn, event, &self.applied_by)
                .map_err(runner_error(&self.label, "writing the history rows"))?;
        }
        Ok(())
    }

    /// The schema snapshot, its fingerprint, and last the rows' digest (any later change to
    /// the tracking rows would clear it).
    fn store_schema(&mut self, set: &str) -> Result<()> {
        let objects = fingerprint::objects(self.conn)?;
        fingerprint::store(self.conn, &objects)?;
        tracking::set_fingerprint(self.conn, set, &fingerprint::fingerprint(&objects))?;
        digest::store(self.conn, set)?;
        Ok(())
    }

    fn schema_drift(&mut self) -> Result<Option<SchemaDiff>> {
        let stored = fingerprint::stored(self.conn)?;
        if stored.is_empty() {
            return Ok(None);
        }
        let diff = SchemaDiff::between(&stored, &fingerprint::objects(self.conn)?);
        Ok((!diff.is_empty()).then_some(diff))
    }

    /// Taken while this connection holds `BEGIN IMMEDIATE` and has written nothing: no writer
    /// can change the database during the copy.
    fn back_up(&mut self, reason: &str) -> Result<Option<PathBuf>> {
        let Some(path) = self.path.filter(|_| !self.config.backups.disabled) else {
            return Ok(None);
        };
        if let Some(taken) = &self.config.backups.run_backup {
            // Taken once before the first set of a run over several sets: this run's too.
            self.written.push(taken.clone());
            return Ok(Some(taken.clone()));
        }
        let kind = BackupKind::Automatic {
            reason: reason.into(),
        };
        let info = backup::take(self.conn, path, &self.config.backups, kind)?;
        self.written.push(info.path.clone());
        Ok(Some(info.path))
    }

    fn back_up_before_step(&mut self) -> Result<Option<PathBuf>> {
        let Some(path) = self.path.filter(|_| !self.config.backups.disabled) else {
            return Ok(None);
        };
        let kind = BackupKind::Automatic {
            reason: "pre-step".into(),
        };
        let info = backup::take(self.conn, path, &self.config.backups, kind).map_err(|e| {
            // Not "nothing was migrated": the earlier steps of this run are committed.
            let (dir, cause) = match e {
                // The database, not the directory: free space would send the operator astray.
                Error::DatabaseDamaged { path, detail } => {
                    return Error::DamagedMidRun {
                        path,
                        detail,
                        backup: self.written.first().cloned(),
                    };
                }
                Error::BackupFailed { dir, error } => (dir, error.to_string()),
                other => (self.config.backups.dir_for(path), other.to_string()),
            };
            Error::msg(format!(
                "the backup to restore if it fails (taken just before it) could not be written \
                 into {}: {cause}; so it was not run. Free some space or fix the directory's \
                 permissions, or choose another directory (Migrator::backup_dir)",
                dir.display()
            ))
        })?;
        self.written.push(info.path.clone());
        Ok(Some(info.path))
    }

    /// The failed state is copied first, in the same write transaction as the restore: every
    /// row anyone committed is in that copy or in the restored database. Without the copy,
    /// nothing is restored.
    fn restore(&mut self, from: &Path) -> Result<PathBuf> {
        let Some(path) = self.path else {
            return Err(Error::Unsupported(format!(
                "no pre-migration backup was taken ({}), so the database could not be restored",
                self.no_backup_reason()
            )));
        };
        self.refuse_if_written_since(from)?;
        backup::verify(from)?;
        let failed_state = backup::restore_over(
            self.conn,
            path,
            from,
            &self.config.backups,
            BackupKind::FailedState,
            self.config.busy_timeout,
        )?;
        self.written.push(failed_state.path.clone());
        Ok(failed_state.path)
    }

    fn override_flag(&self, error: &Error) -> Option<&'static str> {
        matches!(
            error,
            Error::UndeclaredDestruction { .. }
                | Error::RowsLost { .. }
                | Error::ColumnDataLost { .. }
        )
        .then_some("--allow-destructive")
    }

    fn backup_shared_by_sets(&self, backup: &Path) -> bool {
        self.config.backups.run_backup.as_deref() == Some(backup)
    }

    fn no_backup_reason(&self) -> String {
        "backups are turned off for this migrator with `without_backups()`, or the database is \
         in memory"
            .to_owned()
    }

    /// The foreign key baseline and the row counts, in the run's transaction.
    fn start_batch(&mut self) -> Result<()> {
        self.fk_declared = foreign_keys::any_declared(self.conn)
            .map_err(runner_error(&self.label, "looking for foreign keys"))?;
        let (baseline, mismatched) = foreign_keys::violations_and_mismatches(self.conn)
            .map_err(runner_error(&self.label, "PRAGMA foreign_key_check"))?;
        if !mismatched.is_empty() {
            log::warn!(
                "the foreign keys of {} cannot be checked (foreign key mismatch) before the run; \
                 migrations fail only on tables that newly have one",
                mismatched.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        self.fk_mismatched = mismatched;
        if !baseline.is_empty() {
            log::warn!(
                "{} foreign key violations exist before the run; migrations fail only on new ones",
                baseline.len()
            );
        }
        self.fk_baseline = baseline.into_iter().collect();
        self.count_all_rows()
    }

    fn restart_baselines(&mut self) -> Result<()> {
        self.count_all_rows()
    }

    fn savepoint(&mut self) -> Result<()> {
        self.sql(
            "SAVEPOINT migrate_step",
            "opening the migration's savepoint",
        )
    }

    fn release_savepoint(&mut self) -> Result<()> {
        self.sql(
            "RELEASE migrate_step",
            "releasing the migration's savepoint",
        )
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        Ok(self
            .conn
            .execute_batch("ROLLBACK TO migrate_step; RELEASE migrate_step")?)
    }

    /// Calls the user's step, turning a panic into an error and naming what the authorizer
    /// refused.
    fn run_step(&mut self, m: &Migration, job: Job) -> Result<()> {
        let step: &Step = match job.direction {
            Direction::Up => &m.up,
            Direction::Down => m
                .down
                .as_ref()
                .expect("the plan only reverts reversible migrations"),
        };
        log::info!("migration {} {}: running", m.label(), job.direction);
        let phase = match m.mode {
            TxMode::Transactional => Phase::TransactionalStep,
            TxMode::NonTransactional => Phase::NonTransactionalStep,
        };
        let rules = StepRules {
            direction: job.direction,
            phase,
            allow_destructive: self.config.allow_destructive,
            tables_watched: self.config.count_rows,
        };
        call_step(self.conn, self.sentry(), m, step, rules)
    }

    /// Puts the run's pragmas back if the step set any (the sentry saw it).
    fn after_step(&mut self) -> Result<()> {
        let set = self.sentry().take_pragmas_set();
        if set.is_empty() {
            return Ok(());
        }
        let Some(pragmas) = &self.pragmas else {
            return Ok(());
        };
        pragmas.reset_after_step(&set).map_err(runner_error(
            &self.label,
            "resetting the connection's pragmas",
        ))
    }

    fn check_step(&mut self, m: &Migration, job: Job) -> Result<Vec<RowCount>> {
        self.check_foreign_keys()?;
        self.check_row_counts(m, job)
    }

    /// Disk full (or an I/O error), or a conflict resolved by ROLLBACK (the commit hook
    /// refused everything after it): SQLite rolled the whole transaction back itself.
    fn rolled_back_itself(&self, error: &Error) -> bool {
        sqlite_codes::rolled_back_by_sqlite(error)
            || matches!(error, Error::TransactionRolledBack { .. })
    }

    fn explain_failure(
        &mut self,
        error: &Error,
        before: &Recorded,
        after: &Recorded,
        rerun: &str,
        rolled_back_itself: bool,
        backup: Option<&Path>,
    ) -> Option<String> {
        if sqlite_codes::has_code(error, ErrorCode::ReadOnly) {
            let file_read_only = self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false);
            return Some(outcome::read_only(
                before,
                after,
                &self.label,
                file_read_only,
                rerun,
            ));
        }
        if matches!(error, Error::DamagedMidRun { .. }) {
            return Some(outcome::damaged(before, after));
        }
        if sqlite_codes::has_code(error, ErrorCode::DiskFull) {
            return Some(outcome::disk_full(
                before,
                after,
                &self.label,
                backup,
                rolled_back_itself,
                rerun,
            ));
        }
        None
    }

    fn migration_failed(
        &self,
        set: &str,
        m: &Migration,
        direction: Direction,
        error: Error,
        outcome: String,
    ) -> Error {
        let (source, cause) = error.split_cause();
        Error::MigrationFailed {
            set: set.to_owned(),
            seq: m.seq,
            name: m.name.clone(),
            direction,
            source,
            outcome,
            cause,
        }
    }

    fn commit_failed(&self, error: Error, kept: String, rerun: &str) -> Error {
        if busy::is_busy(&error) {
            // Which commit: the run's last, or one before a `transaction = false` migration.
            let doing = match &error {
                Error::Runner { doing, .. } => doing.clone(),
                _ => "committing the run".to_owned(),
            };
            // Its message says to wait and run again.
            return Error::Busy {
                path: self.label.clone(),
                waited_ms: self.config.busy_timeout.as_millis() as u64,
                doing,
                held_by: busy::READERS.into(),
                outcome: kept,
            };
        }
        Error::CommitFailed {
            error: Box::new(error),
            outcome: format!("{kept} Once the cause is fixed, run `{rerun}` again."),
        }
    }
}
