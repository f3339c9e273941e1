//! The safety protocol: lock, foreign keys off in autocommit mode, `BEGIN IMMEDIATE`, read the
//! tracking rows inside the lock, each migration in its own savepoint followed by
//! `foreign_key_check` and its tracking row, commit, put the pragmas back.

use crate::lock::FileLock;
use crate::pragmas::PragmaGuard;
use crate::report::{Direction, RunReport, StepReport};
use crate::tracking::{self, HistoryEvent, RowValues};
use crate::{
    Error, FailurePolicy, Migration, Migrator, Result, Step, Tx, fingerprint, foreign_keys,
};
use migrate_core::{DownTarget, Plan, Registry, Status, TxMode};
use rusqlite::{Connection, ErrorCode};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
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
struct Job {
    seq: u64,
    direction: Direction,
}

/// Runs `op` under the full protocol.
pub fn run(
    conn: &Connection,
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
    if let Operation::Up(target) = op
        && let Some(report) = nothing_to_apply(conn, registry, config, target, started)?
    {
        return Ok(report);
    }
    let _lock = path
        .map(|p| FileLock::acquire(p, config.busy_timeout))
        .transpose()?;
    let guard = PragmaGuard::foreign_keys_off(conn)
        .map_err(runner_error(&label, "switching foreign keys off"))?;
    let batch = Batch {
        conn,
        registry,
        config,
        label: &label,
        applied_by: config.applied_by(),
    };
    let result = batch.run(op, started);
    let restored = guard.restore().map_err(runner_error(
        &label,
        "restoring foreign_keys and legacy_alter_table",
    ));
    let report = result?;
    restored?;
    Ok(report)
}

/// The plan as the database stands, read in one snapshot.
pub fn read_plan(conn: &Connection, registry: &Registry<Step>) -> Result<Plan> {
    conn.execute_batch("BEGIN")?;
    let rows = tracking::read_rows(conn, registry.set());
    conn.execute_batch("COMMIT")?;
    let rows: Vec<_> = rows?.into_iter().map(|r| r.row).collect();
    Ok(Plan::new(registry, &rows))
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
    let plan = read_plan(conn, registry)?;
    let accepting = config.policy.accepted_checksums.iter().any(|seq| {
        matches!(
            plan.entry(*seq).map(|e| &e.status),
            Some(Status::Modified { .. })
        )
    });
    match plan.to_apply(target, &config.policy) {
        Ok(seqs) if seqs.is_empty() && !accepting => Ok(Some(RunReport {
            set: registry.set().to_owned(),
            steps: Vec::new(),
            accepted_checksums: Vec::new(),
            before: plan.current(),
            after: plan.current(),
            duration: started.elapsed(),
        })),
        _ => Ok(None),
    }
}

fn runner_error<'a>(label: &'a str, doing: &'a str) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |source| Error::Runner {
        doing: doing.to_owned(),
        path: label.to_owned(),
        source,
    }
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
}

struct Batch<'a> {
    conn: &'a Connection,
    registry: &'a Registry<Step>,
    config: &'a Migrator,
    label: &'a str,
    applied_by: String,
}

