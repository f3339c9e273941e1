//! One run under the lock: the plan, the refusals, the backup, each migration with its checks
//! and its tracking row, the commit. Failures go to [`failure`](super::failure).

use super::fast_path::{accepts_something, empty_report};
use super::{Backend, Job, Operation, Recorded, RowChange, Settings};
use crate::{
    Direction, Event, HistoryEvent, Migration, Plan, Registry, RowCount, RunReport, Status,
    StepReport, TxMode,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why a migration did not complete, and whether the runner's transaction survived it.
pub(super) struct Failure<E> {
    pub error: E,
    pub transaction_lost: bool,
    /// It failed before the migration ran: committing what ran before a `transaction = false`
    /// migration (or beginning the transaction after that commit). A commit failure, not the
    /// migration's.
    pub before_it: bool,
}

impl<E> Failure<E> {
    fn kept(error: E) -> Self {
        Failure {
            error,
            transaction_lost: false,
            before_it: false,
        }
    }

    fn lost(error: E) -> Self {
        Failure {
            error,
            transaction_lost: true,
            before_it: false,
        }
    }

    fn before_it(error: E) -> Self {
        Failure {
            error,
            transaction_lost: true,
            before_it: true,
        }
    }
}

/// The state of one run: what the backend does not keep.
pub(super) struct Batch<'r, B: Backend> {
    pub backend: &'r mut B,
    pub registry: &'r Registry<B::Step>,
    pub settings: Settings<'r>,
    /// History rows of this transaction, written together just before it commits.
    pending_history: Vec<HistoryEvent>,
    /// Tracking-row changes of this transaction's completed steps, written just before it
    /// commits.
    pending_rows: Vec<RowChange>,
    /// The backup taken before the first step, if any.
    pub backup: Option<PathBuf>,
    /// Under `KeepApplied`: the backup taken just before a `transaction = false` migration
    /// (seq), once earlier steps of the run were committed; its failure restores this.
    pub restore_point: Option<(u64, PathBuf)>,
    /// Steps completed so far in this run.
    steps_done: usize,
    /// Chunks committed because the transaction grew too large (`Backend::transaction_full`):
    /// a later failure cannot be undone by a rollback alone.
    pub chunks_committed: usize,
    /// What the user asked for (the command a failure tells to run again).
    pub op: Operation,
}

impl<'r, B: Backend> Batch<'r, B> {
    pub fn new(
        backend: &'r mut B,
        registry: &'r Registry<B::Step>,
        settings: Settings<'r>,
    ) -> Self {
        Batch {
            backend,
            registry,
            settings,
            pending_history: Vec::new(),
            pending_rows: Vec::new(),
            backup: None,
            restore_point: None,
            steps_done: 0,
            chunks_committed: 0,
            op: Operation::Up(None),
        }
    }

    /// The protocol, under the lock.
    pub fn run(mut self, op: Operation) -> Result<RunReport, B::Error> {
        self.op = op;
        self.backend.begin()?;
        let (plan, before, jobs) = self.or_roll_back(|b| b.prepare(op))?;
        if jobs.is_empty() && !accepts_something(&plan, self.settings) {
            // Nothing to do: write nothing, not even the tracking tables.
            self.rollback_all();
            return Ok(empty_report(self.registry.set(), plan.current()));
        }
        if !jobs.is_empty() {
            self.or_roll_back(|b| b.back_up_first(op))?;
        }
        let accepted = self.or_roll_back(|b| b.start_batch(&plan))?;
        let set = self.registry.set().to_owned();
        let steps = jobs.len();
        self.emit(Event::BatchStarting {
            set: set.clone(),
            steps,
        });
        let mut done = Vec::new();
        let last = jobs.len();
        let last_seq = jobs.last().map_or(0, |j| j.seq);
        for job in jobs {
            done.push(self.run_job(job, &before)?);
            self.steps_done = done.len();
            // A redo's down and up stay in one transaction.
            if done.len() < last && op != Operation::Redo {
                self.commit_chunk_if_full(job, &before)?;
            }
        }
        if let Err(e) = self.finish_run() {
            self.rollback_all();
            return Err(self.commit_failed(e, &before, last_seq));
        }
        self.emit(Event::BatchFinished { set, steps });
        // Read back, not assumed: the highest recorded seq, as `Plan::current` counts it.
        let after = self.backend.highest_seq(self.registry.set())?;
        Ok(RunReport {
            set: self.registry.set().to_owned(),
            steps: done,
            accepted_checksums: accepted,
            before: plan.current(),
            after,
            duration: Duration::ZERO,
        })
    }

