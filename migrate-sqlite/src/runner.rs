//! Entry to the run protocol for SQLite: the connection must be in autocommit mode, the
//! configured busy timeout applies for the whole run (the caller's comes back afterwards), and
//! `migrate_core::protocol::run` drives [`SqliteBackend`](crate::backend::SqliteBackend). What
//! a failure kept is read back from the database, never assumed.

use crate::backend::SqliteBackend;
use crate::outcome::Recorded;
use crate::{Error, Migrator, Result, RunReport, Step, pragmas, tracking};
use migrate_core::protocol::{self, Refusal, Settings};
use migrate_core::{Plan, Registry};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;
use std::time::Duration;

pub use migrate_core::protocol::Operation;

/// Runs `op` under the full protocol.
pub fn run(
    conn: &mut Connection,
    path: Option<&Path>,
    registry: &Registry<Step>,
    config: &Migrator,
    op: Operation,
) -> Result<RunReport> {
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
    let settings = Settings {
        policy: &config.policy,
        failure: config.failure,
        hooks: &config.hooks,
    };
    let mut backend = SqliteBackend::new(conn, path, config, label);
    let result = protocol::run(&mut backend, registry, settings, op);
    drop(backend);
    if let Err(e) = conn.busy_timeout(previous_timeout) {
        log::error!("cannot restore busy_timeout: {e}");
    }
    result
}

/// The plan as the database stands, read in one snapshot.
pub fn read_plan(conn: &Connection, registry: &Registry<Step>) -> Result<Plan> {
    let rows = read_recorded(conn, registry.set())?;
    Ok(Plan::new(registry, rows.rows()))
}

/// The tracking rows of `set`, read in one snapshot.
pub(crate) fn read_recorded(conn: &Connection, set: &str) -> Result<Recorded> {
    conn.execute_batch("BEGIN")?;
    let rows = tracking::read_plan_rows(conn, set);
    conn.execute_batch("COMMIT")?;
    Ok(Recorded::new(rows?))
}

pub(crate) fn runner_error<'a>(
    label: &'a str,
    doing: &'a str,
) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |source| Error::Runner {
        doing: doing.to_owned(),
        path: label.to_owned(),
        error: source,
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

/// The protocol's refusals, as this crate's errors (the variants its users match on).
impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::DownTooFar {
                set,
                steps,
                applied,
            } => Error::DownTooFar {
                set,
                steps,
                applied,
            },
            Refusal::StartedTransactional {
                database,
                problem,
                way_out,
            } => Error::TrackingUnreadable {
                path: database,
                problem,
                way_out,
            },
            Refusal::TransactionEscaped => Error::TransactionEscaped { step_error: None },
            other @ (Refusal::NothingToRedo { .. }
            | Refusal::LeftTransactionOpen
            | Refusal::NoBackup { .. }
            | Refusal::NotRecorded { .. }
            | Refusal::NotStarted { .. }) => Error::Unsupported(other.to_string()),
            // A refusal added to the protocol later reads as what it says.
            #[allow(unreachable_patterns)]
            other => Error::Unsupported(other.to_string()),
        }
    }
}
