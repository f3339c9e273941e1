//! The embeddable command line (feature `cli`): `status`, `up`, `down`, `redo`, `plan`,
//! `verify`, `backup`, `snapshot`, `restore`, `history`, `resolve`, and the runbook commands
//! `rehearse`, `restore-table`, `sets`, `new`, as a thin layer over
//! [`Migrator`](crate::Migrator) and [`Session`](crate::Session).
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
//! with [`EXIT_FAILED`] when a pending migration fails in it.

mod args;
mod confirm;
mod output;
mod runbook;

pub use args::{MigrateArgs, MigrateCommand, RehearseCommand, SnapshotCommand};

use crate::{Error, Migrator, Resolution, RestoreFrom};
use clap::Parser;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The operation failed (the database state is in the message).
pub const EXIT_FAILED: u8 = 1;
/// The command line was wrong.
pub const EXIT_USAGE: u8 = 2;
/// Refused before anything changed (confirmation missing, plan blocked, verify failed).
pub const EXIT_REFUSED: u8 = 3;
/// Another process kept the database locked.
pub const EXIT_LOCKED: u8 = 4;

/// Parses `args` (the program name first, e.g. `["migrate", "status"]`) and runs the command on
/// the database at `db`; prints results to stdout, errors to stderr; returns the exit code.
pub fn run<I, T>(migrator: Migrator, db: impl AsRef<Path>, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = match MigrateArgs::try_parse_from(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    run_parsed(migrator, db.as_ref(), parsed)
}

/// Runs already-parsed arguments (for apps that embed [`MigrateArgs`] in their own clap
/// parser as a subcommand).
pub fn run_parsed(migrator: Migrator, db: &Path, args: MigrateArgs) -> ExitCode {
    let db = args.database.clone().unwrap_or_else(|| db.to_owned());
    match execute(migrator, &db, args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(&e))
        }
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
        // Refusals that name what was not done ("nothing was changed").
        Error::Unsupported(_) => EXIT_REFUSED,
        Error::TableNotFound { .. } | Error::TableShapeDiffers { .. } => EXIT_REFUSED,
        _ => EXIT_FAILED,
    }
}

