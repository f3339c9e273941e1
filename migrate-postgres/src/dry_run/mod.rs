//! The dry run (`migrate plan` on PostgreSQL): the migrations an operation would run, run for
//! real in one transaction that is always rolled back, each observed for what no tool gives
//! from a real run: the SQL it sent, the schema changes, the rows of the tables it touched
//! before and after, the table locks it took (`pg_locks` of its own transaction), whether it
//! rewrote a table, the tables' sizes, and warnings drawn from all that.
//!
//! Under the migration lock (a real run waits; a dry run never runs beside one), in the
//! runner's own transaction (`BEGIN READ WRITE`, commit guard armed,
//! `default_transaction_read_only` on, savepoint and timeouts per migration, deferred
//! constraints checked at its end): the same [`PgBackend`] acts, in the protocol's order, with
//! the jobs chosen and refused by `migrate_core::protocol::jobs`, the runner's own selection.
//! Nothing commits: the dry run never sends its commit, and a migration's own `COMMIT` meets
//! the commit guard, which rolls everything back.
//!
//! Locks: each migration's are the `(relation, mode)` pairs of this session in `pg_locks` after
//! it that were not there before it. The dry run's own reads run in savepoints rolled back at
//! once, which releases their locks, so what remains is the migrations'. A lock an earlier
//! migration of the batch took first is that migration's. Rewrites: a table whose
//! `pg_class.relfilenode` changed got new storage, so every row was copied. This works for any
//! role; a `table_rewrite` event trigger would give PostgreSQL's reason bits too, but creating
//! one needs superuser. The reason is read from the catalog instead (a column's type changed, a
//! column was added with a default).
//!
//! `transaction = false` migrations cannot run inside the rolled-back transaction: their
//! statements are listed (the step runs against a `Tx` that records and sends nothing; a
//! read stops the listing) and the dry run stops there, since later migrations may depend on
//! what it builds (an index a constraint uses, an enum value), and running them without it
//! would report failures the real run would not meet, or miss ones it would.

mod leftovers;
mod locks;
mod observe;
mod options;
mod report;
#[cfg(feature = "serde")]
mod serialize;
mod session;
mod statements;
mod warnings;

pub use locks::LockMode;
pub use options::DryRunOptions;
pub use report::{
    DroppedColumn, DryRun, DryRunOperation, DryRunOutcome, DryRunStep, TableChange, TableLock,
    TableRewrite,
};
pub(crate) use statements::StatementLog;
pub use warnings::{Warning, WarningKind};

use crate::backend::PgBackend;
use crate::{Error, Migration, Result, Step, Tx};
use migrate_core::protocol::{self, Backend, Job, Operation, Recorded, Refusal};
use migrate_core::{Direction, Policy, Registry, SchemaDiff, SchemaObjects, Status, TxMode};
use observe::Observation;
use std::collections::{BTreeMap, BTreeSet};

impl DryRunOperation {
    fn operation(self) -> Operation {
        match self {
            DryRunOperation::Up => Operation::Up(None),
            DryRunOperation::Down(target) => Operation::Down(target),
            DryRunOperation::Redo => Operation::Redo,
            DryRunOperation::UpTo(seq) => Operation::Up(Some(seq)),
        }
    }
}

/// The dry run of `op`, under the lock; the session is reset and the lock released whatever
/// happens (a step's panic is its migration's failure, `Error::Panicked`); advisory locks a
/// migration took for the session are released and statements it prepared deallocated.
pub(crate) fn run(
    backend: &mut PgBackend<'_>,
    registry: &Registry<Step>,
    policy: &Policy,
    op: DryRunOperation,
    options: &DryRunOptions,
    backs_up: bool,
) -> Result<DryRun> {
    backend.lock()?;
    let held_before = leftovers::advisory_locks(&mut backend.conn.client);
    let prepared_before = leftovers::prepared_statements(&mut backend.conn.client);
    let result = backend.open_session().and_then(|()| {
        let report = in_transaction(backend, registry, policy, op, options, backs_up);
        let closed = backend.close_session();
        let report = report?;
        closed?;
        Ok(report)
    });
    let released = held_before
        .and_then(|held| leftovers::release_advisory_locks(&mut backend.conn.client, &held));
    if let Err(e) = released {
        log::warn!("cannot release the advisory locks the dry run's migrations took: {e}");
    }
    let deallocated = prepared_before
        .and_then(|prepared| leftovers::deallocate_prepared(&mut backend.conn.client, &prepared));
    if let Err(e) = deallocated {
        log::warn!("cannot deallocate the statements the dry run's migrations prepared: {e}");
    }
    backend.unlock();
    result
}

