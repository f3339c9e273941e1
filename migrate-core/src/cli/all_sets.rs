//! `status --all-sets` and `up --all-sets`: every set the binary links, one after another on
//! the same database. `up` takes ONE pre-migration backup for the whole run, before the first
//! set, and only when some set has pending migrations; each set's run then uses it instead of
//! taking its own. A failure stops at its set: the sets before it stay applied (each set's
//! run is its own transaction), and the backup holds the state before all of them; when a
//! failure restores it automatically, the sets before the failing one are rolled back too,
//! which is read back and said (`rolled back with the restore: ...`). Under `--json` the run
//! prints one document: `{"reports": [...], "backup": {...} | null}`, and after a failure also
//! `"rolled_back"` (the earlier sets' migrations the restore undid) and `"error"`.

use super::{BackupLine, EXIT_OK, Failure, Target, output};
use crate::protocol::Operation;
use crate::{Direction, RunReport, Status, StatusReport};
use serde_json::{Value, json};

/// Every set's status: the reports one after another, or one JSON array.
pub(super) fn status<T: Target>(target: &mut T, json: bool) -> Result<u8, T::Error> {
    let mut reports: Vec<StatusReport> = Vec::new();
    for line in target.sets()? {
        target.switch_set(&line.set, false)?;
        let report = target.status()?;
        if !json {
            output::status(&report, false);
        }
        reports.push(report);
    }
    if json {
        output::print_json(&reports);
    }
    Ok(EXIT_OK)
}

/// Every set's pending migrations, one backup first.
pub(super) fn up<T: Target>(target: &mut T, json: bool) -> Result<u8, T::Error> {
    let sets: Vec<String> = target.sets()?.into_iter().map(|line| line.set).collect();
    // A start with nothing to do takes no backup.
    let mut pending = false;
    for set in &sets {
        target.switch_set(set, true)?;
        let status = target.status()?;
        pending |= status
            .lines
            .iter()
            .any(|l| matches!(l.status, Status::Pending));
    }
    let backup = match (pending, sets.first()) {
        (true, Some(first)) => {
            target.switch_set(first, true)?;
            target.back_up_once()?
        }
        _ => None,
    };
    let retention = target.retention();
    let mut reports: Vec<RunReport> = Vec::new();
    for set in &sets {
        let run = target
            .switch_set(set, true)
            .and_then(|()| target.run(Operation::Up(None)));
        match run {
            Ok(report) => {
                if !json {
                    println!("{report}");
                }
                reports.push(report);
            }
            Err(e) => {
                // The earlier sets' runs were committed, unless an automatic restore of the
                // backup taken before every set undid them: read back, not assumed.
                let rolled_back = rolled_back(target, &reports);
                if json {
                    let code = e.exit_code();
                    let mut doc = document(&reports, backup.as_ref());
                    doc["rolled_back"] = rolled_back
                        .iter()
                        .map(|r| json!({ "set": r.set, "seqs": r.seqs }))
                        .collect();
                    output::failed_runs_json(&doc, &e, code);
                    return Ok(code);
                }
                if let Some(info) = &backup {
                    output::pre_run_backup(info, &retention);
                }
                for undone in &rolled_back {
                    println!(
                        "rolled back with the restore: set {:?} {} (applied earlier in this run; \
                         pending again)",
                        undone.set,
                        seq_list(&undone.seqs)
                    );
                }
                return Err(e);
            }
        }
    }
    if json {
        output::print_json(&document(&reports, backup.as_ref()));
    } else if let Some(info) = &backup {
        output::pre_run_backup(info, &retention);
    }
    Ok(EXIT_OK)
}

/// The JSON document of `up --all-sets`: the reports of the runs that completed, in order,
/// and the one pre-migration backup of the whole run (`null` when none was taken).
fn document(reports: &[RunReport], backup: Option<&BackupLine>) -> Value {
    json!({ "reports": reports, "backup": backup })
}

/// The migrations one earlier set applied in this run that are pending again.
struct RolledBack {
    set: String,
    seqs: Vec<u64>,
}

/// For each set that ran before the failure: the migrations its run applied that its status,
/// read again now, shows as pending (an automatic restore of the backup taken before every set
/// put them back). A set that cannot be read is left out (the error says
/// what happened; `migrate status --all-sets` shows the rest).
fn rolled_back<T: Target>(target: &mut T, reports: &[RunReport]) -> Vec<RolledBack> {
    let mut undone = Vec::new();
    for report in reports {
        let applied: Vec<u64> = report
            .steps
            .iter()
            .filter(|s| s.direction == Direction::Up)
            .map(|s| s.seq)
            .collect();
        if applied.is_empty() {
            continue;
        }
        let status = target
            .switch_set(&report.set, false)
            .and_then(|()| target.status());
        let Ok(status) = status else {
            continue;
        };
        let seqs: Vec<u64> = applied
            .into_iter()
            .filter(|seq| {
                status.lines.iter().any(|l| {
                    l.seq == *seq && matches!(l.status, Status::Pending | Status::OutOfOrder)
                })
            })
            .collect();
        if !seqs.is_empty() {
            undone.push(RolledBack {
                set: report.set.clone(),
                seqs,
            });
        }
    }
    undone
}

fn seq_list(seqs: &[u64]) -> String {
    seqs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
