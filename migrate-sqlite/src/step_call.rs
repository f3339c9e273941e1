//! Calling a migration's step the way every run does it, the real one and the dry run alike:
//! an empty statement cache (the authorizer sees statements when they are prepared), the
//! authorizer in the step's phase, a panic turned into an error, then what the authorizer
//! refused, undeclared destruction, and a transaction the step ended itself.

use crate::report::Direction;
use crate::sentry::{self, Phase, Sentry};
use crate::{Error, Migration, Result, Step, Tx};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How a step is run and judged.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepRules {
    /// Applying or reverting.
    pub direction: Direction,
    /// The authorizer's phase while it runs.
    pub phase: Phase,
    /// The operator allowed destructive changes for the run.
    pub allow_destructive: bool,
    /// The row counter watches the tables (it judges `DROP TABLE` by what the step left:
    /// a table recreated under its name with no fewer rows and no column data lost is no loss).
    pub tables_watched: bool,
}

/// Runs `step` of `m` on `conn` under `sentry`.
pub(crate) fn call_step(
    conn: &Connection,
    sentry: &Sentry,
    m: &Migration,
    step: &Step,
    rules: StepRules,
) -> Result<()> {
    let tx = Tx::new(conn, m.seq, &m.name);
    let in_transaction = !conn.is_autocommit();
    // A statement an earlier migration left in the cache would run unseen (unrefused,
    // uncounted).
    conn.flush_prepared_statement_cache();
    let declared = m.flags.destructive || rules.allow_destructive;
    // Works inside a transaction; put back right after the step (and by the run's guard).
    let legacy = match m.flags.legacy_alter_table {
        true => Some(set_legacy_alter_table(conn, true)?),
        false => None,
    };
    sentry.enter(rules.phase, declared);
    let result = match catch_unwind(AssertUnwindSafe(|| step.run(&tx))) {
        Ok(result) => result,
        Err(payload) => Err(Error::Panicked {
            message: panic_message(payload.as_ref()),
        }),
    };
    sentry.enter(Phase::Runner, false);
    if let Some(was) = legacy {
        set_legacy_alter_table(conn, was)?;
    }
    if in_transaction && conn.is_autocommit() {
        // Disk full, I/O error, out of memory: SQLite rolled the transaction back itself.
        if let Err(e) = &result
            && crate::sqlite_codes::rolled_back_by_sqlite(e)
        {
            return result;
        }
        // The lost transaction comes first: whatever was refused after it is a consequence.
        // A step that went on after it returns what the refused commit raised, or nothing.
        let rolled_back = match &result {
            Err(e) => is_conflict(e),
            Ok(()) => sentry.commit_refused(),
        };
        let step_error = result.err().map(|e| e.to_string());
        return Err(match rolled_back {
            true => Error::TransactionRolledBack { step_error },
            false => Error::TransactionEscaped { step_error },
        });
    }
    if let Some(why) = sentry.refused() {
        return Err(Error::Refused { why });
    }
    if result.is_ok() && rules.direction == Direction::Up && !declared {
        check_declared_destruction(conn, sentry, m, rules.tables_watched)?;
    }
    result
}

/// A migration that deleted rows must have said so (`destructive`). A `DROP TABLE` is judged
/// by what the step left when the row counter watches the tables; without it, only a table
/// recreated under the same name by a migration declared `rebuild` may be dropped. Reverting
/// (`down`) is destructive by nature and not checked.
fn check_declared_destruction(
    conn: &Connection,
    sentry: &Sentry,
    m: &Migration,
    tables_watched: bool,
) -> Result<()> {
    let mut undeclared = Vec::new();
    for statement in sentry.destructive() {
        let allowed = match sentry::dropped_table(&statement) {
            Some(_) if tables_watched => true,
            Some(table) => m.flags.rebuilds_tables && conn.table_exists(Some("main"), table)?,
            None => false,
        };
        if !allowed {
            undeclared.push(statement);
        }
    }
    if undeclared.is_empty() {
        Ok(())
    } else {
        Err(Error::UndeclaredDestruction {
            statements: undeclared,
            seq: m.seq,
        })
    }
}

/// A constraint failure: what a conflict resolved by ROLLBACK returns.
fn is_conflict(error: &Error) -> bool {
    let constraint = Some(rusqlite::ErrorCode::ConstraintViolation);
    matches!(error, Error::Sql(e) if e.sqlite_error_code() == constraint)
}

/// Sets `PRAGMA legacy_alter_table`, returning what it was.
fn set_legacy_alter_table(conn: &Connection, on: bool) -> Result<bool> {
    let was = crate::pragmas::read_flag(conn, "legacy_alter_table")?;
    conn.execute_batch(if on {
        "PRAGMA legacy_alter_table = ON"
    } else {
        "PRAGMA legacy_alter_table = OFF"
    })?;
    Ok(was)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}