/// `BEGIN READ WRITE` as the runner's, the migrations, and `ROLLBACK` always.
fn in_transaction(
    backend: &mut PgBackend<'_>,
    registry: &Registry<Step>,
    policy: &Policy,
    op: DryRunOperation,
    options: &DryRunOptions,
    backs_up: bool,
) -> Result<DryRun> {
    backend.begin()?;
    let log = StatementLog::default();
    backend.statement_log = Some(log.clone());
    let report = DryRunner {
        backend: &mut *backend,
        registry,
        options,
        log,
    }
    .run(policy, op, backs_up);
    backend.statement_log = None;
    backend.rollback();
    report
}

struct DryRunner<'b, 'c> {
    backend: &'b mut PgBackend<'c>,
    registry: &'b Registry<Step>,
    options: &'b DryRunOptions,
    log: StatementLog,
}

/// The state between two migrations.
struct Between {
    seen: Observation,
    objects: SchemaObjects,
    /// Exact rows per table oid.
    rows: BTreeMap<i64, u64>,
}

impl DryRunner<'_, '_> {
    fn run(mut self, policy: &Policy, op: DryRunOperation, backs_up: bool) -> Result<DryRun> {
        let set = self.registry.set().to_owned();
        let before = Recorded::new(self.backend.read_rows_locked(&set)?);
        let (plan, jobs) = protocol::jobs::<Step, Error>(
            self.registry,
            &before,
            policy,
            op.operation(),
            &self.backend.label(),
            &self.backend.tracking_table(),
        )?;
        self.backend.start_batch()?;
        let mut report = DryRun {
            set,
            current: plan.current(),
            operation: op,
            migrations: Vec::with_capacity(jobs.len()),
            backup_locks: Vec::new(),
        };
        let seen = self.observe()?;
        if backs_up && !jobs.is_empty() {
            // The real run's exact backup (`backup::exact`): EXCLUSIVE on every table.
            report.backup_locks = seen
                .tables
                .values()
                .filter(|t| !t.materialized && !t.view)
                .map(|t| TableLock {
                    table: t.name.clone(),
                    mode: LockMode::Exclusive,
                    size_bytes: t.size_bytes,
                })
                .collect();
        }
        let existing: BTreeSet<i64> = seen.tables.keys().copied().collect();
        let everything: Vec<(i64, String)> = seen
            .tables
            .iter()
            .filter(|(_, t)| !t.view)
            .map(|(oid, t)| (*oid, t.name.clone()))
            .collect();
        let mut state = Between {
            rows: observe::count_rows(&mut self.backend.conn.client, &everything)?,
            objects: self.objects()?,
            seen,
        };
        let mut stopped: Option<String> = None;
        for job in jobs {
            let Some(m) = self.registry.get(job.seq) else {
                continue;
            };
            let mut step = DryRunStep {
                seq: job.seq,
                name: m.name.clone(),
                status: plan
                    .entry(job.seq)
                    .map_or(Status::Pending, |e| e.status.clone()),
                direction: job.direction,
                outcome: DryRunOutcome::Succeeded,
                statements: Vec::new(),
                schema: SchemaDiff::default(),
                columns_dropped: Vec::new(),
                tables: Vec::new(),
                locks: Vec::new(),
                rewrites: Vec::new(),
                warnings: Vec::new(),
            };
            if let Some(reason) = &stopped {
                step.outcome = DryRunOutcome::NotRun {
                    reason: reason.clone(),
                };
            } else if m.mode == TxMode::NonTransactional {
                self.not_executed(m, job, &mut step);
                stopped = Some(format!(
                    "migration {} before it runs outside a transaction and was not executed",
                    job.seq
                ));
            } else if let Some(mut after) = self.execute(m, job, &mut step)? {
                self.describe(&mut step, &state, &mut after, &existing)?;
                state = after;
            } else {
                stopped = Some(format!("migration {} before it failed", job.seq));
            }
            report.migrations.push(step);
        }
        Ok(report)
    }

