//! The embeddable command line (feature `cli`): `status`, `up`, `down`, `redo`, `plan`,
//! `verify`, `backup`, `snapshot`, `restore`, `history`, `resolve`, and the runbook commands
//! `rehearse`, `restore-table`, `sets`, `new`, `import`, `adopt`, as a thin layer over
//! [`Migrator`](crate::Migrator) and [`Session`](crate::Session). The arguments, exit codes,
//! confirmations, output and dispatch are `migrate_core::cli`, shared with the PostgreSQL
//! backend; this module is SQLite's `Target` (target.rs) and its own reports (runbook.rs).
//!
//! One call in your own `main`:
//!
//! ```no_run
//! use migrate_sqlite::Migrator;
//!
//! fn main() -> std::process::ExitCode {
//!     let mut args = std::env::args_os();
//!     if std::env::args().nth(1).as_deref() == Some("migrate") {
//!         // `myapp migrate status`, `myapp migrate up`, ...
//!         return migrate_sqlite::cli::run(Migrator::new(), "app.db", args.skip(1));
//!     }
//!     // ... the app itself
//!     std::process::ExitCode::SUCCESS
//! }
//! ```
//!
//! Exit codes scripts can rely on: [`EXIT_OK`] 0, [`EXIT_FAILED`] 1 (an operation failed; the
//! message says what was kept), [`EXIT_USAGE`] 2 (bad arguments), [`EXIT_REFUSED`] 3 (refused
//! before changing anything: needs `--yes`, blocked by the plan, `verify` found a problem, no
//! database at the path, `down --steps N` beyond what is applied, an unreadable tracking table),
//! [`EXIT_LOCKED`] 4 (another process held the database or the migration lock past the busy
//! timeout, at any point: every SQLITE_BUSY ends here). `plan` (a dry run, rolled back) exits
//! with [`EXIT_FAILED`] when a pending migration fails in it; `plan --down`/`plan --redo`
//! preview a revert the same way, and are refused (exit 3) where `down`/`redo` would be.

mod runbook;
mod target;

pub use migrate_core::cli::{
    EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, MigrateArgs, MigrateCommand,
    RehearseCommand, SnapshotCommand, parse,
};

use crate::{Error, Migrator};
use migrate_core::cli::Failure;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// Parses `args` (the program name first, e.g. `["migrate", "status"]`) and runs the command on
/// the database at `db`; prints results to stdout, errors to stderr; returns the exit code.
pub fn run<I, T>(migrator: Migrator, db: impl AsRef<Path>, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match migrate_core::cli::parse(args) {
        Ok(parsed) => run_parsed(migrator, db.as_ref(), parsed),
        Err(code) => code,
    }
}

/// Runs already-parsed arguments (for apps that embed [`MigrateArgs`] in their own clap
/// parser as a subcommand).
///
/// ```no_run
/// use clap::Parser;
/// let args = migrate_sqlite::cli::MigrateArgs::parse_from(["migrate", "status"]);
/// let code = migrate_sqlite::cli::run_parsed(migrate_sqlite::Migrator::new(), "app.db".as_ref(), args);
/// # let _ = code;
/// ```
pub fn run_parsed(migrator: Migrator, db: &Path, args: MigrateArgs) -> ExitCode {
    let db = args.database.clone().unwrap_or_else(|| db.to_owned());
    let mut migrator = apply_overrides(&args, migrator);
    let bar = migrate_core::cli::output::progress_bar();
    if let Some(bar) = &bar {
        let bar = bar.clone();
        migrator = migrator.on_progress(move |p| {
            bar.set_length(p.total);
            bar.set_position(p.done);
        });
    }
    let mut target = target::SqliteTarget::new(migrator, db, args.json);
    let code = migrate_core::cli::run_parsed(&mut target, args);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    code
}

impl Failure for Error {
    fn exit_code(&self) -> u8 {
        exit_code(self)
    }

    fn not_offered(message: String) -> Self {
        Error::Unsupported(message)
    }
}

fn exit_code(e: &Error) -> u8 {
    if crate::busy::is_busy(e) {
        return EXIT_LOCKED;
    }
    match e {
        Error::Locked { .. } | Error::Busy { .. } => EXIT_LOCKED,
        Error::NoDatabase { .. } | Error::NotAFile { .. } | Error::DownTooFar { .. } => {
            EXIT_REFUSED
        }
        Error::TrackingUnreadable { .. } => EXIT_REFUSED,
        Error::Core(_) | Error::NoBackup { .. } | Error::InvalidSnapshotName(_) => EXIT_REFUSED,
        Error::BackupDamaged { .. } | Error::BackupFailed { .. } => EXIT_REFUSED,
        Error::DatabaseDamaged { .. } => EXIT_REFUSED,
        // Refusals that name what was not done ("nothing was changed").
        Error::Unsupported(_) => EXIT_REFUSED,
        Error::AdoptionRefused { .. } => EXIT_REFUSED,
        Error::RestoreRefused { .. } | Error::LiveDatabaseDamaged { .. } => EXIT_REFUSED,
        Error::TableNotFound { .. } | Error::TableShapeDiffers { .. } => EXIT_REFUSED,
        _ => EXIT_FAILED,
    }
}

/// The migrator with the command line's overrides.
///
/// ```
/// use clap::Parser;
/// let args = migrate_sqlite::cli::MigrateArgs::parse_from(["migrate", "--set", "billing", "status"]);
/// let migrator = migrate_sqlite::cli::apply_overrides(&args, migrate_sqlite::Migrator::new());
/// # let _ = migrator;
/// ```
pub fn apply_overrides(args: &MigrateArgs, mut migrator: Migrator) -> Migrator {
    if let Some(set) = &args.set {
        migrator = migrator.set(set.clone());
    }
    if args.allow_database_ahead {
        migrator = migrator.allow_database_ahead();
    }
    if args.allow_out_of_order {
        migrator = migrator.allow_out_of_order();
    }
    for &seq in &args.accept_checksum {
        migrator = migrator.accept_checksum(seq);
    }
    if args.allow_destructive {
        migrator = migrator.allow_destructive();
    }
    if args.no_row_counts {
        migrator = migrator.without_row_counts();
    }
    if let Some(dir) = &args.backup_dir {
        migrator = migrator.backup_dir(dir);
    }
    if args.allow_gaps {
        migrator = migrator.allow_gaps();
    }
    if let Some(ms) = args.busy_timeout_ms {
        migrator = migrator.busy_timeout(std::time::Duration::from_millis(ms));
    }
    if args.keep_applied {
        migrator = migrator.failure_policy(crate::FailurePolicy::KeepApplied);
    }
    if let Some(n) = args.keep_backups {
        migrator = migrator.keep_backups(n);
    }
    if let Some(age) = args.max_backup_age {
        migrator = migrator.max_backup_age(age);
    }
    if args.no_backup {
        migrator = migrator.without_backups();
    }
    migrator
}