fn execute(migrator: Migrator, db: &Path, args: MigrateArgs) -> crate::Result<u8> {
    let mut migrator = args.apply_overrides(migrator);
    let bar = output::progress_bar();
    if let Some(bar) = &bar {
        let bar = bar.clone();
        migrator = migrator.on_progress(move |p| {
            bar.set_length(p.total);
            bar.set_position(p.done);
        });
    }
    // Commands that need no database, and the rehearsal, which only reads it.
    match &args.command {
        MigrateCommand::Sets => return Ok(runbook::sets(&migrator, db)),
        MigrateCommand::New {
            name,
            from_schema,
            dir,
        } => {
            return runbook::new_migration(&migrator, name, from_schema.as_deref(), dir.as_deref());
        }
        MigrateCommand::Rehearse { command } => return runbook::rehearse(&migrator, db, command),
        _ => {}
    }
    // Only `up` may create the database: everything else on a mistyped path says so and
    // leaves no file behind.
    let mut session = match args.command {
        MigrateCommand::Up { .. } => migrator.open(db)?,
        _ => migrator.open_existing(db)?,
    };
    let json = args.json;
    let yes = args.yes;
    let code = match args.command {
        MigrateCommand::Status => {
            output::status(&session.status()?, json);
            EXIT_OK
        }
        MigrateCommand::Up { to } => {
            let report = match to {
                Some(seq) => session.up_to(seq)?,
                None => session.up()?,
            };
            println!("{report}");
            EXIT_OK
        }
        MigrateCommand::Down { steps, to } => {
            let what = match to {
                Some(seq) => format!("revert every migration above {seq}"),
                None => format!("revert the last {} migration(s)", steps.unwrap_or(1)),
            };
            if !confirm::confirmed(yes, &what) {
                return Ok(EXIT_REFUSED);
            }
            let report = match to {
                Some(seq) => session.down_to(seq)?,
                None => session.down(steps.unwrap_or(1))?,
            };
            println!("{report}");
            EXIT_OK
        }
        MigrateCommand::Redo => {
            if !confirm::confirmed(yes, "revert the last migration and apply it again") {
                return Ok(EXIT_REFUSED);
            }
            println!("{}", session.redo()?);
            EXIT_OK
        }
        MigrateCommand::Plan => output::plan(&session.dry_run()?, json),
        MigrateCommand::Verify => runbook::verify(&session)?,
        MigrateCommand::Backup => {
            let info = session.backup()?;
            println!("backup created: {}", info.path.display());
            EXIT_OK
        }
        MigrateCommand::Snapshot { command } => snapshot(&session, command, yes, json)?,
        MigrateCommand::Restore { from, before } => {
            let from = match (from, before) {
                (_, Some(seq)) => RestoreFrom::File(backup_before(&session, seq)?),
                (None, None) => RestoreFrom::Latest,
                // Anything that looks like a path is a file; a bare word is a snapshot name.
                (Some(arg), None) if looks_like_path(&arg) => RestoreFrom::File(PathBuf::from(arg)),
                (Some(name), None) => RestoreFrom::Snapshot(name),
            };
            let what = match &from {
                RestoreFrom::Latest => "the newest backup".to_owned(),
                RestoreFrom::Snapshot(name) => format!("snapshot {name:?}"),
                RestoreFrom::File(path) => path.display().to_string(),
            };
            if !confirm::confirmed(yes, &format!("replace the database with {what}")) {
                return Ok(EXIT_REFUSED);
            }
            let report = session.restore(&from)?;
            println!(
                "restored from {}; to undo: migrate restore {}",
                report.restored_from.display(),
                crate::outcome::shell_word(&report.undo_backup.path)
            );
            EXIT_OK
        }
        MigrateCommand::Backups => {
            output::backups(&session.backups()?, json, "no backups");
            EXIT_OK
        }
        MigrateCommand::History => {
            output::history(&session.history()?, json);
            EXIT_OK
        }
        MigrateCommand::Resolve {
            seq,
            applied,
            not_applied: _,
        } => {
            let resolution = if applied {
                Resolution::Applied
            } else {
                Resolution::NotApplied
            };
            session.resolve(seq, resolution)?;
            println!("migration {seq} resolved as {resolution:?}");
            EXIT_OK
        }
        MigrateCommand::RestoreTable {
            table,
            from,
            before,
        } => {
            let from = match (from, before) {
                (_, Some(seq)) => RestoreFrom::File(backup_before(&session, seq)?),
                (None, None) => RestoreFrom::Latest,
                (Some(arg), None) if looks_like_path(&arg) => RestoreFrom::File(PathBuf::from(arg)),
                (Some(name), None) => RestoreFrom::Snapshot(name),
            };
            runbook::restore_table(&session, &table, &from, yes)?
        }
        // Handled above, before the database is opened.
        MigrateCommand::Sets | MigrateCommand::New { .. } | MigrateCommand::Rehearse { .. } => {
            EXIT_USAGE
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(code)
}

fn snapshot(
    session: &crate::Session<'_>,
    command: SnapshotCommand,
    yes: bool,
    json: bool,
) -> crate::Result<u8> {
    match command {
        SnapshotCommand::Create { name } => {
            let info = session.snapshot(&name)?;
            println!("snapshot {name:?} created: {}", info.path.display());
        }
        SnapshotCommand::List => output::backups(&session.snapshots()?, json, "no snapshots"),
        SnapshotCommand::Restore { name } => {
            if !confirm::confirmed(yes, &format!("replace the database with snapshot {name:?}")) {
                return Ok(EXIT_REFUSED);
            }
            let report = session.restore(&RestoreFrom::Snapshot(name))?;
            println!(
                "restored from {}; to undo: migrate restore {}",
                report.restored_from.display(),
                crate::outcome::shell_word(&report.undo_backup.path)
            );
        }
        SnapshotCommand::Delete { name } => {
            if !confirm::confirmed(yes, &format!("delete snapshot {name:?}")) {
                return Ok(EXIT_REFUSED);
            }
            session.delete_snapshot(&name)?;
            println!("snapshot {name:?} deleted");
        }
    }
    Ok(EXIT_OK)
}

/// The file `restore --before SEQ` means.
fn backup_before(session: &crate::Session<'_>, seq: u64) -> crate::Result<PathBuf> {
    match session.backup_before(seq)? {
        Some(info) => Ok(info.path),
        None => Err(Error::NoBackup {
            wanted: format!("backup taken before migration {seq} was applied"),
            dir: session.backup_dir()?,
        }),
    }
}

fn looks_like_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || Path::new(arg).is_file()
}

/// True when stdout is a terminal (no bars or questions otherwise).
fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::io::stdin().is_terminal()
}
