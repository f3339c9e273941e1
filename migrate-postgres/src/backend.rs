//! PostgreSQL's primitives for the run protocol (`migrate_core::protocol`): the session
//! advisory lock polled up to the busy timeout, one `BEGIN READ WRITE` per transaction with the
//! commit guard armed and `default_transaction_read_only` on, a savepoint per migration with
//! `SET LOCAL lock_timeout` (retried on 55P03) and `statement_timeout`, `SET CONSTRAINTS ALL
//! IMMEDIATE` at the end of each migration, tracking rows in the same transaction,
//! `transaction = false` steps sent one statement at a time, `RESET ALL` after the run. The
//! order of these acts and every decision are the protocol's.

use crate::batch::{millis, retry_on_lock_timeout};
use crate::chunk::LockBudget;
use crate::connection::Connection;
use crate::fingerprint::{self, SchemaObjects};
use crate::guard::{Guard, Judging, Verdict};
use crate::restore_policy::{self, Baseline};
use crate::tracking::{APPLIED_TABLE, RowValues};
use crate::{
    BackupKind, Backups, Error, Migration, Result, Step, Tx, commit_guard, digest, tracking,
};
use migrate_core::protocol::{Backend, Job, Recorded, RowChange};
use migrate_core::{AppliedRow, Direction, HistoryEvent, Registry, RowCount, SchemaDiff, TxMode};
use postgres::SimpleQueryMessage;
use postgres::types::Type;
use std::path::{Path, PathBuf};

/// The savepoint of the migration being run.
const SAVEPOINT: &str = "migrate_step";

/// One run on one PostgreSQL connection.
pub(crate) struct PgBackend<'a> {
    pub(crate) conn: &'a mut Connection,
    label: String,
    applied_by: String,
    /// The advisory key and session token while the lock is held.
    lock: Option<(i64, String)>,
    /// `txid_current()` of the open runner transaction: a step that ended it shows up as a
    /// different (or no) id.
    txid: Option<i64>,
    /// The run's backups, or why it takes none.
    backups: std::result::Result<Backups, String>,
    /// Every backup this run wrote (retention must not delete them: messages name them).
    written: Vec<PathBuf>,
    /// What the database held at each backup this run took (the automatic restore policy).
    baselines: Vec<(PathBuf, Baseline)>,
    /// The txids of the runner's own transactions and of their savepoints: their writes are
    /// not "others' writes".
    own_txids: Vec<i64>,
    /// The baselines (indexes into `baselines`) taken in the open transaction: recounted just
    /// before it commits, while its table locks still hold writers off.
    baselines_in_tx: Vec<usize>,
    /// A dry run's record of the SQL each step sends.
    pub(crate) statement_log: Option<crate::dry_run::StatementLog>,
    /// Statements that go with the next round trip: the last migration's `RELEASE` and the
    /// guard's re-arm (nothing runs between them and the next savepoint or commit).
    pending: String,
    /// `check_step` saw the runner's txid and nothing ran since: `in_transaction` needs no
    /// probe.
    verified: bool,
    /// When a very large batch commits a chunk.
    locks: LockBudget,
    /// The row-count guard and destructive-change detection (`guard/`).
    guard: Guard,
    /// The SQL the current migration sent through its `Tx` (the guard's messages name it).
    statements: Vec<String>,
    /// The first of them that failed, with PostgreSQL's error (named when its code ignored it).
    first_failure: Option<String>,
    /// The transactional steps whose work the open transaction holds, as `seq "name" (up)`
    /// (what a failed commit loses).
    held: Vec<String>,
    /// The operator allowed destructive changes for this run.
    allow_destructive: bool,
    /// The backup taken once before several sets' runs: this run's too.
    pub(crate) run_backup: Option<crate::RunBackup>,
}

impl<'a> PgBackend<'a> {
    pub fn new(
        conn: &'a mut Connection,
        label: String,
        applied_by: String,
        backups: std::result::Result<Backups, String>,
    ) -> Self {
        let locks = LockBudget::new(conn.settings.max_chunk_locks);
        let guard = Guard::new(&conn.schema.name);
        PgBackend {
            conn,
            label,
            applied_by,
            lock: None,
            txid: None,
            backups,
            written: Vec::new(),
            baselines: Vec::new(),
            own_txids: Vec::new(),
            baselines_in_tx: Vec::new(),
            statement_log: None,
            pending: String::new(),
            verified: false,
            locks,
            guard,
            statements: Vec::new(),
            first_failure: None,
            held: Vec::new(),
            allow_destructive: false,
            run_backup: None,
        }
    }

