//! The embeddable command line (feature `cli`), the same as the SQLite backend's: `status`,
//! `up`, `down`, `redo`, `plan`, `verify`, `backup`, `backups`, `snapshot`, `restore`, `history`,
//! `resolve`, `sets`, `--json`, the same exit codes and confirmations (`--yes`). The arguments,
//! output and dispatch are `migrate_core::cli`; this module is PostgreSQL's `Target`.
//!
//! One call in your own `main` (a dedicated connection, never through a transaction pooler):
//!
//! ```no_run
//! use migrate_postgres::Migrator;
//!
//! fn main() -> std::process::ExitCode {
//!     if std::env::args().nth(1).as_deref() == Some("migrate") {
//!         // `myapp migrate status`, `myapp migrate up`, ...
//!         let migrator = Migrator::new().backup_dir("/var/backups/myapp");
//!         let url = "host=/run/postgresql dbname=myapp";
//!         return migrate_postgres::cli::run(migrator, url, std::env::args_os().skip(1));
//!     }
//!     // ... the app itself
//!     std::process::ExitCode::SUCCESS
//! }
//! ```
//!
//! What differs from SQLite: `--database` takes a connection URL or `key=value` string;
//! `--busy-timeout-ms` is how long to poll for the advisory lock; `verify` checks the
//! migrations' states and checksums, schema drift (catalog fingerprint) and INVALID indexes
//! (a failed `CREATE INDEX CONCURRENTLY`); backups need a directory (`Migrator::backup_dir` or
//! `--backup-dir`), and a listing shows no schema version (`-`: it would read every dump).
//! `plan` (`--to`, `--down`, `--redo`) is the PostgreSQL dry run, with the locks each migration takes.
//! Not offered (refused with exit 3, nothing changed, naming what to do instead): `rehearse`,
//! `restore-table`, `new`, `import`, `adopt`. `--no-row-counts` keeps the checks that cost no
//! read of every table (see `Migrator::without_row_counts`).
//!
//! Exit codes: 0 ok, 1 failed (the message says what was kept), 2 usage, 3 refused before
//! anything changed (also: the server cannot be reached, the URL is wrong, the engine is not
//! PostgreSQL, the backup tools are missing), 4 the migration lock (or a table lock, every
//! attempt) was held by another session past its timeout.

mod sets;
mod target;
mod verify;

pub use migrate_core::cli::{
    EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, MigrateArgs, MigrateCommand,
    SnapshotCommand, parse,
};

use crate::{Error, FailurePolicy, Migrator, Settings};
use migrate_core::cli::Failure;
use std::ffi::OsString;
use std::process::ExitCode;

/// Parses `args` (the program name first, e.g. `["migrate", "status"]`) and runs the command on
/// the database at `url` (a URL or `key=value` string; `--database` overrides it); prints
/// results to stdout, errors to stderr; returns the exit code.
///
/// ```no_run
/// let code = migrate_postgres::cli::run(
///     migrate_postgres::Migrator::new(),
///     "postgres://app@localhost/app",
///     ["migrate", "status"],
/// );
/// # let _ = code;
/// ```
pub fn run<I, T>(migrator: Migrator, url: &str, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match migrate_core::cli::parse(args) {
        Ok(parsed) => run_parsed(migrator, url, parsed),
        Err(code) => code,
    }
}

/// Runs already-parsed arguments (for apps that embed [`MigrateArgs`] in their own clap
/// parser as a subcommand).
///
/// ```no_run
/// let args = migrate_postgres::cli::parse(["migrate", "history"]).expect("valid arguments");
/// let code = migrate_postgres::cli::run_parsed(
///     migrate_postgres::Migrator::new(),
///     "host=/run/postgresql dbname=app",
///     args,
/// );
/// # let _ = code;
/// ```
pub fn run_parsed(migrator: Migrator, url: &str, args: MigrateArgs) -> ExitCode {
    let url = match &args.database {
        Some(database) => database.to_string_lossy().into_owned(),
        None => url.to_owned(),
    };
    let settings = settings(&args);
    let mut migrator = apply_overrides(&args, migrator);
    let bar = migrate_core::cli::output::progress_bar();
    if let Some(bar) = &bar {
        let bar = bar.clone();
        migrator = migrator.on_progress(move |p| {
            bar.set_message(p.stage.to_string());
            // 0 is "not known" (a replay, a first dump): an empty bar, not a full one.
            if p.total == 0 {
                bar.unset_length();
            } else {
                bar.set_length(p.total);
            }
            bar.set_position(p.done);
        });
    }
    let mut target = target::PgTarget::new(migrator, url, settings, args.json);
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

    fn message(&self) -> String {
        // The derived Debug is for programmers; an operator reads the message and its causes.
        migrate_core::cli::message_with_causes(self)
    }
}

fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Locked { .. } | Error::LockTimeout { .. } => EXIT_LOCKED,
        // A lock timeout inside a migration arrives wrapped in the run's failure.
        Error::MigrationFailed { source, .. } | Error::Step { source, .. }
            if matches!(**source, Error::LockTimeout { .. } | Error::Locked { .. }) =>
        {
            EXIT_LOCKED
        }
        Error::Connect { .. }
        | Error::InvalidUrl { .. }
        | Error::UnsupportedEngine { .. }
        | Error::InvalidSchema { .. }
        | Error::LockLost { .. } => EXIT_REFUSED,
        Error::Refused(_) | Error::Core(_) | Error::Unsupported(_) => EXIT_REFUSED,
        Error::NoBackup { .. } | Error::InvalidSnapshotName(_) | Error::RestoreRefused { .. } => {
            EXIT_REFUSED
        }
        Error::BackupToolMissing { .. }
        | Error::BackupToolVersion { .. }
        | Error::BackupPrivileges { .. }
        | Error::BackupTool { .. }
        | Error::BackupDamaged { .. }
        | Error::BackupNotInTransaction { .. } => EXIT_REFUSED,
        Error::BackupChecksumMismatch { .. } => EXIT_REFUSED,
        _ => EXIT_FAILED,
    }
}

/// The connection's timeouts with `--busy-timeout-ms`.
fn settings(args: &MigrateArgs) -> Settings {
    let mut settings = Settings::default();
    if let Some(ms) = args.busy_timeout_ms {
        settings.busy_timeout = std::time::Duration::from_millis(ms);
    }
    settings
}

/// The migrator with the command line's overrides (`--busy-timeout-ms` goes to the
/// connection's [`Settings`]).
///
/// ```
/// let args = migrate_postgres::cli::parse(["migrate", "--keep-applied", "up"]).unwrap();
/// let migrator = migrate_postgres::cli::apply_overrides(&args, migrate_postgres::Migrator::new());
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
    if let Some(dir) = &args.backup_dir {
        migrator = migrator.backup_dir(dir);
    }
    if args.allow_gaps {
        migrator = migrator.allow_gaps();
    }
    if args.allow_destructive {
        migrator = migrator.allow_destructive();
    }
    if args.no_row_counts {
        migrator = migrator.without_row_counts();
    }
    if args.keep_applied {
        migrator = migrator.failure_policy(FailurePolicy::KeepApplied);
    }
    if args.keep_backups.is_some() || args.max_backup_age.is_some() {
        let mut retention = migrator.backups.retention;
        if let Some(n) = args.keep_backups {
            retention.keep_last = Some(n);
        }
        if let Some(age) = args.max_backup_age {
            retention.max_age = Some(age);
        }
        migrator = migrator.keep_backups(retention);
    }
    if args.no_backup {
        migrator = migrator.without_backups();
    }
    migrator
}