impl Batch<'_> {
    fn run(&self, op: Operation, started: Instant) -> Result<RunReport> {
        self.begin()?;
        let prepared = self.prepare(op);
        let (plan, jobs, accepted) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                self.rollback_all();
                return Err(e);
            }
        };
        let before = plan.current();
        self.sql("SAVEPOINT migrate_batch", "opening the batch savepoint")?;
        let mut done: Vec<StepReport> = Vec::new();
        let mut committed: Vec<u64> = Vec::new();
        for job in jobs {
            let migration = self
                .registry
                .get(job.seq)
                .expect("the plan only schedules migrations the registry has");
            let outcome = match migration.mode {
                TxMode::Transactional => self.in_savepoint(migration, job),
                TxMode::NonTransactional => {
                    committed.extend(done.iter().map(|s| s.seq));
                    self.outside_transaction(migration, job)
                }
            };
            match outcome {
                Ok(step) => done.push(step),
                Err(failure) => {
                    return Err(self.fail(failure, migration, job, &done, &committed, before));
                }
            }
        }
        self.finish_run()?;
        let after = read_plan(self.conn, self.registry)
            .ok()
            .and_then(|p| p.current());
        Ok(RunReport {
            set: self.registry.set().to_owned(),
            steps: done,
            accepted_checksums: accepted,
            before,
            after,
            duration: started.elapsed(),
        })
    }

    /// Inside the write lock: tracking tables, the plan, the jobs, accepted checksums.
    fn prepare(&self, op: Operation) -> Result<(Plan, Vec<Job>, Vec<u64>)> {
        tracking::ensure_tables(self.conn)
            .map_err(runner_error(self.label, "creating the tracking tables"))?;
        let rows: Vec<_> = tracking::read_rows(self.conn, self.registry.set())?
            .into_iter()
            .map(|r| r.row)
            .collect();
        let plan = Plan::new(self.registry, &rows);
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
            Operation::Down(target) => down(plan.to_revert(target, policy)?).collect(),
            Operation::Redo => {
                let last = plan.to_revert(DownTarget::Steps(1), policy)?;
                down(last.clone()).chain(up(last)).collect()
            }
        };
        let accepted = self.accept_checksums(&plan)?;
        Ok((plan, jobs, accepted))
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
            })?;
            log::warn!(
                "accepted the new checksum of {seq} {:?}: {recorded} -> {current}",
                entry.name
            );
            accepted.push(seq);
        }
        Ok(accepted)
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
            .run_step(m, job)
            .and_then(|()| self.check_foreign_keys())
            .and_then(|()| self.record(m, job, started.elapsed()));
        if !self.conn.is_autocommit() && result.is_ok() {
            self.sql(
                "RELEASE migrate_step",
                "releasing the migration's savepoint",
            )
            .map_err(Failure::kept)?;
            return Ok(self.step_report(m, job, started.elapsed()));
        }
        if self.conn.is_autocommit() {
            return Err(Failure {
                error: result.err().unwrap_or(Error::TransactionEscaped),
                transaction_lost: true,
            });
        }
        let error = result.expect_err("success returned above");
        if let Err(e) = self
            .conn
            .execute_batch("ROLLBACK TO migrate_step; RELEASE migrate_step")
        {
            log::error!("cannot roll back the savepoint of {}: {e}", m.label());
        }
        Err(Failure::kept(error))
    }

    /// A `transaction = false` migration: what ran before it is committed, it is recorded as
    /// started, runs in autocommit mode, and is recorded as applied only when it finished.
    fn outside_transaction(&self, m: &Migration, job: Job) -> Result<StepReport, Failure> {
        let step = || -> Result<()> {
            self.sql(
                "RELEASE migrate_batch; COMMIT",
                "committing before a non-transactional migration",
            )?;
            self.begin()?;
            tracking::insert_started(self.conn, &self.row_values(m, Duration::ZERO))?;
            self.history(HistoryEvent {
                seq: Some(m.seq),
                name: Some(m.name.clone()),
                action: format!("{}-started", job.direction),
                outcome: "started".into(),
                ..self.event()
            })?;
            self.sql(
                "COMMIT",
                "recording the non-transactional migration as started",
            )?;
            Ok(())
        };
        step().map_err(|error| Failure {
            error,
            transaction_lost: true,
        })?;
        let started = Instant::now();
        let ran = self.run_step(m, job);
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(Failure {
                error: ran.err().unwrap_or(Error::Unsupported(
                    "the non-transactional migration left a transaction open; it was rolled \
                     back. A migration declared `transaction = false` must not leave one open"
                        .into(),
                )),
                transaction_lost: true,
            });
        }
        let finish = || -> Result<()> {
            ran?;
            self.begin()?;
            self.check_foreign_keys()?;
            self.record(m, job, started.elapsed())?;
            self.sql("SAVEPOINT migrate_batch", "reopening the batch savepoint")?;
            Ok(())
        };
        match finish() {
            Ok(()) => Ok(self.step_report(m, job, started.elapsed())),
            Err(error) => {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                Err(Failure {
                    error,
                    transaction_lost: true,
                })
            }
        }
    }

    /// Calls the user's step, turning a panic into an error and noticing a lost transaction.
    fn run_step(&self, m: &Migration, job: Job) -> Result<()> {
        let step: &Step = match job.direction {
            Direction::Up => &m.up,
            Direction::Down => m
                .down
                .as_ref()
                .expect("the plan only reverts reversible migrations"),
        };
        let tx = Tx::new(self.conn, m.seq, &m.name);
        let in_transaction = !self.conn.is_autocommit();
        log::info!("migration {} {}: running", m.label(), job.direction);
        let result = match catch_unwind(AssertUnwindSafe(|| step.run(&tx))) {
            Ok(result) => result,
            Err(payload) => Err(Error::Panicked {
                message: panic_message(payload.as_ref()),
            }),
        };
        if in_transaction && self.conn.is_autocommit() {
            return Err(Error::TransactionEscaped);
        }
        result
    }

    fn check_foreign_keys(&self) -> Result<()> {
        let violations = foreign_keys::violations(self.conn)
            .map_err(runner_error(self.label, "PRAGMA foreign_key_check"))?;
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::ForeignKeyViolations { violations })
        }
    }

    /// The tracking row and history row of a completed step, in the current transaction.
    fn record(&self, m: &Migration, job: Job, took: Duration) -> Result<()> {
        let set = self.registry.set();
        match job.direction {
            Direction::Up => tracking::insert_applied(self.conn, &self.row_values(m, took)),
            Direction::Down => tracking::delete_row(self.conn, set, m.seq),
        }
        .map_err(runner_error(self.label, "writing the tracking row"))?;
        self.history(HistoryEvent {
            seq: Some(m.seq),
            name: Some(m.name.clone()),
            action: job.direction.to_string(),
            outcome: "ok".into(),
            duration_ms: Some(took.as_millis() as u64),
            ..self.event()
        })
    }

    /// After the last step: schema snapshot and fingerprint, commit.
    fn finish_run(&self) -> Result<()> {
        self.store_schema()?;
        self.sql("RELEASE migrate_batch; COMMIT", "committing the run")
    }

    fn store_schema(&self) -> Result<()> {
        let objects = fingerprint::objects(self.conn)?;
        fingerprint::store(self.conn, &objects)?;
        tracking::set_fingerprint(
            self.conn,
            self.registry.set(),
            &fingerprint::fingerprint(&objects),
        )?;
        Ok(())
    }

    /// Rolls back what the policy says, records the failure, and builds the error.
    fn fail(
        &self,
        failure: Failure,
        m: &Migration,
        job: Job,
        done: &[StepReport],
        committed: &[u64],
        before: Option<u64>,
    ) -> Error {
        let detail = failure.error.to_string();
        log::error!("migration {} {} failed: {detail}", m.label(), job.direction);
        let outcome = if failure.transaction_lost {
            self.record_failure_alone(m, job, &detail);
            lost_transaction_outcome(m, committed)
        } else {
            let keep = self.config.failure == FailurePolicy::KeepApplied;
            if !keep && let Err(e) = self.conn.execute_batch("ROLLBACK TO migrate_batch") {
                log::error!("cannot roll back the run: {e}");
            }
            let kept: Vec<u64> = if keep {
                done.iter().map(|s| s.seq).collect()
            } else {
                committed.to_vec()
            };
            let recorded = self
                .history(self.failure_event(m, job, &detail))
                .and_then(|()| {
                    if kept.is_empty() {
                        Ok(())
                    } else {
                        self.store_schema()
                    }
                })
                .and_then(|()| {
                    self.sql(
                        "RELEASE migrate_batch; COMMIT",
                        "committing the failure record",
                    )
                });
            if let Err(e) = recorded {
                log::error!("cannot record the failure of {}: {e}", m.label());
                self.rollback_all();
            }
            rolled_back_outcome(m, job, &kept, before)
        };
        Error::MigrationFailed {
            set: self.registry.set().to_owned(),
            seq: m.seq,
            name: m.name.clone(),
            direction: match job.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            },
            source: Box::new(failure.error),
            outcome,
        }
    }

    /// Records a failure when the runner's transaction is gone: in a transaction of its own.
    fn record_failure_alone(&self, m: &Migration, job: Job, detail: &str) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let recorded = self
            .begin()
            .and_then(|()| tracking::ensure_tables(self.conn).map_err(Error::from))
            .and_then(|()| self.history(self.failure_event(m, job, detail)))
            .and_then(|()| self.sql("COMMIT", "recording the failure"));
        if let Err(e) = recorded {
            log::error!("cannot record the failure of {}: {e}", m.label());
            self.rollback_all();
        }
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
        match self.conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => Ok(()),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
                Err(Error::Locked {
                    path: self.label.to_owned(),
                    waited_ms: self.config.busy_timeout.as_millis() as u64,
                })
            }
            Err(e) => Err(runner_error(self.label, "BEGIN IMMEDIATE")(e)),
        }
    }

    fn rollback_all(&self) {
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

    fn history(&self, event: HistoryEvent) -> Result<()> {
        tracking::append_history(self.conn, &event, &self.applied_by)
            .map_err(runner_error(self.label, "writing the history row"))
    }

    fn event(&self) -> HistoryEvent {
        HistoryEvent {
            set: self.registry.set().to_owned(),
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

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

fn at(seq: Option<u64>) -> String {
    seq.map_or("no migration applied".to_owned(), |s| format!("seq {s}"))
}

fn rolled_back_outcome(m: &Migration, job: Job, kept: &[u64], before: Option<u64>) -> String {
    let retry = match job.direction {
        Direction::Up => "fix it and run `migrate up` again",
        Direction::Down => "fix its down step and run `migrate down` again",
    };
    if kept.is_empty() {
        format!(
            "Everything this run did was rolled back: the database is as it was before the run \
             ({}). Nothing needs restoring; {retry}.",
            at(before)
        )
    } else {
        format!(
            "Migration {} was rolled back; the {} migration(s) before it in this run stay \
             applied ({}). Nothing needs restoring; {retry}.",
            m.label(),
            kept.len(),
            kept.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn lost_transaction_outcome(m: &Migration, committed: &[u64]) -> String {
    let earlier = if committed.is_empty() {
        String::new()
    } else {
        format!(
            " Migrations {} were committed before it and stay applied.",
            committed
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if m.mode == TxMode::NonTransactional {
        format!(
            "It runs outside a transaction (`transaction = false`), so its partial work could \
             not be rolled back, and it stays recorded as started: later runs refuse until this \
             is resolved.{earlier} Restore the backup taken before the run (`migrate restore`), \
             or repair the database by hand and mark it resolved (`migrate resolve {}`).",
            m.seq
        )
    } else {
        format!(
            "It ended the runner's transaction itself, so the run could not be rolled back \
             as a whole; what was committed is what `migrate status` shows.{earlier} Check the \
             database, and restore the backup taken before the run (`migrate restore`) if it is \
             not as expected."
        )
    }
}
