//! What the commands print: human tables, or JSON with `--json`. The JSON is the reports'
//! own serialization (feature `serde`, `src/serialize.rs`), so it cannot drift from the types.

use super::{BackupLine, Rendered, SetLine};
use crate::backups::{BackupKind, Retention};
use crate::protocol::shell_word;
use crate::{HistoryRow, StatusReport};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

/// Prints one JSON document on stdout.
pub fn print_json(value: &impl Serialize) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        // Unreachable for the reports (string keys only); say so rather than print nothing.
        Err(e) => println!(
            "{}",
            json!({ "error": { "message": format!("cannot print JSON: {e}") } })
        ),
    }
}

/// An error under `--json`: `{"error": {"message", "causes", "exit_code"}}` on stdout, where a
/// script reads the rest of the JSON; the exit code is the same as without `--json`.
pub fn error_json(error: &dyn std::error::Error, exit_code: u8) {
    print_json(&json!({ "error": error_value(error, exit_code) }));
}

/// `up --all-sets` that failed part-way, under `--json`: one document, the run's own fields
/// (`run`: the reports of the sets that ran before the failure, the backup...) and the error,
/// `{"reports": [...], ..., "error": {...}}`.
///
/// ```
/// let e = std::io::Error::other("migration 2 of set \"shelves\" failed");
/// let run = serde_json::json!({ "reports": ["the report of set \"library\""], "backup": null });
/// migrate_core::cli::output::failed_runs_json(&run, &e, 1);
/// ```
pub fn failed_runs_json<R: Serialize>(run: &R, error: &dyn std::error::Error, exit_code: u8) {
    let mut doc = serde_json::to_value(run).unwrap_or_else(|e| json!({ "reports": e.to_string() }));
    if let Some(fields) = doc.as_object_mut() {
        fields.insert("error".into(), error_value(error, exit_code));
    }
    print_json(&doc);
}

/// `{"message", "causes", "exit_code"}` of an error.
fn error_value(error: &dyn std::error::Error, exit_code: u8) -> serde_json::Value {
    let mut causes = Vec::new();
    let mut cause = error.source();
    while let Some(e) = cause {
        causes.push(e.to_string());
        cause = e.source();
    }
    json!({ "message": error.to_string(), "causes": causes, "exit_code": exit_code })
}

/// A usage error or a refusal that is not an error value, under `--json`.
pub fn message_json(message: &str, exit_code: u8) {
    print_json(&json!({
        "error": { "message": message, "causes": [], "exit_code": exit_code }
    }));
}

/// A change that was not confirmed: refused (exit 3); under `--json` also said in JSON.
pub fn not_confirmed(json: bool, what: &str) -> u8 {
    if json {
        message_json(
            &format!(
                "refused: this would {what}, and it was not confirmed (pass --yes). Nothing was changed."
            ),
            super::EXIT_REFUSED,
        );
    }
    super::EXIT_REFUSED
}

