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
//! with [`EXIT_FAILED`] when a pending migration fails in it; `plan --down`/`plan --redo`
//! preview a revert the same way, and are refused (exit 3) where `down`/`redo` would be.

mod args;
mod confirm;
mod output;
mod runbook;

pub use args::{MigrateArgs, MigrateCommand, RehearseCommand, SnapshotCommand};

use crate::{Error, Migrator, Resolution, RestoreFrom, RestoreOptions};
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
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let parsed = match MigrateArgs::try_parse_from(&args) {
        Ok(parsed) => parsed,
        Err(e) if e.use_stderr() && args.iter().any(|a| a == "--json") => {
            output::message_json(&e.to_string(), EXIT_USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
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
    let json = args.json;
    match execute(migrator, &db, args) {
        Ok(code) => ExitCode::from(code),
        Err(e) if json => {
            output::error_json(&e, exit_code(&e));
            ExitCode::from(exit_code(&e))
        }
        Err(e) => {
            // Debug: the message, then each cause it does not already include.
            eprintln!("error: {e:?}");
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
        Error::AdoptionRefused { .. } => EXIT_REFUSED,
        Error::RestoreRefused { .. } | Error::LiveDatabaseDamaged { .. } => EXIT_REFUSED,
        Error::TableNotFound { .. } | Error::TableShapeDiffers { .. } => EXIT_REFUSED,
        _ => EXIT_FAILED,
    }
}

fn execute(migrator: Migrator, db: &Path, args: MigrateArgs) -> crate::Result<u8> {
    if let MigrateCommand::Import { .. } = &args.command {
        return import(&args);
    }
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
        MigrateCommand::Sets => return Ok(runbook::sets(&migrator, db, args.json)),
        MigrateCommand::New {
            name,
            from_schema,
            dir,
        } => {
            return runbook::new_migration(
                &migrator,
                name,
                from_schema.as_deref(),
                dir.as_deref(),
                args.json,
            );
        }
        MigrateCommand::Rehearse { command } => {
            return runbook::rehearse(&migrator, db, command, args.json);
        }
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
    let retention = migrator.backups.retention;
    // What was there before a changing run, to name the backup it takes.
    let listed_before = session.backups().unwrap_or_default();
    let report_out = |session: &crate::Session<'_>, report: &crate::RunReport| {
        report_out(report, json);
        if !json && !report.steps.is_empty() {
            let taken = new_backup(session, &listed_before);
            if let Some(info) = taken {
                output::pre_run_backup(&info, &retention);
            }
        }
    };
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
            report_out(&session, &report);
            EXIT_OK
        }
        MigrateCommand::Down { steps, to } => {
            let what = match to {
                Some(seq) => format!("revert every migration above {seq}"),
                None => format!("revert the last {} migration(s)", steps.unwrap_or(1)),
            };
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            let report = match to {
                Some(seq) => session.down_to(seq)?,
                None => session.down(steps.unwrap_or(1))?,
            };
            report_out(&session, &report);
            EXIT_OK
        }
        MigrateCommand::Redo => {
            let what = "revert the last migration and apply it again";
            if !confirm::confirmed(yes, what) {
                return Ok(output::not_confirmed(json, what));
            }
            let report = session.redo()?;
            report_out(&session, &report);
            EXIT_OK
        }
        MigrateCommand::Plan {
            down,
            steps,
            to,
            redo,
        } => {
            let dry = match (down, redo, to) {
                (true, _, Some(seq)) => session.dry_run_down(crate::DownTarget::To(seq))?,
                (true, _, None) => {
                    session.dry_run_down(crate::DownTarget::Steps(steps.unwrap_or(1)))?
                }
                (false, true, _) => session.dry_run_redo()?,
                (false, false, _) => session.dry_run()?,
            };
            output::plan(&dry, json)
        }
        MigrateCommand::Verify => runbook::verify(&session, json)?,
        MigrateCommand::Backup => {
            output::backup_taken(&session.backup()?, &retention, json);
            EXIT_OK
        }
        MigrateCommand::Snapshot { command } => snapshot(&session, command, yes, json)?,
        MigrateCommand::Restore {
            from,
            before,
            allow_foreign_source,
        } => {
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
            let what = format!("replace the database with {what}");
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            let options = RestoreOptions {
                allow_foreign_source,
            };
            match session.restore_with(&from, options) {
                Ok(report) => restored_out(&report, json),
                Err(Error::LiveDatabaseDamaged { detail, .. }) => {
                    // Confirmed above: replace it, keeping the damaged file aside.
                    eprintln!("the database is damaged ({detail}); keeping it aside");
                    let done = session.restore_damaged(&from, options)?;
                    if json {
                        output::print_json(&done);
                    } else {
                        println!(
                            "restored from {}; the damaged database is kept at {} (never \
                             deleted)",
                            done.restored_from.display(),
                            done.damaged_kept.display()
                        );
                    }
                }
                Err(e) => return Err(e),
            }
            EXIT_OK
        }
        MigrateCommand::Backups => {
            let backups = session.backups()?;
            let failed = session.failed_states()?;
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
            if json {
                let resolved_as = if applied { "applied" } else { "not-applied" };
                output::print_json(&serde_json::json!({ "seq": seq, "resolved_as": resolved_as }));
            } else {
                println!("migration {seq} resolved as {resolution:?}");
            }
            EXIT_OK
        }
        MigrateCommand::Adopt { from } => {
            let report = session.adopt(from)?;
            if json {
                output::print_json(&report);
            } else {
                println!("{report}");
            }
            EXIT_OK
        }
        MigrateCommand::Import { .. } => unreachable!("handled before opening the database"),
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
            runbook::restore_table(&session, &table, &from, yes, json)?
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

/// `import`: writes the generated files; touches no database.
fn import(args: &MigrateArgs) -> crate::Result<u8> {
    let MigrateCommand::Import {
        source,
        out,
        from,
        force,
    } = &args.command
    else {
        return Ok(EXIT_USAGE);
    };
    let mut import = crate::import::Import::new(source, out);
    if let Some(layout) = from {
        import = import.layout(*layout);
    }
    if let Some(set) = &args.set {
        import = import.set(set.clone());
    }
    let imported = import.generate()?;
    imported.write(*force)?;
    let tool = match imported.layout {
        crate::import::Layout::Plain => crate::Tool::RusqliteMigration.name(),
        layout => layout.name(),
    };
    println!(
        "imported {} {} migration(s) from {} into {}: add `mod {};` to your crate and build; \
         on a database {tool} already migrated, run `migrate adopt --from {tool}` once",
        imported.migrations.len(),
        imported.layout,
        source.display(),
        out.display(),
        out.file_name()
            .map_or("migrations".into(), |n| n.to_string_lossy()),
    );
    Ok(EXIT_OK)
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
            if json {
                output::print_json(&info);
            } else {
                println!("snapshot {name:?} created: {}", info.path.display());
            }
        }
        SnapshotCommand::List => output::backups(&session.snapshots()?, json, "no snapshots"),
        SnapshotCommand::Restore { name } => {
            let what = format!("replace the database with snapshot {name:?}");
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            restored_out(&session.restore(&RestoreFrom::Snapshot(name))?, json);
        }
        SnapshotCommand::Delete { name } => {
            let what = format!("delete snapshot {name:?}");
            if !confirm::confirmed(yes, &what) {
                return Ok(output::not_confirmed(json, &what));
            }
            session.delete_snapshot(&name)?;
            if json {
                output::print_json(&serde_json::json!({ "deleted_snapshot": name }));
            } else {
                println!("snapshot {name:?} deleted");
            }
        }
    }
    Ok(EXIT_OK)
}

