//! The safety protocol: lock, foreign keys off in autocommit mode, `BEGIN IMMEDIATE`, read the
//! tracking rows inside the lock, each migration in its own savepoint (guarded by an authorizer
//! that refuses transaction control) followed by `foreign_key_check` and its tracking row,
//! commit, put the pragmas back. What a failure kept is read back from the database, never
//! assumed.

use crate::backup::{self, BackupKind};
use crate::busy;
use crate::digest;
use crate::lock::FileLock;
use crate::outcome::{self, Recorded};
use crate::pragmas::{self, PragmaGuard};
use crate::report::{Direction, RunReport, StepReport};
use crate::row_counts::{self, RowCounter};
use crate::sentry::{Phase, Sentry};
use crate::sqlite_codes;
use crate::step_call::call_step;
use crate::tracking::{self, HistoryEvent, RowValues};
use crate::{
    BackupInfo, Error, Event, FailurePolicy, FkViolation, Migration, Migrator, Result, RowCount,
    Step, fingerprint, foreign_keys,
};
use migrate_core::{DownTarget, Plan, Registry, Status, TxMode};
use rusqlite::{Connection, ErrorCode};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the user asked for.
#[derive(Clone, Copy, Debug)]
pub enum Operation {
    Up(Option<u64>),
    Down(DownTarget),
    Redo,
}

/// One migration to run in one direction.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub seq: u64,
    pub direction: Direction,
}

/// Runs `op` under the full protocol.
pub fn run(
    conn: &mut Connection,
    path: Option<&Path>,
    registry: &Registry<Step>,
    config: &Migrator,
    op: Operation,
) -> Result<RunReport> {
    let started = Instant::now();
    let label = path.map_or(":memory:".to_owned(), |p| p.display().to_string());
    if !conn.is_autocommit() {
        return Err(Error::Unsupported(format!(
            "the connection to {label} is inside a transaction; migrate before opening one \
             (foreign keys cannot be switched off inside a transaction)"
        )));
    }
    // The configured timeout applies from the very first statement (the no-op start's read
    // included); the caller's comes back afterwards.
    let previous_timeout = pragmas::busy_timeout(conn)?;
    conn.busy_timeout(config.busy_timeout)?;
    let ctx = Context {
        path,
        registry,
        config,
        label: &label,
        written: RefCell::new(Vec::new()),
    };
    let result = run_with_timeout(conn, &ctx, op, started);
    if let Err(e) = conn.busy_timeout(previous_timeout) {
        log::error!("cannot restore busy_timeout: {e}");
    }
    result
}

fn run_with_timeout(
    conn: &mut Connection,
    ctx: &Context<'_>,
    op: Operation,
    started: Instant,
) -> Result<RunReport> {
    let config = ctx.config;
    if let Operation::Up(target) = op
        && let Some(report) = nothing_to_apply(conn, ctx.registry, config, target, started)
            .map_err(|e| {
                busy::explain(
                    e,
                    ctx.label,
                    config.busy_timeout,
                    "reading the tracking rows (before taking the migration lock)",
                    busy::WRITER,
                )
            })?
    {
        return Ok(report);
    }
    let _lock = ctx
        .path
        .map(|p| FileLock::acquire(p, config.busy_timeout))
        .transpose()?;
    let result = run_locked(conn, ctx, op, started);
    if let Some(path) = ctx.path
        && !config.backups.disabled
    {
        // Never the backups this run wrote: its messages name them.
        let written = ctx.written.borrow();
        let keep: Vec<&Path> = written.iter().map(PathBuf::as_path).collect();
        backup::prune(path, &config.backups, &keep);
    }
    result
}

/// What every stage of a run reads.
struct Context<'a> {
    path: Option<&'a Path>,
    registry: &'a Registry<Step>,
    config: &'a Migrator,
    label: &'a str,
    /// Every backup this run wrote (retention must not delete them).
    written: RefCell<Vec<PathBuf>>,
}

fn run_locked(
    conn: &mut Connection,
    ctx: &Context<'_>,
    op: Operation,
    started: Instant,
) -> Result<RunReport> {
    let sentry =
        Sentry::install(conn).map_err(runner_error(ctx.label, "installing the authorizer"))?;
    let result = run_guarded(conn, &sentry, ctx, op, started);
    if let Err(e) = Sentry::uninstall(conn) {
        log::error!("cannot remove the authorizer: {e}");
    }
    result
}

fn run_guarded(
    conn: &Connection,
    sentry: &Sentry,
    ctx: &Context<'_>,
    op: Operation,
    started: Instant,
) -> Result<RunReport> {
    let pragmas = PragmaGuard::foreign_keys_off(conn)
        .map_err(runner_error(ctx.label, "switching foreign keys off"))?;
    let batch = Batch {
        conn,
        sentry,
        pragmas: &pragmas,
        path: ctx.path,
        registry: ctx.registry,
        config: ctx.config,
        label: ctx.label,
        applied_by: ctx.config.applied_by(),
        fk_baseline: RefCell::new(BTreeSet::new()),
        fk_declared: Cell::new(true),
        pending_history: RefCell::new(Vec::new()),
        pending_rows: RefCell::new(Vec::new()),
        backup: RefCell::new(None),
        rows: RefCell::new(None),
        written: &ctx.written,
        steps_done: Cell::new(0),
        restore_point: RefCell::new(None),
    };
    let result = batch.run(op, started);
    let restored = pragmas.restore().map_err(runner_error(
        ctx.label,
        "restoring foreign_keys and legacy_alter_table",
    ));
    let report = result?;
    restored?;
    Ok(report)
}