/// A byte progress bar on stderr, only on a terminal.
pub fn progress_bar() -> Option<ProgressBar> {
    if !super::interactive() {
        return None;
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("copying");
    Some(bar)
}

/// `status`.
pub fn status(report: &StatusReport, json: bool) {
    if !json {
        print!("{report}");
        return;
    }
    print_json(report);
}

/// A backend's own report (`plan`, `verify`, `rehearse`, ...): its text, or its JSON under
/// `--json` (a report without JSON prints its text either way); its exit code.
pub fn rendered(report: &Rendered, json: bool) -> u8 {
    match (&report.json, json) {
        (Some(text), true) => println!("{text}"),
        _ => println!("{}", report.text),
    }
    report.code
}

/// `history`.
pub fn history(rows: &[HistoryRow], json: bool) {
    if json {
        print_json(&rows);
        return;
    }
    for h in rows {
        let seq = h.event.seq.map_or("-".to_owned(), |s| s.to_string());
        println!(
            "{}  {:>6}  {:<24} {:<16} {:<10} {}",
            h.at,
            seq,
            h.event.name.as_deref().unwrap_or("-"),
            h.event.action,
            h.event.outcome,
            h.event.detail.as_deref().unwrap_or("")
        );
        let changed: Vec<String> = h
            .event
            .row_counts
            .iter()
            .filter(|c| c.changed())
            .map(|c| c.to_string())
            .collect();
        if !changed.is_empty() {
            println!("{:>33}rows: {}", "", changed.join(", "));
        }
    }
}

/// `snapshot list` and `backups`; `none` is printed for an empty list.
pub fn backups(list: &[BackupLine], json: bool, none: &str) {
    let name = |b: &BackupLine| match &b.kind {
        BackupKind::Snapshot { name } => name.clone(),
        BackupKind::Automatic { reason } => reason.clone(),
        BackupKind::FailedState => "failed-state".to_owned(),
        BackupKind::Manual => "manual (kept until deleted)".to_owned(),
    };
    if json {
        print_json(&list);
        return;
    }
    if list.is_empty() {
        println!("{none}");
    }
    for b in list {
        println!(
            "{:<28} {}  {:>12} bytes  schema {:<5} {}",
            name(b),
            b.created_at,
            b.size,
            b.schema_version.map_or("-".to_owned(), |v| v.to_string()),
            b.path.display()
        );
    }
}

/// `backup`: where the file is, how long it is kept, and the command that restores it.
pub fn backup_taken(info: &BackupLine, retention: &Retention, json: bool) {
    if json {
        print_json(info);
        return;
    }
    println!(
        "backup created: {}\n{}.\nto restore it: migrate restore {}",
        info.path.display(),
        info.kind.kept_for(retention),
        shell_word(&info.path)
    );
}

/// After a changing `up`, `down` or `redo`: the backup it took first, if any.
pub fn pre_run_backup(info: &BackupLine, retention: &Retention) {
    println!(
        "backup of the state before this run: {} ({}); to go back to it: migrate restore {}",
        info.path.display(),
        info.kind.kept_for(retention),
        shell_word(&info.path)
    );
}

/// `sets`: one line per registered set, with where it stands when the database was read.
pub fn sets(sets: &[SetLine], json: bool) {
    if json {
        let list: Vec<serde_json::Value> = sets
            .iter()
            .map(|line| {
                json!({
                    "set": line.set,
                    "migrations": line.migrations,
                    "standing": line.standing,
                })
            })
            .collect();
        print_json(&list);
        return;
    }
    if sets.is_empty() {
        println!(
            "no migration sets are linked into this binary (a crate that owns migrations must \
             be used, e.g. `use my_migrations as _;`)"
        );
    }
    for line in sets {
        let plural = if line.migrations == 1 { "" } else { "s" };
        let standing = match &line.standing {
            Some(text) => format!("  {text}"),
            None => String::new(),
        };
        println!(
            "{:<24} {} migration{plural}{standing}",
            line.set, line.migrations
        );
    }
}

/// How a set stands, for `sets`: `applied 2, pending 1 (at seq 2)`.
///
/// ```
/// let report = migrate_core::StatusReport { set: "default".into(), current: None, lines: vec![], drift: None };
/// assert_eq!(migrate_core::cli::output::standing(&report), "applied 0, pending 0 (nothing applied)");
/// ```
pub fn standing(report: &StatusReport) -> String {
    let applied = report
        .lines
        .iter()
        .filter(|l| matches!(l.status, crate::Status::Applied))
        .count();
    let at = report
        .current
        .map_or("nothing applied".to_owned(), |seq| format!("at seq {seq}"));
    format!(
        "applied {applied}, pending {} ({at})",
        report.lines.len() - applied
    )
}

/// The problems `verify` reports from a status: every migration not applied (pending, modified,
/// failed, started...), then the drift; empty when all is applied and unchanged.
///
/// ```
/// let report = migrate_core::StatusReport { set: "default".into(), current: None, lines: vec![], drift: None };
/// assert!(migrate_core::cli::output::status_problems(&report).is_empty());
/// ```
pub fn status_problems(report: &StatusReport) -> Vec<String> {
    let mut problems = Vec::new();
    for line in &report.lines {
        match &line.status {
            crate::Status::Applied | crate::Status::Renamed { .. } => {}
            crate::Status::Pending => problems.push(format!(
                "{} {:?} is pending (`migrate up` applies it)",
                line.seq, line.name
            )),
            other => problems.push(format!("{} {:?} is {other}", line.seq, line.name)),
        }
    }
    if let Some(drift) = &report.drift {
        problems.push(format!("schema drift: {drift}"));
    }
    problems
}
