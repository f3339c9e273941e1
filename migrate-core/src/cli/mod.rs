//! The command line every backend shares (feature `cli`): the arguments ([`MigrateArgs`]), the
//! exit codes, the confirmations, the text and JSON output of the shared reports, and the
//! dispatch of each command to a backend's [`Target`]. `migrate_sqlite::cli::run` and
//! `migrate_postgres::cli::run` are this code over their own `Target`, so `status`, `up`,
//! `backups`... print the same shape and exit with the same codes on both.
//!
//! Exit codes scripts can rely on: [`EXIT_OK`] 0, [`EXIT_FAILED`] 1 (an operation failed; the
//! message says what was kept), [`EXIT_USAGE`] 2 (bad arguments), [`EXIT_REFUSED`] 3 (refused
//! before changing anything: needs `--yes`, blocked by the plan, `verify` found a problem, no
//! database, a command this backend does not offer), [`EXIT_LOCKED`] 4 (another process held
//! the database or the migration lock past the busy timeout).
//!
//! ```
//! let args = migrate_core::cli::parse(["migrate", "--json", "down", "--steps", "2"]).unwrap();
//! assert!(args.json);
//! assert!(matches!(args.command, migrate_core::cli::MigrateCommand::Down { steps: Some(2), .. }));
//! ```

mod all_sets;
mod args;
pub mod confirm;
pub mod output;
mod target;

pub use args::{MigrateArgs, MigrateCommand, RehearseCommand, SnapshotCommand};
pub use target::{
    BackupLine, Failure, Rendered, RestoreRequest, SetLine, Target, message_with_causes,
    not_offered_message,
};

use crate::backups::{BackupKind, RestoreFrom};
use crate::protocol::{Operation, Resolution};
use crate::{DownTarget, RunReport};
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
/// Refused before anything changed (confirmation missing, plan blocked, verify failed, a
/// command this backend does not offer).
pub const EXIT_REFUSED: u8 = 3;
/// Another process kept the database locked.
pub const EXIT_LOCKED: u8 = 4;

/// Parses `args` (the program name first, e.g. `["migrate", "status"]`); on a usage error (or
/// `--help`) prints it, as JSON under `--json`, and returns the exit code instead.
///
/// ```
/// assert!(migrate_core::cli::parse(["migrate", "status"]).is_ok());
/// assert!(migrate_core::cli::parse(["migrate", "sideways"]).is_err());
/// ```
pub fn parse<I, T>(args: I) -> Result<MigrateArgs, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match MigrateArgs::try_parse_from(&args).and_then(all_sets_alone) {
        Ok(parsed) => Ok(parsed),
        Err(e) if e.use_stderr() && args.iter().any(|a| a == "--json") => {
            output::message_json(&e.to_string(), EXIT_USAGE);
            Err(ExitCode::from(EXIT_USAGE))
        }
        Err(e) => {
            let _ = e.print();
            Err(ExitCode::from(if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            }))
        }
    }
}

/// `--all-sets` with `--set`: clap checks conflicts within a subcommand, and `--set` may come
/// before it (`migrate --set a up --all-sets`).
fn all_sets_alone(args: MigrateArgs) -> Result<MigrateArgs, clap::Error> {
    let all_sets = matches!(
        args.command,
        MigrateCommand::Status { all_sets: true } | MigrateCommand::Up { all_sets: true, .. }
    );
    if all_sets && args.set.is_some() {
        use clap::CommandFactory;
        return Err(MigrateArgs::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "--all-sets acts on every set the binary links: leave out --set",
        ));
    }
    Ok(args)
}

/// Runs parsed arguments on `target`: prints results to stdout, errors to stderr (or as JSON
/// on stdout under `--json`), and returns the exit code.
///
/// ```
/// fn main_of<T: migrate_core::cli::Target>(mut target: T) -> std::process::ExitCode {
///     match migrate_core::cli::parse(std::env::args_os()) {
///         Ok(args) => migrate_core::cli::run_parsed(&mut target, args),
///         Err(code) => code,
///     }
/// }
/// ```
pub fn run_parsed<T: Target>(target: &mut T, args: MigrateArgs) -> ExitCode {
    let json = args.json;
    match execute(target, args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.exit_code();
            if json {
                output::error_json(&e, code);
            } else {
                eprintln!("error: {}", e.message());
            }
            ExitCode::from(code)
        }
    }
}