/// The plan as the database stands, read in one snapshot.
pub fn read_plan(conn: &Connection, registry: &Registry<Step>) -> Result<Plan> {
    let rows = read_recorded(conn, registry.set())?;
    Ok(Plan::new(registry, rows.rows()))
}

/// The tracking rows of `set`, read in one snapshot.
fn read_recorded(conn: &Connection, set: &str) -> Result<Recorded> {
    conn.execute_batch("BEGIN")?;
    let rows = tracking::read_plan_rows(conn, set);
    conn.execute_batch("COMMIT")?;
    Ok(Recorded::new(rows?))
}

/// The fast path of a start with nothing to do: one read, no lock, no write. Anything else
/// (work to do, or something to refuse) is decided again under the lock.
fn nothing_to_apply(
    conn: &Connection,
    registry: &Registry<Step>,
    config: &Migrator,
    target: Option<u64>,
    started: Instant,
) -> Result<Option<RunReport>> {
    let known_target = target.is_none_or(|seq| registry.get(seq).is_some());
    if known_target && digest::stored(conn, registry.set())? == Some(digest::of_registry(registry))
    {
        // Exactly this registry is applied: nothing to apply, accept or refuse.
        let last = registry.migrations().last().map(|m| m.seq);
        return Ok(Some(RunReport {
            set: registry.set().to_owned(),
            steps: Vec::new(),
            accepted_checksums: Vec::new(),
            before: last,
            after: last,
            duration: started.elapsed(),
        }));
    }
    let plan = read_plan(conn, registry)?;
    if accepts_something(&plan, config) {
        return Ok(None);
    }
    match plan.to_apply(target, &config.policy) {
        Ok(seqs) if seqs.is_empty() => Ok(Some(empty_report(registry, &plan, started))),
        _ => Ok(None),
    }
}

fn accepts_something(plan: &Plan, config: &Migrator) -> bool {
    config.policy.accepted_checksums.iter().any(|seq| {
        matches!(
            plan.entry(*seq).map(|e| &e.status),
            Some(Status::Modified { .. })
        )
    })
}

fn empty_report(registry: &Registry<Step>, plan: &Plan, started: Instant) -> RunReport {
    RunReport {
        set: registry.set().to_owned(),
        steps: Vec::new(),
        accepted_checksums: Vec::new(),
        before: plan.current(),
        after: plan.current(),
        duration: started.elapsed(),
    }
}

pub(crate) fn runner_error<'a>(
    label: &'a str,
    doing: &'a str,
) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |source| Error::Runner {
        doing: doing.to_owned(),
        path: label.to_owned(),
        source,
    }
}

/// `BEGIN IMMEDIATE`, a busy database reported as [`Error::Locked`].
pub(crate) fn begin_immediate(conn: &Connection, label: &str, waited: Duration) -> Result<()> {
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => Err(Error::Locked {
            path: label.to_owned(),
            waited_ms: waited.as_millis() as u64,
        }),
        Err(e) => Err(runner_error(label, "BEGIN IMMEDIATE")(e)),
    }
}

/// `down N` with fewer than N applied: refused, read under the lock, before anything changes
/// (reverting "as many as there are" would silently do more than the operator meant).
fn refuse_down_too_far(target: DownTarget, before: &Recorded, set: &str) -> Result<()> {
    let DownTarget::Steps(steps) = target else {
        return Ok(());
    };
    let applied = before
        .rows()
        .iter()
        .filter(|r| r.state == migrate_core::RowState::Applied)
        .count();
    if steps > applied {
        return Err(Error::DownTooFar {
            set: set.to_owned(),
            steps,
            applied,
        });
    }
    Ok(())
}

/// A transactional migration recorded as started: the runner never leaves one that way (its
/// tracking row commits with its work), so the row was changed by hand or by another tool.
/// Said as it is, not as an interrupted `transaction = false` migration.
fn refuse_started_transactional(
    before: &Recorded,
    registry: &Registry<Step>,
    label: &str,
) -> Result<()> {
    let Some((row, m)) = before.rows().iter().find_map(|row| {
        let m = registry.get(row.seq)?;
        (row.state == migrate_core::RowState::Started && m.mode == TxMode::Transactional)
            .then_some((row, m))
    }) else {
        return Ok(());
    };
    let seq = row.seq;
    Err(Error::TrackingUnreadable {
        path: label.to_owned(),
        problem: format!(
            "migration {} is recorded as started and never finished, but it runs in a \
             transaction, so the runner never leaves it that way (its tracking row commits \
             together with its work): the row in {} was changed by hand or by another tool",
            m.label(),
            tracking::APPLIED_TABLE
        ),
        way_out: format!(
            "Check whether its changes are in the database: if they are, record it as applied \
             (`migrate resolve {seq} --applied`); if not, forget it (`migrate resolve {seq} \
             --not-applied`) and the next `migrate up` runs it"
        ),
    })
}