    /// Runs one migration as the runner does (savepoint, step, checks, escape probe, release
    /// or rollback to the savepoint); the state after it, or `None` when it failed.
    fn execute(
        &mut self,
        m: &Migration,
        job: Job,
        step: &mut DryRunStep,
    ) -> Result<Option<Between>> {
        self.log.take();
        self.backend.savepoint()?;
        let result = self
            .backend
            .run_step(m, job)
            .and_then(|()| self.backend.after_step())
            .and_then(|()| self.backend.check_step(m, job).map(drop));
        step.statements = self.log.take();
        if !self.backend.in_transaction() {
            // The commit guard rolled the whole transaction back: nothing of it remains.
            let error = result.err().map_or_else(
                || Refusal::TransactionEscaped.to_string(),
                |e| e.to_string(),
            );
            step.outcome = DryRunOutcome::Failed { error };
            return Ok(None);
        }
        match result {
            Ok(()) => {
                self.backend.release_savepoint()?;
                let seen = self.observe()?;
                let objects = self.objects()?;
                Ok(Some(Between {
                    seen,
                    objects,
                    rows: BTreeMap::new(),
                }))
            }
            Err(error) => {
                self.backend.rollback_to_savepoint()?;
                step.outcome = DryRunOutcome::Failed {
                    error: error.to_string(),
                };
                Ok(None)
            }
        }
    }

    /// A `transaction = false` migration: its statements, listed without sending any.
    fn not_executed(&mut self, m: &Migration, job: Job, step: &mut DryRunStep) {
        let mut reason = "it is marked `transaction = false`, so it cannot run inside the dry \
                          run's rolled-back transaction; later migrations may depend on it, so \
                          the dry run stops here"
            .to_owned();
        let body = match job.direction {
            Direction::Up => Some(&m.up),
            Direction::Down => m.down.as_ref(),
        };
        if let Some(body) = body {
            let log = StatementLog::default();
            let client = &mut self.backend.conn.client;
            let mut tx = Tx::new(client, m.seq, &m.name, false).capture_only(log.clone());
            if let Err(e) = body.run(&mut tx) {
                reason.push_str(&format!(". Listing its statements stopped: {e}"));
            }
            step.statements = log.take();
        }
        step.outcome = DryRunOutcome::NotExecuted { reason };
    }

    /// Fills the report of a migration that succeeded, from the state before and after it;
    /// the rows of the tables it touched are counted into `after`.
    fn describe(
        &mut self,
        step: &mut DryRunStep,
        before: &Between,
        after: &mut Between,
        existing: &BTreeSet<i64>,
    ) -> Result<()> {
        let (prev, now) = (&before.seen, &after.seen);
        step.schema = SchemaDiff::between(&before.objects, &after.objects);
        let locks = new_locks(prev, now, existing);
        let rewritten: Vec<i64> = prev
            .tables
            .iter()
            .filter(|(oid, t)| {
                now.tables
                    .get(oid)
                    .is_some_and(|n| t.relfilenode != 0 && n.relfilenode != t.relfilenode)
            })
            .map(|(oid, _)| *oid)
            .collect();
        let touched = touched(prev, now, &locks, &rewritten);
        let to_count: Vec<(i64, String)> = touched
            .iter()
            .filter_map(|oid| now.tables.get(oid).map(|t| (*oid, t)))
            .filter(|(_, t)| !t.view)
            .map(|(oid, t)| (oid, t.name.clone()))
            .collect();
        let counted = observe::count_rows(&mut self.backend.conn.client, &to_count)?;
        // New storage for a table left empty copied no row: TRUNCATE (its rows show as lost),
        // not a rewrite.
        let rewritten: Vec<i64> = rewritten
            .into_iter()
            .filter(|oid| counted.get(oid) != Some(&0))
            .collect();
        after.rows = before.rows.clone();
        for oid in &touched {
            let table = now.tables.get(oid).or_else(|| prev.tables.get(oid));
            let Some(name) = table.filter(|t| !t.view).map(|t| t.name.clone()) else {
                continue;
            };
            let rows_after = counted.get(oid).copied();
            step.tables.push(TableChange {
                table: name,
                rows_before: prev
                    .tables
                    .contains_key(oid)
                    .then(|| before.rows.get(oid).copied())
                    .flatten(),
                rows_after,
                size_bytes: prev.tables.get(oid).map(|t| t.size_bytes),
            });
            match rows_after {
                Some(n) => after.rows.insert(*oid, n),
                None => after.rows.remove(oid),
            };
        }
        step.tables.sort_by(|a, b| a.table.cmp(&b.table));
        step.columns_dropped = dropped_columns(prev, now, &before.rows);
        step.locks = locks
            .iter()
            .filter_map(|(oid, mode)| {
                prev.tables.get(oid).map(|t| TableLock {
                    table: t.name.clone(),
                    mode: *mode,
                    size_bytes: t.size_bytes,
                })
            })
            .collect();
        step.rewrites = rewritten
            .iter()
            .filter(|oid| existing.contains(oid))
            .filter_map(|oid| {
                let (b, a) = (prev.tables.get(oid)?, now.tables.get(oid)?);
                Some(TableRewrite {
                    table: b.name.clone(),
                    size_bytes: b.size_bytes,
                    reason: warnings::rewrite_reason(b, a).text(),
                })
            })
            .collect();
        step.warnings = warnings::warnings(&warnings::Seen {
            before: prev,
            after: now,
            existing,
            rows: &before.rows,
            locks: &locks,
            rewritten: &rewritten,
            options: self.options,
            seq: step.seq,
        });
        Ok(())
    }

