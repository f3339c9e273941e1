//! What the commands print: human tables, or JSON with `--json`.

use crate::{BackupInfo, BackupKind, DryRun, HistoryRow, StatusReport};
use indicatif::{ProgressBar, ProgressStyle};
use migrate_core::Status;
use serde_json::{Value, json};

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

fn state(status: &Status) -> &'static str {
    match status {
        Status::Applied => "applied",
        Status::Pending => "pending",
        Status::OutOfOrder => "out-of-order",
        Status::Missing => "missing-from-binary",
        Status::Modified { .. } => "modified",
        Status::Renamed { .. } => "renamed",
        Status::Started => "started",
    }
}

fn checksum_state(status: &Status) -> &'static str {
    match status {
        Status::Modified { .. } => "changed",
        Status::Pending | Status::OutOfOrder => "-",
        Status::Missing => "unknown",
        _ => "ok",
    }
}

/// `status`.
pub fn status(report: &StatusReport, json: bool) {
    if !json {
        print!("{report}");
        return;
    }
    let lines: Vec<Value> = report
        .lines
        .iter()
        .map(|l| {
            json!({
                "seq": l.seq,
                "name": l.name,
                "state": state(&l.status),
                "applied_at": l.applied_at,
                "duration_ms": l.duration_ms,
                "checksum": checksum_state(&l.status),
                "reversible": l.reversible,
            })
        })
        .collect();
    let drift = report
        .drift
        .as_ref()
        .map(|d| json!({ "added": d.added, "removed": d.removed, "changed": d.changed }));
    let out = json!({
        "set": report.set,
        "current": report.current,
        "clean": report.is_clean(),
        "migrations": lines,
        "drift": drift,
    });
    println!("{out}");
}

/// `plan`: the dry run, as text or JSON. The exit code says whether `up` would succeed.
pub fn plan(dry: &DryRun, json: bool) -> u8 {
    if json {
        println!("{}", dry.to_json());
    } else {
        println!("{dry}");
    }
    if dry.failure().is_some() {
        super::EXIT_FAILED
    } else {
        super::EXIT_OK
    }
}

/// `history`.
pub fn history(rows: &[HistoryRow], json: bool) {
    if json {
        let list: Vec<Value> = rows
            .iter()
            .map(|h| {
                json!({
                    "id": h.id,
                    "at": h.at,
                    "seq": h.event.seq,
                    "name": h.event.name,
                    "action": h.event.action,
                    "outcome": h.event.outcome,
                    "detail": h.event.detail,
                    "duration_ms": h.event.duration_ms,
                    "backup": h.event.backup_path,
                    "by": h.applied_by,
                    "row_counts": h.event.row_counts.iter().map(|c| json!({
                        "table": c.table,
                        "before": c.before,
                        "after": c.after,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", Value::Array(list));
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
pub fn backups(list: &[BackupInfo], json: bool, none: &str) {
    let name = |b: &BackupInfo| match &b.kind {
        BackupKind::Snapshot { name } => name.clone(),
        BackupKind::Automatic { reason } => reason.clone(),
    };
    if json {
        let out: Vec<Value> = list
            .iter()
            .map(|b| {
                json!({
                    "name": name(b),
                    "created_at": b.created_at,
                    "size": b.size,
                    "schema_version": b.schema_version,
                    "path": b.path.display().to_string(),
                })
            })
            .collect();
        println!("{}", Value::Array(out));
        return;
    }
    if list.is_empty() {
        println!("{none}");
    }
    for b in list {
        println!(
            "{:<24} {}  {:>12} bytes  schema {}",
            name(b),
            b.created_at,
            b.size,
            b.schema_version.map_or("-".to_owned(), |v| v.to_string())
        );
    }
}