/// Why a migration did not complete, and whether the runner's transaction survived it.
struct Failure {
    error: Error,
    transaction_lost: bool,
}

impl Failure {
    fn kept(error: Error) -> Self {
        Failure {
            error,
            transaction_lost: false,
        }
    }

    fn lost(error: Error) -> Self {
        Failure {
            error,
            transaction_lost: true,
        }
    }
}

/// A tracking-row change waiting for the commit.
enum RowChange {
    Applied {
        seq: u64,
        name: String,
        checksum: String,
        took: Duration,
    },
    Removed {
        seq: u64,
    },
}

struct Batch<'a> {
    conn: &'a Connection,
    sentry: &'a Sentry,
    pragmas: &'a PragmaGuard<'a>,
    /// The database file (None in memory: no lock file, no backups).
    path: Option<&'a Path>,
    registry: &'a Registry<Step>,
    config: &'a Migrator,
    label: &'a str,
    applied_by: String,
    /// Foreign key violations already there before the current step: only new ones fail it.
    fk_baseline: RefCell<BTreeSet<FkViolation>>,
    /// Whether any table declares a foreign key; with none, no violation is possible.
    fk_declared: Cell<bool>,
    /// History rows of this transaction, written together just before it commits.
    pending_history: RefCell<Vec<HistoryEvent>>,
    /// Tracking-row changes of this transaction's completed steps, in order, written just
    /// before it commits: after the last schema change, so their statements are prepared once
    /// rather than once per migration (every CREATE invalidates prepared statements).
    pending_rows: RefCell<Vec<RowChange>>,
    /// The backup taken before the first step, if any.
    backup: RefCell<Option<BackupInfo>>,
    /// The row-count guard's counts (None when it is off).
    rows: RefCell<Option<RowCounter>>,
    /// Every backup this run wrote.
    written: &'a RefCell<Vec<PathBuf>>,
    /// Steps completed so far in this run.
    steps_done: Cell<usize>,
    /// Under `KeepApplied`: the backup taken just before a `transaction = false` migration
    /// (seq), once earlier steps of the run were committed; its failure restores this.
    restore_point: RefCell<Option<(u64, BackupInfo)>>,
}

