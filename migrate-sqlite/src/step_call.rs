//! Calling a migration's step the way every run does it, the real one and the dry run alike:
//! an empty statement cache (the authorizer sees statements when they are prepared), the
//! authorizer in the step's phase, a panic turned into an error, then what the authorizer
//! refused, undeclared destruction, and a transaction the step ended itself.

use crate::report::Direction;
use crate::sentry::{self, Phase, Sentry};
use crate::{Error, Migration, Result, Step, Tx};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `step` of `m` on `conn` under `sentry`.
pub(crate) fn call_step(
    conn: &Connection,
    sentry: &Sentry,
    m: &Migration,
    step: &Step,
    direction: Direction,
    phase: Phase,
    allow_destructive: bool,
) -> Result<()> {
    let tx = Tx::new(conn, m.seq, &m.name);
    let in_transaction = !conn.is_autocommit();
    // A statement an earlier migration left in the cache would run unseen (unrefused,
    // uncounted).
    conn.flush_prepared_statement_cache();
    sentry.enter(phase);
    let result = match catch_unwind(AssertUnwindSafe(|| step.run(&tx))) {
        Ok(result) => result,
        Err(payload) => Err(Error::Panicked {
            message: panic_message(payload.as_ref()),
        }),
    };
    sentry.enter(Phase::Runner);
    if let Some(why) = sentry.refused() {
        return Err(Error::Refused { why });
    }
    if result.is_ok() && direction == Direction::Up && !allow_destructive {
        check_declared_destruction(sentry, m)?;
    }
    if in_transaction && conn.is_autocommit() {
        // Disk full, I/O error, out of memory: SQLite rolled the transaction back itself.
        if let Err(e) = &result
            && crate::sqlite_codes::rolled_back_by_sqlite(e)
        {
            return result;
        }
        return Err(Error::TransactionEscaped {
            step_error: result.err().map(|e| e.to_string()),
        });
    }
    result
}

/// A migration that dropped or deleted data must have said so: `destructive` allows all of
/// it, `rebuild` allows dropping schema objects (not deleting rows). Reverting (`down`) is
/// destructive by nature and not checked.
fn check_declared_destruction(sentry: &Sentry, m: &Migration) -> Result<()> {
    if m.flags.destructive {
        return Ok(());
    }
    let undeclared: Vec<String> = sentry
        .destructive()
        .into_iter()
        .filter(|statement| !(m.flags.rebuilds_tables && sentry::is_drop(statement)))
        .collect();
    if undeclared.is_empty() {
        Ok(())
    } else {
        Err(Error::UndeclaredDestruction {
            statements: undeclared,
            seq: m.seq,
        })
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}
