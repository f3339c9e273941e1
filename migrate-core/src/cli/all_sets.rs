//! `status --all-sets` and `up --all-sets`: every set the binary links, one after another on
//! the same database. `up` takes ONE pre-migration backup for the whole run, before the first
//! set, and only when some set has pending migrations; each set's run then uses it instead of
//! taking its own. A failure stops at its set: the sets before it stay applied (each set's
//! run is its own transaction), and the backup holds the state before all of them. Under
//! `--json` such a failure prints one document: the reports of the sets that ran before it
//! and the error (`{"reports": [...], "error": {...}}`).

use super::{EXIT_OK, Failure, Target, output};
use crate::protocol::Operation;
use crate::{RunReport, Status, StatusReport};

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
            Err(e) if json => {
                // The earlier sets' runs are committed: a script must see them with the error.
                let code = e.exit_code();
                output::failed_runs_json(&reports, &e, code);
                return Ok(code);
            }
            Err(e) => {
                if let Some(info) = &backup {
                    output::pre_run_backup(info, &retention);
                }
                return Err(e);
            }
        }
    }
    if json {
        output::print_json(&reports);
    } else if let Some(info) = &backup {
        output::pre_run_backup(info, &retention);
    }
    Ok(EXIT_OK)
}