/// Runs one command on `target` and prints what it did; the exit code, or the error (not
/// printed: [`run_parsed`] prints it).
///
/// ```
/// fn history<T: migrate_core::cli::Target>(target: &mut T) -> Result<u8, T::Error> {
///     let args = migrate_core::cli::parse(["migrate", "history"]).expect("valid arguments");
///     migrate_core::cli::execute(target, args)
/// }
/// ```
pub fn execute<T: Target>(target: &mut T, args: MigrateArgs) -> Result<u8, T::Error> {
    let json = args.json;
    let yes = args.yes;
    // Commands that need no database, and the rehearsal, which only reads a copy.
    match &args.command {
        MigrateCommand::Import {
            source,
            out,
            from,
            force,
        } => {
            let report = target.import(source, out, *from, *force, args.set.as_deref())?;
            return Ok(output::rendered(&report, json));
        }
        MigrateCommand::Sets => {
            output::sets(&target.sets()?, json);
            return Ok(EXIT_OK);
        }
        MigrateCommand::New {
            name,
            from_schema,
            dir,
        } => {
            let report = target.new_migration(name, from_schema.as_deref(), dir.as_deref())?;
            return Ok(output::rendered(&report, json));
        }
        MigrateCommand::Rehearse { command } => {
            let op = match *command {
                RehearseCommand::Up { to } => Operation::Up(to),
                RehearseCommand::Down { steps, to } => Operation::Down(down_target(steps, to)),
                RehearseCommand::Redo => Operation::Redo,
            };
            return Ok(output::rendered(&target.rehearse(op)?, json));
        }
        _ => {}
    }
    match args.command {
        MigrateCommand::Status { all_sets: true } => return all_sets::status(target, json),
        MigrateCommand::Up { all_sets: true, .. } => return all_sets::up(target, json),
        _ => {}
    }
    // Only `up` may create the database: everything else on a mistyped path says so.
    target.open(matches!(args.command, MigrateCommand::Up { .. }))?;
    let retention = target.retention();
    // What was there before a changing run, to name the backup it takes.
    let listed_before = target.backups().unwrap_or_default();
    let changed = |target: &mut T, op: Operation| -> Result<u8, T::Error> {
        let report = target.run(op)?;
        run_report_out(&report, json);
        if !json
            && !report.steps.is_empty()
            && let Some(info) = new_backup(target, &listed_before)
        {
            output::pre_run_backup(&info, &retention);
        }
        Ok(EXIT_OK)
    };
    let code = match args.command {
        MigrateCommand::Status { .. } => {
            output::status(&target.status()?, json);
            EXIT_OK
        }
        MigrateCommand::Up { to, .. } => changed(target, Operation::Up(to))?,
        MigrateCommand::Down { steps, to } => {
            let what = match to {
                Some(seq) => format!("revert every migration above {seq}"),
                None => format!("revert the last {} migration(s)", steps.unwrap_or(1)),
            };
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            changed(target, Operation::Down(down_target(steps, to)))?
        }
        MigrateCommand::Redo => {
            let what = "revert the last migration and apply it again";
            if !confirm::confirmed(yes, what) {
                return Ok(output::not_confirmed(json, what));
            }
            changed(target, Operation::Redo)?
        }
        MigrateCommand::Plan {
            down,
            steps,
            to,
            redo,
        } => {
            let op = match (down, redo) {
                (true, _) => Operation::Down(down_target(steps, to)),
                (false, true) => Operation::Redo,
                (false, false) => Operation::Up(to),
            };
            output::rendered(&target.plan(op)?, json)
        }
        MigrateCommand::Verify => output::rendered(&target.verify()?, json),
        MigrateCommand::Backup => {
            output::backup_taken(&target.backup()?, &retention, json);
            EXIT_OK
        }
        MigrateCommand::Snapshot { command } => snapshot(target, command, yes, json)?,
        MigrateCommand::Restore {
            from,
            before,
            allow_foreign_source,
        } => {
            let from = restore_from(target, from, before)?;
            let what = format!("replace the database with {}", describe(&from));
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            let how = RestoreRequest {
                allow_foreign_source,
                replace_damaged: true,
            };
            output::rendered(&target.restore(&from, how)?, json)
        }
        MigrateCommand::Backups => {
            let backups = target.backups()?;
            let failed = target.failed_states()?;
            if json {
                // One array; each entry's "kind" tells a failed state from a backup.
                let all: Vec<_> = backups.into_iter().chain(failed).collect();
                output::backups(&all, json, "");
            } else {
                output::backups(&backups, json, "no backups");
                if !failed.is_empty() {
                    // Apart: a failed state is for inspection, not a state to go back to.
                    println!(
                        "\nfailed-state copies (what failed migrations left, for inspection):"
                    );
                    output::backups(&failed, json, "");
                }
            }
            EXIT_OK
        }
        MigrateCommand::History => {
            output::history(&target.history()?, json);
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
            target.resolve(seq, resolution)?;
            if json {
                let resolved_as = if applied { "applied" } else { "not-applied" };
                output::print_json(&serde_json::json!({ "seq": seq, "resolved_as": resolved_as }));
            } else {
                println!("migration {seq} resolved as {resolution:?}");
            }
            EXIT_OK
        }
        MigrateCommand::Adopt { from } => output::rendered(&target.adopt(&from)?, json),
        MigrateCommand::RestoreTable {
            table,
            from,
            before,
        } => {
            let from = restore_from(target, from, before)?;
            let what = format!(
                "replace the rows of table {table} with {}'s",
                describe(&from)
            );
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            output::rendered(&target.restore_table(&table, &from)?, json)
        }
        // Handled above, before the database is opened.
        MigrateCommand::Import { .. }
        | MigrateCommand::Sets
        | MigrateCommand::New { .. }
        | MigrateCommand::Rehearse { .. } => EXIT_USAGE,
    };
    Ok(code)
}