/// The file `restore --before SEQ` means: the newest backup taken before SEQ was applied,
/// manual backups included (`Session::backup_before` predates their kind and leaves them out).
fn backup_before(session: &crate::Session<'_>, seq: u64) -> crate::Result<PathBuf> {
    let manual = session
        .backups()?
        .into_iter()
        .filter(|b| b.kind == crate::BackupKind::Manual)
        .filter(|b| b.schema_version.is_none_or(|v| v < seq))
        .max_by(|a, b| a.created_at.cmp(&b.created_at));
    let newest = match (session.backup_before(seq)?, manual) {
        (Some(a), Some(b)) => Some(if b.created_at > a.created_at { b } else { a }),
        (a, b) => a.or(b),
    };
    match newest {
        Some(info) => Ok(info.path),
        None => Err(Error::NoBackup {
            wanted: format!("backup taken before migration {seq} was applied"),
            dir: session.backup_dir()?,
        }),
    }
}

/// The automatic backup a run took first (its pre-migration backup): listed now, not in
/// `before`, the oldest such (a `pre-step` backup under `--keep-applied` comes later).
fn new_backup(
    session: &crate::Session<'_>,
    before: &[crate::BackupInfo],
) -> Option<crate::BackupInfo> {
    let now = session.backups().ok()?;
    now.into_iter().find(|b| {
        matches!(b.kind, crate::BackupKind::Automatic { .. })
            && before.iter().all(|old| old.path != b.path)
    })
}

/// What `up`, `down` and `redo` did.
fn report_out(report: &crate::RunReport, json: bool) {
    if json {
        output::print_json(report);
    } else {
        println!("{report}");
    }
}

/// What a restore did, and the command that undoes it.
fn restored_out(report: &crate::RestoreReport, json: bool) {
    if json {
        output::print_json(report);
    } else {
        println!(
            "restored from {}; to undo: migrate restore {}",
            report.restored_from.display(),
            crate::outcome::shell_word(&report.undo_backup.path)
        );
    }
}

fn looks_like_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || Path::new(arg).is_file()
}

/// True when stdout is a terminal (no bars or questions otherwise).
fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::io::stdin().is_terminal()
}
