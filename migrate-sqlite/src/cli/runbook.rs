//! The runbook commands: `verify`, `sets`, `rehearse`, `restore-table`, `new`.

use super::{EXIT_FAILED, EXIT_OK, EXIT_REFUSED, RehearseCommand, confirm, output};
use crate::outcome::shell_word;
use crate::{Migrator, Rehearsal, RestoreFrom, Result, Session};
use migrate_core::DownTarget;
use std::path::Path;

/// `verify`: every finding on its own line; exit 3 on any. Under `--json`:
/// `{"ok", "problems": [..], "integrity", "foreign_key_violations": [..], "damage", "status"}`
/// (`status` is null for a damaged file, which cannot be read further).
pub fn verify(session: &Session<'_>, json: bool) -> Result<u8> {
    let report = session.verify()?;
    let code = if report.is_ok() {
        EXIT_OK
    } else {
        EXIT_REFUSED
    };
    if json {
        let status = match report.damage {
            Some(_) => None,
            None => Some(session.status()?),
        };
        output::print_json(&serde_json::json!({
            "ok": report.is_ok(),
            "problems": report.problems,
            "integrity": report.damage.as_deref().unwrap_or("ok"),
            "foreign_key_violations": report
                .foreign_key_violations
                .iter()
                .map(|v| serde_json::json!({ "table": v.table, "rowid": v.rowid, "parent": v.parent }))
                .collect::<Vec<_>>(),
            "damage": report.damage,
            "status": status,
        }));
    } else {
        println!("{report}");
    }
    Ok(code)
}

/// `sets`: one line per registered set; with the database present, where each set stands in
/// it (read only: nothing is created).
pub fn sets(migrator: &Migrator, db: &Path, json: bool) -> u8 {
    let mut sets = crate::registered_sets();
    if migrator.migrations.is_some() && !sets.iter().any(|(set, _)| *set == migrator.set) {
        let count = migrator.migrations.as_ref().map_or(0, Vec::len);
        sets.push((migrator.set.clone(), count));
    }
    if json {
        let list: Vec<serde_json::Value> = sets
            .iter()
            .map(|(set, count)| {
                serde_json::json!({
                    "set": set,
                    "migrations": count,
                    "standing": db.is_file().then(|| standing(migrator, set, db)),
                })
            })
            .collect();
        output::print_json(&list);
        return EXIT_OK;
    }
    if sets.is_empty() {
        println!(
            "no migration sets are linked into this binary (a crate that owns migrations must \
             be used, e.g. `use my_migrations as _;`)"
        );
    }
    for (set, count) in sets {
        let plural = if count == 1 { "" } else { "s" };
        let standing = if db.is_file() {
            format!("  {}", standing(migrator, &set, db))
        } else {
            String::new()
        };
        println!("{set:<24} {count} migration{plural}{standing}");
    }
    EXIT_OK
}

/// How a set stands in the database, e.g. `applied 2, pending 1 (at seq 2)`, or its problem.
fn standing(migrator: &Migrator, set: &str, db: &Path) -> String {
    let mut for_set = migrator.clone().set(set);
    if set != migrator.set {
        // A hand-built list belongs to the migrator's own set only.
        for_set.migrations = None;
    }
    let status = for_set
        .open_existing(db)
        .and_then(|session| session.status());
    match status {
        Ok(report) => {
            let applied = report
                .lines
                .iter()
                .filter(|l| matches!(l.status, migrate_core::Status::Applied))
                .count();
            let at = report
                .current
                .map_or("nothing applied".to_owned(), |seq| format!("at seq {seq}"));
            format!(
                "applied {applied}, pending {} ({at})",
                report.lines.len() - applied
            )
        }
        Err(e) => format!("cannot read it: {e}"),
    }
}

/// `rehearse up|down|redo`: the report; exit 1 when the operation failed on the copy or left
/// it unsound.
pub fn rehearse(
    migrator: &Migrator,
    db: &Path,
    command: &RehearseCommand,
    json: bool,
) -> Result<u8> {
    let operation = match *command {
        RehearseCommand::Up { to } => Rehearsal::Up(to),
        RehearseCommand::Down { steps, to } => Rehearsal::Down(match to {
            Some(seq) => DownTarget::To(seq),
            None => DownTarget::Steps(steps.unwrap_or(1)),
        }),
        RehearseCommand::Redo => Rehearsal::Redo,
    };
    let report = migrator.rehearse(db, operation)?;
    if json {
        let (run, error) = match &report.outcome {
            Ok(run) => (Some(run), None),
            Err(e) => (None, Some(e.to_string())),
        };
        output::print_json(&serde_json::json!({
            "operation": report.operation.to_string(),
            "database": report.database.display().to_string(),
            "ok": report.is_ok(),
            "run": run,
            "error": error,
            "duration_ms": report.duration.as_millis() as u64,
            "row_counts": report.row_counts,
            "integrity": report.integrity,
            "foreign_key_violations": report
                .foreign_key_violations
                .iter()
                .map(|v| serde_json::json!({ "table": v.table, "rowid": v.rowid, "parent": v.parent }))
                .collect::<Vec<_>>(),
        }));
    } else {
        println!("{report}");
    }
    Ok(if report.is_ok() { EXIT_OK } else { EXIT_FAILED })
}

/// `restore-table TABLE [FROM]`: asks, restores, prints the undo command.
pub fn restore_table(
    session: &Session<'_>,
    table: &str,
    from: &RestoreFrom,
    yes: bool,
    json: bool,
) -> Result<u8> {
    let what = match from {
        RestoreFrom::Latest => "the newest backup".to_owned(),
        RestoreFrom::Snapshot(name) => format!("snapshot {name:?}"),
        RestoreFrom::File(path) => path.display().to_string(),
    };
    let what = format!("replace the rows of table {table} with {what}'s");
    if !confirm::confirmed(yes, &what) {
        return Ok(output::not_confirmed(json, &what));
    }
    let report = session.restore_table(table, from)?;
    if json {
        output::print_json(&serde_json::json!({
            "table": report.table,
            "restored_from": report.restored_from.display().to_string(),
            "rows_before": report.rows_before,
            "rows_after": report.rows_after,
            "undo_backup": report.undo_backup,
        }));
        return Ok(EXIT_OK);
    }
    println!(
        "table {} restored from {}: {} rows before, {} now; no other table was changed. The \
         database as it was just before is kept in {}; to undo: migrate restore-table {} {}",
        report.table,
        report.restored_from.display(),
        report.rows_before,
        report.rows_after,
        report.undo_backup.path.display(),
        shell_word(Path::new(&report.table)),
        shell_word(&report.undo_backup.path)
    );
    Ok(EXIT_OK)
}

/// `new NAME [--from-schema FILE] [--dir DIR]`.
pub fn new_migration(
    migrator: &Migrator,
    name: &str,
    from_schema: Option<&Path>,
    dir: Option<&Path>,
    json: bool,
) -> Result<u8> {
    let written = crate::generate::new_migration(migrator, name, from_schema, dir)?;
    if json {
        output::print_json(&written.to_json());
    } else {
        println!("{written}");
    }
    Ok(EXIT_OK)
}