fn snapshot<T: Target>(
    target: &mut T,
    command: SnapshotCommand,
    yes: bool,
    json: bool,
) -> Result<u8, T::Error> {
    match command {
        SnapshotCommand::Create { name } => {
            let info = target.snapshot(&name)?;
            if json {
                output::print_json(&info);
            } else {
                println!("snapshot {name:?} created: {}", info.path.display());
            }
        }
        SnapshotCommand::List => output::backups(&target.snapshots()?, json, "no snapshots"),
        SnapshotCommand::Restore { name } => {
            let what = format!("replace the database with snapshot {name:?}");
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            let report = target.restore(&RestoreFrom::Snapshot(name), RestoreRequest::default())?;
            return Ok(output::rendered(&report, json));
        }
        SnapshotCommand::Delete { name } => {
            let what = format!("delete snapshot {name:?}");
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            target.delete_snapshot(&name)?;
            if json {
                output::print_json(&serde_json::json!({ "deleted_snapshot": name }));
            } else {
                println!("snapshot {name:?} deleted");
            }
        }
    }
    Ok(EXIT_OK)
}

fn down_target(steps: Option<usize>, to: Option<u64>) -> DownTarget {
    match to {
        Some(seq) => DownTarget::To(seq),
        None => DownTarget::Steps(steps.unwrap_or(1)),
    }
}

/// `restore [FROM] [--before SEQ]`: anything that looks like a path is a file; a bare word is
/// a snapshot name; nothing is the newest backup.
fn restore_from<T: Target>(
    target: &mut T,
    from: Option<String>,
    before: Option<u64>,
) -> Result<RestoreFrom, T::Error> {
    Ok(match (from, before) {
        (_, Some(seq)) => RestoreFrom::File(target.backup_before(seq)?),
        (None, None) => RestoreFrom::Latest,
        (Some(arg), None) if looks_like_path(&arg) => RestoreFrom::File(PathBuf::from(arg)),
        (Some(name), None) => RestoreFrom::Snapshot(name),
    })
}

fn describe(from: &RestoreFrom) -> String {
    match from {
        RestoreFrom::Latest => "the newest backup".to_owned(),
        RestoreFrom::Snapshot(name) => format!("snapshot {name:?}"),
        RestoreFrom::File(path) => path.display().to_string(),
    }
}

/// The automatic backup a run took first (its pre-migration backup): listed now, not in
/// `before`, the oldest such (a `pre-step` backup under `--keep-applied` comes later).
fn new_backup<T: Target>(target: &mut T, before: &[BackupLine]) -> Option<BackupLine> {
    let now = target.backups().ok()?;
    now.into_iter().find(|b| {
        matches!(b.kind, BackupKind::Automatic { .. })
            && before.iter().all(|old| old.path != b.path)
    })
}

/// What `up`, `down` and `redo` did.
fn run_report_out(report: &RunReport, json: bool) {
    if json {
        output::print_json(report);
    } else {
        println!("{report}");
    }
}

fn looks_like_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || Path::new(arg).is_file()
}

/// True when stderr and stdin are a terminal (no bars or questions otherwise).
///
/// ```
/// let _ = migrate_core::cli::interactive();
/// ```
pub fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::io::stdin().is_terminal()
}