    fn or_roll_back<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, B::Error>,
    ) -> Result<T, B::Error> {
        let result = f(self);
        if result.is_err() {
            self.rollback_all();
        }
        result
    }

    /// One migration with its hooks; a failure is decided by the failure policy.
    fn run_job(&mut self, job: Job, before: &Recorded) -> Result<StepReport, B::Error> {
        let registry = self.registry;
        let m = registry
            .get(job.seq)
            .expect("the plan only schedules migrations the registry has");
        self.emit(Event::MigrationStarting {
            seq: job.seq,
            name: m.name.clone(),
            direction: job.direction,
        });
        let outcome = match m.mode {
            TxMode::Transactional => self.in_savepoint(m, job),
            TxMode::NonTransactional => self.outside_transaction(m, job),
        };
        match outcome {
            Ok(step) => {
                self.emit(Event::MigrationFinished {
                    seq: step.seq,
                    name: step.name.clone(),
                    direction: step.direction,
                    duration: step.duration,
                });
                Ok(step)
            }
            Err(failure) if failure.before_it => {
                // The migration never ran: the commit before it failed.
                self.rollback_all();
                Err(self.commit_failed(failure.error, before, job.seq))
            }
            Err(failure) => {
                let error = self.fail(failure, m, job, before);
                self.emit(Event::MigrationFailed {
                    seq: job.seq,
                    name: m.name.clone(),
                    error: error.to_string(),
                });
                Err(error)
            }
        }
    }

    /// Inside the write lock: tracking tables, the plan, the refusals, the jobs.
    fn prepare(&mut self, op: Operation) -> Result<(Plan, Recorded, Vec<Job>), B::Error> {
        self.backend.ensure_tracking()?;
        let set = self.registry.set();
        let before = Recorded::new(self.backend.read_rows_locked(set)?);
        let (plan, jobs) = super::jobs::jobs::<B::Step, B::Error>(
            self.registry,
            &before,
            self.settings.policy,
            op,
            &self.backend.label(),
            &self.backend.tracking_table(),
        )?;
        Ok((plan, before, jobs))
    }

    /// The pre-migration backup, taken in the write transaction before anything is written:
    /// no writer can change the database during the copy.
    fn back_up_first(&mut self, op: Operation) -> Result<(), B::Error> {
        if let Some(path) = self.backend.back_up(op.backup_reason())? {
            log::info!("pre-migration backup created: {}", path.display());
            self.backup = Some(path);
        }
        Ok(())
    }

    /// Before the first step, in the run's transaction (so they roll back with it): accepted
    /// checksums, hand-made schema changes found before the run, the backend's baselines.
    fn start_batch(&mut self, plan: &Plan) -> Result<Vec<u64>, B::Error> {
        let accepted = self.accept_checksums(plan)?;
        self.record_drift()?;
        self.backend.start_batch()?;
        Ok(accepted)
    }

    /// Records the checksums the operator accepted, with a history row each.
    fn accept_checksums(&mut self, plan: &Plan) -> Result<Vec<u64>, B::Error> {
        let mut accepted = Vec::new();
        for &seq in &self.settings.policy.accepted_checksums {
            let Some(entry) = plan.entry(seq) else {
                continue;
            };
            let (Status::Modified { recorded }, Some(current)) = (&entry.status, entry.checksum)
            else {
                continue;
            };
            let current = current.to_string();
            self.backend
                .update_checksum(self.registry.set(), seq, &current)?;
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
    fn record_drift(&mut self) -> Result<(), B::Error> {
        let Some(diff) = self.backend.schema_drift()? else {
            return Ok(());
        };
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
    fn in_savepoint(
        &mut self,
        m: &Migration<B::Step>,
        job: Job,
    ) -> Result<StepReport, Failure<B::Error>> {
        self.backend.savepoint().map_err(Failure::kept)?;
        let started = Instant::now();
        let result = self
            .backend
            .run_step(m, job)
            .and_then(|()| self.backend.after_step())
            .and_then(|()| self.backend.check_step(m, job))
            .map(|counts| self.record(m, job, started.elapsed(), counts));
        if !self.backend.in_transaction() {
            return Err(Failure::lost(
                result
                    .err()
                    .unwrap_or_else(|| super::Refusal::TransactionEscaped.into()),
            ));
        }
        match result {
            Ok(()) => match self.backend.release_savepoint() {
                Ok(()) => Ok(step_report(m, job, started.elapsed())),
                // The savepoint is gone: the transaction is no longer what the runner built.
                Err(e) => Err(Failure::lost(e)),
            },
            Err(error) => match self.backend.rollback_to_savepoint() {
                Ok(()) => Err(Failure::kept(error)),
                Err(e) => {
                    log::error!("cannot roll back the savepoint of {}: {e}", m.label());
                    Err(Failure::lost(error))
                }
            },
        }
    }

    /// A `transaction = false` migration: what ran before it is committed, it is recorded as
    /// started, runs outside a transaction, and is recorded as done in a transaction of its
    /// own.
    fn outside_transaction(
        &mut self,
        m: &Migration<B::Step>,
        job: Job,
    ) -> Result<StepReport, Failure<B::Error>> {
        self.commit_so_far()
            .and_then(|()| self.backend.begin())
            .map_err(Failure::before_it)?;
        // Nothing of it has run: if its restore point cannot be taken, the run stands as it is
        // (under `KeepApplied` the earlier steps stay, and nothing needs restoring).
        self.take_restore_point(m).map_err(Failure::kept)?;
        self.mark_started(m, job).map_err(Failure::lost)?;
        let started = Instant::now();
        let ran = self.backend.run_step(m, job);
        if self.backend.in_transaction() {
            self.rollback_all();
            return Err(Failure::lost(
                ran.err()
                    .unwrap_or_else(|| super::Refusal::LeftTransactionOpen.into()),
            ));
        }
        let finished = ran.and_then(|()| {
            self.backend.after_step()?;
            self.backend.begin()?;
            let counts = self.backend.check_step(m, job)?;
            self.record(m, job, started.elapsed(), counts);
            self.commit_so_far()?;
            self.backend.begin()?;
            // Others may have written between the transactions: baselines afresh.
            self.backend.restart_baselines()
        });
        match finished {
            Ok(()) => Ok(step_report(m, job, started.elapsed())),
            Err(error) => {
                self.rollback_all();
                Err(Failure::lost(error))
            }
        }
    }

    /// Under `KeepApplied`, the steps this run committed before a `transaction = false`
    /// migration stay if it fails, so the backup its failure restores is the state just before
    /// it: taken here, in the transaction that marks it started, before anything is written.
    fn take_restore_point(&mut self, m: &Migration<B::Step>) -> Result<(), B::Error> {
        let keep = self.settings.failure == crate::FailurePolicy::KeepApplied;
        if !keep || self.steps_done == 0 {
            return Ok(());
        }
        if let Some(path) = self.backend.back_up_before_step()? {
            self.restore_point = Some((m.seq, path));
        }
        Ok(())
    }

    /// The started row (up) or reverting row (down) of a non-transactional migration,
    /// committed before it runs.
    fn mark_started(&mut self, m: &Migration<B::Step>, job: Job) -> Result<(), B::Error> {
        self.backend
            .mark_started(self.registry.set(), m, job.direction)?;
        self.history(HistoryEvent {
            seq: Some(m.seq),
            name: Some(m.name.clone()),
            action: format!("{}-started", job.direction),
            outcome: "started".into(),
            ..self.event()
        });
        self.flush_history()?;
        self.backend
            .commit("recording the non-transactional migration as started")
    }

    /// The tracking row and history row of a completed step, queued for the current
    /// transaction (its commit writes them before anything else).
    fn record(&mut self, m: &Migration<B::Step>, job: Job, took: Duration, counts: Vec<RowCount>) {
        let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.pending_rows.push(match job.direction {
            Direction::Up => RowChange::Applied {
                seq: m.seq,
                name: m.name.clone(),
                checksum: m.checksum.to_string(),
                duration_ms,
            },
            Direction::Down => RowChange::Removed { seq: m.seq },
        });
        self.history(HistoryEvent {
            seq: Some(m.seq),
            name: Some(m.name.clone()),
            action: job.direction.to_string(),
            outcome: "ok".into(),
            duration_ms: Some(duration_ms),
            row_counts: counts,
            ..self.event()
        });
    }

    /// A very large batch: when the backend says its transaction is full (PostgreSQL's shared
    /// lock table), what ran so far commits with its tracking rows and the run goes on in a new
    /// transaction. From then on all-or-nothing holds per chunk.
    fn commit_chunk_if_full(&mut self, job: Job, before: &Recorded) -> Result<(), B::Error> {
        let registry = self.registry;
        let m = registry
            .get(job.seq)
            .expect("the plan only schedules migrations the registry has");
        if m.mode != TxMode::Transactional {
            return Ok(());
        }
        let committed = self.backend.transaction_full().and_then(|full| {
            if !full {
                return Ok(false);
            }
            self.commit_so_far()?;
            self.backend.begin()?;
            self.backend.restart_baselines()?;
            Ok(true)
        });
        match committed {
            Ok(false) => Ok(()),
            Ok(true) => {
                self.chunks_committed += 1;
                log::info!(
                    "committed chunk {} of the run after {} (the transaction was full); \
                     the run goes on in a new transaction",
                    self.chunks_committed,
                    m.label()
                );
                Ok(())
            }
            Err(e) => {
                self.rollback_all();
                Err(self.commit_failed(e, before, job.seq))
            }
        }
    }

    /// Makes everything up to here durable, with its history and schema snapshot.
    fn commit_so_far(&mut self) -> Result<(), B::Error> {
        self.store_schema()?;
        self.flush_history()?;
        self.backend.commit("committing")
    }

    /// After the last step: tracking rows, schema snapshot, history, commit.
    pub fn finish_run(&mut self) -> Result<(), B::Error> {
        self.store_schema()?;
        self.flush_history()?;
        self.backend.commit("committing the run")
    }

    /// Before each commit: the tracking rows, then the schema snapshot (the backend stores
    /// what its fast path reads last).
    fn store_schema(&mut self) -> Result<(), B::Error> {
        let changes = std::mem::take(&mut self.pending_rows);
        self.backend.write_tracking(self.registry.set(), &changes)?;
        self.backend.store_schema(self.registry.set())
    }

    pub fn flush_history(&mut self) -> Result<(), B::Error> {
        let events = std::mem::take(&mut self.pending_history);
        self.backend.write_history(&events)
    }

    /// Queues a history row; it is written with the others just before the transaction
    /// commits.
    pub fn history(&mut self, event: HistoryEvent) {
        self.pending_history.push(event);
    }

    pub fn rollback_all(&mut self) {
        self.pending_history.clear();
        self.pending_rows.clear();
        self.backend.rollback();
    }

    /// A history event of this run, with its set and backup filled in.
    pub fn event(&self) -> HistoryEvent {
        HistoryEvent {
            set: self.registry.set().to_owned(),
            backup_path: self.backup.as_ref().map(|b| b.display().to_string()),
            ..HistoryEvent::default()
        }
    }

    fn emit(&self, event: Event) {
        self.settings.hooks.emit(event);
    }
}

fn step_report<S>(m: &Migration<S>, job: Job, took: Duration) -> StepReport {
    StepReport {
        seq: m.seq,
        name: m.name.clone(),
        direction: job.direction,
        duration: took,
    }
}