    /// How `config` judges data removal: destruction allowed for the run, rows counted or not.
    pub fn judging(mut self, config: &crate::Migrator) -> Self {
        self.allow_destructive = config.allow_destructive;
        if !config.count_rows {
            self.guard = Guard::new(&self.conn.schema.name).without_row_counts();
        }
        self
    }

    /// The txids of this run's transactions so far.
    pub(crate) fn own_txids(&self) -> &[i64] {
        &self.own_txids
    }

    /// Sends the statements queued for the next round trip, if any.
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        Ok(self.conn.client.batch_execute(&pending)?)
    }

    /// `SET LOCAL` of the run's timeouts, for the start of each migration's savepoint.
    fn step_settings(&self) -> String {
        let settings = &self.conn.settings;
        let mut sql = format!("SET LOCAL lock_timeout = {}", millis(settings.lock_timeout));
        if let Some(timeout) = settings.statement_timeout {
            sql.push_str(&format!(
                "; SET LOCAL statement_timeout = {}",
                millis(timeout)
            ));
        }
        sql
    }

    /// `txid_current_if_assigned()` in one simple query (with what was queued).
    fn current_txid(&mut self) -> std::result::Result<Option<i64>, postgres::Error> {
        let sql = format!(
            "{}SELECT txid_current_if_assigned()",
            std::mem::take(&mut self.pending)
        );
        let messages = self.client().simple_query(&sql)?;
        Ok(first_value(&messages))
    }

    fn client(&mut self) -> &mut postgres::Client {
        &mut self.conn.client
    }

    /// In the runner's transaction: its first statements (the lock checked again, so a
    /// transaction pooler is refused; the transaction-level advisory lock as a second guard;
    /// the tracking tables and the commit guard, armed). Returns its txid.
    fn prepare_transaction(&mut self) -> Result<i64> {
        if let Some((key, token)) = self.lock.clone() {
            self.conn.check_lock_held(key, &token)?;
            let lock_timeout = millis(self.conn.settings.lock_timeout);
            let client = &mut self.conn.client;
            client.batch_execute(&format!("SET LOCAL lock_timeout = {lock_timeout}"))?;
            client.query_typed("SELECT pg_advisory_xact_lock($1)", &[(&key, Type::INT8)])?;
        }
        tracking::ensure(&mut self.conn.client, &self.conn.schema)?;
        let arm_and_txid = format!(
            "INSERT INTO {} DEFAULT VALUES; SELECT txid_current()",
            self.conn.schema.qualify(commit_guard::GUARD)
        );
        let messages = self.client().simple_query(&arm_and_txid)?;
        first_value(&messages)
            .ok_or_else(|| Error::Unsupported("txid_current() gave no row".into()))
    }

    /// True while the session is in the runner's transaction. An aborted transaction (a
    /// statement failed) still is: only its savepoint can tell.
    fn still_ours(&mut self) -> bool {
        let Some(txid) = self.txid else {
            return false;
        };
        match self.current_txid() {
            Ok(current) => current == Some(txid),
            Err(e) => e.code().map(|c| c.code()) == Some("25P02"),
        }
    }

    /// Leaves the transaction state and puts the session's default back to read-write.
    fn closed(&mut self) {
        self.txid = None;
        self.baselines_in_tx.clear();
        self.pending.clear();
        self.verified = false;
        if let Err(e) = self
            .client()
            .batch_execute("SET default_transaction_read_only = off")
        {
            log::warn!("cannot reset default_transaction_read_only: {e}");
        }
    }

    /// The step in the savepoint the protocol opened, with the run's `SET LOCAL` timeouts;
    /// on lock_timeout rolled back to the savepoint and run again. A step that ended the
    /// transaction is [`Error::TransactionEnded`].
    ///
    /// The savepoint and the timeouts went in one query ([`Backend::savepoint`]); whether the
    /// transaction survived a step that succeeded is checked with its deferred constraints
    /// ([`Backend::check_step`]), one round trip for both.
    fn run_in_savepoint(&mut self, m: &Migration, step: &Step) -> Result<()> {
        let settings = self.conn.settings.clone();
        let setup = self.step_settings();
        let conninfo = self.conn.conninfo();
        retry_on_lock_timeout((&settings, &conninfo), m.seq, &m.name, |attempt| {
            if attempt > 1 {
                self.client()
                    .batch_execute(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; {setup}"))?;
            }
            self.statements.clear();
            self.first_failure = None;
            let log = self.statement_log.clone();
            let ran = step.run(
                &mut Tx::new(&mut self.conn.client, m.seq, &m.name, true)
                    .recording(log)
                    .noting_sql_in(&mut self.statements)
                    .noting_failure_in(&mut self.first_failure),
            );
            if ran.is_err() && !self.still_ours() {
                // Whatever the step left open (a `BEGIN` of its own) goes too.
                let _ = self.client().batch_execute("ROLLBACK");
                self.closed();
                return Err(Error::TransactionEnded {
                    seq: m.seq,
                    name: m.name.clone(),
                });
            }
            ran.map_err(|e| ignored_error(e, m, &mut self.first_failure))
        })
        .map(|_| ())
    }

    /// The user's schema objects as the transaction sees them (in a savepoint rolled back at
    /// once, so its `search_path` is untouched).
    fn live_objects(&mut self) -> Result<SchemaObjects> {
        fingerprint::objects_in_transaction(&mut self.conn.client, &self.conn.schema)
    }

    fn stored_objects(&mut self) -> Result<SchemaObjects> {
        let sql = format!(
            "SELECT type, name, sql FROM {}",
            self.conn.schema.qualify("_migrate_schema")
        );
        let rows = self.client().query(&sql, &[])?;
        Ok(rows
            .iter()
            .map(|r| ((r.get(0), r.get(1)), r.get(2)))
            .collect())
    }
}

