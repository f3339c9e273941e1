//! SQLite's own reports on the command line: `verify`, `sets`, `rehearse`, `restore-table`,
//! `new`, `import`, `adopt`, each as text and JSON for the shared printer.

use crate::outcome::shell_word;
use crate::{Migrator, Rehearsal, RestoreFrom, Result, Session};
use migrate_core::cli::{EXIT_FAILED, EXIT_OK, EXIT_REFUSED, Rendered, SetLine};
use migrate_core::protocol::Operation;
use std::path::Path;

/// `verify`: every finding on its own line; exit 3 on any. Under `--json`:
/// `{"ok", "problems": [..], "integrity", "foreign_key_violations": [..], "damage", "status"}`
/// (`status` is null for a damaged file, which cannot be read further).
pub fn verify(session: &Session<'_>, json: bool) -> Result<Rendered> {
    let report = session.verify()?;
    let code = if report.is_ok() {
        EXIT_OK
    } else {
        EXIT_REFUSED
    };
    if !json {
        // The status is read only for the JSON document.
        return Ok(Rendered {
            text: report.to_string(),
            json: None,
            code,
        });
    }
    let status = match report.damage {
        Some(_) => None,
        None => Some(session.status()?),
    };
    let json = serde_json::json!({
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
    });
    Ok(Rendered::new(report.to_string(), &json, code))
}

/// `sets`: every registered set; with the database present, where each set stands in it (read
/// only: nothing is created).
pub fn sets(migrator: &Migrator, db: &Path) -> Vec<SetLine> {
    let mut sets = crate::registered_sets();
    if migrator.migrations.is_some() && !sets.iter().any(|(set, _)| *set == migrator.set) {
        let count = migrator.migrations.as_ref().map_or(0, Vec::len);
        sets.push((migrator.set.clone(), count));
    }
    sets.into_iter()
        .map(|(set, migrations)| SetLine {
            standing: db.is_file().then(|| standing(migrator, &set, db)),
            set,
            migrations,
        })
        .collect()
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
        Ok(report) => migrate_core::cli::output::standing(&report),
        Err(e) => format!("cannot read it: {e}"),
    }
}

/// `rehearse up|down|redo`: the report; exit 1 when the operation failed on the copy or left
/// it unsound.
pub fn rehearse(migrator: &Migrator, db: &Path, op: Operation) -> Result<Rendered> {
    let operation = match op {
        Operation::Up(to) => Rehearsal::Up(to),
        Operation::Down(target) => Rehearsal::Down(target),
        Operation::Redo => Rehearsal::Redo,
    };
    let report = migrator.rehearse(db, operation)?;
    let (run, error) = match &report.outcome {
        Ok(run) => (Some(run), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let json = serde_json::json!({
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
    });
    let code = if report.is_ok() { EXIT_OK } else { EXIT_FAILED };
    Ok(Rendered::new(report.to_string(), &json, code))
}

/// `restore-table TABLE [FROM]` (confirmed by the shared code): restores, names the undo
/// command.
pub fn restore_table(session: &Session<'_>, table: &str, from: &RestoreFrom) -> Result<Rendered> {
    let report = session.restore_table(table, from)?;
    let json = serde_json::json!({
        "table": report.table,
        "restored_from": report.restored_from.display().to_string(),
        "rows_before": report.rows_before,
        "rows_after": report.rows_after,
        "undo_backup": report.undo_backup,
    });
    let text = format!(
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
    Ok(Rendered::new(text, &json, EXIT_OK))
}

/// `new NAME [--from-schema FILE] [--dir DIR]`.
pub fn new_migration(
    migrator: &Migrator,
    name: &str,
    from_schema: Option<&Path>,
    dir: Option<&Path>,
) -> Result<Rendered> {
    let written = crate::generate::new_migration(migrator, name, from_schema, dir)?;
    Ok(Rendered::new(
        written.to_string(),
        &written.to_json(),
        EXIT_OK,
    ))
}

/// `import SOURCE --out DIR`: writes the generated files; touches no database; text only.
pub fn import(
    source: &Path,
    out: &Path,
    from: Option<crate::import::Layout>,
    force: bool,
    set: Option<&str>,
) -> Result<Rendered> {
    let mut import = crate::import::Import::new(source, out);
    if let Some(layout) = from {
        import = import.layout(layout);
    }
    if let Some(set) = set {
        import = import.set(set.to_owned());
    }
    let imported = import.generate()?;
    imported.write(force)?;
    let tool = match imported.layout {
        crate::import::Layout::Plain => crate::Tool::RusqliteMigration.name(),
        layout => layout.name(),
    };
    Ok(Rendered::text(format!(
        "imported {} {} migration(s) from {} into {}: add `mod {};` to your crate and build; \
         on a database {tool} already migrated, run `migrate adopt --from {tool}` once",
        imported.migrations.len(),
        imported.layout,
        source.display(),
        out.display(),
        out.file_name()
            .map_or("migrations".into(), |n| n.to_string_lossy()),
    )))
}