impl Batch<'_> {
    fn run(&self, op: Operation, started: Instant) -> Result<RunReport> {
        self.begin()?;
        let (plan, before, jobs) = match self.prepare(op) {
            Ok(prepared) => prepared,
            Err(e) => {
                self.rollback_all();
                return Err(e);
            }
        };
        if jobs.is_empty() && !accepts_something(&plan, self.config) {
            // Nothing to do: write nothing, not even the tracking tables.
            self.rollback_all();
            return Ok(empty_report(self.registry, &plan, started));
        }
        if !jobs.is_empty()
            && let Err(e) = self.back_up_first(op)
        {
            self.rollback_all();
            return Err(e);
        }
        let accepted = match self.start_batch(&plan) {
            Ok(accepted) => accepted,
            Err(e) => {
                self.rollback_all();
                return Err(e);
            }
        };
        let mut done: Vec<StepReport> = Vec::new();
        let hooks = &self.config.hooks;
        let steps = jobs.len();
        let set = self.registry.set().to_owned();
        hooks.emit(Event::BatchStarting {
            set: set.clone(),
            steps,
        });
        for job in jobs {
            let migration = self
                .registry
                .get(job.seq)
                .expect("the plan only schedules migrations the registry has");
            hooks.emit(Event::MigrationStarting {
                seq: job.seq,
                name: migration.name.clone(),
                direction: job.direction,
            });
            let outcome = match migration.mode {
                TxMode::Transactional => self.in_savepoint(migration, job),
                TxMode::NonTransactional => self.outside_transaction(migration, job),
            };
            match outcome {
                Ok(step) => {
                    hooks.emit(Event::MigrationFinished {
                        seq: step.seq,
                        name: step.name.clone(),
                        direction: step.direction,
                        duration: step.duration,
                    });
                    done.push(step);
                    self.steps_done.set(done.len());
                }
                Err(failure) => {
                    let error = self.fail(failure, migration, job, &before);
                    hooks.emit(Event::MigrationFailed {
                        seq: job.seq,
                        name: migration.name.clone(),
                        error: error.to_string(),
                    });
                    return Err(error);
                }
            }
        }
        if let Err(e) = self.finish_run() {
            self.rollback_all();
            return Err(self.commit_failed(e, &before));
        }
        hooks.emit(Event::BatchFinished { set, steps });
        // Read back, not assumed: the highest recorded seq, as `Plan::current` counts it.
        let after = tracking::highest_seq(self.conn, self.registry.set())?;
        Ok(RunReport {
            set: self.registry.set().to_owned(),
            steps: done,
            accepted_checksums: accepted,
            before: plan.current(),
            after,
            duration: started.elapsed(),
        })
    }

    /// Inside the write lock: tracking tables, the plan, the jobs.
    fn prepare(&self, op: Operation) -> Result<(Plan, Recorded, Vec<Job>)> {
        tracking::ensure_tables(self.conn)
            .map_err(runner_error(self.label, "creating the tracking tables"))?;
        let before = Recorded::new(tracking::read_plan_rows(self.conn, self.registry.set())?);
        refuse_started_transactional(&before, self.registry, self.label)?;
        let plan = Plan::new(self.registry, before.rows());
        let policy = &self.config.policy;
        let up = |seqs: Vec<u64>| {
            seqs.into_iter().map(|seq| Job {
                seq,
                direction: Direction::Up,
            })
        };
        let down = |seqs: Vec<u64>| {
            seqs.into_iter().map(|seq| Job {
                seq,
                direction: Direction::Down,
            })
        };
        let jobs: Vec<Job> = match op {
            Operation::Up(target) => up(plan.to_apply(target, policy)?).collect(),
            Operation::Down(target) => {
                refuse_down_too_far(target, &before, self.registry.set())?;
                down(plan.to_revert(target, policy)?).collect()
            }
            Operation::Redo => {
                let last = plan.to_revert(DownTarget::Steps(1), policy)?;
                if last.is_empty() {
                    return Err(Error::Unsupported(format!(
                        "nothing is applied in set {:?}, so there is nothing to redo; nothing \
                         was changed",
                        self.registry.set()
                    )));
                }
                down(last.clone()).chain(up(last)).collect()
            }
        };
        Ok((plan, before, jobs))
    }

    /// The pre-migration backup, taken while this connection holds `BEGIN IMMEDIATE` and has
    /// written nothing: no writer can change the database during the copy.
    fn back_up_first(&self, op: Operation) -> Result<()> {
        let Some(path) = self.path.filter(|_| !self.config.backups.disabled) else {
            return Ok(());
        };
        let reason = match op {
            Operation::Up(_) => "pre-up",
            Operation::Down(_) => "pre-down",
            Operation::Redo => "pre-redo",
        };
        let kind = BackupKind::Automatic {
            reason: reason.into(),
        };
        let info = backup::take(self.conn, path, &self.config.backups, kind)?;
        log::info!("pre-migration backup created: {}", info.path.display());
        self.written.borrow_mut().push(info.path.clone());
        *self.backup.borrow_mut() = Some(info);
        Ok(())
    }

    /// Before the first step, in the run's transaction (so they roll back with it): accepted
    /// checksums, hand-made schema changes found before the run, the foreign key baseline.
    fn start_batch(&self, plan: &Plan) -> Result<Vec<u64>> {
        let accepted = self.accept_checksums(plan)?;
        self.record_drift()?;
        self.fk_declared.set(
            foreign_keys::any_declared(self.conn)
                .map_err(runner_error(self.label, "looking for foreign keys"))?,
        );
        let baseline = foreign_keys::violations(self.conn)
            .map_err(runner_error(self.label, "PRAGMA foreign_key_check"))?;
        if !baseline.is_empty() {
            log::warn!(
                "{} foreign key violations exist before the run; migrations fail only on new ones",
                baseline.len()
            );
        }
        *self.fk_baseline.borrow_mut() = baseline.into_iter().collect();
        self.count_all_rows()?;
        Ok(accepted)
    }

    /// The row-count guard's baseline: every user table, counted once per transaction.
    fn count_all_rows(&self) -> Result<()> {
        if self.config.count_rows {
            let counter = RowCounter::start(self.conn)
                .map_err(runner_error(self.label, "counting the rows of every table"))?;
            *self.rows.borrow_mut() = Some(counter);
        }
        Ok(())
    }

    /// The row-count guard after a step: counts the tables it touched. In a transactional
    /// `up` that did not declare `destructive`, a table left with fewer rows fails the step.
    /// Outside a transaction other connections may have written meanwhile, so a loss there is
    /// logged and recorded, not failed (failing would restore the backup over their writes).
    fn check_row_counts(&self, m: &Migration, job: Job) -> Result<Vec<RowCount>> {
        let touched = self.sentry.take_touched();
        let mut rows = self.rows.borrow_mut();
        let Some(counter) = rows.as_mut() else {
            return Ok(Vec::new());
        };
        let counts = counter
            .after_step(self.conn, touched)
            .map_err(runner_error(
                self.label,
                "counting rows after the migration",
            ))?;
        if job.direction == Direction::Up {
            let allowed = m.flags.destructive || self.config.allow_destructive;
            match m.mode {
                TxMode::Transactional => row_counts::check_losses(m.seq, allowed, &counts)?,
                TxMode::NonTransactional => {
                    for lost in counts.iter().filter(|c| !allowed && c.lost().is_some()) {
                        log::warn!("migration {} (outside a transaction): {lost}", m.label());
                    }
                }
            }
        }
        Ok(counts)
    }

    /// Records the checksums the operator accepted, with a history row each.
    fn accept_checksums(&self, plan: &Plan) -> Result<Vec<u64>> {
        let mut accepted = Vec::new();
        for &seq in &self.config.policy.accepted_checksums {
            let Some(entry) = plan.entry(seq) else {
                continue;
            };
            let (Status::Modified { recorded }, Some(current)) = (&entry.status, entry.checksum)
            else {
                continue;
            };
            let current = current.to_string();
            tracking::update_checksum(self.conn, self.registry.set(), seq, &current)?;
            self.history(HistoryEvent {
                seq: Some(seq),
                name: Some(entry.name.clone()),
                action: "accept-checksum".into(),
                outcome: "ok".into(),
                detail: Some(format!("checksum {recorded} replaced by {current}")),
                ..self.event()
            });
            log::warn!(
                "accepted the new checksum of {seq} {:?}: {recorded} -> {current}",
                entry.name
            );
            accepted.push(seq);
        }
        Ok(accepted)
    }

    /// A schema changed by hand since the last run becomes part of the new baseline when this
    /// run stores its snapshot; the history keeps what it was.
    fn record_drift(&self) -> Result<()> {
        let stored = fingerprint::stored(self.conn)?;
        if stored.is_empty() {
            return Ok(());
        }
        let diff = fingerprint::SchemaDiff::between(&stored, &fingerprint::objects(self.conn)?);
        if diff.is_empty() {
            return Ok(());
        }
        log::warn!("the schema was changed outside migrations since the last run: {diff}");
        self.history(HistoryEvent {
            action: "drift".into(),
            outcome: "found before the run".into(),
            detail: Some(diff.to_string()),
            ..self.event()
        });
        Ok(())
    }

    /// A transactional migration: its own savepoint, checks, tracking row.
    fn in_savepoint(&self, m: &Migration, job: Job) -> Result<StepReport, Failure> {
        self.sql(
            "SAVEPOINT migrate_step",
            "opening the migration's savepoint",
        )
        .map_err(Failure::kept)?;
        let started = Instant::now();
        let result = self
            .run_step(m, job, Phase::TransactionalStep)
            .and_then(|()| self.after_step())
            .and_then(|()| self.check_foreign_keys())
            .and_then(|()| self.check_row_counts(m, job))
            .and_then(|counts| self.record(m, job, started.elapsed(), counts));
        if self.conn.is_autocommit() {
            return Err(Failure::lost(
                result
                    .err()
                    .unwrap_or(Error::TransactionEscaped { step_error: None }),
            ));
        }
        match result {
            Ok(()) => match self.sql(
                "RELEASE migrate_step",
                "releasing the migration's savepoint",
            ) {
                Ok(()) => Ok(self.step_report(m, job, started.elapsed())),
                // The savepoint is gone: the transaction is no longer what the runner built.
                Err(e) => Err(Failure::lost(e)),
            },
            Err(error) => {
                match self
                    .conn
                    .execute_batch("ROLLBACK TO migrate_step; RELEASE migrate_step")
                {
                    Ok(()) => Err(Failure::kept(error)),
                    Err(e) => {
                        log::error!("cannot roll back the savepoint of {}: {e}", m.label());
                        Err(Failure::lost(error))
                    }
                }
            }
        }
    }

    /// A `transaction = false` migration: what ran before it is committed, it is recorded as
    /// started, runs in autocommit mode, and is recorded as done in a transaction of its own.
    fn outside_transaction(&self, m: &Migration, job: Job) -> Result<StepReport, Failure> {
        self.commit_so_far()
            .and_then(|()| self.begin())
            .map_err(Failure::lost)?;
        // Nothing of it has run: if its restore point cannot be taken, the run stands as it is
        // (under `KeepApplied` the earlier steps stay, and nothing needs restoring).
        self.take_restore_point(m).map_err(Failure::kept)?;
        self.mark_started(m, job).map_err(Failure::lost)?;
        let started = Instant::now();
        let ran = self.run_step(m, job, Phase::NonTransactionalStep);
        if !self.conn.is_autocommit() {
            self.rollback_all();
            return Err(Failure::lost(
                ran.err().unwrap_or(Error::Unsupported(
                    "the non-transactional migration left a transaction open; it was rolled back. \
                 A migration declared `transaction = false` must not leave one open"
                        .into(),
                )),
            ));
        }
        let finish = || -> Result<()> {
            ran?;
            self.after_step()?;
            self.begin()?;
            self.check_foreign_keys()?;
            let counts = self.check_row_counts(m, job)?;
            self.record(m, job, started.elapsed(), counts)?;
            self.commit_so_far()?;
            self.begin()?;
            // Others may have written between the transactions: count afresh.
            self.count_all_rows()
        };
        match finish() {
            Ok(()) => Ok(self.step_report(m, job, started.elapsed())),
            Err(error) => {
                self.rollback_all();
                Err(Failure::lost(error))
            }
        }
    }

    /// Makes everything up to here durable, with its history and schema snapshot.
    fn commit_so_far(&self) -> Result<()> {
        self.store_schema()?;
        self.flush_history()?;
        self.sql("COMMIT", "committing")
    }

    /// The started row (up) or reverting row (down) of a non-transactional migration.
    /// In the transaction the caller began.
    fn mark_started(&self, m: &Migration, job: Job) -> Result<()> {
        let marked = match job.direction {
            Direction::Up => {
                tracking::insert_started(self.conn, &self.row_values(m, Duration::ZERO))
            }
            Direction::Down => tracking::mark_reverting(self.conn, self.registry.set(), m.seq),
        };
        marked.map_err(runner_error(
            self.label,
            "recording the migration as started",
        ))?;
        self.history(HistoryEvent {
            seq: Some(m.seq),
            name: Some(m.name.clone()),
            action: format!("{}-started", job.direction),
            outcome: "started".into(),
            ..self.event()
        });
        self.flush_history()?;
        self.sql(
            "COMMIT",
            "recording the non-transactional migration as started",
        )
    }

    /// Under `KeepApplied`, the steps this run committed before a `transaction = false`
    /// migration stay if it fails, so the backup its failure restores is the state just before
    /// it: taken here, in the transaction that marks it started (writers held off), before
    /// anything is written.
    fn take_restore_point(&self, m: &Migration) -> Result<()> {
        let keep = self.config.failure == FailurePolicy::KeepApplied;
        let Some(path) = self
            .path
            .filter(|_| keep && !self.config.backups.disabled && self.steps_done.get() > 0)
        else {
            return Ok(());
        };
        let kind = BackupKind::Automatic {
            reason: "pre-step".into(),
        };
        let info = backup::take(self.conn, path, &self.config.backups, kind).map_err(|e| {
            // Not "nothing was migrated": the earlier steps of this run are committed.
            let (dir, cause) = match e {
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
        self.written.borrow_mut().push(info.path.clone());
        *self.restore_point.borrow_mut() = Some((m.seq, info));
        Ok(())
    }

    /// Calls the user's step, turning a panic into an error and naming what the authorizer
    /// refused.
    fn run_step(&self, m: &Migration, job: Job, phase: Phase) -> Result<()> {
        let step: &Step = match job.direction {
            Direction::Up => &m.up,
            Direction::Down => m
                .down
                .as_ref()
                .expect("the plan only reverts reversible migrations"),
        };
        log::info!("migration {} {}: running", m.label(), job.direction);
        call_step(
            self.conn,
            self.sentry,
            m,
            step,
            job.direction,
            phase,
            self.config.allow_destructive,
        )
    }

    /// Puts the run's pragmas back if the step set any (the sentry saw it).
    fn after_step(&self) -> Result<()> {
        if !self.sentry.take_pragma_set() {
            return Ok(());
        }
        self.pragmas.reset_after_step().map_err(runner_error(
            self.label,
            "resetting the connection's pragmas",
        ))
    }

    /// Fails on violations that were not there before the step. Skipped while no table
    /// declares a foreign key (the sentry says when a step created or altered a table).
    fn check_foreign_keys(&self) -> Result<()> {
        let (changed, altered) = self.sentry.take_changed_tables();
        if !self.fk_declared.get() && !changed.is_empty() {
            // After an ALTER TABLE a created table may live on under another name (the rebuild
            // pattern): look at the whole schema, which only that case pays for.
            let declared = if altered {
                foreign_keys::any_declared(self.conn)
            } else {
                foreign_keys::declared_in(self.conn, &changed)
            };
            self.fk_declared
                .set(declared.map_err(runner_error(self.label, "looking for foreign keys"))?);
        }
        if !self.fk_declared.get() {
            return Ok(());
        }
        let now: BTreeSet<FkViolation> = foreign_keys::violations(self.conn)
            .map_err(runner_error(self.label, "PRAGMA foreign_key_check"))?
            .into_iter()
            .collect();
        let mut baseline = self.fk_baseline.borrow_mut();
        let new: Vec<FkViolation> = now.difference(&baseline).cloned().collect();
        if new.is_empty() {
            *baseline = now;
            Ok(())
        } else {
            Err(Error::ForeignKeyViolations {
                violations: new,
                already_there: baseline.len(),
            })
        }
    }

    /// The tracking row and history row of a completed step, queued for the current
    /// transaction (its commit writes them before anything else).
    fn record(
        &self,
        m: &Migration,
        job: Job,
        took: Duration,
        row_counts: Vec<RowCount>,
    ) -> Result<()> {
        self.pending_rows.borrow_mut().push(match job.direction {
            Direction::Up => RowChange::Applied {
                seq: m.seq,
                name: m.name.clone(),
                checksum: m.checksum.to_string(),
                took,
            },
            Direction::Down => RowChange::Removed { seq: m.seq },
        });
        self.history(HistoryEvent {
            seq: Some(m.seq),
            name: Some(m.name.clone()),
            action: job.direction.to_string(),
            outcome: "ok".into(),
            duration_ms: Some(took.as_millis() as u64),
            row_counts,
            ..self.event()
        });
        Ok(())
    }

    /// After the last step: schema snapshot and fingerprint, history, commit.
    fn finish_run(&self) -> Result<()> {
        self.store_schema()?;
        self.flush_history()?;
        self.sql("COMMIT", "committing the run")
    }

    /// Before each commit: the schema snapshot, its fingerprint, and last the rows' digest
    /// (any later change to the tracking rows would clear it).
    fn store_schema(&self) -> Result<()> {
        self.flush_tracking_rows()?;
        let objects = fingerprint::objects(self.conn)?;
        fingerprint::store(self.conn, &objects)?;
        tracking::set_fingerprint(
            self.conn,
            self.registry.set(),
            &fingerprint::fingerprint(&objects),
        )?;
        digest::store(self.conn, self.registry.set())?;
        Ok(())
    }

    /// Rolls back what the policy says, records the failure, and describes what was kept by
    /// reading it back.
    fn fail(&self, failure: Failure, m: &Migration, job: Job, before: &Recorded) -> Error {
        let detail = failure.error.to_string();
        log::error!("migration {} {} failed: {detail}", m.label(), job.direction);
        let mut notes = Vec::new();
        let keep = self.config.failure == FailurePolicy::KeepApplied;
        let kept_and_recorded = !failure.transaction_lost && keep && {
            self.history(self.failure_event(m, job, &detail));
            match self.finish_run() {
                Ok(()) => true,
                Err(e) => {
                    notes.push(format!(
                        "Committing the migrations that succeeded before it failed ({e}), so \
                         they were rolled back too."
                    ));
                    false
                }
            }
        };
        // Disk full (or an I/O error) in a transactional migration: SQLite rolled the whole
        // transaction back itself. That rollback protects the database; restoring over it
        // could only do harm (and needs the space that is missing).
        let rolled_back_by_sqlite = failure.transaction_lost
            && m.mode == TxMode::Transactional
            && sqlite_codes::rolled_back_by_sqlite(&failure.error);
        let mut restored = None;
        if !kept_and_recorded {
            self.rollback_all();
            // Work a rollback cannot undo: put the pre-migration backup back.
            let undoable = (failure.transaction_lost && !rolled_back_by_sqlite)
                || m.mode == TxMode::NonTransactional;
            if undoable && self.backup.borrow().is_some() {
                restored = Some(self.restore_after_failure(m));
            }
            let detail = match &restored {
                Some(Ok(r)) => format!("{detail} (database restored from {})", r.from.display()),
                _ => detail.clone(),
            };
            if let Err(e) = self.record_failure_alone(m, job, &detail) {
                notes.push(format!(
                    "The failure could not be written to the history ({e})."
                ));
            }
        }
        let after = read_recorded(self.conn, self.registry.set());
        let backup = self.backup.borrow().clone();
        let mut outcome = match (&restored, after) {
            (Some(Ok(r)), after) => outcome::restored(before, after.ok().as_ref(), r, job),
            (Some(Err(e)), _) => {
                outcome::restore_failed(self.backup_to_restore(m).as_ref().or(backup.as_ref()), e)
            }
            (None, Ok(after)) if sqlite_codes::has_code(&failure.error, ErrorCode::ReadOnly) => {
                let file_read_only = self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false);
                outcome::read_only(before, &after, self.label, file_read_only, job)
            }
            (None, Ok(after)) if sqlite_codes::has_code(&failure.error, ErrorCode::DiskFull) => {
                let backup = backup.as_ref().map(|b| b.path.as_path());
                outcome::disk_full(
                    before,
                    &after,
                    self.label,
                    backup,
                    rolled_back_by_sqlite,
                    job,
                )
            }
            (None, Ok(after)) => {
                let backup_path = backup.as_ref().map(|b| b.path.as_path());
                let mut text = outcome::describe(
                    before,
                    &after,
                    m,
                    job,
                    failure.transaction_lost,
                    backup_path,
                );
                if let Some(backup) = &backup {
                    text.push_str(&format!(
                        " The pre-migration backup is kept at {}.",
                        backup.path.display()
                    ));
                }
                text
            }
            (None, Err(e)) => format!(
                "The runner could not read back what was kept ({e}); check `migrate status` \
                 before doing anything else."
            ),
        };
        for note in notes {
            outcome.push(' ');
            outcome.push_str(&note);
        }
        let (source, cause) = failure.error.split_cause();
        Error::MigrationFailed {
            set: self.registry.set().to_owned(),
            seq: m.seq,
            name: m.name.clone(),
            direction: job.direction,
            source,
            outcome,
            cause,
        }
    }

    /// Restores the pre-migration backup (or, under `KeepApplied`, the one taken just before
    /// the failing migration) after a failure a rollback could not undo. The failed state is
    /// copied first, in the same write transaction as the restore: every row anyone committed
    /// is in that copy or in the restored database. Without the copy, nothing is restored.
    fn restore_after_failure(&self, m: &Migration) -> Result<outcome::Restored> {
        let just_before_it = self.restore_point_of(m).is_some();
        let from = self.backup_to_restore(m);
        let (Some(path), Some(from)) = (self.path, from) else {
            return Err(Error::Unsupported(
                "no pre-migration backup was taken (backups are off, or the database is in \
                 memory), so the database could not be restored"
                    .into(),
            ));
        };
        self.rollback_all();
        backup::verify(&from.path)?;
        let failed_state = backup::restore_over(
            self.conn,
            path,
            &from.path,
            &self.config.backups,
            BackupKind::FailedState,
            self.config.busy_timeout,
        )?;
        self.written.borrow_mut().push(failed_state.path.clone());
        Ok(outcome::Restored {
            from: from.path,
            failed_state: failed_state.path,
            just_before_it,
        })
    }

    /// The backup taken just before `m` (under `KeepApplied`), if one was.
    fn restore_point_of(&self, m: &Migration) -> Option<BackupInfo> {
        self.restore_point
            .borrow()
            .clone()
            .filter(|(seq, _)| *seq == m.seq)
            .map(|(_, info)| info)
    }

    /// What undoes a failure of `m` that a rollback cannot: the backup taken just before it,
    /// or else the pre-migration backup.
    fn backup_to_restore(&self, m: &Migration) -> Option<BackupInfo> {
        self.restore_point_of(m)
            .or_else(|| self.backup.borrow().clone())
    }

    /// The final commit failed: everything was rolled back; say so from what is recorded.
    fn commit_failed(&self, error: Error, before: &Recorded) -> Error {
        let kept = read_recorded(self.conn, self.registry.set())
            .map(|after| outcome::kept_summary(before, &after))
            .unwrap_or_else(|e| format!("the runner could not read back what was kept ({e})"));
        if busy::is_busy(&error) {
            return Error::Busy {
                path: self.label.to_owned(),
                waited_ms: self.config.busy_timeout.as_millis() as u64,
                doing: "committing the run".into(),
                held_by: busy::READERS.into(),
                outcome: kept,
            };
        }
        Error::CommitFailed {
            error: Box::new(error),
            outcome: kept,
        }
    }

    /// Records a failure in a transaction of its own, when the runner's transaction is gone.
    fn record_failure_alone(&self, m: &Migration, job: Job, detail: &str) -> Result<()> {
        self.rollback_all();
        self.history(self.failure_event(m, job, detail));
        let recorded = self
            .begin()
            .and_then(|()| tracking::ensure_tables(self.conn).map_err(Error::from))
            .and_then(|()| self.flush_history())
            .and_then(|()| self.sql("COMMIT", "recording the failure"));
        if let Err(e) = &recorded {
            log::error!("cannot record the failure of {}: {e}", m.label());
            self.rollback_all();
        }
        recorded
    }

    fn failure_event(&self, m: &Migration, job: Job, detail: &str) -> HistoryEvent {
        HistoryEvent {
            seq: Some(m.seq),
            name: Some(m.name.clone()),
            action: job.direction.to_string(),
            outcome: "failed".into(),
            detail: Some(detail.to_owned()),
            ..self.event()
        }
    }

    fn begin(&self) -> Result<()> {
        begin_immediate(self.conn, self.label, self.config.busy_timeout)
    }

    fn rollback_all(&self) {
        self.pending_history.borrow_mut().clear();
        self.pending_rows.borrow_mut().clear();
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            log::error!("ROLLBACK failed: {e}");
        }
    }

    fn sql(&self, sql: &str, doing: &str) -> Result<()> {
        self.conn
            .execute_batch(sql)
            .map_err(runner_error(self.label, doing))
    }

    /// Queues a history row; it is written with the others just before the transaction
    /// commits (one page touched once, not once per migration).
    fn history(&self, event: HistoryEvent) {
        self.pending_history.borrow_mut().push(event);
    }

    fn flush_tracking_rows(&self) -> Result<()> {
        let changes = std::mem::take(&mut *self.pending_rows.borrow_mut());
        let set = self.registry.set();
        for change in &changes {
            match change {
                RowChange::Applied {
                    seq,
                    name,
                    checksum,
                    took,
                } => tracking::insert_applied(
                    self.conn,
                    &RowValues {
                        set,
                        seq: *seq,
                        name,
                        checksum: checksum.clone(),
                        duration_ms: took.as_millis() as u64,
                        applied_by: &self.applied_by,
                    },
                ),
                RowChange::Removed { seq } => tracking::delete_row(self.conn, set, *seq),
            }
            .map_err(runner_error(self.label, "writing the tracking rows"))?;
        }
        Ok(())
    }

    fn flush_history(&self) -> Result<()> {
        let events = std::mem::take(&mut *self.pending_history.borrow_mut());
        for event in &events {
            tracking::append_history(self.conn, event, &self.applied_by)
                .map_err(runner_error(self.label, "writing the history rows"))?;
        }
        Ok(())
    }

    fn event(&self) -> HistoryEvent {
        HistoryEvent {
            set: self.registry.set().to_owned(),
            backup_path: self
                .backup
                .borrow()
                .as_ref()
                .map(|b| b.path.display().to_string()),
            ..HistoryEvent::default()
        }
    }

    fn row_values<'m>(&'m self, m: &'m Migration, took: Duration) -> RowValues<'m> {
        RowValues {
            set: self.registry.set(),
            seq: m.seq,
            name: &m.name,
            checksum: m.checksum.to_string(),
            duration_ms: took.as_millis() as u64,
            applied_by: &self.applied_by,
        }
    }

    fn step_report(&self, m: &Migration, job: Job, took: Duration) -> StepReport {
        StepReport {
            seq: m.seq,
            name: m.name.clone(),
            direction: job.direction,
            duration: took,
        }
    }
}