impl Backend for PgBackend<'_> {
    type Step = Step;
    type Error = Error;

    fn label(&self) -> String {
        self.label.clone()
    }

    fn tracking_table(&self) -> String {
        self.conn.schema.qualify(APPLIED_TABLE)
    }

    /// One simple query: the set's stored digest against the registry's.
    fn unchanged_since_last_run(&mut self, registry: &Registry<Step>) -> Result<bool> {
        let stored = digest::stored(&mut self.conn.client, &self.conn.schema, registry.set())?;
        Ok(stored.is_some_and(|d| d == migrate_core::protocol::Digest::of_registry(registry)))
    }

    fn read_rows(&mut self, set: &str) -> Result<Vec<AppliedRow>> {
        self.conn.tracking().read_plan_rows(set)
    }

    fn lock(&mut self) -> Result<()> {
        self.lock = Some(self.conn.acquire_lock()?);
        Ok(())
    }

    fn unlock(&mut self) {
        if let Ok(backups) = &self.backups
            && !self.written.is_empty()
        {
            // Never the backups this run wrote: its messages name them.
            let keep: Vec<&Path> = self.written.iter().map(PathBuf::as_path).collect();
            if let Err(e) = backups.prune(&keep) {
                log::warn!("old backups were not pruned: {e}");
            }
        }
        if let Some((key, _)) = self.lock.take() {
            self.conn.release_lock(key);
        }
    }

    fn open_session(&mut self) -> Result<()> {
        Ok(())
    }

    /// `RESET ROLE; RESET ALL` (a migration's `SET search_path` survives COMMIT), keeping the
    /// lock's session token; never `DISCARD ALL`, which would drop the advisory lock.
    fn close_session(&mut self) -> Result<()> {
        let token = self.lock.as_ref().map(|(_, token)| token.clone());
        self.conn.reset_session_keeping(token.as_deref())
    }

    fn begin(&mut self) -> Result<()> {
        // Two queries: in one string the SET would belong to the transaction that BEGIN opens.
        self.client()
            .batch_execute("SET default_transaction_read_only = on")?;
        self.client().batch_execute("BEGIN READ WRITE")?;
        match self.prepare_transaction() {
            Ok(txid) => {
                self.txid = Some(txid);
                self.own_txids.push(txid);
                self.locks.restart();
                self.held.clear();
                Ok(())
            }
            Err(e) => {
                let _ = self.client().batch_execute("ROLLBACK");
                self.closed();
                Err(e)
            }
        }
    }

    /// The transaction is checked first (still the runner's: a step may have ended it), then
    /// committed. A session lost before it, or a COMMIT refused, is [`Error::CommitLost`]
    /// naming the cause and the migrations the transaction held.
    fn commit(&mut self, doing: &str) -> Result<()> {
        let result = match self.current_txid() {
            Ok(current) if current.is_some() && current == self.txid => {
                self.note_own_writes();
                let sql = commit_guard::commit_sql(&self.conn.schema);
                self.client().batch_execute(&sql)
            }
            Ok(_) => {
                // Not the runner's transaction any more: a step ended it (the guard refused
                // its COMMIT, or it ran ROLLBACK).
                let _ = self.client().batch_execute("ROLLBACK");
                self.closed();
                return Err(match self.held.last() {
                    Some(step) => Error::CommitLost {
                        doing: doing.to_owned(),
                        cause: format!(
                            "the transaction was ended before it by a migration's own \
                             COMMIT or ROLLBACK (the last one run in it: {step})"
                        ),
                        migrations: std::mem::take(&mut self.held),
                    },
                    None => Error::CommitLost {
                        doing: doing.to_owned(),
                        cause: "the transaction was ended before it".to_owned(),
                        migrations: Vec::new(),
                    },
                });
            }
            // The session gone, or the transaction aborted: `commit_lost` says which.
            Err(e) => Err(e),
        };
        if result.is_err() {
            // A failed statement before COMMIT leaves the transaction open and aborted.
            let _ = self.client().batch_execute("ROLLBACK");
        }
        self.closed();
        result.map_err(|e| self.commit_lost(doing, e))
    }

    fn rollback(&mut self) {
        if let Err(e) = self.client().batch_execute("ROLLBACK") {
            log::error!("ROLLBACK failed: {e}");
        }
        self.closed();
    }

    /// A savepoint probe: refused outside a transaction block (25P01), refused in an aborted
    /// one (25P02, still a transaction), then the txid says whether the block is the runner's.
    fn in_transaction(&mut self) -> bool {
        if std::mem::take(&mut self.verified) {
            return true;
        }
        if self.flush().is_err() {
            return false;
        }
        match self.client().batch_execute("SAVEPOINT migrate_probe") {
            Ok(()) => {
                let _ = self
                    .client()
                    .batch_execute("RELEASE SAVEPOINT migrate_probe");
                self.txid.is_none() || self.still_ours()
            }
            Err(e) => e.code().map(|c| c.code()) == Some("25P02"),
        }
    }

    fn ensure_tracking(&mut self) -> Result<()> {
        tracking::ensure(&mut self.conn.client, &self.conn.schema)
    }

    fn read_rows_locked(&mut self, set: &str) -> Result<Vec<AppliedRow>> {
        self.conn.tracking().read_plan_rows(set)
    }

    fn highest_seq(&mut self, set: &str) -> Result<Option<u64>> {
        self.conn.tracking().highest_seq(set)
    }

    fn write_tracking(&mut self, set: &str, changes: &[RowChange]) -> Result<()> {
        self.flush()?;
        let applied_by = self.applied_by.clone();
        self.conn
            .tracking()
            .write_changes(set, changes, &applied_by)
    }

    fn mark_started(&mut self, set: &str, m: &Migration, direction: Direction) -> Result<()> {
        self.flush()?;
        // What a migration outside a transaction is compared with: the tables now.
        self.guard.before_outside_step(&mut self.conn.client)?;
        let applied_by = self.applied_by.clone();
        let mut tracking = self.conn.tracking();
        match direction {
            Direction::Up => tracking.insert_started(&RowValues {
                set,
                seq: m.seq,
                name: &m.name,
                checksum: m.checksum.to_string(),
                duration_ms: 0,
                applied_by: &applied_by,
            }),
            Direction::Down => tracking.mark_reverting(set, m.seq),
        }
    }

    fn update_checksum(&mut self, set: &str, seq: u64, checksum: &str) -> Result<()> {
        self.flush()?;
        self.conn.tracking().update_checksum(set, seq, checksum)
    }

    fn write_history(&mut self, events: &[HistoryEvent]) -> Result<()> {
        self.flush()?;
        let applied_by = self.applied_by.clone();
        self.conn.tracking().append_history_all(events, &applied_by)
    }

    /// The schema snapshot (read with `search_path = pg_catalog`) and its fingerprint, then,
    /// last (the tracking triggers clear it), the digest the no-op start compares.
    fn store_schema(&mut self, set: &str) -> Result<()> {
        self.flush()?;
        let objects = self.live_objects()?;
        self.conn.tracking().replace_schema(&objects)?;
        let print = fingerprint::fingerprint(&objects);
        self.conn.tracking().set_fingerprint(set, &print)?;
        digest::store(&mut self.conn.client, &self.conn.schema, set)
    }

    fn schema_drift(&mut self) -> Result<Option<SchemaDiff>> {
        self.flush()?;
        let stored = self.stored_objects()?;
        if stored.is_empty() {
            return Ok(None);
        }
        let diff = SchemaDiff::between(&stored, &self.live_objects()?);
        Ok((!diff.is_empty()).then_some(diff))
    }

    /// In the run's transaction, before anything is written: every user table locked `IN
    /// EXCLUSIVE MODE` (readers go on), its snapshot exported and dumped, so the backup holds
    /// exactly the state the run starts from. A missing or old `pg_dump`, or a table the role
    /// cannot read, refuses the run here; the transaction rolls back and nothing changes.
    fn back_up(&mut self, reason: &str) -> Result<Option<PathBuf>> {
        if self.backups.is_err() {
            log::info!("no pre-migration backup taken: {}", self.no_backup_reason());
            return Ok(None);
        }
        if let Some(run) = &self.run_backup {
            // Taken once before the first set of a run over several sets: this run's too.
            let path = run.path().to_owned();
            self.written.push(path.clone());
            self.baselines.push((path.clone(), run.baseline().clone()));
            return Ok(Some(path));
        }
        self.exact_backup(reason).map(Some)
    }

    /// Under `KeepApplied`, just before a `transaction = false` migration, in the transaction
    /// that marks it started (committed right after): the state its failure restores.
    fn back_up_before_step(&mut self) -> Result<Option<PathBuf>> {
        if self.backups.is_err() {
            return Ok(None);
        }
        self.exact_backup("pre-step").map(Some)
    }

    /// Restores `from` only when no other session wrote since it was taken
    /// (`restore_policy`): the undo backup of the failed state first, then one transaction
    /// under the run's advisory lock (the copy is a `FailedState` backup, never restored as
    /// "the latest"). Otherwise refused, naming the tables that would lose
    /// rows; the outcome gives the command to restore it by hand.
    fn restore(&mut self, from: &Path) -> Result<PathBuf> {
        let (Ok(backups), Some((key, token))) = (&self.backups, self.lock.clone()) else {
            return Err(Error::Unsupported(format!(
                "cannot restore {} automatically: {}",
                from.display(),
                self.no_backup_reason()
            )));
        };
        let backups = backups.clone();
        let written = match self.baselines.iter().find(|(path, _)| path == from) {
            Some((_, baseline)) => {
                let baseline = baseline.clone();
                // The earlier sets of a run over several sets were the runner's too.
                let mut ours = self.own_txids.clone();
                if let Some(run) = &self.run_backup {
                    ours.extend(run.txids());
                }
                restore_policy::written_since(&mut self.conn.client, &baseline, &ours)
                    .unwrap_or_else(|e| vec![format!("(cannot tell: {e})")])
            }
            None => vec!["(cannot tell: the backup was not taken by this run)".to_owned()],
        };
        if !written.is_empty() {
            return Err(Error::RestoreNotAutomatic {
                backup: from.to_owned(),
                written,
            });
        }
        let report = backups.restore_held(
            self.conn,
            (key, &token),
            from.to_owned(),
            crate::RestoreOptions::default(),
            BackupKind::FailedState,
        )?;
        self.written.push(report.undo_backup.path.clone());
        Ok(report.undo_backup.path)
    }

    fn override_flag(&self, error: &Error) -> Option<&'static str> {
        match error {
            Error::UndeclaredDestruction { .. }
            | Error::RowsLost { .. }
            | Error::ColumnDataLost { .. } => Some("--allow-destructive"),
            // Refused because rows are not counted in this run: both switches as it ran.
            Error::DestructiveWithoutRowCounts { .. } => {
                Some("--no-row-counts --allow-destructive")
            }
            _ => None,
        }
    }

    fn backup_shared_by_sets(&self, backup: &Path) -> bool {
        self.run_backup
            .as_ref()
            .is_some_and(|run| run.path() == backup)
    }

    fn no_backup_reason(&self) -> String {
        match &self.backups {
            Ok(_) => "the run failed before its backup was taken".to_owned(),
            Err(why) => why.clone(),
        }
    }

    /// The guard's baseline: every user table and its columns (nothing counted yet).
    fn start_batch(&mut self) -> Result<()> {
        self.guard.start(&mut self.conn.client)
    }

    fn restart_baselines(&mut self) -> Result<()> {
        self.guard.start(&mut self.conn.client)
    }

    /// With the last migration's queued `RELEASE` and re-arm, and this one's `SET LOCAL`
    /// timeouts: one round trip.
    fn savepoint(&mut self) -> Result<()> {
        self.verified = false;
        let sql = format!(
            "{}SAVEPOINT {SAVEPOINT}; {}",
            std::mem::take(&mut self.pending),
            self.step_settings()
        );
        Ok(self.client().batch_execute(&sql)?)
    }

    /// Released, then the guard armed again (`SET CONSTRAINTS ALL IMMEDIATE` fired it): queued
    /// for the next savepoint or the commit, which send them first in the same round trip.
    fn release_savepoint(&mut self) -> Result<()> {
        self.pending = format!(
            "RELEASE SAVEPOINT {SAVEPOINT}; INSERT INTO {} DEFAULT VALUES; ",
            self.conn.schema.qualify(commit_guard::GUARD)
        );
        self.guard.released();
        Ok(())
    }

    /// Whether the transaction holds more locks than a chunk may (`chunk.rs`).
    fn transaction_full(&mut self) -> Result<bool> {
        if !self.locks.count_due_after_step() {
            return Ok(false);
        }
        self.flush()?;
        self.locks.full(&mut self.conn.client)
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.guard.rolled_back();
        // The step that failed: its work is no longer in the transaction.
        self.held.pop();
        self.client().batch_execute(&format!(
            "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
        ))?;
        if !self.still_ours() {
            return Err(Error::TransactionEnded {
                seq: 0,
                name: "(rolling back to the savepoint)".into(),
            });
        }
        Ok(commit_guard::arm(&mut self.conn.client, &self.conn.schema)?)
    }

    fn run_step(&mut self, m: &Migration, job: Job) -> Result<()> {
        let step: &Step = match job.direction {
            Direction::Up => &m.up,
            Direction::Down => m
                .down
                .as_ref()
                .expect("the plan only reverts reversible migrations"),
        };
        log::info!("migration {} {}: running", m.label(), job.direction);
        match m.mode {
            TxMode::Transactional => {
                let label = format!("{} {:?} ({})", m.seq, m.name, job.direction);
                // Run again by the guard (once): still one step of the transaction.
                if self.held.last() != Some(&label) {
                    self.held.push(label);
                }
                self.run_in_savepoint(m, step)
            }
            TxMode::NonTransactional => {
                self.statements.clear();
                self.conn
                    .run_outside(m.seq, &m.name, step, &mut self.statements)?;
                match self.lock.clone() {
                    Some((key, token)) => self.conn.check_lock_held(key, &token),
                    None => Ok(()),
                }
            }
        }
    }

    fn after_step(&mut self) -> Result<()> {
        Ok(())
    }

    /// Is the session still in the runner's transaction (a step may have ended it:
    /// [`Error::TransactionEnded`]), then `SET CONSTRAINTS ALL IMMEDIATE` (the guard allowed
    /// for that moment): a deferred violation fails this migration, not the commit. One round
    /// trip for both. Then the row-count guard and destructive-change detection (`guard/`).
    fn check_step(&mut self, m: &Migration, job: Job) -> Result<Vec<RowCount>> {
        if m.mode == TxMode::Transactional {
            self.check_transactional(m)?;
        }
        let judged = self.guard_step(m, job);
        if judged.is_err() {
            self.verified = false;
        }
        judged
    }

    /// A migration that ended the transaction (the commit guard rolled all of it back), or a
    /// commit that did not happen (PostgreSQL keeps nothing of the transaction).
    fn rolled_back_itself(&self, error: &Error) -> bool {
        matches!(
            error,
            Error::TransactionEnded { .. } | Error::CommitLost { .. }
        )
    }

    fn explain_failure(
        &mut self,
        _error: &Error,
        _before: &Recorded,
        _after: &Recorded,
        _rerun: &str,
        _rolled_back_itself: bool,
        _backup: Option<&Path>,
    ) -> Option<String> {
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
        Error::MigrationFailed {
            set: set.to_owned(),
            seq: m.seq,
            name: m.name.clone(),
            direction,
            source: Box::new(error),
            outcome,
        }
    }

    /// A session lost on the way to a commit (while writing the tracking rows, the schema
    /// snapshot, the history) is said as such, as at the commit itself.
    fn commit_failed(&self, error: Error, kept: String, rerun: &str) -> Error {
        let error = match error {
            Error::Postgres(e) if crate::error::session_lost(&e) => Error::CommitLost {
                doing: "committing".into(),
                cause: crate::error::commit_cause(&e),
                migrations: self.held.clone(),
            },
            other => other,
        };
        Error::CommitFailed {
            error: Box::new(error),
            outcome: format!("{kept} Once the cause is fixed, run `{rerun}` again."),
        }
    }
}