    fn observe(&mut self) -> Result<Observation> {
        let conn = &mut *self.backend.conn;
        observe::observe(&mut conn.client, &conn.schema)
    }

    fn objects(&mut self) -> Result<SchemaObjects> {
        let conn = &mut *self.backend.conn;
        crate::fingerprint::objects_in_transaction(&mut conn.client, &conn.schema)
    }
}

/// The strongest mode per table among the locks taken since `prev`, on tables that existed
/// before the dry run (no other session can wait on a table the batch created), when it is
/// stronger than every mode the batch held on it already.
fn new_locks(
    prev: &Observation,
    now: &Observation,
    existing: &BTreeSet<i64>,
) -> Vec<(i64, LockMode)> {
    let mut strongest: BTreeMap<i64, LockMode> = BTreeMap::new();
    for (oid, mode) in now.locks.difference(&prev.locks) {
        if !existing.contains(oid) {
            continue;
        }
        let entry = strongest.entry(*oid).or_insert(*mode);
        *entry = (*entry).max(*mode);
    }
    // A weaker mode than one the batch already holds changes nothing for other sessions.
    let held = |oid: i64| {
        prev.locks
            .iter()
            .filter(|(o, _)| *o == oid)
            .map(|(_, m)| *m)
            .max()
    };
    strongest
        .into_iter()
        .filter(|(oid, mode)| held(*oid).is_none_or(|h| *mode > h))
        .collect()
}

/// Tables the migration wrote (this transaction's tuple counters moved), locked, rewrote,
/// created or dropped.
fn touched(
    prev: &Observation,
    now: &Observation,
    locks: &[(i64, LockMode)],
    rewritten: &[i64],
) -> BTreeSet<i64> {
    let mut oids: BTreeSet<i64> = locks.iter().map(|(oid, _)| *oid).collect();
    oids.extend(rewritten);
    for (oid, written) in &now.writes {
        if prev.writes.get(oid).copied().unwrap_or(0) != *written {
            oids.insert(*oid);
        }
    }
    let created = now.tables.keys().filter(|o| !prev.tables.contains_key(o));
    let dropped = prev.tables.keys().filter(|o| !now.tables.contains_key(o));
    oids.extend(created.chain(dropped));
    oids.retain(|oid| prev.tables.contains_key(oid) || now.tables.contains_key(oid));
    oids
}

/// Columns (by `attnum`) of tables still there whose column is gone.
fn dropped_columns(
    prev: &Observation,
    now: &Observation,
    rows: &BTreeMap<i64, u64>,
) -> Vec<DroppedColumn> {
    let mut dropped = Vec::new();
    for (oid, before) in &prev.tables {
        let Some(after) = now.tables.get(oid).filter(|t| !t.view) else {
            continue;
        };
        for column in &before.columns {
            if after.columns.iter().any(|c| c.number == column.number) {
                continue;
            }
            dropped.push(DroppedColumn {
                table: before.name.clone(),
                column: column.name.clone(),
                type_name: column.type_name.clone(),
                rows: rows.get(oid).copied(),
            });
        }
    }
    dropped
}