impl PgBackend<'_> {
    /// The error of a commit that did not happen, with its cause and what the transaction
    /// held.
    fn commit_lost(&mut self, doing: &str, e: postgres::Error) -> Error {
        Error::CommitLost {
            doing: doing.to_owned(),
            cause: crate::error::commit_cause(&e),
            migrations: std::mem::take(&mut self.held),
        }
    }

    /// The txid and the deferred constraints of a transactional step, in one query. An error
    /// is the deferred check's while the transaction is still the runner's (aborted); a txid
    /// that is not the batch's, or no transaction, means the step ended it.
    fn check_transactional(&mut self, m: &Migration) -> Result<()> {
        // Without row counts, last, after the deferred triggers fired: the guard's delete
        // counter (the same round trip).
        let light = !self.guard.counts_rows();
        let sql = format!(
            "{}SELECT txid_current_if_assigned(); {}{}",
            std::mem::take(&mut self.pending),
            commit_guard::CHECK_DEFERRED,
            if light {
                format!("; {}", crate::guard::CLASS_DELETES)
            } else {
                String::new()
            }
        );
        let ours = match self.client().simple_query(&sql) {
            Ok(messages) => {
                if light {
                    self.guard.class_deletes_read(last_value(&messages));
                }
                self.txid.is_some() && first_value(&messages) == self.txid
            }
            Err(source) => {
                if source.code().map(|c| c.code()) == Some("25P02") {
                    // Aborted before the check ran: by a statement the step failed and ignored.
                    return Err(Error::StepIgnoredError {
                        seq: m.seq,
                        name: m.name.clone(),
                        statement_error: self.first_failure.take(),
                    });
                }
                if self.still_ours() {
                    return Err(Error::DeferredConstraint {
                        seq: m.seq,
                        name: m.name.clone(),
                        source,
                    });
                }
                false
            }
        };
        if !ours {
            // Whatever the step left open (a `BEGIN` of its own) goes too.
            let _ = self.client().batch_execute("ROLLBACK");
            self.closed();
            return Err(Error::TransactionEnded {
                seq: m.seq,
                name: m.name.clone(),
            });
        }
        self.verified = true;
        Ok(())
    }

    /// The guard's judgment of the step that just ran. When it needs a fact about the state
    /// before the step that nobody counted, the step is rolled back to its savepoint, the
    /// facts are read, and it runs again (once).
    fn guard_step(&mut self, m: &Migration, job: Job) -> Result<Vec<RowCount>> {
        let judging = Judging {
            seq: m.seq,
            refuse_losses: job.direction == Direction::Up
                && !m.flags.destructive
                && !self.allow_destructive,
            transactional: m.mode == TxMode::Transactional,
            rebuild: m.flags.rebuilds_tables,
        };
        let statements = std::mem::take(&mut self.statements);
        let needs = match self
            .guard
            .after_step(&mut self.conn.client, judging, &statements)?
        {
            Verdict::Passed(counts) => return Ok(counts),
            Verdict::Learn(needs) => needs,
        };
        log::info!(
            "migration {}: counting what it changed as it was before, then running it again",
            m.label()
        );
        self.verified = false;
        self.client()
            .batch_execute(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))?;
        self.guard.learn(&mut self.conn.client, &needs)?;
        // ROLLBACK TO undid the step's `SET LOCAL` timeouts (sent with the savepoint).
        let setup = self.step_settings();
        self.client().batch_execute(&setup)?;
        self.run_step(m, job)?;
        if m.mode == TxMode::Transactional {
            self.check_transactional(m)?;
        }
        let statements = std::mem::take(&mut self.statements);
        match self
            .guard
            .after_step(&mut self.conn.client, judging, &statements)?
        {
            Verdict::Passed(counts) => Ok(counts),
            Verdict::Learn(_) => Ok(Vec::new()),
        }
    }

    /// The exact backup in the open transaction, and what the restore policy compares
    /// against later.
    fn exact_backup(&mut self, reason: &str) -> Result<PathBuf> {
        let Ok(backups) = &self.backups else {
            return Err(Error::Unsupported(self.no_backup_reason()));
        };
        let backups = backups.clone();
        let snapshot = restore_policy::snapshot(&mut self.conn.client)?;
        let kind = BackupKind::Automatic {
            reason: reason.into(),
        };
        let info = backups.back_up_in(&mut self.conn.client, kind)?;
        self.written.push(info.path.clone());
        let baseline = restore_policy::baseline(&mut self.conn.client, snapshot)?;
        self.baselines_in_tx.push(self.baselines.len());
        self.baselines.push((info.path.clone(), baseline));
        Ok(info.path)
    }

    /// Just before a runner transaction that took a backup commits (its table locks still hold
    /// writers off): the xids of the rows it wrote, its savepoints' included, join its own, and
    /// its baselines are recounted (`restore_policy`). On an error the old values stay: the automatic
    /// restore is then refused, never wrongly allowed.
    fn note_own_writes(&mut self) {
        if self.txid.is_none() || self.baselines_in_tx.is_empty() {
            return; // no backup taken in this transaction: nothing to note
        }
        // In a savepoint of its own: a failed read must not abort what is about to commit.
        if let Err(e) = self.client().batch_execute("SAVEPOINT migrate_own_writes") {
            log::warn!("cannot note the run's own writes: {e}");
            return;
        }
        let noted = self.read_own_writes();
        let end = match &noted {
            Ok(()) => "RELEASE SAVEPOINT migrate_own_writes",
            Err(e) => {
                log::warn!("cannot note the run's own writes (a restore will be refused): {e}");
                "ROLLBACK TO SAVEPOINT migrate_own_writes; RELEASE SAVEPOINT migrate_own_writes"
            }
        };
        if let Err(e) = self.client().batch_execute(end) {
            log::warn!("cannot end the savepoint after noting the run's writes: {e}");
        }
    }

    fn read_own_writes(&mut self) -> Result<()> {
        let mut xids = Vec::new();
        let mut recounted = Vec::new();
        for &i in &self.baselines_in_tx {
            if let Some((_, baseline)) = self.baselines.get(i) {
                let mut baseline = baseline.clone();
                xids.extend(baseline.recount_own(&mut self.conn.client)?);
                recounted.push((i, baseline));
            }
        }
        self.own_txids.extend(xids);
        for (i, baseline) in recounted {
            self.baselines[i].1 = baseline;
        }
        Ok(())
    }

    /// An operator's resolution of a started row: applied (the row turns applied) or not
    /// applied (the row goes), in the runner's transaction.
    pub fn settle(
        &mut self,
        set: &str,
        row: &AppliedRow,
        applied: bool,
        applied_by: &str,
    ) -> Result<()> {
        let mut tracking = self.conn.tracking();
        if applied {
            tracking.insert_applied(&RowValues {
                set,
                seq: row.seq,
                name: &row.name,
                checksum: row.checksum.clone(),
                duration_ms: 0,
                applied_by,
            })
        } else {
            tracking.delete_row(set, row.seq)
        }
    }
}

/// A step's error "current transaction is aborted" (25P02) means an earlier statement of it
/// failed and its code went on: [`Error::StepIgnoredError`], naming that statement.
pub(crate) fn ignored_error(error: Error, m: &Migration, first: &mut Option<String>) -> Error {
    if error.sqlstate() == Some("25P02") {
        return Error::StepIgnoredError {
            seq: m.seq,
            name: m.name.clone(),
            statement_error: first.take(),
        };
    }
    error
}

/// The first column of the first row of a simple query's answer, parsed.
/// The first column of the last row of a simple query's results.
fn last_value<T: std::str::FromStr>(messages: &[SimpleQueryMessage]) -> Option<T> {
    messages.iter().rev().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0).and_then(|v| v.parse().ok()),
        _ => None,
    })
}

fn first_value<T: std::str::FromStr>(messages: &[SimpleQueryMessage]) -> Option<T> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0).and_then(|v| v.parse().ok()),
        _ => None,
    })
}
